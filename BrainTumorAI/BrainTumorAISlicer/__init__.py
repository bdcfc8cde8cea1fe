"""Slicer-side helpers of the BrainTumorAI module: the MRML adapter, the child process, dependencies, rendering.

Only the Logic (BrainTumorAI.py) and the batch script use this package. It imports ``slicer`` (MRML and module
logics) and ``vtk`` but never ``qt``, so it runs in the Slicer application and on the ``slicer-core`` wheel alike.
"""
