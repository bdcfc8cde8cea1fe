"""The three tasks as the pipeline runs them: skull stripping, classification, segmentation (inference only)."""
