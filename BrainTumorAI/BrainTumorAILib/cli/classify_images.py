"""``braintumorai classify-images PATH... --csv OUT.csv``: tumour type of 2D images (files, or folders walked).

CSV columns: path,label,p_glioma,p_meningioma,p_notumor,p_pituitary. A file that cannot be read is reported on
stderr and left out; the others are still classified. The CSV is written atomically once all are done.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys

from ..core.atomic import write_text
from ..core.errors import InputError
from ..core.vocabulary import DEVICE_CHOICES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("classify-images", help="classify 2D MRI slices (glioma, meningioma, notumor, "
                                                           "pituitary) into a CSV")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (walked recursively)")
    parser.add_argument("--csv", required=True, help="output CSV file")
    parser.add_argument("--model", help="classification model id (default: the registry's default)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..tasks.classification.dataset import CLASSES
    from ..tasks.classification.predict import Classifier, classify_files

    classifier = Classifier.load(arguments.model, arguments.device)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", *(f"p_{name}" for name in CLASSES)])
    done = failed = 0
    for result in tqdm(classify_files(arguments.paths, classifier, arguments.batch_size), desc="Classifying",
                       unit="image", file=sys.stderr):
        if result.error:
            failed += 1
            tqdm.write(f"braintumorai: skipped: {result.error}", file=sys.stderr)
            continue
        done += 1
        writer.writerow([str(result.path), result.label, *(f"{p:.6f}" for p in result.probabilities)])
    if done == 0:
        raise InputError(f"No image could be classified ({failed} unreadable) in: {' '.join(arguments.paths)}")
    write_text(buffer.getvalue(), arguments.csv)
    print(f"braintumorai: {done} images classified, {failed} skipped -> {arguments.csv}", file=sys.stderr)
    return 0
