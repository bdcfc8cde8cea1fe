"""Names every layer shares, free of any dependency so that the Slicer panel can import them before the engine's
packages are installed: the MRI sequences, the reference grid's preference, the devices."""

SEQUENCES = ("flair", "t1", "t1c", "t2")
REFERENCE_PREFERENCE = ("t1c", "flair", "t1", "t2")  # the reference grid when none is chosen
DEVICE_CHOICES = ("auto", "cpu", "cuda")  # auto: CUDA when available, else the CPU
