"""Series named as the wrong contrast (contrasts.py): real BraTS cases pass under their own names, and each swap
of two names is refused by the check and by ``braintumorai segment`` (exit 2, the files named, nothing written)."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import find_sequences, load_case
from BrainTumorAILib.core.contrasts import check_contrasts, contrast_uptake, fluid_dark_share
from BrainTumorAILib.core.errors import InputError

# the case with the smallest fluid margins, one with a large oedema, and a BraTS 2023 case in RAS
CASES = ("segmentation/brats2019-2021/BraTS2021_00019", "segmentation/brats2019-2021/BraTS2021_00002",
         "samples/BraTS-MET-00110-000")
SWAPS = (("t1", "t1c", "given as t1 and t1c look swapped"),
         ("flair", "t2", "given as (flair and t2|t2) do(es)? not read"),
         ("t1", "t2", "given as t2 does not read as a T2"))


def test_the_statistics_read_the_contrast_they_measure():
    rng = np.random.default_rng(0)
    tissue = rng.normal(100.0, 10.0, 50_000)
    vessels = np.zeros_like(tissue)
    vessels[:500] = 120.0
    assert contrast_uptake(tissue, tissue + vessels) > 3 > -3 > contrast_uptake(tissue + vessels, tissue)
    fluid = np.zeros_like(tissue, dtype=bool)
    fluid[:3000] = True
    t2, flair = np.where(fluid, 300.0, tissue), np.where(fluid, 20.0, tissue)
    assert fluid_dark_share(t2, flair) > 0.9 and fluid_dark_share(flair, t2) < 0.1


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.rsplit("/", 1)[-1])
def case(request, data_dir):
    return load_case(data_dir / request.param)


def test_a_case_under_its_own_names_passes(case):
    check_contrasts(case.images)


@pytest.mark.parametrize("first, second, message", SWAPS)
def test_two_swapped_names_are_refused_naming_the_files(case, first, second, message):
    images = dict(case.images)
    images[first], images[second] = images[second], images[first]
    with pytest.raises(InputError, match=message) as raised:
        check_contrasts(images)
    assert str(case.images[first].path) in str(raised.value) or str(case.images[second].path) in str(raised.value)


def test_segment_refuses_swapped_files_and_writes_nothing(data_dir, tmp_path, capsys):
    files = find_sequences(data_dir / CASES[0])
    output = tmp_path / "labels.nii.gz"
    arguments = ["segment", "--flair", str(files["t2"]), "--t2", str(files["flair"]), "--t1", str(files["t1"]),
                 "--t1c", str(files["t1c"]), "-o", str(output)]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert "flair and t2 do not read" in error and str(files["t2"]) in error and not output.exists()
    assert list(tmp_path.iterdir()) == []
