"""How far a fill can be trusted: model choice, unusual values, the self-check, calibration.

A mixture fitted to real data can be confidently wrong: a model with the
wrong shape, a value typed ×10 that drags a class away, a group nobody typed.
This module holds the four checks a fill goes through (see
:mod:`emgui.core.fill` for the order):

* :func:`find_unusual` — rows far from every group under a fit (a Mahalanobis
  distance beyond what ``n`` Gaussian rows would reach by chance, with a
  Bonferroni bound), each with a reason a person understands ("195 is 9.8 SD
  from the nearest group; typed ×10?", "height 57 with weight 166:
  swapped?").  Iterated by the caller: fit without them, look again.
* :func:`choose_model` — candidates (covariance separate per group or shared;
  the typed classes K and K+1 groups, or 1..6 groups without labels) compared
  by the BIC, ``-2 log L + p log n``: lower is better.  A group no typed label
  names must win by :data:`EXTRA_GROUP_MARGIN` and hold few typed rows (else
  it only describes the typed classes' shape).
* :func:`self_check` — the typed labels hidden a fold at a time (stratified
  k-fold), each fold refitted from the full fit's parameters (warm start), and
  the hidden labels compared with what the fill would have written: accuracy
  with a Wilson interval, Brier score, each class's recall, a reliability
  curve, and a temperature at which the hidden labels' mean confidence equals
  their accuracy.  The same
  folds score the typed rows alone, so the fill can tell when the blank rows
  pull the groups away from the classes.
* :func:`temper` — that temperature applied to posteriors, so a written
  confidence of 0.9 is right about 9 times in 10.

Large data: the candidates are fitted on a random subsample of at most
:data:`CHOICE_ROWS` rows and the check on :data:`SUBSAMPLE_ROWS` (their
statistics need no more); the final fit uses every row, started from the
chosen candidate's parameters.

No Qt, no scipy: the one quantile needed (chi-square) comes from ``math.lgamma``
and the incomplete gamma function's series and continued fraction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from . import _mixture_fast as _fast
from . import _parallel, mixture

__all__ = [
    "CHECK_MIN_TYPED",
    "MAX_GROUPS",
    "CHOICE_ROWS",
    "SUBSAMPLE_ROWS",
    "Candidate",
    "Check",
    "Unusual",
    "choose_model",
    "find_unusual",
    "fit_model",
    "little_mcar",
    "self_check",
    "subsample",
    "temper",
]

#: Rows the self-check is fitted on, at most: 7,000 hidden labels at 70 % typed,
#: an accuracy known to ±1.2 points at worst (the Wilson interval's half-width at
#: 50 %; ±0.8 at 85 %), and the interval it reports is that wide.  20,000 rows
#: (±0.6) cost a 1M-row fill 0.1 s more (issue 14's lean-script target).
SUBSAMPLE_ROWS = 10_000
#: Rows the candidates are fitted on, at most: a BIC difference that matters
#: at 10,000 rows does not change sign with more.
CHOICE_ROWS = 10_000
#: A class needs this many typed labels for the self-check to say anything.
CHECK_MIN_TYPED = 5
#: Groups tried without typed labels: 1..MAX_GROUPS.
MAX_GROUPS = 6
#: BIC difference a model with a group no typed label names must win by ("very strong"
#: evidence on Kass and Raftery's scale): its rows are left blank, so a marginal win is not enough.
EXTRA_GROUP_MARGIN = 10.0
#: Expected number of rows flagged by chance in a data set that is exactly Gaussian.
_FALSE_FLAGS = 0.01
# Rows find_unusual measures at once (the distances of a block: a few MB).
_UNUSUAL_BLOCK = 1 << 17
# A corrected value (÷10, ...) or swapped pair explains a flag when it is this typical (chi-square tail).
_TYPICAL_P = 0.01
# (factor the typed value is off by, hint); "typed ×10?" when value / 10 fits.
_SLIPS = ((10.0, "typed ×10?"), (0.1, "typed ÷10?"), (100.0, "typed ×100?"), (0.01, "typed ÷100?"))
_UNIT_SLIPS = ((2.54, "in cm, not inches?"), (1 / 2.54, "in inches, not cm?"))


# --------------------------------------------------------------------------- small maths


def _chi2_sf(x: float, dof: int) -> float:
    """P(χ²_dof > x): the regularised upper incomplete gamma Q(dof/2, x/2), by its series
    below a + 1 and its continued fraction above (Numerical Recipes, ``gammq``)."""
    a, y = dof / 2.0, x / 2.0
    if y <= 0.0:
        return 1.0
    log_front = -y + a * math.log(y) - math.lgamma(a)
    if y < a + 1.0:
        term = total = 1.0 / a
        n = a
        for _ in range(1000):
            n += 1.0
            term *= y / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = y + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return math.exp(log_front) * h


@functools.lru_cache(maxsize=256)
def chi2_isf(p: float, dof: int) -> float:
    """The chi-square quantile with upper tail ``p`` (bisection on :func:`_chi2_sf`).

    Remembered: a fill asks for the same few quantiles each time it looks
    for unusual values (three times or more), each ~200 tail evaluations.
    """
    lo, hi = 0.0, max(10.0, 10.0 * dof)
    while _chi2_sf(hi, dof) > p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _chi2_sf(mid, dof) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


#: The temperatures the calibration may choose.  Up to 1000, not 20: on
#: nearly inseparable data (diabetes_sex of bench_trust, 90 % blank) the
#: fit's posteriors are so sure that 20 was reached in half of the runs and
#: the written confidence stayed 3 points above the check's accuracy; at
#: 1000 two classes' 0.999 becomes 0.503.
T_LOW, T_HIGH = 0.5, 1000.0


def temper(post: np.ndarray, temperature: float, *, in_place: bool = False,
           named: int | None = None) -> np.ndarray:
    """Posteriors raised to ``1 / temperature`` and normalised again, shape as ``post``.

    A temperature above 1 makes them less sure, below 1 surer; 1 changes nothing.
    ``in_place``: ``post`` (float64) is overwritten and returned, no new (n, K) arrays.
    ``named``: when the first ``named`` columns are the typed classes and the
    rest are groups no typed label names, only the split among the typed
    classes is tempered; each row keeps the fit's probability of the unnamed
    groups.  The temperature is learnt from hidden typed labels, which tell
    how sure to be between typed classes and nothing about a group nobody
    typed (sharpening its share away wrote rows of an untyped species as a
    typed one at 87 %, bench_trust case e).
    """
    if temperature == 1.0 or post.size == 0:
        return post
    if named is not None and 0 < named < post.shape[1]:
        out = post if in_place else post.copy()
        part = out[:, :named]
        mass = part.sum(axis=1, keepdims=True)
        ok = mass[:, 0] > 0
        if ok.any():
            part[ok] = temper(part[ok] / mass[ok], temperature, in_place=True) * mass[ok]
        return out
    with np.errstate(divide="ignore"):
        logp = np.log(post, out=post if in_place else None)
    logp /= temperature
    # The row maximum and sum a column at a time: the same numbers as
    # max/sum over axis=1 (added in the same order), ~3x faster for a few columns.
    columns = [logp[:, j] for j in range(logp.shape[1])]
    top = columns[0].copy()
    for c in columns[1:]:
        np.maximum(top, c, out=top)
    logp -= top[:, None]
    out = np.exp(logp, out=logp)
    total = np.zeros(len(out))
    for c in columns:
        total += c
    out /= total[:, None]
    return out


def _matching_temperature(post: np.ndarray, truth: np.ndarray) -> float:
    """The temperature at which the mean confidence of the best class equals its accuracy."""
    step = max(1, len(truth) // 10_000)
    target = float(np.mean(post[::step].argmax(axis=1) == truth[::step]))
    return matching_temperature(post, target)


def matching_temperature(post: np.ndarray, target: float) -> float:
    """The temperature at which the mean confidence of ``post``'s best classes is ``target``.

    Bisection on log T in [``T_LOW``, ``T_HIGH``] (a bound when no
    temperature in them reaches ``target``); at most 10,000 rows of ``post``
    (every k-th).
    """
    step = max(1, len(post) // 10_000)
    logp = np.log(np.clip(post[::step], 1e-12, 1.0))
    if not len(logp):
        return 1.0
    best = logp.argmax(axis=1)
    # Each class's log-probability less the best one's (<= 0), a column at a
    # time: the best class's tempered probability is 1 / Σ_j exp(gap_j / T),
    # one exp per row and class for each of the ~40 temperatures tried (an
    # axis=1 max and sum over two or three columns is several times slower).
    top = logp[np.arange(len(best)), best]
    gaps = [logp[:, j] - top for j in range(logp.shape[1])]

    def mean_conf(log_t: float) -> float:
        inv = math.exp(-log_t)
        total = np.zeros(len(best))
        for gap in gaps:
            total += np.exp(gap * inv)
        return float((1.0 / total).mean())

    a, b = math.log(T_LOW), math.log(T_HIGH)  # mean confidence falls as T grows
    if mean_conf(a) <= target:
        return T_LOW
    if mean_conf(b) >= target:
        return T_HIGH
    for _ in range(40):
        mid = 0.5 * (a + b)
        if mean_conf(mid) > target:
            a = mid
        else:
            b = mid
    return float(math.exp(0.5 * (a + b)))


def _fit_temperature(post: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the hidden labels' negative log-likelihood.

    Golden-section search on log T in [``T_LOW``, ``T_HIGH``]; posteriors of 0 are floored
    at 1e-12 so one hopeless row cannot dominate.  At most 10,000 rows (every
    k-th): one number needs no more, and a million-row check stays fast.
    """
    step = max(1, len(truth) // 10_000)
    logp = np.log(np.clip(post[::step], 1e-12, 1.0))
    truth = truth[::step]
    own = logp[np.arange(len(truth)), truth]
    cols = [np.ascontiguousarray(logp[:, j]) for j in range(logp.shape[1])]
    top = np.maximum.reduce(cols) if len(cols) > 1 else cols[0]
    # The differences to the row's top, once for the ~42 temperatures tried.
    gaps = [c - top for c in cols]
    own_gap = own - top

    def nll(log_t: float) -> float:
        inv = math.exp(-log_t)
        # log Σ_j exp((l_j - top) / T), a column at a time (an axis=1
        # reduction over two or three columns is several times slower).
        total = np.zeros(len(truth))
        for gap in gaps:
            total += np.exp(gap * inv)
        return float(-(own_gap * inv - np.log(total)).sum())

    a, b = math.log(T_LOW), math.log(T_HIGH)
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(c), nll(d)
    for _ in range(40):  # the bracket shrinks to 1e-8 of its width
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(d)
    return float(math.exp(0.5 * (a + b)))


def subsample(n: int, limit: int = SUBSAMPLE_ROWS, seed: int = 0) -> np.ndarray | None:
    """Sorted row indices of a random subsample of at most ``limit`` rows, or None for all rows."""
    if n <= limit:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, limit, replace=False))


# --------------------------------------------------------------------------- fitting one model


def _distinct_rows(X: np.ndarray) -> int:
    """How many distinct rows ``X`` (n, D) holds, as ``len(np.unique(X, axis=0))`` counts them.

    Rows sorted and compared with their neighbours (NaN unequal to itself,
    -0.0 equal to 0.0, as there): np.unique's structured-row sort took
    ~7 ms for 10,000 rows of one feature, this ~0.3 ms, and its plain call
    imports numpy.ma (~7 ms more of a command-line run).
    """
    if not len(X):
        return 0
    s = np.sort(X, axis=0) if X.shape[1] == 1 else X[np.lexsort(X.T[::-1])]
    return 1 + int(np.count_nonzero((s[1:] != s[:-1]).any(axis=1)))


def fit_model(X, labels, groups: int, covariance: str, *, seed: int = 0, init=None,
              n_init: int = 5, tol: float = 1e-6, max_iter: int = 300,
              reg_covar: float = 1e-6, sorted_rows: mixture.SortedRows | None = None,
              starts: mixture.Starts | None = None) -> mixture.MixtureResult:
    """One candidate fitted to the end (several starts, or one from ``init``).

    ``sorted_rows`` and ``starts``: made once for several fits of these very
    arrays (see :class:`emgui.core.mixture.EMFit`); the fit is the same without.
    """
    em = mixture.EMFit(
        X, labels, groups, covariance=covariance, seed=seed, init=init,
        n_init=1 if init is not None else n_init, tol=tol, max_iter=max_iter, reg_covar=reg_covar,
        sorted_rows=sorted_rows, starts=starts,
    )
    for _ in em:
        pass
    return em.result()


@dataclass(frozen=True)
class Candidate:
    """One model compared by the BIC (lower is better)."""

    covariance: str
    groups: int
    bic: float | None  # None when the model could not be fitted
    log_likelihood: float | None
    n_params: int
    result: mixture.MixtureResult | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {
            "covariance": self.covariance,
            "groups": self.groups,
            "bic": self.bic,
            "log_likelihood": self.log_likelihood,
            "n_params": self.n_params,
        }


def choose_model(
    X: np.ndarray,
    labels: np.ndarray,
    n_typed: int,
    *,
    groups: int | None = None,
    covariance: str = "auto",
    seed: int = 0,
) -> tuple[Candidate, list[Candidate]]:
    """The candidate with the lowest BIC, and every candidate tried.

    Parameters
    ----------
    X : ndarray, (n, D)
    labels : ndarray, (n,)
        -1 for a blank; 0..n_typed-1 for the typed classes.
    n_typed : int
        Typed classes (0 without labels).
    groups : int, optional
        Fixes the number of groups (``--components``).
    covariance : {"auto", "separate", "shared"}

    Raises
    ------
    mixture.MixtureError
        No candidate could be fitted (the message of the last failure).
    """
    n, dim = X.shape
    if groups is not None:
        counts = [max(groups, n_typed)]
    elif n_typed:
        counts = [n_typed, n_typed + 1]
    else:
        counts = list(range(1, MAX_GROUPS + 1))
    n_unlabelled = int(np.count_nonzero(labels < 0))
    distinct = _distinct_rows(X) if n <= 200_000 else n
    counts = [k for k in counts if k <= distinct and (k <= n_typed or n_unlabelled >= k - n_typed)] or counts[:1]
    shapes = list(mixture.COVARIANCES) if covariance == "auto" else [covariance]
    out: list[Candidate] = []
    error: Exception | None = None
    # Every candidate fits these rows: sorted once, and each start made once
    # for both covariances (the same fits, half the k-means; issue 14).
    shared = {
        "sorted_rows": mixture.sort_rows(X, labels) if len(counts) * len(shapes) > 1 else None,
        "starts": mixture.Starts(X, labels),
    }
    for k in counts:
        for cov in shapes:
            p = mixture.n_parameters(k, dim, cov)
            try:
                res = fit_model(X, labels, k, cov, seed=seed, **shared)
            except mixture.MixtureError as exc:
                error = exc
                out.append(Candidate(cov, k, None, None, p))
                continue
            bic = -2.0 * res.log_likelihood + p * math.log(n)
            out.append(Candidate(cov, k, float(bic), float(res.log_likelihood), p, res))
    # A group of a handful of rows is an outlier's, not a group (a free group
    # of one row also makes the likelihood unbounded); typed classes are kept
    # whatever their size.
    smallest = 2 * (dim + 1)
    fitted = [
        c for c in out
        if c.bic is not None and (np.asarray(c.result.weights)[n_typed:] * n >= smallest).all()
    ]
    if not fitted:
        if error is not None:
            raise error
        fitted = [c for c in out if c.bic is not None]
    if n_typed and groups is None:
        # A group no typed label names must be unlike every typed class: if
        # the typed rows, their labels set aside, fall into it about as often
        # as the blank rows do, it describes the shape of the typed classes
        # (a skewed tail, say), not a class nobody typed.
        fitted = [c for c in fitted if c.groups == n_typed or _untyped_group(X, labels, n_typed, c.result)]
    best = min(fitted, key=lambda c: c.bic)
    if n_typed and groups is None and best.groups > n_typed:
        plain = [c for c in fitted if c.groups == n_typed]
        if plain:
            base = min(plain, key=lambda c: c.bic)
            if base.bic - best.bic < EXTRA_GROUP_MARGIN:
                best = base
    return best, out


#: Typed rows may fall into a group no typed label names at most this share of the blank rows' rate.
_UNTYPED_RATE = 0.2


def _untyped_group(X: np.ndarray, labels: np.ndarray, n_typed: int, result: mixture.MixtureResult) -> bool:
    """Whether the groups beyond the typed classes hold few typed rows (their labels set aside)."""
    typed, blank = labels >= 0, labels < 0
    if not blank.any() or not typed.any():
        return False
    post = mixture.predict_proba(X, result.weights, result.means, result.covariances)
    extra_typed = post[typed, n_typed:].sum(axis=1).mean()
    extra_blank = result.posteriors_of(np.flatnonzero(blank))[:, n_typed:].sum(axis=1).mean()
    return bool(extra_typed < _UNTYPED_RATE * extra_blank)


# --------------------------------------------------------------------------- unusual values


@dataclass(frozen=True)
class Unusual:
    """Rows far from every group under a fit.

    Attributes
    ----------
    mask : ndarray, (n,) bool
    reasons : dict
        Row -> list of (feature index, reason) for the flagged rows.
    """

    mask: np.ndarray
    reasons: dict[int, list[tuple[int, str]]]


def _mahalanobis2(X: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of every row to every group, (n, K).

    A row with blank values (NaN) is measured over its observed features
    (the marginal of each group), one pattern of blanks at a time.
    """
    observed = np.isfinite(X)
    if not observed.all():  # (one test over all values: row by row it is ~15 ms a million rows of five)
        out = np.empty((X.shape[0], means.shape[0]))
        masks, which = np.unique(observed, axis=0, return_inverse=True)
        which = which.reshape(-1)
        for p, mask in enumerate(masks):
            rows = np.flatnonzero(which == p)
            o = np.flatnonzero(mask)
            out[rows] = _mahalanobis2(X[np.ix_(rows, o)], means[:, o], covariances[:, o][:, :, o])
        return out
    n, k = X.shape[0], means.shape[0]
    out = np.empty((n, k))
    for j in range(k):
        # Rows times the Cholesky factor of the precision: one small matrix
        # product (one multiply for one feature), no solve per row.
        prec_chol = np.linalg.inv(np.linalg.cholesky(covariances[j])).T
        if X.shape[1] == 1:
            y = (X[:, 0] - means[j, 0]) * prec_chol[0, 0]
            np.multiply(y, y, out=out[:, j])
        else:
            # In blocks: a product over all rows at once goes to OpenBLAS's
            # second thread, which on a busy machine made this take seconds.
            step = max(1024, _fast.BLAS_SMALL // (X.shape[1] ** 2))
            for s in range(0, n, step):
                y = (X[s : s + step] - means[j]) @ prec_chol
                out[s : s + step, j] = np.einsum("ij,ij->i", y, y)
    return out


def _swapped(x: np.ndarray, means: np.ndarray, cov: np.ndarray, typical: float) -> tuple[int, int] | None:
    """The pair of features whose values, swapped, make the row typical of a group; None if none."""
    dim = len(x)
    for f in range(dim):
        for g in range(f + 1, dim):
            if not (math.isfinite(x[f]) and math.isfinite(x[g])):
                continue  # a blank value cannot have been swapped
            y = x.copy()
            y[f], y[g] = x[g], x[f]
            if _mahalanobis2(y[None, :], means, cov).min() <= typical:
                return f, g
    return None


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def find_unusual(
    X: np.ndarray,
    result: mixture.MixtureResult,
    names: list[str],
    *,
    heights: frozenset[int] = frozenset(),
    n_total: int | None = None,
) -> Unusual:
    """Rows whose values are far from every group of ``result``.

    A row is unusual when its squared Mahalanobis distance to the nearest group
    exceeds the chi-square quantile that ``n`` Gaussian rows pass by chance
    with probability 1 % in all (a Bonferroni bound: on 1,000 rows about 4.4
    SD for one feature).  The reason names the feature that is off by itself
    (its distance in that feature's SD from the nearest group, and a likely
    slip: ×10, ÷10, ×100, ÷100, inches for cm in a height column) or, when each
    value alone is plausible, the pair that is impossible together (and
    whether swapping them would fit).

    Parameters
    ----------
    X : ndarray, (n, D)
        NaN marks a blank value: a row is judged by its observed values.
    result : MixtureResult
    names : list of str
        Feature names, for the reasons.
    heights : frozenset of int
        Features holding heights (their unit slips are suggested too).
    n_total : int, optional
        Rows the bound is for (default ``len(X)``).
    """
    n, dim = X.shape
    means, cov = np.asarray(result.means), np.asarray(result.covariances)
    total = max(int(n_total or n), 1)
    limit = chi2_isf(_FALSE_FLAGS / total, dim)
    # A row with blanks is measured over fewer features: its chi-square has fewer degrees of freedom.
    limits = np.array([chi2_isf(_FALSE_FLAGS / total, d) if d else np.inf for d in range(dim + 1)]) if dim > 1 else None
    mask = np.empty(n, dtype=bool)

    def block(start: int) -> None:
        xb = X[start : start + _UNUSUAL_BLOCK]
        d2 = _mahalanobis2(xb, means, cov)
        nearest_d2 = np.minimum.reduce([d2[:, j] for j in range(d2.shape[1])])  # faster than min(axis=1)
        if dim > 1 and not np.isfinite(xb).all():
            mask[start : start + len(xb)] = nearest_d2 > limits[np.isfinite(xb).sum(axis=1)]
        else:
            mask[start : start + len(xb)] = nearest_d2 > limit

    # A block of rows at a time: the (rows, K) distances of a million rows
    # would take 16 bytes a row more at the peak of a fill, for one bool.
    # Blocks two at a time when a second core is free (issue 14, 1M rows of
    # five: 64 -> 32 ms; each writes its own rows of the mask).
    _parallel.run(block, range(0, n, _UNUSUAL_BLOCK))
    reasons: dict[int, list[tuple[int, str]]] = {}
    if not mask.any():
        return Unusual(mask, reasons)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))  # (K, D)
    one_limit = math.sqrt(chi2_isf(_FALSE_FLAGS / (total * dim), 1))
    typical = chi2_isf(_TYPICAL_P, dim)
    typical_one = math.sqrt(chi2_isf(_TYPICAL_P, 1))
    for i in np.flatnonzero(mask):
        x = X[i]
        swap = _swapped(x, means, cov, typical)
        if swap is not None:
            f, g = swap
            text = f"{names[f]} {_fmt(x[f])} with {names[g]} {_fmt(x[g])}: swapped?"
            reasons[int(i)] = [(f, text), (g, text)]
            continue
        z = np.abs(x - means) / sd  # (K, D)
        zmin = np.where(np.isfinite(x), z.min(axis=0), 0.0)  # a blank value is not off
        worst = int(np.argmax(zmin))
        if zmin[worst] > one_limit:
            f = worst
            hint = ""
            slips = _SLIPS + (_UNIT_SLIPS if f in heights else ())
            for factor, text in slips:
                fixed = x[f] / factor
                if float(np.min(np.abs(fixed - means[:, f]) / sd[:, f])) <= typical_one:
                    hint = "; " + text
                    break
            reasons[int(i)] = [(f, f"{_fmt(x[f])} is {zmin[f]:.1f} SD from the nearest group{hint}")]
            continue
        # Each value alone is plausible: the pair that is most unusual together.
        d2 = _mahalanobis2(x[None, :], means, cov)[0]
        nearest = int(np.argmin(d2))
        best = -1.0
        seen = np.flatnonzero(np.isfinite(x))
        pair = (int(seen[0]), int(seen[1 if len(seen) > 1 else 0]))
        for f in seen:
            for g in seen[seen > f]:
                sub = cov[nearest][np.ix_([f, g], [f, g])]
                dv = x[[f, g]] - means[nearest, [f, g]]
                val = float(dv @ np.linalg.solve(sub, dv))
                if val > best:
                    best, pair = val, (f, g)
        f, g = pair
        text = f"{names[f]} {_fmt(x[f])} with {names[g]} {_fmt(x[g])} is {math.sqrt(d2.min()):.1f} SD from the nearest group"
        reasons[int(i)] = [(f, text)] + ([(g, text)] if g != f else [])
    return Unusual(mask, reasons)


# --------------------------------------------------------------------------- missing completely at random?


def little_mcar(X: np.ndarray) -> dict | None:
    """Little's (1988) test that the blank values are missing completely at random.

    Under one multivariate normal fitted by EM to every observed value (its
    maximum-likelihood mean μ and covariance Σ), each pattern j of blank
    values, with n_j rows, observed features o_j and mean ȳ_j of their
    values, adds n_j (ȳ_j - μ_o)ᵀ Σ_oo⁻¹ (ȳ_j - μ_o) to the statistic, which
    is then chi-square with Σ_j |o_j| - D degrees of freedom.  A small p says
    that which values are blank depends on the values the rows do have.

    Parameters
    ----------
    X : ndarray, (n, D)
        NaN marks a blank value; every row has at least one value.

    Returns
    -------
    dict or None
        ``{"chi2", "df", "p"}``; None when no value is blank (nothing to test).
    """
    X = np.asarray(X, dtype=np.float64)
    observed = np.isfinite(X)
    if observed.all():
        return None
    try:
        res = fit_model(X, None, 1, "separate", n_init=1, tol=1e-12, max_iter=2000, reg_covar=0.0)
    except mixture.MixtureError:
        res = fit_model(X, None, 1, "separate", n_init=1, tol=1e-12, max_iter=2000)
    mu, cov = np.asarray(res.means)[0], np.asarray(res.covariances)[0]
    masks, which = np.unique(observed, axis=0, return_inverse=True)
    which = which.reshape(-1)
    chi2, df = 0.0, -X.shape[1]
    for p, mask in enumerate(masks):
        rows = which == p
        o = np.flatnonzero(mask)
        diff = X[np.ix_(rows, o)].mean(axis=0) - mu[o]
        chi2 += float(rows.sum()) * float(diff @ np.linalg.solve(cov[np.ix_(o, o)], diff))
        df += len(o)
    return {"chi2": chi2, "df": int(df), "p": _chi2_sf(chi2, df) if df > 0 else None}


# --------------------------------------------------------------------------- the self-check


@dataclass(frozen=True)
class Check:
    """The expected accuracy of the filled cells, from typed labels hidden and refilled.

    ``accuracy`` and the rest are None, with ``reason`` saying why, when a
    typed class has fewer than :data:`CHECK_MIN_TYPED` labels.
    """

    accuracy: float | None
    low: float | None
    high: float | None
    brier: float | None
    folds: int
    hidden: int
    per_class: dict[str, float | None]
    reason: str | None
    reliability: list[dict] = field(default_factory=list)
    temperature: float = 1.0
    log_loss: float | None = None  # held-out, after calibration
    typed_only_log_loss: float | None = None  # the same with the typed rows alone

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "low": self.low,
            "high": self.high,
            "brier": self.brier,
            "folds": self.folds,
            "hidden": self.hidden,
            "per_class": dict(self.per_class),
            "reason": self.reason,
            "reliability": list(self.reliability),
            "temperature": self.temperature,
            "log_loss": self.log_loss,
        }

    def sentence(self) -> str:
        """The check in words, for the Fit panel and the command line."""
        if self.accuracy is None:
            return f"No self-check: {self.reason}"
        share = 100 // self.folds if self.folds else 0
        return (
            f"About {100 * self.accuracy:.0f} % of the filled cells are likely right "
            f"({100 * self.low:.0f}–{100 * self.high:.0f} %), checked by hiding {self.folds} × {share} % "
            "of the typed labels"
        )


def no_check(reason: str, folds: int = 0, per_class: dict | None = None) -> Check:
    return Check(None, None, None, None, folds, 0, dict(per_class or {}), reason)


def _reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-width bins of confidence: mean confidence, accuracy and count of each non-empty bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            out.append({
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "confidence": float(conf[sel].mean()),
                "accuracy": float(correct[sel].mean()),
                "count": int(sel.sum()),
            })
    return out


def self_check(
    X: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    n_named: int,
    covariance: str,
    start: mixture.MixtureResult,
    *,
    folds: int = 5,
    min_confidence: float = 0.0,
    seed: int = 0,
    calibrate: bool = True,
    compare_typed: bool = True,
    typed_rows_only: bool = False,
) -> Check:
    """Hide the typed labels a fold at a time, refit, and compare.

    Parameters
    ----------
    X : ndarray, (n, D)
    labels : ndarray, (n,)
        -1 blank, else the class index; the first ``n_named`` classes are
        named, any further groups are unnamed.
    class_names : list of str
        The named classes' names (for ``per_class``).
    covariance : str
        The chosen model's covariance.
    start : MixtureResult
        The full fit: every refit starts from its parameters.
    min_confidence : float
        Cells below it are left blank, and so are not counted.
    compare_typed : bool
        Also score the typed rows alone on the same folds
        (:attr:`Check.typed_only_log_loss`).
    typed_rows_only : bool
        Check a fit of the typed rows alone (the blank rows take no part).

    Returns
    -------
    Check
    """
    counts = np.bincount(labels[labels >= 0], minlength=n_named)[:n_named]
    if n_named < 2:
        return no_check("only one class is typed", folds)
    few = [class_names[j] for j in range(n_named) if counts[j] < CHECK_MIN_TYPED]
    if few:
        names = ", ".join(f"'{c}' ({int(counts[class_names.index(c)])})" for c in few)
        return no_check(
            f"fewer than {CHECK_MIN_TYPED} typed labels in {names}; type more of each class", folds
        )
    folds = int(max(2, min(folds, counts.min())))
    rng = np.random.default_rng(seed)
    fold_of = np.full(len(labels), -1)
    for j in range(n_named):
        rows = np.flatnonzero(labels == j)
        rng.shuffle(rows)
        fold_of[rows] = np.arange(len(rows)) % folds
    k = len(start.weights)
    init = (start.weights, start.means, start.covariances)

    def semi(lab: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return fit_model(X, lab, k, covariance, init=init, seed=seed).posteriors_of(rows)

    def alone(lab: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        use = lab >= 0
        res = fit_model(X[use], lab[use], k, covariance, seed=seed, n_init=1)
        return mixture.predict_proba(X[hidden], res.weights, res.means, res.covariances)

    typed = labels >= 0
    rows, post = _held_out(np.where(typed, labels, -1) if typed_rows_only else labels, fold_of, folds,
                           alone if typed_rows_only else semi)
    truth = labels[rows].astype(np.intp)
    typed_only = None
    if compare_typed and not typed_rows_only and k == n_named:
        # The same folds with the typed rows alone (the blank rows left out):
        # when the features are far from Gaussian, the blank rows can pull
        # the groups away from the classes, and the typed rows alone do better.
        try:
            t_rows, t_post = _held_out(np.where(typed, labels, -1), fold_of, folds, alone)
            typed_only = _log_loss(t_post, labels[t_rows].astype(np.intp))
        except mixture.MixtureError:
            typed_only = None
    # The hidden rows are known to be in a named class: the temperature is
    # fitted on those classes' probabilities alone.
    named = post[:, :n_named] / np.maximum(post[:, :n_named].sum(axis=1, keepdims=True), 1e-300)
    # The temperature that makes the hidden labels' mean confidence equal
    # their accuracy: on the real data of bench_trust.py it gave a pooled
    # ECE of 0.018 against 0.025 for the one of least log-loss.
    temperature = _matching_temperature(named, truth) if calibrate else 1.0
    post = temper(post, temperature, named=n_named)
    guess = post.argmax(axis=1)
    conf = post[np.arange(len(rows)), guess]
    filled = (guess < n_named) & (conf >= min_confidence)
    correct = guess == truth
    if not filled.any():
        return no_check("no hidden label would have been filled", folds)
    n_ok, n_f = int(correct[filled].sum()), int(filled.sum())
    low, high = wilson(n_ok, n_f)
    onehot = np.zeros_like(post)
    onehot[np.arange(len(rows)), truth] = 1.0
    brier = float(((post - onehot) ** 2).sum(axis=1).mean())
    per_class = {}
    for j in range(n_named):
        sel = truth == j
        per_class[class_names[j]] = float(correct[sel].mean()) if sel.any() else None
    return Check(
        accuracy=n_ok / n_f,
        low=low,
        high=high,
        brier=brier,
        folds=folds,
        hidden=int(len(rows)),
        per_class=per_class,
        reason=None,
        reliability=_reliability(conf[filled], correct[filled]),
        temperature=float(temperature),
        log_loss=_log_loss(named, truth),
        typed_only_log_loss=typed_only,
    )


def _held_out(labels: np.ndarray, fold_of: np.ndarray, folds: int, refit) -> tuple[np.ndarray, np.ndarray]:
    """Hide each fold's typed labels in turn: the hidden rows (r,) and ``refit``'s posteriors for them (r, K)."""
    rows, posts = [], []
    for f in range(folds):
        hidden = np.flatnonzero(fold_of == f)
        lab = labels.copy()
        lab[hidden] = -1
        rows.append(hidden)
        posts.append(refit(lab, hidden))
    return np.concatenate(rows), np.concatenate(posts)


def _log_loss(post: np.ndarray, truth: np.ndarray) -> float:
    """Mean negative log-probability of the true class, after the best temperature."""
    t = _fit_temperature(post, truth)
    p = temper(np.clip(post, 1e-12, 1.0), t)
    return float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, 1.0)).mean())
