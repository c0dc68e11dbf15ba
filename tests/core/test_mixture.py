"""EM engine: semantics, agreement with scikit-learn and with a plain reference, fast paths."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import _mixture_fast as fast
from emgui.core import mixture
from emgui.core.mixture import (
    EMFit,
    MixtureError,
    MixtureResult,
    Snapshot,
    _canonical_order,
    _factorise,
    _reference_step,
    fit,
    log_likelihood,
    predict_proba,
)

RTOL = 1e-10


def two_gaussians(n, seed, dim=1, hidden=1.0, weights=(0.55, 0.45), k=2):
    """Rows from K overlapping Gaussians (like heights); `hidden` of the labels set to -1.

    Returns
    -------
    x : (n,) if dim == 1 else (n, dim); y : (n,) true classes; labels : (n,)
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(weights if k == 2 else np.full(k, 1.0 / k))
    y = rng.choice(k, size=n, p=w / w.sum())
    centres = np.array([[162.0, 60.0, 5.0, -3.0, 0.0], [176.0, 72.0, 7.0, -1.0, 2.0]])
    if k > 2:
        centres = np.array([[150.0 + 14.0 * j, 55.0 + 8.0 * j, 5.0, -3.0, 0.0] for j in range(k)])
    sd = np.array([[6.5, 7.0, 1.0, 1.0, 1.0], [7.5, 8.0, 1.5, 0.8, 1.2]])
    sd = np.vstack([sd] * k)[:k]
    x = centres[y, :dim] + rng.standard_normal((n, dim)) * sd[y, :dim]
    if dim >= 2:
        x[:, 1] += 0.4 * (x[:, 0] - centres[y, 0])  # correlated features
    labels = np.where(rng.random(n) < hidden, -1, y)
    return (x[:, 0] if dim == 1 else x), y, labels


def separated(n, seed, dim=1, k=2, gap=8.0):
    """Rows from K separated, correlated Gaussians (`gap` sd apart): EM converges quickly."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=np.arange(1, k + 1) / (k * (k + 1) / 2))
    centres = gap * np.arange(k)[:, None] * np.linspace(1.0, 0.5, dim)[None, :]
    a = rng.normal(size=(k, dim, dim)) * 0.4 + np.eye(dim)
    x = centres[y] + np.einsum("nij,nj->ni", a[y], rng.standard_normal((n, dim)))
    return x[:, 0] if dim == 1 else x


def run_to_end(em, limit=10_000):
    snaps = []
    for snap in em:
        snaps.append(snap)
        assert len(snaps) < limit
    return snaps


def assert_close(actual, expected, rtol=RTOL, scale=None):
    """Relative agreement; `scale` sets the absolute floor for entries near 0."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    floor = rtol * (np.max(np.abs(expected)) if scale is None else scale)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=floor)


# --------------------------------------------------------------------------- monotone LL


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("hidden", [1.0, 0.7])
def test_log_likelihood_never_decreases_when_stepping(dim, seed, hidden):
    x, _, labels = two_gaussians(400, seed, dim=dim, hidden=hidden)
    em = EMFit(x, labels, 2, tol=1e-10, max_iter=150, n_init=2, seed=seed)
    previous = None
    steps = 0
    while not em.done:
        snap = em.step()
        steps += 1
        if snap.iteration == 0:
            previous = snap.log_likelihood
            continue
        assert snap.log_likelihood >= previous - 1e-9 * abs(previous)
        previous = snap.log_likelihood
    assert steps > 3
    assert em.done


def test_snapshot_log_likelihood_is_that_of_its_parameters():
    x, _, labels = two_gaussians(300, 5, dim=2, hidden=0.6)
    for snap in EMFit(x, labels, tol=1e-8):
        ref = log_likelihood(x, labels, snap.weights, snap.means, snap.covariances)
        assert snap.log_likelihood == pytest.approx(ref, rel=RTOL)


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize(
    ("dim", "k", "hidden", "engine"),
    [
        (1, 2, 0.7, fast.TwoClassLine),
        (1, 2, 1.0, fast.TwoClassLine),
        (1, 3, 0.7, fast.QuadraticFeatures),
        (2, 2, 0.7, fast.QuadraticFeatures),
        (2, 3, 1.0, fast.QuadraticFeatures),
        (5, 2, 0.7, fast.Whitened),
    ],
)
def test_every_iteration_matches_the_plain_reference(dim, k, hidden, engine):
    x, _, labels = two_gaussians(900, 11, dim=dim, hidden=hidden, k=k)
    em = EMFit(x, labels, k, tol=0.0, max_iter=12, n_init=1)
    used = em._fast if em._fast is not None else fast.exact_engine(em._xu, k)
    assert isinstance(used, engine)
    snaps = run_to_end(em)
    assert len(snaps) == 13
    for before, after in zip(snaps[:-1], snaps[1:], strict=True):
        ll, _, w, mu, cov = _reference_step(
            x, labels, before.weights, before.means, before.covariances, em.reg_covar
        )
        assert before.log_likelihood == pytest.approx(ll, rel=RTOL)
        assert_close(after.weights, w)
        assert_close(after.means, mu)
        assert_close(after.covariances, cov)
    last = snaps[-1]
    ll, post, *_ = _reference_step(x, labels, last.weights, last.means, last.covariances)
    result = em.result()
    assert result.log_likelihood == pytest.approx(ll, rel=RTOL)
    assert_close(result.posteriors, post, scale=1.0)


def _gaussians(weights, means, covs):
    return _factorise(np.asarray(weights), np.asarray(means, float), np.asarray(covs, float))


def _plain_sweep(x, g):
    """Σ over rows of the E-step, the obvious way: (ll, s0, s1, scatter)."""
    x = x.reshape(len(x), -1)
    logp = np.stack(
        [
            g.log_weights[k]
            + g.half_log_det[k]
            - 0.5 * x.shape[1] * math.log(2 * math.pi)
            - 0.5 * np.sum(((x - g.means[k]) @ g.prec_chol[k]) ** 2, axis=1)
            for k in range(len(g.log_weights))
        ],
        axis=1,
    )
    mx = logp.max(axis=1, keepdims=True)
    norm = mx[:, 0] + np.log(np.exp(logp - mx).sum(axis=1))
    r = np.exp(logp - norm[:, None])
    s0 = r.sum(axis=0)
    s1 = r.T @ x
    scatter = np.stack(
        [(r[:, k] * (x - s1[k] / s0[k]).T) @ (x - s1[k] / s0[k]) for k in range(len(s0))]
    )
    return norm.sum(), s0, s1, scatter


def _assert_sweep(sweep, expected, scale):
    ll, s0, s1, scatter = expected
    assert sweep.ll == pytest.approx(ll, rel=RTOL)
    assert_close(sweep.s0, s0, scale=s0.sum())
    assert_close(sweep.s1, s1, scale=s0.sum() * scale)
    assert_close(sweep.scatter, scatter, scale=s0.sum() * scale**2)


@pytest.mark.parametrize("n", [1, 2, 5, 7, 8, 9, 23, 64, 65])
@pytest.mark.parametrize("block", [8, 16])
def test_two_class_line_blocks(n, block):
    rng = np.random.default_rng(n * 31 + block)
    x = np.sort(np.concatenate([rng.normal(-1.0, 0.8, n - n // 2), rng.normal(1.5, 1.1, n // 2)]))
    params = [
        ([0.4, 0.6], [[-1.0], [1.5]], [[[0.64]], [[1.2]]]),  # two roots inside the data
        ([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]]),  # equal spreads: q is linear
        ([0.9, 0.1], [[0.0], [0.3]], [[[1.0]], [[0.2]]]),  # narrow second component
        ([0.5, 0.5], [[0.0], [0.0]], [[[1.0]], [[1.0]]]),  # identical: q == 0 everywhere
        ([0.99, 0.01], [[0.0], [9.0]], [[[1.0]], [[1.0]]]),  # one sign throughout
    ]
    for w, mu, cov in params:
        g = _gaussians(w, mu, cov)
        engine = fast.TwoClassLine(x, block=block)
        sweep = engine.sweep(g)
        assert sweep is not None
        _assert_sweep(sweep, _plain_sweep(x, g), scale=3.0)
        _assert_sweep(fast.Precise(x[:, None], 2).sweep(g), _plain_sweep(x, g), scale=3.0)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 17])
@pytest.mark.parametrize(("dim", "k"), [(1, 3), (2, 2), (3, 4)])
def test_quadratic_features_and_precise_blocks(n, dim, k):
    rng = np.random.default_rng(n + 10 * dim + k)
    x = rng.normal(size=(n, dim))
    w = rng.random(k) + 0.2
    means = rng.normal(size=(k, dim))
    a = rng.normal(size=(k, dim, dim)) * 0.3
    covs = a @ np.swapaxes(a, 1, 2) + np.eye(dim) * 0.5
    g = _gaussians(w / w.sum(), means, covs)
    expected = _plain_sweep(x, g)
    for engine in (fast.QuadraticFeatures(x, k), fast.Precise(x, k)):
        engine.block = 4  # blocks of 4 rows: n = 3, 4, 5 cross the boundary
        _assert_sweep(engine.sweep(g), expected, scale=3.0)


def test_sum_log_matches_log_sum():
    rng = np.random.default_rng(3)
    for m in (0, 1, 255, 256, 257, 1000, 70_000):
        v = 1.0 + 2.7 * rng.random(m)
        assert fast.sum_log(v) == pytest.approx(float(np.log(v).sum()), rel=1e-13, abs=1e-12)


def test_ill_conditioned_parameters_fall_back_to_the_precise_engine():
    x = np.sort(np.random.default_rng(0).normal(0, 1, 200))
    g = _gaussians([0.5, 0.5], [[0.0], [500.0]], [[[1.0]], [[1e-6]]])
    assert fast.condition(g, np.array([3.0]), 1.0) > fast.CONDITION_LIMIT
    g = _gaussians([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]])
    assert fast.condition(g, np.array([3.0]), 1.0) < fast.CONDITION_LIMIT
    _assert_sweep(fast.TwoClassLine(x).sweep(g), _plain_sweep(x, g), scale=3.0)


def test_all_rows_labelled_uses_constant_sums_only():
    x, y, _ = two_gaussians(200, 4, dim=2, hidden=0.0)
    em = EMFit(x, y, tol=1e-12)
    snaps = run_to_end(em)
    assert em._xu.shape[0] == 0
    assert snaps[-1].converged and len(snaps) <= 3
    for j in range(2):
        rows = x[y == j]
        assert_close(snaps[-1].means[j], rows.mean(axis=0), rtol=1e-12)
        cov = np.cov(rows.T, bias=True) + 1e-6 * np.eye(2)
        assert_close(snaps[-1].covariances[j], cov, rtol=1e-9)
    assert_close(snaps[-1].weights, np.bincount(y) / len(y), rtol=1e-12)
    result = em.result()
    np.testing.assert_array_equal(result.posteriors, np.eye(2)[y])
    ll = log_likelihood(x, y, result.weights, result.means, result.covariances)
    assert result.log_likelihood == pytest.approx(ll, rel=RTOL)


def test_one_unlabelled_row_among_labelled():
    x, y, _ = two_gaussians(50, 8)
    labels = y.copy()
    labels[17] = -1
    result = fit(x, labels, tol=1e-12)
    ll, post, *_ = _reference_step(x, labels, result.weights, result.means, result.covariances)
    assert result.log_likelihood == pytest.approx(ll, rel=RTOL)
    assert_close(result.posteriors, post, scale=1.0)
    assert result.posteriors[17].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize(("dim", "seed"), [(1, 0), (1, 1), (2, 2)])
def test_same_start_same_optimum_as_sklearn(dim, seed):
    mixture = pytest.importorskip("sklearn.mixture")
    x = separated(600, seed, dim=dim, gap=3.0)
    x2 = x.reshape(len(x), -1)
    em = EMFit(x, n_init=1, tol=1e-14, max_iter=2000, seed=seed)
    snaps = run_to_end(em)
    assert len(snaps) > 5  # a real climb, not a start already at the optimum
    init = snaps[0]
    gm = mixture.GaussianMixture(
        2,
        weights_init=init.weights,
        means_init=init.means,
        precisions_init=np.linalg.inv(init.covariances),
        tol=1e-13,
        max_iter=2000,
        reg_covar=em.reg_covar,
    ).fit(x2)
    assert gm.converged_
    result = em.result()
    assert result.converged
    assert result.log_likelihood == pytest.approx(gm.score(x2) * len(x2), rel=1e-9)
    order = np.argsort(gm.means_[:, 0])
    assert_close(result.means, gm.means_[order], rtol=1e-5)
    assert_close(result.covariances, gm.covariances_[order], rtol=1e-4)
    assert_close(result.weights, gm.weights_[order], rtol=1e-5)


@pytest.mark.parametrize(("dim", "k", "seed"), [(1, 2, 0), (1, 3, 1), (2, 2, 2), (2, 3, 3)])
def test_best_of_starts_at_least_as_good_as_sklearn(dim, k, seed):
    mixture = pytest.importorskip("sklearn.mixture")
    x = separated(500, seed, dim=dim, k=k)
    x2 = x.reshape(len(x), -1)
    ours = fit(x, None, k, n_init=5, tol=1e-10, max_iter=1000, seed=seed)
    gm = mixture.GaussianMixture(k, n_init=5, tol=1e-10, max_iter=1000, random_state=seed).fit(x2)
    theirs = gm.score(x2) * len(x2)
    assert ours.log_likelihood >= theirs - 1e-7 * abs(theirs)


# --------------------------------------------------------------------------- labelled accuracy


def _bayes_accuracy(weights, means, sds):
    grid = np.linspace(100.0, 240.0, 200_001)
    dens = [
        w * np.exp(-0.5 * ((grid - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        for w, m, s in zip(weights, means, sds, strict=True)
    ]
    return float(np.trapezoid(np.maximum(*dens), grid))


def test_hidden_labels_recovered_near_the_bayes_rate():
    rng = np.random.default_rng(42)
    weights, means, sds = (0.5, 0.5), (162.0, 176.0), (6.5, 7.5)
    n = 6000
    y = (rng.random(n) < weights[1]).astype(int)
    x = np.where(y == 1, rng.normal(means[1], sds[1], n), rng.normal(means[0], sds[0], n))
    hidden = rng.random(n) < 0.7
    labels = np.where(hidden, -1, y)
    result = fit(x, labels)
    post = result.posteriors[hidden]
    accuracy = float(np.mean(post.argmax(axis=1) == y[hidden]))
    confidence = float(np.mean(post.max(axis=1)))
    bayes = _bayes_accuracy(weights, means, sds)
    assert 0.8 < bayes < 0.9
    assert abs(accuracy - bayes) < 0.025
    assert abs(confidence - accuracy) < 0.035
    assert_close(result.means.ravel(), means, rtol=0.01)


# --------------------------------------------------------------------------- properties


@st.composite
def datasets(draw):
    seed = draw(st.integers(0, 10_000))
    n = draw(st.integers(12, 60))
    dim = draw(st.sampled_from([1, 1, 2]))
    k = draw(st.sampled_from([2, 2, 3]))
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    x = rng.normal(size=(n, dim)) * rng.uniform(0.5, 2.0) + y[:, None] * draw(st.floats(0.0, 4.0))
    x = np.round(x, draw(st.sampled_from([1, 3, 8])))  # some ties
    hidden = rng.random(n) < draw(st.floats(0.3, 0.9))
    # Every class keeps >= 2 labels: the labelled start, no random seeding.
    for j in range(k):
        hidden[np.flatnonzero(y == j)[:2]] = False
    labels = np.where(hidden, -1, y)
    return (x[:, 0] if dim == 1 else x), labels, k, rng.permutation(n), rng.permutation(k)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 300),
    dim=st.integers(1, 6),
    decimals=st.sampled_from([0, 1, 8]),
)
def test_canonical_order_is_lexsorts_permutation(seed, n, dim, decimals):
    """The rows' canonical order (one sort of byte keys) is exactly np.lexsort's, ties, signs, zeros and infinities included."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(n, dim)) * rng.choice([0.5, 3.0, 1e6]), decimals)
    x[rng.random((n, dim)) < 0.05] = 0.0
    x[rng.random((n, dim)) < 0.05] = -0.0  # equal to 0.0: lexsort keeps their input order
    x[rng.random((n, dim)) < 0.02] = np.inf
    x[rng.random((n, dim)) < 0.02] = -np.inf
    x[rng.random(n) < 0.2] = x[0]  # whole rows repeated
    expected = np.lexsort(x.T[::-1])
    np.testing.assert_array_equal(_canonical_order(x), expected)
    # Fortran-ordered rows (a column slice of a wider table) give the same.
    np.testing.assert_array_equal(_canonical_order(np.asfortranarray(x)), expected)


def _fit_or_error(x, labels, k, **kw):
    try:
        return fit(x, labels, k, **kw)
    except MixtureError:
        return None


@SETTINGS
@given(datasets())
def test_posteriors_are_probabilities(data):
    x, labels, k, _, _ = data
    result = _fit_or_error(x, labels, k, tol=1e-8, max_iter=200)
    if result is None:
        return
    post = result.posteriors
    assert post.shape == (len(labels), k)
    assert np.all(post >= 0) and np.all(post <= 1)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    known = labels >= 0
    np.testing.assert_array_equal(post[known], np.eye(k)[labels[known]])
    assert np.isfinite(result.log_likelihood)


@SETTINGS
@given(datasets())
def test_row_order_does_not_change_the_fit(data):
    x, labels, k, perm, _ = data
    a = _fit_or_error(x, labels, k, tol=1e-8, max_iter=200)
    b = _fit_or_error(x[perm], labels[perm], k, tol=1e-8, max_iter=200)
    assert (a is None) == (b is None)
    if a is None:
        return
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(a.means, b.means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.covariances, b.covariances, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.posteriors[perm], b.posteriors, atol=1e-10)


@SETTINGS
@given(datasets())
def test_relabelling_classes_permutes_the_result(data):
    x, labels, k, _, codes = data
    a = _fit_or_error(x, labels, k, tol=1e-8, max_iter=200)
    relabelled = np.where(labels >= 0, codes[np.maximum(labels, 0)], -1)
    b = _fit_or_error(x, relabelled, k, tol=1e-8, max_iter=200)
    assert (a is None) == (b is None)
    if a is None:
        return
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-10)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(b.weights[codes], a.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.means[codes], a.means, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(b.covariances[codes], a.covariances, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b.posteriors[:, codes], a.posteriors, atol=1e-9)


# --------------------------------------------------------------------------- degenerate data


def _heights(n=40, seed=0):
    return np.random.default_rng(seed).normal(170.0, 8.0, n)


DEGENERATE = {
    "all equal, 2 classes": (np.full(20, 170.0), None, None, {}),
    "all equal, 1 class": (np.full(20, 170.0), None, 1, {}),
    "two values, 2 classes": (np.r_[np.full(10, 160.0), np.full(10, 180.0)], None, 2, {}),
    "class with one labelled row": (
        _heights(),
        np.r_[[0, 1, 1, 1], np.full(36, -1)],
        2,
        {},
    ),
    "class with one row in all": (
        np.r_[_heights(30), 250.0],
        np.r_[np.zeros(30, int), [1]],
        2,
        {},
    ),
    "class with no labels": (_heights(), np.r_[[0, 0, 0], np.full(37, -1)], 3, {}),
    "labelled class all equal": (
        np.r_[np.full(5, 150.0), _heights(20)],
        np.r_[np.zeros(5, int), np.full(20, -1)],
        2,
        {},
    ),
    "outlier": (np.r_[_heights(200), 10_000.0], None, 2, {}),
    "outlier, labelled": (
        np.r_[_heights(200), 10_000.0],
        np.r_[np.zeros(5, int), np.ones(5, int), np.full(191, -1)],
        2,
        {},
    ),
    "30 classes": (_heights(300, 3), None, 30, {"n_init": 1}),
    "30 classes, few rows": (_heights(20, 3), None, 30, {}),
    "no reg_covar, duplicates": (
        np.r_[np.full(10, 160.0), _heights(20)],
        None,
        3,
        {"reg_covar": 0.0},
    ),
    "tiny spread": (1.0 + 1e-12 * np.arange(20.0), None, 2, {}),
    "huge values": (1e120 * np.r_[1.0, 2.0, 3.0, 5.0, 8.0], None, 2, {}),
    "constant feature, 2D": (
        np.c_[_heights(), np.full(40, 3.0)],
        None,
        2,
        {},
    ),
    "one row": (np.array([170.0]), None, 1, {}),
    "spread at rounding level": (
        1.5e7 + 1e-9 * np.random.default_rng(0).standard_normal(30),
        None,
        2,
        {"reg_covar": 0.0},
    ),
    "flat class, 2D": (
        np.r_[[[90489.0, 90489.0], [133056.0, 133056.0]], 90485.0 + 3 * np.eye(2)[[0, 1] * 6]],
        np.r_[[0, 0], [1, 2] * 6],
        3,
        {},
    ),
    "many classes, few rows, 3D": (
        np.random.default_rng(5).normal(0, 1.7e6, (12, 3)),
        None,
        5,
        {"reg_covar": 1e-3},
    ),
    "max_iter 0": (_heights(), None, 2, {"max_iter": 0}),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_data_fits_or_fails_clearly(name):
    x, labels, k, kw = DEGENERATE[name]
    try:
        result = fit(x, labels, k, **{"max_iter": 60, **kw})
    except MixtureError as exc:
        assert str(exc).endswith(".") and len(str(exc)) > 20
        return
    for a in (result.weights, result.means, result.covariances, result.posteriors):
        assert np.isfinite(a).all()
    assert math.isfinite(result.log_likelihood)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("x", "labels", "k", "kw", "message"),
    [
        (np.full(20, 170.0), None, 2, {}, "Only 1 distinct value for 2 classes"),
        (np.array([1.0, 2.0]), None, 3, {}, "Only 2 distinct values for 3 classes"),
        (np.zeros((0,)), None, 2, {}, "no rows"),
        (np.array([1.0, np.nan, 3.0]), None, 2, {}, "Row 1"),
        (np.array([1.0, 2.0, np.inf]), None, 2, {}, "Row 2"),
        (np.arange(5.0), np.array([0, 1, 2, -1, -1]), 2, {}, "out of range"),
        (np.arange(5.0), np.array([0, 1, -2, -1, -1]), 2, {}, "not a class code"),
        (np.arange(5.0), np.array([0, 1, 0.5, -1, -1]), 2, {}, "whole class codes"),
        (np.arange(5.0), np.array([0, 1]), 2, {}, "Expected 5 labels"),
        (np.arange(5.0), None, 0, {}, "at least 1"),
        (np.arange(5.0), None, 2, {"n_init": 0}, "n_init"),
        (np.arange(5.0), None, 2, {"tol": -1.0}, "tol"),
        (np.arange(5.0), None, 2, {"reg_covar": math.nan}, "reg_covar"),
        (np.array(["a", "b"]), None, 2, {}, "must be numbers"),
        (np.zeros((2, 2, 2)), None, 2, {}, "dimensions"),
        (np.r_[0.0, 1e200, 2e200], None, 2, {}, "too far apart"),
    ],
)
def test_clear_errors(x, labels, k, kw, message):
    with pytest.raises(MixtureError, match=message):
        EMFit(x, labels, k, **kw)


@pytest.mark.parametrize("seed", [0, 1, 6])
def test_likelihood_still_climbs_when_reg_covar_rivals_the_spread(seed, monkeypatch):
    # Variances ~1e-3 and reg_covar 1e-3: plain "+ reg_covar" M-steps lower the
    # likelihood on these data; the floored M-step keeps it climbing.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 80))
    x = rng.normal(0.0, rng.uniform(0.01, 0.05), n)
    labels = np.where(rng.random(n) < 0.8, rng.integers(0, 2, n), -1)
    em = EMFit(x, labels, 2, reg_covar=1e-3, tol=1e-12, n_init=1)
    history = np.array([s.log_likelihood for s in em])
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))
    assert np.linalg.eigvalsh(em.result().covariances).min() >= 1e-3 * (1 - 1e-9)
    last = em.result()
    assert last.log_likelihood == pytest.approx(
        log_likelihood(x, labels, last.weights, last.means, last.covariances), rel=1e-12
    )
    # Without the floored step the same data do lose likelihood.
    monkeypatch.setattr("emgui.core.mixture._SLACK", math.inf)
    plain = np.array([s.log_likelihood for s in EMFit(x, labels, 2, reg_covar=1e-3, tol=1e-12, n_init=1)])
    assert np.diff(plain).min() < -1e-6


def test_collapsed_class_without_reg_covar_is_a_mixture_error():
    # Labelled rows all equal and no unlabelled row near them: zero spread.
    x = np.r_[np.full(4, 150.0), 170.0 + np.arange(10.0)]
    labels = np.r_[np.zeros(4, int), np.ones(10, int)]
    with pytest.raises(MixtureError, match="reg_covar"):
        fit(x, labels, reg_covar=0.0)


def test_outlier_does_not_produce_nan():
    x = np.r_[_heights(500, 1), 10_000.0]
    result = fit(x, None, 2, n_init=3)
    assert np.isfinite(result.means).all() and np.isfinite(result.posteriors).all()
    assert result.log_likelihood == pytest.approx(
        log_likelihood(x, None, result.weights, result.means, result.covariances), rel=1e-9
    )


# --------------------------------------------------------------------------- API behaviour


def test_step_starts_at_iteration_zero_and_is_idempotent_when_done():
    x, _, labels = two_gaussians(200, 0, hidden=0.5)
    em = EMFit(x, labels, tol=1e-8, n_init=1)
    first = em.step()
    assert isinstance(first, Snapshot)
    assert first.iteration == 0 and first.start == 0 and not first.converged
    second = em.step()
    assert second.iteration == 1
    snaps = [first, second, *em]
    assert [s.iteration for s in snaps] == list(range(len(snaps)))
    assert em.done and not em.cancelled and snaps[-1].converged
    assert em.step() is snaps[-1]
    result = em.result()
    assert isinstance(result, MixtureResult)
    assert result.n_iter == snaps[-1].iteration
    assert result.history == tuple(s.log_likelihood for s in snaps)
    assert result.log_likelihood == snaps[-1].log_likelihood


def test_snapshots_are_frozen_and_read_only():
    x, _, labels = two_gaussians(100, 0, hidden=0.5)
    snap = EMFit(x, labels).step()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.iteration = 5
    with pytest.raises(ValueError):
        snap.means[0, 0] = 1.0
    assert snap.weights.shape == (2,) and snap.means.shape == (2, 1)
    assert snap.covariances.shape == (2, 1, 1)


def test_unlabelled_streams_every_start_and_keeps_the_best():
    x = separated(300, 6, k=3)
    em = EMFit(x, None, 3, n_init=4, tol=1e-8, seed=9)
    snaps = run_to_end(em)
    starts = [s.start for s in snaps]
    assert starts == sorted(starts) and set(starts) == {0, 1, 2, 3}
    finals = [
        s
        for s, nxt in zip(snaps, snaps[1:] + [None], strict=True)
        if nxt is None or nxt.start != s.start
    ]
    result = em.result()
    assert result.log_likelihood == max(s.log_likelihood for s in finals)
    assert np.all(np.diff(result.means[:, 0]) > 0)  # ordered by the first feature
    for s in snaps:
        assert np.all(np.diff(s.means[:, 0]) >= 0)


def test_labels_start_from_the_typed_rows_then_from_seeds_and_keep_the_best():
    x, _, labels = two_gaussians(200, 1, hidden=0.8)
    em = EMFit(x, labels, n_init=4)
    snaps = run_to_end(em)
    assert {s.start for s in snaps} == {0, 1, 2, 3}
    best = max((s for s in snaps if s.converged), key=lambda s: s.log_likelihood)
    assert em.result().log_likelihood == best.log_likelihood
    # One start when asked, and when every row is typed (nothing to seed from).
    assert {s.start for s in run_to_end(EMFit(x, labels, n_init=1))} == {0}
    assert {s.start for s in run_to_end(EMFit(x, np.r_[np.zeros(100, int), np.ones(100, int)]))} == {0}


def test_default_number_of_classes():
    x, _, _ = two_gaussians(60, 2)
    assert EMFit(x).n_components == 2
    labels = np.full(60, -1)
    labels[:3] = [0, 3, 1]
    assert EMFit(x, labels).n_components == 4
    assert EMFit(x, labels, 6).n_components == 6


def test_same_seed_same_result_and_input_untouched():
    x = separated(300, 3, dim=2, k=3)
    before = x.copy()
    a = fit(x, None, 3, seed=5)
    b = fit(x, None, 3, seed=5)
    np.testing.assert_array_equal(x, before)
    assert a.log_likelihood == b.log_likelihood
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.posteriors, b.posteriors)
    assert a.history == b.history


def test_cancel_stops_the_iterator():
    x, _, _ = two_gaussians(300, 0)
    em = EMFit(x, tol=0.0, max_iter=10_000)
    seen = []
    for snap in em:
        seen.append(snap)
        if len(seen) == 3:
            em.cancel()
    assert len(seen) == 3
    assert em.done and em.cancelled
    assert em.step() is seen[-1]
    result = em.result()
    assert not result.converged and result.n_iter == 2


def test_cancel_from_another_thread():
    x, _, _ = two_gaussians(2000, 0)
    em = EMFit(x, tol=0.0, max_iter=10**7)
    seen = []
    started = threading.Event()

    def work():
        for snap in em:
            seen.append(snap.iteration)
            started.set()

    thread = threading.Thread(target=work)
    thread.start()
    assert started.wait(10)
    em.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert em.cancelled and len(seen) < 10**7


def test_result_mid_way_is_the_current_state():
    x, _, labels = two_gaussians(200, 2, hidden=0.5)
    em = EMFit(x, labels, tol=0.0, max_iter=50)
    first = em.result()  # initialises the fit
    assert first.n_iter == 0
    em.step()
    snap = em.step()
    mid = em.result()
    assert mid.n_iter == snap.iteration and mid.log_likelihood == snap.log_likelihood
    np.testing.assert_array_equal(mid.means, snap.means)


def test_predict_proba_explains_one_row():
    x, _, labels = two_gaussians(300, 7, dim=2, hidden=0.6)
    result = fit(x, labels)
    unknown = np.flatnonzero(labels < 0)
    post = predict_proba(x[unknown], result.weights, result.means, result.covariances)
    np.testing.assert_allclose(post, result.posteriors[unknown], rtol=1e-10, atol=1e-14)
    one = predict_proba(x[unknown[0]][None, :], result.weights, result.means, result.covariances)
    assert one.shape == (1, 2) and one.sum() == pytest.approx(1.0)
    with pytest.raises(MixtureError):
        predict_proba(x, result.weights, result.means[:, :1], result.covariances)


@pytest.mark.parametrize("n", [0, 1, 2, 1023, 1024, 1025, 3000])
@pytest.mark.parametrize("tie_at", [None, 5, 2000])
def test_canonical_order_with_and_without_ties_in_the_first_feature(n, tie_at):
    """No tie, a tie among the first rows, a tie only past them: always lexsort's permutation."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3))
    if tie_at is not None and tie_at + 1 < n:
        x[tie_at, 0] = x[tie_at + 1, 0]  # rows 5 and 6 are among the first 1024, rows 2000 and 2001 past them
    np.testing.assert_array_equal(_canonical_order(x), np.lexsort(x.T[::-1]))


# --------------------------------------------------------------------------
# Several features on decimal grids: each row as one integer key


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1000, 3000),
    dim=st.integers(2, 6),
    decimals=st.lists(st.integers(0, 3), min_size=6, max_size=6),
)
def test_grid_key_order_is_lexsorts_permutation(seed, n, dim, decimals):
    """Rows of decimal measurements: the integer keys' stable order is exactly np.lexsort's,
    ties, negatives and signed zeros included."""
    from emgui.core.mixture import _grid_key

    rng = np.random.default_rng(seed)
    x = np.column_stack([np.round(rng.normal(size=n) * rng.choice([0.5, 3.0, 200.0]), decimals[f])
                         for f in range(dim)])
    x[rng.random((n, dim)) < 0.05] = 0.0
    x[rng.random((n, dim)) < 0.05] = -0.0  # equal to 0.0: lexsort keeps their input order
    x[rng.random(n) < 0.2] = x[0]  # whole rows repeated
    # The key is made whenever the columns' grid points multiplied fit in 63 bits.
    points = [int(np.ptp(np.rint(x[:, f] * 10.0 ** decimals[f]))) + 1 for f in range(dim)]
    assert (_grid_key(x) is not None) == (math.prod(points) < 2**63)
    expected = np.lexsort(x.T[::-1])
    np.testing.assert_array_equal(_canonical_order(x), expected)
    np.testing.assert_array_equal(_canonical_order(np.asfortranarray(x)), expected)


@pytest.mark.parametrize("change", ["off_grid", "nan", "inf", "wide", "huge"])
def test_grid_key_declines_and_the_order_stays_lexsorts(change):
    """Off the grid, NaN, infinite, or digits past 63 bits: no key, and the byte keys give lexsort's order."""
    from emgui.core.mixture import _grid_key

    rng = np.random.default_rng(1)
    x = np.round(rng.normal(170.0, 8.0, (3000, 4)), 1)
    x[rng.random(3000) < 0.3] = x[0]
    if change == "off_grid":
        x[-1, 2] = 170.0 + 1e-9  # after the sample that picks the decimals
    elif change == "nan":
        x[-1, 1] = np.nan
    elif change == "inf":
        x[-1, 1] = -np.inf
    elif change == "wide":
        x[-1] = 1e6  # each column 10^7 tenths wide: 4 digits need ~93 bits
    else:
        x[-1, 0] = 1e16  # past the whole numbers a float holds exactly
    assert _grid_key(x) is None
    if change != "nan":  # the canonical order is for rows without NaN
        np.testing.assert_array_equal(_canonical_order(x), np.lexsort(x.T[::-1]))


# --------------------------------------------------------------------------
# One feature on a decimal grid: each group sorted by counting


@pytest.mark.parametrize("decimals", [0, 1, 2, 3])
def test_counting_sort_gives_the_sorted_groups(decimals):
    from emgui.core.mixture import _counted_on_grid

    rng = np.random.default_rng(decimals)
    x = np.round(rng.normal(170.0, 8.0, 5000), decimals)
    lab = rng.integers(-1, 3, len(x)).astype(np.int8)
    grid, counts = _counted_on_grid(x, lab, 3)
    assert counts.shape == (len(grid), 4)
    for j in range(-1, 3):
        # Bit for bit the values a sort gives.
        part = np.repeat(grid, counts[:, j + 1])
        assert np.array_equal(part.view(np.int64), np.sort(x[lab == j]).view(np.int64))
    merged = np.repeat(grid, counts.sum(axis=1))
    assert np.array_equal(merged.view(np.int64), np.sort(x).view(np.int64))


@pytest.mark.parametrize("n", [1000, 2**16 - 1, 2**16, 2**16 + 1, 3 * 2**16 + 17])
def test_counting_a_block_at_a_time_counts_every_row(n):
    # The rows are checked and counted a block at a time (the window's
    # refit peak): the counts of every row, whatever the blocks' ends.
    from emgui.core.mixture import _GRID_BLOCK, _counted_on_grid

    assert _GRID_BLOCK == 2**16  # the sizes above straddle its ends
    rng = np.random.default_rng(n)
    x = np.round(rng.normal(170.0, 8.0, n), 1)
    lab = rng.integers(-1, 2, n).astype(np.int8)
    grid, counts = _counted_on_grid(x, lab, 2)
    keys = np.rint(x * 10).astype(np.int64) - int(np.floor(x.min() * 10))
    for j in range(-1, 2):
        assert np.array_equal(counts[:, j + 1], np.bincount(keys[lab == j], minlength=len(grid)))
    assert int(counts.sum()) == n


@pytest.mark.parametrize("where", ["first", "last"])
def test_counting_declines_an_off_grid_value_in_any_block(where):
    from emgui.core.mixture import _GRID_BLOCK, _counted_on_grid

    x = np.round(np.random.default_rng(1).normal(170.0, 8.0, 3 * _GRID_BLOCK), 1)
    x[1500 if where == "first" else -1] += 1e-9  # after the sample that picks the decimals
    assert _counted_on_grid(x, np.zeros(len(x), dtype=np.int8), 2) is None


@pytest.mark.parametrize(
    "change", ["off_grid", "negative_zero", "nan", "huge", "wide"],
)
def test_counting_sort_declines_what_is_not_on_a_small_grid(change):
    from emgui.core.mixture import _counted_on_grid

    x = np.round(np.random.default_rng(0).normal(170.0, 8.0, 5000), 1)
    if change == "off_grid":
        x[-1] = 170.0 + 1e-9  # after the sample that picks the decimals
    elif change == "negative_zero":
        x[-1] = -0.0
    elif change == "nan":
        x[-1] = np.nan
    elif change == "huge":
        x[-1] = 1e300
    else:
        x[-1] = 1e6  # on the grid of tenths, but 10^7 points wide
    assert _counted_on_grid(x, np.zeros(len(x), dtype=np.int8), 2) is None


@pytest.mark.parametrize("n", [4000, 150_000])  # one block of rows counted, and several
def test_a_fit_on_a_decimal_grid_is_the_sorted_fit(monkeypatch, n):
    from emgui.core import mixture

    x, _, labels = two_gaussians(n, seed=3, hidden=0.7)
    x = np.round(x, 1)
    counted = fit(x, labels, 2)
    monkeypatch.setattr(mixture, "_counted_on_grid", lambda *a: None)
    sorted_ = fit(x, labels, 2)
    assert counted.n_iter == sorted_.n_iter
    assert counted.log_likelihood == sorted_.log_likelihood
    for a, b in [(counted.weights, sorted_.weights), (counted.means, sorted_.means),
                 (counted.covariances, sorted_.covariances)]:
        assert np.array_equal(a, b)


def test_one_feature_factors_are_lapacks_bit_for_bit():
    # The 1x1 shortcut must give what cholesky + solve give, or fits would differ.
    rng = np.random.default_rng(0)
    cov = np.concatenate([rng.random(5000) * 100.0, [1e-300, 5e-324, 1e300]])[:, None, None]
    w, mu = np.full(len(cov), 1.0 / len(cov)), np.zeros((len(cov), 1))
    g = _factorise(w, mu, cov)
    lapack = np.swapaxes(np.linalg.solve(np.linalg.cholesky(cov), np.ones_like(cov)), 1, 2)
    assert np.array_equal(g.prec_chol.view(np.int64), lapack.view(np.int64))
    assert np.array_equal(g.half_log_det, np.log(lapack[:, 0, 0]))
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(MixtureError, match="collapsed"):
            _factorise(w[:2], mu[:2], np.array([1.0, bad])[:, None, None])


def test_scatter_is_the_rows_cross_product():
    from emgui.core.mixture import _scatter

    rng = np.random.default_rng(0)
    for dim in (1, 2, 5):
        diff = rng.normal(size=(30_000, dim))
        np.testing.assert_allclose(_scatter(diff), diff.T @ diff, rtol=1e-12)
        assert _scatter(diff).shape == (dim, dim)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1000, 3000),
    dim=st.integers(2, 6),
    k=st.integers(1, 5),
    decimals=st.lists(st.integers(0, 3), min_size=6, max_size=6),
    block=st.sampled_from([None, 1, 7, 512]),
)
def test_rows_sorted_on_the_grid_are_the_lexsorted_rows(seed, n, dim, k, decimals, block):
    """Sorting the keys themselves gives lexsort's rows, and each group (blank, each class) the same rows.

    ``block``: rows read back a block at a time, the last block short (a
    million rows are 16 blocks of the default 65,536).
    """
    with _row_block(block):
        _check_rows_sorted_on_the_grid(seed, n, dim, k, decimals)


@contextlib.contextmanager
def _row_block(rows: int | None):
    """Blocks of ``rows`` rows in mixture's block-wise passes (None: the default) while inside."""
    import emgui.core.mixture as mixture

    default = mixture._ROW_BLOCK
    mixture._ROW_BLOCK = rows or default
    try:
        yield
    finally:
        mixture._ROW_BLOCK = default


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 300),
    dim=st.integers(1, 6),
    block=st.integers(1, 64),
    spread=st.sampled_from([1e-3, 1.0, 170.0, 1e12]),
)
def test_sums_from_an_origin_are_numpys_sums_bit_for_bit(seed, n, dim, block, spread):
    """``(rows - origin).sum(axis=0)``: each column added in row order, a block at a time or not."""
    import emgui.core.mixture as mixture

    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, dim)) * spread + rng.normal(size=dim) * spread * 10
    origin = rows.min(axis=0)
    with _row_block(block):
        got = mixture._sums_from(rows, origin)
    assert got.view(np.int64).tolist() == (rows - origin).sum(axis=0).view(np.int64).tolist()
    assert mixture._sums_from(rows[:0], origin).tolist() == [0.0] * dim


def _check_rows_sorted_on_the_grid(seed, n, dim, k, decimals):
    from emgui.core.mixture import _grid_key, _sorted_on_grid

    rng = np.random.default_rng(seed)
    x = np.column_stack([np.round(rng.normal(size=n) * rng.choice([0.5, 3.0, 200.0]), decimals[f])
                         for f in range(dim)])
    x[rng.random((n, dim)) < 0.05] = 0.0
    x[rng.random(n) < 0.2] = x[0]  # whole rows repeated, with different labels
    x += 0.0  # rounding made some -0.0: they come below
    lab = rng.integers(-1, k, n)
    got = _sorted_on_grid(x, lab, k)
    minus = x.copy()
    minus[n // 2, dim - 1] = -0.0  # would come back as 0.0: declined, the argsort path keeps it
    assert _sorted_on_grid(minus, lab, k) is None
    if _grid_key(x) is None or got is None:
        assert got is None  # past 63 bits with the label's digit too: the argsort path
        return
    xs, ls, (distinct, least, largest) = got
    at = np.lexsort(x.T[::-1])
    assert xs.view(np.int64).tolist() == x[at].view(np.int64).tolist()  # bit for bit
    assert ls.dtype == np.intp
    # What _summarise would find by reading the rows again, read off the keys and the grid.
    assert distinct == len(np.unique(x, axis=0))
    assert least.view(np.int64).tolist() == x.min(axis=0).view(np.int64).tolist()
    assert largest.view(np.int64).tolist() == x.max(axis=0).view(np.int64).tolist()
    for j in range(-1, k):
        assert xs[ls == j].view(np.int64).tolist() == x[at][lab[at] == j].view(np.int64).tolist()


def test_a_fit_on_rows_sorted_on_the_grid_is_the_argsorted_fit(monkeypatch):
    import emgui.core.mixture as mixture

    rng = np.random.default_rng(5)
    n = 4000
    y = rng.integers(0, 2, n)
    x = np.round(np.column_stack([rng.normal(160 + 12 * y, 7), rng.normal(55 + 15 * y, 8),
                                  rng.normal(24 + 3 * y, 1.5)]), 1)
    x[rng.random(n) < 0.1] = x[1]
    labels = np.where(rng.random(n) < 0.6, -1, y)
    kwargs = dict(tol=0.0, max_iter=6, n_init=2)
    assert mixture._sorted_on_grid(x, labels, 2) is not None
    got = list(EMFit(x, labels, 2, **kwargs))
    monkeypatch.setattr(mixture, "_sorted_on_grid", lambda *a: None)
    ref = list(EMFit(x, labels, 2, **kwargs))
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        assert a.log_likelihood == b.log_likelihood
        for name in ("weights", "means", "covariances"):
            assert np.array_equal(getattr(a, name), getattr(b, name))


def test_keys_sorted_in_halves_on_two_cores_give_the_same_rows(monkeypatch):
    import emgui.core._parallel as parallel
    import emgui.core.mixture as mixture

    rng = np.random.default_rng(8)
    x = np.round(rng.normal(170.0, 9.0, (3001, 3)), 1)
    x[rng.random(3001) < 0.3] = x[2]
    lab = rng.integers(-1, 3, 3001)
    monkeypatch.setattr(mixture, "_SORT_HALVES", 1000)
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    xs1, ls1, _ = mixture._sorted_on_grid(x, lab, 3)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    xs2, ls2, _ = mixture._sorted_on_grid(x, lab, 3)
    assert np.array_equal(xs1, xs2) and np.array_equal(ls1, ls2)
    assert np.array_equal(xs1, x[np.lexsort(x.T[::-1])])


@pytest.mark.parametrize("seed", range(6))
def test_repeat_in_blocks_is_np_repeat(seed):
    # The counting sort's repeat, a block at a time (the window's fit thread
    # must not hold the interpreter lock for a 5M-row repeat).
    from emgui.core.mixture import _REPEAT_BLOCK, _repeat

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    values = rng.normal(size=n)
    counts = rng.integers(0, [3, 50, _REPEAT_BLOCK // 3, 3 * _REPEAT_BLOCK, 20_000, 2][seed], size=n)
    counts[rng.random(n) < 0.2] = 0
    got, want = _repeat(values, counts), np.repeat(values, counts)
    assert got.dtype == want.dtype and np.array_equal(got.view(np.int64), want.view(np.int64))
    assert _repeat(values, np.zeros(n, dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("block", [1 << 20, 7])
@pytest.mark.parametrize(("n", "dim", "k"), [(1, 1, 1), (500, 1, 3), (2000, 5, 3), (777, 8, 6)])
def test_nearest_centre_is_the_first_of_the_smallest_distances(monkeypatch, block, n, dim, k):
    """k-means' assignment, all centres at once a block at a time, is the one-centre-at-a-time answer."""
    monkeypatch.setattr(mixture, "_NEAREST_VALUES", block)  # 7: many blocks, some of one row
    rng = np.random.default_rng(n + dim + k)
    X = np.round(rng.normal(170, 9, (n, dim)), 1)  # values on a grid: ties between centres happen
    fit = mixture.EMFit(X, None, k)
    centres = X[rng.integers(0, n, k)].copy()
    if k > 2:
        centres[2] = centres[1]  # two equal centres: the first wins
    dist = np.stack([fit._dist2(X, c) for c in centres])
    expected = np.argmin(dist, axis=0)  # the first of equals
    np.testing.assert_array_equal(fit._nearest(X, centres), expected)


def test_blank_values_beside_values_near_the_largest_float_are_refused_not_warned_of():
    # Found by tests/core/test_roundtrip_fuzz.py: the start's column means
    # overflowed (a RuntimeWarning, an error under the test settings).
    from emgui.core.mixture import MixtureError

    x = np.array([[120.0, np.nan], [np.nan, 1.0], [np.nan, 1e308], [120.0, 0.0], [120.0, 1e308], [121.0, 0.0]])
    labels = np.array([0, 0, -1, 0, -1, 0])
    with pytest.raises(MixtureError, match="too far apart"):
        fit(x, labels, 2)
