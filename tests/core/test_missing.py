"""EM with blank feature values: a plain row-by-row reference, monotone climb, posteriors, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emgui.core.mixture import EMFit, MixtureError, fit, log_likelihood, predict_proba

RTOL = 1e-8
_EPS = float(np.finfo(np.float64).eps)


def blanked(n, seed, dim=2, k=2, hidden=0.7, blank=0.15):
    """Correlated Gaussian classes, ``hidden`` of the labels and ``blank`` of the values removed.

    Every row keeps at least one value.  Returns x (n, dim) with NaN, the true
    classes, and the labels (-1 = blank).
    """
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n)
    centres = np.array([[160.0 + 15.0 * j, 55.0 + 12.0 * j, 5.0 + j, -2.0][:dim] for j in range(k)])
    a = rng.normal(size=(k, dim, dim)) * 0.5 + np.eye(dim) * 3.0
    x = centres[y] + np.einsum("nij,nj->ni", a[y], rng.standard_normal((n, dim)))
    mask = rng.random((n, dim)) < blank
    mask[mask.all(axis=1), 0] = False
    x[mask] = np.nan
    labels = np.where(rng.random(n) < hidden, -1, y)
    return x, y, labels


def reference_step(x, labels, weights, means, covariances, reg_covar, shared=False):
    """One EM iteration with blank values, row by row, straight from Ghahramani & Jordan (1994).

    E-step: each class's marginal density of the row's observed values; M-step:
    blanks replaced by their conditional expectation under each class, the
    conditional covariance added to the scatter.
    """
    n, d = x.shape
    k = len(weights)
    ll = 0.0
    resp = np.zeros((n, k))
    xhat = np.zeros((n, k, d))
    extra = np.zeros((n, k, d, d))
    for i in range(n):
        o = np.isfinite(x[i])
        m = ~o
        logp = np.empty(k)
        for j in range(k):
            s_oo = covariances[j][np.ix_(o, o)]
            diff = x[i, o] - means[j, o]
            sign, logdet = np.linalg.slogdet(s_oo)
            assert sign > 0
            logp[j] = math.log(weights[j]) - 0.5 * (o.sum() * math.log(2 * math.pi) + logdet
                                                    + diff @ np.linalg.solve(s_oo, diff))
            xhat[i, j] = x[i]
            if m.any():
                s_mo = covariances[j][np.ix_(m, o)]
                xhat[i, j, m] = means[j, m] + s_mo @ np.linalg.solve(s_oo, diff)
                extra[i, j][np.ix_(m, m)] = covariances[j][np.ix_(m, m)] - s_mo @ np.linalg.solve(s_oo, s_mo.T)
        if labels[i] >= 0:
            ll += logp[labels[i]]
            resp[i, labels[i]] = 1.0
        else:
            top = logp.max()
            ll += top + math.log(np.exp(logp - top).sum())
            resp[i] = np.exp(logp - top) / np.exp(logp - top).sum()
    nk = resp.sum(axis=0) + 10 * _EPS
    new_means = np.einsum("nk,nkd->kd", resp, xhat) / nk[:, None]
    scatter = np.zeros((k, d, d))
    for j in range(k):
        diff = xhat[:, j] - new_means[j]
        scatter[j] = np.einsum("n,ni,nj->ij", resp[:, j], diff, diff) + np.einsum("n,nij->ij", resp[:, j], extra[:, j])
    if shared:
        cov = np.broadcast_to(scatter.sum(axis=0) / nk.sum(), scatter.shape).copy()
    else:
        cov = scatter / nk[:, None, None]
    cov += reg_covar * np.eye(d)
    return ll, resp, nk / nk.sum(), new_means, cov


def assert_close(actual, expected, rtol=RTOL):
    expected = np.asarray(expected, dtype=float)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected)))


@pytest.mark.parametrize(
    ("dim", "k", "hidden", "covariance"),
    [(2, 2, 0.7, "separate"), (2, 3, 1.0, "separate"), (3, 2, 0.7, "shared"), (3, 3, 0.5, "separate"),
     (4, 2, 1.0, "shared")],
)
def test_every_iteration_matches_the_plain_reference(dim, k, hidden, covariance):
    x, _, labels = blanked(400, 3 + dim + k, dim=dim, k=k, hidden=hidden, blank=0.2)
    assert np.isnan(x).any() and np.isfinite(x).all(axis=1).any()
    em = EMFit(x, labels, k, tol=0.0, max_iter=8, n_init=1, covariance=covariance)
    assert em._incomplete is not None and len(em._incomplete.patterns) >= 2
    snaps = list(em)
    assert len(snaps) == 9
    for before, after in zip(snaps[:-1], snaps[1:], strict=True):
        ll, _, w, mu, cov = reference_step(
            x, labels, before.weights, before.means, before.covariances, em.reg_covar,
            shared=covariance == "shared",
        )
        assert before.log_likelihood == pytest.approx(ll, rel=1e-10)
        assert_close(after.weights, w)
        assert_close(after.means, mu)
        assert_close(after.covariances, cov)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance", ["separate", "shared"])
def test_log_likelihood_never_decreases_when_stepping(dim, seed, covariance):
    x, _, labels = blanked(500, seed, dim=dim, hidden=0.8, blank=0.25)
    em = EMFit(x, labels, 2, tol=1e-12, max_iter=200, n_init=2, seed=seed, covariance=covariance)
    previous, steps = None, 0
    while not em.done:
        snap = em.step()
        steps += 1
        if snap.iteration > 0:
            assert snap.log_likelihood >= previous - 1e-9 * abs(previous)
        previous = snap.log_likelihood
        # The snapshot's log-likelihood is that of its own parameters, blanks and all.
        ref = log_likelihood(x, labels, snap.weights, snap.means, snap.covariances)
        assert snap.log_likelihood == pytest.approx(ref, rel=1e-10)
    assert steps > 3


def test_posteriors_use_the_observed_values_only():
    x, _, labels = blanked(600, 7, dim=3, hidden=1.0, blank=0.3)
    res = fit(x, labels, 2, seed=1)
    post = res.posteriors
    _, resp, *_ = reference_step(x, labels, res.weights, res.means, res.covariances, 0.0)
    assert_close(post, resp, rtol=1e-9)
    assert_close(predict_proba(x, res.weights, res.means, res.covariances), resp, rtol=1e-9)
    # A row with its second and third values blank is judged by its first alone.
    row = np.array([[x[0, 0] if np.isfinite(x[0, 0]) else 170.0, np.nan, np.nan]])
    alone = predict_proba(row[:, :1], res.weights, res.means[:, :1], res.covariances[:, :1, :1])
    assert_close(predict_proba(row, res.weights, res.means, res.covariances), alone, rtol=1e-12)
    sel = np.array([5, 0, 17])
    assert_close(res.posteriors_of(sel), resp[sel], rtol=1e-9)


def test_typed_rows_with_blanks_anchor_their_class():
    x, y, labels = blanked(800, 2, dim=2, hidden=0.5, blank=0.3)
    res = fit(x, labels, 2)
    post = res.posteriors
    typed = labels >= 0
    assert np.array_equal(post[typed].argmax(axis=1), labels[typed])
    # The fit with blanks finds the classes about as well as one needs.
    acc = (post.argmax(axis=1) == y)[~typed].mean()
    assert acc > 0.9


def test_row_order_does_not_change_the_fit():
    x, _, labels = blanked(300, 9, dim=3, hidden=0.8, blank=0.2)
    a = fit(x, labels, 2, seed=4)
    perm = np.random.default_rng(0).permutation(len(x))
    b = fit(x[perm], labels[perm], 2, seed=4)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)
    assert_close(b.means, a.means, rtol=1e-10)
    assert_close(b.posteriors, a.posteriors[perm], rtol=1e-8)


def test_blank_fit_close_to_the_complete_fit():
    rng = np.random.default_rng(5)
    x, _, labels = blanked(4000, 5, dim=2, hidden=0.8, blank=0.0)
    full = fit(x, labels, 2)
    holes = x.copy()
    mask = rng.random(x.shape) < 0.1
    mask[mask.all(axis=1), 0] = False
    holes[mask] = np.nan
    part = fit(holes, labels, 2)
    sd = np.sqrt(np.diagonal(full.covariances, axis1=1, axis2=2))
    assert np.all(np.abs(part.means - full.means) < 0.1 * sd)


def test_rows_and_features_without_values_are_refused_clearly():
    x = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 1.0], [2.0, 2.5]])
    with pytest.raises(MixtureError, match="Row 1 .* no value in any feature"):
        EMFit(x, None, 2)
    x = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan], [5.0, np.nan]])
    with pytest.raises(MixtureError, match="Feature 1 .* no value"):
        EMFit(x, None, 2)
    with pytest.raises(MixtureError, match="infinite"):
        EMFit(np.array([[1.0, np.inf], [2.0, 1.0], [3.0, np.nan]]), None, 2)
