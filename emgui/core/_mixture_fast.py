"""One-sweep E-step passes over the unlabelled rows, for :mod:`emgui.core.mixture`.

Every engine here holds the unlabelled rows once (centred by a fixed shift, in
a canonical order) and, given Gaussian parameters in the same centred
coordinates, makes ONE pass over those rows and returns a :class:`Sweep`:

* ``ll``: Σ_i log Σ_k π_k N(x_i | μ_k, Σ_k) over the unlabelled rows;
* ``s0`` (K,): Σ_i r_ik, the responsibility mass of each component;
* ``s1`` (K, D): Σ_i r_ik x_i;
* ``scatter`` (K, D, D): Σ_i r_ik (x_i - m_k)(x_i - m_k)ᵀ with m_k = s1_k / s0_k.

That is all an M-step needs, so no (n_rows, K) array is ever kept.  Labelled
rows are not here: their sums never change and the caller keeps them.

Four engines, chosen per iteration by the caller:

``TwoClassLine``
    One feature, two classes.  The rows are sorted, so the set where
    q(x) = log π₁N₁(x) - log π₀N₀(x) > 0 is at most three runs of rows split
    at the roots of the quadratic q.  Inside a run the sign of q is known, so
    one ``exp`` of -|q| per row gives the posterior (a logistic function of q)
    and the log-likelihood needs no ``log`` per row at all.
``QuadraticFeatures``
    Few features, any K.  log π_k N_k(x) is linear in the monomials
    (x_i x_j, x_i, 1), so one matrix product gives all log-densities of a block
    and one more gives every sufficient statistic.
``Whitened``
    Two or more features, any K.  Per-component Cholesky whitening as in
    scikit-learn, as BLAS products over cache-sized blocks (two per block for
    all classes, the triangular factor's zeros skipped), with the statistics
    summed in each class's whitened coordinates (two more products, the
    symmetric sums' lower half), so nothing cancels.  Exact for any
    parameters: with 5 or more features it serves every iteration, with 2-4
    it is the fallback when the expanded quadratics of ``QuadraticFeatures``
    would lose digits (a narrow component far from the data's centre), which
    :func:`condition` measures.
``Precise``
    Any shape.  The same maths, written plainly: a Python loop over classes
    per block, each block's statistics merged by the parallel-axis formula.
    The fallback of ``TwoClassLine`` (one feature) and the reference the
    tests hold the others to.

All engines work in blocks that stay in the CPU cache; the first two reuse
scratch buffers allocated once, through ``out=`` arguments.  ``Whitened``
splits its rows into two parts of whole blocks, each with its own buffers
and sums, run on two threads when the process has a second core and added
in the same order either way (:mod:`emgui.core._parallel`).

Rows with some features blank are not in these engines: :class:`Incomplete`
holds them, grouped by which features are blank, and its sweep returns the
same statistics with each blank value replaced by its conditional
expectation given the row's class and observed values, plus the conditional
covariance (Ghahramani & Jordan 1994).  :func:`merge` adds two sweeps.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _parallel

__all__ = [
    "BLAS_SMALL",
    "CONDITION_LIMIT",
    "Gaussians",
    "Incomplete",
    "Precise",
    "QuadraticFeatures",
    "Sweep",
    "TwoClassLine",
    "WHITENED_LIMIT",
    "Whitened",
    "column_max",
    "column_min",
    "condition",
    "empty_sweep",
    "exact_engine",
    "marginal",
    "merge",
    "reach_of",
    "sum_log",
]

_LOG_2PI = math.log(2.0 * math.pi)

# Above this, expanding (x - μ)ᵀP(x - μ) into monomials costs more than about
# 1e-11 absolute per row (eps * 1e4 * a small factor); the Precise engine is
# used instead.
CONDITION_LIMIT = 1e4

# Rows per block: a few 8-byte buffers of this length stay in a 1 MiB L2 cache
# and are long enough that the Python overhead per ufunc call is negligible.
_LINE_BLOCK = 32768
_QUAD_BLOCK_CELLS = 65536
# Matrix products with fewer multiply-adds than this (rows x inner x outer)
# stay on the calling thread in OpenBLAS; a product handed to a second thread
# costs far more than it saves when the machine is busy.
_BLAS_MNK = 200_000
# Multiply-adds of one matrix product below which OpenBLAS keeps it in its
# small-matrix kernel on the calling thread (see Whitened.__init__ for what
# a larger one cost on the busy 2-core machine).
BLAS_SMALL = 900_000
# Cells of the Whitened engine's (K, D+1, rows) block (see Whitened.__init__).
_WHITE_BLOCK_CELLS = 300_000
_EXP_FLOOR = -700.0
# Whitened computes y = Uᵀx - Uᵀμ in one product: rounding costs about
# eps·√condition in y, so up to this condition a log-density loses about
# 1e-11 absolute per row, as CONDITION_LIMIT allows the monomial engines.
WHITENED_LIMIT = CONDITION_LIMIT**2


class Gaussians(NamedTuple):
    """Factorised parameters in centred coordinates, ready for an E-step.

    Attributes
    ----------
    log_weights : ndarray, shape (K,)
    means : ndarray, shape (K, D)
    prec_chol : ndarray, shape (K, D, D)
        Upper factors with precision_k = prec_chol_k @ prec_chol_kᵀ (as in
        scikit-learn).
    half_log_det : ndarray, shape (K,)
        Σ log diag(prec_chol_k) = ½ log det(precision_k).
    """

    log_weights: np.ndarray
    means: np.ndarray
    prec_chol: np.ndarray
    half_log_det: np.ndarray


class Sweep(NamedTuple):
    """Result of one pass over the unlabelled rows (see the module docstring)."""

    ll: float
    s0: np.ndarray
    s1: np.ndarray
    scatter: np.ndarray


def empty_sweep(k: int, d: int) -> Sweep:
    """The sweep over zero rows."""
    return Sweep(0.0, np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)))


def merge(a: Sweep, b: Sweep) -> Sweep:
    """The sweep of two disjoint sets of rows: counts and sums add, scatters by the parallel-axis rule."""
    s0 = a.s0 + b.s0
    s1 = a.s1 + b.s1
    scatter = a.scatter + b.scatter
    for s in (a, b):
        # n_part (m_part - m)(m_part - m)ᵀ about the merged mean m.
        ok = (s.s0 > 0.0) & (s0 > 0.0)
        mp = s.s1[ok] / s.s0[ok, None]
        m = s1[ok] / s0[ok, None]
        d = mp - m
        scatter[ok] += np.einsum("k,ki,kj->kij", s.s0[ok], d, d)
    return Sweep(a.ll + b.ll, s0, s1, scatter)


def sum_log(values: np.ndarray, group: int = 256) -> float:
    """Σ log(values) with one ``log`` per `group` values.

    Parameters
    ----------
    values : ndarray, shape (m,)
        Each in [1, 4): then a product of 256 of them stays below 4**256
        ≈ 1e154, far from overflow, and loses only ~256 ulps.

    Returns
    -------
    float
    """
    m = values.shape[0]
    full = m // group
    total = 0.0
    if full:
        # Multiplying `group` rows of length `full` elementwise is a cheap
        # vectorised pass; the log then runs on `full` numbers only.
        prods = np.multiply.reduce(values[: full * group].reshape(group, full), axis=0)
        total += float(np.log(prods).sum())
    if full * group < m:
        total += float(np.log(values[full * group :]).sum())
    return total


def _raw_to_sweep(ll: float, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> Sweep:
    """Turn raw moments Σr, Σrx, Σrxxᵀ into the scatter about each weighted mean."""
    safe = np.where(s0 > 0.0, s0, 1.0)
    scatter = s2 - np.einsum("ki,kj->kij", s1, s1 / safe[:, None])
    scatter[s0 <= 0.0] = 0.0
    # Rounding may leave a tiny negative variance where the true one is ~0.
    diag = np.einsum("kii->ki", scatter)
    np.maximum(diag, 0.0, out=diag)
    return Sweep(ll, s0, s1, scatter)


def condition(g: Gaussians, scale: np.ndarray, radius: float) -> float:
    """How many ulps per row the expanded quadratic form may lose.

    Parameters
    ----------
    g : Gaussians
    scale : ndarray, shape (D,)
        Per-feature scale of the centred rows (their largest magnitude).
    radius : float
        Largest norm of a centred row divided by `scale`.

    Returns
    -------
    float
        About max_k λ_max(S P_k S) (radius + |S⁻¹ μ_k|)², S = diag(scale): the
        rounding error of a monomial expansion of a log-density is about eps
        times this.  Scaling first makes it independent of each feature's unit.
    """
    # ||S·prec_chol||_F² = trace(S P S) >= λ_max(S P S): cheap, and at most
    # D times too cautious.
    lam = np.einsum(
        "kij,kij->k", g.prec_chol * scale[None, :, None], g.prec_chol * scale[None, :, None]
    )
    reach = radius + np.sqrt(np.einsum("kd,kd->k", g.means / scale, g.means / scale))
    return float(np.max(lam * reach * reach))


class TwoClassLine:
    """One feature, two classes, rows sorted: one ``exp`` per row per iteration.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Centred unlabelled values, sorted ascending.
    block : int, optional
        Rows per block.
    """

    def __init__(self, x: np.ndarray, block: int = _LINE_BLOCK) -> None:
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.x2 = self.x * self.x
        self.n = self.x.shape[0]
        self.block = int(block)
        starts = np.arange(0, self.n, self.block)
        # Block totals of (1, x, x²), computed once: a block lying wholly on one
        # side of q's roots needs them and nothing else from x.
        self._totals = np.zeros((starts.shape[0], 3))
        for b, s in enumerate(starts):
            e = min(s + self.block, self.n)
            self._totals[b] = (e - s, self.x[s:e].sum(), self.x2[s:e].sum())
        self.mean = float(self.x.mean()) if self.n else 0.0
        # Precise spread for Σ log π₀N₀(x_i) in closed form.
        self.scatter = float(np.sum((self.x - self.mean) ** 2)) if self.n else 0.0
        self._z = np.empty(min(self.block, max(self.n, 1)))
        self._d = np.empty_like(self._z)

    def _runs(self, a: float, b: float, c: float) -> list[tuple[int, int, float]] | None:
        """Split the sorted rows into runs where q = a x² + b x + c has one sign.

        Returns
        -------
        list of (start, stop, sign) or None
            sign is +1 where q <= 0 and -1 where q > 0, so that sign·q <= 0
            (up to rounding) on the run.  None if rounding made that false by
            more than 1 anywhere, in which case the caller uses another engine.
        """
        x = self.x
        roots: list[float] = []
        if a != 0.0:
            disc = b * b - 4.0 * a * c
            if disc >= 0.0:
                # The cancellation-free pair of roots.
                h = -0.5 * (b + math.copysign(math.sqrt(disc), b))
                roots = [h / a, c / h] if h != 0.0 else [0.0]
        elif b != 0.0:
            roots = [-c / b]
        cuts = [0, self.n]
        cuts[1:1] = sorted(int(np.searchsorted(x, r)) for r in roots if math.isfinite(r))
        vertex = -b / (2.0 * a) if a != 0.0 else math.nan
        runs = []
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            if hi <= lo:
                continue
            mid = x[(lo + hi - 1) // 2]
            sign = -1.0 if (a * mid + b) * mid + c > 0.0 else 1.0
            probes = [x[lo], x[hi - 1]]
            if x[lo] <= vertex <= x[hi - 1]:
                probes.append(vertex)
            if max(sign * ((a * p + b) * p + c) for p in probes) > 1.0:
                return None
            runs.append((lo, hi, sign))
        return runs

    def sweep(self, g: Gaussians) -> Sweep | None:
        """One pass; None if the rows cannot be split cleanly by sign (rare)."""
        if self.n == 0:
            return empty_sweep(2, 1)
        p = g.prec_chol[:, 0, 0] ** 2
        mu = g.means[:, 0]
        # log π_k N_k(x) = α_k x² + β_k x + γ_k
        alpha = -0.5 * p
        beta = mu * p
        gamma = g.log_weights + g.half_log_det - 0.5 * _LOG_2PI - 0.5 * mu * mu * p
        a = float(alpha[1] - alpha[0])
        b = float(beta[1] - beta[0])
        c = float(gamma[1] - gamma[0])
        runs = self._runs(a, b, c)
        if runs is None:
            return None

        # Σ over runs where w is r₁ (sign +1) and where w is r₀ (sign -1) of
        # (w, w x, w x²), and the plain totals (1, x, x²) of the same runs.
        sw = {1.0: np.zeros(3), -1.0: np.zeros(3)}
        tot = {1.0: np.zeros(3), -1.0: np.zeros(3)}
        log_d = 0.0
        x, x2, z_buf, d_buf, blk = self.x, self.x2, self._z, self._d, self.block
        for lo, hi, sign in runs:
            sa, sb, sc = sign * a, sign * b, sign * c
            s_w, s_t = sw[sign], tot[sign]
            start = lo
            while start < hi:
                bidx = start // blk
                stop = min(hi, (bidx + 1) * blk)
                m = stop - start
                xb = x[start:stop]
                x2b = x2[start:stop]
                z = z_buf[:m]
                d = d_buf[:m]
                # z = sign·q <= 0 (at most 1, as _runs checked): exp cannot
                # overflow and d = 1 + e stays in [1, 1 + e], as sum_log needs.
                np.multiply(xb, sa, out=z)
                z += sb
                z *= xb
                z += sc
                np.exp(z, out=z)
                np.add(z, 1.0, out=d)
                # w = e / (1 + e) = sigmoid(sign·q): r₁ if sign is +1 else r₀.
                np.divide(z, d, out=z)
                # einsum, not dot: BLAS may hand a dot to a second thread, which
                # on a busy machine costs far more than the dot itself.
                s_w[0] += z.sum()
                s_w[1] += np.einsum("i,i->", z, xb)
                s_w[2] += np.einsum("i,i->", z, x2b)
                # softplus(q) = log d where q <= 0 and q + log d where q > 0.
                log_d += sum_log(d)
                if start == bidx * blk and stop == min((bidx + 1) * blk, self.n):
                    s_t += self._totals[bidx]
                else:
                    s_t += (m, xb.sum(), x2b.sum())
                start = stop
        lo_w, hi_w, lo_t, hi_t = sw[1.0], sw[-1.0], tot[1.0], tot[-1.0]
        # Each component's sums are added from pieces of one sign, never as
        # "total minus the other component", which would lose a small one.
        raw1 = lo_w + (hi_t - hi_w)
        raw0 = (lo_t - lo_w) + hi_w
        n = self.n
        dev = self.scatter + n * (self.mean - mu[0]) ** 2
        # Σ log π₀N₀(x_i), from the rows' own mean and spread: no cancellation.
        ll0 = n * (g.log_weights[0] + g.half_log_det[0] - 0.5 * _LOG_2PI) - 0.5 * p[0] * dev
        ll_high_q = a * hi_t[2] + b * hi_t[1] + c * hi_t[0]
        ll = float(ll0 + ll_high_q + log_d)
        s0 = np.array([raw0[0], raw1[0]])
        s1 = np.array([[raw0[1]], [raw1[1]]])
        s2 = np.array([[[raw0[2]]], [[raw1[2]]]])
        return _raw_to_sweep(ll, s0, s1, s2)


class QuadraticFeatures:
    """Few features, any K: log-densities and statistics as matrix products.

    Parameters
    ----------
    x : ndarray, shape (n, D)
        Centred unlabelled rows.
    n_components : int
    """

    def __init__(self, x: np.ndarray, n_components: int) -> None:
        n, dim = x.shape
        self.n, self.dim, self.k = n, dim, n_components
        self._iu = np.triu_indices(dim)
        t = self._iu[0].shape[0]
        self._t = t
        p = t + dim + 1
        # Fᵀ, one row per statistic [x_i x_j (i <= j), x, 1] and one column per
        # row of data.  With components along the first axis too, the
        # log-sum-exp over K runs elementwise over whole rows, never along a
        # short axis of length K.
        f = np.empty((p, n))
        np.multiply(x[:, self._iu[0]].T, x[:, self._iu[1]].T, out=f[:t])
        f[t : t + dim] = x.T
        f[-1] = 1.0
        self.f = f
        self.block = max(
            256, min(_QUAD_BLOCK_CELLS // (p + n_components), _BLAS_MNK // (p * n_components))
        )
        rows = min(self.block, max(n, 1))
        self._z = np.empty(rows * n_components)
        self._mx = np.empty(rows)
        self._s = np.empty(rows)

    @staticmethod
    def n_columns(dim: int) -> int:
        """Statistics per row (rows of Fᵀ) for `dim` features."""
        return dim * (dim + 1) // 2 + dim + 1

    def _coefficients(self, g: Gaussians) -> np.ndarray:
        """C with C @ Fᵀ = log π_k N_k(x), shape (K, P)."""
        dim = self.dim
        off = self._iu[0] != self._iu[1]
        prec = g.prec_chol @ np.swapaxes(g.prec_chol, 1, 2)
        quad = -0.5 * prec[:, self._iu[0], self._iu[1]]
        quad[:, off] *= 2.0
        pm = np.einsum("kij,kj->ki", prec, g.means)
        const = (
            g.log_weights
            + g.half_log_det
            - 0.5 * dim * _LOG_2PI
            - 0.5 * np.einsum("ki,ki->k", g.means, pm)
        )
        return np.ascontiguousarray(np.concatenate([quad, pm, const[:, None]], axis=1))

    def sweep(self, g: Gaussians) -> Sweep:
        """One pass over the rows."""
        k, dim, t = self.k, self.dim, self._t
        if self.n == 0:
            return empty_sweep(k, dim)
        coef = self._coefficients(g)
        acc = np.zeros((k, coef.shape[1]))
        ll = 0.0
        group = max(1, min(256, int(600 / math.log(k + 1))))
        for start in range(0, self.n, self.block):
            fb = self.f[:, start : start + self.block]
            m = fb.shape[1]
            z = self._z[: k * m].reshape(k, m)
            mx, s = self._mx[:m], self._s[:m]
            np.matmul(coef, fb, out=z)
            np.max(z, axis=0, out=mx)
            z -= mx
            np.exp(z, out=z)
            np.sum(z, axis=0, out=s)
            # s is in [1, K]: products of `group` of them stay far from overflow.
            ll += float(mx.sum()) + sum_log(s, group=group)
            z /= s
            acc += z @ fb.T
        s0 = acc[:, -1].copy()
        s1 = acc[:, t : t + dim].copy()
        s2 = np.empty((k, dim, dim))
        s2[:, self._iu[0], self._iu[1]] = acc[:, :t]
        s2[:, self._iu[1], self._iu[0]] = acc[:, :t]
        return _raw_to_sweep(ll, s0, s1, s2)


class Precise:
    """Any shape: per-component whitening, block by block (scikit-learn's maths).

    Parameters
    ----------
    x : ndarray, shape (n, D)
        Centred unlabelled rows.
    n_components : int
    """

    def __init__(self, x: np.ndarray, n_components: int) -> None:
        self.x = x
        self.n, self.dim = x.shape
        self.k = n_components
        cells = _QUAD_BLOCK_CELLS // (self.dim * n_components + n_components + 1)
        self.block = max(256, min(cells, _BLAS_MNK // (self.dim * self.dim)))

    def sweep(self, g: Gaussians) -> Sweep:
        """One pass over the rows."""
        k, dim = self.k, self.dim
        s0 = np.zeros(k)
        mean = np.zeros((k, dim))
        scatter = np.zeros((k, dim, dim))
        ll = 0.0
        const = g.log_weights + g.half_log_det - 0.5 * dim * _LOG_2PI
        for start in range(0, self.n, self.block):
            xb = self.x[start : start + self.block]
            logp = np.empty((xb.shape[0], k))
            for j in range(k):
                y = (xb - g.means[j]) @ g.prec_chol[j]
                logp[:, j] = const[j] - 0.5 * np.einsum("ij,ij->i", y, y)
            mx = logp.max(axis=1)
            logp -= mx[:, None]
            np.exp(logp, out=logp)
            tot = logp.sum(axis=1)
            ll += float(mx.sum() + np.log(tot).sum())
            resp = logp / tot[:, None]
            for j in range(k):
                r = resp[:, j]
                nb = float(r.sum())
                if nb <= 0.0:
                    continue
                mb = (r @ xb) / nb
                diff = xb - mb
                wb = (r[:, None] * diff).T @ diff
                # Parallel-axis merge of (s0, mean, scatter) with the block's.
                na = s0[j]
                ntot = na + nb
                delta = mb - mean[j]
                mean[j] += delta * (nb / ntot)
                scatter[j] += wb + np.outer(delta, delta) * (na * nb / ntot)
                s0[j] = ntot
        return Sweep(ll, s0, mean * s0[:, None], scatter)


class Whitened:
    """Two or more features, any K: blocked Cholesky whitening as BLAS products.

    The same maths as :class:`Precise` (scikit-learn's: y = (x - μ_k) Uₖ
    with Uₖ the upper factor of the precision, log N = c_k - ½|y|²), done so
    that no step runs per row in Python and every step is a BLAS product or
    one pass of a ufunc over a cache-sized block, all classes in one call:

    * the rows are kept transposed behind a row of ones, (1+D, n), so that
      [-Uₖᵀμₖ | Uₖᵀ] @ block gives the whitened block yᵀ with its shift
      already subtracted.  Uₖᵀ is lower triangular, so the first h = D//2
      coordinates need only the first h+1 rows of the block: two products,
      (h, h+1) and (D-h, D+1), instead of one (D, D+1) (D = 8: 56
      multiply-adds a row and class instead of 72, the zeros skipped exactly);
    * log-sum-exp over the classes runs elementwise along rows of the block
      (classes on the first axis), one ``exp`` per row per class and one
      ``log`` per 256 rows (:func:`sum_log`);
    * the statistics are accumulated in each class's whitened coordinates,
      Σr y yᵀ being symmetric: with w = r·[y; 1], the products w[h:] @
      y[:D]ᵀ (its last row Σr yᵀ) and w[:h] @ y[:h]ᵀ give the lower block
      rows and the leading corner, the rest is their transpose.  Whitened by
      the current parameters, a class's rows have about unit spread around
      the origin, so these sums lose no digits to cancellation even when the
      class is narrow and far from the data's centre (the raw moments of
      :class:`QuadraticFeatures` would); after the pass, x - μₖ = Lₖ y with
      Lₖ = Uₖ⁻ᵀ, the Cholesky factor of Σₖ, turns them into the scatter about
      each weighted mean.

    Where the time goes (issue 14, AMD EPYC family 25, D = 8, K = 2, 700k
    rows, ~15 ns a row and class): the products ~6.5 ns (OpenBLAS's small-matrix
    kernel near its peak), the passes over the (K, D, m) block — |y|², r·y —
    ~5 ns, the log-sum-exp over (K, m) ~4 ns; before the triangular split
    and the symmetric statistics, ~18.5 ns.  Products with a side of 9 (D+1)
    ran slower per multiply-add in that kernel than those of 8 (a (5, m) @
    (m, 9) product 2.7x as long as a (4, m) @ (m, 8) one), hence the row of
    ones is on y's side of the statistics product only.

    The product Uᵀx - Uᵀμ rounds to about eps·√condition in y (scikit-learn
    computes it the same way); past :data:`WHITENED_LIMIT` (a class 10⁴ of
    its own spreads from the data, far beyond a real sheet) a sweep goes
    through :class:`Precise`, which subtracts first.

    Parameters
    ----------
    x : ndarray, shape (n, D)
        Centred unlabelled rows.
    n_components : int
    reach : (scale, radius), optional
        The rows' :func:`reach_of`, when the caller has it already (an EM fit
        does: ~20 ms for a million rows of five, issue 14).
    """

    def __init__(self, x: np.ndarray, n_components: int, reach: tuple[np.ndarray, float] | None = None) -> None:
        n, dim = x.shape
        self.n, self.dim, self.k = n, dim, n_components
        xa = np.empty((dim + 1, n))
        xa[0] = 1.0
        xa[1:] = x.T
        self.xa = xa
        self.scale, self.radius = reach if reach is not None else reach_of(x)
        self._precise: Precise | None = None
        # Rows per block, measured on the busy 2-core machine (AMD EPYC, 1M
        # rows; CPU time of a sweep, best of 7-9): a block of about 300k
        # cells was best — D = 8, K = 2: 16384 rows 21.7 ms, 8192 rows 23.5;
        # K = 5: 6144 rows 51.7 ms, 4096 rows 61.2 (OpenBLAS's fixed cost per
        # call), 12288 rows 56.9 (the block falls out of the cache); D = 5,
        # K = 2: 16384-24576 rows 15 ms, 8192 rows 16.6.
        # Each product must stay below BLAS_SMALL multiply-adds: above it
        # OpenBLAS leaves its small-matrix kernel and may go to a second
        # thread (a (9, m) @ (m, 9) product: 24 µs at m = 5825, 459 µs at
        # m = 16384; a whole sweep became 10x slower).
        h = dim // 2
        widest = max((dim - h) * (dim + 1), (dim - h + 1) * dim)
        self.block = max(256, min(_WHITE_BLOCK_CELLS // (n_components * (dim + 1)), BLAS_SMALL // widest))
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def _scratch(self, part: int, m: int) -> tuple[np.ndarray, ...]:
        """A part's buffers for a block of m rows, made once per block length (the full one and the last)."""
        buf = self._buffers.get((part, m))
        if buf is None:
            k, d = self.k, self.dim
            y = np.empty((k, d + 1, m))
            y[:, d] = 1.0  # w = r·y then ends with the row r: Σr y comes out of a product
            buf = (y, np.empty((k, d + 1, m)), np.empty((k, m)), np.empty(m), np.empty(m))
            self._buffers[(part, m)] = buf
        return buf

    def parts(self) -> list[tuple[int, int]]:
        """The rows' parts, ``[start, stop)`` on block boundaries: a function of the rows and the block only.

        Each part's sums are made apart (on a core of its own when there is
        one, see :mod:`emgui.core._parallel`) and added in this order, so a
        sweep gives the same bits on one core or two.
        """
        blocks = -(-self.n // self.block)
        return [(a * self.block, min(b * self.block, self.n)) for a, b in _parallel.spans(blocks)]

    def sweep(self, g: Gaussians) -> Sweep:
        """One pass over the rows (through :class:`Precise` when whitening would lose digits)."""
        k, d = self.k, self.dim
        if self.n == 0:
            return empty_sweep(k, d)
        if condition(g, self.scale, self.radius) > WHITENED_LIMIT:
            # Uᵀx - Uᵀμ in one product rounds to eps·√condition in y (as
            # scikit-learn's own); beyond the limit subtract first, plainly.
            if self._precise is None:
                self._precise = Precise(self.xa[1:].T, k)
            return self._precise.sweep(g)
        u = g.prec_chol
        h = d // 2
        # yᵀ = Uᵀ xᵀ - Uᵀ μ: the shift rides on the row of ones, and row i of
        # Uᵀ (lower triangular) needs only the block's rows 0..i+1.
        a = np.empty((k, d, d + 1))
        a[:, :, 0] = -np.einsum("kji,kj->ki", u, g.means)
        a[:, :, 1:] = np.swapaxes(u, 1, 2)
        a_top = np.ascontiguousarray(a[:, :h, : h + 1])
        a_bottom = np.ascontiguousarray(a[:, h:])
        const = (g.log_weights + g.half_log_det - 0.5 * d * _LOG_2PI)[:, None]
        # Issue 14 (5-feature fill and bench_em_multi on the 2-core machine):
        # the two halves of the rows on two threads (see _parallel): a
        # 700k-row sweep D = 8, K = 5 49.5 -> 36 ms with the second core free
        # (not 25: the interpreter lock changes hands at each of a block's
        # ~15 large numpy calls); the same when the other core is busy.
        spans = self.parts()
        sums = _parallel.run(
            lambda i: self._part_sums(i, spans[i], a_top, a_bottom, const), range(len(spans))
        )
        ll, s0, lower, corner = sums[0]
        for part_ll, part_s0, part_lower, part_corner in sums[1:]:
            ll += part_ll
            s0 += part_s0
            lower += part_lower
            corner += part_corner
        return self._finish(g, ll, s0, lower, corner)

    def _part_sums(self, part: int, span: tuple[int, int], a_top: np.ndarray, a_bottom: np.ndarray,
                   const: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(ll, s0, lower, corner) of the rows ``span`` (see :meth:`sweep`), in this part's own buffers."""
        k, d = self.k, self.dim
        h = d // 2
        lower = np.zeros((k, d - h + 1, d))  # rows h..D-1 of Σr y yᵀ, then Σr yᵀ
        corner = np.zeros((k, h, h))  # rows and columns 0..h-1 of Σr y yᵀ
        s0 = np.zeros(k)
        ll = 0.0
        group = max(1, min(256, int(600 / math.log(k + 1))))
        for start in range(span[0], span[1], self.block):
            xb = self.xa[:, start : min(start + self.block, span[1])]
            m = xb.shape[1]
            y, w, z, mx, s = self._scratch(part, m)
            yd = y[:, :d]
            np.matmul(a_top, xb[: h + 1], out=y[:, :h])
            np.matmul(a_bottom, xb, out=y[:, h:d])
            # |y|² per class and row: einsum sums the squares in one pass
            # (three times faster than square, then sum over the middle axis).
            np.einsum("kdm,kdm->km", yd, yd, out=z)
            z *= -0.5
            z += const
            np.max(z, axis=0, out=mx)
            z -= mx
            # exp below -708 gives subnormals or 0 by a slow path (14x slower
            # per value, measured); a class that far off has a responsibility
            # below 1e-304 either way.  The floor is a pass of its own, so
            # only when some value needs it (the minimum is a third of it).
            if z.min() < _EXP_FLOOR:
                np.maximum(z, _EXP_FLOOR, out=z)
            np.exp(z, out=z)
            np.sum(z, axis=0, out=s)
            # s is in [1, K]: products of `group` of them stay far from overflow.
            ll += float(mx.sum()) + sum_log(s, group=group)
            np.divide(z, s, out=z)
            s0 += z.sum(axis=1)
            np.multiply(y, z[:, None, :], out=w)
            lower += np.matmul(w[:, h:], yd.transpose(0, 2, 1))
            corner += np.matmul(w[:, :h], y[:, :h].transpose(0, 2, 1))
        return ll, s0, lower, corner

    def _finish(self, g: Gaussians, ll: float, s0: np.ndarray, lower: np.ndarray, corner: np.ndarray) -> Sweep:
        """The sweep from the whitened sums: back to the rows' coordinates."""
        k, d = self.k, self.dim
        h = d // 2
        u = g.prec_chol
        second = np.empty((k, d, d))  # Σ r y yᵀ
        second[:, h:] = lower[:, : d - h]
        second[:, :h, :h] = corner
        second[:, :h, h:] = np.swapaxes(lower[:, : d - h, :h], 1, 2)
        # Back from whitened coordinates: x - μ = L y, L = U⁻ᵀ lower.
        low = np.swapaxes(np.linalg.inv(u), 1, 2)
        dx = np.einsum("kij,kj->ki", low, lower[:, d - h])  # Σ r (x - μ)
        about_mu = low @ second @ np.swapaxes(low, 1, 2)  # Σ r (x - μ)(x - μ)ᵀ
        safe = np.where(s0 > 0.0, s0, 1.0)
        scatter = about_mu - np.einsum("ki,kj->kij", dx, dx / safe[:, None])
        scatter = 0.5 * (scatter + np.swapaxes(scatter, 1, 2))
        scatter[s0 <= 0.0] = 0.0
        diag = np.einsum("kii->ki", scatter)
        np.maximum(diag, 0.0, out=diag)
        return Sweep(ll, s0, s0[:, None] * g.means + dx, scatter)


def column_min(rows: np.ndarray) -> np.ndarray:
    """``rows.min(axis=0)`` for rows (n, D), a column at a time.

    A reduction over the rows of a C-ordered (n, D) array walks it D values
    at a time: a million rows of five took ~27 ms, a column at a time ~5.
    """
    return np.array([rows[:, f].min() for f in range(rows.shape[1])])


def column_max(rows: np.ndarray) -> np.ndarray:
    """``rows.max(axis=0)`` for rows (n, D), a column at a time (see :func:`column_min`)."""
    return np.array([rows[:, f].max() for f in range(rows.shape[1])])


def reach_of(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Finite rows' (scale, radius) for :func:`condition`: each column's largest magnitude (1 where 0), the longest row in those units.

    The magnitudes from each column's extremes (:func:`column_min`,
    :func:`column_max`), without a copy of them.
    """
    n, dim = x.shape
    if not n:
        return np.ones(dim), 0.0
    scale = np.maximum(-column_min(x), column_max(x))
    scale = np.where(scale > 0, scale, 1.0)
    unit = x / scale
    np.square(unit, out=unit)
    return scale, float(np.sqrt(unit.sum(axis=1).max()))


def exact_engine(x: np.ndarray, n_components: int, reach: tuple[np.ndarray, float] | None = None) -> Precise | Whitened:
    """The engine that stays exact for any parameters: :class:`Whitened` for two or more features.

    With one feature :class:`Precise` (only a fallback of :class:`TwoClassLine`
    there, and it needs no copy of the rows).

    Parameters
    ----------
    x : ndarray, shape (n, D)
        Centred unlabelled rows.
    n_components : int
    reach : (scale, radius), optional
        :func:`reach_of` the rows, when the caller has it.
    """
    if x.shape[1] >= 2:
        return Whitened(x, n_components, reach)
    return Precise(x, n_components)


def marginal(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, o: np.ndarray) -> Gaussians:
    """Factorised parameters of the marginal over features ``o`` (scikit-learn's Cholesky form).

    Raises
    ------
    numpy.linalg.LinAlgError
        A marginal covariance is not positive definite.
    """
    cov = covariances[:, o][:, :, o]
    chol = np.linalg.cholesky(cov)
    eye = np.broadcast_to(np.eye(len(o)), cov.shape)
    prec_chol = np.swapaxes(np.linalg.solve(chol, eye), 1, 2)
    diag = np.diagonal(prec_chol, axis1=1, axis2=2)
    if not (np.isfinite(prec_chol).all() and (diag > 0).all()):
        raise np.linalg.LinAlgError("a marginal covariance is too narrow")
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    return Gaussians(log_weights, means[:, o], prec_chol, np.log(diag).sum(axis=1))


class _Pattern:
    """The rows of one pattern of blanks: untyped ones in a fast engine, typed ones as constant sums."""

    __slots__ = ("engine", "fast", "missing", "n_typed", "observed", "precise", "radius", "scale",
                 "typed_mean", "typed_scatter", "xu")

    def __init__(self, o: np.ndarray, m: np.ndarray, xo: np.ndarray, labels: np.ndarray, k: int,
                 quad_max_columns: int, quad_max_bytes: int) -> None:
        self.observed, self.missing = o, m
        p = len(o)
        typed = labels >= 0
        xu = xo[~typed]
        xu = np.ascontiguousarray(xu[np.lexsort(xu.T[::-1])]) if len(xu) else xu.reshape(0, p)
        self.n_typed = np.bincount(labels[typed], minlength=k).astype(np.float64)
        self.typed_mean = np.zeros((k, p))
        self.typed_scatter = np.zeros((k, p, p))
        for j in np.flatnonzero(self.n_typed):
            rows = xo[labels == j]
            rows = rows[np.lexsort(rows.T[::-1])]  # canonical: sums independent of row order
            self.typed_mean[j] = rows.mean(axis=0)
            diff = rows - self.typed_mean[j]
            self.typed_scatter[j] = diff.T @ diff
        n_u = len(xu)
        self.scale, self.radius = reach_of(xu)
        self.xu = xu
        self.precise: Precise | Whitened | None = None  # exact_engine(xu), made on first use
        self.fast: TwoClassLine | QuadraticFeatures | None = None
        cols = QuadraticFeatures.n_columns(p)
        if n_u and p == 1 and k == 2:
            self.fast = TwoClassLine(xu[:, 0])
        elif n_u and cols <= quad_max_columns and n_u * cols * 8 <= quad_max_bytes:
            self.fast = QuadraticFeatures(xu, k)

    def observed_sweep(self, g: Gaussians) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(ll, S0 (K,), S1 (K, p), S2 (K, p, p)): raw moments of the observed values, typed rows included."""
        k, p = g.means.shape
        if not len(self.xu):
            sweep = empty_sweep(k, p)
        else:
            sweep = None
            if self.fast is not None and condition(g, self.scale, self.radius) <= CONDITION_LIMIT:
                sweep = self.fast.sweep(g)
            if sweep is None:
                if self.precise is None:
                    self.precise = exact_engine(self.xu, k, (self.scale, self.radius))
                sweep = self.precise.sweep(g)
        ll = sweep.ll
        safe = np.where(sweep.s0 > 0.0, sweep.s0, 1.0)
        s0 = sweep.s0 + self.n_typed
        s1 = sweep.s1 + self.n_typed[:, None] * self.typed_mean
        s2 = (sweep.scatter + np.einsum("ki,kj->kij", sweep.s1, sweep.s1 / safe[:, None])
              + self.typed_scatter + np.einsum("k,ki,kj->kij", self.n_typed, self.typed_mean, self.typed_mean))
        for j in np.flatnonzero(self.n_typed):
            # Σ_typed log π_j N(x_o | μ_j,o, Σ_j,oo): scatter about μ_j through the Cholesky factor.
            c = g.prec_chol[j]
            nj = self.n_typed[j]
            y = (self.typed_mean[j] - g.means[j]) @ c
            ll += nj * (g.log_weights[j] + g.half_log_det[j] - 0.5 * p * _LOG_2PI)
            ll -= 0.5 * (float(np.sum(c * (self.typed_scatter[j] @ c))) + nj * float(y @ y))
        return ll, s0, s1, s2


class Incomplete:
    """Rows with some features blank (each has at least one observed), grouped by pattern.

    The E-step of a row uses the marginal density of its observed values,
    N(x_o | μ_k,o, Σ_k,oo).  For the M-step a blank value counts as its
    conditional expectation x̂_m = μ_k,m + B_k (x_o - μ_k,o), B_k = Σ_k,mo
    Σ_k,oo⁻¹, under each class, and the scatter gains the conditional
    covariance Σ_k,mm - B_k Σ_k,om (Ghahramani & Jordan 1994): exact EM, so
    the observed-data log-likelihood still never decreases.

    Speed: x̂ is linear in x_o, so every statistic over the full features
    follows from the responsibility-weighted moments of the observed values
    alone (Σr, Σr x_o, Σr x_o x_oᵀ).  Those come from the same one-pass
    engines as the complete rows (:class:`TwoClassLine`,
    :class:`QuadraticFeatures`, :class:`Precise`) run on each pattern's
    observed columns with the marginal parameters; typed rows of a pattern
    enter as constant sums.

    Parameters
    ----------
    x : ndarray, shape (n, D)
        Centred rows with NaN for the blank values.
    labels : ndarray, shape (n,)
        Class per row, -1 where unknown.
    n_components : int
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, n_components: int,
                 quad_max_columns: int = 15, quad_max_bytes: int = 256 * 2**20) -> None:
        self.n, self.dim = x.shape
        self.k = n_components
        observed = np.isfinite(x)
        masks, which = np.unique(observed, axis=0, return_inverse=True)
        which = which.reshape(-1)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(masks) + 1))
        self.patterns: list[_Pattern] = []
        for p, mask in enumerate(masks):
            rows = order[bounds[p] : bounds[p + 1]]
            o, m = np.flatnonzero(mask), np.flatnonzero(~mask)
            self.patterns.append(_Pattern(
                o, m, np.ascontiguousarray(x[np.ix_(rows, o)]), np.asarray(labels[rows], dtype=np.intp),
                n_components, quad_max_columns, quad_max_bytes,
            ))

    def sweep(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> Sweep:
        """One pass: log-likelihood of the observed values and the expected sufficient statistics.

        Parameters
        ----------
        weights : ndarray, shape (K,)
        means : ndarray, shape (K, D)
            Centred coordinates, as the rows.
        covariances : ndarray, shape (K, D, D)

        Raises
        ------
        numpy.linalg.LinAlgError
            A marginal covariance is not positive definite.
        """
        k, dim = self.k, self.dim
        s0 = np.zeros(k)
        s1 = np.zeros((k, dim))
        s2 = np.zeros((k, dim, dim))
        ll = 0.0
        for pat in self.patterns:
            o, m = pat.observed, pat.missing
            g = marginal(weights, means, covariances, o)
            part_ll, n0, n1, n2 = pat.observed_sweep(g)
            ll += part_ll
            for j in range(k):
                if n0[j] <= 0.0:
                    continue
                cov = covariances[j]
                c = np.linalg.cholesky(cov[np.ix_(o, o)])
                half = np.linalg.solve(c, cov[np.ix_(o, m)])  # L⁻¹ Σ_om, (p, q)
                reg = np.linalg.solve(c.T, half).T  # B = Σ_mo Σ_oo⁻¹, (q, p)
                cond = cov[np.ix_(m, m)] - half.T @ half
                a = means[j, m] - reg @ means[j, o]  # x̂_m = a + B x_o
                b1 = reg @ n1[j]
                s0[j] += n0[j]
                s1[j, o] += n1[j]
                s1[j, m] += n0[j] * a + b1
                s2[j][np.ix_(o, o)] += n2[j]
                cross = np.outer(n1[j], a) + n2[j] @ reg.T  # Σ r x_o x̂_mᵀ, (p, q)
                s2[j][np.ix_(o, m)] += cross
                s2[j][np.ix_(m, o)] += cross.T
                s2[j][np.ix_(m, m)] += (n0[j] * np.outer(a, a) + np.outer(a, b1) + np.outer(b1, a)
                                        + reg @ n2[j] @ reg.T + n0[j] * cond)
        return _raw_to_sweep(ll, s0, s1, s2)
