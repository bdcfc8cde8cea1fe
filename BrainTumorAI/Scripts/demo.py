"""``make demo``: the full pipeline on one case, writing a segmentation, a report and a picture.

Uses the BraTS 2023 glioma sample of ../shared/data when it is there, else a synthetic head phantom (so the demo runs
anywhere), and prints where the outputs are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from BrainTumorAILib.cli import main as braintumorai
from BrainTumorAILib.core.image import save_image
from BrainTumorAILib.core.phantom import make_phantom

SAMPLE = Path("samples/BraTS-GLI-00001-000")


def demo_case(data: Path, out: Path) -> Path:
    """The sample case folder, or a phantom written as NIfTI files into ``out/phantom-case``."""
    if (data / SAMPLE).is_dir():
        return data / SAMPLE
    print(f"{data / SAMPLE} not found: running on a synthetic head phantom instead", file=sys.stderr)
    folder = out / "phantom-case"
    phantom = make_phantom(seed=7, shape=(120, 144, 120), spacing=(1.5, 1.5, 1.5))
    for sequence, image in phantom.images.items():
        save_image(image, folder / f"phantom_{sequence}.nii.gz")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    arguments = parser.parse_args(argv)
    case = demo_case(arguments.data, arguments.out)
    results = arguments.out / case.name
    code = braintumorai(["run", "--case", str(case), "-o", str(results)])
    if code == 0:
        print(f"\nSegmentation: {results / 'labels.nii.gz'}\nReport:       {results / 'report.json'}\n"
              f"Picture:      {results / 'report.png'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
