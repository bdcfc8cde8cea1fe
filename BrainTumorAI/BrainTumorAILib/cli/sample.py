"""``braintumorai sample [NAME --out DIR [--mirror URL]]``: list the sample cases, or download one, verified."""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError
from ..core.samples import fetch_sample, load_samples


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sample", help="list the sample cases, or download one (checked by sha256)")
    parser.add_argument("name", nargs="?", help="the sample to download (lists the samples when omitted)")
    parser.add_argument("--out", metavar="DIR", help="folder to download into: the case lands in DIR/NAME")
    parser.add_argument("--mirror", metavar="URL",
                        help="a mirror holding the same file names (http(s):// or file://) instead of the source")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.name is None:
        if arguments.out or arguments.mirror:
            raise InputError("braintumorai sample: name the sample to download (run it without options to list them)")
        for sample in load_samples().values():
            print(json.dumps({"name": sample.name, "title": sample.title,
                              "sequences": [file.sequence for file in sample.files], "source": sample.source,
                              "terms": sample.terms}))
        return 0
    if not arguments.out:
        raise InputError(f"braintumorai sample {arguments.name}: --out DIR is required (the folder to download into)")
    folder = fetch_sample(arguments.name, arguments.out, base_url=arguments.mirror)
    print(json.dumps({"sample": arguments.name, "case": str(folder), "verified": True}))
    return 0
