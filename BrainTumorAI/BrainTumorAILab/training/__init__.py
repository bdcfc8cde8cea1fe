"""Segmentation training from JSON configs (``braintumorai train segmentation|cross-validate|ensemble``), with the
labelled-case datasets and augmentation the classifier's study slices share."""
