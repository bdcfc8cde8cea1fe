"""``braintumorai case DIR --out OUTDIR``: find the sequences, co-register them onto the reference grid, write them,
print a summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.case import describe, load_case
from ..core.errors import InputError
from ..core.image import save_image
from ..core.registration import MODES as REGISTRATION_MODES, co_register
from ..core.vocabulary import SEQUENCES


def add_case_inputs(parser: argparse.ArgumentParser, *, folder_flag: bool) -> None:
    """The options every command that reads a case shares: a folder and/or one file per sequence."""
    if folder_flag:
        parser.add_argument("--case", dest="case_dir", help="folder holding the sequences (found by name)")
    for sequence in SEQUENCES:
        parser.add_argument(f"--{sequence}", help=f"{sequence} image (overrides the one found in the folder)")
    parser.add_argument("--series", action="append", default=[], metavar="SEQUENCE=UID",
                        help="for a DICOM folder: the SeriesInstanceUID to use for a sequence (repeat per sequence)")
    parser.add_argument("--reference", choices=SEQUENCES,
                        help="sequence whose grid the outputs use (default: t1c when present, else flair)")


def series_choice(arguments: argparse.Namespace) -> dict[str, str]:
    """``--series flair=UID ...`` as {sequence: SeriesInstanceUID}; InputError for a malformed value."""
    choice = {}
    for value in arguments.series:
        sequence, separator, uid = value.partition("=")
        if not separator or not uid.strip():
            raise InputError(f"--series wants SEQUENCE=SERIES_INSTANCE_UID, not '{value}'")
        choice[sequence.strip()] = uid.strip()
    return choice


def add_register_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--register", choices=REGISTRATION_MODES, default="auto",
                        help="rigid co-registration onto the reference: auto (skip series that already line up), "
                             "always, never (trust the affines)")


def case_paths(arguments: argparse.Namespace) -> dict[str, str | None]:
    return {sequence: getattr(arguments, sequence) for sequence in SEQUENCES}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("case", help="harmonise a case's sequences onto one reference grid")
    parser.add_argument("case_dir", nargs="?", help="folder holding the sequences")
    add_case_inputs(parser, folder_flag=False)
    parser.add_argument("--out", required=True, help="folder for <sequence>.nii.gz on the reference grid")
    add_register_option(parser)
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    case = load_case(arguments.case_dir, case_paths(arguments), series=series_choice(arguments))
    found = describe(case)
    reference = case.reference_sequence(arguments.reference)
    harmonised, registrations = co_register(case, reference, arguments.register)
    out = Path(arguments.out)
    written = {sequence: str(save_image(image, out / f"{sequence}.nii.gz"))
               for sequence, image in harmonised.images.items()}
    grid = harmonised.images[reference]
    print(json.dumps({
        "case": case.name, "reference": reference, "found": found, "written": written,
        "registration": [record.record() for record in registrations],
        "grid": {"shape": list(grid.shape), "spacing_mm": [round(s, 4) for s in grid.spacing],
                 "orientation": grid.orientation, "affine": grid.affine.round(6).tolist()},
    }, indent=2))
    return 0
