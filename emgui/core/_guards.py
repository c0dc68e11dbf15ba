"""Guards checked before the costly step: hostile workbooks, odd paths, signals.

A reader or writer hands a file to a library only after these checks, each
of which costs a scan of bytes and bounded memory:

- **Workbooks.** python-calamine allocates a sheet's whole range of cells
  (one cell at XFD1048576 asks for 512 GiB and aborts the process, no Python
  exception), copies a shared string once per cell that refers to it (a
  248 KB file of one long string referred to 130,000 times takes 3.9 GB),
  and expands ODS repeat counts (a 1 KB file of 99M repeated cells takes
  8 GB).  :func:`check_workbook` scans the sheets' XML with regular
  expressions (no parser) and refuses a sheet whose *cells holding a value*
  span more than :data:`MAX_SHEET_CELLS` cells, or whose text, as the
  reader would copy it, exceeds :data:`MAX_SHEET_TEXT` bytes.  The declared
  ``<dimension>`` and cells that are only formatted (``<c r="XFD1048576"
  s="1"/>``, trailing ``number-columns-repeated`` of empty cells) are *not*
  counted: calamine skips them (tested), so a sheet whose used range is big
  only because of formatting is read, not refused.
- **Wide text files.** A CSV's first record is counted before a reader
  sees it (:func:`check_text_width`): a million empty columns (a 21 MB file)
  took 11 GB; more than :data:`MAX_COLUMNS` columns are refused.
- **Paths.** Only regular files are read (a FIFO would block forever);
  temporary names fit the file system's name limit; a symlinked output is
  written through to its target (as editors do).
- **Signals.** Temporary files being written are registered; SIGTERM,
  SIGHUP and SIGINT remove them before the process dies of the signal
  (:func:`install_signal_cleanup`).
- **XLSX output.** :func:`check_xlsx_fits` checks rows, columns and
  characters per cell against Excel's limits before a long fit, not after.
- **Messages.** :func:`printable` escapes control characters, so a file or
  column name cannot send escape sequences to a terminal.

Nothing here imports more than the standard library, except pyarrow's
kernels to measure the cells of an Arrow column.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import threading
import zipfile

__all__ = [
    "MAX_COLUMNS",
    "MAX_SHEET_CELLS",
    "MAX_SHEET_TEXT",
    "GuardError",
    "check_regular_file",
    "check_text_width",
    "check_workbook",
    "check_xlsx_fits",
    "install_signal_cleanup",
    "printable",
    "temp_prefix",
    "temporary_folder",
    "tracked",
    "write_target",
]

#: Cells a sheet's values may span (rows x columns of the cells holding a
#: value): the reader allocates ~32 bytes for each, and the rows are then
#: Python lists.  20M is a million rows of 20 columns: ~1 GB at the peak.
MAX_SHEET_CELLS = 20_000_000
#: Bytes of text the reader would copy out of a sheet (a shared string
#: counts once per cell that refers to it).
MAX_SHEET_TEXT = 400 * 1024**2
#: Columns of a text file.  100,000 empty columns took 1.6 GB and 30 s in the
#: command line; 50,000 about half.  Spreadsheet programs stop at 16,384.
MAX_COLUMNS = 50_000

_BLOCK = 1 << 20


class GuardError(ValueError):
    """A file or argument is refused; the message is one sentence for a person."""


# --------------------------------------------------------------------------
# Messages

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates
# (text shown right to left could disguise a name: "Trojan source").
_UNPRINTABLE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\n``, ``\\u202e``).

    Also surrogate escapes (bytes of a file name that are not UTF-8) are
    shown as ``\\udcXX`` instead of failing to print.
    """
    text = str(text)

    def escape(m: re.Match) -> str:
        ch = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
            f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
        )

    text = _UNPRINTABLE_RE.sub(escape, text)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = "".join(f"\\u{ord(ch):04x}" if "\udc80" <= ch <= "\udcff" else ch for ch in text)
    return text


# --------------------------------------------------------------------------
# Paths


def open_error(name: str, exc: OSError) -> str:
    """The one sentence that says why file ``name`` cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return f"{name} does not exist."
    if isinstance(exc, PermissionError):
        return f"{name} cannot be opened: permission denied."
    return f"{name} cannot be opened: {(exc.strerror or str(exc)).lower()}."


def check_regular_file(path: str, name: str) -> None:
    """Refuse anything but a regular file, without opening it.

    ``open`` on a FIFO waits for a writer forever, and a device may never
    end; ``os.stat`` answers at once.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise GuardError(open_error(name, exc)) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise GuardError(f"{name} is a folder, not a file.")
    if stat.S_ISFIFO(mode):
        raise GuardError(f"{name} is a pipe, not a file; save the table to a file first.")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise GuardError(f"{name} is a device, not a file.")
    if stat.S_ISSOCK(mode):
        raise GuardError(f"{name} is a socket, not a file.")
    if not stat.S_ISREG(mode):
        raise GuardError(f"{name} is not a regular file.")


def write_target(path: str) -> str:
    """Where a write to ``path`` really goes: a symlink's final target.

    Writing through the link (as editors do) keeps the link and updates the
    file it names; replacing the link itself would silently cut it.
    """
    return os.path.realpath(path) if os.path.islink(path) else path


def temp_prefix(directory: str, base: str, extra: int) -> str:
    """A prefix ``.<base>.`` for a temporary file that fits the name limit.

    ``extra`` is the length of what follows the prefix (the random part and
    the suffix).  A name near the file system's limit (255 bytes) is cut,
    on a character boundary, so that the temporary name fits too.
    """
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    room = limit - extra - 2  # the leading and trailing dots
    if len(os.fsencode(base)) > room:
        while base and len(os.fsencode(base)) > room:
            base = base[:-1]
    return f".{base}."


# --------------------------------------------------------------------------
# Temporary files and signals

_TRACKED: set[str] = set()
_TRACKED_LOCK = threading.Lock()
_INSTALLED: dict[int, object] = {}
CLEANUP_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGHUP", "SIGINT")) if s is not None
)


@contextlib.contextmanager
def tracked(path: str):
    """Register ``path`` (a temporary file or folder) for removal on a signal."""
    with _TRACKED_LOCK:
        _TRACKED.add(path)
    try:
        yield path
    finally:
        with _TRACKED_LOCK:
            _TRACKED.discard(path)


@contextlib.contextmanager
def temporary_folder(prefix: str):
    """A new temporary folder, registered like :func:`tracked`, removed on exit."""
    import tempfile

    path = tempfile.mkdtemp(prefix=prefix)
    try:
        with tracked(path):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_tracked() -> None:
    """Remove every registered temporary file or folder (signal-safe enough:
    no locks taken, errors ignored)."""
    for path in list(_TRACKED):
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def _on_signal(signum, frame) -> None:
    remove_tracked()
    # Die of the signal as if unhandled, so the exit status tells the caller
    # (128 + signum in a shell) and nothing else runs half-way.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_signal_cleanup() -> None:
    """On SIGTERM, SIGHUP and SIGINT, remove the temporary files of writes in progress.

    Then the process ends by that signal.  Only from the main thread (where
    Python runs signal handlers); a signal whose handler someone else set
    is left alone, except SIGINT's default (KeyboardInterrupt), which
    would print a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in CLEANUP_SIGNALS:
        current = signal.getsignal(sig)
        if current in (signal.SIG_DFL, signal.default_int_handler) or current is _on_signal:
            _INSTALLED[sig] = current
            signal.signal(sig, _on_signal)


# --------------------------------------------------------------------------
# Wide text files


def check_text_width(path: str, name: str, delimiter: str, limit: int | None = None) -> None:
    """Refuse a text file whose first line has more than ``limit`` fields.

    Delimiters are counted in the first line, block by block (bounded
    memory); only when the count is over the limit is the line split by
    the csv module, so quoted delimiters do not count.
    """
    import csv
    import io

    limit = MAX_COLUMNS if limit is None else limit
    sep = delimiter.encode()
    count = 0
    line = bytearray()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            end = block.find(b"\n")
            part = block if end < 0 else block[:end]
            count += part.count(sep)
            if count >= limit:
                line += part
            if end >= 0 or len(line) > 64 * _BLOCK:
                break
    if count < limit:
        return
    if len(line) <= 64 * _BLOCK:
        text = bytes(line).decode("latin-1")
        with contextlib.suppress(csv.Error):
            row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
            count = len(row) - 1
    if count + 1 > limit:
        raise GuardError(f"{name} has {count + 1:,} columns; at most {limit:,} can be read.")


# --------------------------------------------------------------------------
# Workbooks

# A cell that holds something: a start tag that does not close itself.
# (A formatted empty cell is written "<c r=.. s=../>"; calamine skips it.)
_XLSX_FIRST_REF_RE = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,9})"')
_XLSX_SHARED_RE = re.compile(rb'<(?:\w+:)?c\s[^>]*?\bt="s"[^>]*>\s*<(?:\w+:)?v>\s*([0-9]+)')
_XLSX_SI_RE = re.compile(rb"<(?:\w+:)?si\b")
_XLSX_ROW_RE = re.compile(rb'<(?:\w+:)?row\s[^>]*?\br="([0-9]{1,9})"')

_ODS_TOKEN_RE = re.compile(
    rb"<table:table-row\b([^>]*?)(/?)>|</table:table-row>"
    rb"|<table:(?:covered-)?table-cell\b([^>]*?)(/?)>"
    rb"|<table:table[\s>][^>]*>?|</table:table>"
)
_ODS_ROWS_REP_RE = re.compile(rb'number-rows-repeated="([0-9]+)"')
_ODS_COLS_REP_RE = re.compile(rb'number-columns-repeated="([0-9]+)"')
_ODS_VALUE_RE = re.compile(rb"office:value-type=")


def _longest_max(items) -> bytes:
    """The largest of ASCII numbers or column letters: the longest, then the greatest."""
    width = max(map(len, items))
    return max(i for i in items if len(i) == width) if width else b""


def _column_number(letters: bytes) -> int:
    n = 0
    for b in letters:
        n = n * 26 + (b - 64)
    return n


def _blocks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, before_end_tag: bool = False):
    """The member's bytes in blocks of ~1 MB, each ending just after a ``>``
    (or, ``before_end_tag``, just before a ``</``): no tag is cut in two."""
    tail = b""
    with zf.open(info) as member:
        while block := member.read(_BLOCK):
            data = tail + block
            end = max(data.rfind(b"</"), 0) if before_end_tag else data.rfind(b">") + 1
            yield data[:end]
            tail = data[end:]
            if len(tail) > 16 * _BLOCK:  # no tag is this long in a real sheet
                raise _Damaged("a tag longer than 16 MB")
    if tail:
        yield tail


def check_workbook(path: str, name: str, ext: str, report=None) -> None:
    """Refuse a workbook whose sheets would cost the reader too much memory.

    Run after the archive itself was checked (sizes, CRCs, no DTD).  Every
    worksheet is checked, whichever is read: a guard that follows the
    workbook's relationships would be one more parser to trust.

    Raises
    ------
    GuardError
        One sentence naming the file and the sheet's cost.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            if ext == ".ods":
                for info in zf.infolist():
                    if info.filename == "content.xml":
                        _check_ods_content(zf, info, name)
            else:
                _check_xlsx(zf, name)
    except _Damaged as exc:
        raise GuardError(f"{name} cannot be read safely: {exc}.") from None


class _Damaged(GuardError):
    """A sheet's XML that no writer makes; the message is completed with the name."""


def _too_big(name: str, rows: int, cols: int) -> GuardError:
    return GuardError(
        f"{name} has a sheet whose cells span {rows:,} rows and {cols:,} columns "
        f"({rows * cols:,} cells, more than the {MAX_SHEET_CELLS:,} that can be read); "
        "it was not read."
    )


def _too_much_text(name: str) -> GuardError:
    return GuardError(
        f"{name} has a sheet that would expand to more than {MAX_SHEET_TEXT / 1024**2:,.0f} MB "
        "of text (a shared or repeated text copied into every cell); it was not read."
    )


def _check_xlsx(zf: zipfile.ZipFile, name: str) -> None:
    infos = zf.infolist()
    sheets = [
        i
        for i in infos
        if i.filename.lower().startswith("xl/worksheets/") and i.filename.lower().endswith(".xml")
    ]
    sst = next((i for i in infos if i.filename.lower() == "xl/sharedstrings.xml"), None)
    si_sizes = None  # each shared string's size in bytes, made only when needed
    si_max = 0
    if sst is not None:
        si_max = _largest_shared_string(zf, sst)
    for info in sheets:
        # First every cell, formatted empty ones included, from references
        # that come first in the tag (as every common writer puts them):
        # two C-speed passes.  Only when that span is too big, or a cell's
        # reference is elsewhere or missing, are the tags walked in order
        # for the cells that hold a value (a Python loop, ~1 s per million).
        max_row = max_col = n_shared = 0
        simple = True
        for block in _blocks(zf, info):
            if sst is not None:
                n_shared += block.count(b't="s"')
            refs = _XLSX_FIRST_REF_RE.findall(block)
            tags = sum(block.count(t) for t in (b"<c ", b"<c>", b":c ", b":c>"))
            if len(refs) != tags:
                simple = False
                break
            if refs:
                letters, digits = zip(*refs, strict=True)
                max_col = max(max_col, _column_number(_longest_max(set(letters))))
                max_row = max(max_row, max(map(int, digits)))
        if not simple or max_row * max_col > MAX_SHEET_CELLS:
            max_row, max_col, n_shared = _xlsx_extent_in_order(zf, info)
        if max_row * max_col > MAX_SHEET_CELLS:
            raise _too_big(name, max_row, max_col)
        if n_shared and si_max and n_shared * si_max > MAX_SHEET_TEXT:
            # The cheap bound fails: add up each cell's own string.
            if si_sizes is None:
                si_sizes = _shared_string_sizes(zf, sst)
            total = _shared_text(zf, info, si_sizes)
            if total > MAX_SHEET_TEXT:
                raise _too_much_text(name)


_XLSX_TOKEN_RE = re.compile(rb"<(?:\w+:)?(row|c)\s([^>]*?)(/?)>|<(?:\w+:)?(row|c)(/?)>")
_XLSX_REF_ATTR_RE = re.compile(rb'\br="\$?([A-Z]{0,3})\$?([0-9]{0,9})"')


def _xlsx_extent_in_order(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int, int]:
    """Rows and columns spanned by cells holding a value, and the shared-string
    cells, walking the tags in order (for cells without an ``r`` reference)."""
    row = col = max_row = max_col = n_shared = 0
    for block in _blocks(zf, info):
        n_shared += block.count(b't="s"')
        for m in _XLSX_TOKEN_RE.finditer(block):
            kind = m.group(1) or m.group(4)
            attrs = m.group(2) or b""
            closed = bool(m.group(3) or m.group(5))
            ref = _XLSX_REF_ATTR_RE.search(attrs)
            if kind == b"row":
                row = int(ref.group(2)) if ref and ref.group(2) else row + 1
                col = 0
                continue
            if ref and ref.group(1):
                col = _column_number(ref.group(1))
                if ref.group(2):
                    row = int(ref.group(2))
            else:
                col += 1
            if not closed:
                max_row, max_col = max(max_row, row), max(max_col, col)
                if max_row * max_col > MAX_SHEET_CELLS:
                    return max_row, max_col, n_shared  # refused anyway: no need to go on
    return max_row, max_col, n_shared


def _shared_string_pieces(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Bytes from each ``<si`` to the next, markup included (an upper bound of
    each shared string's text), in order; split in C, no loop per string."""
    carry = 0
    first = True
    for block in _blocks(zf, info):
        pieces = _XLSX_SI_RE.split(block)
        if len(pieces) == 1:
            carry += len(block)
            continue
        if not first:
            yield carry + len(pieces[0])
        first = False
        yield from map(len, pieces[1:-1])
        carry = len(pieces[-1])
    if not first:
        yield carry


def _largest_shared_string(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Bytes of the largest ``<si>`` element (markup included: an upper bound)."""
    return max(_shared_string_pieces(zf, info), default=0)


def _shared_string_sizes(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[int]:
    return list(_shared_string_pieces(zf, info))


def _shared_text(zf: zipfile.ZipFile, info: zipfile.ZipInfo, sizes: list[int]) -> int:
    total = 0
    n = len(sizes)
    for block in _blocks(zf, info, before_end_tag=True):
        for index in _XLSX_SHARED_RE.findall(block):
            i = int(index)
            if i < n:
                total += sizes[i]
        if total > MAX_SHEET_TEXT:
            break
    return total


def _check_ods_content(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """Walk the tables' rows and cells (tags only), multiplying out the repeat counts.

    Empty cells and rows, however often repeated, only move the position:
    calamine skips trailing ones, so they count only when a cell holding
    a value comes after them.
    """
    row = 0  # rows before the current one, repeats included
    rows_rep = 1
    col = 0
    max_row = max_col = 0
    text = 0
    pending = None  # (start, columns repeated) of a value cell whose size is not known yet
    offset = 0
    for block in _blocks(zf, info):
        for m in _ODS_TOKEN_RE.finditer(block):
            pos = offset + m.start()
            if pending is not None:
                start, reps = pending
                text += (pos - start) * reps * rows_rep
                pending = None
                if text > MAX_SHEET_TEXT:
                    raise _too_much_text(name)
            token = m.group(0)
            if token.startswith(b"<table:table-row"):
                found = _ODS_ROWS_REP_RE.search(m.group(1))
                rows_rep = max(int(found.group(1)), 1) if found else 1
                col = 0
                if m.group(2):  # <table:table-row/>: an empty row
                    row += rows_rep
            elif token == b"</table:table-row>":
                row += rows_rep
                rows_rep = 1
            elif m.group(3) is not None:
                attrs = m.group(3)
                found = _ODS_COLS_REP_RE.search(attrs)
                reps = max(int(found.group(1)), 1) if found else 1
                if _ODS_VALUE_RE.search(attrs) or not m.group(4):
                    # A value, or content (text without a value type): the
                    # reader keeps it, so the sheet reaches this far.
                    max_col = max(max_col, col + reps)
                    max_row = max(max_row, row + rows_rep)
                    if max_row * max_col > MAX_SHEET_CELLS:
                        raise _too_big(name, max_row, max_col)
                    if not m.group(4):
                        pending = (pos, reps)
                    else:
                        text += len(attrs) * reps * rows_rep
                col += reps
            elif token.startswith(b"<table:table"):
                row = col = max_row = max_col = text = 0
                rows_rep = 1
        offset += len(block)
    if text > MAX_SHEET_TEXT:
        raise _too_much_text(name)


# --------------------------------------------------------------------------
# What an XLSX sheet can hold (checked before a long fit, not after it)

XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLS = 16_384
XLSX_MAX_CELL_CHARS = 32_767


def _longest_cell(column) -> tuple[int, int]:
    """(index, UTF-16 length) of the longest cell of a column of str/None or Arrow text."""
    import numpy as np

    from . import _arrowtext as at

    if not type(column).__module__.startswith("pyarrow"):
        try:
            column = at.from_cells(np.asarray(column, dtype=object))
        except TypeError:  # not all str/None: one cell at a time
            return _longest_cell_slow(column)
    import pyarrow as pa
    import pyarrow.compute as pc

    wide = pa.types.is_large_string(column.type)
    # (to_numbers, not to_numpy: the latter imports pandas.)
    lengths = at.to_numbers(pc.utf8_length(column), np.int64 if wide else np.int32, null=0)
    if not len(lengths) or lengths.max() <= XLSX_MAX_CELL_CHARS // 2:
        return (int(lengths.argmax()) if len(lengths) else 0), int(lengths.max(initial=0))
    # Characters beyond the BMP count twice in UTF-16: measure the long ones exactly.
    best = (0, 0)
    for i in np.flatnonzero(lengths > XLSX_MAX_CELL_CHARS // 2):
        n = len(column[int(i)].as_py().encode("utf-16-le")) // 2
        best = max(best, (int(i), n), key=lambda t: t[1])
    return best


def _longest_cell_slow(column) -> tuple[int, int]:
    best = (0, 0)
    for i, v in enumerate(column):
        if v is not None and type(v) is str and len(v) > max(best[1], XLSX_MAX_CELL_CHARS // 2):
            n = len(v.encode("utf-16-le")) // 2
            if n > best[1]:
                best = (i, n)
    return best


def check_xlsx_fits(name: str, columns, cells, extra_columns: int = 0) -> None:
    """Refuse a table an Excel sheet cannot hold: rows, columns, characters per cell.

    Parameters
    ----------
    name : str
        The output's name as shown in messages (quoted).
    columns : sequence of str
    cells : sequence of columns
        Object arrays of str/None or Arrow string arrays, ``(n_rows,)`` each.
    extra_columns : int
        Columns the output may add to these (an upper bound).
    """
    n_rows = len(cells[0]) if len(cells) else 0
    if n_rows + 1 > XLSX_MAX_ROWS:
        raise GuardError(
            f"{name} cannot hold {n_rows:,} rows: an Excel sheet holds at most "
            f"{XLSX_MAX_ROWS - 1:,} rows below the header; write a .csv instead."
        )
    if len(columns) + extra_columns > XLSX_MAX_COLS:
        raise GuardError(
            f"{name} would need {len(columns) + extra_columns:,} columns: an Excel sheet holds "
            f"at most {XLSX_MAX_COLS:,}; write a .csv instead."
        )
    for j, title in enumerate(columns):
        if title and len(title.encode("utf-16-le")) // 2 > XLSX_MAX_CELL_CHARS:
            raise GuardError(
                f"{name} cannot hold the name of column {j + 1}: it has more than "
                f"{XLSX_MAX_CELL_CHARS:,} characters, Excel's limit for a cell; write a .csv instead."
            )
    for j, column in enumerate(cells):
        i, n = _longest_cell(column)
        if n > XLSX_MAX_CELL_CHARS:
            raise GuardError(
                f"{name} cannot hold row {i + 2}, column {j + 1} ('{printable(columns[j][:40])}'): "
                f"it has {n:,} characters and Excel allows {XLSX_MAX_CELL_CHARS:,} in a cell; "
                "write a .csv instead."
            )
