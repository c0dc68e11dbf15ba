"""Crash recovery: copies of unsaved work under the user's application data folder.

While a sheet has unsaved changes the window writes a recovery copy now and
then (:func:`write_recovery`); a clean close removes it
(:func:`discard_recovery`).  At the next start, :func:`list_recoveries`
returns the copies left behind by processes that are no longer running, and
:func:`load_recovery` turns one back into a sheet.

A recovery copy is a pair of files named after the session (process id and
start time)::

    session-<pid>-<start ms>.<n>.csv   the cells, as Sheet.to_table() gives them
    session-<pid>-<start ms>.json      where it came from, roles, the file's dialect, time, pid, version

The JSON sidecar is the commit point: it names the CSV it belongs to and is
replaced atomically only after that CSV is complete, so a crash in the middle
of a write leaves the previous pair intact.  CSV cannot tell an empty cell
from an empty string (both load as blank), and the per-class probabilities
of a fill are not kept; the cells, the column roles and which labels were
filled (with their confidence) are.

Nothing here imports Qt.  numpy, pandas and the rest of the core are
imported on first use, not with this module: the app imports it before its
window is shown, and start-up time matters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import itertools
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emgui import __version__

if TYPE_CHECKING:
    import numpy as np

    from .dialect import Dialect
    from .sheet import Roles, Sheet

__all__ = [
    "RecoveryData",
    "RecoveryInfo",
    "app_data_dir",
    "current_session_id",
    "discard_recovery",
    "list_recoveries",
    "load_recovery",
    "recovery_dir",
    "write_recovery",
]

_APP = "emgui"
_FORMAT = 1
_PREFIX = "session-"
#: Rows of the recovery copy made into text at a time (see write_recovery).
_BLOCK_ROWS = 32_768
_SESSION_RE = re.compile(r"[0-9A-Za-z_-]{1,80}")
_SIDECAR_RE = re.compile(r"session-([0-9A-Za-z_-]{1,80})\.json")
_TABLE_RE = re.compile(r"session-([0-9A-Za-z_-]{1,80})\.([0-9]+)\.csv")

# This process's start time, fixed at import: part of the session id.
_STARTED = time.time()
# Each write goes to a new CSV (see the module docstring); next() is atomic under the GIL.
_counter = itertools.count(1)


# --------------------------------------------------------------------------- folders


def app_data_dir() -> Path:
    """The folder for the app's own files (log, recovery copies).

    ``$XDG_DATA_HOME/emgui`` (default ``~/.local/share/emgui``) on Linux and
    other Unix systems, ``%APPDATA%\\emgui`` on Windows and
    ``~/Library/Application Support/emgui`` on macOS.  Not created here.
    """
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / _APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / _APP
    base = os.environ.get("XDG_DATA_HOME") or ""
    # The XDG spec says a relative value is invalid and must be ignored.
    if not os.path.isabs(base):
        base = str(Path.home() / ".local" / "share")
    return Path(base) / _APP


def recovery_dir() -> Path:
    """The folder recovery copies go to: ``$EMGUI_RECOVERY_DIR`` or ``<app data>/recovery``.

    Not created here (:func:`write_recovery` creates it).
    """
    override = os.environ.get("EMGUI_RECOVERY_DIR")
    if override:
        return Path(override)
    return app_data_dir() / "recovery"


def current_session_id() -> str:
    """This process's session id: ``"<pid>-<start time in ms>"``."""
    return f"{os.getpid()}-{int(_STARTED * 1000)}"


def _check_session(session_id: str) -> str:
    session_id = str(session_id)
    if not _SESSION_RE.fullmatch(session_id):
        # A session id becomes a file name: no separators, no dots.
        raise ValueError(f"not a valid session id: {session_id!r}")
    return session_id


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False)
class RecoveryData:
    """A copy of what a recovery copy keeps, taken quickly so it can be written elsewhere.

    Taking it copies arrays only (about 0.1 s for a million rows); the text
    of the fill marks is made by :meth:`table`, which a background thread
    may call while the sheet goes on changing.

    Attributes
    ----------
    columns : tuple of str, length n_columns
    cells : tuple
        One ``(n_rows,)`` column each, as :meth:`Sheet.column_snapshot` gives
        it: an object array copy, or a packed column's (read-only) Arrow array.
    roles : Roles
    provenance : numpy.ndarray, (n_rows,) int8
    confidence : numpy.ndarray, (m,) float64
        The confidence of the ``m`` rows whose provenance is not ``USER``,
        in row order (the other rows have none to write): five million
        rows, 40 MB less copied after every fill.  ``(n_rows,)``, the
        sheet's own, for a live record.
    sheet : Sheet or None
        For a live record (``from_sheet(live=True)``): the sheet whose own
        arrays it holds, and ``version`` its version then; see :meth:`current`.
    dialect : Dialect or None
        The CSV/TSV dialect of the file the sheet came from, so that saving
        a recovered sheet writes that file in its own dialect again.
    """

    columns: tuple[str, ...]
    cells: tuple[np.ndarray, ...]
    roles: Roles
    provenance: np.ndarray
    confidence: np.ndarray
    sheet: Sheet | None = None
    version: int = 0
    dialect: Dialect | None = None

    @classmethod
    def from_sheet(cls, sheet: Sheet, *, live: bool = False) -> RecoveryData:
        """Copy ``sheet``'s cells, roles and fill marks.

        ``live``: hold the sheet's own arrays instead of copies (five
        million rows: ~60 MB and a 40 MB object-array copy on the GUI
        thread less after each fill, issue 14 item 3).  What is written
        from it is then committed only if the sheet is still at the same
        version when the writing is over (:func:`write_recovery`); an edit
        meanwhile leaves the previous copy in place, and the edit's own
        copy follows.
        """
        from .sheet import USER

        if live:
            return cls(
                tuple(sheet.columns),
                tuple(sheet.column_snapshot(c, copy=False) for c in range(sheet.n_cols)),
                sheet.roles, sheet.provenance, sheet.confidence, sheet, sheet.version,
                dialect=getattr(sheet, "dialect", None),
            )
        return cls(
            tuple(sheet.columns),
            tuple(sheet.column_snapshot(c) for c in range(sheet.n_cols)),
            sheet.roles,
            sheet.provenance.copy(),
            sheet.confidence[sheet.provenance != USER],
            dialect=getattr(sheet, "dialect", None),
        )

    def current(self) -> bool:
        """Whether what this record holds is still what its sheet holds (always, for copies)."""
        return self.sheet is None or self.sheet.version == self.version

    @property
    def n_rows(self) -> int:
        return len(self.provenance)

    def table(self) -> tuple[list[str], list[np.ndarray]]:
        """Columns and cells as :meth:`Sheet.to_table` gives them (marks included)."""
        from .sheet import mark_blocks_of

        columns, cells = list(self.columns), list(self.cells)
        if self.roles.label is not None:
            # As a saved sheet writes them, as Arrow text (no str per row),
            # made a block of rows at a time as the CSV is written: this
            # runs after every fill, and the whole columns' text, five
            # million rows, took ~110 MB at once (issue 14 item 3).
            provenance, confidence = self.provenance, self.confidence
            name = columns[self.roles.label]
            columns += [name + "_imputed", name + "_confidence"]
            if len(confidence) == len(provenance) and self.sheet is not None:  # a live record's
                cells += mark_blocks_of(provenance, confidence)
            else:  # a record's own copy: the confidences of the marked rows only
                cells += self._compact_mark_blocks()
        return columns, cells

    def _compact_mark_blocks(self) -> list:
        """The mark columns of a record that keeps the confidences of its marked rows only, made a block at a time."""
        import numpy as np

        from .fileio import ColumnBlocks
        from .sheet import UNCERTAIN, USER, mark_cells

        provenance, confidence = self.provenance, self.confidence
        uncertain = bool((provenance == UNCERTAIN).any())
        marked_before = {0: 0}  # row -> how many marked rows come before it (at block edges)

        def marks(start: int, stop: int, which: int):
            block = provenance[start:stop]
            marked = block != USER
            if start not in marked_before:  # blocks come in order; this is for any other caller
                marked_before[start] = int(np.count_nonzero(provenance[:start] != USER))
            first = marked_before[start]
            marked_before[stop] = first + int(np.count_nonzero(marked))
            conf = np.full(len(block), np.nan)
            conf[marked] = confidence[first : marked_before[stop]]
            return mark_cells(block, conf, arrow=True, uncertain=uncertain)[which]

        return [ColumnBlocks(self.n_rows, lambda a, b: marks(a, b, 0)),
                ColumnBlocks(self.n_rows, lambda a, b: marks(a, b, 1))]


@dataclass(frozen=True)
class RecoveryInfo:
    """One recovery copy found on disk.

    Attributes
    ----------
    session_id : str
        ``"<pid>-<start ms>"`` of the process that wrote it.
    source_path : str or None
        The file the sheet was opened from or saved to; None for a new sheet.
    saved_at : datetime.datetime
        When the copy was written (local time, timezone-aware).
    pid : int
        Process id of the writer.
    app_version : str
    roles : Roles
        Label and feature columns at the time of writing.
    n_rows : int
        Rows in the sheet (blank rows at the end included).
    table_path, sidecar_path : pathlib.Path
        The CSV with the cells and the JSON describing it.
    pid_started : int or None
        The writer's start time in clock ticks, to tell a reused pid.
    dialect : Dialect or None
        The source file's CSV/TSV dialect (None: a file of another kind, a
        new sheet, or a copy written before dialects were kept).
    """

    session_id: str
    source_path: str | None
    saved_at: _dt.datetime
    pid: int
    app_version: str
    roles: Roles
    n_rows: int
    table_path: Path
    sidecar_path: Path
    pid_started: int | None = None
    dialect: Dialect | None = None

    @property
    def file_name(self) -> str:
        """The source file's name, or ``"Untitled"``."""
        return Path(self.source_path).name if self.source_path else "Untitled"


def _sidecar_path(folder: Path, session_id: str) -> Path:
    return folder / f"{_PREFIX}{session_id}.json"


def _roles_to_json(roles: Roles) -> dict:
    return {
        "label": roles.label,
        "features": list(roles.features),
        "units": {str(k): v for k, v in roles.units.items()},
    }


def _roles_from_json(data: dict) -> Roles:
    from .sheet import Roles

    label = data.get("label")
    features = tuple(int(f) for f in data.get("features", ()))
    units = {int(k): (None if v is None else str(v)) for k, v in dict(data.get("units", {})).items()}
    return Roles(None if label is None else int(label), features, units)


# --------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """Linux: (state letter, start time in clock ticks since boot), None if no such process."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _own_start_ticks() -> int | None:
    if not os.path.isdir("/proc/self"):
        return None
    stat = _proc_stat(os.getpid())
    return None if stat is None else stat[1]


def _pid_alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` (started at ``started`` ticks, if known) is still running."""
    if pid <= 0:
        return False
    if sys.platform.startswith("win"):
        return _pid_alive_windows(pid)
    if os.path.isdir("/proc/self"):
        stat = _proc_stat(pid)
        if stat is None:
            return False
        state, ticks = stat
        if state in ("Z", "X"):  # killed, not yet reaped: gone for our purposes
            return False
        # Same pid, other start time: the pid was reused by an unrelated process.
        return started is None or ticks == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    process_query_limited_information = 0x1000
    still_active = 259
    error_access_denied = 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == error_access_denied  # exists, not ours
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


# --------------------------------------------------------------------------- public API


def write_recovery(
    sheet: Sheet | RecoveryData,
    source_path: str | os.PathLike | None,
    session_id: str | None = None,
) -> Path | None:
    """Write (or replace) the recovery copy of ``sheet`` for a session.

    Parameters
    ----------
    sheet : Sheet or RecoveryData
        Its cells, fill marks and roles are saved.  Pass a
        :class:`RecoveryData` to write from another thread than the one
        editing the sheet.
    source_path : str or os.PathLike or None
        The file the sheet belongs to (None for a new sheet); offered back on restore.
    session_id : str, optional
        Default :func:`current_session_id`.

    Returns
    -------
    pathlib.Path or None
        The JSON sidecar, which names the CSV holding the cells; None when
        a live :class:`RecoveryData`'s sheet changed while it was written
        (the previous copy stays; nothing new is committed).

    Raises
    ------
    OSError
        The folder or the files could not be written; an earlier copy of
        the same session is then left as it was.
    """
    from . import fileio

    session_id = _check_session(session_id or current_session_id())
    folder = recovery_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    table_path = folder / f"{_PREFIX}{session_id}.{next(_counter)}.csv"
    data = sheet if isinstance(sheet, RecoveryData) else RecoveryData.from_sheet(sheet)
    columns, cells = data.table()
    # Half the rows at a time of a saved file's: a million rows' copy took
    # 17-21 MB at once in 65,536-row blocks, 8-9 MB in these, ~10 % longer
    # in its thread; it is written after every fill, and after a refit it set
    # the window's peak (issue 14 item 3, the 1M window <= 300 MB).
    fileio.write_table(table_path, columns, cells, block_rows=_BLOCK_ROWS)
    if not data.current():
        # A live record whose sheet changed while it was written: the file
        # may mix before and after; the previous pair stays the copy.
        table_path.unlink(missing_ok=True)
        return None
    now = _dt.datetime.now().astimezone()
    sidecar = _sidecar_path(folder, session_id)
    pid_part = session_id.split("-", 1)[0]
    meta = {
        "format": _FORMAT,
        "session": session_id,
        "source_path": None if source_path is None else os.fspath(source_path),
        "saved_at": now.isoformat(),
        "pid": int(pid_part) if pid_part.isdigit() else os.getpid(),
        "pid_started": _own_start_ticks() if session_id == current_session_id() else None,
        "app_version": __version__,
        "roles": _roles_to_json(data.roles),
        "n_rows": data.n_rows,
        "table": table_path.name,
        "dialect": None if data.dialect is None else dataclasses.asdict(data.dialect),
    }
    try:
        fileio.write_json(sidecar, meta)
    except BaseException:
        with contextlib.suppress(OSError):
            table_path.unlink()
        raise
    # The sidecar now names the new CSV; older ones of this session are garbage.
    for old in folder.glob(f"{_PREFIX}{session_id}.*.csv"):
        if old != table_path:
            with contextlib.suppress(OSError):
                old.unlink()
    return sidecar


def _read_info(sidecar: Path) -> RecoveryInfo | None:
    from .dialect import Dialect

    m = _SIDECAR_RE.fullmatch(sidecar.name)
    if m is None:
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        table = str(data["table"])
        m_table = _TABLE_RE.fullmatch(table)
        if m_table is None or m_table.group(1) != m.group(1):
            return None  # a sidecar may only name its own session's CSV
        table_path = sidecar.parent / table
        if not table_path.is_file():
            return None
        saved_at = _dt.datetime.fromisoformat(str(data["saved_at"]))
        if saved_at.tzinfo is None:
            saved_at = saved_at.astimezone()
        source = data.get("source_path")
        started = data.get("pid_started")
        return RecoveryInfo(
            session_id=m.group(1),
            source_path=None if source is None else str(source),
            saved_at=saved_at,
            pid=int(data["pid"]),
            app_version=str(data.get("app_version", "")),
            roles=_roles_from_json(dict(data.get("roles") or {})),
            n_rows=max(int(data.get("n_rows", 0)), 0),
            table_path=table_path,
            sidecar_path=sidecar,
            pid_started=None if started is None else int(started),
            dialect=Dialect.from_dict(data.get("dialect")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # Unreadable sidecars are skipped, never deleted: the CSV may still help someone.
        return None


def list_recoveries(*, include_running: bool = False) -> list[RecoveryInfo]:
    """Recovery copies on disk, newest first.

    Parameters
    ----------
    include_running : bool, default False
        Also list copies whose process is still running (by default those
        are left alone: that window still holds the work, maybe this one).

    Returns
    -------
    list of RecoveryInfo
        Copies with a readable sidecar and an existing CSV; others are skipped.
    """
    folder = recovery_dir()
    try:
        sidecars = sorted(folder.glob(f"{_PREFIX}*.json"))
    except OSError:
        return []
    infos = []
    for sidecar in sidecars:
        info = _read_info(sidecar)
        if info is None:
            continue
        if not include_running and _pid_alive(info.pid, info.pid_started):
            continue
        infos.append(info)
    infos.sort(key=lambda i: i.saved_at, reverse=True)
    return infos


def load_recovery(info: RecoveryInfo) -> tuple[Sheet, str | None]:
    """Read a recovery copy back into a sheet.

    Returns
    -------
    sheet : Sheet
        The cells, roles and fill marks (filled labels with their confidence)
        as they were; blank rows at the end, which CSV does not keep, are
        added back.
    source_path : str or None

    Raises
    ------
    emgui.core.fileio.FileFormatError
        The copy cannot be read (the message names the file).
    """
    import numpy as np

    from . import fileio
    from .sheet import Sheet, SheetError

    table = fileio.read_table(info.table_path)
    cells = list(table.cells)
    n = table.n_rows
    if info.n_rows > n:
        pad = np.full(info.n_rows - n, None, dtype=object)
        cells = [np.concatenate([c, pad]) for c in cells]
    roles = info.roles
    n_cols = len(table.columns)
    in_range = all(0 <= i < n_cols for i in (*roles.features, *([] if roles.label is None else [roles.label])))
    try:
        sheet = Sheet.from_table(table.columns, cells, roles if in_range else None)
    except SheetError:
        sheet = Sheet.from_table(table.columns, cells)
    # Saving a recovered sheet writes its file in the file's own dialect.
    sheet.dialect = info.dialect
    return sheet, info.source_path


def discard_recovery(info_or_session: RecoveryInfo | str | None = None) -> None:
    """Remove a recovery copy (both files); a missing copy is not an error.

    Parameters
    ----------
    info_or_session : RecoveryInfo or str, optional
        The copy, or a session id; default this process's session.
    """
    if isinstance(info_or_session, RecoveryInfo):
        folder, session_id = info_or_session.sidecar_path.parent, info_or_session.session_id
    else:
        folder, session_id = recovery_dir(), _check_session(info_or_session or current_session_id())
    # The sidecar first: without it, a leftover CSV is never offered.
    with contextlib.suppress(OSError):
        _sidecar_path(folder, session_id).unlink()
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{_PREFIX}{session_id}.*.csv"):
            with contextlib.suppress(OSError):
                path.unlink()
