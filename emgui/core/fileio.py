"""Read and write tables: CSV, TSV, XLSX, Parquet (and read ODS), safely.

Every cell is read as text so that nothing a person typed is ever changed:
``"007"`` stays ``"007"``, ``"NA"`` stays ``"NA"``.  An empty cell is ``None``;
CSV cannot tell an empty quoted field from a missing one, so both are ``None``.
Rows at the end whose cells are all empty are dropped (a spreadsheet cannot
tell them from no row at all).

Hostile files are refused with a :class:`FileFormatError` whose message is one
sentence naming the file: binary junk, zip bombs, XML with a document type
declaration (the door to entity-expansion and external-entity attacks),
password-protected and old ``.xls`` workbooks, damaged archives.

Writes are atomic: the table goes to a temporary file in the target folder,
which replaces the target only once it is complete and synced to disk.

CSV output is safe to open in a spreadsheet program: a text cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a
leading apostrophe, and :func:`read_table` removes exactly one such apostrophe
again, so a round trip loses nothing.  Numbers such as ``-5`` or ``+3.2`` are
left alone.  Quoting is minimal, except that a row holding a carriage return
or another candidate delimiter (``;``, tab, ``|``) is quoted throughout, so
no reader's delimiter detection is fooled, and a one-column file is quoted
throughout, so a blank cell is not a blank line.

Libraries: CSV is parsed by Arrow's CSV reader; pandas' C engine takes over
for files Arrow might read differently and the csv module for ragged rows
(pandas is imported only then: importing it costs half a second); XLSX/ODS are read by python-calamine (openpyxl only for a
workbook holding error cells such as ``#N/A``, which calamine reads as
blank) and XLSX is written by rvgsrust-xlsxwriter (rust_xlsxwriter).  Parquet is read and written by
pyarrow: a typed column is read as the text Arrow gives its values (the
shortest text that reads back as the same number), and written back in its
input type when every cell still reads as one (see :func:`write_table`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as _dt
import io
import mmap
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from . import _guards, _parallel
from .dialect import (
    DEFAULT,
    DELIMITERS,
    Dialect,
    detect_decimal,
    detect_line_ending,
    detect_quoting,
)
from .textcolumn import DEDUP_SAMPLE, DEDUP_SHARE, shared_cells

__all__ = [
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "FileFormatError",
    "ReadCancelled",
    "ColumnBlocks",
    "Dialect",
    "Table",
    "object_cells",
    "read_table",
    "write_json",
    "write_table",
]

SUPPORTED_READ = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods", ".parquet")
SUPPORTED_WRITE = (".csv", ".tsv", ".xlsx", ".parquet")

Progress = Callable[[float], object] | None
Cancel = Callable[[], bool] | None


class FileFormatError(ValueError):
    """A file cannot be read or written as a table.

    The message is one sentence naming the file and what is wrong, fit to
    show to a person as it is.
    """


class ReadCancelled(Exception):  # noqa: N818 - the name other modules code against
    """The ``cancel`` callable returned True; raised by reading and by writing.

    A cancelled write leaves the target file as it was.
    """


class ColumnBlocks:
    """A column of cells made a block of rows at a time, as a CSV is written.

    ``make(start, stop)`` gives the cells of rows ``start`` to ``stop`` (an
    object array of ``str``/None or an Arrow string array).  The program's
    crash-recovery copy writes its mark columns this way after every fill:
    five million rows of ``"true"``/``"false"`` and probabilities as text
    would take ~110 MB at once, a block of them well under 1 MB.  XLSX,
    Parquet and CSV in an encoding other than UTF-8 (or with a decimal
    comma) take the whole column, made block by block.

    Parameters
    ----------
    n_rows : int
    make : callable
        ``make(start, stop) -> (stop - start,)`` cells; called with
        increasing, adjacent ranges.
    """

    def __init__(self, n_rows: int, make: Callable[[int, int], object]) -> None:
        self._n = int(n_rows)
        self._make = make

    def __len__(self) -> int:
        return self._n

    def block(self, start: int, stop: int):
        """The cells of rows ``start`` to ``stop``."""
        return self._make(start, min(stop, self._n))

    def whole(self) -> np.ndarray:
        """Every cell, as an object array ``(n_rows,)``."""
        out = np.empty(self._n, dtype=object)
        for start in range(0, self._n, _CSV_CHUNK_ROWS):
            stop = min(start + _CSV_CHUNK_ROWS, self._n)
            out[start:stop] = object_cells(self.block(start, stop))
        return out


def _rows(column, start: int, stop: int):
    """Rows ``start`` to ``stop`` of a column being written (an Arrow slice, an array view or a made block)."""
    if isinstance(column, ColumnBlocks):
        return column.block(start, stop)
    return column.slice(start, stop - start) if _is_arrow_text(column) else column[start:stop]


@dataclass
class Table:
    """A table of text cells as read from a file.

    Attributes
    ----------
    columns : list of str, length n_columns
        Header names as in the file, in order; duplicates are kept and a
        blank header is ``""``.
    cells : list of numpy.ndarray, length n_columns
        One object array of shape ``(n_rows,)`` per column; every item is a
        ``str`` (never empty) or ``None`` for an empty cell.
    meta : dict
        How the file was read, e.g. ``{"format": "csv", "delimiter": ",",
        "encoding": "utf-8-sig", "dialect": Dialect(...)}`` or
        ``{"format": "xlsx", "sheet": "Sheet1", "sheets": ["Sheet1", "Notes"]}``.
        A text file's ``"dialect"`` (:class:`~emgui.core.dialect.Dialect`)
        is what :func:`write_table` takes to write it back the same way.
    warnings : list of str
        Sentences for the user about how the file was read (lines read in
        another encoding, an encoding that was a guess); empty when there is
        nothing to say.
    """

    columns: list[str]
    cells: list[np.ndarray]
    meta: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Number of data rows (the header is not counted)."""
        return len(self.cells[0]) if self.cells else 0


# --------------------------------------------------------------------------
# Limits.  Module constants so that a test can lower them.

#: A workbook whose members add up to more than this is refused (zip bomb).
MAX_TOTAL_UNCOMPRESSED = 2 * 1024**3
#: A member larger than MAX_MEMBER_FOR_RATIO that compresses better than
#: MAX_COMPRESSION_RATIO is refused: real sheets compress about 10:1.
MAX_COMPRESSION_RATIO = 200
MAX_MEMBER_FOR_RATIO = 100 * 1024**2
#: Real workbooks have tens of members; millions would exhaust memory.
MAX_ZIP_MEMBERS = 100_000
#: Excel refuses longer cells (checked before a workbook is written).
MAX_XLSX_CELL_CHARS = 32_767

_CSV_CHUNK_ROWS = 65_536
_IO_BLOCK = 1 << 20
_SNIFF_BYTES = 1 << 16

# A text cell that a spreadsheet program would run as a formula ("=...",
# "+...", "-...", "@...") or that starts with a tab or carriage return.
# Leading apostrophes are included so that our own escaping is reversible:
# "'=x" is written "''=x" and read back as "'=x".
_RISKY_RE = re.compile(r"'*[=+\-@\t\r]")
_RISKY_FIRST = frozenset("'=+-@\t\r")
_ESCAPED_RE = re.compile(r"'('*[=+\-@\t\r])")
# A plain number ("-5", "+3.2", "-1e3", "-1,5") is harmless and stays as it is.
_CSV_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number an XLSX cell may hold (dot decimal only).
_XLSX_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")

# OOXML writes characters XML cannot carry as _xHHHH_ (ST_Xstring); openpyxl
# leaves them escaped on read, calamine and Excel decode them.
_OOXML_UNESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# --------------------------------------------------------------------------
# Public entry points


_TRIM: list = []


def release_memory() -> None:
    """Give freed memory back to the system: Arrow's pool, then glibc's heap.

    Reading a large CSV frees its pieces (the blocks Arrow read, joined into
    one array per column) into the heap, where the next arrays, too large
    for it, do not reuse them: a 30M-row fill kept ~40 bytes a row of them
    resident until the end (``benchmarks/bench_cli.py --memory``).  A no-op
    where the C library is not glibc.
    """
    import sys

    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    if not _TRIM:
        trim = None
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                trim = None  # not glibc: nothing to trim
        _TRIM.append(trim)
    if _TRIM[0] is not None:
        _TRIM[0](0)


def read_table(
    path: str | os.PathLike,
    *,
    sheet: str | None = None,
    progress: Progress = None,
    cancel: Cancel = None,
    arrow: bool = False,
) -> Table:
    """Read a CSV, TSV, TXT, XLSX, XLSM, ODS or Parquet file into a :class:`Table`.

    The first non-empty row is the header.  The format follows the file
    name's extension; a CSV's encoding and delimiter are detected (``.tsv``
    always uses tabs).  A Parquet file's columns are its fields: numbers,
    booleans and dates read as the text Arrow writes for them (NaN as an
    empty cell), its types kept in ``meta["schema"]``; every row is kept,
    blank ones at the end included (a record is not a spreadsheet row).

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    sheet : str, optional
        Workbook sheet to read; by default the first visible worksheet.
        Ignored for text files.
    progress : callable(float), optional
        Called now and then with the fraction done, in ``[0, 1]``.
    cancel : callable() -> bool, optional
        Polled now and then; when it returns True, :class:`ReadCancelled` is
        raised.
    arrow : bool, default False
        When Arrow's reader reads the file (most CSV and TSV files, and
        Parquet), leave
        every column as a ``pyarrow.StringArray`` (null for an empty cell,
        formula escaping undone) instead of building a Python ``str`` per
        cell; :func:`object_cells` turns one into the usual array.  For a
        caller that looks at a few columns of a large file (the command
        line); other readers return object arrays regardless.  With no
        ``progress`` and no ``cancel``, inside
        :func:`emgui.core._parallel.second_core` (the command line), a CSV
        may be read in one call on two cores, the same cells.

    Returns
    -------
    Table
        ``columns`` (n_columns,), ``cells`` n_columns object arrays of shape
        ``(n_rows,)`` (or Arrow arrays, see ``arrow``).

    Raises
    ------
    FileFormatError
        The file is missing, unreadable, empty, of an unsupported type,
        damaged or hostile.
    ReadCancelled
        ``cancel`` returned True.
    """
    path = os.fspath(path)
    name = _display_name(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED_READ:
        raise FileFormatError(
            f"{name} has an unsupported file type {ext or '(no extension)'!r}; "
            f"supported types are {', '.join(SUPPORTED_READ)}."
        )
    _check_readable(path, name)
    report = _Reporter(progress, cancel)
    if ext in (".xlsx", ".xlsm", ".ods"):
        table = _read_workbook(path, name, ext, sheet, report)
    elif ext == ".parquet":
        table = _read_parquet(path, name, report, arrow)
    else:
        table = _read_text(path, name, ext, report, arrow)
    report(1.0)
    return table


def object_cells(column) -> np.ndarray:
    """A column of a :class:`Table` as an object array of ``str``/None.

    Object arrays are returned as they are; an Arrow string array (see
    ``read_table(arrow=True)``) is converted, with one ``str`` object per
    distinct value when its values repeat (a gender or height column).
    """
    if isinstance(column, np.ndarray):
        return column
    if isinstance(column, ColumnBlocks):
        return column.whole()
    return shared_cells(column)


def write_table(
    path: str | os.PathLike,
    columns: Sequence[str],
    cells: Sequence[np.ndarray],
    *,
    fill_colors: dict[int, np.ndarray] | None = None,
    comments: dict[int, np.ndarray] | None = None,
    dialect: Dialect | None = None,
    computed: Collection[int] = (),
    schema=None,
    progress: Progress = None,
    cancel: Cancel = None,
    block_rows: int | None = None,
) -> list[str]:
    """Write a table to CSV, TSV, XLSX or Parquet, atomically.

    The format follows the extension.  CSV/TSV are written in ``dialect``
    (by default UTF-8, commas -- tabs for ``.tsv`` --, ``"\\n"`` line
    endings, minimal quoting), formula-safe (see the module docstring).  A
    dialect's encoding is kept when every cell fits in it; otherwise the file
    is written as UTF-8 with a byte-order mark and a warning says so.

    XLSX is written as a spreadsheet would: a bold, frozen header row; every
    cell that reads as a number (``"160.0"``, ``"183,7"``, ``"-5"``) is a
    number cell, its typed decimals kept by a number format (``0.0``); an
    integer of more than 15 digits, or a number with leading zeros
    (``"007"``), stays text so no id changes; ``"TRUE"``/``"FALSE"`` (and
    ``"true"``/``"false"`` in ``computed`` columns) are boolean cells;
    everything else is a text cell, never a formula.

    Parquet: column ``j`` takes the type of ``schema``'s field ``j`` (the
    input's, ``read_table`` gives it in ``meta["schema"]``) when every cell
    of it reads as that type, and stays text otherwise (a number column
    holding an unreadable cell); ``computed`` columns are booleans or
    float64 when all their cells read so; every other column is text.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; replaced only when the new file is complete.
    columns : sequence of str, length n_columns
        Header names.
    cells : sequence of numpy.ndarray, length n_columns
        One array of shape ``(n_rows,)`` per column, items ``str`` or ``None``;
        or an Arrow string array (as ``read_table(arrow=True)`` gives), which
        a CSV is written from without a Python ``str`` per cell.
    fill_colors : dict of int to numpy.ndarray, optional
        XLSX only: per column index, an object array ``(n_rows,)`` of
        ``"#RRGGBB"`` or ``None``; those cells get a solid fill.
    comments : dict of int to numpy.ndarray, optional
        XLSX only: per column index, an object array ``(n_rows,)`` of comment
        text or ``None``.
    dialect : Dialect, optional
        CSV/TSV only: how to write the file (see :class:`Dialect`); a
        ``.tsv`` always gets tabs.  ``read_table`` gives a file's own in
        ``meta["dialect"]``.
    computed : collection of int, optional
        Indices of columns the program made (fill marks, confidences): their
        numbers, written with a decimal point, take the dialect's decimal
        mark in CSV, and their ``"true"``/``"false"`` are booleans in XLSX
        (and booleans or numbers in Parquet).
    schema : pyarrow.Schema, optional
        Parquet only: the types of the first columns (see above).
    progress, cancel : callable, optional
        As for :func:`read_table`; a cancelled write leaves the target as it
        was and raises :class:`ReadCancelled`.
        Without ``progress`` and ``cancel``, inside
        :func:`emgui.core._parallel.second_core` (the command line), a CSV's
        next rows may be made into text on another core while these are
        written, the same bytes.
    block_rows : int, optional
        CSV/TSV: rows made into text at a time (default 65,536; the same
        bytes whatever it is); fewer take less memory at once and a little
        more time.

    Returns
    -------
    list of str
        Sentences for the user about the file written (an encoding that
        could not be kept); empty when there is nothing to say.

    Raises
    ------
    FileFormatError
        Unsupported extension, or a cell too long for XLSX.
    OSError
        The file could not be written (the message names it and says why);
        the old file, if any, is unchanged.
    ValueError
        ``columns``, ``cells``, ``fill_colors`` or ``comments`` disagree in
        shape, or a colour is not ``"#RRGGBB"``.
    """
    path = os.fspath(path)
    name = _display_name(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED_WRITE:
        raise FileFormatError(
            f"{name} cannot be written as {ext or '(no extension)'!r}; "
            f"supported types are {', '.join(SUPPORTED_WRITE)}."
        )
    columns = ["" if c is None else str(c) for c in columns]
    cols = [_as_text_column(c) for c in cells]
    n_rows = _check_shapes(columns, cols)
    if ext not in (".csv", ".tsv") or (dialect is not None and (dialect.decimal != "." or not _utf8(dialect.encoding))):
        cols = [c.whole() if isinstance(c, ColumnBlocks) else c for c in cols]
    fills = _check_extras(fill_colors, len(cols), n_rows, "fill_colors")
    notes = _check_extras(comments, len(cols), n_rows, "comments")
    for arr in fills.values():
        bad = next((v for v in arr if v is not None and not _COLOR_RE.fullmatch(str(v))), None)
        if bad is not None:
            raise ValueError(f"fill colour {bad!r} is not of the form '#RRGGBB'")
    computed = {int(j) for j in computed if 0 <= int(j) < len(cols)}
    report = _Reporter(progress, cancel)
    warnings: list[str] = []
    try:
        if ext == ".xlsx":
            cols = [object_cells(c) for c in cols]
            _write_xlsx(path, name, columns, cols, n_rows, fills, notes, report, computed)
        elif ext == ".parquet":
            _write_parquet(path, columns, cols, n_rows, report, computed, schema)
        else:
            dialect = (dialect or DEFAULT).for_extension(ext)
            if dialect.decimal != "." and computed:
                cols = [_decimal_comma(object_cells(c)) if j in computed else c for j, c in enumerate(cols)]
            encoding = _writable_encoding(name, dialect.encoding, columns, cols, warnings)
            _write_csv(path, columns, cols, n_rows, replace(dialect, encoding=encoding), report, block_rows)
    except OSError as exc:
        raise _save_error(name, path, exc) from exc
    report(1.0)
    return warnings


# --------------------------------------------------------------------------
# Shared helpers


class _Reporter:
    """Forward progress and poll cancel; ``report(fraction)`` does both."""

    def __init__(self, progress: Progress, cancel: Cancel) -> None:
        self._progress = progress
        self._cancel = cancel
        #: Nobody waits for progress or may cancel: the work may run in one
        #: call or a few threads, as far as :func:`_parallel.cores` allows
        #: (two inside ``second_core``: the command line; else one).
        self.parallel = progress is None and cancel is None

    def __call__(self, fraction: float) -> None:
        if self._cancel is not None and self._cancel():
            raise ReadCancelled("cancelled")
        if self._progress is not None:
            self._progress(min(max(float(fraction), 0.0), 1.0))


def _display_name(path: str) -> str:
    # Control characters escaped: a name cannot send escape sequences to a terminal.
    return "'" + _guards.printable(os.path.basename(os.path.normpath(path)) or path) + "'"


def _check_readable(path: str, name: str) -> None:
    try:
        # Before open(): opening a FIFO waits for a writer forever.
        _guards.check_regular_file(path, name)
    except _guards.GuardError as exc:
        raise FileFormatError(str(exc)) from None
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise FileFormatError(_guards.open_error(name, exc)) from None


def _strip_escape(text: str) -> str:
    """Undo the CSV writer's formula escaping on one cell."""
    m = _ESCAPED_RE.match(text)
    return text[1:] if m else text


def _format_number(x: float) -> str:
    """Shortest text for a spreadsheet number, as a spreadsheet shows it.

    Integers lose the ``.0`` (``170.0 -> "170"``) and keep every digit (a
    16-digit id stored as a number reads back as itself); otherwise 15 significant
    digits, Excel's own precision, so float noise such as
    ``0.30000000000000004`` reads ``"0.3"``.
    """
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e17:
        # Every digit of what the workbook holds: a 16-digit id stays itself.
        return str(int(x))
    text = format(x, ".15g")
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    return text


def _trim_trailing_empty_rows(cols: list[np.ndarray]) -> list[np.ndarray]:
    if not cols:
        return cols
    n = len(cols[0])
    end = n
    while end > 0 and all(c[end - 1] is None for c in cols):
        end -= 1
    return cols if end == n else [c[:end] for c in cols]


# --------------------------------------------------------------------------
# Parquet

_PARQUET_MAGIC = b"PAR1"
#: Rows per row group written (and per progress report).
_PARQUET_GROUP_ROWS = 1 << 16


def _read_parquet(path: str, name: str, report: _Reporter, arrow: bool) -> Table:
    """A Parquet file's fields as text columns (see :func:`read_table`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    if size == 0:
        raise FileFormatError(f"{name} is empty.")
    if head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
        raise FileFormatError(f"{name} is not a Parquet file (or it is damaged).")
    try:
        pf = pq.ParquetFile(path)
        if pf.metadata.num_columns == 0:
            raise FileFormatError(f"{name} has no columns.")
        # Refused before anything is read: a nested field is no column of cells.
        for fld in pf.schema_arrow:
            if pa.types.is_nested(fld.type):
                raise FileFormatError(
                    f"{name}: column {_guards.printable(fld.name)!r} holds nested values "
                    "(lists or records); only flat columns can be read."
                )
        groups = []
        for i in range(pf.num_row_groups):
            report(i / max(pf.num_row_groups, 1) * 0.8)
            groups.append(pf.read_row_group(i))
        data = pa.concat_tables(groups) if groups else pf.schema_arrow.empty_table()
    except (pa.ArrowException, OSError) as exc:
        reason = _guards.printable(str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__)
        raise FileFormatError(f"{name} could not be read as Parquet ({reason}).") from None
    cells = []
    for column in data.columns:
        text = _parquet_text(name, data.schema.field(len(cells)), column)
        cells.append(text if arrow else object_cells(text))
    return Table(
        columns=list(data.schema.names),
        cells=cells,
        meta={"format": "parquet", "schema": data.schema},
    )


def _parquet_text(name: str, field_, column):
    """One Parquet column as an Arrow string array: null for an empty cell or NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _arrowtext as at

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    nan = None
    if pa.types.is_floating(column.type):
        nan = at.to_bools(pc.is_nan(column), null=False)
    if pa.types.is_large_string(column.type) or not pa.types.is_string(column.type):
        try:
            column = pc.cast(column, pa.string())
        except pa.ArrowException:
            raise FileFormatError(
                f"{name}: column {_guards.printable(field_.name)!r} of type {field_.type} "
                "cannot be read as text."
            ) from None
    lengths = pc.binary_length(column)
    empty = at.to_numbers(lengths, f"int{lengths.type.bit_width}", null=-1) == 0
    if nan is not None:
        empty |= nan
    if empty.any():
        column = at.with_nulls(column, empty)
    return column


def _write_parquet(path, columns, cols, n_rows, report, computed, schema) -> None:
    """Write text columns to Parquet, typed as :func:`write_table` says."""
    import pyarrow as pa
    import pyarrow.parquet as pq


    arrays, fields = [], []
    for j, (name, col) in enumerate(zip(columns, cols, strict=True)):
        report(0.5 * j / max(len(cols), 1))
        text = col if _is_arrow_text(col) else _arrow_text(col)
        if pa.types.is_large_string(text.type):
            text = text.cast(pa.string())
        wanted = []
        if schema is not None and j < len(schema):
            wanted = [schema.field(j).type]
        elif j in computed and text.null_count < len(text):
            # An empty computed column (a note no row has here) stays text.
            wanted = [pa.bool_(), pa.float64()]
        typed = text
        for kind in wanted:
            cast = _cast_text(text, kind)
            if cast is not None:
                typed = cast
                break
        arrays.append(typed)
        fields.append(pa.field(name, typed.type))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    report(0.5)
    with _atomic_file(path, binary=True) as f, pq.ParquetWriter(f, table.schema) as writer:
        for start in range(0, max(n_rows, 1), _PARQUET_GROUP_ROWS):
            writer.write_table(table.slice(start, _PARQUET_GROUP_ROWS))
            report(0.5 + 0.5 * min(start + _PARQUET_GROUP_ROWS, n_rows) / max(n_rows, 1))


def _arrow_text(col: np.ndarray):
    """An object column as Arrow strings: "" as null, items other than str made text."""
    import pyarrow.compute as pc

    from . import _arrowtext as at

    try:
        text = at.from_cells(col)
    except TypeError:  # numbers or other objects among the cells
        text = at.from_cells(_text_items(col))
    lengths = pc.binary_length(text)
    empty = at.to_numbers(lengths, f"int{lengths.type.bit_width}", null=-1) == 0
    return at.with_nulls(text, empty) if empty.any() else text


def _cast_text(text, kind):
    """``text`` (Arrow strings) as type ``kind``, or None when a cell does not read as one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _arrowtext as at

    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return None
    if pa.types.is_boolean(kind):
        # Arrow reads "1"/"0" and "yes" as booleans too; only what it writes is taken back.
        words = np.array(["true", "false"], dtype=object)
        ok = pc.is_in(text, value_set=at.from_cells(words))
        if not pc.all(pc.or_kleene(ok, pc.is_null(text))).as_py():
            return None
    try:
        return pc.cast(text, kind)
    except (pa.ArrowException, NotImplementedError):
        return None


# --------------------------------------------------------------------------
# Text files (CSV, TSV, TXT)


def _read_text(path: str, name: str, ext: str, report: _Reporter, arrow: bool = False) -> Table:
    size = os.path.getsize(path)
    if size == 0:
        raise FileFormatError(f"{name} is empty.")
    encoding, warnings, odd_lines = _detect_encoding(path, name, size, report)
    if odd_lines:
        # A UTF-8 file with a few lines in another encoding: those lines are
        # decoded on their own into a UTF-8 copy, which the usual readers read.
        with _transcoded(path, encoding, odd_lines) as copy:
            table = _read_text_as(copy, name, ext, encoding, os.path.getsize(copy), report, arrow)
    else:
        table = _read_text_as(path, name, ext, encoding, size, report, arrow)
    table.warnings = warnings
    return table


def _read_text_as(
    path: str, name: str, ext: str, encoding: str, size: int, report: _Reporter, arrow: bool
) -> Table:
    sample = _text_sample(path, encoding)
    if not sample.strip(" \r\n\ufeff"):
        # Tabs count: a line of them is a TSV header of blank names.
        raise FileFormatError(f"{name} is empty.")
    if _looks_binary(sample):
        raise FileFormatError(f"{name} does not look like a text table.")
    delimiter = "\t" if ext == ".tsv" else _sniff_delimiter(sample, complete=size <= _SNIFF_BYTES)
    try:
        # A million empty columns (21 MB) took 11 GB in the readers.
        _guards.check_text_width(path, name, delimiter)
    except _guards.GuardError as exc:
        raise FileFormatError(str(exc)) from None
    meta = {
        "format": "tsv" if delimiter == "\t" and ext != ".csv" else "csv",
        "delimiter": delimiter,
        "encoding": encoding,
        "dialect": _dialect_of(path, sample, delimiter, encoding, size),
    }
    cols = _read_csv_arrow(path, encoding, delimiter, size, sample, report, keep_arrow=arrow)
    if cols is not None and cols and not isinstance(cols[0], np.ndarray):
        return _arrow_table(name, cols, meta)
    if cols is None:
        import pandas as pd

        try:
            cols = _read_csv_pandas(path, encoding, delimiter, size, report)
        except (ReadCancelled, FileFormatError):
            raise
        except pd.errors.EmptyDataError:
            raise FileFormatError(f"{name} is empty.") from None
        except Exception:  # noqa: BLE001 - ragged rows or odd quoting: the csv module copes
            cols = _read_csv_module(path, name, encoding, delimiter, size, report)
    if not cols or len(cols[0]) == 0:
        raise FileFormatError(f"{name} is empty.")
    columns = ["" if v is None else v for v in (c[0] for c in cols)]
    body = _trim_trailing_empty_rows([c[1:] for c in cols])
    return Table(columns=columns, cells=body, meta=meta)


def _dialect_of(path: str, sample: str, delimiter: str, encoding: str, size: int) -> Dialect:
    """The file's :class:`Dialect`, from the start of the file (the sample)."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    rows, _clean = _split_sample(sample, delimiter, complete=size <= _SNIFF_BYTES)
    return Dialect(
        delimiter=delimiter,
        decimal=detect_decimal(rows[:2000]),
        quote_all=detect_quoting(sample, delimiter),
        line_ending=detect_line_ending(head),
        encoding=encoding,
    )


def _arrow_table(name: str, cols: list, meta: dict) -> Table:
    """The Table of Arrow columns (header row included): ``_read_text``'s ending for them."""
    import pyarrow.compute as pc

    from . import _arrowtext as at

    if not len(cols[0]):
        raise FileFormatError(f"{name} is empty.")
    columns = [c[0].as_py() or "" for c in cols]
    body = [c.slice(1) for c in cols]
    # Rows at the end whose cells are all empty are dropped, as for the other readers.
    filled = np.zeros(len(body[0]), dtype=bool)
    for c in body:
        filled |= at.to_bools(pc.is_valid(c))
    end = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    return Table(columns=columns, cells=[c.slice(0, end) for c in body], meta=meta)


#: Lines of a mostly-UTF-8 file that are not UTF-8 are read in this encoding
#: (Latin-1 bytes are the usual stray: a row pasted from an old program).
_STRAY_ENCODING = "cp1252"
#: Legacy encodings a tie among the detector's best guesses is settled for,
#: in order: on a short file several codecs read equally well (Korean
#: cp949 and Chinese GBK; Western and Central European), and the detector's
#: own order among equals is arbitrary.
_PREFERRED_LEGACY = ("cp1252", "gb18030", "cp932", "cp949", "big5", "latin_1")
_ENCODING_NAMES = {
    "cp1252": "Windows-1252 (Western European)",
    "cp932": "Shift-JIS (Japanese)",
    "shift_jis": "Shift-JIS (Japanese)",
    "gb18030": "GBK/GB18030 (Chinese)",
    "gbk": "GBK (Chinese)",
    "big5": "Big5 (Chinese)",
    "euc_kr": "EUC-KR (Korean)",
    "cp949": "EUC-KR (Korean)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "latin_1": "Latin-1",
    "latin-1": "Latin-1",
}
_DETECT_BYTES = 1 << 20
_CHAOS_MARGIN = 0.1


def _encoding_name(encoding: str) -> str:
    key = codecs.lookup(encoding).name.replace("-", "_")
    return _ENCODING_NAMES.get(key, _ENCODING_NAMES.get(encoding, encoding))


def _detect_encoding(path: str, name: str, size: int, report: _Reporter) -> tuple[str, list[str], list[int]]:
    """Pick the file's encoding: its BOM, its NUL bytes, UTF-8, or charset-normalizer's guess.

    The whole file is validated in blocks (bounded memory), so a file whose
    first accented letter comes late is not misread.  A UTF-8 file with a
    few lines that are not UTF-8 stays UTF-8; those lines are read as
    Windows-1252 and named in a warning.

    Returns
    -------
    encoding : str
        The codec to read the file with.
    warnings : list of str
        Sentences for the user (lines read otherwise, an encoding guessed
        among equals).
    odd_lines : list of int
        1-based numbers of the lines that are not in ``encoding`` (UTF-8
        files only); empty otherwise.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, enc in boms:
        if head.startswith(bom):
            candidates = [enc]
            break
    else:
        half = len(head) // 2
        even_nul, odd_nul = head[0 : 2 * half : 2].count(0), head[1 : 2 * half : 2].count(0)
        if half and odd_nul > 0.3 * half and even_nul < 0.05 * half:
            candidates = ["utf-16-le"]
        elif half and even_nul > 0.3 * half and odd_nul < 0.05 * half:
            candidates = ["utf-16-be"]
        else:
            candidates = ["utf-8"]
    enc = candidates[0]
    if _validates(path, enc, size, report):
        return enc, [], []
    if not enc.startswith("utf-8"):
        raise FileFormatError(f"{name} does not look like a text table (it is not valid {enc}).")
    if _has_nul(path):
        raise FileFormatError(f"{name} does not look like a text table.")
    utf8_lines, odd = _utf8_lines(path)
    if utf8_lines > len(odd):
        shown = ", ".join(str(n) for n in odd[:10]) + (f" and {len(odd) - 10:,} more" if len(odd) > 10 else "")
        word = "line" if len(odd) == 1 else "lines"
        return enc, [
            f"{name} is UTF-8 except {word} {shown}, which {'was' if len(odd) == 1 else 'were'} read "
            f"as {_encoding_name(_STRAY_ENCODING)}; check {'its' if len(odd) == 1 else 'their'} accents."
        ], odd
    legacy, warning = _guess_legacy(path, name, size, report)
    return legacy, [warning] if warning else [], []


def _has_nul(path: str) -> bool:
    with open(path, "rb") as f:
        while block := f.read(_IO_BLOCK):
            if b"\x00" in block:
                return True
    return False


def _utf8_lines(path: str) -> tuple[int, list[int]]:
    """Lines with non-ASCII text that is valid UTF-8, and the numbers of those that are not UTF-8."""
    good, odd = 0, []
    number = 0
    with open(path, "rb") as f:
        for line in f:
            number += 1
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                good += 1
            except UnicodeDecodeError as exc:
                # The file's last line may end mid-character (a truncated file).
                if exc.reason == "unexpected end of data" and not line.endswith(b"\n"):
                    good += 1
                else:
                    odd.append(number)
    return good, odd


def _guess_legacy(path: str, name: str, size: int, report: _Reporter) -> tuple[str, str | None]:
    """The encoding charset-normalizer finds for a file that is not UTF-8, and a warning if it is a guess.

    Several encodings often read a short file equally well; then Windows-1252
    is chosen when it is among them (the usual legacy encoding of such
    tables), and when the others would give other letters the user is told.
    """
    import charset_normalizer

    with open(path, "rb") as f:
        data = f.read(_DETECT_BYTES)
    if len(data) == _DETECT_BYTES and b"\n" in data:
        data = data[: data.rfind(b"\n") + 1]  # whole lines: no character cut in two
    matches = list(charset_normalizer.from_bytes(data))
    if matches:
        best = matches[0]
        tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        # Close seconds count as ties for the preference: the detector's
        # measures move by a few hundredths with the content (a file we
        # wrote, with two more columns, must read in the same encoding).
        near = (
            tied
            if _is_cjk(best.encoding)
            else [m for m in matches if m.chaos <= best.chaos + _CHAOS_MARGIN and not _is_cjk(m.encoding)]
        )
        names = [e for m in near for e in m.could_be_from_charset]
        chosen = next((e for e in _PREFERRED_LEGACY if e in names), None)
        if chosen is None and best.coherence == 0:
            # No language recognised and no usual codec among the best:
            # Western European, the usual guess, rather than an exotic one.
            chosen = "cp1252" if _decodes_as(data, "cp1252") is not None else "latin-1"
        chosen = chosen or best.encoding
        candidates = [chosen] + [m.encoding for m in matches if m.encoding != chosen]
    else:
        tied, candidates = [], []
    for enc in [*candidates[:3], "cp1252", "latin-1"]:
        if not _validates(path, enc, size, report):
            continue
        text = data.decode(enc, errors="replace")
        others = {
            e for m in tied for e in m.could_be_from_charset
            if e != enc and _decodes_as(data, e) not in (None, text)
        }
        if enc == "latin-1" or others or not matches:
            return enc, (
                f"{name} is not UTF-8 and was read as {_encoding_name(enc)}, a guess; "
                "if its letters look wrong, save it as UTF-8 and open it again."
            )
        return enc, None
    raise FileFormatError(f"{name} does not look like a text table.")  # pragma: no cover - latin-1 reads anything


def _is_cjk(encoding: str) -> bool:
    """Whether ``encoding`` is a multi-byte Chinese, Japanese or Korean one (it can write 中, あ or 한)."""
    return any(_encodes(ch, encoding) for ch in "中あ한")


def _decodes_as(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


@contextlib.contextmanager
def _transcoded(path: str, encoding: str, odd_lines: list[int]):
    """A temporary UTF-8 copy of a UTF-8 file whose ``odd_lines`` are decoded as Windows-1252."""
    odd = set(odd_lines)
    fd, copy = tempfile.mkstemp(prefix="emgui-", suffix=".csv")
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            for number, line in enumerate(src, 1):
                if number in odd:
                    try:
                        line = line.decode(_STRAY_ENCODING).encode("utf-8")
                    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
                        line = line.decode("latin-1").encode("utf-8")
                dst.write(line)
        yield copy
    finally:
        with contextlib.suppress(OSError):
            os.unlink(copy)


def _validates(path: str, encoding: str, size: int, report: _Reporter) -> bool:
    """True if the file decodes; a sequence cut off at the very end is forgiven.

    NUL bytes in an 8-bit or UTF-8 file mean binary data, never text.
    """
    wide = encoding.startswith(("utf-16", "utf-32"))
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    # ASCII is valid in every 8-bit candidate: a block of it (the usual
    # case) needs no decoding, only the check, which is several times faster.
    ascii_ok = not wide and encoding in ("utf-8", "utf-8-sig", "cp1252", "latin-1")
    utf8 = encoding in ("utf-8", "utf-8-sig")
    done = 0
    with open(path, "rb") as f:
        while block := f.read(_IO_BLOCK):
            if not wide and b"\x00" in block:
                return False
            try:
                if not (ascii_ok and block.isascii() and not decoder.getstate()[0]):
                    decoder.decode(_non_ascii_runs(block) if utf8 else block)
            except UnicodeDecodeError:
                return False
            done += len(block)
            report(0.1 * done / size)
    with contextlib.suppress(UnicodeDecodeError):
        # A truncated file ends mid-character; errors="replace" on read covers it.
        decoder.decode(b"", final=True)
    return True


def _non_ascii_runs(block: bytes) -> bytes:
    """What UTF-8 decoding needs to see of ``block``: its runs of non-ASCII bytes, apart.

    A UTF-8 character of several bytes has no byte below 0x80, and an ASCII
    byte is a character of its own: the bytes are valid UTF-8 exactly when
    each longest run of bytes from 0x80 up is, followed by what follows it.
    So the runs are kept in order, each followed by one ASCII byte
    (``\\n``, as the byte after it in the block is ASCII) except a run that
    ends the block (a character may go on in the next block), with an ASCII
    byte first when the block does not start with a run (a character cut at
    the previous block's end must not go on).  Decoding that is decoding the
    block, without making its text: a 41 MB file of names with a few
    accents checked in ~9 ms of decoding instead of ~20 (issue 14).
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    high = np.flatnonzero(arr >= 0x80)
    if not len(high):
        return b"\n"
    values = arr[high]
    # Where, among the non-ASCII bytes, a run ends: before a gap, and the
    # last one unless it ends the block.
    ends = np.flatnonzero(np.diff(high) > 1) + 1
    if high[-1] != len(arr) - 1:
        ends = np.append(ends, len(values))
    out = np.insert(values, ends, 10)
    return (b"" if high[0] == 0 else b"\n") + out.tobytes()


def _text_sample(path: str, encoding: str) -> str:
    with open(path, "rb") as f:
        raw = f.read(_SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(raw, final=False)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _looks_binary(sample: str) -> bool:
    """NUL, or many control characters: random bytes have about 24 %, text none."""
    if "\x00" in sample:
        return True
    return len(sample) >= 256 and len(_CONTROL_RE.findall(sample)) > 0.1 * len(sample)


def _sniff_delimiter(sample: str, *, complete: bool) -> str:
    """Choose among ``, ; TAB |`` the delimiter giving the most regular rows.

    The sample is split with the csv module for each candidate, so quoted
    delimiters and newlines do not count.  Score, in order: the quoting is
    well formed for that delimiter (``"a;b",c`` is, for a comma, and is not,
    for a semicolon); the share of rows having the most common field count;
    whether the header has that count; the count itself; ties go to the
    earlier candidate.
    """
    best, best_score = ",", None
    for order, delim in enumerate(DELIMITERS):
        rows, clean = _split_sample(sample, delim, complete=complete)
        counts = [len(r) for r in rows[:500]]
        if not counts:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        if mode < 2:
            continue
        score = (clean, counts.count(mode) / len(counts), counts[0] == mode, mode, -order)
        if best_score is None or score > best_score:
            best, best_score = delim, score
    return best


def _split_sample(sample: str, delim: str, *, complete: bool) -> tuple[list[list[str]], bool]:
    """Rows of the sample, and whether it parsed strictly (well-formed quoting)."""
    rows: list[list[str]] = []
    clean = True
    try:
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delim, strict=True):
            if row:
                rows.append(row)
    except csv.Error:
        loose = _loose_rows(sample, delim)
        # The sample may merely end inside a quoted field; anything else is
        # quoting that does not fit this delimiter.
        if complete or len(loose) > len(rows) + 1:
            clean = False
            rows = loose
    if not complete and len(rows) > 1:
        rows = rows[:-1]  # the sample probably cut the last record short
    return rows, clean


def _loose_rows(sample: str, delim: str) -> list[list[str]]:
    rows: list[list[str]] = []
    with contextlib.suppress(csv.Error):
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delim):
            if row:
                rows.append(row)
    return rows


# Encodings whose bytes never hide a '"' inside another character (the
# quote count below is then exact), read by Arrow's CSV parser.
_ARROW_ENCODINGS = {"utf-8": "utf8", "utf-8-sig": "utf8", "cp1252": "cp1252", "latin-1": "latin-1"}
# A column whose first cells repeat this much is read through a dictionary:
# one Python str per distinct value instead of one per cell (a height or a
# gender column: ~50 MB less per million rows, and faster).
_DEDUP_SAMPLE = DEDUP_SAMPLE
_DEDUP_SHARE = DEDUP_SHARE


def _first_row_width(sample: str, delimiter: str) -> int | None:
    """Fields in the sample's first record (None if the sample cannot tell)."""
    with contextlib.suppress(csv.Error):
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
            if row:
                return len(row)
    return None


# More columns than this and a CSV is read in blocks of up to _WIDE_BLOCK bytes.
_WIDE_COLUMNS = 1000
_WIDE_BLOCK = 64 * 1024**2

_BLANKISH_LINE = re.compile(rb"[\r\n][ \t]+(?:[\r\n]|\Z)")
_BLANKISH_FIRST = re.compile(rb"[ \t]+(?:[\r\n]|\Z)")
_BLANKISH_STARTS = (b"\n ", b"\n\t", b"\r ", b"\r\t")
# More quotes than this and the file is left to pandas (the scan below is a
# Python loop over the quotes).
_MAX_QUOTES_SCANNED = 200_000


def _arrow_scan(path: str, delimiter: str, width: int) -> int | None:
    """Whether Arrow would read the file as pandas' C engine does (a byte scan).

    Returns None when it might not, else the number of quoted fields that
    hold a line break (0: every line break ends a record, so Arrow may split
    the file at any of them; see :func:`_read_csv_arrow`).

    Three things Arrow reads differently are looked for, and one it gets
    wrong.  A line of nothing but spaces and tabs: pandas skips it as blank,
    Arrow reads it as a row.  A quoted field still open at the end of the
    file: Arrow reads it silently, pandas refuses it and the csv module has
    the last word.  A carriage return followed by a delimiter, which pandas
    misreads.  And Arrow's own slip: a CRLF inside a quoted field loses its
    LF when it straddles two of Arrow's blocks.  Each (or a false alarm,
    such as a blank-looking line inside a quoted field) sends the file down
    the pandas path.  Only ASCII-compatible encodings come here, so a byte
    ``"`` is always a quote character.  ``width`` is the number of fields in
    the first row: with more than one, a blank-looking line has the wrong
    number of fields and Arrow refuses the file by itself.
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = len(codecs.BOM_UTF8) if data[:3] == codecs.BOM_UTF8 else 0
        # Searches for two bytes starting with a newline are slow (~30 ms per
        # 20 MB: newlines are everywhere), so they run only when they can hit.
        has_cr = data.find(b"\r") >= 0
        starts = _BLANKISH_STARTS if has_cr else _BLANKISH_STARTS[:2]
        if width == 1 and (
            _BLANKISH_FIRST.match(data, start)
            or (any(data.find(m) >= 0 for m in starts) and _BLANKISH_LINE.search(data))
        ):
            return None
        # pandas misreads a lone CR followed by a delimiter ("\r," at the
        # start is "no columns"); such files are rare enough to leave to it.
        if has_cr and data.find(b"\r" + delimiter.encode()) >= 0:
            return None
        # The quoting state at the end of the file, from the quotes alone: a
        # quote opens a field only where a field starts; inside one, a pair
        # is an escaped quote and a single one closes it.
        boundary = (delimiter.encode(), b"\n", b"\r")
        quoted = False
        opened = seen = breaks = 0
        pos = data.find(b'"', start)
        while pos >= 0:
            seen += 1
            if seen > _MAX_QUOTES_SCANNED:
                return None
            if quoted:
                if data[pos + 1 : pos + 2] == b'"':
                    pos = data.find(b'"', pos + 2)
                    continue
                quoted = False
                if data.find(b"\n", opened, pos) >= 0 or (has_cr and data.find(b"\r", opened, pos) >= 0):
                    # Arrow (up to 26 at least) drops the LF of a quoted CRLF
                    # that straddles two of its blocks.
                    if has_cr and data.find(b"\r\n", opened, pos) >= 0:
                        return None
                    breaks += 1
            elif pos == start or data[pos - 1 : pos] in boundary:
                quoted, opened = True, pos
            pos = data.find(b'"', pos + 1)
        return None if quoted else breaks


def _read_csv_arrow(
    path: str,
    encoding: str,
    delimiter: str,
    size: int,
    sample: str,
    report: _Reporter,
    *,
    keep_arrow: bool = False,
) -> list | None:
    """Parse with Arrow's multi-threaded CSV reader, in blocks; the fast path.

    Returns what :func:`_read_csv_pandas` returns (one object column per
    field, header row included, empty fields as None, our formula escaping
    undone; with ``keep_arrow``, Arrow string arrays with nulls instead),
    or None when Arrow declines the file: an encoding or quoting it
    might read differently, ragged rows, a line of blanks (pandas skips it,
    Arrow counts it as a row), anything it fails on.  The pandas and csv
    module readers then take over, so what a file reads as never depends on
    which reader ran (``tests/core/test_fast_paths.py`` checks that).
    """
    arrow_encoding = _ARROW_ENCODINGS.get(encoding)
    # pandas drops a second byte-order mark after the first; Arrow keeps it.
    if arrow_encoding is None or sample.startswith("\ufeff"):
        return None
    width = _first_row_width(sample, delimiter)
    breaks = _arrow_scan(path, delimiter, width) if width else None
    if breaks is None:
        return None
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    read_options = pacsv.ReadOptions(
        autogenerate_column_names=True,
        # A wide file is read in blocks of many rows: each block costs a few
        # kernel calls per column (20,000 columns in 1 MB blocks: 9 s).
        block_size=(
            min(max(size, _IO_BLOCK), _WIDE_BLOCK)
            if width > _WIDE_COLUMNS
            else min(max(size // 8, _IO_BLOCK), 4 * _IO_BLOCK)
        ),
        encoding=arrow_encoding,
    )
    # Arrow columns kept, a batch caller asking for it (the command line:
    # nobody to tell of progress or to cancel) and a core to spare: the whole file in
    # one call, its blocks parsed side by side in Arrow's threads (the batch
    # reader parses them in turn, with progress and cancel between).  Only where no
    # quoted field holds a line break: Arrow then splits blocks at any line
    # break, while with line breaks in values it must find the quotes first,
    # in a pass of its own that cost more CPU than the threads saved.  Not
    # for a wide file either: it is one block or a few, and Arrow's table
    # reader converts each column of each block as a task of its own (20,000
    # columns of 50 rows: 0.3 s more CPU than the batch reader).
    whole = (
        keep_arrow and report.parallel and breaks == 0 and width <= _WIDE_COLUMNS and _parallel.cores() > 1
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=not whole,
        ignore_empty_lines=True,
    )
    convert_options = pacsv.ConvertOptions(
        column_types={f"f{i}": pa.string() for i in range(width)},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    pieces: list[list[np.ndarray]] = []
    dedup: list[bool] | None = None
    done = 0.0
    options = dict(
        read_options=read_options,
        parse_options=parse_options,
        convert_options=convert_options,
        # malloc, not Arrow's default mimalloc, which keeps ~50 MB of freed
        # blocks per million rows for itself after the read.
        memory_pool=pa.system_memory_pool(),
    )
    try:
        if whole:
            return _read_csv_whole(path, options)
        import pyarrow.compute as pc

        with pacsv.open_csv(path, **options) as reader:
            if not all(pa.types.is_string(f.type) for f in reader.schema):
                return None  # the sample misjudged the width: a column was typed
            for batch in reader:
                columns = batch.columns
                if dedup is None:
                    dedup = [
                        pc.count_distinct(c.slice(0, _DEDUP_SAMPLE)).as_py()
                        <= _DEDUP_SHARE * min(len(c), _DEDUP_SAMPLE)
                        for c in columns
                    ]
                if keep_arrow:
                    pieces.append([_arrow_clean(c) for c in columns])
                else:
                    pieces.append([_arrow_cells(c, d) for c, d in zip(columns, dedup, strict=True)])
                # Text plus one delimiter or newline per cell: about the bytes
                # read (the buffers' size: no kernel call per column).
                done += batch.nbytes
                report(0.1 + 0.85 * min(done / size, 1.0))
    except (pa.ArrowException, UnicodeError):
        return None
    if not pieces:
        return []
    if len(pieces) == 1:
        return pieces[0]
    if keep_arrow:
        return [pa.concat_arrays(parts) for parts in zip(*pieces, strict=True)]
    # Column by column, each one's pieces let go as it is joined: less at once.
    joined = []
    for j in range(len(pieces[0])):
        joined.append(np.concatenate([p[j] for p in pieces]))
        for p in pieces:
            p[j] = None
    return joined


def _read_csv_whole(path: str, options: dict) -> list | None:
    """:func:`_read_csv_arrow` with ``keep_arrow`` in one call of Arrow's threaded reader.

    The same cells as the batch reader: a column's blocks cleaned
    (:func:`_arrow_clean`, whose kernels release the interpreter lock) and
    joined, as the batch reader's are, beside the next column in
    :func:`_parallel.ordered_map`.  Block by block, then joined: at 30M rows
    joining first took 0.25 GB more at the peak, and longer.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def imports() -> None:
        import pyarrow.compute  # noqa: F401 - the cleaning's kernels

        from . import _arrowtext  # noqa: F401

    # pyarrow.compute takes ~20 ms to import: done while Arrow reads.
    table = _parallel.meanwhile(lambda: pacsv.read_csv(path, **options), imports)
    if not all(pa.types.is_string(f.type) for f in table.schema):
        return None  # the sample misjudged the width: a column was typed
    if not table.num_rows:
        return []

    def cleaned(column):
        parts = [_arrow_clean(chunk) for chunk in column.chunks]
        return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)

    # Short columns are cleaned in turn: their cleaning is more Python than
    # kernels, and two threads would only wait for each other's interpreter
    # lock (20,000 columns of 50 rows: 1.6 s in turn, 2.2 s side by side).
    side_by_side = table.num_rows >= _CSV_CHUNK_ROWS
    return list((_parallel.ordered_map if side_by_side else map)(cleaned, table.columns))


def _arrow_clean(column):
    """An Arrow string array as the cells read: empty -> null, formula escaping undone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _arrowtext as at

    lengths = pc.binary_length(column)
    empty = at.to_numbers(lengths, f"int{lengths.type.bit_width}") == 0
    if empty.any():
        # The same buffers with a validity bitmap: no copy of the text.
        column = at.with_nulls(column, empty)
    escaped = np.flatnonzero(at.to_bools(pc.starts_with(column, pattern="'")))
    if len(escaped):
        texts = np.empty(len(escaped), dtype=object)
        texts[:] = [_strip_escape(column[int(i)].as_py()) for i in escaped]
        mask = np.zeros(len(column), dtype=bool)
        mask[escaped] = True
        column = pc.replace_with_mask(column, at.from_bools(mask), at.from_cells(texts))
    return column if isinstance(column, pa.Array) else column.combine_chunks()


def _arrow_cells(column, dedup: bool, *, clean: bool = True) -> np.ndarray:
    """An Arrow string array -> object array of str/None, cleaned like pandas' cells.

    ``clean`` False: the array is clean already (nulls, escapes undone).
    """
    import pyarrow.compute as pc

    from . import _arrowtext as at

    if dedup:
        encoded = column.dictionary_encode()
        words = at.to_cells(encoded.dictionary)
        if clean:
            words = _clean_cells(words)
        width = encoded.indices.type.bit_width
        words = np.append(words, None)  # index -1 (a null) picks it
        return words[at.to_numbers(encoded.indices, f"int{width}", null=-1)]
    cells = at.to_cells(column)
    if not clean:
        return cells
    # _clean_cells in Arrow's kernels: no Python pass over a million cells.
    lengths = pc.binary_length(column)
    cells[at.to_numbers(lengths, f"int{lengths.type.bit_width}", null=0) == 0] = None
    for i in np.flatnonzero(at.to_bools(pc.starts_with(column, pattern="'"))):
        cells[i] = _strip_escape(cells[i])
    return cells


def _read_csv_pandas(
    path: str, encoding: str, delimiter: str, size: int, report: _Reporter
) -> list[np.ndarray]:
    """Parse with pandas' C engine in chunks; raises on ragged rows.

    Returns one object column per field, header row included, with empty
    fields as None and our formula escaping undone.
    """
    import pandas as pd

    pieces: list[list[np.ndarray]] = []
    with open(path, "rb") as raw:
        reader = pd.read_csv(
            raw,
            sep=delimiter,
            header=None,
            # object, not str: pandas 3 would build Arrow strings only for us
            # to turn them back into Python objects (twice the time).
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            engine="c",
            encoding=encoding,
            encoding_errors="replace",
            quotechar='"',
            skip_blank_lines=True,
            chunksize=_CSV_CHUNK_ROWS,
        )
        with reader:
            for chunk in reader:
                pieces.append([_clean_text_column(chunk[c]) for c in chunk.columns])
                report(0.1 + 0.85 * raw.tell() / size)
    if not pieces:
        return []
    if len(pieces) == 1:
        return pieces[0]
    return [np.concatenate(parts) for parts in zip(*pieces, strict=True)]


def _clean_text_column(series) -> np.ndarray:
    """A pandas column of str -> object array with "" as None and one apostrophe undone."""
    return _clean_cells(series.to_numpy(dtype=object))


def _clean_cells(arr: np.ndarray) -> np.ndarray:
    """Object array of str -> "" as None and one apostrophe undone (in place if writable)."""
    if not arr.flags.writeable:  # copy-on-write pandas may hand out a read-only view
        arr = arr.copy()
    arr[arr == ""] = None
    # Escaped cells are rare: one joined string (a C pass) tells whether any
    # cell starts with "'" before a Python loop looks for which.
    if _any_starts_with(arr, "'"):
        for i in [i for i, v in enumerate(arr) if v and v[0] == "'"]:
            arr[i] = _strip_escape(arr[i])
    return arr


def _joined(col: np.ndarray) -> str:
    """The non-empty cells of a column of ``str``/None joined with newlines.

    Raises TypeError when a non-empty item is not a ``str``.
    """
    return "\n".join(filter(None, col))


def _any_starts_with(col: np.ndarray, chars: str) -> bool:
    """Whether some ``str`` cell starts with one of ``chars`` (a superset test).

    True may be a false alarm (a cell holding a newline followed by one of
    ``chars``); False is exact.  Raises TypeError on items that are not text.
    """
    text = _joined(col)
    if not text:
        return False
    return text[0] in chars or any(ch in text and "\n" + ch in text for ch in chars)


def _read_csv_module(
    path: str, name: str, encoding: str, delimiter: str, size: int, report: _Reporter
) -> list[np.ndarray]:
    """Slower fallback that accepts ragged rows and unbalanced quotes.

    Short rows are padded with None; extra fields open new columns with a
    blank header, so no data is ever dropped.
    """
    cols: list[list[str | None]] = []
    n = 0
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        with open(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            for row in csv.reader(text, delimiter=delimiter, strict=False):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line, as pandas skips them
                if len(row) > len(cols):
                    if len(row) > _guards.MAX_COLUMNS:
                        raise FileFormatError(
                            f"{name} has a row of {len(row):,} fields; "
                            f"at most {_guards.MAX_COLUMNS:,} columns can be read."
                        )
                    cols.extend([None] * n for _ in range(len(row) - len(cols)))
                for j, col in enumerate(cols):
                    v = row[j] if j < len(row) else ""
                    col.append((_strip_escape(v) if v[0] == "'" else v) if v else None)
                n += 1
                if n % _CSV_CHUNK_ROWS == 0:
                    report(0.1 + 0.85 * raw.tell() / size)
    except csv.Error as exc:
        raise FileFormatError(f"{name} is not a readable table: {exc}.") from None
    finally:
        csv.field_size_limit(old_limit)
    return [_object_array(c) for c in cols]


def _object_array(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


# --------------------------------------------------------------------------
# Workbooks (XLSX, XLSM, ODS)


def _read_workbook(path: str, name: str, ext: str, sheet: str | None, report: _Reporter) -> Table:
    kind = "an OpenDocument spreadsheet" if ext == ".ods" else "an Excel workbook"
    has_error_cells = _check_zip(path, name, kind, report)
    try:
        # The reader allocates a sheet's whole range and aborts the process
        # when it cannot: its cost is checked first.
        _guards.check_workbook(path, name, ext)
    except _guards.GuardError as exc:
        raise FileFormatError(str(exc)) from None
    report(0.3)
    import python_calamine

    try:
        with python_calamine.CalamineWorkbook.from_path(path) as book:
            metas = list(book.sheets_metadata)
            names = [m.name for m in metas]
            sheet_name = _choose_sheet(name, metas, sheet)
            if has_error_cells and ext != ".ods":
                # calamine reads error cells and formulas without a cached
                # value as "", which would look like a gap to fill; openpyxl
                # keeps "#N/A" and the formula's text.  Rare, so the slow
                # path is fine.
                with contextlib.closing(_openpyxl_rows(path, sheet_name)) as rows:
                    cols = _collect_rows(rows, None, report)
            else:
                data = book.get_sheet_by_name(sheet_name)
                cols = _collect_rows(data.iter_rows(), data.height, report)
    except (ReadCancelled, FileFormatError):
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means a damaged file
        detail = str(exc).strip().rstrip(".") or type(exc).__name__
        raise FileFormatError(f"{name} could not be read as {kind} ({detail}).") from None
    if not cols:
        raise FileFormatError(f"{name} is empty: sheet {sheet_name!r} has no cells.")
    columns = ["" if c[0] is None else c[0] for c in cols]
    body = _trim_trailing_empty_rows([_object_array(c[1:]) for c in cols])
    meta = {"format": "ods" if ext == ".ods" else "xlsx", "sheet": sheet_name, "sheets": names}
    return Table(columns=columns, cells=body, meta=meta)


def _choose_sheet(name: str, metas: list, sheet: str | None) -> str:
    names = [m.name for m in metas]
    if sheet is not None:
        if sheet in names:
            return sheet
        listed = ", ".join(repr(n) for n in names) or "none"
        raise FileFormatError(f"{name} has no sheet named {sheet!r}; its sheets are {listed}.")
    worksheets = [m for m in metas if str(m.typ).endswith("WorkSheet")]
    visible = [m for m in worksheets if str(m.visible).endswith(".Visible")]
    chosen = (visible or worksheets or metas or [None])[0]
    if chosen is None:
        raise FileFormatError(f"{name} is empty: it has no sheets.")
    return chosen.name


def _collect_rows(rows, height: int | None, report: _Reporter) -> list[list]:
    """Rows of cell values -> columns of text, header first.

    Leading empty rows are skipped so the first non-empty row is the header;
    leading and trailing columns with no value at all are dropped.  The rows
    are taken in blocks and turned into text a column at a time
    (:func:`_column_texts`); ragged rows (openpyxl's) are padded with None.
    """
    import itertools

    blocks: list[list] = []
    n = 0
    width = 0
    it = iter(rows)
    while block := list(itertools.islice(it, 65_536)):
        blocks.append(block)
        n += len(block)
        width = max(width, max(map(len, block)))
        report(0.35 + 0.5 * (n / height if height else 0.5))
    if not n or not width:
        return []
    grid = np.empty((n, width), dtype=object)
    at = 0
    for block in blocks:
        if all(len(r) == width for r in block):
            grid[at : at + len(block)] = block
        else:
            for i, r in enumerate(block):
                grid[at + i, : len(r)] = r
        at += len(block)
    del blocks
    cols = [_column_texts(grid[:, j]) for j in range(width)]
    del grid
    present = [c != None for c in cols]  # noqa: E711 - elementwise
    filled_rows = np.logical_or.reduce(present)
    if not filled_rows.any():
        return []
    first = int(np.argmax(filled_rows))
    used = [j for j, p in enumerate(present) if p.any()]
    return [cols[j][first:] for j in range(used[0], used[-1] + 1)]


def _column_texts(col: np.ndarray) -> np.ndarray:
    """:func:`_cell_text` of every cell of an object column, whole-column where it can."""
    out = col.copy()
    kinds = np.frompyfunc(type, 1, 1)(col)
    floats = kinds == float  # noqa: E721 - elementwise, over an array of types
    if floats.any():
        x = col[floats].astype(np.float64)
        integral = (x == np.floor(x)) & (np.abs(x) < 1e17)
        text = np.empty(len(x), dtype=object)
        # Integers as their digits (numpy's int-to-text, in C); the rest
        # formatted once per distinct value.
        text[integral] = x[integral].astype(np.int64).astype(str).astype(object)
        rest = ~integral
        if rest.any():
            uniques, inverse = np.unique(x[rest], return_inverse=True)
            text[rest] = np.array([_format_number(float(u)) for u in uniques], dtype=object)[inverse.ravel()]
        out[floats] = text
    other = ~floats & (kinds != str) & (kinds != type(None))  # noqa: E721 - elementwise
    for i in np.flatnonzero(other):
        out[i] = _cell_text(col[i])
    out[out == ""] = None
    return out


def _cell_text(v) -> str | None:
    """One spreadsheet value -> its text, or None for an empty cell."""
    if v is None:
        return None
    t = type(v)
    if t is str:
        return v or None
    if t is float:
        return _format_number(v)
    if t is bool:
        return "TRUE" if v else "FALSE"
    if t is int:
        return str(v)
    if t is _dt.datetime:
        if v.hour == v.minute == v.second == v.microsecond == 0:
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if t is _dt.date or t is _dt.time:
        return v.isoformat()
    if t is _dt.timedelta:
        total = round(v.total_seconds())
        sign = "-" if total < 0 else ""
        hours, rest = divmod(abs(total), 3600)
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return str(v) or None


def _openpyxl_rows(path: str, sheet_name: str) -> Iterator[list]:
    """The sheet's values as openpyxl reads them; a formula with no cached value gives its formula text.

    Two read-only passes side by side: the cached values (what a
    spreadsheet shows) and the formulas.  Where a formula has no value
    (the file was written by a program that does not calculate), its text
    ``"=B2*2"`` stands in: never a blank that would look like a gap to fill.
    """
    import openpyxl

    values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        ws, wf = values[sheet_name], formulas[sheet_name]
        ws.reset_dimensions()  # a stale <dimension> would cut rows off
        wf.reset_dimensions()
        for row, frow in zip(
            ws.iter_rows(values_only=True), wf.iter_rows(values_only=True), strict=False
        ):
            out = []
            for j, v in enumerate(row):
                if (v is None or v == "") and j < len(frow):
                    f = frow[j]
                    if type(f) is str and f.startswith("="):
                        v = f
                    elif f is not None and type(f) is not str:
                        v = _formula_text(f) or v
                # openpyxl leaves OOXML _xHHHH_ escapes in place; calamine decodes them.
                out.append(_ooxml_unescape(v) if type(v) is str and "_x" in v else v)
            yield out
    finally:
        values.close()
        formulas.close()


def _formula_text(f) -> str | None:
    """The text of an openpyxl formula object (array and data-table formulas)."""
    text = getattr(f, "text", None)
    return text if isinstance(text, str) and text.startswith("=") else None


def _ooxml_unescape(text: str) -> str:
    return _OOXML_UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _check_zip(path: str, name: str, kind: str, report: _Reporter) -> bool:
    """Refuse anything but a sound, modest zip of XML without DTDs.

    Every member is decompressed once, in blocks, before any parser sees it:
    this verifies the CRCs (so a member whose header understates its size is
    caught: Python stops at the declared size and the CRC then fails), and
    looks for ``<!DOCTYPE``, which no spreadsheet needs and which carries
    entity-expansion and external-entity attacks.

    Returns
    -------
    bool
        True if some worksheet holds Excel error cells (``t="e"``) or a
        formula without a cached value: calamine reads both as blank, which
        would look like a gap to fill.
    """
    with open(path, "rb") as f:
        magic = f.read(8)
    if not magic:
        raise FileFormatError(f"{name} is empty.")
    if magic.startswith(_OLE_MAGIC) and kind.endswith("workbook"):
        raise FileFormatError(
            f"{name} is password-protected or an old .xls workbook; save it as .xlsx."
        )
    if not magic.startswith(b"PK"):
        raise FileFormatError(f"{name} is not {kind} (it is not a zip archive).")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_zip_sizes(name, infos)
            total = sum(i.file_size for i in infos) or 1
            done = 0
            has_errors = False
            for info in infos:
                if info.is_dir():
                    continue
                lower = info.filename.lower()
                # Any member may be fed to an XML parser (the workbook's
                # relationships name the parts), so all but pictures are checked.
                xml = not lower.endswith(_PICTURE_EXTENSIONS)
                sheet = lower.startswith("xl/worksheets/") and lower.endswith(".xml")
                found = _scan_member(zf, info, xml, sheet, report, done, total)
                if "doctype" in found:
                    raise FileFormatError(
                        f"{name} contains an XML document type declaration, which spreadsheets "
                        "never use and attacks do; it was not read."
                    )
                has_errors |= bool(found & {"error-cell", "bare-formula"})
                done += info.file_size
    except (ReadCancelled, FileFormatError):
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types on damage
        detail = str(exc).strip().rstrip(".") or type(exc).__name__
        raise FileFormatError(f"{name} is damaged and cannot be read ({detail}).") from None
    return has_errors


def _check_zip_sizes(name: str, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_MEMBERS:
        raise FileFormatError(
            f"{name} has {len(infos):,} parts, too many for a spreadsheet; it was not read."
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise FileFormatError(
            f"{name} would expand to {total / 1024**3:.1f} GiB, more than the "
            f"{MAX_TOTAL_UNCOMPRESSED / 1024**3:.1f} GiB allowed; it was not read."
        )
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > MAX_MEMBER_FOR_RATIO and ratio > MAX_COMPRESSION_RATIO:
            raise FileFormatError(
                f"{name} looks like a zip bomb (part {i.filename!r} expands {ratio:,.0f} times); "
                "it was not read."
            )


_DOCTYPE_MARKS = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_ERROR_MARKS = (b't="e"', b"t='e'")
_PICTURE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".emf",
    ".wmf",
    ".svg",
)


# A formula cell with no cached value: "<f>..</f></c>", "<f .../></c>", or
# an empty value after it.  Only these need openpyxl's slower reading.
_BARE_FORMULA_RE = re.compile(rb"(?:</f>|<f [^>]*/>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>")


def _scan_member(zf, info, xml: bool, sheet: bool, report, done: int, total: int) -> set[str]:
    """Decompress one member fully; report a DTD, error cells and formulas without values in it."""
    keep = 64  # overlap between blocks so a mark split across them is found
    tail = b""
    found: set[str] = set()
    read = 0
    with zf.open(info) as member:
        while block := member.read(_IO_BLOCK):
            read += len(block)
            if xml or sheet:
                window = tail + block
                if xml and any(m in window for m in _DOCTYPE_MARKS):
                    return {"doctype"}
                if sheet and any(m in window for m in _ERROR_MARKS):
                    found.add("error-cell")
                if sheet and "bare-formula" not in found and _BARE_FORMULA_RE.search(window):
                    found.add("bare-formula")
                tail = window[-keep:]
            report(0.3 * (done + read) / total)
    return found


# --------------------------------------------------------------------------
# Writing


def _as_text_column(values) -> np.ndarray:
    """Any 1-D column -> object array; numeric arrays become text.

    Object arrays are passed through unscanned (a pass costs ~0.1 s per
    million cells); items that are not str/None are dealt with by
    :func:`_text_items` where a writer meets them.
    """
    if _is_arrow_text(values) or isinstance(values, ColumnBlocks):
        return values
    if type(values).__module__.startswith("pyarrow"):
        # Arrow numbers or dates: items for _text_items (np.asarray would import pandas).
        values = _object_array(values.to_pylist())
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"each column must be 1-D, got shape {arr.shape}")
    if arr.dtype == object:
        return arr
    return _text_items(arr.astype(object))


def _is_arrow_text(values) -> bool:
    """Whether ``values`` is an Arrow string array (without importing pyarrow)."""
    if not type(values).__module__.startswith("pyarrow"):
        return False
    import pyarrow as pa

    return isinstance(values, pa.Array) and (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    )


def _text_items(col: np.ndarray) -> np.ndarray:
    """Items -> str or None: NaN and "" become None, numbers their shortest text."""
    if col.dtype == object and set(map(type, col)) <= _STR_OR_NONE:
        # The usual case (cells as read), in C passes.
        empty = col == ""
        if not empty.any():
            return col
        col = col.copy()
        col[empty] = None
        return col
    out = []
    for v in col:
        if v is None or type(v) is str:
            out.append(v or None)
        elif isinstance(v, float | np.floating):
            out.append(None if v != v else _format_number(float(v)))
        else:
            out.append(str(v) or None)
    return _object_array(out)


_STR_OR_NONE = frozenset({str, type(None)})


def _check_shapes(columns: list[str], cols: list[np.ndarray]) -> int:
    if len(columns) != len(cols):
        raise ValueError(f"{len(columns)} column names but {len(cols)} columns of cells")
    lengths = {len(c) for c in cols}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _check_extras(extras, n_cols: int, n_rows: int, what: str) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for j, values in (extras or {}).items():
        if not 0 <= int(j) < n_cols:
            raise ValueError(f"{what}: column index {j} out of range 0..{n_cols - 1}")
        arr = np.asarray(values, dtype=object)
        if arr.shape != (n_rows,):
            raise ValueError(f"{what}[{j}] has shape {arr.shape}, expected ({n_rows},)")
        out[int(j)] = arr
    return out


def _save_error(name: str, path: str, exc: OSError) -> OSError:
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(
        os.path.dirname(os.path.abspath(path))
    ):
        reason = "its folder does not exist"
    try:
        new = type(exc)(f"Could not save {name}: {reason}.")
    except Exception:  # noqa: BLE001 - an OSError subclass with an odd constructor
        new = OSError(f"Could not save {name}: {reason}.")
    # errno stays on the cause (raise ... from exc); set here, it would
    # replace the message in str() with "[Errno 13] ...".
    return new


def write_json(path, data) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a report, a recovery sidecar).

    ASCII-escaped, so a path that is not valid UTF-8 (surrogate escapes)
    still round-trips.
    """
    import json

    with _atomic_file(os.fspath(path), binary=False) as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


@contextlib.contextmanager
def _atomic_file(path: str, *, binary: bool, encoding: str = "utf-8"):
    """Yield a temporary file beside ``path``; on success it replaces ``path``.

    On any failure (or cancel) the temporary file is removed and ``path``
    is left as it was; on SIGTERM, SIGHUP or SIGINT too, once the program
    has called :func:`emgui.core._guards.install_signal_cleanup`.  A
    ``path`` that is a symlink is written through to its target (the link
    stays, as editors do); a name near the 255-byte limit gets a shortened
    temporary name.
    """
    path = _guards.write_target(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    kwargs = {} if binary else {"encoding": encoding, "newline": ""}
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below on every path
        mode="wb" if binary else "w",
        dir=directory,
        # The random part is 8 characters, then the suffix.
        prefix=_guards.temp_prefix(directory, base, 8 + len(".tmp")),
        suffix=".tmp",
        delete=False,
        **kwargs,
    )
    try:
        with _guards.tracked(tmp.name):
            # The raw file, not the wrapper: its per-call indirection costs
            # about a second per million CSV rows.
            yield tmp.file
            tmp.flush()
            os.fsync(tmp.fileno())
            tmp.close()
            os.chmod(tmp.name, _mode_for(path))
            os.replace(tmp.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        raise
    _fsync_dir(directory)


def _mode_for(path: str) -> int:
    """Keep the replaced file's permissions; a new file gets the umask's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = 0o022
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _csv_safe(col: np.ndarray) -> np.ndarray:
    """Prefix an apostrophe to text cells a spreadsheet would run as formulas.

    The cells are joined into one string (a C pass); only when some cell
    may start with a risky character does a Python loop look for which, and
    only those candidates meet the regexes.  NUL, which no text file may hold
    (the reader takes it for binary data), becomes U+FFFD.
    """
    try:
        text = _joined(col)
    except TypeError:
        col = _text_items(col)  # items that are not text: the slow, careful way
        text = _joined(col)
    out = col
    # "ch in text" first: a search for a rare character is fast, one for a
    # pair starting with the frequent "\n" is not.
    if text and (
        text[0] in _RISKY_FIRST
        or any(ch in text and "\n" + ch in text for ch in _RISKY_FIRST)
    ):
        for i in [i for i, v in enumerate(col) if v and v[0] in _RISKY_FIRST]:
            v = col[i]
            if _RISKY_RE.match(v) and not _CSV_NUMBER_RE.fullmatch(v):
                if out is col:
                    out = col.copy()
                out[i] = "'" + v
    if "\x00" in text:
        out = _object_array([v.replace("\x00", "\ufffd") if v else v for v in out])
    return out


def _write_csv(
    path: str,
    columns: list[str],
    cols: list[np.ndarray],
    n_rows: int,
    dialect: Dialect,
    report: _Reporter,
    block_rows: int | None = None,
) -> None:
    block_rows = block_rows or _CSV_CHUNK_ROWS
    delimiter, eol = dialect.delimiter, dialect.line_ending
    header = _csv_safe(_object_array(columns))
    # Rows holding these get every field quoted.  "\r": Python < 3.13 leaves
    # it unquoted when lines end in "\n", and readers would split the row
    # there.  The other delimiters: quoted, they cannot fool the delimiter
    # detection of whoever reads the file (this module included).
    special = "\r" + ("".join(d for d in DELIMITERS if d != delimiter) if delimiter == "," else "")
    # Arrow joins rows into UTF-8 with "\n": only for files written that way.
    utf8 = codecs.lookup(dialect.encoding).name in ("utf-8", "utf-8-sig") and eol == "\n"
    report(0.05)
    with _atomic_file(path, binary=False, encoding=dialect.encoding) as f:
        quoted = csv.writer(f, delimiter=delimiter, lineterminator=eol, quoting=csv.QUOTE_ALL)
        # One column: quote every field, or a blank cell would be a blank line.
        plain = (
            quoted
            if len(cols) == 1 or dialect.quote_all
            else csv.writer(f, delimiter=delimiter, lineterminator=eol)
        )
        # A leading U+FEFF would read as a byte-order mark and vanish; quoted, it stays.
        first = quoted if columns and columns[0].startswith("\ufeff") else plain
        _write_csv_rows(first, quoted, [header[j : j + 1] for j in range(len(header))], special)
        arrow = utf8 and plain is not quoted and any(_is_arrow_text(c) or isinstance(c, ColumnBlocks) for c in cols)
        starts = range(0, n_rows, block_rows)

        def arrow_bytes(start: int) -> bytes | None:
            chunk = [_rows(c, start, min(start + block_rows, n_rows)) for c in cols]
            return _csv_bytes_arrow(chunk, delimiter, special)

        # A batch caller (the command line): the next chunks' bytes are made
        # in other threads while this one is written, in order.
        if not arrow:
            made: Iterator[bytes | None] = (None for _ in starts)
        elif report.parallel:
            made = _parallel.ordered_map(arrow_bytes, starts)
        else:
            made = map(arrow_bytes, starts)
        for start, data in zip(starts, made, strict=True):
            stop = min(start + block_rows, n_rows)
            if data is not None:
                f.flush()  # the text layer's pending output goes first
                f.buffer.write(data)
                report(0.05 + 0.9 * stop / n_rows)
                continue
            chunk = [object_cells(_rows(c, start, stop)) for c in cols]
            text = None if plain is quoted else _csv_lines(chunk, delimiter, special, eol)
            if text is None:
                # _csv_safe works cell by cell, so chunk by chunk is the same.
                _write_csv_rows(plain, quoted, [_csv_safe(c) for c in chunk], special)
            else:
                f.write(text)
            report(0.05 + 0.9 * stop / n_rows)


def _decimal_comma(col: np.ndarray) -> np.ndarray:
    """The program's dot-decimal numbers of a column with a decimal comma instead."""
    out = _text_items(col)
    for i, v in enumerate(out):
        if v is not None and "." in v and _XLSX_NUMBER_RE.fullmatch(v):
            out[i] = v.replace(".", ",")
    return out


def _utf8(encoding: str) -> bool:
    """Whether ``encoding`` holds every character (UTF-8, -16 or -32)."""
    return codecs.lookup(encoding).name.startswith(("utf-8", "utf-16", "utf-32"))


def _writable_encoding(name: str, encoding: str, columns: list[str], cols: list, warnings: list[str]) -> str:
    """``encoding`` if the header and every cell can be written in it, else ``"utf-8-sig"`` (with a warning)."""
    if _utf8(encoding):
        return encoding
    for j, col in enumerate([_object_array(columns), *cols]):
        cells = _text_items(object_cells(col))
        try:
            _joined(cells).encode(encoding)
            continue
        except UnicodeEncodeError:
            pass
        i, text = next((i, v) for i, v in enumerate(cells) if v and not _encodes(v, encoding))
        where = "the header" if j == 0 else f"row {i + 2} of column {columns[j - 1]!r}"
        bad = next(ch for ch in text if not _encodes(ch, encoding))
        warnings.append(
            f"{name} was written as UTF-8 (with a byte-order mark), not {_encoding_name(encoding)} "
            f"like the file it came from: {where} holds {bad!r}, which {_encoding_name(encoding)} cannot hold."
        )
        return "utf-8-sig"
    return encoding


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _csv_lines(cols: list[np.ndarray], delimiter: str, special: str, eol: str = "\n") -> str | None:
    """The CSV text of rows given column-wise, formula-safe, as the csv module writes them.

    The fast path of ``_csv_safe`` + :func:`_write_csv_rows` for two or more
    columns: each row is one ``str.join`` and the chunk's text is checked as
    a whole.  Only when a cell may start with a risky character (one is
    found at the start of a line or after a delimiter) or holds NUL are the
    columns made safe first; only a row that needs quoting (a delimiter,
    quote or newline in a cell) or is ``special`` is formatted by the csv
    module.  So the output is the same byte for byte.  None when a cell is
    not ``str``/None: the caller writes the chunk the slow way.
    """
    n, k = len(cols[0]), len(cols) - 1
    if not n:
        return ""
    lines = _join_rows(cols, delimiter)
    if lines is None:
        return None
    text = "\n".join(lines)
    risky = "\x00" in text or any(
        ch in text and (text[0] == ch or "\n" + ch in text or delimiter + ch in text)
        for ch in _RISKY_FIRST
    )
    if risky:
        cols = [_csv_safe(c) for c in cols]
        lines = _join_rows(cols, delimiter)
        if lines is None:
            return None
        text = "\n".join(lines)
    odd = '"' + special
    if (
        text.count(delimiter) == k * n
        and text.count("\n") == n - 1
        and not any(ch in text for ch in odd)
    ):
        return (text if eol == "\n" else text.replace("\n", eol)) + eol
    buf = io.StringIO()
    plain = csv.writer(buf, delimiter=delimiter, lineterminator=eol)
    quoted = csv.writer(buf, delimiter=delimiter, lineterminator=eol, quoting=csv.QUOTE_ALL)
    for i, line in enumerate(lines):
        if line.count(delimiter) != k or "\n" in line or any(ch in line for ch in odd):
            buf.seek(0)
            buf.truncate()
            (quoted if _has_any(line, special) else plain).writerow([c[i] for c in cols])
            lines[i] = buf.getvalue()[: -len(eol)]
    return eol.join(lines) + eol


def _csv_bytes_arrow(cols: list, delimiter: str, special: str) -> bytes | None:
    """The UTF-8 CSV text of a chunk of rows, written by Arrow; None unless it is plain.

    The Arrow twin of :func:`_csv_lines` for tables holding Arrow columns:
    Arrow's CSV writer writes every row in C, unquoted (it refuses a cell
    holding the delimiter, a quote or a line break), and the text is
    accepted only when no cell holds a ``special`` character or NUL, or may
    start with a risky character -- exactly then the csv module would write
    the same bytes.  Otherwise None, and the caller takes the object path.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from . import _arrowtext as at

    if not len(cols[0]):
        return b""
    try:
        arrays = [c if isinstance(c, pa.Array) else at.from_cells(c) for c in cols]
    except (TypeError, UnicodeError):
        return None
    table = pa.Table.from_arrays(arrays, names=[str(j) for j in range(len(arrays))])
    # malloc, as for reading: Arrow's default pool would keep the freed text.
    pool = pa.system_memory_pool()
    sink = pa.BufferOutputStream(memory_pool=pool)
    options = pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
    try:
        # Null and empty cells are both written as nothing, as the csv module writes them.
        pacsv.write_csv(table, sink, write_options=options, memory_pool=pool)
    except pa.ArrowInvalid:
        return None  # a delimiter, quote or line break in a cell: it needs quoting
    data = sink.getvalue().to_pybytes()
    sep = delimiter.encode()
    if any(ch.encode() in data for ch in "\x00" + special) or any(
        # "ch in data" first: a search for a rare byte is fast, one for a
        # pair starting with a newline or delimiter is not.
        ch in data and (data[:1] == ch or b"\n" + ch in data or sep + ch in data)
        for ch in (c.encode() for c in _RISKY_FIRST)
    ):
        return None
    return data


def _join_rows(cols: list[np.ndarray], delimiter: str) -> list[str] | None:
    """Each row's cells joined by ``delimiter`` (None as ""); None if a cell is not text."""
    from .parsing import _is_none

    try:
        texts = []
        for c in cols:
            blank = _is_none(c)
            if blank.any():
                c = c.copy()
                c[blank] = ""
            texts.append(c)
        return list(map(delimiter.join, zip(*texts, strict=True)))
    except (TypeError, ValueError):
        return None


def _write_csv_rows(plain, quoted, cols: list[np.ndarray], special: str) -> None:
    """Write rows given column-wise: C speed unless a cell holds a ``special`` character."""
    rows = zip(*cols, strict=True)
    if plain is quoted or not any(_has_any("".join(filter(None, c)), special) for c in cols):
        plain.writerows(rows)
        return
    for row in rows:
        (quoted if _has_any("".join(filter(None, row)), special) else plain).writerow(row)


def _has_any(text: str, chars: str) -> bool:
    return any(ch in text for ch in chars)


# A number as typed: digits with at most one decimal mark (point or comma)
# and an exponent.  A leading "+" is not taken: "+44" is a dialling code.
_TYPED_NUMBER = (
    r"^(?P<sign>-?)(?:(?P<whole>[0-9]+)(?:(?P<mark>[.,])(?P<frac>[0-9]*))?"
    r"|(?P<mark2>[.,])(?P<frac2>[0-9]+))(?:[eE](?P<exp>[+-]?[0-9]+))?$"
)
#: Excel keeps 15 significant digits; a number typed with more is text.
_XLSX_DIGITS = 15


def _xlsx_numbers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The number cells of a column of text, with the number formats showing them as typed.

    Whole-column Arrow kernels (no Python per cell): a million cells take
    tens of milliseconds where a regular expression per cell took a second.

    Parameters
    ----------
    cells : numpy.ndarray of object or pyarrow.StringArray, shape (n,)
        ``str`` or ``None`` items.

    Returns
    -------
    is_number : numpy.ndarray of bool, shape (n,)
        Which cells are written as numbers.  Text: anything with more than
        15 significant digits (ids), leading zeros (``"007"``), a leading
        ``+``, ``"1,234"`` (a comma before exactly three digits may be a
        thousands separator: kept as typed rather than guessed), and what
        would overflow.
    values : numpy.ndarray of float64, shape (n,)
        The numbers (``"183,7"`` -> 183.7: the spreadsheet shows its own
        decimal mark); NaN where ``is_number`` is False.
    formats : numpy.ndarray of object, shape (n,)
        ``None`` or the number format keeping the typed decimals:
        ``"160.0"`` -> ``"0.0"``, ``"1e3"`` -> ``"0E+0"``, ``"1.50e3"`` ->
        ``"0.00E+0"``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _arrowtext as at

    # Arrow kernels for the text, numpy for the rest; no Python scalar goes
    # to Arrow (pa.scalar would import pandas, see _arrowtext).
    text = cells if isinstance(cells, pa.Array) else at.from_cells(cells)
    n = len(text)
    is_number = np.zeros(n, dtype=bool)
    values = np.full(n, np.nan)
    formats = np.full(n, None, dtype=object)
    parts = pc.extract_regex(text, _TYPED_NUMBER)
    matched = at.to_bools(pc.is_valid(parts))
    if not matched.any():
        return is_number, values, formats
    parts = parts.filter(at.from_bools(matched))
    m = len(parts)

    def length(arr) -> np.ndarray:
        return at.to_numbers(pc.utf8_length(arr), np.int32)

    # Arrow gives "" for a group that took no part in the match: ".5" has
    # no whole part and its mark and decimals in the second branch.
    whole, frac, mark = (parts.field(k) for k in ("whole", "frac", "mark"))
    no_whole = at.from_bools(length(whole) == 0)
    whole = pc.if_else(no_whole, at.repeat("0", m), whole)
    frac = pc.if_else(no_whole, parts.field("frac2"), frac)
    comma = at.to_bools(pc.starts_with(pc.if_else(no_whole, parts.field("mark2"), mark), ","))
    exp = parts.field("exp")
    n_whole, n_frac, has_exp = length(whole), length(frac), length(exp) > 0
    leading_zero = (n_whole > 1) & at.to_bools(pc.starts_with(whole, "0"))
    maybe_thousands = comma & ((n_frac == 3) | (n_frac == 0))
    empty = at.repeat("", m)
    digits = length(pc.utf8_ltrim(pc.binary_join_element_wise(whole, frac, empty), "0"))
    ok = ~leading_zero & ~maybe_thousands & (digits <= _XLSX_DIGITS)
    literal = pc.binary_join_element_wise(
        parts.field("sign"), whole, at.repeat(".", m),
        pc.if_else(at.from_bools(n_frac == 0), at.repeat("0", m), frac),
        pc.if_else(at.from_bools(has_exp), at.repeat("e", m), empty), exp, empty,
    )  # fmt: skip
    x = np.full(m, np.nan)
    x[ok] = at.to_numbers(pc.cast(literal.filter(at.from_bools(ok)), pa.float64()), np.float64)
    ok &= np.isfinite(x)
    rows = np.flatnonzero(matched)[ok]
    is_number[rows] = True
    values[rows] = x[ok]
    for d, e in set(zip(n_frac[ok].tolist(), has_exp[ok].tolist(), strict=True)):
        if d or e:
            fmt = ("0." + "0" * d if d else "0") + ("E+0" if e else "")
            formats[rows[(n_frac[ok] == d) & (has_exp[ok] == e)]] = fmt
    return is_number, values, formats


def _xlsx_number(text: str) -> tuple[float, str | None] | None:
    """The number cell for one ``text`` and its number format, or None for text.

    ``"170"`` -> ``(170.0, None)``; ``"160.0"`` -> ``(160.0, "0.0")``;
    ``"183,7"`` -> ``(183.7, "0.0")``.  The rules are :func:`_xlsx_numbers`'.
    """
    is_number, values, formats = _xlsx_numbers(_object_array([text]))
    return (float(values[0]), formats[0]) if is_number[0] else None


_BOOLEANS = {"TRUE": True, "FALSE": False}
_COMPUTED_BOOLEANS = {"true": True, "false": False, "TRUE": True, "FALSE": False}


def _utf16_len(text: str) -> int:
    # Excel counts UTF-16 code units; only long strings need the exact count.
    return (
        len(text) if len(text) <= MAX_XLSX_CELL_CHARS // 2 else len(text.encode("utf-16-le")) // 2
    )


def _write_xlsx(
    path: str,
    name: str,
    columns: list[str],
    cols: list[np.ndarray],
    n_rows: int,
    fills: dict[int, np.ndarray],
    notes: dict[int, np.ndarray],
    report: _Reporter,
    computed: Collection[int] = (),
) -> None:
    """Write with rvgsrust-xlsxwriter (rust_xlsxwriter) in constant-memory mode.

    Rows are streamed in order and text goes in as inline strings, always as
    a string cell: nothing becomes a formula or an error cell, and control
    characters get OOXML's ``_xHHHH_`` escapes.  The cells are typed a
    column at a time (:func:`_xlsx_numbers`); each row is then one
    ``write_row`` call, and only its styled cells (a fill colour, a number
    format) and comments one call each.  Long text and cells beyond the
    sheet's limits are checked first.  The file is assembled in memory and
    written by :func:`_atomic_file`.
    """
    import pyarrow.compute as pc
    import rvgsrust_xlsxwriter as rx

    from . import _arrowtext as at

    if n_rows + 1 > _XLSX_MAX_ROWS or len(columns) > _XLSX_MAX_COLS:
        raise FileFormatError(
            f"{name} cannot hold {n_rows:,} rows and {len(columns):,} columns; an Excel sheet "
            f"holds at most {_XLSX_MAX_ROWS - 1:,} rows below the header and {_XLSX_MAX_COLS:,} columns."
        )
    columns = list(_no_nonchars(_object_array(columns)))
    cols = [_no_nonchars(_text_items(c)) for c in cols]
    # (Not pa.array: for an object array it imports pandas, half a second.)
    everything = [_object_array(columns), *cols]
    texts = [at.from_cells(c) for c in everything]
    for j, (col, text) in enumerate(zip(everything, texts, strict=True)):
        length = at.to_numbers(pc.utf8_length(text), np.int32, null=0)
        for i in np.flatnonzero(length > MAX_XLSX_CELL_CHARS // 2):
            v = col[i]
            if _utf16_len(v) > MAX_XLSX_CELL_CHARS:
                where = "header" if j == 0 else f"row {i + 2}, column {j}"
                raise FileFormatError(
                    f"{name} cannot hold the {where} cell: it has {_utf16_len(v):,} characters "
                    f"and Excel allows {MAX_XLSX_CELL_CHARS:,}."
                )
    # The rows write_row takes (text, numbers as floats, booleans), with
    # None where a cell is styled: those are written one by one with their
    # format, in row order.
    grid = np.empty((n_rows, len(cols)), dtype=object)
    at_row, at_col, at_value, at_key = [], [], [], []
    for j, col in enumerate(cols):
        grid[:, j] = col
        is_number, values, number_formats = _xlsx_numbers(texts[j + 1])
        if is_number.any():
            grid[is_number, j] = values[is_number].tolist()
        for text, flag in (_COMPUTED_BOOLEANS if j in computed else _BOOLEANS).items():
            grid[col == text, j] = flag
        colors = fills.get(j)
        styled = number_formats != None  # noqa: E711 - elementwise
        if colors is not None:
            styled |= colors != None  # noqa: E711
        rows = np.flatnonzero(styled)
        if not len(rows):
            continue
        colors = [None] * len(rows) if colors is None else [c if c is None else str(c).upper() for c in colors[rows]]
        at_row.append(rows)
        at_col.append(np.full(len(rows), j))
        at_value.extend(grid[rows, j].tolist())
        at_key.extend(zip(colors, number_formats[rows].tolist(), strict=True))
        grid[rows, j] = None
    order = np.argsort(np.concatenate(at_row), kind="stable") if at_row else np.empty(0, dtype=np.int64)
    at_row = np.concatenate(at_row)[order].tolist() if at_row else []
    at_col = np.concatenate(at_col)[order].tolist() if at_col else []
    at_value = [at_value[o] for o in order.tolist()]
    at_key = [at_key[o] for o in order.tolist()]
    note_row, note_col, note_text = [], [], []
    for j, arr in notes.items():
        where = np.flatnonzero(arr != None)  # noqa: E711
        note_row.append(where)
        note_col.append(np.full(len(where), j))
        note_text.append(arr[where])
    if note_row:
        order = np.argsort(np.concatenate(note_row), kind="stable")
        note_text = [_cut(str(t)) for t in np.concatenate(note_text)[order]]
        note_col = np.concatenate(note_col)[order].tolist()
        note_row = np.concatenate(note_row)[order].tolist()
    rows = grid.tolist()
    del grid
    report(0.1)
    # The rows before the current one go to temporary files in a folder of
    # our own, removed whatever happens, a signal included (see _atomic_file).
    with _guards.temporary_folder("emgui-xlsx-") as tmpdir, _atomic_file(path, binary=True) as f:
        book = rx.Workbook()
        book.set_tempdir(tmpdir)
        ws = book.add_worksheet("Sheet1", constant_memory=True)
        ws.set_default_note_author(_NOTE_AUTHOR)
        ws.freeze_panes(1, 0)
        bold = book.add_format().set_bold()
        for j, title in enumerate(columns):
            ws.set_column_width(j, min(max(len(title) + 4, 10), 60))
            if title:
                ws.write(0, j, title, bold)
        formats: dict = {}
        for color, number_format in set(at_key):
            fmt = formats[color, number_format] = book.add_format()
            if color is not None:
                fmt.set_background_color(color).set_pattern("solid")
            if number_format is not None:
                fmt.set_num_format(number_format)
        at_format = [formats[k] for k in at_key]
        write_row, write, insert_note, note = ws.write_row, ws.write, ws.insert_note, rx.Note
        k = m = 0
        n_styled, n_notes = len(at_row), len(note_row)
        for i, values in enumerate(rows):
            r = i + 1
            write_row(r, 0, values)
            while k < n_styled and at_row[k] == i:
                write(r, at_col[k], at_value[k], at_format[k])
                k += 1
            while m < n_notes and note_row[m] == i:
                insert_note(r, note_col[m], note(note_text[m]))
                m += 1
            if i % 4096 == 4095:
                report(0.1 + 0.7 * i / n_rows)
        report(0.8)
        f.write(book.save_to_buffer())


def _no_nonchars(col: np.ndarray) -> np.ndarray:
    """U+FFFE and U+FFFF -> U+FFFD: XML cannot carry them, and their escapes
    (``_xFFFE_``) are not decoded by readers."""
    joined = "".join(filter(None, col))
    if "\ufffe" not in joined and "\uffff" not in joined:
        return col
    return _object_array(
        [v.replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd") if v else v for v in col]
    )


_XLSX_MAX_ROWS = 1_048_576
#: Comments carry it as their author and, as Excel shows notes, on their first line.
_NOTE_AUTHOR = "EM Gap Filler"
_XLSX_MAX_COLS = 16_384


def _cut(text: str) -> str:
    """A comment longer than Excel allows is shortened (it is only a note).

    The writer puts the author's line (``"EM Gap Filler:"``, as Excel shows
    a note's author) before the text; the limit is for both.
    """
    room = MAX_XLSX_CELL_CHARS - len(_NOTE_AUTHOR) - 2
    if _utf16_len(text) <= room:
        return text
    units = text.encode("utf-16-le")[: 2 * (room - 1)]
    # errors="ignore" drops half a surrogate pair left at the cut.
    return units.decode("utf-16-le", errors="ignore") + "\u2026"
