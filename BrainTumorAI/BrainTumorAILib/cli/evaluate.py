"""``braintumorai evaluate --pred DIR --truth DIR [--csv OUT.csv]``: Dice and HD95 per region, a table and a CSV;
then the BraTS challenge's own figures (lesion-wise, 2023+ definition), a second table and more CSV columns."""

from __future__ import annotations

import argparse
import csv
import io
import sys

from ..core.atomic import write_text
from ..core.labels import CONVENTIONS
from .lab import lab_module

_TRUTH_CONVENTIONS = ("brats2013", *CONVENTIONS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score predicted label maps against ground truth (BraTS rules)")
    parser.add_argument("--pred", required=True, help="folder of predicted label maps (files or case sub-folders)")
    parser.add_argument("--truth", required=True, help="folder of ground-truth label maps, paired by case name")
    parser.add_argument("--labels", choices=tuple(CONVENTIONS), default="brats2021",
                        help="label convention of the predictions (default: brats2021)")
    parser.add_argument("--truth-labels", choices=_TRUTH_CONVENTIONS,
                        help="label convention of the truth (default: as --labels; brats2013 reads 3 as necrosis)")
    parser.add_argument("--csv", help="write the table as CSV here")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    evaluation = lab_module("evaluation", "evaluate")
    rows, unpaired = evaluation.evaluate_folders(arguments.pred, arguments.truth, prediction_labels=arguments.labels,
                                      truth_labels=arguments.truth_labels or arguments.labels)
    if unpaired:
        print(f"note: cases without a partner, not scored: {', '.join(unpaired)}", file=sys.stderr)
    table = rows + [evaluation.mean_row(rows)]
    print(format_table(table, evaluation.COLUMNS))
    official = lab_module("brats_official", "evaluate")
    print(f"\n{official.DEFINITION}; lesions 26-connected, HD95 pooled, NaN: region empty in both")
    print(format_table([line for row in table for line in official.by_region(row)],
                       ("case", "region", *official.METRICS)))
    if arguments.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=(*evaluation.COLUMNS, *official.COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in table)
        write_text(buffer.getvalue(), arguments.csv)
    return 0


def format_table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> str:
    """A fixed-width text table of ``rows`` in ``columns`` (the first is the case; Dice, and HD95 in mm, to 4
    decimals)."""
    width = max(len("case"), *(len(str(row["case"])) for row in rows))
    widths = [max(9, len(column)) for column in columns[1:]]
    header = f"{'case':<{width}}  " + "  ".join(f"{column:>{w}}" for column, w in zip(columns[1:], widths))
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{str(row['case']):<{width}}  "
                     + "  ".join(f"{_cell(row[column]):>{w}}" for column, w in zip(columns[1:], widths)))
    return "\n".join(lines)


def _cell(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.4f}"
    return value
