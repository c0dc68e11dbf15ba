"""File menu: new, open, save, save as, export, recent files, drag and drop; the document's title.

A part of :class:`emgui.ui.window.MainWindow` (a mixin).  Large files are
read and written in a thread behind a progress dialog
(:mod:`emgui.ui.loader`); a file that cannot be read leaves the open sheet
as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

from emgui._resources import resource_dir
from emgui.ui import dialogs, pacing

__all__ = ["RESOURCES", "SAMPLE_PATH", "FileActions", "WelcomePanel"]

RESOURCES = resource_dir()
SAMPLE_PATH = RESOURCES / "sample_class.csv"
MAX_RECENT = 8
SAVE_FILTERS = ("CSV (*.csv)", "Tab-separated (*.tsv)", "Excel workbook (*.xlsx)")
EXPORT_FILTERS = ("CSV (*.csv)", "Excel workbook (*.xlsx)")
#: Offered beside "CSV like the file" when the file has a dialect of its own.
EXPORT_PLAIN_CSV = "CSV with commas, UTF-8 (*.csv)"
APP_TITLE = "EM Gap Filler"


def local_path(path: str | os.PathLike) -> str:
    """``path``, or the local file a ``file://`` URL names (``%20`` decoded), as file managers pass them."""
    text = os.fspath(path)
    if text.lower().startswith("file:"):
        url = QUrl(text)
        if url.isLocalFile():
            return url.toLocalFile()
    return text


def unused_name(path: Path) -> Path:
    """``path``, or ``name (2).ext``, ``name (3).ext``... when a file of that name exists."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


class WelcomePanel(QFrame):
    """Shown over an empty new sheet: open a file, the sample, or start typing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#welcome { background: #F4F8FB; border: 1px solid #C9D6E2; border-radius: 4px; }")
        layout = QHBoxLayout(self)
        text = QLabel(
            "<b>Welcome to EM Gap Filler.</b> Open a spreadsheet with a label column "
            "(e.g. gender) and a number column (e.g. height), or just start typing below. "
            "Then press <b>F5</b> to fill the blank labels."
        )
        text.setWordWrap(True)
        layout.addWidget(text, 1)
        self.open_button = QPushButton("Open a File…")
        self.sample_button = QPushButton("Open the Sample Class")
        layout.addWidget(self.open_button)
        layout.addWidget(self.sample_button)


class FileActions:
    """The document: which sheet is open, from which file, and the File menu's actions."""

    def open_when_ready(self, path: str | os.PathLike) -> None:
        """Open ``path`` as soon as the start-up has finished (the command line's file)."""
        if self._ready:
            QTimer.singleShot(0, self, lambda: self.open_path(path, ask=False))
        else:
            self._pending_open = os.fspath(path)

    def _show_welcome(self) -> None:
        """Show the welcome panel over an empty sheet, ready for typing in its first cell."""
        self.welcome.show()
        # The panel's buttons come first in the focus chain: without this,
        # "just start typing" would type into a button.
        self.view.setCurrentIndex(self._model.index(0, 0))
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_sheet(self, sheet, path: str | os.PathLike | None = None) -> None:
        """Show ``sheet`` (a :class:`~emgui.core.sheet.Sheet`) as a freshly opened document."""
        self._ensure_ready()
        self._stop_quietly()
        self._attach_sheet(sheet, None if path is None else os.fspath(path))

    def _attach_sheet(self, sheet, path: str | None) -> None:
        if self._sheet is not None:
            self._sheet.unsubscribe(self._on_sheet_event)
        self._sheet = sheet
        self._path = path
        self.set_min_confidence(0.0)  # the threshold belongs to the sheet it was set for
        self._stepped = None  # a fit stepped on another sheet
        self._columns_suggested = False  # Data ▸ Columns… has not yet offered this sheet's measurements
        self._fit_input = None
        self._pending_display = None  # an older sheet's fit: never drawn over this one
        sheet.subscribe(self._on_sheet_event)
        if self._model.sheet is not sheet:
            self._model.set_sheet(sheet)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        if self.filter_combo.currentIndex() != 0:
            self.filter_combo.setCurrentIndex(0)  # a new document shows all its rows
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.setWindowModified(False)
        self._update_title()
        self._update_counts()
        self.fit_label.setText("")
        self.fit_panel.clear()
        self.welcome.hide()
        if sheet.n_rows >= pacing.LARGE_ROWS:
            # The table first; column widths and the plot (~30 ms each at a
            # million rows) follow in later turns of the event loop, so the
            # window never stalls for the sum of all three.
            # A short wait before each, not a zero-timer: timers already due
            # all run in the same pass of the event loop as the table's
            # first paint, with no input handled in between.
            serial = self._fit_serial

            def plot_later() -> None:
                QTimer.singleShot(pacing.STEP_MS, self, draw)

            def draw() -> None:
                if self._fit_serial == serial:  # else a fit has drawn the data already
                    self._show_data_in_plot()

            QTimer.singleShot(pacing.STEP_MS, self, self._size_columns)
            QTimer.singleShot(pacing.STEP_MS, self, plot_later)
        else:
            self._size_columns()
            self._show_data_in_plot()

    def _display_name(self) -> str:
        return Path(self._path).name if self._path else "Untitled"

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — {APP_TITLE}")

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def _maybe_save(self) -> bool:
        """Ask about unsaved changes; True if it is fine to drop the sheet."""
        if self._sheet is None or self.undo_stack.isClean():
            return True
        answer = dialogs.ask_unsaved_changes(self, self._display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    @Slot()
    def new_sheet(self) -> None:
        self._ensure_ready()
        if not self._maybe_save():
            return
        from emgui.core.sheet import Sheet

        self._stop_quietly()
        self._attach_sheet(Sheet.blank(), None)
        self._show_welcome()

    def _start_dir(self) -> str:
        if self._path:
            return str(Path(self._path).parent)
        return str(self._settings.value("files/lastDir", "") or Path.home())

    @Slot()
    def open_file(self) -> None:
        self._ensure_ready()
        if not self._maybe_save():
            return
        path = dialogs.ask_open_path(self, self._start_dir())
        if path:
            self.open_path(path, ask=False)

    @Slot()
    def open_sample(self) -> None:
        self.open_path(str(SAMPLE_PATH))

    def open_path(self, path: str | os.PathLike, *, ask: bool = True) -> bool:
        """Open a spreadsheet file; on failure show why and keep the current sheet.

        Parameters
        ----------
        path : str or os.PathLike
        ask : bool, default True
            Ask about unsaved changes first.

        Returns
        -------
        bool
            True if the file was opened.
        """
        self._ensure_ready()
        if ask and not self._maybe_save():
            return False
        from emgui.core import fileio
        from emgui.ui.loader import load_sheet

        path = local_path(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            # A large file is read in a thread behind a progress dialog (Cancel
            # gives None); the thread also prepares the data for the plot.
            sheet = load_sheet(self, path, self._n_components)
        except (fileio.FileFormatError, OSError, ValueError) as exc:
            QApplication.restoreOverrideCursor()
            QMessageBox.warning(self, "Cannot open the file", str(exc))
            return False
        QApplication.restoreOverrideCursor()
        if sheet is None:
            self.statusBar().showMessage(f"Did not open {Path(path).name}: cancelled.", 4000)
            return False
        self._stop_quietly()
        self._attach_sheet(sheet, path)
        self._release_memory_soon()
        self._add_recent(path)
        if sheet.load_warnings:
            # How the file was read (lines in another encoding): said where
            # it stays visible a while, without a dialog in the way.
            self.statusBar().showMessage(" ".join(sheet.load_warnings), 20000)
        else:
            self.statusBar().showMessage(f"Opened {Path(path).name}", 4000)
        self.sheet_loaded.emit(path)
        return True

    def _release_memory_soon(self) -> None:
        """After a load or a fill: hand the memory their temporaries used back to the system.

        A million rows leave 50-70 MB of freed blocks in the C allocator
        (which keeps them for reuse) otherwise; trimming takes a few ms, in
        a thread of its own.
        """
        from emgui.ui.loader import release_memory_in_background

        QTimer.singleShot(0, release_memory_in_background)

    def _add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self._recent_files() if p != path]
        recent.insert(0, path)
        self._settings.setValue("files/recent", recent[:MAX_RECENT])
        self._settings.setValue("files/lastDir", str(Path(path).parent))

    def _recent_files(self) -> list[str]:
        value = self._settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent_files()
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
            return
        for i, path in enumerate(recent, 1):
            action = self.recent_menu.addAction(f"&{i} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear List", lambda: self._settings.setValue("files/recent", []))

    @Slot()
    def save(self) -> bool:
        """Save to the sheet's file (Save As when it has none or cannot be written back)."""
        self._ensure_ready()
        from emgui.core import fileio

        if self._path is None or Path(self._path).suffix.lower() not in fileio.SUPPORTED_WRITE:
            return self.save_as()
        return self.save_to(self._path)

    @Slot()
    def save_as(self) -> bool:
        self._ensure_ready()
        from emgui.core import fileio

        if self._path:
            p = Path(self._path)
            # A file that cannot be written back (an .ods) is saved as a
            # workbook beside it, never over another file of that name.
            suggestion = str(p if p.suffix.lower() in fileio.SUPPORTED_WRITE else unused_name(p.with_suffix(".xlsx")))
        else:
            suggestion = str(Path(self._start_dir()) / "Untitled.csv")
        filters = list(SAVE_FILTERS)
        if suggestion.lower().endswith(".xlsx"):
            filters.insert(0, filters.pop(2))
        path = dialogs.ask_save_path(self, "Save As", suggestion, filters, Path(suggestion).suffix[1:] or "csv")
        if not path:
            return False
        return self.save_to(path)

    def save_to(self, path: str | os.PathLike) -> bool:
        """Write the sheet (raw cells and the fill marks) to ``path``; True on success."""
        self._ensure_ready()
        path = os.fspath(path)
        n_cols = self._sheet.n_cols
        columns, cells = self._sheet.to_table()
        # Save never changes the file's dialect; the marks after the sheet's
        # own columns are the program's (decimal mark, booleans).
        said: list[str] = []
        if not self._write(
            path, columns, cells, dialect=self._sheet.dialect, computed=range(n_cols, len(columns)),
            warnings=said,
        ):
            return False
        self._path = path
        self.undo_stack.setClean()
        self._update_title()
        self._add_recent(path)
        self.statusBar().showMessage(" ".join(said) or f"Saved {Path(path).name}", 20000 if said else 4000)
        return True

    def _write(self, path: str, columns, cells, **extras) -> bool:
        from emgui.core import fileio
        from emgui.ui.loader import save_table

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            # A large table is written in a thread behind a progress dialog.
            written = save_table(self, path, columns, cells, **extras)
        except (fileio.FileFormatError, OSError, ValueError) as exc:
            QApplication.restoreOverrideCursor()
            QMessageBox.warning(self, "Cannot save the file", str(exc))
            return False
        QApplication.restoreOverrideCursor()
        if not written:
            self.statusBar().showMessage(f"Did not save {Path(path).name}: cancelled.", 4000)
        return written

    def _export_filters(self) -> tuple[list[str], str | None]:
        """Export's file types, and the one that writes CSV in the file's own dialect (if it has one)."""
        from emgui.core.dialect import DEFAULT

        dialect = self._sheet.dialect if self._sheet is not None else None
        if dialect is None or dialect.for_extension(".csv") == DEFAULT:
            return list(EXPORT_FILTERS), None
        own = f"CSV like the file: {dialect.for_extension('.csv').describe()} (*.csv)"
        return [own, EXPORT_PLAIN_CSV, EXPORT_FILTERS[1]], own

    @Slot()
    def export(self) -> bool:
        """Ask for a CSV or XLSX path and write the completed sheet (Ctrl+E)."""
        self._ensure_ready()
        base = Path(self._path).stem if self._path else "Untitled"
        suggestion = str(Path(self._start_dir()) / f"{base}_filled.csv")
        filters, own = self._export_filters()
        chosen: list[str] = []
        path = dialogs.ask_save_path(self, "Export", suggestion, filters, "csv", chosen_filter=chosen)
        if not path:
            return False
        from emgui.core.dialect import DEFAULT

        plain = own is not None and chosen[:1] == [EXPORT_PLAIN_CSV]
        return self.export_to(path, dialect=DEFAULT if plain else None)


    @Slot()
    def export_draws(self) -> bool:
        """Ask how many copies and where, then write the last fill's multiple imputations."""
        from PySide6.QtWidgets import QInputDialog

        from emgui.core.fill import draws_table

        job, version = getattr(self, "_last_job", None) or (None, None)
        if job is None or self._sheet is None or version != self._sheet.version:
            QMessageBox.information(self, "Export Multiple Imputations",
                                    "Fill the gaps first (F5): the copies are drawn from the last fill "
                                    "of the sheet as it is now.")
            return False
        m, ok = QInputDialog.getInt(self, "Export Multiple Imputations", "Copies to draw:", 5, 1, 1000)
        base = Path(self._path).stem if self._path else "Untitled"
        path = ok and dialogs.ask_save_path(self, "Export Multiple Imputations",
                                            str(Path(self._start_dir()) / f"{base}_imputations.csv"),
                                            list(EXPORT_FILTERS), "csv")
        if not path:
            return False
        columns, cells = draws_table(self._sheet, job, m, seed=int(self.fit_options.get("seed", 0)))
        return self._write(os.fspath(path), columns, cells, dialect=self._sheet.dialect,
                           computed=[0, *range(self._sheet.n_cols + 1, len(columns))])

    def export_to(self, path: str | os.PathLike, *, dialect=None) -> bool:
        """Write the ``emgui-cli fill`` output for the sheet to ``path``; True on success.

        XLSX files get the filled label cells shaded as in the window, with
        the probabilities in a comment.  A CSV is written in ``dialect``, by
        default the one of the file the sheet came from.
        """
        self._ensure_ready()
        from emgui.core.fill import export_styles, export_table

        path = os.fspath(path)
        sheet = self._sheet
        columns, cells = export_table(sheet)
        extras = {}
        if Path(path).suffix.lower() == ".xlsx":
            fill_colors, comments = export_styles(sheet)
            extras = {"fill_colors": fill_colors, "comments": comments}
        said: list[str] = []
        if not self._write(
            path, columns, cells, dialect=dialect or sheet.dialect,
            computed=range(sheet.n_cols, len(columns)), warnings=said, **extras,
        ):
            return False
        self._settings.setValue("files/lastDir", str(Path(path).parent))
        self.statusBar().showMessage(" ".join(said) or f"Exported {Path(path).name}", 20000 if said else 5000)
        return True

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls: list[QUrl] = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            # Open after the drop returns: a message box inside a drop handler
            # would freeze the drag source on some platforms.
            path = urls[0].toLocalFile()
            QTimer.singleShot(0, self, lambda: self.open_path(path))
