"""Networks built from model cards, and the one sliding-window runner the stripper and the segmenter share."""
