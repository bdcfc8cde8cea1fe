"""Sample cases: samples.json's checksums against the real files served on 127.0.0.1 (conftest's ``server``), wrong
bytes, no second download, the ``sample`` command, and what Slicer's Sample Data module is given. Nothing here
reaches the internet: every fetch goes to the local server through ``base_url`` / ``--mirror``."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import find_sequences, sequence_of
from BrainTumorAILib.core.download import sha256_of
from BrainTumorAILib.core.errors import DownloadError
from BrainTumorAILib.core.samples import fetch_sample, get_sample, load_samples
from BrainTumorAILib.core.vocabulary import SEQUENCES

SAMPLE = "BraTS-GLI-00001-000"
SOURCE = "https://github.com/lassoan/SlicerMONAIAuto3DSeg/releases/download/TestingData/"
MODULE_DIR = Path(__file__).resolve().parents[2] / "BrainTumorAI"


@pytest.fixture
def shared_sample(data_dir) -> Path:
    """The shared data's copy of the sample, ``samples/<SAMPLE>``."""
    folder = data_dir / "samples" / SAMPLE
    if not folder.is_dir():
        pytest.skip(f"the shared data has no samples/{SAMPLE}")
    return folder


@pytest.fixture
def mirror(shared_sample, server) -> str:
    """The local server serving the shared ``samples`` folder: the URL of the sample's folder there."""
    server.root = shared_sample.parent
    return f"{server.url}/{SAMPLE}"


def test_the_catalogue_holds_the_brats_case_with_one_file_a_sequence_from_its_source():
    sample = get_sample(SAMPLE)
    assert sorted(file.sequence for file in sample.files) == sorted(SEQUENCES)
    for file in sample.files:
        assert file.url == SOURCE + file.file and re.fullmatch(r"[0-9a-f]{64}", file.sha256)
        assert file.url_at("http://mirror/x/") == f"http://mirror/x/{file.file}"
    assert "BraTS" in sample.terms and "SlicerMONAIAuto3DSeg" in sample.source


def test_the_served_sample_arrives_with_the_registered_checksums_and_reads_as_its_case(mirror, server, tmp_path):
    folder = fetch_sample(SAMPLE, tmp_path / "data", base_url=mirror, progress=False)
    sample = get_sample(SAMPLE)
    assert folder == tmp_path / "data" / SAMPLE
    assert sorted(path.name for path in folder.iterdir()) == sorted(file.file for file in sample.files)
    assert {file.file: sha256_of(folder / file.file) for file in sample.files} == \
        {file.file: file.sha256 for file in sample.files}
    assert find_sequences(folder) == {file.sequence: folder / file.file for file in sample.files}
    assert sorted(server.requests) == sorted(f"/{SAMPLE}/{file.file}" for file in sample.files)


def test_a_second_fetch_downloads_only_a_file_that_no_longer_matches(mirror, server, tmp_path):
    folder = fetch_sample(SAMPLE, tmp_path, base_url=mirror, progress=False)
    server.requests.clear()
    assert fetch_sample(SAMPLE, tmp_path, base_url=mirror, progress=False) == folder
    assert server.requests == []
    damaged = get_sample(SAMPLE).files[2]
    (folder / damaged.file).write_bytes(b"damaged")
    fetch_sample(SAMPLE, tmp_path, base_url=mirror, progress=False)
    assert server.requests == [f"/{SAMPLE}/{damaged.file}"]
    assert sha256_of(folder / damaged.file) == damaged.sha256


def test_a_folder_mirror_works_offline_through_a_file_url(shared_sample, tmp_path):
    folder = fetch_sample(SAMPLE, tmp_path, base_url=shared_sample.as_uri(), progress=False)
    assert set(find_sequences(folder)) == set(SEQUENCES)


def test_wrong_bytes_are_rejected_naming_the_file_and_url_and_nothing_is_left(server, tmp_path):
    server.payload = b"not the sample"
    first = get_sample(SAMPLE).files[0]
    with pytest.raises(DownloadError, match="rejected") as error:
        fetch_sample(SAMPLE, tmp_path / "data", base_url=f"{server.url}/mirror", progress=False)
    assert first.file in str(error.value) and f"{server.url}/mirror/{first.file}" in str(error.value)
    assert list((tmp_path / "data").iterdir()) == []


def test_an_unreachable_mirror_fails_naming_the_url(tmp_path):
    with pytest.raises(DownloadError, match="Cannot download sample file .* from http://127.0.0.1:9/"):
        fetch_sample(SAMPLE, tmp_path, base_url="http://127.0.0.1:9", progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_the_command_lists_the_samples_and_fetches_one_as_a_case_folder(mirror, tmp_path, capsys):
    assert main(["sample"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [entry["name"] for entry in listed] == list(load_samples())
    assert sorted(listed[0]["sequences"]) == sorted(SEQUENCES)
    assert main(["sample", SAMPLE, "--out", str(tmp_path), "--mirror", mirror]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"sample": SAMPLE, "case": str(tmp_path / SAMPLE), "verified": True}
    assert set(find_sequences(printed["case"])) == set(SEQUENCES)


@pytest.mark.parametrize("arguments, message", [
    (["sample", "no-such-case", "--out", "x"], "Unknown sample 'no-such-case' (known: BraTS-GLI-00001-000)"),
    (["sample", SAMPLE], "--out DIR is required"),
    (["sample", "--out", "x"], "name the sample to download"),
])
def test_the_command_rejects_bad_input_with_exit_code_2(arguments, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_slicer_gets_each_sample_with_names_urls_and_sha256_checksums_that_auto_fill_recognises(monkeypatch):
    monkeypatch.syspath_prepend(str(MODULE_DIR))
    sources = importlib.import_module("BrainTumorAISlicer.sample_data").sample_data_sources()
    assert [source["sampleName"] for source in sources] == list(load_samples())
    source = sources[0]
    files = get_sample(SAMPLE).files
    assert source["category"] == "BrainTumorAI" and source["loadFileType"] == "VolumeFile"
    assert len(source["uris"]) == len(source["fileNames"]) == len(source["nodeNames"]) == len(source["checksums"]) == 4
    assert all(uri.endswith("/" + name) for uri, name in zip(source["uris"], source["fileNames"]))
    assert source["checksums"] == [f"SHA256:{file.sha256}" for file in files]
    assert source["nodeNames"] == [f"{SAMPLE}-{suffix}" for suffix in ("t1c", "t1n", "t2f", "t2w")]
    assert [sequence_of(f"{name}.nii") for name in source["nodeNames"]] == [file.sequence for file in files]
