"""BrainTumorAI lab: training, evaluation, synthetic heads, benches and model bundling.

It builds on the runtime (``BrainTumorAILib``), which never imports it; the Slicer extension does not install it, and
the command line reaches it only for ``train``, ``evaluate`` and ``segment --trained``.
"""
