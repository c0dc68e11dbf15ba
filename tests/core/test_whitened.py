"""The Whitened engine (several features at full speed) against the plain Precise engine and the plain sums.

Whitened must give what Precise gives to ~1e-10 relative: sweep by sweep for
D = 2..8 and K = 2..5 (random and ill-conditioned parameters, block
boundaries), and fit by fit (every snapshot of EMFit with either engine, for
separate and shared covariances, with and without typed labels, and with blank
feature values).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import _mixture_fast as fast
from emgui.core.mixture import EMFit, _factorise, _reference_step, log_likelihood

RTOL = 1e-10


def _plain_sweep(x, g):
    """(ll, s0, s1, scatter) of one E-step over the rows, the obvious way, one class at a time."""
    k, d = g.means.shape
    logp = np.stack([
        g.log_weights[j] + g.half_log_det[j] - 0.5 * d * math.log(2 * math.pi)
        - 0.5 * np.sum(((x - g.means[j]) @ g.prec_chol[j]) ** 2, axis=1)
        for j in range(k)
    ], axis=1)
    mx = logp.max(axis=1, keepdims=True)
    norm = mx[:, 0] + np.log(np.exp(logp - mx).sum(axis=1))
    r = np.exp(logp - norm[:, None])
    s0 = r.sum(axis=0)
    s1 = r.T @ x
    scatter = np.stack([(r[:, j] * (x - s1[j] / s0[j]).T) @ (x - s1[j] / s0[j]) for j in range(k)])
    return norm.sum(), s0, s1, scatter


def _assert_sweep(sweep, expected, rtol=RTOL):
    ll, s0, s1, scatter = expected
    n = s0.sum()
    assert sweep.ll == pytest.approx(ll, rel=rtol)
    np.testing.assert_allclose(sweep.s0, s0, rtol=rtol, atol=rtol * n)
    # Absolute floors in the data's own units: per row, the largest |x| and x².
    big = float(np.abs(s1).max() / n) + float(np.sqrt(np.abs(scatter).max() / n))
    np.testing.assert_allclose(sweep.s1, s1, rtol=rtol, atol=rtol * n * big)
    for j in range(len(s0)):
        # Each class's scatter to its own size: a class of little weight is small.
        np.testing.assert_allclose(sweep.scatter[j], scatter[j], rtol=rtol,
                                   atol=rtol * max(np.abs(scatter[j]).max(), 1e-300) + 1e-12 * s0[j])


def _random_gaussians(rng, k, d, far=0.0, narrow=1.0):
    """Random weights, means and full covariances; class 0 ``narrow`` times as wide, ``far`` sd off."""
    w = rng.random(k) + 0.2
    means = rng.normal(size=(k, d)) * 2.0
    a = rng.normal(size=(k, d, d)) * 0.5
    covs = a @ np.swapaxes(a, 1, 2) + np.eye(d) * 0.5
    covs[0] *= narrow**2
    means[0] += far
    return _factorise(w / w.sum(), means, covs)


@pytest.mark.parametrize("d", range(2, 9))
@pytest.mark.parametrize("k", range(2, 6))
def test_sweep_matches_precise_and_the_plain_sums(d, k):
    rng = np.random.default_rng(100 * d + k)
    x = rng.normal(size=(3000, d)) * 2.0
    g = _random_gaussians(rng, k, d)
    engine = fast.Whitened(x, k)
    got = engine.sweep(g)
    _assert_sweep(got, _plain_sweep(x, g))
    ref = fast.Precise(x, k).sweep(g)
    _assert_sweep(got, (ref.ll, ref.s0, ref.s1, ref.scatter))


@pytest.mark.parametrize("n", [1, 2, 6, 7, 8, 13, 14, 15])
@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_blocks_and_the_last_partial_block(n, d):
    """Block boundaries, for even and odd D (the whitening is split at D//2: one coordinate of 2, two of 5)."""
    rng = np.random.default_rng(10 * n + d)
    x = rng.normal(size=(n, d))
    g = _random_gaussians(rng, 3, d)
    engine = fast.Whitened(x, 3)
    engine.block = 7  # blocks of 7 rows: the boundary and a partial last block
    _assert_sweep(engine.sweep(g), _plain_sweep(x, g))
    # A second sweep reuses the scratch buffers and gives the same numbers.
    again = engine.sweep(g)
    assert again.ll == engine.sweep(g).ll


@pytest.mark.parametrize("d", [5, 8])
def test_a_class_too_far_for_exp_and_the_rest_near(d):
    """Log-densities 700 and more below the best class (exp's slow subnormal range) are floored, in some blocks only."""
    rng = np.random.default_rng(d)
    g = _random_gaussians(rng, 3, d)
    x = rng.normal(size=(2000, d)) * 2.0
    x[1200:1500] += 200.0  # far from every class: the two farther ones fall below the floor
    engine = fast.Whitened(x, 3)
    engine.block = 500  # block 2 (rows 1000-1499) needs the floor, blocks 0, 1 and 3 do not
    _assert_sweep(engine.sweep(g), _plain_sweep(x, g))


def test_no_rows():
    engine = fast.Whitened(np.zeros((0, 4)), 2)
    sweep = engine.sweep(_random_gaussians(np.random.default_rng(0), 2, 4))
    assert sweep.ll == 0.0 and not sweep.s0.any() and not sweep.scatter.any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    d=st.integers(2, 8),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**31),
    far=st.sampled_from([0.0, 30.0, 3e3]),
    narrow=st.sampled_from([1.0, 1e-2, 1e-4]),
)
def test_narrow_class_far_from_the_centre_loses_no_digits(d, k, seed, far, narrow):
    """Where the monomial engine's expansion would lose digits (the condition is large), Whitened does not."""
    rng = np.random.default_rng(seed)
    g = _random_gaussians(rng, k, d, far=far, narrow=narrow)
    cov0 = np.linalg.inv(g.prec_chol[0] @ g.prec_chol[0].T)
    # Half the rows from the narrow class itself, half spread around the centre.
    near = g.means[0] + rng.standard_normal((400, d)) @ np.linalg.cholesky(cov0).T
    x = np.vstack([near, rng.normal(size=(400, d)) * 2.0])
    _assert_sweep(fast.Whitened(x, k).sweep(g), _plain_sweep(x, g), rtol=1e-9)


def _data(n, d, k, seed, hidden):
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=np.arange(1, k + 1) / (k * (k + 1) / 2))
    centres = 4.0 * rng.normal(size=(k, d)) + 50.0
    a = rng.normal(size=(k, d, d)) * 0.4 + np.eye(d)
    x = centres[y] + np.einsum("nij,nj->ni", a[y], rng.standard_normal((n, d)))
    labels = np.where(rng.random(n) < hidden, -1, y)
    return x, labels


def _snapshots(em, engine):
    """Every snapshot of ``em`` with its complete unlabelled rows swept by ``engine`` (a class)."""
    em._fast = None
    em._exact = engine(em._xu, em.n_components)
    return list(em)


def _assert_snapshots_agree(got, ref, same_end=True):
    """Snapshot by snapshot to RTOL.

    With ``tol=0`` a fit stops only when its log-likelihood repeats exactly,
    which rounding decides once EM has converged to the last digits: then
    (``same_end`` False) the shorter run must end on such a repeat.
    """
    if same_end:
        assert len(got) == len(ref)
        assert [s.converged for s in got] == [s.converged for s in ref]
    else:
        short = min(got, ref, key=len)
        if len(got) != len(ref):
            assert short[-1].converged and short[-1].log_likelihood == short[-2].log_likelihood
    for a, b in zip(got, ref, strict=False):
        assert a.iteration == b.iteration
        assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=RTOL)
        for name in ("weights", "means", "covariances"):
            x, y = getattr(a, name), getattr(b, name)
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=RTOL * np.abs(y).max())


@pytest.mark.parametrize(("d", "k"), [(2, 2), (3, 5), (5, 2), (5, 3), (6, 4), (8, 5)])
@pytest.mark.parametrize("covariance", ["separate", "shared"])
@pytest.mark.parametrize("hidden", [1.0, 0.7])
def test_fit_matches_the_precise_fit_every_iteration(d, k, covariance, hidden):
    x, labels = _data(1500, d, k, seed=d * 10 + k, hidden=hidden)
    kwargs = dict(tol=0.0, max_iter=10, n_init=1, covariance=covariance)
    got = _snapshots(EMFit(x, labels, k, **kwargs), fast.Whitened)
    ref = _snapshots(EMFit(x, labels, k, **kwargs), fast.Precise)
    _assert_snapshots_agree(got, ref, same_end=False)
    # And the contract: each snapshot's log-likelihood is that of its parameters.
    for snap in got[:: len(got) - 1]:
        ll = log_likelihood(x, labels, snap.weights, snap.means, snap.covariances)
        assert snap.log_likelihood == pytest.approx(ll, rel=RTOL)


@pytest.mark.parametrize(("d", "k"), [(5, 2), (8, 3)])
def test_fit_with_whitened_matches_the_plain_reference_step(d, k):
    x, labels = _data(700, d, k, seed=7 + d, hidden=0.7)
    em = EMFit(x, labels, k, tol=0.0, max_iter=6, n_init=1)
    snaps = list(em)
    assert isinstance(em._exact, fast.Whitened)
    for before, after in zip(snaps[:-1], snaps[1:], strict=True):
        ll, _, w, mu, cov = _reference_step(x, labels, before.weights, before.means, before.covariances)
        assert before.log_likelihood == pytest.approx(ll, rel=RTOL)
        for a, b in ((after.weights, w), (after.means, mu), (after.covariances, cov)):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * np.abs(b).max())


def test_converged_fit_is_the_same_and_stops_at_the_same_iteration():
    x, labels = _data(2000, 6, 3, seed=5, hidden=0.7)
    got = _snapshots(EMFit(x, labels, 3, tol=1e-8), fast.Whitened)
    ref = _snapshots(EMFit(x, labels, 3, tol=1e-8), fast.Precise)
    assert got[-1].converged
    _assert_snapshots_agree(got, ref)


def test_rows_with_blank_features_keep_their_path_and_the_same_fit():
    """Complete rows through Whitened, each pattern of blanks through its own (Whitened or Precise) engine."""
    x, labels = _data(1200, 6, 3, seed=9, hidden=0.7)
    rng = np.random.default_rng(9)
    blank = rng.random(x.shape) < 0.08
    blank[blank.all(axis=1), 0] = False
    x[blank] = np.nan
    kwargs = dict(tol=1e-12, max_iter=6, n_init=1)
    em = EMFit(x, labels, 3, **kwargs)
    assert em._incomplete is not None
    got = list(em)
    assert isinstance(em._exact, fast.Whitened)
    wide = [p for p in em._incomplete.patterns if len(p.observed) >= 5 and p.precise is not None]
    assert wide and all(isinstance(p.precise, fast.Whitened) for p in wide)

    ref_em = EMFit(x, labels, 3, **kwargs)
    ref_em._fast, ref_em._exact = None, fast.Precise(ref_em._xu, 3)
    for p in ref_em._incomplete.patterns:
        p.fast = None
        if len(p.xu):
            p.precise = fast.Precise(p.xu, 3)
    _assert_snapshots_agree(got, list(ref_em))


def test_dispatch_by_number_of_features():
    """2-4 features: the monomial engine while its expansion is exact; 5 and more: Whitened."""
    for d, engine in ((3, fast.QuadraticFeatures), (5, type(None))):
        x, labels = _data(500, d, 2, seed=d, hidden=0.7)
        em = EMFit(x, labels, 2, max_iter=3, n_init=1)
        assert isinstance(em._fast, engine)
        list(em)
        assert (em._exact is None) == (d < 5)
        if d >= 5:
            assert isinstance(em._exact, fast.Whitened)


def test_whitening_past_its_limit_goes_through_precise():
    """A class 1e-6 wide 3e3 from the centre: one product Uᵀx - Uᵀμ would lose ~9 digits of y."""
    rng = np.random.default_rng(4)
    d, k = 3, 2
    g = _random_gaussians(rng, k, d, far=3e3, narrow=1e-6)
    cov0 = np.linalg.inv(g.prec_chol[0] @ g.prec_chol[0].T)
    near = g.means[0] + rng.standard_normal((300, d)) @ np.linalg.cholesky(cov0).T
    x = np.vstack([near, rng.normal(size=(300, d))])
    engine = fast.Whitened(x, k)
    assert fast.condition(g, engine.scale, engine.radius) > fast.WHITENED_LIMIT
    _assert_sweep(engine.sweep(g), _plain_sweep(x, g))
    assert isinstance(engine._precise, fast.Precise)
    # Ordinary parameters and rows stay on the whitened products.
    g = _random_gaussians(rng, k, d)
    x = rng.normal(size=(600, d)) * 2.0
    engine = fast.Whitened(x, k)
    _assert_sweep(engine.sweep(g), _plain_sweep(x, g))
    assert engine._precise is None


def test_reach_of_rows_is_their_largest_magnitudes_and_longest_row():
    """What Whitened and the EM fit once computed each for themselves (the fit now hands it over)."""
    from emgui.core._mixture_fast import Whitened, reach_of

    rng = np.random.default_rng(3)
    for x in (rng.normal(size=(5000, 5)) * [1.0, 30.0, 1e-3, 2.0, 7.0], np.zeros((4, 3)),
              np.array([[-0.0, 2.0], [0.0, -3.0]]), np.zeros((0, 2))):
        scale, radius = reach_of(x)
        want = np.abs(x).max(axis=0) if len(x) else np.ones(x.shape[1])
        want = np.where(want > 0, want, 1.0)
        assert scale.tolist() == want.tolist()
        assert radius == (float(np.sqrt(((x / want) ** 2).sum(axis=1).max())) if len(x) else 0.0)
        if len(x):
            assert Whitened(x, 2).radius == Whitened(x, 2, (scale, radius)).radius == radius
