"""The live mixture plot: what it draws, and that it draws it cheaply."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from emgui.core.colors import class_hex
from emgui.core.mixture import EMFit, Snapshot, fit
from emgui.ui.plot import MixturePlot


def _snap(weights, means, covariances, iteration=1, ll=-100.0) -> Snapshot:
    w = np.asarray(weights, float)
    mu = np.asarray(means, float).reshape(w.size, -1)
    cov = np.asarray(covariances, float).reshape(w.size, mu.shape[1], mu.shape[1])
    return Snapshot(iteration, ll, w, mu, cov, False)


def _heights(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(163.0, 6.0, n // 2), rng.normal(177.0, 7.0, n - n // 2)]
    labels = np.full(n, -1)
    labels[:100] = 0
    labels[n // 2 : n // 2 + 100] = 1
    return x, labels


def _two_d(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([163, 58], [[36, 20], [20, 64]], n // 2)
    b = rng.multivariate_normal([177, 75], [[49, 30], [30, 100]], n - n // 2)
    labels = np.full(n, -1)
    labels[:50] = 0
    labels[n // 2 : n // 2 + 50] = 1
    return np.vstack([a, b]), labels


@pytest.fixture
def plot(qtbot):
    p = MixturePlot()
    qtbot.addWidget(p)
    p.resize(800, 600)
    return p


def _draw(qtbot, plot, snapshot):
    before = plot.frames_drawn
    plot.show_snapshot(snapshot)
    qtbot.waitUntil(lambda: plot.frames_drawn > before, timeout=2000)


def _normal_pdf(x, mu, var):
    return np.exp(-0.5 * (x - mu) ** 2 / var) / np.sqrt(2 * np.pi * var)


def _view_range(plot):
    return np.array(plot._main.getPlotItem().getViewBox().viewRange())


# -- one feature ------------------------------------------------------------------------------


def test_histogram_counts_each_group_once(plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    curves = {plot._legend.items[i][1].text: item for i, item in enumerate(plot._static_items)}
    assert set(curves) == {"all rows", "girl", "boy", "unlabelled"}
    total = curves["all rows"].getData()[1]
    assert total.sum() == x.size
    assert curves["girl"].getData()[1].sum() == 100
    assert curves["boy"].getData()[1].sum() == 100
    assert curves["unlabelled"].getData()[1].sum() == x.size - 200
    edges = curves["all rows"].getData()[0]
    np.testing.assert_allclose(total, np.histogram(x, edges)[0])


def test_one_feature_densities_match_the_snapshot(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    snap = _snap([0.45, 0.55], [[163.5], [176.0]], [[[30.0]], [[52.0]]])
    _draw(qtbot, plot, snap)

    edges = plot._static_items[0].getData()[0]
    scale = x.size * (edges[1] - edges[0])  # expected rows per bin = n * width * density
    expected_sum = 0.0
    assert len(plot._component_items) == 2
    for k, (curve,) in enumerate(plot._component_items):
        gx, gy = curve.getData()
        expected = (
            snap.weights[k] * _normal_pdf(gx, snap.means[k, 0], snap.covariances[k, 0, 0]) * scale
        )
        np.testing.assert_allclose(gy, expected, rtol=1e-12)
        expected_sum = expected_sum + expected
    mx, my = plot._mixture_curve.getData()
    np.testing.assert_allclose(my, expected_sum, rtol=1e-12)
    # The grid spans the histogram, so the mixture's area is about n * width.
    assert gx[0] == pytest.approx(edges[0]) and gx[-1] == pytest.approx(edges[-1])
    assert np.trapezoid(my, mx) == pytest.approx(scale, rel=0.02)


def test_fitted_mixture_follows_the_histogram(qtbot, plot):
    x, labels = _heights(4000)
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    result = fit(x, labels, 2)
    plot.show_result(result)
    edges, counts = plot._static_items[0].getData()
    centres = 0.5 * (edges[:-1] + edges[1:])
    mx, my = plot._mixture_curve.getData()
    model = np.interp(centres, mx, my)
    # A good fit's density tracks the counts within a few rows per bin.
    assert np.abs(model - counts).max() < 0.25 * counts.max()


def test_one_feature_history_tracks_snapshots_and_result(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    em = EMFit(x, labels, 2)
    drawn = []
    for snap in em:
        _draw(qtbot, plot, snap)
        drawn.append((snap.iteration, snap.log_likelihood))
    hx, hy = plot._ll_curve.getData()
    np.testing.assert_array_equal(hx, [d[0] for d in drawn])
    np.testing.assert_array_equal(hy, [d[1] for d in drawn])
    plot.reset_history()
    assert plot._ll_curve.getData()[0].size == 0
    result = em.result()
    plot.show_result(result)
    hx, hy = plot._ll_curve.getData()
    np.testing.assert_array_equal(hy, result.history)
    np.testing.assert_array_equal(hx, np.arange(len(result.history)))


def test_a_burst_of_snapshots_is_drawn_once(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    before = plot.frames_drawn
    snaps = [
        _snap([0.5, 0.5], [[160.0 + i / 10], [178.0]], [[[30.0]], [[50.0]]], iteration=i + 1)
        for i in range(100)
    ]
    for s in snaps:
        plot.show_snapshot(s)
    assert plot.frames_drawn == before  # nothing drawn synchronously
    qtbot.wait(150)
    assert plot.frames_drawn - before in (1, 2)
    # ...and what is shown is the latest snapshot.
    (curve,) = plot._component_items[0]
    gx, gy = curve.getData()
    assert gx[np.argmax(gy)] == pytest.approx(snaps[-1].means[0, 0], abs=(gx[1] - gx[0]))
    qtbot.wait(100)
    assert plot.frames_drawn - before in (1, 2)  # idle: no redraw without news


def test_curves_are_created_once_and_rebuilt_when_k_changes(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    view = plot._main.getPlotItem().getViewBox()
    two = _snap([0.5, 0.5], [[163.0], [177.0]], [[[30.0]], [[50.0]]])
    _draw(qtbot, plot, two)
    curves = [c for (c,) in plot._component_items]
    n_items = len(view.addedItems)
    _draw(qtbot, plot, _snap([0.4, 0.6], [[164.0], [176.0]], [[[31.0]], [[49.0]]], iteration=2))
    assert [c for (c,) in plot._component_items] == curves  # same objects, new data
    assert len(view.addedItems) == n_items

    three = _snap(
        [0.3, 0.3, 0.4], [[155.0], [165.0], [178.0]], [[[20.0]], [[20.0]], [[40.0]]], iteration=3
    )
    _draw(qtbot, plot, three)
    assert len(plot._component_items) == 3
    assert len(view.addedItems) == n_items + 1
    gx, gy = plot._component_items[2][0].getData()
    scale = x.size * (plot._static_items[0].getData()[0][1] - plot._static_items[0].getData()[0][0])
    np.testing.assert_allclose(gy, 0.4 * _normal_pdf(gx, 178.0, 40.0) * scale, rtol=1e-12)

    _draw(qtbot, plot, _snap([0.5, 0.5], [[163.0], [177.0]], [[[30.0]], [[50.0]]], iteration=4))
    assert len(plot._component_items) == 2
    assert len(view.addedItems) == n_items
    # One legend entry for the mixture, however often K changed.
    names = [label.text for _, label in plot._legend.items]
    assert names.count("mixture") == 1


def test_axis_ranges_stay_fixed_during_a_fit(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    fixed = _view_range(plot)
    # A component far outside the data must not make the view jump.
    _draw(qtbot, plot, _snap([0.5, 0.5], [[100.0], [400.0]], [[[0.01]], [[5000.0]]]))
    np.testing.assert_allclose(_view_range(plot), fixed)
    assert not any(plot._main.getPlotItem().getViewBox().autoRangeEnabled())


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([170.0], [-1]),
        ([170.0], [0]),
        ([165.0] * 50, [-1] * 50),
        ([165.0] * 10 + [180.0] * 10, [0] * 10 + [1] * 10),
        ([1e-9, 2e-9, 3e-9], [-1, -1, -1]),
        ([-5.0, 1e6], [0, 1]),
    ],
)
def test_degenerate_one_feature_data_draws(qtbot, plot, values, labels):
    plot.set_data(np.array(values), np.array(labels), ["a", "b"], "")
    v = np.array(values)
    snap = _snap([0.5, 0.5], [[v.min()], [v.max()]], [[[1e-6]], [[1e-6]]])
    _draw(qtbot, plot, snap)
    assert np.isfinite(_view_range(plot)).all()
    edges, counts = plot._static_items[0].getData()
    assert counts.sum() == len(values)
    assert np.all(np.diff(edges) > 0)
    for (curve,) in plot._component_items:
        assert np.isfinite(curve.getData()[1]).all()


def test_whole_number_heights_get_whole_number_bins(plot):
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(170, 8, 5000))
    plot.set_data(x, None, [], "height (cm)")
    edges, counts = plot._static_items[0].getData()
    width = edges[1] - edges[0]
    assert width == round(width) >= 1
    # Every value sits inside a bin, none on an edge, and each bin holds the
    # same number of whole values: no comb of crowded and empty bins.
    assert not np.isin(x, edges).any()
    centres = 0.5 * (edges[:-1] + edges[1:])
    assert np.all(counts[(centres > 160) & (centres < 180)] > 0)


def test_non_finite_rows_are_left_out(plot):
    x = np.array([160.0, np.nan, 170.0, np.inf, 180.0])
    plot.set_data(x, [0, -1, 1, -1, -1], ["a", "b"], "")
    assert plot._static_items[0].getData()[1].sum() == 3


def test_nothing_to_show_is_not_an_error(qtbot, plot):
    plot.set_data(np.array([np.nan, np.nan]), None, [], "")
    plot.show_snapshot(_snap([1.0], [[0.0]], [[[1.0]]]))
    qtbot.wait(80)
    assert plot._component_items == []
    plot.show_posteriors(np.ones((2, 1)))


# -- two features -------------------------------------------------------------------------------


def test_two_feature_ellipses_are_one_and_two_sigma(qtbot, plot):
    X, labels = _two_d()
    plot.set_data(X, labels, ["girl", "boy"], ["height (cm)", "mass (kg)"])
    cov = np.array([[[36.0, 20.0], [20.0, 64.0]], [[49.0, -30.0], [-30.0, 100.0]]])
    snap = _snap([0.5, 0.5], [[163.0, 58.0], [177.0, 75.0]], cov)
    _draw(qtbot, plot, snap)
    assert len(plot._component_items) == 2
    for k, (one, two) in enumerate(plot._component_items):
        precision = np.linalg.inv(cov[k])
        for curve, radius in ((one, 1.0), (two, 2.0)):
            px, py = curve.getData()
            d = np.c_[px, py] - snap.means[k]
            mahalanobis2 = np.einsum("ni,ij,nj->n", d, precision, d)
            np.testing.assert_allclose(mahalanobis2, radius**2, rtol=1e-9)
            assert px[0] == pytest.approx(px[-1]) and py[0] == pytest.approx(py[-1])  # closed
    marks = plot._mean_marks.getData()
    np.testing.assert_allclose(np.c_[marks[0], marks[1]], snap.means)


def test_three_features_use_the_first_two(qtbot, plot):
    X, labels = _two_d(500)
    X3 = np.c_[X, np.arange(500.0)]
    plot.set_data(X3, labels, ["a", "b"], ["h", "m", "t"])
    cov = np.stack([np.diag([36.0, 64.0, 9.0]), np.diag([49.0, 100.0, 4.0])])
    snap = _snap([0.5, 0.5], [[163.0, 58.0, 1.0], [177.0, 75.0, 2.0]], cov)
    _draw(qtbot, plot, snap)
    px, py = plot._component_items[0][0].getData()
    np.testing.assert_allclose(((px - 163.0) ** 2 / 36.0 + (py - 58.0) ** 2 / 64.0), 1.0, rtol=1e-9)


def test_scatter_points_by_class(plot):
    X, labels = _two_d()
    plot.set_data(X, labels, ["girl", "boy"], ["h", "m"])
    names = [label.text for _, label in plot._legend.items]
    assert names == ["girl", "boy", "unlabelled"]
    sizes = [len(item.data) for item in plot._static_items]
    assert sizes == [50, 50, X.shape[0] - 100]
    assert plot._static_items[0].opts["brush"].color().rgb() == QColor(class_hex(0)).rgb()


def test_large_scatter_is_subsampled_deterministically(qtbot):
    p = MixturePlot(max_points=1000)
    qtbot.addWidget(p)
    X, labels = _two_d(5000)
    p.set_data(X, labels, ["a", "b"], ["h", "m"])
    shown = sum(len(item.data) for item in p._static_items)
    assert shown == 1000
    assert "1,000 of 5,000" in p._main.getPlotItem().titleLabel.text
    assert "1,000 of 5,000" in p._main.toolTip()
    first = [item.getData()[0].copy() for item in p._static_items]
    p.set_data(X, labels, ["a", "b"], ["h", "m"])
    for a, item in zip(first, p._static_items, strict=True):
        np.testing.assert_array_equal(a, item.getData()[0])
    # Small data: every row, no note.
    p.set_data(X[:500], labels[:500], ["a", "b"], ["h", "m"])
    assert sum(len(item.data) for item in p._static_items) == 500
    assert p._main.toolTip() == ""


def test_posteriors_colour_unlabelled_points_by_confidence(plot):
    X = np.array([[160.0, 50.0], [180.0, 80.0], [161.0, 52.0], [179.0, 78.0], [170.0, 65.0]])
    labels = np.array([0, 1, -1, -1, -1])
    plot.set_data(X, labels, ["girl", "boy"], ["h", "m"])
    post = np.array([[1.0, 0.0], [0.0, 1.0], [0.99, 0.01], [0.2, 0.8], [0.5, 0.5]])
    plot.show_posteriors(post)
    brushes = [pt.brush().color() for pt in plot._unlabelled_scatter.points()]
    assert [b.rgb() for b in brushes] == [QColor(class_hex(k)).rgb() for k in (0, 1, 0)]
    alphas = [b.alpha() for b in brushes]
    assert alphas[0] > alphas[1] > alphas[2]
    # A function of rows (MixtureResult.posteriors_of) is asked for the drawn points only.
    asked = []
    plot.show_posteriors(lambda rows: asked.append(list(rows)) or post[rows])
    assert asked == [[2, 3, 4]]
    assert [pt.brush().color() for pt in plot._unlabelled_scatter.points()] == brushes
    plot.show_posteriors(None)
    assert {pt.brush().color().rgb() for pt in plot._unlabelled_scatter.points()} == {
        QColor("#999999").rgb()
    }


def test_posteriors_are_ignored_for_one_feature(plot):
    x, labels = _heights(100)
    plot.set_data(x, labels, ["a", "b"], "")
    plot.show_posteriors(np.full((100, 2), 0.5))  # no per-row marks to colour
    assert plot._unlabelled_scatter is None


@pytest.mark.parametrize("X", [np.array([[170.0, 60.0]]), np.array([[170.0, 60.0]] * 20)])
def test_degenerate_two_feature_data_draws(qtbot, plot, X):
    plot.set_data(X, np.full(len(X), -1), ["a", "b"], ["h", "m"])
    cov = np.array([np.eye(2) * 1e-6, np.zeros((2, 2))])
    _draw(qtbot, plot, _snap([0.5, 0.5], [[170.0, 60.0], [170.0, 60.0]], cov))
    assert np.isfinite(_view_range(plot)).all()
    for one, two in plot._component_items:
        assert np.isfinite(one.getData()[0]).all() and np.isfinite(two.getData()[1]).all()


def test_new_data_drops_old_items(qtbot, plot):
    X, labels = _two_d(400)
    plot.set_data(X, labels, ["a", "b"], ["h", "m"])
    _draw(qtbot, plot, _snap([0.5, 0.5], [[163.0, 58.0], [177.0, 75.0]], np.stack([np.eye(2)] * 2)))
    x, lab = _heights(400)
    plot.set_data(x, lab, ["a", "b"], "height")
    view = plot._main.getPlotItem().getViewBox()
    assert set(view.addedItems) == set(plot._static_items)
    assert plot._component_items == [] and plot._mean_marks is None
    assert plot._ll_curve.getData()[0].size == 0


def test_labels_must_match_rows(plot):
    with pytest.raises(ValueError, match="rows"):
        plot.set_data(np.zeros(5), np.zeros(4, int), ["a"], "")


def test_renders_offscreen(qtbot, plot):
    x, labels = _heights()
    plot.set_data(x, labels, ["girl", "boy"], "height (cm)")
    plot.show_result(fit(x, labels, 2))
    image = plot.grab().toImage()
    assert image.width() == 800 and image.height() == 600
    # Something besides the white background was painted.
    colours = {image.pixel(i, j) for i in range(0, 800, 20) for j in range(0, 600, 20)}
    assert len(colours) > 5
