"""Skull-stripper training: synthetic and real heads, the trainer, its evaluation and the bench against peers."""
