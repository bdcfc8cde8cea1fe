"""BrainTumorAI engine: brain-tumour MRI skull stripping, classification and segmentation.

Pure Python on numpy, nibabel, torch and MONAI; imports nothing from slicer, qt or vtk, so the Slicer module, the
batch script and the ``braintumorai`` command line all run the same code.
"""

__version__ = "0.1.0"
