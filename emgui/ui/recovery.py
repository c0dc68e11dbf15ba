"""Crash recovery in the window: keep a recovery copy while there are unsaved changes.

:class:`RecoveryKeeper` writes the open sheet to the recovery folder (see
:mod:`emgui.core.recovery`) a few seconds after the last change, at the
latest every ``max_delay_ms`` while changes keep coming, and right after a
fill; it removes the copy when the sheet becomes clean (saved, or undone
back to the saved state) and on a clean close.  The cells are copied on the
GUI thread (arrays only, about 0.1 s for a million rows) and written by a
background thread, so typing never waits for the disk.

:func:`offer_recovery` runs at start-up: if a previous run left a copy
behind, it asks whether to restore it.  :func:`keep_recovery` wires both
into the main window (``emgui.app.main`` calls it).  The question is asked through
:func:`ask_restore`, looked up on this module at call time so a test can
replace it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from emgui.core import recovery as core_recovery

__all__ = [
    "IDLE_MS",
    "MAX_DELAY_MS",
    "RecoveryKeeper",
    "ask_restore",
    "keep_recovery",
    "offer_recovery",
]

_log = logging.getLogger(__name__)

#: Idle time after the last change before a copy is written.
IDLE_MS = 3000
#: While changes keep coming, a copy is written at least this often.
MAX_DELAY_MS = 20_000
#: After a fill the copy is taken this much later, in a turn of its own: at a
#: million rows taking it costs ~15 ms of the GUI thread, which would
#: otherwise add to the fill's own.
FILL_DELAY_MS = 50


class RecoveryKeeper(QObject):
    """Writes and removes the recovery copy of the window's sheet.

    Parameters
    ----------
    sheet_getter : callable() -> Sheet or None
        The open sheet (read on the GUI thread when a copy is due).
    path_getter : callable() -> str or None, optional
        The sheet's file, stored with the copy so a restore can name it.
    undo_stack : QUndoStack, optional
        When given, every change on it schedules a copy, and a clean stack
        (saved, or undone to the saved state) removes the copy.  Without it,
        call :meth:`note_change` and :meth:`discard` yourself.
    idle_ms, max_delay_ms : int
        See :data:`IDLE_MS` and :data:`MAX_DELAY_MS`.
    session_id : str, optional
        Default :func:`emgui.core.recovery.current_session_id`.

    Signals
    -------
    recovery_written(str)
        A copy was written (the path of its JSON sidecar).
    recovery_failed(str)
        A copy could not be written (the reason; also logged).
    """

    recovery_written = Signal(str)
    recovery_failed = Signal(str)
    # Emitted by the writer thread; queued to this object's (the GUI) thread.
    _write_finished = Signal(str, str)

    def __init__(
        self,
        sheet_getter: Callable[[], object],
        path_getter: Callable[[], str | None] | None = None,
        *,
        undo_stack=None,
        idle_ms: int = IDLE_MS,
        max_delay_ms: int = MAX_DELAY_MS,
        session_id: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._sheet_getter = sheet_getter
        self._path_getter = path_getter or (lambda: None)
        self._max_delay = max_delay_ms / 1000.0
        self.session_id = session_id or core_recovery.current_session_id()
        # Tracked from cleanChanged rather than asked of the stack: holding a
        # reference to the stack would let it be destroyed while this object
        # is being destroyed, and its destructor emits signals (a PySide crash).
        self._tracks_stack = undo_stack is not None
        self._dirty = self._tracks_stack and not undo_stack.isClean()
        self._first_change: float | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending: tuple | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(idle_ms)
        self._timer.timeout.connect(self._on_idle)
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.setInterval(FILL_DELAY_MS)
        self._fill_timer.timeout.connect(self.write_soon)
        self._write_finished.connect(self._on_write_finished)
        if undo_stack is not None:
            undo_stack.indexChanged.connect(self._on_index_changed)
            undo_stack.cleanChanged.connect(self._on_clean_changed)

    # -- scheduling ------------------------------------------------------------------

    def _is_dirty(self) -> bool:
        return self._dirty

    @Slot()
    def note_change(self) -> None:
        """The sheet changed: write a copy once the user pauses (restarts the idle timer)."""
        self._dirty = True
        now = time.monotonic()
        if self._first_change is None:
            self._first_change = now
        if now - self._first_change >= self._max_delay:
            self.write_soon()  # a long burst of typing: do not wait for a pause
            return
        self._timer.start()

    @Slot(int)
    def _on_index_changed(self, _index: int) -> None:
        if self._is_dirty():
            self.note_change()

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self._dirty = not clean
        if clean:
            self.discard()
        else:
            self.note_change()  # e.g. a restored sheet marked unsaved

    @Slot()
    def _on_idle(self) -> None:
        self.write_soon()

    def is_pending(self) -> bool:
        """Whether a copy is due (idle timer running) or being written."""
        return self._timer.isActive() or self._fill_timer.isActive() or self._thread is not None

    # -- writing ---------------------------------------------------------------------

    def _snapshot(self):
        sheet = self._sheet_getter()
        if sheet is None:
            return None
        # The sheet's own arrays, not copies: the copy is committed only if
        # the sheet is unchanged once it is written (an edit meanwhile
        # brings a copy of its own).  Five million rows: no 40 MB copy of
        # the label column on the GUI thread after each fill.
        return core_recovery.RecoveryData.from_sheet(sheet, live=True), self._path_getter()

    @Slot()
    @Slot(object)
    def write_after_fill(self, _plan: object = None) -> None:
        """A fill was applied: write a copy ``FILL_DELAY_MS`` from now (not after the idle time)."""
        self._fill_timer.start()

    @Slot()
    def write_soon(self) -> None:
        """Write a copy now, in the background, if there are unsaved changes (e.g. after a fill)."""
        self._timer.stop()
        self._fill_timer.stop()
        self._first_change = None
        if not self._is_dirty():
            return
        snap = self._snapshot()
        if snap is None:
            return
        with self._lock:
            if self._thread is not None:
                self._pending = snap  # the running writer picks it up next
                return
            self._thread = threading.Thread(
                target=self._run, args=(snap,), name="emgui-recovery", daemon=True
            )
            self._thread.start()

    def _run(self, snap) -> None:
        while True:
            data, source = snap
            try:
                path = core_recovery.write_recovery(data, source, self.session_id)
            except Exception as exc:  # noqa: BLE001 - a failed copy must never take the app down
                _log.warning("could not write the recovery copy", exc_info=True)
                self._emit_finished("", str(exc) or type(exc).__name__)
            else:
                if path is not None:  # None: the sheet changed meanwhile, nothing committed
                    self._emit_finished(str(path), "")
            with self._lock:
                snap, self._pending = self._pending, None
                if snap is None:
                    self._thread = None
                    break
        # Writing a million rows leaves tens of MB of freed blocks behind.
        from emgui.ui.loader import release_memory

        release_memory()

    def _emit_finished(self, path: str, error: str) -> None:
        # RuntimeError: the keeper was deleted while the thread wrote.
        with contextlib.suppress(RuntimeError):
            self._write_finished.emit(path, error)

    @Slot(str, str)
    def _on_write_finished(self, path: str, error: str) -> None:
        if error:
            self.recovery_failed.emit(error)
        else:
            self.recovery_written.emit(path)

    def write_now(self) -> Path | None:
        """Write a copy right away, on this thread, whether or not there are unsaved changes.

        Used by the exception handler.  Returns the sidecar's path, or None
        if there is no sheet or the copy could not be written (logged).
        """
        self._timer.stop()
        self._fill_timer.stop()
        self._first_change = None
        snap = self._snapshot()
        if snap is None:
            return None
        with self._lock:
            self._pending = None
        self.wait()
        try:
            path = core_recovery.write_recovery(snap[0], snap[1], self.session_id)
        except Exception as exc:  # noqa: BLE001 - see _run
            _log.warning("could not write the recovery copy", exc_info=True)
            self.recovery_failed.emit(str(exc) or type(exc).__name__)
            return None
        if path is not None:  # on this thread the sheet cannot change meanwhile
            self.recovery_written.emit(str(path))
        return path

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait for a background write to finish; True if none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @Slot()
    def discard(self) -> None:
        """Remove this session's copy (after a save, an undo to the saved state, a clean close)."""
        self._timer.stop()
        self._fill_timer.stop()
        self._first_change = None
        if not self._tracks_stack:
            self._dirty = False
        with self._lock:
            self._pending = None
        self.wait()
        core_recovery.discard_recovery(self.session_id)


# --------------------------------------------------------------------------- start-up


def _when(saved_at: _dt.datetime) -> str:
    local = saved_at.astimezone()
    if local.date() == _dt.date.today():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def ask_restore(parent: QWidget | None, info: core_recovery.RecoveryInfo) -> str:
    """Ask whether to restore a recovery copy.

    Returns
    -------
    str
        ``"restore"``, ``"discard"``, or ``"keep"`` when the question was
        closed without an answer (the copy stays for the next start).
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore unsaved work?")
    box.setText(
        f"EM Gap Filler closed unexpectedly. Restore unsaved work from "
        f"{_when(info.saved_at)} ({info.file_name})?"
    )
    box.setInformativeText(
        "Restore opens it as an unsaved sheet; Discard deletes the recovery copy."
    )
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    if clicked is restore:
        return "restore"
    if clicked is discard:
        return "discard"
    return "keep"


def _warn_unreadable(parent: QWidget | None, info: core_recovery.RecoveryInfo, reason: str) -> None:
    QMessageBox.warning(
        parent,
        "Cannot restore unsaved work",
        f"The recovery copy from {_when(info.saved_at)} ({info.file_name}) could not be read: "
        f"{reason}\n\nIt was kept at {os.fspath(info.table_path)}.",
    )


def offer_recovery(parent: QWidget | None = None, session_id: str | None = None):
    """At start-up: offer the work a crashed or killed run left behind.

    Copies are offered newest first until one is restored or none is left;
    each one the user discards is deleted.  A restored copy is first written
    again as this session's copy (``session_id``) and only then is the old
    one removed, so the work is on disk at every moment.

    Returns
    -------
    tuple of (Sheet, str or None), or None
        The restored sheet and the file it belongs to.  The caller shows it
        as a sheet with unsaved changes.
    """
    for info in core_recovery.list_recoveries():
        answer = ask_restore(parent, info)
        if answer == "discard":
            core_recovery.discard_recovery(info)
            continue
        if answer != "restore":
            return None
        try:
            sheet, source = core_recovery.load_recovery(info)
        except (OSError, ValueError) as exc:  # FileFormatError is a ValueError
            _log.warning("could not read the recovery copy %s", info.table_path, exc_info=True)
            _warn_unreadable(parent, info, str(exc))
            continue
        try:
            core_recovery.write_recovery(sheet, source, session_id)
        except OSError:
            _log.warning("could not copy the restored work; the old copy is kept", exc_info=True)
        else:
            core_recovery.discard_recovery(info)
        return sheet, source
    return None


def keep_recovery(window, *, open_after: str | os.PathLike | None = None) -> RecoveryKeeper:
    """Give ``window`` (a :class:`~emgui.ui.window.MainWindow`) crash recovery.

    Creates its :class:`RecoveryKeeper` (copies after edits and right after
    every fill) and, once the event loop runs, offers what a crashed run left
    behind.  A restored sheet is shown as unsaved work; otherwise
    ``open_after`` (the command line's file) is opened -- never both, so a
    file cannot silently replace restored work.  The caller calls
    :meth:`RecoveryKeeper.discard` after a clean exit.
    """
    keeper = RecoveryKeeper(
        lambda: window.sheet, lambda: window.path, undo_stack=window.undo_stack, parent=window
    )
    window.fill_applied.connect(keeper.write_after_fill)

    def start() -> None:
        restored = offer_recovery(window, keeper.session_id)
        if restored is not None:
            sheet, path = restored
            window.set_sheet(sheet, path)
            # Restored work is unsaved work: the title shows it, closing asks.
            window.undo_stack.resetClean()
            window.statusBar().showMessage("Restored unsaved work. Save it to keep it.", 10_000)
        elif open_after is not None:
            window.open_when_ready(open_after)

    QTimer.singleShot(0, window, start)  # not after the window is gone
    return keeper
