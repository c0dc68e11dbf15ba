"""``emgui-cli``: fill blank labels of a table without a screen.

    emgui-cli fill INPUT -o OUTPUT [--label COL] [--features A,B,...]
        [--components K] [--min-confidence P] [--seed N] [--report R.json]
        [--unit UNIT | --unit COL=UNIT ...] [--sheet NAME]

Exit status 0 on success; 2 with a one-line reason on bad input, and then
nothing is written.  See DESIGN.md for the output contract.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="emgui-cli",
        description="Fill blank labels (e.g. gender) from numeric columns (e.g. height) with EM.",
    )
    parser.add_argument("--version", action="version", version=f"emgui-cli {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser(
        "fill",
        help="fill the blank labels of INPUT and write OUTPUT",
        description="Fit a Gaussian mixture to the feature columns, anchored by the typed labels, "
        "and fill every blank label with its most likely class.",
    )
    fill.add_argument("input", metavar="INPUT", help="a .csv, .tsv, .xlsx or .ods file")
    fill.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="a .csv, .tsv or .xlsx file")
    fill.add_argument("--label", metavar="COL", help="the label column (default: detected, e.g. gender/sex)")
    fill.add_argument("--features", metavar="A,B,...", help="feature columns (default: detected, e.g. height)")
    fill.add_argument("--components", type=int, metavar="K", help="number of classes when no label is typed (default 2)")
    fill.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                      help="leave a label blank when its probability is below P (0..1)")
    fill.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    fill.add_argument("--report", metavar="R.json", help="write the fitted model and counts as JSON")
    fill.add_argument("--unit", action="append", default=[], metavar="UNIT|COL=UNIT",
                      help="declare feature columns as heights in cm, in or m (all features, or one column)")
    fill.add_argument("--sheet", metavar="NAME", help="the worksheet to read from a workbook")
    return parser


def _column_index(columns: list[str], name: str) -> int:
    if name in columns:
        if columns.count(name) > 1:
            raise UsageError(f"column '{name}' appears {columns.count(name)} times; rename one")
        return columns.index(name)
    folded = [c.strip().casefold() for c in columns]
    if name.strip().casefold() in folded:
        return folded.index(name.strip().casefold())
    raise UsageError(f"unknown column '{name}' (columns: {', '.join(columns)})")


def _resolve_roles(args, columns, cells):
    from .core import parsing
    from .core.sheet import Roles, detect_roles

    detected = detect_roles(columns, cells)
    label = _column_index(columns, args.label) if args.label else detected.label
    if args.features:
        names = [n for n in args.features.split(",") if n.strip()]
        if not names:
            raise UsageError("--features names no column")
        features = [_column_index(columns, n.strip()) for n in names]
    else:
        features = [f for f in detected.features if f != label]
    if label is not None and label in features:
        raise UsageError(f"column '{columns[label]}' cannot be both the label and a feature")
    if not features:
        raise UsageError("no numeric feature column found; name one with --features")

    declared: dict[int, str] = {}
    for spec in args.unit:
        col, _, unit = spec.rpartition("=")
        unit = unit.strip().lower()
        if unit not in parsing.HEIGHT_UNITS:
            raise UsageError(f"unknown unit '{unit}' (use one of: {', '.join(parsing.HEIGHT_UNITS)})")
        targets = [_column_index(columns, col)] if col else features
        for t in targets:
            declared[t] = unit
    units: dict[int, str | None] = {}
    for f in features:
        if f in declared:
            units[f] = declared[f]
        elif parsing.is_height_column(columns[f]):
            units[f] = detected.units.get(f) or parsing.unit_from_name(columns[f]) or parsing.parse_height_column(cells[f]).unit
        else:
            units[f] = None
    return Roles(label, tuple(features), units)


def _write_json_atomic(path: Path, data: dict) -> None:
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run_fill(args) -> int:
    """The ``fill`` command; raises UsageError on bad input."""
    import numpy as np

    from .core import fileio, mixture
    from .core.fill import FillError, export_styles, export_table, fill_sheet, report_dict
    from .core.sheet import Sheet

    out = Path(args.output)
    if out.suffix.lower() not in fileio.SUPPORTED_WRITE:
        raise UsageError(
            f"cannot write '{out.name}': use one of {', '.join(fileio.SUPPORTED_WRITE)}"
        )
    if args.components is not None and args.components < 1:
        raise UsageError("--components must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    if args.report and Path(args.report).resolve() == out.resolve():
        raise UsageError("--report and OUTPUT must be different files")

    try:
        table = fileio.read_table(args.input, sheet=args.sheet)
    except fileio.FileFormatError as exc:
        raise UsageError(str(exc)) from exc
    if not table.columns:
        raise UsageError(f"'{Path(args.input).name}' has no columns")
    roles = _resolve_roles(args, table.columns, table.cells)
    sheet = Sheet.from_table(table.columns, table.cells, roles)
    for f in sheet.roles.features:
        if not np.isfinite(sheet.values(f)).any():
            raise UsageError(f"column '{sheet.columns[f]}' holds no readable numbers")
    try:
        fit_input, result, plan = fill_sheet(
            sheet,
            n_components=args.components,
            min_confidence=args.min_confidence,
            seed=args.seed,
        )
    except (FillError, mixture.MixtureError) as exc:
        raise UsageError(str(exc)) from exc

    columns, cells = export_table(sheet)
    label_name = sheet.columns[sheet.roles.label]
    styles = {}
    if out.suffix.lower() == ".xlsx":
        fill_colors, comments = export_styles(sheet)
        styles = {"fill_colors": fill_colors, "comments": comments}
    fileio.write_table(out, columns, cells, **styles)
    if args.report:
        _write_json_atomic(Path(args.report), report_dict(fit_input, result, plan, label_name))
    missing = sheet.counts()["missing"]
    print(
        f"{out}: filled {plan.n_filled} of {len(plan.rows) + missing} blank '{label_name}' cells"
        + (f", {plan.n_uncertain} left blank as uncertain" if plan.n_uncertain else "")
        + ("" if result.converged else f" (EM stopped after {result.n_iter} iterations without converging)"),
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "fill":
            return run_fill(args)
    except UsageError as exc:
        print(f"emgui-cli: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"emgui-cli: error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
