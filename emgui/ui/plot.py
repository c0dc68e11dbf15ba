"""Live view of the mixture while EM runs (pyqtgraph).

One feature: a histogram of the values (per class, unlabelled in grey, all
rows as a light area) with each component's weighted density and the
mixture density on the histogram's count axis.  Two or more features: a
scatter of the first two, with each component's 1σ and 2σ ellipses and a
cross at its mean.  Below, the log-likelihood per iteration.

Everything static (histograms, scatter, axis ranges) is computed once in
:meth:`MixturePlot.set_data`.  Snapshots are coalesced to about 30 frames a
second and each frame only calls ``setData`` on curves created once
(pyqtgraph ``examples/PanningPlot.py``, ``SignalProxy.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsTextItem, QVBoxLayout, QWidget

from emgui.core.binning import Histogram, group_histogram
from emgui.core.colors import UNLABELLED_HEX, class_hex

__all__ = ["MixturePlot"]

_N_GRID = 200  # density curve points (1 feature): smooth with antialiasing, cheap to stroke
_N_ELLIPSE = 73  # points per ellipse, closed
_TEXT = "#222222"
_TWO_PI = 2.0 * np.pi


def _mkpen(color: str | QColor, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine):
    # Qt strokes antialiased pens of width <= 1 with a fast cosmetic stroker;
    # wider ones cost about 15 times as much, so live curves stay at 1 px
    # and only solid pens are used for them (dashes are slower still).
    pen = pg.mkPen(color, width=width, style=style)
    pen.setCosmetic(True)
    return pen


def _cache(item: QGraphicsItem) -> None:
    """Keep ``item`` as a pixmap until it changes.

    Text, axes and the static data are the bulk of a repaint; during a fit
    only the component curves change, so everything else is a blit.
    """
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _cache_static(widget: pg.PlotWidget) -> None:
    item = widget.getPlotItem()
    for side in ("left", "bottom", "top", "right"):
        _cache(item.getAxis(side))
    for child in widget.scene().items():
        if isinstance(child, QGraphicsTextItem):
            _cache(child)


class _PlainAxis(pg.AxisItem):
    """An axis that writes every tick with the decimals its spacing needs.

    pyqtgraph writes values of 10,000 and more with ``%g`` (six significant
    digits), so a log-likelihood of -390,935.9 climbing by tenths shows the
    same label, "-390936", on every tick.
    """

    #: Pixels per tick label at least: the log-likelihood plot is a few dozen
    #: pixels tall, and pyqtgraph's 2.25 intervals at least wrote three
    #: labels over each other there.
    LABEL_PITCH = 18

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803
        levels = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if not levels or size <= 0 or span == 0 or self.logMode:
            return levels
        least = span * self.LABEL_PITCH / size
        if levels[0][0] >= least:
            return levels
        # The next 1-2-5 step at or above it, and no minor ticks (no room).
        unit = 10.0 ** np.floor(np.log10(least))
        spacing = next(m * unit for m in (1, 2, 5, 10) if m * unit >= least)
        return [(spacing, 0.0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        if self.logMode or spacing <= 0:
            return super().tickStrings(values, scale, spacing)
        places = int(max(0, np.ceil(-np.log10(spacing * scale))))
        return [f"{v * scale:.{places}f}".replace("-", "\u2212") for v in values]


def _with_alpha(hex_color: str, alpha: int) -> QColor:
    c = QColor(hex_color)
    c.setAlpha(alpha)
    return c


def _same_histogram(a: Histogram | None, b: Histogram | None) -> bool:
    """Whether two histograms have the same bins and counts (both given)."""
    return (
        a is not None
        and b is not None
        and a.n_values == b.n_values
        and np.array_equal(a.edges, b.edges)
        and np.array_equal(a.counts, b.counts)
    )


#: Data up to this many values is fingerprinted, so an edit that changes
#: nothing drawn (a fill: the fit ignores filled labels) redraws nothing.
_KEY_MAX_VALUES = 400_000


def _data_key(x: np.ndarray, lab: np.ndarray, class_names: Sequence[str], unit_label: Any) -> tuple | None:
    if x.size > _KEY_MAX_VALUES:
        return None
    units = unit_label if isinstance(unit_label, str) else tuple(unit_label)
    return (x.shape, hash(np.ascontiguousarray(x).tobytes()), hash(lab.tobytes()), tuple(class_names), units)


def _weak(obj: Any):
    """A weak reference to ``obj``, or a callable giving None when it cannot have one."""
    try:
        return weakref.ref(obj)
    except TypeError:  # a list, None: never "the same arrays again"
        return lambda: None


class MixturePlot(QWidget):
    """The data, the fitted components and the log-likelihood history.

    Parameters
    ----------
    parent : QWidget, optional
    max_points : int, default 20000
        Scatter plots of more rows show a deterministic sample of this size.
    frame_ms : int, default 33
        Minimum milliseconds between two redraws of the components.

    Attributes
    ----------
    frames_drawn : int
        Number of times the components were redrawn (for tests and benchmarks).
    """

    def __init__(
        self, parent: QWidget | None = None, *, max_points: int = 20_000, frame_ms: int = 33
    ) -> None:
        super().__init__(parent)
        self.frames_drawn = 0
        self._max_points = int(max_points)

        self._main = pg.PlotWidget(background="w")
        self._ll = pg.PlotWidget(background="w", axisItems={"left": _PlainAxis("left")})
        for widget in (self._main, self._ll):
            item = widget.getPlotItem()
            # Room on the right: the last tick label and the data stay clear
            # of the dock's edge instead of looking cut off.
            item.layout.setContentsMargins(2, 6, 16, 2)
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                axis.setPen(_TEXT)
                axis.setTextPen(_TEXT)
            # No grid: its lines make each axis a full-plot pixmap to blend
            # on every frame (about 1 ms of the 7 ms budget).
        self._ll.getPlotItem().setLabel("bottom", "iteration")
        # "log-likelihood" does not fit beside a plot this short.
        self._ll.getPlotItem().setLabel("left", "log-lik.")
        self._ll.setToolTip("The observed-data log-likelihood after each iteration: EM never lets it fall.")
        self._ll.setMaximumHeight(200)
        self._ll.getPlotItem().getAxis("left").setTickDensity(0.6)  # a short axis: fewer, legible labels
        ll_view = self._ll.getPlotItem().getViewBox()
        ll_view.disableAutoRange()  # widened in steps by _draw_history, not per frame
        ll_view.setRange(xRange=(0.0, 8.0), padding=0)  # whole iterations before any fit
        self._ll_bounds = (0.0, 0.0, 0.0)  # (last iteration, lowest, highest) shown
        self._ll_values_shown = True
        self._show_ll_values(False)  # until a fit draws its history
        # Tight rows: the legend sits over the data, so the less it covers the better.
        self._legend = self._main.getPlotItem().addLegend(
            offset=(-10, 10), labelTextColor=_TEXT, verSpacing=-6, labelTextSize="8pt"
        )
        self._legend.setBrush(pg.mkBrush(255, 255, 255, 200))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._main, 4)
        layout.addWidget(self._ll, 1)
        _cache(self._legend)
        self._empty_note = pg.TextItem(
            html=(
                f"<div style='color:{_TEXT}; text-align:center'>Type or open some numbers "
                "(such as heights): their histogram is drawn here, and the mixture while "
                "EM runs (F5).</div>"
            ),
            anchor=(0.5, 0.5),
        )
        self._empty_note.setTextWidth(240)
        self._main.addItem(self._empty_note, ignoreBounds=True)
        self._show_empty(True)

        self._ll_curve = pg.PlotCurveItem(pen=_mkpen(_TEXT, 1.0), antialias=True)
        self._ll_points = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(_TEXT))
        self._ll.addItem(self._ll_curve)
        self._ll.addItem(self._ll_points)
        _cache_static(self._ll)
        self._hist_it = np.empty(256)
        self._hist_ll = np.empty(256)
        self._hist_n = 0

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(frame_ms))
        self._timer.timeout.connect(self._on_frame_due)
        self._latest: Any = None

        self._n_features = 0  # 0: no data, 1: histogram, 2: scatter
        self._drawn: tuple | None = None  # the arguments of the last set_data
        self._drawn_histogram: Histogram | None = None  # the one-feature histogram drawn
        self._n_classes = 0
        self._class_names: list[str] = []
        self._static_items: list[Any] = []
        self._component_items: list[list[pg.PlotCurveItem]] = []
        self._mixture_curve: pg.PlotCurveItem | None = None
        self._mean_marks: pg.ScatterPlotItem | None = None
        self._grid = np.empty(0)
        self._count_scale = 1.0
        self._circle = np.vstack(
            [
                np.cos(np.linspace(0, _TWO_PI, _N_ELLIPSE)),
                np.sin(np.linspace(0, _TWO_PI, _N_ELLIPSE)),
            ]
        )
        self._shown_rows = np.empty(0, dtype=np.int64)
        self._shown_unlabelled = np.empty(0, dtype=np.int64)
        self._unlabelled_scatter: pg.ScatterPlotItem | None = None
        self._posterior_brushes: dict[tuple[int, int], Any] = {}
        self._mean_brushes: list[Any] = []
        self._last_fit: tuple | None = None  # (result, unnamed) drawn by show_result
        self._data_key: tuple | None = None  # what set_data drew, for edits that change nothing
        self._data_range: tuple | None = None  # the data's own axes, before any fit widened them
        self._y_top = 1.0

    # -- data ---------------------------------------------------------------------------

    def set_data(
        self,
        X: Any,
        labels: Any = None,
        class_names: Sequence[str] = (),
        unit_label: str | Sequence[str] = "",
        histogram: Histogram | None = None,
        *,
        keep_fit: bool = False,
    ) -> None:
        """Show new data; call once per data change (not per frame).

        Parameters
        ----------
        X : array_like, shape (n_rows, n_features) or (n_rows,)
            Feature values; rows with a non-finite value among the plotted
            features (the first one or two) are left out.
        labels : array_like of int, shape (n_rows,), optional
            Class index per row, ``-1`` for unlabelled.
        class_names : sequence of str
            Name of each class, for the legend.
        unit_label : str or sequence of str
            Axis label(s), e.g. ``"height (cm)"`` or one per plotted feature.
        histogram : Histogram, optional
            The one-feature histogram of exactly these ``X`` and ``labels``
            (:func:`emgui.core.binning.group_histogram`), when it was already
            computed elsewhere, e.g. in a loader thread: a million rows take
            ~50 ms to bin.  Computed here when omitted.
        keep_fit : bool, default False
            The sheet was edited after a fit: draw the last fit again over
            the new data (and do nothing when the data drawn is the same).
            Without it, new data drops the fit (a new sheet, a new fit).
        """
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        n_rows, n_features = x.shape
        if labels is None:
            lab = np.full(n_rows, -1, np.int8)
        else:
            # A fit's small label codes as they are (five million rows: an
            # int64 copy was 40 MB and ~20 ms of the GUI thread).
            lab = np.asarray(labels).reshape(-1)
            if lab.dtype.kind != "i":
                lab = lab.astype(np.int64)
        if lab.shape[0] != n_rows:
            raise ValueError(f"labels has {lab.shape[0]} rows, X has {n_rows}")
        key = _data_key(x, lab, class_names, unit_label)
        if keep_fit and self.has_fit and key is not None and key == self._data_key:
            return  # an edit that changed nothing drawn (a fill writes labels the fit ignores)
        refit = self._last_fit if keep_fit and self.has_fit else None
        self._data_key = key
        self._timer.stop()
        self._latest = None
        # The same arrays again (a fit of the data just drawn: the fit's input
        # is cached until the sheet changes): keep the histogram, which takes
        # ~50 ms of the GUI thread at a million rows; drop only the fit.
        last = self._drawn
        if (
            last is not None
            and self._n_features == 1
            and last[2:] == (list(class_names), unit_label)
            and (
                (last[0]() is X and last[1]() is labels)
                # New arrays with the same histogram (a refit of unchanged
                # data): the ~40 ms of rebuilding the items would show nothing new.
                or _same_histogram(histogram, self._drawn_histogram)
            )
        ):
            self._drawn = (_weak(X), _weak(labels), list(class_names), unit_label)
            if refit is None:
                self._drop_components()
                self.reset_history()
                if self._data_range is not None:
                    self._fix_range(*self._data_range)  # a fit's widened axes go back to the data's
            return
        # Weak references: the plot does not keep a million rows alive (the
        # window lets an old fit's input go before making a new one), and a
        # dead reference never matches a new array at the old address.
        self._drawn = (_weak(X), _weak(labels), list(class_names), unit_label)
        self._clear_items()
        self.reset_history()
        self._class_names = [str(c) for c in class_names]
        top = int(lab.max()) if lab.size else -1  # -1: no row labelled
        self._n_classes = max(len(self._class_names), top + 1)
        self._n_features = min(n_features, 2)
        units = [unit_label] if isinstance(unit_label, str) else [str(u) for u in unit_label]
        item = self._main.getPlotItem()
        item.setTitle(None)
        self._main.setToolTip("")
        item.setLabel("bottom", units[0] if units else "")
        if self._n_features == 1:
            item.setLabel("left", "rows per bin")
            self._set_histogram(x[:, 0], lab, histogram)
        elif self._n_features == 2:
            item.setLabel("left", units[1] if len(units) > 1 else "")
            self._set_scatter(x[:, :2], lab)
        self._show_empty(self._n_features == 0)
        _cache_static(self._main)
        if refit is not None and self._n_features:
            self.show_result(*refit)

    @property
    def has_data(self) -> bool:
        """Whether data is drawn (False: the plot shows how to get some)."""
        return self._n_features > 0

    @property
    def has_fit(self) -> bool:
        """Whether fitted components are drawn over the data."""
        return bool(self._component_items)

    def _show_empty(self, empty: bool) -> None:
        """Without data: a sentence instead of bare axes running from 0 to 1."""
        item = self._main.getPlotItem()
        for side in ("left", "bottom"):
            item.showAxis(side, not empty)
        self._empty_note.setVisible(empty)
        if empty:
            self._fix_range((0.0, 1.0), (0.0, 1.0))
            self._empty_note.setPos(0.5, 0.5)

    def _place_legend(self, left_load: float, right_load: float) -> None:
        """Put the legend in the top corner where it hides less data."""
        self._legend.setOffset((10, 10) if left_load < right_load else (-10, 10))

    def _class_name(self, k: int) -> str:
        return self._class_names[k] if k < len(self._class_names) else f"class {k + 1}"

    def _add_static(self, item: Any, name: str | None = None) -> None:
        _cache(item)
        self._main.addItem(item)
        self._static_items.append(item)
        if name is not None:
            self._add_legend(item, name)

    def _add_legend(self, item: Any, name: str) -> None:
        self._legend.addItem(item, name)
        sample, label = self._legend.items[-1]
        _cache(sample)
        _cache(label.item)

    def _clear_items(self) -> None:
        self._legend.clear()
        for item in self._static_items:
            self._main.removeItem(item)
        self._static_items = []
        self._drop_components()
        self._shown_rows = np.empty(0, dtype=np.int64)
        self._shown_unlabelled = np.empty(0, dtype=np.int64)
        self._unlabelled_scatter = None
        self._grid = np.empty(0)
        self._drawn_histogram = None

    def _set_histogram(self, values: np.ndarray, lab: np.ndarray, histogram: Histogram | None) -> None:
        if histogram is None or histogram.counts.shape[0] != self._n_classes + 1:
            histogram = group_histogram(values, lab, self._n_classes)
        if histogram is None:
            self._n_features = 0
            return
        self._drawn_histogram = histogram
        edges, counts = histogram.edges, histogram.counts
        total = counts.sum(axis=0)
        self._add_static(
            pg.PlotCurveItem(
                edges,
                total,
                stepMode="center",
                fillLevel=0,
                pen=_mkpen("#C8C8C8"),
                brush=pg.mkBrush(225, 225, 225),
            ),
            "all rows",
        )
        for k in range(self._n_classes):
            if counts[k + 1].any():
                pen = _mkpen(class_hex(k), 1.5)
                self._add_static(
                    pg.PlotCurveItem(edges, counts[k + 1], stepMode="center", pen=pen),
                    self._class_name(k),
                )
        if counts[0].any():
            pen = _mkpen(UNLABELLED_HEX, 1.5, Qt.PenStyle.DotLine)
            self._add_static(
                pg.PlotCurveItem(edges, counts[0], stepMode="center", pen=pen), "unlabelled"
            )
        width = edges[1] - edges[0]
        # A component's expected count per bin is n * width * density.
        self._count_scale = histogram.n_values * width
        self._grid = np.linspace(edges[0], edges[-1], _N_GRID)
        outer = max(1, int(np.ceil(0.4 * total.size)))  # about the legend's width
        left, right = float(total[:outer].max()), float(total[-outer:].max())
        self._place_legend(left, right)
        # The legend covers about the top fifth: bars (and the curves, a
        # little higher) under it stay visible below it.
        top = max(float(total.max()) * 1.2, 1.55 * min(left, right), 1.0)
        self._fix_range((edges[0], edges[-1]), (0.0, top))

    def _set_scatter(self, xy: np.ndarray, lab: np.ndarray) -> None:
        rows = np.flatnonzero(np.isfinite(xy).all(axis=1))
        if rows.size == 0:
            self._n_features = 0
            return
        if rows.size > self._max_points:
            n_finite = rows.size
            rng = np.random.default_rng(0)  # same data, same picture
            rows = np.sort(rng.choice(rows, self._max_points, replace=False))
            note = f"showing a fixed sample of {self._max_points:,} of {n_finite:,} rows"
            self._main.getPlotItem().setTitle(note, color=_TEXT, size="9pt")
            self._main.setToolTip(note)
        self._shown_rows = rows
        pts, g = xy[rows], lab[rows]
        for k in range(self._n_classes):
            sel = g == k
            if sel.any():
                brush = pg.mkBrush(_with_alpha(class_hex(k), 200))
                self._add_static(
                    pg.ScatterPlotItem(pts[sel, 0], pts[sel, 1], size=6, pen=None, brush=brush),
                    self._class_name(k),
                )
        unl = g < 0
        if unl.any():
            self._shown_unlabelled = np.flatnonzero(unl)
            scatter = pg.ScatterPlotItem(
                pts[unl, 0],
                pts[unl, 1],
                size=6,
                pen=None,
                brush=pg.mkBrush(_with_alpha(UNLABELLED_HEX, 150)),
            )
            self._unlabelled_scatter = scatter
            self._add_static(scatter, "unlabelled")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = np.where(hi > lo, 0.05 * (hi - lo), np.maximum(np.abs(lo) * 0.05, 0.5))
        # Points under each top corner (the upper third, the outer 40 %).
        upper = pts[:, 1] >= hi[1] - (hi[1] - lo[1]) / 3
        span_x = hi[0] - lo[0]
        self._place_legend(
            float(np.count_nonzero(upper & (pts[:, 0] <= lo[0] + 0.4 * span_x))),
            float(np.count_nonzero(upper & (pts[:, 0] >= hi[0] - 0.4 * span_x))),
        )
        self._fix_range((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))

    def _fix_range(self, x_range: tuple[float, float], y_range: tuple[float, float], *, data: bool = True) -> None:
        # Fixed ranges: auto-range would rescan every curve on every frame.
        if data:
            self._data_range = (x_range, y_range)
        self._y_top = y_range[1]
        view = self._main.getPlotItem().getViewBox()
        view.disableAutoRange()
        view.setRange(xRange=x_range, yRange=y_range, padding=0)

    # -- components ---------------------------------------------------------------------

    def _drop_components(self) -> None:
        for items in self._component_items:
            for curve in items:
                self._main.removeItem(curve)
        self._component_items = []
        if self._mixture_curve is not None:
            self._main.removeItem(self._mixture_curve)
            self._mixture_curve = None
        if self._mean_marks is not None:
            self._main.removeItem(self._mean_marks)
            self._mean_marks = None

    def _build_components(self, n_components: int) -> None:
        """Create the curves for ``n_components`` once; frames only update them."""
        self._drop_components()
        for k in range(n_components):
            color = class_hex(k)
            if self._n_features == 1:
                curves = [pg.PlotCurveItem(pen=_mkpen(color, 1.0), antialias=True)]
            else:
                # Darker than the class colour, or the outline is lost among
                # the points of its own class.
                dark = QColor(color).darker(170)
                faint = QColor(dark)
                faint.setAlpha(150)
                curves = [
                    pg.PlotCurveItem(pen=_mkpen(dark, 1.0), antialias=True),
                    pg.PlotCurveItem(pen=_mkpen(faint, 1.0), antialias=True),
                ]
            for curve in curves:
                curve.setZValue(10)
                self._main.addItem(curve)
            self._component_items.append(curves)
        if self._n_features == 1:
            # The one wide antialiased pen: it costs what all the others cost.
            self._mixture_curve = pg.PlotCurveItem(pen=_mkpen(_TEXT, 2.0), antialias=True)
            self._mixture_curve.setZValue(11)
            self._main.addItem(self._mixture_curve)
            self._add_legend(self._mixture_curve, "mixture")
        else:
            brushes = [pg.mkBrush(class_hex(k)) for k in range(n_components)]
            self._mean_marks = pg.ScatterPlotItem(
                size=16, symbol="+", pen=_mkpen(_TEXT, 1.0), brush=brushes[0] if brushes else None
            )
            self._mean_marks.setZValue(12)
            self._main.addItem(self._mean_marks)
            self._mean_brushes = brushes

    def show_snapshot(self, snapshot: Any) -> None:
        """Queue ``snapshot`` for drawing; bursts are coalesced to one frame.

        Parameters
        ----------
        snapshot : Snapshot
            ``weights`` (K,), ``means`` (K, D), ``covariances`` (K, D, D),
            ``iteration``, ``log_likelihood``.
        """
        self._latest = snapshot
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Draw a queued snapshot now instead of at the next frame."""
        self._timer.stop()
        self._on_frame_due()

    def show_result(self, result: Any, unnamed: Any = ()) -> None:
        """Draw a finished fit: its parameters and its full likelihood history.

        Parameters
        ----------
        result : MixtureResult
        unnamed : sequence of bool
            Per component: a group no typed label names, drawn grey and dashed.
        """
        self._timer.stop()
        self._latest = None
        self._last_fit = (result, unnamed)
        self._draw_components(result.weights, result.means, result.covariances)
        self._fit_range_to_components()
        for k, curves in enumerate(self._component_items):
            grey = k < len(unnamed) and bool(unnamed[k])
            for i, curve in enumerate(curves):
                color = QColor(UNLABELLED_HEX if grey else class_hex(k))
                if self._n_features > 1 and not grey:
                    color = color.darker(170)
                if i == 1:
                    color.setAlpha(150)
                pen = _mkpen(color, 1.5 if grey else 1.0)
                if grey:
                    pen.setStyle(Qt.PenStyle.DashLine)
                curve.setPen(pen)
        history = np.asarray(result.history, dtype=np.float64)
        self.reset_history()
        for i, ll in enumerate(history):
            self._append_history(i, ll)
        self._draw_history()
        self.frames_drawn += 1

    @Slot()
    def _on_frame_due(self) -> None:
        snapshot, self._latest = self._latest, None
        if snapshot is None:
            return
        self._draw_components(snapshot.weights, snapshot.means, snapshot.covariances)
        self._append_history(int(snapshot.iteration), float(snapshot.log_likelihood))
        self._draw_history()
        self.frames_drawn += 1

    def _draw_components(self, weights: Any, means: Any, covariances: Any) -> None:
        if self._n_features == 0:
            return
        w = np.asarray(weights, dtype=np.float64)
        mu = np.asarray(means, dtype=np.float64).reshape(w.size, -1)
        cov = np.asarray(covariances, dtype=np.float64).reshape(w.size, mu.shape[1], mu.shape[1])
        if mu.shape[1] < self._n_features:
            return
        if len(self._component_items) != w.size:
            self._build_components(w.size)
        if self._n_features == 1:
            self._draw_densities(w, mu[:, 0], cov[:, 0, 0])
        else:
            self._draw_ellipses(mu[:, :2], cov[:, :2, :2])

    def _draw_densities(self, w: np.ndarray, mu: np.ndarray, var: np.ndarray) -> None:
        var = np.maximum(var, 1e-300)
        z = self._grid[None, :] - mu[:, None]
        dens = (w * self._count_scale / np.sqrt(_TWO_PI * var))[:, None] * np.exp(
            -0.5 * z * z / var[:, None]
        )
        for (curve,), d in zip(self._component_items, dens, strict=True):
            curve.setData(self._grid, d, skipFiniteCheck=True)
        total = dens.sum(axis=0)
        self._mixture_curve.setData(self._grid, total, skipFiniteCheck=True)
        peak = float(total.max()) if total.size else 0.0
        if np.isfinite(peak) and peak > self._y_top:
            # The curve would run off the top: grow the axis (rarely; each
            # change redraws the axis), never shrink it mid-fit.
            x_range, _ = self._data_range
            self._fix_range(x_range, (0.0, peak * 1.25), data=False)

    def _fit_range_to_components(self) -> None:
        """A finished fit: the axes hold the data and the fitted curves (or 1σ ellipses), no more."""
        if self._n_features == 0 or self._data_range is None:
            return
        (x0, x1), (y0, y1) = self._data_range
        if self._n_features == 1 and self._mixture_curve is not None:
            _, total = self._mixture_curve.getData()
            peak = float(np.nanmax(total)) if total is not None and len(total) else 0.0
            if np.isfinite(peak):
                y1 = max(y1, peak * 1.15)
        elif self._n_features == 2:
            for inner, _outer in self._component_items:
                xs, ys = inner.getData()
                if xs is None or not len(xs) or not np.isfinite(xs).all() or not np.isfinite(ys).all():
                    continue
                x0, x1 = min(x0, float(xs.min())), max(x1, float(xs.max()))
                y0, y1 = min(y0, float(ys.min())), max(y1, float(ys.max()))
        self._fix_range((x0, x1), (y0, y1), data=False)

    def _draw_ellipses(self, mu: np.ndarray, cov: np.ndarray) -> None:
        vals, vecs = np.linalg.eigh(cov)  # (K, 2), (K, 2, 2)
        axes = vecs * np.sqrt(np.maximum(vals, 0.0))[:, None, :]
        outline = axes @ self._circle  # (K, 2, n): the 1σ ellipse around 0
        for k, (one, two) in enumerate(self._component_items):
            one.setData(mu[k, 0] + outline[k, 0], mu[k, 1] + outline[k, 1], skipFiniteCheck=True)
            two.setData(
                mu[k, 0] + 2 * outline[k, 0], mu[k, 1] + 2 * outline[k, 1], skipFiniteCheck=True
            )
        self._mean_marks.setData(pos=mu, brush=self._mean_brushes)

    # -- likelihood history -------------------------------------------------------------

    def reset_history(self) -> None:
        """Clear the log-likelihood plot (a new fit or a new sheet starts): clean axes."""
        self._hist_n = 0
        self._ll_bounds = (0.0, 0.0, 0.0)
        self._ll_curve.setData([], [])
        self._ll_points.setData([], [])
        self._ll.getPlotItem().getViewBox().setRange(xRange=(0.0, 8.0), yRange=(0.0, 1.0), padding=0)
        self._show_ll_values(False)  # no numbers on an axis with nothing on it

    def _show_ll_values(self, show: bool) -> None:
        if show != self._ll_values_shown:
            self._ll_values_shown = show
            self._ll.getPlotItem().getAxis("left").setStyle(showValues=show)

    def _append_history(self, iteration: int, ll: float) -> None:
        if not np.isfinite(ll):
            return
        if self._hist_n and iteration <= self._hist_it[self._hist_n - 1]:
            self._hist_n = 0  # a new fit (or restart) began without reset_history()
        if self._hist_n == self._hist_it.size:
            self._hist_it = np.concatenate([self._hist_it, np.empty_like(self._hist_it)])
            self._hist_ll = np.concatenate([self._hist_ll, np.empty_like(self._hist_ll)])
        self._hist_it[self._hist_n] = iteration
        self._hist_ll[self._hist_n] = ll
        self._hist_n += 1

    def _draw_history(self) -> None:
        n = self._hist_n
        if n:
            self._show_ll_values(True)
            self._widen_history_range(self._hist_it[n - 1], self._hist_ll[:n])
        self._ll_curve.setData(self._hist_it[:n], self._hist_ll[:n], skipFiniteCheck=True)
        # Dots only while few: they show which iterations were drawn.
        if n <= 60:
            self._ll_points.setData(self._hist_it[:n], self._hist_ll[:n])
        elif len(self._ll_points.data):
            self._ll_points.setData([], [])

    def _widen_history_range(self, last_iteration: float, ll: np.ndarray) -> None:
        """Grow the likelihood plot's range in steps, so its axes rarely redraw."""
        shown_last, shown_lo, shown_hi = self._ll_bounds
        lo, hi = float(ll.min()), float(ll.max())
        fits = last_iteration <= shown_last and shown_lo <= lo and hi <= shown_hi
        if fits and shown_last > 0:
            return
        x_max = max(8.0, shown_last)
        while x_max < last_iteration:
            x_max *= 2.0
        span = max(hi - lo, abs(hi) * 1e-6, 1e-9)
        new_lo = min(shown_lo, lo - 0.1 * span) if shown_last > 0 else lo - 0.1 * span
        new_hi = max(shown_hi, hi + 0.1 * span) if shown_last > 0 else hi + 0.1 * span
        self._ll_bounds = (x_max, new_lo, new_hi)
        self._ll.getPlotItem().getViewBox().setRange(
            xRange=(0.0, x_max), yRange=(new_lo, new_hi), padding=0
        )

    # -- posteriors ---------------------------------------------------------------------

    def show_posteriors(self, posteriors: Any) -> None:
        """Colour unlabelled points by their most likely class (2+ features).

        Opacity follows the confidence.  With one feature this does nothing:
        the histogram has no per-row marks.

        Parameters
        ----------
        posteriors : array_like, shape (n_rows, K), callable, or None
            Rows aligned with ``X`` of :meth:`set_data`, or a function giving
            the posteriors of given rows (``MixtureResult.posteriors_of``:
            only the points drawn are computed); None restores grey.
        """
        scatter = self._unlabelled_scatter
        if self._n_features != 2 or scatter is None:
            return
        if posteriors is None:
            # A list, not one brush: a single brush only changes the default,
            # and points keep the per-point brushes set before.
            grey = pg.mkBrush(_with_alpha(UNLABELLED_HEX, 150))
            scatter.setBrush([grey] * len(scatter.data))
            self._rename_unlabelled("unlabelled")
            return
        rows = self._shown_rows[self._shown_unlabelled]
        if callable(posteriors):
            p = np.asarray(posteriors(rows), dtype=np.float64)
        else:
            p = np.asarray(posteriors, dtype=np.float64)[rows]
        if p.ndim != 2 or p.shape[1] == 0:
            return
        best = np.argmax(p, axis=1)
        conf = np.nan_to_num(p[np.arange(p.shape[0]), best], nan=0.0)
        chance = 1.0 / p.shape[1]
        # 8 opacity levels keep the brush table small (pyqtgraph caches per brush).
        level = np.clip(np.round(7 * (conf - chance) / max(1.0 - chance, 1e-12)), 0, 7).astype(
            np.int64
        )
        brushes = [
            self._posterior_brush(int(k), int(lv)) for k, lv in zip(best, level, strict=True)
        ]
        scatter.setBrush(brushes)
        # The points are no longer grey: say what their colour means.
        self._rename_unlabelled("unlabelled: best guess")

    def _rename_unlabelled(self, text: str) -> None:
        label = self._legend.getLabel(self._unlabelled_scatter)
        if label is not None and label.text != text:
            label.setText(text)
            self._legend.updateSize()

    def _posterior_brush(self, k: int, level: int) -> Any:
        brush = self._posterior_brushes.get((k, level))
        if brush is None:
            brush = pg.mkBrush(_with_alpha(class_hex(k), 50 + 25 * level))
            self._posterior_brushes[(k, level)] = brush
        return brush
