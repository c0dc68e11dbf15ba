"""The docks that follow the data: the mixture plot and Help ▸ How EM Works.

A part of :class:`emgui.ui.window.MainWindow` (a mixin).  The plot
(pyqtgraph) is created after start-up and shows the sheet's data, redrawn
on a coalescing timer as cells change -- before a fit and after it (the
last fit stays drawn over the new data).  A large sheet's data is copied
and made in a helper thread (~0.1 s at a million rows) and drawn when it
is ready, if the sheet has not changed meanwhile.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QDockWidget

from emgui.ui import pacing

__all__ = ["PlotAndExplain"]

_log = logging.getLogger(__name__)


#: How often the GUI thread looks whether the helper thread is done (no Qt object
#: crosses threads: a closed window's timer simply stops looking).
_POLL_MS = 25


def _make_plot_data(box: list, sheet, version: int, k) -> None:
    """In a helper thread: the fit input (and its histogram) of a copy of the sheet's columns, into ``box``.

    The copy is taken here too (five million rows: ~0.1-0.8 s of copying,
    and the GUI thread waited for the interpreter lock behind it): the GUI
    thread may change the sheet meanwhile, so the result counts only if the
    sheet's version is still ``version`` (taken in the GUI thread before
    this started) when it arrives; an error counts only then too.
    """
    from emgui.core import fill

    try:
        fit_input = fill.prepare_from(fill.fit_source(sheet), k)
        _ = fit_input.histogram  # binned here, not in the GUI thread
    except (fill.FillError, ValueError):
        fit_input = None
    except Exception as exc:  # noqa: BLE001 - raised in the GUI thread if the sheet did not change
        fit_input = exc
    box.append((version, k, fit_input))  # list.append is atomic


class PlotAndExplain:
    """The mixture plot's data and the How EM Works panel beside it."""

    def _create_plot(self) -> None:
        try:
            from emgui.ui.plot import MixturePlot
        except Exception:  # the table works without the plot
            _log.exception("the mixture plot is unavailable")
            return
        self._plot = MixturePlot()
        self.plot_dock.setWidget(self._plot)
        self._show_data_in_plot()

    def _show_data_in_plot(self, *, keep_fit: bool = False) -> None:
        """Draw the sheet's data so the plot is never blank (``keep_fit``: the last fit stays drawn over it)."""
        if self._plot is None or self._sheet is None:
            return
        from emgui.core.fill import FillError, prepare_fit

        try:
            fit_input = prepare_fit(self._sheet, self._components_for_sheet())
        except (FillError, ValueError):
            self._plot.set_data([])  # nothing to draw: say how to get a picture
            return
        self._draw_data(fit_input, keep_fit=keep_fit)

    def _draw_data(self, fit_input, *, keep_fit: bool = False, names=None) -> None:
        """The plot shows ``fit_input``'s rows by class (its histogram for one feature)."""
        self._plot.set_data(
            fit_input.X,
            fit_input.labels,
            self._class_names(fit_input) if names is None else names,
            self._axis_labels(),
            histogram=fit_input.histogram if fit_input.X.shape[1] == 1 else None,
            keep_fit=keep_fit,
        )

    def _show_large_data_in_plot(self) -> None:
        """A large sheet changed: copy its columns and make the plot's data in a helper thread."""
        if self._plot_poll is None:
            self._plot_poll = QTimer(self)
            self._plot_poll.setInterval(_POLL_MS)
            self._plot_poll.timeout.connect(self._poll_plot_data)
        if self._plot_data_sheet is not None:
            self._plot_data_again = True  # one at a time; the latest edits are drawn next
            return
        if not self._sheet.roles.features:
            self._plot.set_data([])  # nothing to draw: say how to get a picture
            return
        self._plot_data_sheet = self._sheet
        self._plot_box = []
        threading.Thread(
            target=_make_plot_data,
            args=(self._plot_box, self._sheet, self._sheet.version, self._components_for_sheet()),
            name="emgui-plot-data", daemon=True,
        ).start()
        self._plot_poll.start()

    @Slot()
    def _poll_plot_data(self) -> None:
        if not self._plot_box:
            return
        self._plot_poll.stop()
        self._on_plot_data_made(self._plot_box.pop())

    def _on_plot_data_made(self, made) -> None:
        from emgui.core.fill import remember_fit_input

        version, k, fit_input = made
        sheet, self._plot_data_sheet = self._plot_data_sheet, None
        if self._plot_data_again:
            self._plot_data_again = False
            self._plot_data_timer.start()
        if sheet is not self._sheet or version != sheet.version or self._fitting or self._plot is None:
            return  # another sheet, newer edits (drawn next) or a fit that draws itself
        if isinstance(fit_input, Exception):
            raise fit_input  # the sheet did not change: a real error, for the window's handler
        if fit_input is None:
            self._plot.set_data([])
            return
        remember_fit_input(sheet, k, fit_input)  # F5 then needs no second one
        self._draw_data(fit_input, keep_fit=True)

    def _class_names(self, fit_input) -> list[str]:
        return [fit_input.spellings.get(c, c) for c in fit_input.classes]

    def _axis_labels(self) -> list[str]:
        sheet = self._sheet
        labels = []
        for f in sheet.roles.features:
            name, unit = sheet.columns[f], sheet.unit(f)
            labels.append(name if not unit or unit in name else f"{name} ({unit})")
        return labels

    @Slot()
    def _on_plot_data_due(self) -> None:
        if self._plot is None or self._fitting or self._sheet is None:
            return
        if self._sheet.n_rows >= pacing.LARGE_ROWS:
            self._show_large_data_in_plot()
        else:
            self._show_data_in_plot(keep_fit=True)

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
            self.explain_dock.visibilityChanged.connect(self._on_explain_visibility)
            placed = self.restoreDockWidget(self.explain_dock)
            if not placed:
                self.splitDockWidget(self.plot_dock, self.explain_dock, Qt.Orientation.Horizontal)
            self.view.selectionModel().currentRowChanged.connect(self._explain_row)
            if self._explained is not None:
                self._explain_fit()
        else:
            placed = True
        if not self.explain_dock.isVisible() and not self.plot_dock.isFloating():
            self._plot_width_before_explain = self.plot_dock.width()  # given back when it closes
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
        self._explain_model()
        if self._last_snapshot is not None:
            self._how_em.show_snapshot(self._last_snapshot)
        self._explain_row(self.view.currentIndex())

    def _explain_model(self) -> None:
        """How EM Works follows the model the fill chose: shared or separate spreads, unnamed groups."""
        run = self._fill_run
        if self._how_em is not None and run is not None and run.model is not None:
            self._how_em.set_model(*run.model)

    def _explain_row(self, current, _previous=None) -> None:
        if self._explained is None or not current.isValid():
            return
        from emgui.ui.explain import sheet_row_input

        row = self._model.sheet_row(current.row())
        if row >= self._sheet.n_rows:
            return  # the empty row for typing
        x, label = sheet_row_input(self._sheet, self._explained.classes, row)
        self._how_em.select_row(x, label, caption=f"row {row + 1}")
