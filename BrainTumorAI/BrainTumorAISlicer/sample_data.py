"""The engine's sample cases in Slicer's Sample Data module, under the category "BrainTumorAI".

Slicer downloads the files itself (into its cache, checked by sha256) and loads them as volumes named after the
files (``BraTS-GLI-00001-000-t1c``), which the panel's auto-fill assigns to the sequences.
"""

from __future__ import annotations

import logging
from typing import Any

from BrainTumorAILib.core.samples import load_samples

CATEGORY = "BrainTumorAI"


def sample_data_sources() -> list[dict[str, Any]]:
    """The keyword arguments of ``SampleData.SampleDataLogic.registerCustomSampleDataSource``, one dict a sample."""
    return [{
        "category": CATEGORY,
        "sampleName": sample.name,
        "uris": [file.url for file in sample.files],
        "fileNames": [file.file for file in sample.files],
        "nodeNames": [file.file.split(".")[0] for file in sample.files],
        "checksums": [f"SHA256:{file.sha256}" for file in sample.files],
        "loadFileType": "VolumeFile",
    } for sample in load_samples().values()]


def register_sample_data() -> None:
    """Register the samples with the Sample Data module; log and skip where Slicer has none (slicer-core)."""
    try:
        import SampleData
    except ImportError:
        logging.info("BrainTumorAI: no Sample Data module here, the sample cases are not registered")
        return
    for source in sample_data_sources():
        SampleData.SampleDataLogic.registerCustomSampleDataSource(**source)
