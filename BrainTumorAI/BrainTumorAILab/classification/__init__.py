"""Classifier training: configs, augmentation, twin-aware splits, held-out and 3D-study scoring, bundling."""
