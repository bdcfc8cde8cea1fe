"""The parent / child contract (protocol.py): the options document round-trips, bad documents are named, and the
progress and error lines parse back to what was written."""

from __future__ import annotations

import json

import pytest

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.pipeline import PipelineOptions
from BrainTumorAILib.protocol import error_line, parse_line, progress_line, read_options, write_options


def test_options_round_trip_through_one_json_document(tmp_path):
    options = PipelineOptions(steps=("strip", "segment"), strip_method="classical", segment_model="m", labels="brats2023",
                              tta=True, reference="flair", device="cpu", register="never")
    path = write_options(options, tmp_path / "options.json")
    assert read_options(path) == options
    assert json.loads(path.read_text())["steps"] == ["strip", "segment"]


def test_a_bad_options_document_is_named(tmp_path):
    (tmp_path / "extra.json").write_text(json.dumps({"steps": ["strip"], "colour": "red"}))
    with pytest.raises(InputError, match=r"Unknown pipeline option\(s\) colour .*extra.json"):
        read_options(tmp_path / "extra.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="Cannot read the pipeline options .*broken.json"):
        read_options(tmp_path / "broken.json")


def test_lines_parse_back_to_what_was_written():
    assert parse_line(progress_line(42.25, "segment windows 3/8")) == ("progress", (42.2, "segment windows 3/8"))
    assert parse_line(error_line("No FLAIR found: /x")) == ("error", "No FLAIR found: /x")
    assert parse_line("PROGRESS soon") == ("log", "PROGRESS soon")
    assert parse_line("loading model") == ("log", "loading model")
