"""``emgui-cli``: fill blank labels of a table without a screen.

    emgui-cli fill INPUT -o OUTPUT [--label COL] [--features A,B,...]
        [--components K] [--covariance auto|separate|shared] [--min-confidence P]
        [--fill labels|all] [--draws M] [--seed N] [--report R.json]
        [--unit UNIT | --unit COL=UNIT ...] [--sheet NAME]
        [--engine memory|dask] [--scheduler ADDRESS] [--workers N]

``--engine dask`` is :mod:`emgui.distributed`, imported only then.

Exit status 0 on success; 2 with a one-line reason on bad input, and then
nothing is written.  See DESIGN.md for the output contract.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with control characters of its messages escaped (an argument
    quoted back in an error could otherwise hold terminal escape sequences)."""

    def _print_message(self, message, file=None):
        from .core._guards import printable

        if message:
            message = "\n".join(printable(line) for line in message.split("\n"))
        super()._print_message(message, file)


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
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
    fill.add_argument("input", metavar="INPUT", help="a .csv, .tsv, .xlsx, .ods or .parquet file "
                      "(with --engine dask: a folder of Parquet parts or a glob of CSV/Parquet files)")
    fill.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                      help="a .csv, .tsv, .xlsx or .parquet file (with --engine dask: a folder of parts)")
    fill.add_argument("--label", metavar="COL", help="the label column (default: detected, e.g. gender/sex)")
    fill.add_argument("--features", metavar="A,B,...", help="feature columns (default: detected, e.g. height)")
    fill.add_argument("--components", type=int, metavar="K",
                      help="number of groups (default: chosen by BIC; with typed labels, the typed classes or one more)")
    fill.add_argument("--covariance", choices=("auto", "separate", "shared"), default="auto",
                      help="each group's own covariance, one shared by all, or the better by BIC (default)")
    fill.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                      help="leave a label blank when its probability is below P (0..1)")
    fill.add_argument("--fill", choices=("labels", "all"), default="labels",
                      help="fill the blank labels (default), or the blank numbers of the features too")
    fill.add_argument("--draws", type=int, metavar="M",
                      help="write M multiple imputations stacked, with a first column 'imputation' (1..M)")
    fill.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    fill.add_argument("--report", metavar="R.json", help="write the fitted model and counts as JSON")
    fill.add_argument("--unit", action="append", default=[], metavar="UNIT|COL=UNIT",
                      help="declare feature columns as heights in cm, in or m (all features, or one column)")
    fill.add_argument("--sheet", metavar="NAME", help="the worksheet to read from a workbook")
    fill.add_argument("--engine", choices=("memory", "dask"), default="memory",
                      help="fit in this process (default), or over partitions on a Dask cluster "
                      "(needs the 'dask' extra)")
    fill.add_argument("--scheduler", metavar="ADDRESS",
                      help="with --engine dask: an existing cluster's scheduler (e.g. tcp://host:8786); "
                      "default: a local cluster on this machine")
    fill.add_argument("--workers", type=int, default=None, metavar="N",
                      help="with --engine dask and no --scheduler: worker processes of the local cluster "
                      "(default: one per CPU)")
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


def _resolve_roles(args, columns, cells, n_rows: int | None = None, notes: list[str] | None = None):
    """The label, features and units: named by the arguments, else detected.

    ``cells`` may be only what detection reads of each column (see
    :func:`_role_cells`); then ``n_rows`` is the table's rows.  ``notes``
    gets what detection has to say (measurements left out for the rows).
    """
    from .core import parsing
    from .core.sheet import Roles, detect_label, detect_roles, height_unit

    if args.features:
        # Named: only the label is looked for (if not named too), not every measurement.
        detected = Roles(None if args.label else detect_label(columns, cells), (), {})
    else:
        detected = detect_roles(columns, cells, notes, n_rows=n_rows)
    label = _column_index(columns, args.label) if args.label else detected.label
    if args.features:
        names = [n for n in args.features.split(",") if n.strip()]
        if not names:
            raise UsageError("--features names no column")
        features = [_column_index(columns, n.strip()) for n in names]
        from .core.sheet import no_measurement

        for f in features:
            # A named column that is a code (0/1) or an identifier is refused
            # rather than fitted: it would only add noise to every fill.
            reason = no_measurement(columns[f], cells[f])  # Arrow text as it is
            if reason is not None:
                raise UsageError(f"{reason}; leave it out of --features")
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
            units[f] = detected.units.get(f) or parsing.unit_from_name(columns[f]) or height_unit(cells[f])
        else:
            units[f] = None
    return Roles(label, tuple(features), units)


_ROLE_SAMPLE = 5000  # detect_roles reads no further into a column it does not take


def _role_cells(columns: list[str], cells: list) -> list:
    """What role detection reads of each column, as object arrays.

    :func:`~emgui.core.sheet.detect_roles` looks at the first 5,000 cells of
    a column at most, except for columns named like heights, which it
    samples throughout; so those are taken whole and the others only as far
    as it reads.  The roles come out the same as from the whole table.
    """
    import numpy as np

    from .core import fileio, parsing

    out = []
    for name, col in zip(columns, cells, strict=True):
        if isinstance(col, np.ndarray):
            out.append(col)
        elif parsing.is_height_column(name or ""):
            # Kept as Arrow text: detect_roles samples it without a str per cell.
            out.append(col)
        else:
            out.append(fileio.object_cells(col.slice(0, _ROLE_SAMPLE)))
    return out


def _own_columns(columns: list[str], roles) -> set[int]:
    """The program's own derived columns in INPUT (its earlier output): note and issue reasons.

    As :meth:`Sheet.from_table` does, only a column with a name of its own is one.
    """
    names = [(columns[f] or "") + "_issue" for f in roles.features]
    if roles.label is not None:
        names.append(columns[roles.label] + "_note")
    return {columns.index(n) for n in names if columns.count(n) == 1}


def _fill_columns(columns: list[str], roles) -> list[int]:
    """The columns the fill reads: the label, its saved marks, the features and the program's own columns."""
    used = set(roles.features) | _own_columns(columns, roles)
    if roles.label is not None:
        used.add(roles.label)
        for suffix in ("_imputed", "_confidence"):
            name = columns[roles.label] + suffix
            # As Sheet.from_table: only a mark column with a name of its own is one.
            if columns.count(name) == 1:
                used.add(columns.index(name))
    return sorted(used)


def _sheet_columns(columns: list[str], used: list[int], roles) -> list[int]:
    """The columns ``used`` the sheet keeps: Sheet.from_table takes saved marks out (both or none)
    and the program's own note and issue columns (written again from the sheet)."""
    drop = _own_columns(columns, roles)
    label = roles.label
    if label is not None:
        names = (columns[label] + "_imputed", columns[label] + "_confidence")
        marks = {j for j in used if j != label and columns[j] in names}
        if len(marks) == 2:
            drop |= marks
    return [j for j in used if j not in drop]


def _subset_roles(roles, used: list[int]):
    """``roles`` in the numbering of the columns ``used``."""
    from .core.sheet import Roles

    at = {j: i for i, j in enumerate(used)}
    return Roles(
        None if roles.label is None else at[roles.label],
        tuple(at[f] for f in roles.features),
        {at[f]: u for f, u in roles.units.items()},
    )


def _merge_output(columns, cells, used, in_sheet, out_columns, out_cells):
    """The contract's output: every input column in order, the sheet's as exported.

    The sheet holds the columns ``in_sheet`` (input numbering) and exports
    them first, then what it adds (a class column, the marks, the issue
    columns), which go after the input's columns.  Input columns the fill
    did not read pass through as they were read; saved marks the sheet took
    in are written where it writes them.

    Returns
    -------
    columns, cells
        The output table.
    where : dict of int to int
        Output column of each of the sheet's columns (sheet numbering).
    """
    exported = dict(zip(in_sheet, range(len(in_sheet)), strict=True))
    names, data, where = [], [], {}
    for j, name in enumerate(columns):
        if j in exported:
            where[exported[j]] = len(names)
            names.append(out_columns[exported[j]])
            data.append(out_cells[exported[j]])
        elif j not in used:
            names.append(name)
            data.append(cells[j])
    for k in range(len(in_sheet), len(out_columns)):
        where[k] = len(names)
        names.append(out_columns[k])
        data.append(out_cells[k])
    return names, data, where


def _output_schema(schema, n_columns: int, used: list[int], in_sheet: list[int]):
    """The input's Parquet types of the output's leading columns (None for other inputs).

    The output's first columns are the input's in order, less saved marks
    the sheet took in (they are written again after them): see
    :func:`_merge_output`.
    """
    if schema is None:
        return None
    import pyarrow as pa

    kept = set(in_sheet)
    return pa.schema([schema.field(j) for j in range(n_columns) if j in kept or j not in used])


def _shown(text: str) -> str:
    from .core._guards import printable

    return printable(text)


def _check_paths(args, out: Path) -> None:
    """INPUT, OUTPUT and the report: distinct files in folders that can be written.

    Checked before anything is read or written: a report naming the input
    would replace it with JSON, and a report that cannot be written would
    fail after OUTPUT was written.
    """
    inp = Path(args.input)
    targets = [("OUTPUT", out)]
    if args.report:
        report = Path(args.report)
        for what, other in (("INPUT", inp), ("OUTPUT", out)):
            same = report.resolve() == other.resolve()
            if not same and report.exists() and other.exists():
                try:
                    same = os.path.samefile(report, other)
                except OSError:
                    same = False
            if same:
                raise UsageError(f"--report and {what} must be different files")
        targets.append(("--report", report))
    for what, path in targets:
        folder = path.resolve().parent
        if not folder.is_dir():
            raise UsageError(f"cannot write {what} '{_shown(path.name)}': its folder does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write {what} '{_shown(path.name)}': its folder is not writable")
        if path.is_dir():
            raise UsageError(f"cannot write {what} '{_shown(path.name)}': it is a folder")


def _check_xlsx_output(out: Path, columns, cells, roles, args) -> None:
    """Excel's limits, before the fit: a table that cannot be written is refused now."""
    from .core import _guards

    # What the fill may add: a class column, the label's imputed, confidence
    # and note columns, and an issue column per feature (an upper bound);
    # with --fill all three columns per feature, with --draws the first column.
    extra = (roles.label is None) + 3 + len(roles.features)
    extra += 3 * len(roles.features) * (args.fill == "all") + (args.draws is not None)
    n = len(cells[0]) if cells else 0
    if args.draws is not None and n * args.draws + 1 > _guards.XLSX_MAX_ROWS:
        raise UsageError(
            f"'{_shown(out.name)}' cannot hold {args.draws} copies of {n:,} rows: an Excel sheet "
            f"holds at most {_guards.XLSX_MAX_ROWS - 1:,} rows below the header; write a .csv instead."
        )
    try:
        _guards.check_xlsx_fits(f"'{_shown(out.name)}'", columns, cells, extra)
    except _guards.GuardError as exc:
        raise UsageError(str(exc)) from None


#: K times the rows the fit works on: each component keeps a column of
#: responsibilities (8 bytes a row), so 100M is ~0.8 GB.
_MAX_COMPONENT_ROWS = 100_000_000


def _check_components(k: int | None, sheet) -> None:
    """Refuse more classes than rows to fit them (or than memory for them)."""
    import numpy as np

    if k is None:
        return
    usable = np.zeros(sheet.n_rows, dtype=bool)
    for f in sheet.roles.features:  # a row with some value takes part
        usable |= np.isfinite(sheet.values(f))
    n = int(usable.sum())
    if k > n:
        raise UsageError(
            f"--components {k:,} is more than the {n:,} rows with readable "
            f"{'values' if len(sheet.roles.features) > 1 else 'numbers'} to fit them"
        )
    if k * n > _MAX_COMPONENT_ROWS:
        raise UsageError(
            f"--components {k:,} is too many for {n:,} rows "
            f"(at most {_MAX_COMPONENT_ROWS // n:,} would fit in memory)"
        )


def run_fill(args) -> int:
    """The ``fill`` command; raises UsageError on bad input.

    The fill in memory may use a second core
    (:func:`emgui.core._parallel.second_core`: its read, fit and write):
    this process has nothing else to do meanwhile.  The window, which reads,
    fits and writes in the same code, leaves that core to its GUI thread,
    and Dask's partitions stay on one thread each.
    """
    from .core import _parallel

    if args.engine == "dask":
        try:
            from . import distributed
        except ImportError as exc:
            raise UsageError(
                f"--engine dask needs Dask ({exc.name} is not installed): pip install 'emgui[dask]'"
            ) from None
        return distributed.run_fill(args)
    with _parallel.second_core():
        return _run_fill(args)


def _run_fill(args) -> int:
    import numpy as np

    from .core import fileio, mixture
    from .core.fill import (
        FillError,
        export_draws,
        export_styles,
        export_table,
        fill_sheet,
        report_dict,
        take_number_marks,
    )
    from .core.sheet import Sheet

    if args.scheduler or args.workers is not None:
        raise UsageError("--scheduler and --workers go with --engine dask")
    out = Path(args.output)
    if out.suffix.lower() not in fileio.SUPPORTED_WRITE:
        raise UsageError(
            f"cannot write '{out.name}': use one of {', '.join(fileio.SUPPORTED_WRITE)}"
        )
    if args.components is not None and args.components < 1:
        raise UsageError("--components must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    if args.draws is not None and not 1 <= args.draws <= 1000:
        raise UsageError("--draws must be between 1 and 1000")
    _check_paths(args, out)

    try:
        # Columns stay Arrow arrays where Arrow read them: only the label and
        # feature columns ever become Python strings (see _fill_columns).
        table = fileio.read_table(args.input, sheet=args.sheet, arrow=True)
    except fileio.FileFormatError as exc:
        raise UsageError(str(exc)) from exc
    if not table.columns:
        raise UsageError(f"'{_shown(Path(args.input).name)}' has no columns")
    fileio.release_memory()  # the read's freed pieces: see release_memory
    columns = list(table.columns)
    # An output of --fill all read again: its filled numbers are blank again.
    columns, in_cells = take_number_marks(columns, table.cells)
    if in_cells is not table.cells:
        table = dataclasses.replace(table, columns=columns, cells=in_cells)
    detect_notes: list[str] = []
    roles = _resolve_roles(
        args, columns, _role_cells(columns, table.cells), n_rows=len(table.cells[0]), notes=detect_notes
    )
    if out.suffix.lower() == ".xlsx":
        _check_xlsx_output(out, columns, table.cells, roles, args)
    used = _fill_columns(columns, roles)
    # The label becomes str objects (fills write into it: the sheet makes them,
    # beside the features' parse); the features stay Arrow text, parsed
    # without a str per cell (8 bytes a row less, and no conversion there and back).
    sheet_cells = [
        table.cells[j] if j in roles.features or j == roles.label else fileio.object_cells(table.cells[j])
        for j in used
    ]
    if roles.label is not None and not isinstance(table.cells[roles.label], np.ndarray):
        # The label's Arrow text is not written again (the sheet's cells are): let it go now.
        cells = list(table.cells)
        cells[roles.label] = None
        table = dataclasses.replace(table, cells=cells)
    sheet = Sheet.from_table([columns[j] for j in used], sheet_cells, _subset_roles(roles, used))
    del sheet_cells
    in_sheet = _sheet_columns(columns, used, roles)
    fileio.release_memory()  # the parsers' temporaries
    for f in sheet.roles.features:
        if not np.isfinite(sheet.values(f)).any():
            raise UsageError(f"column '{sheet.columns[f]}' holds no readable numbers")
    _check_components(args.components, sheet)
    jobs: list = []
    try:
        fit_input, report, plan = fill_sheet(
            sheet,
            n_components=args.components,
            min_confidence=args.min_confidence,
            seed=args.seed,
            covariance=args.covariance,
            fill=args.fill,
            job_out=jobs,
        )
        draws = None if args.draws is None else jobs[0].draws(args.draws, seed=args.seed)
    except (FillError, mixture.MixtureError) as exc:
        raise UsageError(str(exc)) from exc

    numbers = plan.numbers
    label_name = sheet.columns[sheet.roles.label]
    # The report and the closing line are made now, so the fit's arrays (its
    # input, the EM's sorted copies, the plan) can go before the output is
    # built: a large fill's peak memory is in writing it.
    report_json = report_dict(fit_input, report, plan, label_name, sheet) if args.report else None
    summary = _summary(out, label_name, sheet, plan, report, numbers, draws)
    del fit_input, report, plan, jobs
    fileio.release_memory()
    dialect = table.meta.get("dialect")
    decimal = getattr(dialect, "decimal", ".") or "."
    # A CSV's mark columns are made as its blocks are written (by the
    # writer's threads); XLSX, Parquet and draws take whole columns.
    blocks = out.suffix.lower() in (".csv", ".tsv") and draws is None
    exported_columns, exported = export_table(sheet, numbers, decimal, arrow=True, mark_blocks=blocks)
    filled_features = set() if numbers is None else {int(i) for i in np.unique(numbers.features)}
    for i, f in enumerate(sheet.roles.features):
        if not sheet.converted(f).any() and i not in filled_features:
            # Written as read: the Arrow column, if that is what was read, is
            # written without a Python str per cell.
            exported[f] = table.cells[in_sheet[f]]
    out_columns, out_cells, where = _merge_output(columns, table.cells, used, in_sheet, exported_columns, exported)
    styles = {}
    computed = range(len(columns), len(out_columns))
    if draws is not None:
        out_columns, out_cells = export_draws(
            out_columns, [fileio.object_cells(c) for c in out_cells],
            keep=list(range(len(columns))) + ([where[sheet.roles.label]] if where[sheet.roles.label] >= len(columns) else []),
            label_at=where[sheet.roles.label],
            feature_at=[where[f] for f in sheet.roles.features],
            label_name=label_name,
            feature_names=[sheet.columns[f] for f in sheet.roles.features],
            draws=draws,
            decimal=decimal,
        )
        computed = [0, *range(len(columns) + 1, len(out_columns))]
    elif out.suffix.lower() == ".xlsx":
        fill_colors, comments = export_styles(sheet, numbers)
        styles = {
            "fill_colors": {where[j]: v for j, v in fill_colors.items()},
            "comments": {where[j]: v for j, v in comments.items()},
        }
    # A CSV/TSV input's dialect (delimiter, decimal mark, quoting, encoding)
    # is the output's; the columns after the input's are the program's own.
    # A Parquet input's column types are the output's where the cells still read so.
    schema = _output_schema(table.meta.get("schema"), len(columns), used, in_sheet)
    warnings = fileio.write_table(
        out, out_columns, out_cells, dialect=table.meta.get("dialect"),
        computed=computed, schema=None if draws else schema, **styles,
    )
    for line in [*table.warnings, *detect_notes, *warnings]:
        print(f"emgui-cli: warning: {line}", file=sys.stderr)
    if report_json is not None:
        fileio.write_json(args.report, report_json)
    print(summary, file=sys.stderr)
    return 0


def _summary(out: Path, label_name: str, sheet, plan, report, numbers, draws) -> str:
    """The closing line on stderr: what was filled, the model, how far to trust it."""
    result = report.result
    # Blank labels: those the fill covered (filled or left blank with a note)
    # and those of rows it could not use (no readable feature value).
    counts = sheet.counts()
    blank = plan.n_filled + counts["missing"]
    model = f"{report.groups} group{'s' if report.groups != 1 else ''}, {report.covariance} covariance"
    return (
        f"{_shown(str(out))}: filled {plan.n_filled} of {blank} blank '{_shown(label_name)}' cells"
        + (f", {plan.n_uncertain} left blank (see '{_shown(label_name)}_note')" if plan.n_uncertain else "")
        + (f"; {report.n_unusual} row{'s' if report.n_unusual != 1 else ''} with unusual values set aside"
           if report.n_unusual else "")
        + (f"; filled {len(numbers)} blank number{'s' if len(numbers) != 1 else ''}" if numbers is not None else "")
        + (f"; {len(draws)} imputations stacked" if draws is not None else "")
        + f"; model: {model}"
        + ("" if report.check is None else f". {report.check.sentence()}")
        + ("" if result.converged else f" (EM stopped after {result.n_iter} iterations without converging)")
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; ``argv`` None means ``sys.argv`` (the installed command).

    Called as the command (``argv`` None), the process ends here without
    the interpreter's clean-up: the files are written and closed, and
    freeing a million Python objects one by one would only add ~0.15 s.
    """
    if argv is None:
        # One OpenBLAS thread, set before numpy is first imported (a variable
        # already set is kept).  Every product of the fill is blocked or small
        # enough for one core; the few over a million rows (the Gram matrices
        # of the rows, X.T @ X) woke OpenBLAS's second thread, which then
        # spins waiting for more: measured on the 2-core AMD EPYC (issue 14),
        # the 1M-row 5-feature fill took 4.9 CPU seconds (3.8-5.3) with it and
        # 3.0 (2.9-3.4) without, the same output file byte for byte.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from .core._guards import install_signal_cleanup

        # SIGTERM, SIGHUP and SIGINT during a write remove its temporary files.
        install_signal_cleanup()
    rc = _main(argv)
    if argv is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


def _main(argv: list[str] | None) -> int:
    from .core.fileio import FileFormatError

    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "fill":
            return run_fill(args)
    except (UsageError, OSError, FileFormatError) as exc:
        # One line, control characters escaped: names in it come from files.
        print(f"emgui-cli: error: {_shown(str(exc))}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
