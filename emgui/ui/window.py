"""The main window: a spreadsheet that fills its gaps with EM.

The window is glue.  The document is a :class:`emgui.core.sheet.Sheet`; the
table is :class:`emgui.ui.table_model.SheetTableModel` over it; every change
is a command on a ``QUndoStack`` (:mod:`emgui.ui.commands`); the fit runs in
:class:`emgui.ui.worker.FitController`'s thread and its result is turned into
cells by :mod:`emgui.core.fill`.

Start-up is split so the window appears quickly: the constructor builds
only widgets and actions (PySide6 alone); :meth:`MainWindow.finish_startup`
imports the core (numpy, pandas), the fit worker and the plot (pyqtgraph),
and runs from a zero-delay timer after the first paint (``defer=True``) or
right away.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from emgui.ui import dialogs
from emgui.ui.delegates import SheetView

__all__ = ["APP_TITLE", "MainWindow"]

_log = logging.getLogger(__name__)
_IMPORTED = time.perf_counter()

APP_TITLE = "EM Gap Filler"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_PATH = RESOURCES / "sample_class.csv"
MAX_RECENT = 8
_SIZE_SAMPLE_ROWS = 50
#: Sheets with more columns have only the columns in view sized, the rest as
#: they scroll into view: each setColumnWidth costs Qt's header time in
#: proportion to the number of columns (it recomputes every section's
#: position), so sizing all 20,000 columns of a wide file took ~40 s.
_EAGER_SIZE_COLUMNS = 200
#: Columns sized beyond the right edge of the view, so a short scroll shows sized columns.
_SIZE_MARGIN_COLUMNS = 8

# The same keys as emgui.ui.table_model.FILTERS, repeated here so the window
# can be built before the core (numpy, pandas) is imported.
ROW_FILTERS = (
    ("all", "All rows"),
    ("missing", "Missing label"),
    ("filled", "Filled"),
    ("uncertain", "Uncertain"),
    ("unreadable", "Unreadable or unusual"),
    ("notes", "With a note"),
)

SAVE_FILTERS = ("CSV (*.csv)", "Tab-separated (*.tsv)", "Excel workbook (*.xlsx)")
EXPORT_FILTERS = ("CSV (*.csv)", "Excel workbook (*.xlsx)")
#: Offered beside "CSV like the file" when the file has a dialect of its own.
EXPORT_PLAIN_CSV = "CSV with commas, UTF-8 (*.csv)"


def app_icon() -> QIcon:
    """The application icon, from the bundled SVG and PNGs."""
    icon = QIcon()
    icons = RESOURCES / "icons"
    for size in (16, 32, 48, 64, 128, 256):
        png = icons / f"emgui-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    svg = icons / "emgui.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon


def _report_startup() -> None:
    """Print ``startup-visible <seconds since the process started>`` to stderr."""
    import sys

    try:  # Linux: field 22 of /proc/self/stat is the start, in clock ticks after boot
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            seconds = float(f.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        seconds = time.perf_counter() - _IMPORTED  # elsewhere: since the window module loaded
    print(f"startup-visible {seconds:.3f}", file=sys.stderr, flush=True)


def _tsv_block(text: str) -> list[list[str]]:
    """Parse tab-separated text (as spreadsheets put it on the clipboard) into rows."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n") or text.endswith("\r"):
        text = text[:-1]
    if text == "":
        return [[""]]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"'))
    return rows or [[""]]


#: Sheets with at least this many rows give memory back after a sort or
#: filter, and are shown in steps (table, then column widths and plot)...
_LARGE_ROWS = 100_000
#: ...this many milliseconds apart, so the event loop paints and handles
#: input between the steps.
_STEP_MS = 20


_COLLECTOR: list = []


def _collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector only in the GUI thread, on a timer.

    Left automatic, a collection runs in whichever thread happens to
    allocate -- a loader or fit thread -- and may destroy Qt objects (the
    cycles of closed windows and dialogs) from there: Qt then deadlocks or
    crashes (seen here once as a test run hanging with the reader thread
    stopped mid-parse while the GUI thread painted).  pyqtgraph's
    GarbageCollector turns the automatic collector off and collects from a
    1 s timer of the GUI thread instead.  Once per process.
    """
    if _COLLECTOR:
        return
    try:
        from pyqtgraph.util.garbage_collector import GarbageCollector
    except Exception:  # noqa: BLE001 - without pyqtgraph the collector stays automatic
        _log.exception("cannot move garbage collection to the GUI thread")
        _COLLECTOR.append(None)
        return
    _COLLECTOR.append(GarbageCollector(interval=1.0))


class _FillRun:
    """One F5 as the fit's thread runs it: the fit input, the model choice, EM, the trust checks.

    ``prepare`` makes the fit's input from a copy of the sheet (large sheets)
    or hands over the one already made; ``make_fit`` screens for unusual
    values, chooses the model by BIC and gives the EM fit the plot follows;
    ``after`` runs the final checks, the self-check and the calibration, and
    plans the fill (see :class:`emgui.core.fill.FillJob`).  All three run in
    the fit's thread; the window only writes the plan.
    """

    def __init__(self, fit_input, components, min_confidence: float, options: dict, source=None,
                 fill: str = "labels") -> None:
        self.fit_input, self.source, self.fill = fit_input, source, fill
        self.components, self.min_confidence = components, float(min_confidence)
        self.options = dict(options)
        self.job = None

    def prepare(self):
        if self.fit_input is None:
            from emgui.core.fill import prepare_from

            self.fit_input = prepare_from(self.source, self.components)
            _ = self.fit_input.histogram  # binned here too, off the GUI thread
            self.source = None
        return self.fit_input

    def make_fit(self):
        from emgui.core.fill import FillJob

        options = {k: v for k, v in self.options.items() if k in ("max_iter", "tol", "reg_covar")}
        self.job = FillJob(
            self.fit_input, components=self.components, min_confidence=self.min_confidence,
            seed=int(self.options.get("seed", 0)), fill=self.fill, **options,
        )
        self.job.prepare()
        return self.job.em()

    def after(self, result) -> _Filled:
        plan, report = self.job.finish(result)
        return _Filled(self.min_confidence, plan, report, self.job.notes(plan, report), self.job)


@dataclass(frozen=True)
class _Filled:
    """What a fill run gives the window: the plan at a threshold, the report, the notes."""

    min_confidence: float
    plan: object
    report: object
    notes: object
    job: object


def _iterations(n: int) -> str:
    return "1 iteration" if n == 1 else f"{n:,} iterations"


def _tsv_cell(text: str) -> str:
    if any(ch in text for ch in '\t\n\r"'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _fit_rows(table: QTableWidget) -> None:
    """Make a small table exactly as tall as its rows (the panel scrolls, not the table)."""
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(height + 2)


class FitPanel(QWidget):
    """Iteration, log-likelihood, convergence and the parameters per class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.status = QLabel("No fit yet. Press F5 to fill the gaps.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.hide()  # an empty white box until a fit names its classes
        layout.addWidget(self.table)
        # How far the fill can be trusted: the self-check in a sentence, the
        # model chosen and the candidates it was chosen from.
        self.trust = QLabel("")
        self.trust.setWordWrap(True)
        self.trust.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust.hide()
        layout.addWidget(self.trust)
        self.reliability_button = QPushButton("Reliability Curve…")
        self.reliability_button.setToolTip(
            "How often a filled cell of each confidence was right when typed labels were hidden"
        )
        self.reliability_button.hide()
        self.reliability_button.clicked.connect(self._show_reliability)
        layout.addWidget(self.reliability_button)
        self.models = QTableWidget(0, 4)
        self.models.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.models.verticalHeader().setVisible(False)
        self.models.setHorizontalHeaderLabels(["Groups", "Covariance", "BIC", "Parameters"])
        self.models.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.models.hide()
        layout.addWidget(self.models)
        layout.addStretch(1)
        self._classes: list[str] = []
        self._features: list[str] = []
        self.report = None

    def reset(self, classes: list[str], features: list[str]) -> None:
        """Prepare the parameter table for a new fit."""
        from emgui.ui import palette

        self._classes, self._features = list(classes), list(features)
        # One column per feature, "mean ± SD": two features still fit the dock's width.
        headers = ["Class", "Weight"] + [f"{name}: mean ± SD" for name in features]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(classes))
        self.table.setHorizontalHeaderLabels(headers)
        for k, name in enumerate(classes):
            item = QTableWidgetItem(f"■ {name}")
            item.setForeground(palette.class_color(k))
            self.table.setItem(k, 0, item)
            for c in range(1, len(headers)):
                cell = QTableWidgetItem("")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(k, c, cell)
        self.table.resizeColumnsToContents()
        _fit_rows(self.table)
        self.table.show()
        self.status.setText("Starting…")

    def show_parameters(self, weights, means, covariances) -> None:
        import numpy as np

        w = np.asarray(weights, dtype=float)
        mu = np.asarray(means, dtype=float).reshape(len(w), -1)
        cov = np.asarray(covariances, dtype=float).reshape(len(w), mu.shape[1], mu.shape[1])
        if len(w) != self.table.rowCount():
            self.reset([f"class {k + 1}" for k in range(len(w))], self._features or ["x"])
        for k in range(len(w)):
            self.table.item(k, 1).setText(f"{w[k]:.3f}")
            for d in range(min(mu.shape[1], len(self._features))):
                sd = np.sqrt(max(cov[k, d, d], 0.0))
                self.table.item(k, 2 + d).setText(f"{mu[k, d]:.2f} ± {sd:.2f}")

    def show_snapshot(self, snapshot) -> None:
        self.show_parameters(snapshot.weights, snapshot.means, snapshot.covariances)
        done = " (converged)" if snapshot.converged else ""
        self.status.setText(
            f"Iteration {snapshot.iteration}{done}\nLog-likelihood {snapshot.log_likelihood:,.3f}"
        )

    def show_result(self, result, report=None) -> None:
        if report is not None and len(report.names) != self.table.rowCount():
            self.reset(list(report.names), self._features)
        self.show_parameters(result.weights, result.means, result.covariances)
        self.table.resizeColumnsToContents()
        state = "converged" if result.converged else "stopped before converging"
        self.status.setText(
            f"Finished after {_iterations(result.n_iter)}, {state}.\n"
            f"Log-likelihood {result.log_likelihood:,.3f}"
        )
        self.show_report(report)

    def show_report(self, report) -> None:
        """The self-check sentence, the model chosen and the candidates (None: hide them)."""
        self.report = report
        for w in (self.trust, self.reliability_button, self.models):
            w.setVisible(report is not None)
        if report is None:
            return
        lines = []
        check = report.check
        if check is not None:
            lines.append(f"<b>{check.sentence()}.</b>")
        model = f"{report.groups} group{'s' if report.groups != 1 else ''}, {report.covariance} covariance"
        if any(report.unnamed):
            model += f" ({sum(report.unnamed)} no typed label names: its rows stay blank, with a note)"
        lines.append(f"Model: {model}, the lowest BIC of the candidates below (lower is better).")
        if report.typed_only:
            lines.append("The typed rows alone predicted the hidden labels better: the blank rows took no part.")
        if report.n_unusual:
            lines.append(f"{report.n_unusual:,} row(s) with unusual values were left out and not filled.")
        self.trust.setText("<br>".join(lines))
        self.reliability_button.setEnabled(check is not None and bool(check.reliability))
        cands = [c for c in report.candidates if c.bic is not None]
        self.models.setRowCount(len(cands))
        for i, c in enumerate(sorted(cands, key=lambda c: c.bic)):
            chosen = c.groups == report.groups and c.covariance == report.covariance
            for j, text in enumerate([str(c.groups), c.covariance, f"{c.bic:,.1f}", str(c.n_params)]):
                item = QTableWidgetItem(("✔ " if chosen and j == 0 else "") + text)
                self.models.setItem(i, j, item)
        self.models.resizeColumnsToContents()
        _fit_rows(self.models)

    def _show_reliability(self) -> None:
        if self.report is not None and self.report.check is not None:
            dialogs.ReliabilityDialog(self.report.check, self).exec()

    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def clear(self) -> None:
        """No fit: drop the last sheet's parameters."""
        self.table.setRowCount(0)
        self.table.hide()
        self.show_report(None)
        self.status.setText("No fit yet. Press F5 to fill the gaps.")


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


class MainWindow(QMainWindow):
    """The EM Gap Filler window.

    Parameters
    ----------
    defer : bool, default False
        The real program's start-up: build only the widgets now and import
        the core, the worker and the plot from a zero-delay timer (after the
        first paint); then load the file readers in the background and keep
        the objects alive at that point out of the garbage collector's full
        passes (see :func:`emgui.ui.loader.preload_readers`).

    Attributes
    ----------
    action_map : dict of str to QAction
        Every menu action by name: ``"fill"``, ``"stop"``, ``"step"``,
        ``"export"``, ``"save"``, ``"undo"``, ``"paste"``, ...
    undo_stack : QUndoStack
        Every change to the sheet, fills included.
    view : SheetView
        The table.
    fit_options : dict
        Extra keyword arguments for the EM fit (``max_iter``, ``tol``, ``seed``).

    Signals
    -------
    fill_applied(object)
        A finished fit was written into the sheet (the ``FillPlan``).
    fit_discarded()
        A fit finished on data that had changed since; it is run again.
    sheet_loaded(str)
        A file was opened (its path).
    """

    fill_applied = Signal(object)
    fit_discarded = Signal()
    sheet_loaded = Signal(str)

    def __init__(self, *, defer: bool = False) -> None:
        super().__init__()
        self._ready = False
        self._defer = defer
        self._sheet = None
        self._model = None
        self._path: str | None = None
        self._fit_input = None
        self._fit_serial = 0  # counts fits started, so late drawings of an old one are skipped
        self._pending_apply: int | None = None  # a large sheet's finished fit, applied a turn later
        self._preparing_k: int | None = None
        self._pending_display = None  # a fit input made in the fit's thread, not drawn yet
        self._fitting = False
        self._plot = None
        self._controller = None
        self.fit_options: dict = {}
        self._settings = QSettings()
        self._min_confidence = float(self._settings.value("fill/minConfidence", 0.0))
        # Groups to find when no label is typed; 0: chosen by BIC (the default).
        self._n_components = int(self._settings.value("fill/components", 0))

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        self.welcome = WelcomePanel(central)
        self.welcome.hide()
        self.welcome.open_button.clicked.connect(self.open_file)
        self.welcome.sample_button.clicked.connect(self.open_sample)
        self.view = SheetView(central)
        self._sized_columns: set[int] | None = None  # None: every column is sized
        self.view.horizontalScrollBar().valueChanged.connect(self._size_columns_in_view)
        layout.addWidget(self.welcome)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)

        self.plot_dock = QDockWidget("Mixture", self)
        self.plot_dock.setObjectName("plotDock")
        placeholder = QLabel("The mixture is drawn here while EM runs (F5).")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_dock.setWidget(placeholder)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.plot_dock)
        self.fit_panel = FitPanel()
        self.fit_dock = QDockWidget("Fit", self)
        self.fit_dock.setObjectName("fitDock")
        # Scrolls rather than squeezing its tables to one row each.
        fit_scroll = QScrollArea()
        fit_scroll.setWidgetResizable(True)
        fit_scroll.setFrameShape(QFrame.Shape.NoFrame)
        fit_scroll.setWidget(self.fit_panel)
        self.fit_dock.setWidget(fit_scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.fit_dock)
        self.resizeDocks([self.plot_dock, self.fit_dock], [440, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.plot_dock], [460], Qt.Orientation.Horizontal)

        self.counts_label = QLabel("")
        self.fit_label = QLabel("")
        self.statusBar().addPermanentWidget(self.fit_label)
        # The fit's numbers and the sheet's counts would otherwise run together.
        divider = QFrame()
        divider.setFrameShape(QFrame.Shape.VLine)
        divider.setFrameShadow(QFrame.Shadow.Sunken)
        self.statusBar().addPermanentWidget(divider)
        self.statusBar().addPermanentWidget(self.counts_label)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(80)
        self._counts_timer.timeout.connect(self._update_counts)
        self._plot_data_timer = QTimer(self)
        self._plot_data_timer.setSingleShot(True)
        self._plot_data_timer.setInterval(300)
        self._plot_data_timer.timeout.connect(self._on_plot_data_due)

        self.action_map: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._update_title()
        self._restore_geometry()

        self._pending_open: str | None = None
        # Help ▸ How EM Works (created on first use): the panel, the fit it explains.
        self._how_em = None
        self._explained = None
        self._last_snapshot = None
        if defer:
            # Import the heavy parts only once the window has been painted, so
            # a person sees it at once; a fallback covers a window never painted.
            self.view.viewport().installEventFilter(self)
            QTimer.singleShot(1500, self, self.finish_startup)
        else:
            self.finish_startup()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if not self._ready and event.type() == QEvent.Type.Paint and obj is self.view.viewport():
            obj.removeEventFilter(self)
            if os.environ.get("EMGUI_STARTUP_PROBE"):
                _report_startup()  # benchmarks/bench_startup.py waits for this line
            # After this paint the whole window is flushed to the screen.
            QTimer.singleShot(0, self, self.finish_startup)
        return super().eventFilter(obj, event)

    def open_when_ready(self, path: str | os.PathLike) -> None:
        """Open ``path`` as soon as the start-up has finished (the command line's file)."""
        if self._ready:
            QTimer.singleShot(0, self, lambda: self.open_path(path, ask=False))
        else:
            self._pending_open = os.fspath(path)

    # -- construction --------------------------------------------------------------

    def _action(self, key: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self.action_map[key] = action
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        a = self._action
        a("new", "&New", self.new_sheet, std.New, "Start a new empty sheet")
        a("open", "&Open…", self.open_file, std.Open, "Open a CSV, TSV, XLSX or ODS file")
        a("save", "&Save", self.save, std.Save, "Save the sheet in its file's format")
        a("save_as", "Save &As…", self.save_as, "Ctrl+Shift+S", "Save the sheet under a new name")
        a("export", "&Export…", self.export, "Ctrl+E", "Export the completed sheet to CSV or XLSX")
        a("quit", "&Quit", self.close, std.Quit, "Quit EM Gap Filler")
        self.action_map["quit"].setShortcuts([QKeySequence("Ctrl+Q")])

        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.action_map["undo"], self.action_map["redo"] = undo, redo
        a("cut", "Cu&t", self.cut, std.Cut, "Copy the selected cells and clear them")
        a("copy", "&Copy", self.copy, std.Copy, "Copy the selected cells as tab-separated text")
        a("paste", "&Paste", self.paste, std.Paste, "Paste tab-separated text; rows past the end are added")
        a("delete", "&Delete", self.clear_cells, std.Delete, "Clear the selected cells")
        a("insert_row", "&Insert Row", self.insert_rows, "Ctrl+I", "Insert blank rows above the current one")
        a("delete_rows", "Delete Ro&ws", self.delete_rows, "Ctrl+-", "Delete the selected rows")

        a("fill", "&Fill Gaps", self.fill_gaps, "F5", "Fill the blank labels with EM (F5)")
        a("stop", "&Stop", self.stop_fit, "Esc", "Stop the running fit (Esc)")
        a("step", "S&tep One Iteration", self.step_fit, "F6", "Run one E-step and M-step (F6)")
        a("accept", "&Accept Filled Values", self.accept_filled, None, "Make every filled value your own")
        a("clear_filled", "&Clear Filled Values", self.clear_filled, None, "Blank every filled value again")
        a("fill_numbers", "Also Fill Blank Num&bers", lambda _on: None, None,
          "F5 also fills blank numbers, each with its 95 % interval").setCheckable(True)
        a("export_draws", "Export &Multiple Imputations…", self.export_draws, None,
          "Write several completed copies, drawn from the last fill, stacked in one table")
        a("columns", "C&olumns…", self.edit_columns, None, "Choose the label and feature columns")
        a("threshold", "Co&nfidence Threshold…", self.edit_threshold, None,
          "Leave cells blank when EM is less sure than this")
        a("how_em", "&How EM Works", self.show_how_em, std.HelpContents, "What EM does, with the formulas")
        a("about", "&About EM Gap Filler", self.show_about, None)
        self.action_map["stop"].setEnabled(False)
        self.action_map["fill"].setIcon(QIcon.fromTheme("media-playback-start"))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        acts = self.action_map
        file_menu = bar.addMenu("&File")
        file_menu.addActions([acts["new"], acts["open"]])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([acts["save"], acts["save_as"], acts["export"], acts["export_draws"]])
        file_menu.addSeparator()
        file_menu.addAction(acts["quit"])

        edit = bar.addMenu("&Edit")
        edit.addActions([acts["undo"], acts["redo"]])
        edit.addSeparator()
        edit.addActions([acts["cut"], acts["copy"], acts["paste"], acts["delete"]])
        edit.addSeparator()
        edit.addActions([acts["insert_row"], acts["delete_rows"]])

        data = bar.addMenu("&Data")
        data.addActions([acts["fill"], acts["stop"], acts["step"]])
        data.addSeparator()
        data.addActions([acts["accept"], acts["clear_filled"]])
        data.addSeparator()
        data.addActions([acts["columns"], acts["threshold"], acts["fill_numbers"]])

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([acts["how_em"], acts["about"]])

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        acts = self.action_map
        bar.addActions([acts["open"], acts["save"], acts["export"]])
        bar.addSeparator()
        # The menu's Undo/Redo name the command ("Undo Fill 12 Gaps"): too long
        # for a toolbar, so the toolbar has short twins (without shortcuts).
        for key, text, can in (
            ("undo", "Undo", self.undo_stack.canUndoChanged),
            ("redo", "Redo", self.undo_stack.canRedoChanged),
        ):
            twin = QAction(text, self)
            twin.setEnabled(False)
            twin.setToolTip(f"{text} ({acts[key].shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
            twin.triggered.connect(self.undo_stack.undo if key == "undo" else self.undo_stack.redo)
            can.connect(twin.setEnabled)
            bar.addAction(twin)
        bar.addSeparator()
        bar.addActions([acts["fill"], acts["stop"], acts["step"]])
        bar.addSeparator()
        bar.addWidget(QLabel(" Show: "))
        self.filter_combo = QComboBox()
        self.filter_combo.setToolTip("Which rows the table shows (saving always writes every row)")
        self.filter_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for key, text in ROW_FILTERS:
            self.filter_combo.addItem(text, key)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_changed)
        bar.addWidget(self.filter_combo)
        self.original_order = QPushButton("Original Order")
        self.original_order.setToolTip("Undo sorting: show the rows in the file's order")
        self.original_order.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.original_order.setFlat(True)
        self.original_order.clicked.connect(self.restore_order)
        bar.addWidget(self.original_order)

    def _restore_geometry(self) -> None:
        geometry = self._settings.value("window/geometry")
        restored = isinstance(geometry, QByteArray) and not geometry.isEmpty() and self.restoreGeometry(geometry)
        screen = self.screen().availableGeometry() if self.screen() else None
        full_w, full_h = (screen.width(), screen.height()) if screen else (1200, 760)
        # A first start, or a size saved on a much smaller screen: a usable default.
        if not restored or self.width() < min(640, full_w // 2) or self.height() < min(480, full_h // 2):
            self.resize(min(1200, int(full_w * 0.95)), min(760, int(full_h * 0.95)))
        state = self._settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def finish_startup(self) -> None:
        """Import the core, create the table model, the fit controller and the plot."""
        if self._ready:
            return
        self._ready = True
        from emgui.core.sheet import Sheet
        from emgui.ui.loader import preload_readers
        from emgui.ui.table_model import SheetTableModel
        from emgui.ui.worker import FitController

        preload_readers(freeze_gc=self._defer)
        _collect_garbage_in_gui_thread()

        self._controller = FitController(self)
        self._controller.fit_started.connect(self._on_fit_started)
        self._controller.fit_prepared.connect(self._on_fit_prepared)
        self._controller.fit_iterated.connect(self._on_fit_iterated)
        self._controller.fit_finished.connect(self._on_fit_finished)
        self._controller.fit_failed.connect(self._on_fit_failed)
        self._controller.fit_cancelled.connect(self._on_fit_cancelled)

        sheet = Sheet.blank()
        self._model = SheetTableModel(sheet, self.undo_stack, self)
        self._model.rows_reordered.connect(self._on_rows_reordered)
        self.view.setModel(self._model)
        header = self.view.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        self._attach_sheet(sheet, None)
        self._show_welcome()
        self._create_plot()
        if self._pending_open is not None:
            path, self._pending_open = self._pending_open, None
            QTimer.singleShot(0, self, lambda: self.open_path(path, ask=False))

    def _show_welcome(self) -> None:
        """Show the welcome panel over an empty sheet, ready for typing in its first cell."""
        self.welcome.show()
        # The panel's buttons come first in the focus chain: without this,
        # "just start typing" would type into a button.
        self.view.setCurrentIndex(self._model.index(0, 0))
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.finish_startup()

    def _create_plot(self) -> None:
        try:
            from emgui.ui.plot import MixturePlot
        except Exception:  # the table works without the plot
            _log.exception("the mixture plot is unavailable")
            return
        self._plot = MixturePlot()
        self.plot_dock.setWidget(self._plot)
        self._show_data_in_plot()

    # -- properties for tests and scripts -----------------------------------------

    @property
    def sheet(self):
        """The open :class:`~emgui.core.sheet.Sheet`."""
        self._ensure_ready()
        return self._sheet

    @property
    def model(self):
        """The :class:`~emgui.ui.table_model.SheetTableModel`."""
        self._ensure_ready()
        return self._model

    @property
    def controller(self):
        """The :class:`~emgui.ui.worker.FitController`."""
        self._ensure_ready()
        return self._controller

    @property
    def plot(self):
        """The :class:`~emgui.ui.plot.MixturePlot`, or None if pyqtgraph is unavailable."""
        self._ensure_ready()
        return self._plot

    @property
    def ready(self) -> bool:
        """Whether the start-up has finished (core, model and plot are there)."""
        return self._ready

    @property
    def path(self) -> str | None:
        """The file the sheet was opened from or saved to."""
        return self._path

    @property
    def min_confidence(self) -> float:
        """Fill a blank only when EM is at least this sure (0 fills all)."""
        return self._min_confidence

    def set_min_confidence(self, value: float) -> None:
        self._min_confidence = min(max(float(value), 0.0), 1.0)
        self._settings.setValue("fill/minConfidence", self._min_confidence)

    # -- the document --------------------------------------------------------------

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
        if sheet.n_rows >= _LARGE_ROWS:
            # The table first; column widths and the plot (~30 ms each at a
            # million rows) follow in later turns of the event loop, so the
            # window never stalls for the sum of all three.
            # A short wait before each, not a zero-timer: timers already due
            # all run in the same pass of the event loop as the table's
            # first paint, with no input handled in between.
            serial = self._fit_serial

            def plot_later() -> None:
                QTimer.singleShot(_STEP_MS, self, draw)

            def draw() -> None:
                if self._fit_serial == serial:  # else a fit has drawn the data already
                    self._show_data_in_plot()

            QTimer.singleShot(_STEP_MS, self, self._size_columns)
            QTimer.singleShot(_STEP_MS, self, plot_later)
        else:
            self._size_columns()
            self._show_data_in_plot()

    def _show_data_in_plot(self) -> None:
        """Draw the sheet's data (no components yet) so the plot is never blank."""
        if self._plot is None or self._sheet is None:
            return
        from emgui.core.fill import FillError, prepare_fit

        try:
            fit_input = prepare_fit(self._sheet, self._components_for_sheet())
        except (FillError, ValueError):
            self._plot.set_data([])  # nothing to draw: say how to get a picture
            return
        self._plot.set_data(
            fit_input.X,
            fit_input.labels,
            self._class_names(fit_input),
            self._axis_labels(),
            histogram=fit_input.histogram if fit_input.X.shape[1] == 1 else None,
        )

    def _class_names(self, fit_input) -> list[str]:
        return [fit_input.spellings.get(c, c) for c in fit_input.classes]

    def _axis_labels(self) -> list[str]:
        sheet = self._sheet
        labels = []
        for f in sheet.roles.features:
            name, unit = sheet.columns[f], sheet.unit(f)
            labels.append(name if not unit or unit in name else f"{name} ({unit})")
        return labels

    def _display_name(self) -> str:
        return Path(self._path).name if self._path else "Untitled"

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — {APP_TITLE}")

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def _on_sheet_event(self, event) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()
        if self.welcome.isVisible():
            self.welcome.hide()
        if (
            self._plot is not None
            and not self._fitting
            and not self._plot.has_fit
            and self._sheet.n_rows < _LARGE_ROWS
        ):
            # The histogram follows typing until a fit is drawn; not for a
            # large sheet, whose fit input takes ~0.1 s to make again (and
            # whose histogram a few typed cells hardly change): F5 redraws it.
            self._plot_data_timer.start()
        self._widen_columns(event)

    @Slot()
    def _on_plot_data_due(self) -> None:
        if self._plot is not None and not self._fitting and not self._plot.has_fit:
            self._show_data_in_plot()

    def _widen_columns(self, event) -> None:
        """Widen (never narrow) columns for a few typed or pasted cells, as far as 320 px."""
        from emgui.core.sheet import CellsChanged

        if not isinstance(event, CellsChanged) or self._model is None:
            return
        rows = range(event.top, event.bottom + 1)
        cols = range(event.left, event.right + 1)
        if len(rows) * len(cols) > 400:
            return  # a fill or a big paste: measuring it would cost more than it helps
        sheet, model, fm = self._sheet, self._model, self.view.fontMetrics()
        for col in cols:
            if col >= sheet.n_cols:
                continue
            try:
                view_col = model.view_column(col)
            except IndexError:  # a column the model has not been told about yet
                continue
            widest = max((fm.horizontalAdvance(sheet.text(r, col) or "") for r in rows if r < sheet.n_rows), default=0)
            width = min(widest + 16, 320)
            if width > self.view.columnWidth(view_col):
                self.view.setColumnWidth(view_col, width)

    def _update_counts(self) -> None:
        if self._sheet is None:
            return
        c = self._sheet.counts()
        parts = [
            "1 row" if c["rows"] == 1 else f"{c['rows']:,} rows",
            "1 missing label" if c["missing"] == 1 else f"{c['missing']:,} missing labels",
            f"{c['filled']:,} filled",
            f"{c['uncertain']:,} uncertain",
            f"{c['unreadable']:,} unreadable",
        ]
        self.counts_label.setText("  ·  ".join(parts))

    def _size_columns(self) -> None:
        """Fit column widths to the header and a sample of rows.

        A wide sheet (more than ``_EAGER_SIZE_COLUMNS`` columns) has only
        the columns in view sized now; the others are sized as they scroll
        into view, so opening costs the same whatever the column count.
        """
        model = self._model
        if model.columnCount() <= _EAGER_SIZE_COLUMNS:
            self._sized_columns = None
            self._set_column_widths(range(model.columnCount()))
            return
        self._sized_columns = set()
        self._size_columns_in_view()

    @Slot()
    def _size_columns_in_view(self) -> None:
        """Size the not-yet-sized columns from the left edge of the view to a little past its right."""
        if self._sized_columns is None or self._model is None:
            return
        header = self.view.horizontalHeader()
        n = self._model.columnCount()
        first = max(header.logicalIndexAt(0), 0)
        right = self.view.viewport().width()
        col, todo = first, []
        # Widths change as columns are sized: walk on until the view is full.
        while col < n:
            if col not in self._sized_columns:
                todo.append(col)
                if len(todo) >= 16:
                    self._set_column_widths(todo)
                    todo = []
            if header.sectionViewportPosition(col) > right:
                break
            col += 1
        stop = min(col + _SIZE_MARGIN_COLUMNS, n)
        todo += [c for c in range(col, stop) if c not in self._sized_columns]
        self._set_column_widths(todo)

    def _set_column_widths(self, cols) -> None:
        model = self._model
        fm = self.view.fontMetrics()
        n = model.rowCount()
        # The first rows, rows spread over the rest and the last rows (never
        # all rows): a long name further down a big file is measured too.
        rows = sorted(
            set(range(min(n, _SIZE_SAMPLE_ROWS)))
            | set(range(0, n, max(1, n // _SIZE_SAMPLE_ROWS)))
            | set(range(max(0, n - 20), n))
        )
        for col in cols:
            header = model.headerData(col, Qt.Orientation.Horizontal) or ""
            width = fm.horizontalAdvance(header) + 28
            for row in rows:
                text = model.data(model.index(row, col))
                if text:
                    width = max(width, fm.horizontalAdvance(str(text)) + 16)
            self.view.setColumnWidth(col, max(80, min(width, 320)))
            if self._sized_columns is not None:
                self._sized_columns.add(col)

    # -- file menu -----------------------------------------------------------------

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

        path = os.fspath(path)
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
            suggestion = str(p if p.suffix.lower() in fileio.SUPPORTED_WRITE else p.with_suffix(".xlsx"))
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

    def _fill_what(self) -> str:
        return "all" if self.action_map["fill_numbers"].isChecked() else "labels"

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

    # -- drag and drop -------------------------------------------------------------

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

    # -- edit menu -----------------------------------------------------------------

    def _selection_rect(self) -> tuple[int, int, int, int] | None:
        """Bounding (top, left, bottom, right) view cells of the selection, or the current cell."""
        sel = self.view.selectionModel()
        ranges = sel.selection() if sel is not None else []
        if ranges and len(ranges):
            top = min(r.top() for r in ranges)
            left = min(r.left() for r in ranges)
            bottom = max(r.bottom() for r in ranges)
            right = max(r.right() for r in ranges)
            return top, left, bottom, right
        current = self.view.currentIndex()
        if current.isValid():
            return current.row(), current.column(), current.row(), current.column()
        return None

    def selected_text(self) -> str:
        """The selection's bounding rectangle as tab-separated text (raw cells)."""
        self._ensure_ready()
        rect = self._selection_rect()
        if rect is None:
            return ""
        top, left, bottom, right = rect
        model = self._model
        bottom = min(bottom, model.n_data_rows - 1)
        if bottom < top:
            return ""
        import numpy as np

        from emgui.core.sheet import USER

        sheet = self._sheet
        rows = np.array([model.sheet_row(r) for r in range(top, bottom + 1)], dtype=np.int64)
        columns = []
        for vc in range(left, right + 1):
            sc = model.sheet_column(vc)
            if sc < 0:
                conf = sheet.confidence[rows]
                filled = sheet.provenance[rows] != USER
                columns.append(
                    [f"{c:.4f}" if f and np.isfinite(c) else "" for c, f in zip(conf, filled, strict=True)]
                )
            else:
                raw = sheet.cells(sc, rows)
                columns.append(["" if v is None else _tsv_cell(str(v)) for v in raw])
        lines = ["\t".join(cells) for cells in zip(*columns, strict=True)]
        return "\n".join(lines) + "\n"

    @Slot()
    def copy(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    @Slot()
    def cut(self) -> None:
        text = self.selected_text()
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self.undo_stack.beginMacro("Cut")
        self.clear_cells()
        self.undo_stack.endMacro()

    @Slot()
    def paste(self) -> None:
        self.paste_text(QGuiApplication.clipboard().text())

    def paste_text(self, text: str) -> None:
        """Paste tab-separated ``text`` at the selection; rows past the end are added."""
        self._ensure_ready()
        if not text:
            return
        rect = self._selection_rect()
        if rect is None:
            rect = (0, 0, 0, 0)
        top, left, bottom, right = rect
        block = _tsv_block(text)
        model = self._model
        sheet_col = model.sheet_column(left)
        if sheet_col < 0:  # on the confidence column: start at the next real column
            if left + 1 >= model.columnCount():
                return
            sheet_col = model.sheet_column(left + 1)
            left += 1
        if len(block) == 1 and len(block[0]) == 1 and (bottom > top or right > left):
            # One value onto a selection fills the selection (as spreadsheets do).
            bottom = min(bottom, model.n_data_rows - 1)
            width = sum(1 for c in range(left, right + 1) if model.sheet_column(c) >= 0)
            block = [[block[0][0]] * width for _ in range(max(bottom - top + 1, 1))]
        n_rows = self._sheet.n_rows
        rows = []
        extra = 0
        for r in range(top, top + len(block)):
            if r < model.n_data_rows:
                rows.append(model.sheet_row(r))
            else:
                rows.append(n_rows + extra)
                extra += 1
        model.edit_cells(rows, sheet_col, block, "Paste")
        if model.rowCount():
            last = min(top + len(block) - 1, model.rowCount() - 1)
            right_col = min(left + max(len(b) for b in block) - 1, model.columnCount() - 1)
            sel = self.view.selectionModel()
            from PySide6.QtCore import QItemSelection, QItemSelectionModel

            sel.select(
                QItemSelection(model.index(top, left), model.index(last, right_col)),
                QItemSelectionModel.SelectionFlag.ClearAndSelect,
            )

    @Slot()
    def clear_cells(self) -> None:
        """Blank the selected cells (one undo step)."""
        self._ensure_ready()
        model = self._model
        sel = self.view.selectionModel()
        ranges = list(sel.selection()) if sel is not None and len(sel.selection()) else []
        if not ranges:
            current = self.view.currentIndex()
            if not current.isValid():
                return
            spans = [(current.row(), current.column(), current.row(), current.column())]
        else:
            spans = [(r.top(), r.left(), r.bottom(), r.right()) for r in ranges]
        from emgui.ui.commands import SetCellsCommand

        commands = []
        for top, left, bottom, right in spans:
            bottom = min(bottom, model.n_data_rows - 1)
            cols = [model.sheet_column(c) for c in range(left, right + 1) if model.sheet_column(c) >= 0]
            if bottom < top or not cols:
                continue
            rows = [model.sheet_row(r) for r in range(top, bottom + 1)]
            commands.append((rows, cols[0], [[None] * len(cols) for _ in rows]))
        if not commands:
            return
        self.undo_stack.beginMacro("Clear Cells")
        for rows, col, block in commands:
            self.undo_stack.push(SetCellsCommand(self._sheet, rows, col, block, "Clear Cells"))
        self.undo_stack.endMacro()

    def _selected_sheet_rows(self) -> list[int]:
        model = self._model
        sel = self.view.selectionModel()
        rows: set[int] = set()
        if sel is not None:
            for rng in sel.selection():
                for r in range(rng.top(), min(rng.bottom(), model.n_data_rows - 1) + 1):
                    rows.add(model.sheet_row(r))
        current = self.view.currentIndex()
        if not rows and current.isValid() and current.row() < model.n_data_rows:
            rows.add(model.sheet_row(current.row()))
        return sorted(rows)

    @Slot()
    def insert_rows(self) -> None:
        """Insert as many blank rows as are selected, above the current row."""
        self._ensure_ready()
        from emgui.ui.commands import InsertRowsCommand

        current = self.view.currentIndex()
        at = self._model.sheet_row(current.row()) if current.isValid() else self._sheet.n_rows
        count = max(1, len(self._selected_sheet_rows()))
        self.undo_stack.push(InsertRowsCommand(self._sheet, at, count))

    @Slot()
    def delete_rows(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import RemoveRowsCommand

        rows = self._selected_sheet_rows()
        if rows:
            self.undo_stack.push(RemoveRowsCommand(self._sheet, rows))

    # -- view ----------------------------------------------------------------------

    @Slot(int)
    def _on_filter_changed(self, index: int) -> None:
        if self._model is not None:
            self._model.set_filter(self.filter_combo.itemData(index))

    def set_filter(self, mode: str) -> None:
        """Show only some rows: ``"all"``, ``"missing"``, ``"filled"``, ``"uncertain"``, ``"unreadable"``."""
        self._ensure_ready()
        index = self.filter_combo.findData(mode)
        if index < 0:
            raise ValueError(f"unknown filter {mode!r}")
        if index == self.filter_combo.currentIndex():
            self._model.set_filter(mode)
        else:
            self.filter_combo.setCurrentIndex(index)

    @Slot()
    def restore_order(self) -> None:
        """Show the rows in the sheet's own order again."""
        self._ensure_ready()
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._model.sort(-1)

    @Slot()
    def _on_rows_reordered(self) -> None:
        self.original_order.setEnabled(self._model.sort_state is not None)
        if self._sheet is not None and self._sheet.n_rows >= _LARGE_ROWS:
            self._release_memory_soon()  # a sort of a million rows leaves ~50 MB of freed blocks

    # -- data menu: the fit --------------------------------------------------------

    def _prepare(self):
        """The fit's input, or None after telling the user why there is none."""
        from emgui.core.fill import FillError, prepare_fit

        try:
            return prepare_fit(self._sheet, self._components_for_sheet())
        except (FillError, ValueError) as exc:
            self._warn_fit(str(exc))
            return None

    def _components_for_sheet(self) -> int | None:
        """K to look for when the label column names no class yet; None when it does."""
        import numpy as np

        from emgui.core.sheet import USER

        sheet = self._sheet
        typed = sheet.roles.label is not None and bool(
            np.any(~sheet.label_missing() & (sheet.provenance == USER))
        )
        return None if typed or not self._n_components else self._n_components

    @property
    def n_components(self) -> int:
        """Classes to find when no label is typed (Data ▸ Columns…)."""
        return self._n_components

    def set_n_components(self, k: int) -> None:
        self._n_components = max(0, int(k))
        self._settings.setValue("fill/components", self._n_components)

    def _warn_fit(self, message: str) -> None:
        if "feature" in message:
            # The core's sentence says what to change; this says where.
            message += "\n\nData ▸ Columns… chooses the label and the feature columns."
        QMessageBox.warning(self, "Cannot fill the gaps", message)

    def _begin_fit_display(self, fit_input) -> None:
        names = self._class_names(fit_input)
        if self._plot is not None:
            self._plot.set_data(
                fit_input.X,
                fit_input.labels,
                names,
                self._axis_labels(),
                histogram=fit_input.histogram if fit_input.X.shape[1] == 1 else None,
            )
        self.fit_panel.reset(names, fit_input.feature_names)
        self._explained, self._last_snapshot = fit_input, None
        if self._how_em is not None:
            self._explain_fit()

    @Slot()
    def fill_gaps(self) -> None:
        """Fit the mixture in the background and fill the blank labels (F5)."""
        self._ensure_ready()
        self._fit_serial += 1
        from emgui.core.fill import FillError, cached_fit_input, fit_source, forget_fit_input

        sheet, k = self._sheet, self._components_for_sheet()
        if sheet.n_rows >= _LARGE_ROWS and cached_fit_input(sheet, k) is None:
            # A large sheet changed since its fit input was made (a refit
            # after a fill, an edit): making it takes ~0.1 s, done in the
            # fit's thread from a copy of the columns (~20 ms here).
            try:
                source = fit_source(sheet)
            except FillError as exc:
                self._warn_fit(str(exc))
                return
            # The last fit's input is stale: let it go before the new one is made.
            forget_fit_input(sheet)
            self._explained = None
            self._fit_input = None
            self._preparing_k = k
            self._set_fitting(True)
            self.fit_label.setText("Preparing…")
            run = _FillRun(None, k, self._min_confidence, self.fit_options, source=source, fill=self._fill_what())
            self._controller.start(
                prepare=run.prepare,
                make_fit=run.make_fit,
                data_version=source.version,
                after=run.after,
                **self.fit_options,
            )
            return
        fit_input = self._prepare()
        if fit_input is None:
            return
        self._fit_input = fit_input
        self._begin_fit_display(fit_input)
        self._set_fitting(True)
        self.fit_label.setText("Fitting…")
        run = _FillRun(fit_input, k, self._min_confidence, self.fit_options, fill=self._fill_what())
        self._controller.start(
            prepare=run.prepare,
            make_fit=run.make_fit,
            data_version=fit_input.version,
            after=run.after,
            **self.fit_options,
        )

    @Slot()
    def step_fit(self) -> None:
        """Run one E-step and M-step (starting a step-by-step fit if none is running)."""
        self._ensure_ready()
        if self._controller.is_stepping():
            self._controller.step()
            if self._plot is not None:
                self._plot.flush()
            return
        fit_input = self._prepare()
        if fit_input is None:
            return
        self._fit_serial += 1
        self._fit_input = fit_input
        self._begin_fit_display(fit_input)
        self._set_fitting(True)
        if self._controller.begin_stepping(
            fit_input.X,
            fit_input.labels,
            fit_input.n_components,
            data_version=fit_input.version,
            **self.fit_options,
        ) and self._plot is not None:
            self._plot.flush()

    @Slot()
    def stop_fit(self) -> None:
        """Stop the running fit (Esc); nothing is filled."""
        if self._pending_apply is not None and self._pending_apply == self._fit_serial:
            # Finished, but not written yet: then not at all.
            self._pending_apply = None
            self._on_fit_cancelled()
            return
        if self._controller is not None:
            self._controller.stop()

    def _stop_quietly(self) -> None:
        self._pending_apply = None
        if self._controller is not None and (self._controller.is_running() or self._controller.is_stepping()):
            self._controller.stop()
        self._set_fitting(False)

    def is_fitting(self) -> bool:
        """Whether a fit (threaded or step by step) is under way."""
        return self._fitting

    def _set_fitting(self, on: bool) -> None:
        self._fitting = on
        self.action_map["stop"].setEnabled(on)

    @Slot()
    def _on_fit_started(self) -> None:
        if self._fit_input is not None:
            self.fit_label.setText("Fitting…")

    @Slot(object)
    def _on_fit_prepared(self, fit_input) -> None:
        """The fit's thread made the input of a large sheet's fit: show the data and keep it."""
        from emgui.core.fill import remember_fit_input

        self._fit_input = fit_input
        remember_fit_input(self._sheet, self._preparing_k, fit_input)
        self.fit_label.setText("Fitting…")
        # Drawn a turn later (the plot's items and the window's repaint
        # would add up otherwise); the first iteration flushes it if sooner.
        self._pending_display = fit_input
        serial = self._fit_serial
        QTimer.singleShot(_STEP_MS, self, lambda: self._flush_display(serial))

    def _flush_display(self, serial: int | None = None) -> None:
        """Draw the data of a fit whose input the fit's thread made (see _on_fit_prepared)."""
        fit_input, self._pending_display = self._pending_display, None
        if fit_input is not None and serial in (None, self._fit_serial):
            self._begin_fit_display(fit_input)

    @Slot(object)
    def _on_fit_iterated(self, snapshot) -> None:
        self._flush_display()
        if self._plot is not None:
            self._plot.show_snapshot(snapshot)
        self.fit_panel.show_snapshot(snapshot)
        self._last_snapshot = snapshot
        if self._how_em is not None:
            self._how_em.show_snapshot(snapshot)
        self.fit_label.setText(
            f"Iteration {snapshot.iteration}  ·  log-likelihood {snapshot.log_likelihood:,.2f}"
        )

    @Slot(object)
    def _on_fit_finished(self, outcome) -> None:
        self._flush_display()
        fit_input = self._fit_input
        if fit_input is None or fit_input.version != outcome.data_version:
            return  # a fit nobody waits for any more (another sheet was opened)
        if self._sheet.n_rows >= _LARGE_ROWS:
            # Applied from a timer a turn later.  A queued signal is a posted
            # event, and Qt serves posted events before timers and input: the
            # plot's last frame, this apply and the table's repaint would run
            # back to back (~50 ms); from a timer, what is due comes first.
            serial = self._fit_serial
            self._pending_apply = serial
            QTimer.singleShot(_STEP_MS, self, lambda: self._apply_outcome(outcome, serial))
            return
        self._apply_outcome(outcome)

    def _apply_outcome(self, outcome, serial: int | None = None) -> None:
        """Fill the sheet from a finished fit (or fit again if the sheet changed meanwhile)."""
        if serial is not None:
            if self._pending_apply != serial or self._fit_serial != serial:
                return  # stopped (Esc), or another fit or sheet came first
            self._pending_apply = None
        fit_input = self._fit_input
        if fit_input is None or fit_input.version != outcome.data_version:
            return
        if outcome.data_version != self._sheet.version:
            # The sheet changed while EM ran: this result describes old data.
            self.fit_discarded.emit()
            self.statusBar().showMessage("The data changed during the fit; fitting again…", 4000)
            self.fill_gaps()
            return
        self._set_fitting(False)
        from emgui.core.fill import plan_fill
        from emgui.ui.commands import FillCommand

        result = outcome.result
        filled = outcome.extra
        notes = report = None
        if isinstance(filled, _Filled):
            # Planned in the worker thread with the model chosen there (a
            # million rows: ~15 ms the GUI thread need not spend), unless
            # the threshold changed meanwhile.
            report, notes = filled.report, filled.notes
            result = report.result
            plan = filled.plan if filled.min_confidence == self._min_confidence else filled.job.replan(
                result, self._min_confidence
            )
        else:  # a step-by-step fit: the plain model
            plan = plan_fill(fit_input, result, self._min_confidence)
        if len(plan.rows) or len(self._sheet.filled_rows()) or plan.numbers is not None:
            self.undo_stack.push(FillCommand(self._sheet, plan, notes=notes))
        self._last_job = (filled.job, self._sheet.version) if isinstance(filled, _Filled) else None
        self._fit_input = None
        self.last_report = report

        serial = self._fit_serial

        def show() -> None:
            if self._fit_serial != serial:
                return  # another fit has started meanwhile: it draws itself
            self.fit_panel.show_result(result, report)
            if self._plot is not None:
                self._plot.show_result(result, () if report is None else report.unnamed)
                self._plot.show_posteriors(result.posteriors_of)  # the drawn points' only

        if self._sheet.n_rows >= _LARGE_ROWS:
            # The plot shows the last iteration already; the final drawing
            # waits a turn, so the table's repaint and it never add up.
            QTimer.singleShot(_STEP_MS, self, show)
        else:
            show()
        state = "" if result.converged else " (stopped before converging)"
        self.fit_label.setText(
            f"{_iterations(result.n_iter)}{state}  ·  log-likelihood {result.log_likelihood:,.2f}"
        )
        if not len(plan.rows):
            message = "No blank labels to fill."
        else:
            message = "Filled 1 blank label" if plan.n_filled == 1 else f"Filled {plan.n_filled:,} blank labels"
            if plan.n_uncertain:
                message += f"; {plan.n_uncertain:,} left blank as uncertain"
            message += "."
        self.statusBar().showMessage(message, 8000)
        self.fill_applied.emit(plan)
        self._release_memory_soon()

    @Slot(str)
    def _on_fit_failed(self, message: str) -> None:
        self._set_fitting(False)
        self._fit_input = None
        self.fit_label.setText("Fit failed")
        self.fit_panel.show_message(message)
        self._warn_fit(message)

    @Slot()
    def _on_fit_cancelled(self) -> None:
        self._set_fitting(False)
        self._fit_input = None
        self.fit_label.setText("Stopped")
        self.fit_panel.show_message("Stopped. Nothing was filled; press F5 to fit again.")
        self.statusBar().showMessage("Fit stopped; nothing was filled.", 4000)

    @Slot()
    def accept_filled(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import AcceptFilledCommand

        if len(self._sheet.filled_rows()):
            self.undo_stack.push(AcceptFilledCommand(self._sheet))

    @Slot()
    def clear_filled(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import ClearFilledCommand

        if len(self._sheet.filled_rows()):
            self.undo_stack.push(ClearFilledCommand(self._sheet))

    @Slot()
    def edit_columns(self) -> None:
        self._ensure_ready()
        dialog = dialogs.ColumnsDialog(
            self._sheet.columns, self._sheet.roles, self, n_components=self._n_components
        )
        if dialog.exec() != dialogs.ColumnsDialog.DialogCode.Accepted:
            return
        self.set_n_components(dialog.n_components())
        self.apply_roles(dialog.roles())

    def apply_roles(self, roles) -> None:
        """Change the label and feature columns (one undo step)."""
        self._ensure_ready()
        from emgui.ui.commands import SetRolesCommand

        if roles == self._sheet.roles:
            return
        try:
            self.undo_stack.push(SetRolesCommand(self._sheet, roles))
        except ValueError as exc:
            QMessageBox.warning(self, "Cannot use these columns", str(exc))
            return
        self._size_columns()
        self._show_data_in_plot()

    @Slot()
    def edit_threshold(self) -> None:
        value = dialogs.ask_threshold(self, self._min_confidence)
        if value is None:
            return
        self.set_min_confidence(value)
        if self._sheet is not None and len(self._sheet.filled_rows()):
            self.fill_gaps()  # apply the new threshold to the current fill
        else:
            self.statusBar().showMessage(f"Cells below {value:.0%} confidence will stay blank.", 5000)

    # -- help ----------------------------------------------------------------------

    @Slot()
    def show_how_em(self) -> None:
        """Help ▸ How EM Works: EM explained with the current fit's numbers, beside the plot."""
        self._ensure_ready()
        if self._how_em is None:
            from emgui.ui.explain import ExplainPanel

            self._how_em = ExplainPanel()
            self.explain_dock = QDockWidget("How EM Works", self)
            self.explain_dock.setObjectName("explainDock")
            self.explain_dock.setWidget(self._how_em)
            placed = self.restoreDockWidget(self.explain_dock)
            if not placed:
                self.splitDockWidget(self.plot_dock, self.explain_dock, Qt.Orientation.Horizontal)
            self.view.selectionModel().currentRowChanged.connect(self._explain_row)
            if self._explained is not None:
                self._explain_fit()
        else:
            placed = True
        self._how_em.show()
        self.explain_dock.show()
        self.explain_dock.raise_()
        if not placed:
            # The first time: room for its tables, taken from the plot and the
            # sheet alike; the sheet keeps about 40 % of the window, enough for
            # a name, a label, its confidence and a height.
            docks = min(self.plot_dock.width() + 440, int(self.width() * 0.6))
            explain = min(440, max(400, docks // 2))
            self.resizeDocks(
                [self.plot_dock, self.explain_dock], [max(docks - explain, 300), explain],
                Qt.Orientation.Horizontal,
            )

    def _explain_fit(self) -> None:
        fit_input, sheet = self._explained, self._sheet
        self._how_em.set_fit_context(
            self._class_names(fit_input),
            fit_input.feature_names,
            [sheet.unit(f) for f in sheet.roles.features],
            fit_input.X,
            fit_input.labels,
        )
        if self._last_snapshot is not None:
            self._how_em.show_snapshot(self._last_snapshot)
        self._explain_row(self.view.currentIndex())

    def _explain_row(self, current, _previous=None) -> None:
        if self._explained is None or not current.isValid():
            return
        from emgui.ui.explain import sheet_row_input

        row = self._model.sheet_row(current.row())
        if row >= self._sheet.n_rows:
            return  # the empty row for typing
        x, label = sheet_row_input(self._sheet, self._explained.classes, row)
        self._how_em.select_row(x, label, caption=f"row {row + 1}")

    @Slot()
    def show_about(self) -> None:
        dialogs.show_about(self)

    # -- closing -------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._maybe_save():
            event.ignore()
            return
        if self._controller is not None:
            # No thread may outlive the window (Qt aborts on a running QThread at exit).
            self._controller.wait(30_000)
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("window/state", self.saveState())
        event.accept()
