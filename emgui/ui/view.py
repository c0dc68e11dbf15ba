"""What the window shows and how: its size and docks, the row filter, sorting, column widths, the counts.

A part of :class:`emgui.ui.window.MainWindow` (a mixin).  Column widths are
fitted to a sample of rows, and on wide sheets only to the columns in view
(each ``setColumnWidth`` costs Qt's header time in proportion to the number
of columns).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer, Slot
from PySide6.QtWidgets import QStatusBar, QToolBar, QWidget

from emgui.ui import pacing

__all__ = ["ROW_FILTERS", "StatusBar", "ViewState"]

_SIZE_SAMPLE_ROWS = 50
#: Sheets with more columns have only the columns in view sized, the rest as
#: they scroll into view: each setColumnWidth costs Qt's header time in
#: proportion to the number of columns (it recomputes every section's
#: position), so sizing all 20,000 columns of a wide file took ~40 s.
_EAGER_SIZE_COLUMNS = 200
#: Columns sized beyond the right edge of the view, so a short scroll shows sized columns.
_SIZE_MARGIN_COLUMNS = 8
#: The docks beside the table are never squeezed narrower than this for the table's sake...
_MIN_DOCKS = 240
#: ...and, to show every column of a sheet just opened, not below this share of the window.
_DOCKS_SHARE = 0.35
#: The plot's width when the layout is reset (and at the first start).
_PLOT_WIDTH = 460

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


class StatusBar(QStatusBar):
    """A status bar whose messages never run into its permanent widgets (the fit, the counts).

    A message too long for the room left of them is cut with "…"; the
    whole of it is the bar's tooltip.  (Qt's own status tips, shown on
    hovering a menu item, are short and bypass this.)
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        self.messageChanged.connect(self._on_message_changed)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def room(self) -> int:
        """Pixels for a message left of the permanent widgets."""
        used = sum(
            max(w.sizeHint().width(), w.width() if w.isVisible() else 0) for w in self._permanent if not w.isHidden()
        )
        return self.width() - used - 12 * (len(self._permanent) + 2)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802
        room = self.room()
        fm = self.fontMetrics()
        if text and room > 40 and fm.horizontalAdvance(text) > room:
            self.setToolTip(text)
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
        else:
            self.setToolTip("")
        super().showMessage(text, timeout)

    @Slot(str)
    def _on_message_changed(self, text: str) -> None:
        if not text:
            self.setToolTip("")


class ViewState:
    """The window's geometry, the filter and sort of the rows, column widths and the status-bar counts."""

    def _init_layout(self) -> None:
        """Layout state: the columns' own widths, the timer that gives the table room after a resize."""
        self._natural_widths: dict[int, int] = {}  # view column -> width before the last one stretched
        self._reorder_message = ""  # the status bar's while a large sheet is sorted
        self._plot_width_before_explain: int | None = None
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(50)
        self._layout_timer.timeout.connect(lambda: self._give_table_room(all_columns=False))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._ready:
            self._layout_timer.start()  # once the resizing pauses

    def _side_docks(self) -> list:
        """The docks sharing the window's width with the table (docked right, visible)."""
        docks = [self.plot_dock, self.fit_dock]
        if self._how_em is not None:
            docks.insert(1, self.explain_dock)
        shown = [
            d for d in docks
            if d.isVisible() and not d.isFloating()
            and self.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea
        ]
        # The Fit panel sits under the plot: one column of the area, not a second.
        if self.fit_dock in shown and self.plot_dock in shown:
            shown.remove(self.fit_dock)
        return shown

    def _table_needs(self, all_columns: bool) -> int:
        """Pixels the table needs to show every column, or name, label, confidence and one feature."""
        model, view = self._model, self.view
        n = model.columnCount() if model is not None else 0
        if n == 0:
            return 0
        if all_columns:
            cols = range(n)
        else:
            roles = self._sheet.roles
            wanted = [0, 1]
            if roles.label is not None:
                wanted += [model.view_column(roles.label), model.confidence_column]
            if roles.features:
                wanted.append(model.view_column(roles.features[0]))
            cols = range(min(max(c for c in wanted if c >= 0) + 1, n))
        widths = sum(self._natural_widths.get(c, view.columnWidth(c)) for c in cols)
        scroll = view.verticalScrollBar().sizeHint().width()
        return widths + view.verticalHeader().width() + 2 * view.frameWidth() + scroll + 2

    def _give_table_room(self, *, all_columns: bool) -> None:
        """Narrow the docks (never below a floor) until the table shows its columns.

        ``all_columns`` (a sheet opened, a layout restored or reset): every
        column, the docks keeping at least a third of the window; otherwise
        (the window resized) the name, the label, its confidence and the
        first feature, the docks keeping at least ``_MIN_DOCKS`` pixels.
        """
        if self._model is None:
            return
        docks = self._side_docks()
        if not docks:
            return
        short = self._table_needs(all_columns) - self.view.width()
        if short <= 0:
            return
        total = sum(d.width() for d in docks)
        floor = max(_MIN_DOCKS, int(self.width() * _DOCKS_SHARE)) if all_columns else _MIN_DOCKS
        new_total = max(floor, total - short)
        if new_total >= total:
            return
        sizes = [max(1, d.width() * new_total // total) for d in docks]
        self.resizeDocks(docks, sizes, Qt.Orientation.Horizontal)

    def _give_table_room_soon(self) -> None:
        """After the layout has settled (docks are sized by the next layout pass)."""
        QTimer.singleShot(0, self, lambda: self._give_table_room(all_columns=True))

    @Slot()
    def reset_layout(self) -> None:
        """View ▸ Reset Layout: the plot over the Fit panel at the right, How EM Works closed, room for the table."""
        self._ensure_ready()
        for dock in (self.plot_dock, self.fit_dock):
            dock.setFloating(False)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            dock.show()
        self.splitDockWidget(self.plot_dock, self.fit_dock, Qt.Orientation.Vertical)
        if self._how_em is not None:
            self.explain_dock.setFloating(False)
            self.explain_dock.hide()
        for bar in self.findChildren(QToolBar):
            bar.show()
        self.resizeDocks([self.plot_dock, self.fit_dock], [440, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.plot_dock], [min(_PLOT_WIDTH, int(self.width() * 0.4))], Qt.Orientation.Horizontal)
        self._give_table_room_soon()

    @Slot(bool)
    def _on_explain_visibility(self, visible: bool) -> None:
        """How EM Works closed: the plot gets its own width back, the table the rest."""
        if visible or self.explain_dock.isFloating() or self.explain_dock.isVisible():
            return
        width, self._plot_width_before_explain = self._plot_width_before_explain, None
        if width is not None and self.plot_dock.isVisible() and not self.plot_dock.isFloating():
            QTimer.singleShot(
                0, self, lambda: self.resizeDocks([self.plot_dock], [width], Qt.Orientation.Horizontal)
            )

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

    def _on_sheet_event(self, event) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()
        if self.welcome.isVisible():
            self.welcome.hide()
        if self._plot is not None and not self._fitting:
            # The plot follows every edit, paste, inserted or deleted row and
            # new class, before and after a fit, redrawn once the edits pause
            # (the timer restarts on each); a large sheet's data is made in a
            # helper thread (see emgui.ui.plotting).
            self._plot_data_timer.start()
        self._widen_columns(event)

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
            if width > self._natural_widths.get(view_col, self.view.columnWidth(view_col)):
                self._natural_widths[view_col] = width
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
        self._natural_widths = {}
        if model.columnCount() <= _EAGER_SIZE_COLUMNS:
            self._sized_columns = None
            self._set_column_widths(range(model.columnCount()))
            self._give_table_room_soon()
            return
        self._sized_columns = set()
        self._size_columns_in_view()
        QTimer.singleShot(0, self, lambda: self._give_table_room(all_columns=False))

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
            width = max(80, min(width, 320))
            self._natural_widths[col] = width
            self.view.setColumnWidth(col, width)
            if self._sized_columns is not None:
                self._sized_columns.add(col)

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
    def _on_reordering_started(self) -> None:
        """A large sheet is sorted or filtered in a helper thread: a busy cursor over the table meanwhile.

        The table stays usable (scrolling, editing; an edit made meanwhile
        has the order computed again), so the busy cursor, not the wait cursor.
        """
        self.view.setCursor(Qt.CursorShape.BusyCursor)
        self.original_order.setEnabled(True)  # also stops a sort still running
        self._reorder_message = f"Sorting {self._sheet.n_rows:,} rows…"
        self.statusBar().showMessage(self._reorder_message)

    @Slot()
    def _on_reordering_finished(self) -> None:
        self.view.unsetCursor()
        self.original_order.setEnabled(self._model.sort_state is not None)
        bar = self.statusBar()
        if self._reorder_message in (bar.currentMessage(), bar.toolTip()):  # the tooltip: when cut short
            bar.clearMessage()

    @Slot()
    def _on_rows_reordered(self) -> None:
        self.original_order.setEnabled(self._model.sort_state is not None)
        if self._sheet is not None and self._sheet.n_rows >= pacing.LARGE_ROWS:
            self._release_memory_soon()  # a sort of a million rows leaves ~50 MB of freed blocks
