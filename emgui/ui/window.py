"""The main window: a spreadsheet that fills its gaps with EM.

The window is glue, and this module only assembles it.  The document is a
:class:`emgui.core.sheet.Sheet`; the table is
:class:`emgui.ui.table_model.SheetTableModel` over it; every change is a
command on a ``QUndoStack`` (:mod:`emgui.ui.commands`); the fit runs in
:class:`emgui.ui.worker.FitController`'s thread and its result is turned
into cells by :mod:`emgui.core.fill`.

What the window does is split by responsibility, one part per module, each
a mixin of :class:`MainWindow` (they share the window's widgets and state,
and Qt calls the window's own methods -- slots, ``dropEvent`` -- so the
parts are bases of the one ``QMainWindow`` rather than objects beside it):

- :mod:`emgui.ui.files` -- new, open, save, export, recent files, drag and drop;
- :mod:`emgui.ui.editing` -- clipboard, clearing cells, inserting and deleting rows;
- :mod:`emgui.ui.fitting` -- fill, stop, step, threshold, columns (the Fit panel
  is :mod:`emgui.ui.fit_panel`);
- :mod:`emgui.ui.view` -- geometry, filter, sort, column widths, counts;
- :mod:`emgui.ui.plotting` -- the mixture plot and How EM Works.

Start-up is split so the window appears quickly: the constructor builds
only widgets and actions (PySide6 alone); :meth:`MainWindow.finish_startup`
imports the core (numpy, pandas), the fit worker and the plot (pyqtgraph),
and runs from a zero-delay timer after the first paint (``defer=True``) or
right away.
"""

from __future__ import annotations

import logging
import os
import time

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from emgui.ui import dialogs
from emgui.ui.commands import SheetUndoStack
from emgui.ui.delegates import SheetView
from emgui.ui.editing import EditActions
from emgui.ui.files import APP_TITLE, RESOURCES, SAMPLE_PATH, FileActions, WelcomePanel
from emgui.ui.fit_panel import FitPanel
from emgui.ui.fitting import FitActions
from emgui.ui.missing_report import MissingReportActions
from emgui.ui.plotting import PlotAndExplain
from emgui.ui.view import ROW_FILTERS, StatusBar, ViewState

__all__ = ["APP_TITLE", "ROW_FILTERS", "SAMPLE_PATH", "MainWindow", "app_icon"]

_log = logging.getLogger(__name__)
_IMPORTED = time.perf_counter()


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


class MainWindow(FileActions, EditActions, FitActions, MissingReportActions, ViewState, PlotAndExplain, QMainWindow):
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
    undo_stack : SheetUndoStack
        Every change to the sheet, fills included; a change that fails is
        rolled back and said in a message (see :mod:`emgui.ui.commands`).
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
        self._min_confidence = 0.0  # the sheet's threshold: never carried over (see set_min_confidence)
        # Groups to find when no label is typed; 0: chosen by BIC (the default).
        self._n_components = int(self._settings.value("fill/components", 0))

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.undo_stack = SheetUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        # Queued: the message opens once the keystroke or edit that failed is over
        # (not inside the table's commit of an editor).
        self.undo_stack.command_failed.connect(self._on_command_failed, Qt.ConnectionType.QueuedConnection)

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
        self._stepped = None  # (fit, data version, fit input) kept when Escape stops stepping
        self._fill_run = None  # the last F5's _FillRun: the model it chose, for How EM Works
        self._plot_poll = None  # looks for a large sheet's plot data made in a helper thread
        self._plot_box: list = []  # where that thread puts it
        self._plot_data_sheet = None  # the sheet whose plot data is being made, if any
        self._plot_data_again = False  # it changed again meanwhile
        self.fit_panel.fill_stepped_button.clicked.connect(self.fill_from_stepped)
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

        self.setStatusBar(StatusBar(self))
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

        self._init_layout()
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

        # Named after the command ("Undo Paste") as createUndoAction's are, but
        # calling the stack's own undo/redo, which survive a step that fails.
        stack = self.undo_stack
        for key, verb, keys, can, named in (
            ("undo", "&Undo", ["Ctrl+Z"], stack.canUndoChanged, stack.undoTextChanged),
            ("redo", "&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], stack.canRedoChanged, stack.redoTextChanged),
        ):
            action = a(key, verb, stack.undo if key == "undo" else stack.redo, keys)
            action.setEnabled(False)
            can.connect(action.setEnabled)
            named.connect(lambda name, action=action, verb=verb: action.setText(f"{verb} {name}" if name else verb))
        a("cut", "Cu&t", self.cut, std.Cut, "Copy the selected cells and clear them")
        a("copy", "&Copy", self.copy, std.Copy, "Copy the selected cells as tab-separated text")
        a("paste", "&Paste", self.paste, std.Paste, "Paste tab-separated text; rows past the end are added")
        a("delete", "&Delete", self.clear_cells, std.Delete, "Clear the selected cells")
        a("fill_down", "Fi&ll Down", self.fill_down, "Ctrl+D", "Copy the top selected cell down through the selection")
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
        a("missing_report", "Missing-Data &Report…", self.show_missing_report, None,
          "Which cells are blank together, in how many rows: a table and a picture")
        a("columns", "C&olumns…", self.edit_columns, None, "Choose the label and feature columns")
        a("threshold", "Co&nfidence Threshold…", self.edit_threshold, None,
          "Leave cells blank when EM is less sure than this")
        a("reset_layout", "&Reset Layout", self.reset_layout, None,
          "The plot and the Fit panel back at the right, with room for the table's columns")
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
        edit.addActions([acts["cut"], acts["copy"], acts["paste"], acts["delete"], acts["fill_down"]])
        edit.addSeparator()
        edit.addActions([acts["insert_row"], acts["delete_rows"]])

        data = bar.addMenu("&Data")
        data.addActions([acts["fill"], acts["stop"], acts["step"]])
        data.addSeparator()
        data.addActions([acts["accept"], acts["clear_filled"]])
        data.addSeparator()
        data.addActions([acts["columns"], acts["threshold"], acts["fill_numbers"]])
        data.addSeparator()
        data.addAction(acts["missing_report"])

        view = bar.addMenu("&View")
        for dock in (self.plot_dock, self.fit_dock):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction(acts["reset_layout"])

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
        bar.addAction(acts["fill"])
        # The sheet's confidence threshold, beside the button it affects (hidden at 0).
        self.threshold_button = QPushButton("")
        self.threshold_button.setFlat(True)
        self.threshold_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.threshold_button.clicked.connect(self.edit_threshold)
        self._threshold_in_bar = bar.addWidget(self.threshold_button)
        self._threshold_in_bar.setVisible(False)
        bar.addActions([acts["stop"], acts["step"]])
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

    def finish_startup(self) -> None:
        """Import the core, create the table model, the fit controller and the plot."""
        if self._ready:
            return
        self._ready = True
        # The file module too: imported by the first open, on this thread,
        # it was 20-50 ms of the open's longest pause (issue 14 item 3, a 5M
        # open <= 50 ms; bench_window.py --rows 5000000).  Here, not in the
        # readers' thread: imported there it kept ~4 MB more of the heap.
        import emgui.core.fileio  # noqa: F401
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
        self._model.reordering_started.connect(self._on_reordering_started)
        self._model.reordering_finished.connect(self._on_reordering_finished)
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

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.finish_startup()

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

    @Slot()
    def show_about(self) -> None:
        dialogs.show_about(self)

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
