"""One handler for every unexpected exception.

:func:`install_excepthook` replaces ``sys.excepthook`` (which PySide6 calls
for an exception escaping a slot or a Qt virtual method) and
``threading.excepthook``.  For each unexpected exception it

1. writes the traceback to the log (``<app data>/emgui.log``; a log over
   1 MB is moved to ``emgui.log.1`` at start, keeping three);
2. writes a recovery copy of the open sheet (through the window's
   :class:`~emgui.ui.recovery.RecoveryKeeper`), so the work is on disk even
   if the next thing to happen is a crash;
3. shows a dialog with the one-line message and where the log is -- once per
   kind of error (same type, same place), so a fault in a paint event does
   not bury the user in dialogs; repeats go to the log and the status bar.

It changes nothing else: the sheet stays as it was and the app keeps running.
Errors in the fit worker do not come here; they arrive as the controller's
``fit_failed(str)``.  An exception in another thread is logged there and
shown on the GUI thread.

The dialog is :func:`show_error_dialog`, looked up on this module at call
time so a test can replace it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from emgui.core.recovery import app_data_dir

__all__ = ["ErrorHandler", "default_log_path", "install_excepthook", "show_error_dialog"]

_log = logging.getLogger("emgui.errors")

_LOG_BYTES = 1_000_000
_LOG_BACKUPS = 3
_MESSAGE_CHARS = 300


def default_log_path() -> Path:
    """``<app data>/emgui.log`` (see :func:`emgui.core.recovery.app_data_dir`)."""
    return app_data_dir() / "emgui.log"


def one_line(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """``"ValueError: bad value"``: the exception's first line, shortened to fit a dialog."""
    text = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    line = f"{exc_type.__name__}: {text}" if text else exc_type.__name__
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 1] + "\u2026"


def show_error_dialog(parent: QWidget | None, message: str, log_path: Path | None, recovered: bool) -> None:
    """Tell the user about an unexpected error (modal)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Unexpected error")
    box.setText(f"Something went wrong in EM Gap Filler:\n{message}")
    kept = "Your sheet was not changed"
    if recovered:
        kept += " and a recovery copy of it was saved"
    where = f"The details are in the log file:\n{log_path}" if log_path else "The log could not be written."
    box.setInformativeText(
        f"{kept}. You can go on working; saving your work now is a good idea.\n\n{where}"
    )
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


def _rotate(path: Path) -> None:
    """Start a new log when the old one is large: ``emgui.log`` -> ``emgui.log.1`` -> ... ``.3``.

    Rotating once per start (not per record, as ``logging.handlers`` does)
    is enough for a log that holds only errors, and keeps that module's
    50 ms import out of the start-up.
    """
    try:
        if path.stat().st_size < _LOG_BYTES:
            return
    except OSError:
        return
    for i in range(_LOG_BACKUPS, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        newer = path if i == 1 else path.with_name(f"{path.name}.{i - 1}")
        # Another running instance may hold the file (Windows): then keep appending.
        with contextlib.suppress(OSError):
            if newer.exists():
                os.replace(newer, older)


class ErrorHandler(QObject):
    """The installed hook; see :func:`install_excepthook`.

    Signals
    -------
    error_reported(str)
        After an unexpected exception was logged and handled (its one-line
        message), on the GUI thread.
    """

    error_reported = Signal(str)
    # From another thread to the GUI thread: (message, dialog key).
    _reported_elsewhere = Signal(str, str)

    def __init__(
        self,
        window_getter: Callable[[], QWidget | None],
        *,
        keeper=None,
        log_path: Path | str | None = None,
    ) -> None:
        super().__init__()
        self._window_getter = window_getter
        self._keeper = keeper
        self.log_path: Path | None = Path(log_path) if log_path is not None else default_log_path()
        self._handler: logging.Handler | None = None
        self._previous_hook = None
        self._previous_thread_hook = None
        self._shown: set[str] = set()
        self._busy = False
        self._reported_elsewhere.connect(self._on_reported_elsewhere)

    # -- installing --------------------------------------------------------------------

    def install(self) -> None:
        """Start logging to :attr:`log_path` and take over ``sys.excepthook`` and ``threading.excepthook``."""
        self._open_log()
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread

    def uninstall(self) -> None:
        """Put the previous hooks back and close the log file."""
        if self._previous_hook is not None and sys.excepthook == self.handle:
            sys.excepthook = self._previous_hook
        if self._previous_thread_hook is not None and threading.excepthook == self._handle_thread:
            threading.excepthook = self._previous_thread_hook
        self._previous_hook = self._previous_thread_hook = None
        if self._handler is not None:
            logging.getLogger("emgui").removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def _open_log(self) -> None:
        if self._handler is not None or self.log_path is None:
            return
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            _rotate(self.log_path)
            handler = logging.FileHandler(self.log_path, encoding="utf-8")
        except OSError:
            # No log (read-only home folder): the dialog says so; the app runs on.
            self.log_path = None
            return
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [pid %(process)d]: %(message)s")
        )
        handler.setLevel(logging.INFO)
        root = logging.getLogger("emgui")
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        self._handler = handler

    # -- handling ----------------------------------------------------------------------

    def handle(self, exc_type, exc, tb) -> None:
        """``sys.excepthook``: log, keep a recovery copy, tell the user once."""
        try:
            if issubclass(exc_type, KeyboardInterrupt):
                (self._previous_hook or sys.__excepthook__)(exc_type, exc, tb)
                return
            message, key = self._log(exc_type, exc, tb)
            if threading.current_thread() is threading.main_thread():
                self._report(message, key)
            else:
                self._reported_elsewhere.emit(message, key)
        except Exception:  # noqa: BLE001 - the hook itself must never fail
            sys.__excepthook__(exc_type, exc, tb)

    def _handle_thread(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def _log(self, exc_type, exc, tb) -> tuple[str, str]:
        message = one_line(exc_type, exc)
        _log.error("Unexpected error: %s", message, exc_info=(exc_type, exc, tb))
        if sys.stderr is not None:  # a terminal, if any, sees it too (pythonw has none)
            traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        frames = traceback.extract_tb(tb) if tb is not None else []
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        return message, f"{exc_type.__module__}.{exc_type.__qualname__}@{where}"

    @Slot(str, str)
    def _on_reported_elsewhere(self, message: str, key: str) -> None:
        self._report(message, key)

    def _report(self, message: str, key: str) -> None:
        if self._busy:
            return  # an error while the dialog is open: logged, not shown again
        self._busy = True
        try:
            recovered = self._write_recovery()
            window = self._window()
            if key in self._shown:
                if window is not None and hasattr(window, "statusBar"):
                    window.statusBar().showMessage(f"Unexpected error (see the log): {message}", 8000)
            else:
                self._shown.add(key)
                show_error_dialog(window, message, self.log_path, recovered)
        finally:
            self._busy = False
        self.error_reported.emit(message)

    def _window(self) -> QWidget | None:
        try:
            return self._window_getter()
        except Exception:  # noqa: BLE001 - a window half torn down: no parent then
            return None

    def _write_recovery(self) -> bool:
        if self._keeper is None:
            return False
        try:
            return self._keeper.write_now() is not None
        except Exception:  # noqa: BLE001 - the handler must never raise
            _log.warning("no recovery copy after the error", exc_info=True)
            return False


def install_excepthook(
    window_getter: Callable[[], QWidget | None],
    *,
    keeper=None,
    log_path: Path | str | None = None,
) -> ErrorHandler:
    """Route every unexpected exception to one handler (see the module docstring).

    Parameters
    ----------
    window_getter : callable() -> QWidget or None
        The main window: the dialog's parent and the status bar for repeats.
    keeper : RecoveryKeeper, optional
        Writes the recovery copy; without it none is written.
    log_path : path, optional
        Default :func:`default_log_path`.

    Returns
    -------
    ErrorHandler
        Installed; call :meth:`ErrorHandler.uninstall` to put the previous
        hooks back (tests do).
    """
    handler = ErrorHandler(window_getter, keeper=keeper, log_path=log_path)
    handler.install()
    return handler
