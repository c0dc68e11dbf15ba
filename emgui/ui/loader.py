"""Opening and saving files without freezing the window.

:func:`load_sheet` reads a file into a :class:`~emgui.core.sheet.Sheet` and
:func:`save_table` writes one.  Every file is read in a ``QThread`` (a
small one too: a hostile workbook is refused there, and whatever a reader
raises reaches the window as an error, never a frozen or killed GUI
thread), behind a progress dialog that appears after a second and whose
Cancel button stops the work.  A large table (100,000 rows of XLSX take up
to 15 s to write) is written the same way; a small one at once.  The call itself waits (in
a local event loop), so the window's code stays a plain "read, then show"
sequence.

The thread also prepares the fit's input for the new sheet
(:func:`emgui.core.fill.prepare_fit` keeps it until the sheet changes) and
its histogram, so drawing the data and pressing F5 afterwards cost the GUI
thread almost nothing.  When the read is over, memory the reader's buffers used is
handed back to the system (a million rows leave ~50 MB of freed blocks in
the C allocator otherwise).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading

from PySide6.QtCore import QEventLoop, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from emgui.ui import pacing

__all__ = ["load_sheet", "save_table"]

#: Tables up to this many cells are written on the GUI thread (a CSV of
#: 100,000 rows takes a tenth of a second; an XLSX file, a second).
SYNC_MAX_CELLS = 200_000
#: The dialog appears only if the work is still going after this long: a
#: progress dialog for anything over a second, none flashing by for a
#: shorter wait (showing and closing one stalls the window ~50 ms each).
DIALOG_DELAY_MS = 1000


def _components_for(sheet, n_components: int) -> int | None:
    """K for a fit of ``sheet``: None when its label column names classes (as the window decides)."""
    import numpy as np

    from emgui.core.sheet import USER

    typed = sheet.roles.label is not None and bool(
        np.any(~sheet.label_missing() & (sheet.provenance == USER))
    )
    return None if typed or not n_components else n_components


def _build(path: str, n_components: int | None, progress=None, cancel=None):
    """Read ``path`` and build its sheet; raises what ``read_table`` raises."""
    from emgui.core import fileio
    from emgui.core.fill import FillError, prepare_fit
    from emgui.core.sheet import Sheet

    with contextlib.suppress(ImportError):  # a dependency; the reader says what is wrong
        arrow_on_malloc()  # also if the preloading thread has not got there yet
    # Arrow's columns as they are: the sheet keeps text-only columns packed
    # (a million names: ~15 MB instead of ~70 MB of Python strings).
    table = fileio.read_table(path, progress=progress, cancel=cancel, arrow=True)
    if not table.columns:
        raise fileio.FileFormatError(f"{os.path.basename(path)} has no columns.")
    # Freed blocks stay with the allocators (Arrow's pool, glibc's heap)
    # until trimmed: done between the steps, the reader's and the parser's
    # temporaries do not pile up (a million rows: a peak ~70 MB lower).
    release_memory()
    sheet = Sheet.from_table(table.columns, table.cells)
    # Saving writes a CSV back in its own dialect; what reading it had to
    # guess is said once the window shows it.
    sheet.dialect = table.meta.get("dialect")
    sheet.load_warnings[:0] = table.warnings  # before what detecting its columns said
    del table
    release_memory()
    if n_components is not None:
        # Nothing to draw on failure: the window says why when asked to fit.
        with contextlib.suppress(FillError, ValueError):
            fit_input = prepare_fit(sheet, _components_for(sheet, n_components))
            _ = fit_input.histogram  # binned here too, off the GUI thread
    return sheet


def arrow_on_malloc() -> None:
    """Arrow's arrays from the C library's heap, as every other array of the window (Arrow's public switch).

    Arrow's default pool is mimalloc, a second allocator beside glibc's:
    each keeps the blocks freed in it for its own reuse, so a sheet's
    temporaries that went through both held memory in both at once, and
    :func:`release_memory`'s trims reach only glibc's.  With one heap the
    peak of opening a million rows (``benchmarks/bench_window.py --rows
    1000000``; issue 14 item 3, the window's peak <= 300 MB) was 10-15 MB
    lower in alternating runs; see the README ("What moves the window's
    peak").  The window only: the command line keeps Arrow's default.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def release_memory() -> None:
    """:func:`emgui.core.fileio.release_memory`, imported on first use (it loads numpy)."""
    from emgui.core.fileio import release_memory as release

    release()


def release_memory_in_background() -> threading.Thread:
    """:func:`release_memory` in a short-lived thread: trimming a heap of a
    few hundred MB takes several ms the GUI thread need not wait for (both
    calls are thread-safe and release the GIL)."""
    thread = threading.Thread(target=release_memory, name="emgui-trim", daemon=True)
    thread.start()
    return thread


def preload_readers(*, freeze_gc: bool = False) -> threading.Thread:
    """Import Arrow's CSV reader in a background thread, ahead of the first open.

    Loading pyarrow's libraries holds the interpreter lock for ~50 ms at a
    time (extension modules load with it held); done during the first open,
    those stalls would freeze the progress dialog and the window.  Started
    once the window is up, they happen while nobody is waiting on it.  The
    first call starts the thread, later ones return it (``join`` to wait).

    With ``freeze_gc`` (the real program), every object alive once the
    readers are loaded -- the modules of Qt, pyqtgraph, numpy and Arrow,
    ~80,000 objects -- is moved out of the garbage collector's full passes
    (:func:`gc.freeze`): each such pass held the interpreter lock for
    30-40 ms, a stall of the window at random moments.  Those objects live
    as long as the program anyway.
    """
    global _PRELOAD
    if _PRELOAD is not None:
        return _PRELOAD

    def load() -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.compute  # noqa: F401
            import pyarrow.csv  # noqa: F401
        except ImportError:  # pragma: no cover - a dependency; the reader says what is wrong
            pass
        else:
            arrow_on_malloc()
        if freeze_gc:
            gc.freeze()

    _PRELOAD = threading.Thread(target=load, name="emgui-preload", daemon=True)
    _PRELOAD.start()
    return _PRELOAD


_PRELOAD: threading.Thread | None = None


class _Job(QObject):
    """Runs ``job(progress, cancel)`` in a worker thread.

    How far it got is in :attr:`permille` and :attr:`stage`, read by a timer
    in the GUI thread: a modal progress dialog's ``setValue`` runs the event
    loop, and fed by queued signals it would re-enter itself.

    Signals
    -------
    done(object)
        The job's result.
    failed(object)
        The exception (``FileFormatError``, ``OSError``, ``ValueError``).
    cancelled()
        The job stopped at the user's request.
    ended()
        Emitted last, whatever the outcome.
    """

    done = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, job, stage: str) -> None:
        super().__init__()
        self._job = job
        self._abort = threading.Event()
        self.permille = 0  # plain attributes: one writer, one reader
        self.stage = stage

    def abort(self) -> None:
        """Stop at the next progress report (thread-safe)."""
        self._abort.set()

    def report(self, permille: int, stage: str | None = None) -> None:
        """Called by the job, in its thread."""
        self.permille = int(permille)
        if stage is not None:
            self.stage = stage

    @Slot()
    def run(self) -> None:
        from emgui.core import fileio

        try:
            result = self._job(self.report, self._abort.is_set)
            if self._abort.is_set():
                self.cancelled.emit()
            else:
                self.done.emit(result)
        except fileio.ReadCancelled:
            self.cancelled.emit()
        except (fileio.FileFormatError, OSError, ValueError, MemoryError) as exc:
            self.failed.emit(exc)
        except Exception as exc:  # noqa: BLE001 - re-raised in the GUI thread, to its one handler
            self.failed.emit(exc)
        finally:
            self.ended.emit()


def _run(parent: QWidget | None, title: str, stage: str, job):
    """Run ``job(report, cancel)`` in a thread behind a window-modal progress dialog.

    Waits in a local event loop, so the window stays alive.  Returns the
    job's result, or None if the user cancelled; re-raises what it raised.
    """
    worker = _Job(job, stage)
    thread = QThread()
    worker.moveToThread(thread)
    outcome: dict = {}
    loop = QEventLoop()
    dialog = QProgressDialog(stage, "Cancel", 0, 1000, parent)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(DIALOG_DELAY_MS)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setValue(0)
    dialog.canceled.connect(worker.abort, Qt.ConnectionType.DirectConnection)

    def show_progress() -> None:
        if dialog.labelText() != worker.stage:
            dialog.setLabelText(worker.stage)
        if worker.permille != dialog.value():
            dialog.setValue(min(worker.permille, 999))

    # A timer in the GUI thread feeds the dialog (Qt never re-enters a timer's
    # slot); the outcome slots below only store what arrives, in any thread.
    ticker = QTimer()
    ticker.setInterval(50)
    ticker.timeout.connect(show_progress)
    ticker.start()
    worker.done.connect(lambda result: outcome.setdefault("result", result))
    worker.failed.connect(lambda exc: outcome.setdefault("error", exc))
    worker.cancelled.connect(lambda: outcome.setdefault("cancelled", True))
    worker.ended.connect(thread.quit)
    thread.finished.connect(loop.quit)
    thread.started.connect(worker.run)
    thread.start()
    loop.exec()
    thread.wait()
    ticker.stop()
    dialog.close()
    dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def load_sheet(parent: QWidget | None, path: str | os.PathLike, n_components: int | None = None):
    """Read ``path`` into a new sheet in a thread, with a progress dialog after a second.

    Parameters
    ----------
    parent : QWidget or None
        The window the progress dialog belongs to (it is window-modal).
    path : str or os.PathLike
    n_components : int, optional
        The window's K for sheets without typed classes; given, the fit's
        input is prepared in the thread too (see the module docstring).

    Returns
    -------
    Sheet or None
        None when the user cancelled.

    Raises
    ------
    FileFormatError, OSError, ValueError
        As :func:`emgui.core.fileio.read_table` (and the sheet) raise them.
    """
    from emgui.core._guards import printable

    path = os.fspath(path)
    name = printable(os.path.basename(path))

    def job(report, cancel):
        def progress(fraction: float) -> None:
            # Reading is the first 80 %; building the sheet the rest.
            report(800 * fraction, f"Preparing {name}…" if fraction >= 1.0 else None)

        sheet = _build(path, n_components, progress, cancel)
        if sheet.n_rows >= pacing.LARGE_ROWS:
            from emgui.ui.table_model import prepare_row_numbers

            prepare_row_numbers(sheet.n_rows)  # the table's first order, off the GUI thread
        release_memory()  # the reader's temporaries are gone: here, not on the GUI thread
        return sheet

    return _run(parent, "Opening", f"Reading {name}…", job)


def save_table(
    parent: QWidget | None, path: str | os.PathLike, columns, cells, *, warnings: list | None = None, **extras
) -> bool:
    """Write a table with :func:`emgui.core.fileio.write_table`; in a thread when it is large.

    A table of more than ``SYNC_MAX_CELLS`` cells (an XLSX file of 100,000
    rows takes 6-15 s) is written behind a progress dialog whose Cancel
    leaves the file as it was.  ``warnings``, when given, receives what
    ``write_table`` had to say (an encoding it could not keep).

    Returns
    -------
    bool
        False when the user cancelled.

    Raises
    ------
    FileFormatError, OSError, ValueError
        As ``write_table`` raises them.
    """
    from emgui.core import fileio

    path = os.fspath(path)
    n_rows = len(cells[0]) if len(cells) else 0
    said = [] if warnings is None else warnings
    if n_rows * max(len(cells), 1) <= SYNC_MAX_CELLS:
        said.extend(fileio.write_table(path, columns, cells, **extras))
        return True

    def job(report, cancel):
        said.extend(
            fileio.write_table(
                path, columns, cells, progress=lambda f: report(1000 * f), cancel=cancel, **extras
            )
        )
        return True

    return bool(_run(parent, "Saving", f"Writing {os.path.basename(path)}…", job))
