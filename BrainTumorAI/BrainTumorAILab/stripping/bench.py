"""``python -m BrainTumorAILab.stripping.bench --data DIR``: our strippers against deepbet on the shared real heads
and the TCGA study: Dice against the reference mask, wall seconds of the stripping call and the peak RSS of a fresh
process per run (each method and image runs in its own child, so one's memory does not hide another's). ``first``
is the first call after the imports (weights loaded, the CPU kernels' first set-up), ``again`` the same call repeated
in that process, as a batch or the Slicer panel runs it.

References: the heads' brain masks (AOMIC, EDSD) and HD-BET's mask of the TCGA t1c (the t1 is scored on the t1c
grid). ``learned`` is the pipeline's path (the guard included); deepbet runs only when importable (``make peers``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "AOMIC": ("heads/AOMIC/AOMIC_T1w.nii.gz", "heads/AOMIC/AOMIC_brainmask.nii.gz", "t1"),
    "EDSD": ("heads/EDSD/EDSD_T1w.nii.gz", "heads/EDSD/EDSD_brainmask.nii.gz", "t1"),
    "TCGA t1c": ("samples/TCGA-FG-6692/t1c.nii.gz", "samples/TCGA-FG-6692/brainmask-hdbet-on-t1c.nii.gz", "t1c"),
    "TCGA t1": ("samples/TCGA-FG-6692/t1.nii.gz", "samples/TCGA-FG-6692/brainmask-hdbet-on-t1c.nii.gz", "t1"),
}


def one(method: str, image_path: str, reference_path: str, modality: str) -> dict:
    """Strip one image twice in this process: Dice against the reference (on its grid), seconds of the first call and
    of the repeat, peak RSS."""
    import BrainTumorAILib.core.weights  # noqa: F401  (module imports, MONAI's above all, stay out of the timing)
    import BrainTumorAILib.tasks.stripping.learned  # noqa: F401
    from BrainTumorAILib.core.image import load_image, resample_to
    from BrainTumorAILib.tasks.stripping import strip_skull
    from BrainTumorAILib.tasks.stripping.postprocess import dice

    image, reference = load_image(image_path), load_image(reference_path, label=True)
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        mask = strip_skull(image, modality=modality, method=method, device="cpu").mask
        seconds.append(time.perf_counter() - started)
    score = dice(resample_to(mask, reference, label=True).array, reference.array)
    return {"dice": round(float(score), 4), "seconds_first": round(seconds[0], 2), "seconds_again": round(seconds[1], 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.stripping.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("BRAINTUMORAI_DATA", "../shared/data"))
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "IMAGE", "REFERENCE", "MODALITY"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.one:
        print(json.dumps(one(*arguments.one)))
        return 0
    methods = ["learned", "classical"] + (["deepbet"] if importlib.util.find_spec("deepbet") else [])
    if "deepbet" not in methods:
        print("deepbet is not importable: `make peers` installs it into .peers/ (PYTHONPATH=.peers)", file=sys.stderr)
    data = Path(arguments.data).resolve()
    print(f"{'image':10s} " + " ".join(f"{m:>32s}" for m in methods))
    print(f"{'':10s} " + " ".join(f"{'Dice  first  again     MB':>32s}" for _ in methods))
    for name, (image, reference, modality) in CASES.items():
        if not (data / image).is_file():
            print(f"{name:10s} missing under {data}")
            continue
        cells = []
        for method in methods:
            child = subprocess.run([sys.executable, "-m", "BrainTumorAILab.stripping.bench", "--one", method,
                                    str(data / image), str(data / reference), modality],
                                   capture_output=True, text=True)
            if child.returncode:
                cells.append(f"{'failed':>32s}")
                print(child.stderr[-400:], file=sys.stderr)
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            cells.append(f"{row['dice']:>11.3f} {row['seconds_first']:6.1f} {row['seconds_again']:6.1f} "
                         f"{row['peak_rss_mb']:6d}")
        print(f"{name:10s} " + " ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
