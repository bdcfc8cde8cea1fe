"""Training of the engine's models from JSON configs (``braintumorai train ...``)."""
