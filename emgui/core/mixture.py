"""Semi-supervised EM for Gaussian mixtures, observable one iteration at a time.

Rows whose label is known are fixed to their class; every other row gets a
posterior probability for each class.  The maths follows scikit-learn's
``GaussianMixture`` (full covariances, Cholesky factors of the precisions,
log-sum-exp, ``reg_covar`` on the diagonal, ``nk + 10 * eps``) but the loop is
an iterator: :class:`EMFit` yields a small frozen :class:`Snapshot` per
iteration, so a worker thread can stream it, a "Step" button can advance it
and a test can check every iteration.

The quantity EM climbs is the observed-data log-likelihood (natural log)::

    Σ_labelled log π_y N(x | μ_y, Σ_y) + Σ_unlabelled log Σ_k π_k N(x | μ_k, Σ_k)

:func:`log_likelihood` computes it plainly and is the reference for tests.

Blank values (NaN): a row with some features blank takes part through its
observed ones — N above is then the marginal density of the observed values,
and the M-step uses each blank's conditional expectation given the class and
the observed values, with the conditional covariance (Ghahramani & Jordan,
1994).  Such rows are grouped by which features are blank and handled one
pattern at a time; rows with every value keep the fast path below.

Speed: the labelled rows enter through constant sums computed once, so an
iteration costs one pass over the unlabelled rows (see
:mod:`emgui.core._mixture_fast`).  With one feature and two classes that pass
needs a single ``exp`` per row; with several features it is a few BLAS
products per block of rows (the ``Whitened`` engine from 5 features on).

Determinism: the unlabelled rows and each class's rows are sorted by value
before anything else, so the same data in any row order gives the same fit,
and the same ``seed`` gives the same result.
"""

from __future__ import annotations

import itertools
import math
import operator
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from emgui.core import _mixture_fast as _fast
from emgui.core import _parallel

__all__ = [
    "COVARIANCES",
    "EMFit",
    "MixtureError",
    "MixtureResult",
    "Snapshot",
    "SortedRows",
    "draw_missing",
    "fit",
    "impute",
    "log_likelihood",
    "n_parameters",
    "predict_proba",
    "sort_rows",
]

_EPS = float(np.finfo(np.float64).eps)
_LOG_2PI = math.log(2.0 * math.pi)
# Squares of larger differences would overflow.
_MAX_SPREAD = 1e150
# A variance below (this * eps * |x|)² is rounding noise: each row's
# log-density would be off by more than about 1e-5.
_COLLAPSE = 1e5
# A class whose correlation matrix has an eigenvalue below this has lost about
# 10 of its 16 digits in every log-density.
_FLAT = 1e-10
# A fall of the log-likelihood larger than this (relative) is not rounding.
_SLACK = 1e-10
# Monomial features are kept for up to 4 features and 256 MiB.
_QUAD_MAX_COLUMNS = 15
_QUAD_MAX_BYTES = 256 * 2**20
_LLOYD_ITERATIONS = 20
_KMEANS_ROWS = 20_000
#: Values of the (centres, rows, features) block :meth:`EMFit._nearest` computes at once (8 MB).
_NEAREST_VALUES = 1 << 20
#: The covariance models: one per class, or one shared by all classes.
COVARIANCES = ("separate", "shared")


class MixtureError(ValueError):
    """The data cannot support the requested mixture; the message says what to change."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The state of a fit after one iteration (iteration 0: the initial parameters).

    Attributes
    ----------
    iteration : int
        0 for the initial parameters, then 1, 2, ...
    log_likelihood : float
        Observed-data log-likelihood (natural log) of the parameters below.
    weights : ndarray, shape (K,)
    means : ndarray, shape (K, D)
    covariances : ndarray, shape (K, D, D)
    converged : bool
        True on the iteration whose log-likelihood change fell within ``tol``.
    start : int
        Which random start this belongs to (unlabelled data, ``n_init > 1``).
    """

    iteration: int
    log_likelihood: float
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    converged: bool
    start: int = 0


@dataclass(frozen=True, eq=False)
class MixtureResult:
    """A fitted mixture.

    Attributes
    ----------
    weights : ndarray, shape (K,)
    means : ndarray, shape (K, D)
    covariances : ndarray, shape (K, D, D)
    log_likelihood : float
        Observed-data log-likelihood (natural log) of these parameters.
    n_iter : int
        E+M iterations run by the kept start.
    converged : bool
        False if ``max_iter`` was reached (or the fit was stopped) first.
    posteriors : ndarray, shape (n_rows, K)
        P(class | row) under these parameters, rows in the input order;
        labelled rows are one-hot.  Read-only; made on first use (a million
        rows and two classes: 16 MB), see :meth:`posteriors_of`.
    history : tuple of float
        Log-likelihood at iterations 0..n_iter of the kept start.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool
    history: tuple[float, ...]
    _posteriors_of: Callable[[np.ndarray | None], np.ndarray] = field(repr=False)
    _made: dict = field(default_factory=dict, repr=False)

    @property
    def posteriors(self) -> np.ndarray:
        post = self._made.get("all")
        if post is None:
            post = self._made["all"] = self._posteriors_of(None)
        return post

    def posteriors_of(self, rows) -> np.ndarray:
        """``posteriors[rows]``, without making the whole array: shape (r, K), a new array.

        Filling the blanks needs the posteriors of the unlabelled rows only;
        the labelled ones are one-hot.

        Parameters
        ----------
        rows : array_like of int, shape (r,)
            Row indices in the input order.
        """
        post = self._made.get("all")
        rows = np.asarray(rows, dtype=np.intp)
        if post is not None:
            return post[rows]
        return self._posteriors_of(rows)


class _Theta(NamedTuple):
    """Parameters in centred coordinates (means relative to the data's shift)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


class _Run:
    """The progress of one start."""

    __slots__ = ("converged", "finished", "history", "iteration", "ll", "start", "sweep", "theta")

    def __init__(self, start: int, theta: _Theta, ll: float, sweep: _fast.Sweep, finished: bool):
        self.start = start
        self.theta = theta
        self.ll = ll
        self.sweep = sweep
        self.iteration = 0
        self.history = [ll]
        self.converged = False
        self.finished = finished


# --------------------------------------------------------------------------- validation


def _as_rows(X, missing: bool = False) -> np.ndarray:
    """Validated float64 copy of X, shape (n_rows, n_features).

    A read-only float64 array is used as it is: nobody can change it under
    the fit, and a million rows need no second copy.  With ``missing``, NaN
    marks a blank value; every row still needs one observed value.
    """
    if isinstance(X, np.ndarray) and X.dtype == np.float64 and not X.flags.writeable and X.ndim == 2:
        arr = X
    else:
        try:
            arr = np.array(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise MixtureError("The measurements must be numbers: check the feature columns.") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise MixtureError(
            f"Expected one row per record and one column per feature, got {arr.ndim} dimensions."
        )
    if arr.shape[0] == 0:
        raise MixtureError("There are no rows to fit: enter some measurements.")
    if arr.shape[1] == 0:
        raise MixtureError("There is no feature to fit: choose at least one numeric column.")
    finite = np.isfinite(arr)
    if not finite.all():
        if missing and not np.isinf(arr).any():
            empty = ~finite.any(axis=1)
            if not empty.any():
                return np.ascontiguousarray(arr)
            row = int(np.flatnonzero(empty)[0])
            raise MixtureError(
                f"Row {row} (counting from 0) has no value in any feature: "
                "remove that row or enter a number."
            )
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise MixtureError(
            f"Row {row} (counting from 0) holds a missing or infinite value: "
            "remove that row or enter a number."
        )
    return np.ascontiguousarray(arr)


def _as_labels(labels, n: int) -> np.ndarray:
    """Validated int labels, shape (n,); -1 = unknown."""
    if labels is None:
        return np.full(n, -1, dtype=np.intp)
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise MixtureError(f"Expected {n} labels, one per row, got shape {arr.shape}.")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))):
            raise MixtureError(
                "Labels must be whole class codes: -1 for unknown, 0..K-1 for a class."
            )
    elif arr.dtype.kind not in "iu":
        raise MixtureError("Labels must be whole class codes: -1 for unknown, 0..K-1 for a class.")
    # A copy unless read-only already (then nobody can change it under the
    # fit); small signed codes stay small (a million int8 labels: 1 MB, not 8).
    dtype = arr.dtype if arr.dtype.kind == "i" and not arr.flags.writeable else np.intp
    out = arr.astype(dtype, copy=arr.flags.writeable)
    if (out < -1).any():
        bad = int(out[out < -1][0])
        raise MixtureError(
            f"Label {bad} is not a class code: use -1 for unknown, 0..K-1 for a class."
        )
    return out


def _as_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise MixtureError(f"{name} must be a whole number, got {value!r}.")
    try:
        out = operator.index(value)
    except TypeError:
        raise MixtureError(f"{name} must be a whole number, got {value!r}.") from None
    if out < minimum:
        raise MixtureError(f"{name} must be at least {minimum}, got {out}.")
    return out


def _as_nonnegative(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise MixtureError(f"{name} must be a number, got {value!r}.") from None
    if not (math.isfinite(out) and out >= 0.0):
        raise MixtureError(f"{name} must be a finite number >= 0, got {value!r}.")
    return out


def _as_params(weights, means, covariances, dim: int | None = None):
    """Validated (weights (K,), means (K, D), covariances (K, D, D))."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    k = w.shape[0]
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim == 1 and k:
        mu = mu.reshape(k, -1)
    d = mu.shape[1] if mu.ndim == 2 else -1
    cov = np.asarray(covariances, dtype=np.float64)
    if cov.ndim == 1 and d == 1:
        cov = cov.reshape(k, 1, 1)
    if k < 1 or mu.shape != (k, d) or cov.shape != (k, d, d) or (dim is not None and d != dim):
        raise MixtureError(
            "Parameters do not fit together: expected weights (K,), means (K, D) and "
            f"covariances (K, D, D); got {w.shape}, {mu.shape}, {cov.shape}."
        )
    if not (np.isfinite(w).all() and np.isfinite(mu).all() and np.isfinite(cov).all()):
        raise MixtureError("Parameters contain a missing or infinite value.")
    if (w < 0).any() or w.sum() <= 0:
        raise MixtureError("Weights must be >= 0 and not all 0.")
    return w, mu, cov


def _scatter(diff: np.ndarray) -> np.ndarray:
    """``diff.T @ diff`` for rows ``diff`` (n, D), shape (D, D).

    One feature: einsum's dot on this thread.  OpenBLAS hands a long dot to
    its second thread, which on a busy machine waits for a core: a million
    rows took 4-16 ms there instead of ~0.3 (as in the sweeps, see
    ``_mixture_fast``).
    """
    if diff.shape[1] == 1:
        return np.einsum("i,i->", diff[:, 0], diff[:, 0]).reshape(1, 1)
    return diff.T @ diff


def _canonical(rows: np.ndarray) -> np.ndarray:
    """The rows sorted by value (first feature first), shape (n, D)."""
    if rows.shape[1] == 1:
        return np.sort(rows[:, 0])[:, None]
    return rows[_canonical_order(rows)]


#: Counts :func:`_counted_on_grid` may keep: grid points times groups (8 bytes each: 8 MiB).
_GRID_COUNTS = 1 << 20
#: Rows :func:`_counted_on_grid` checks and counts at a time.
_GRID_BLOCK = 1 << 16
#: The sample that picks the grid's decimals before every value is checked.
_GRID_SAMPLE = 1000
#: Keys that :func:`_sorted_on_grid` sorts in two halves on two cores, from this many on.
_SORT_HALVES = 1 << 17


def _grid_scale(sample: np.ndarray) -> float | None:
    """``10**d`` for the fewest decimals ``d`` (0 to 3) that write every value of ``sample`` exactly, else None."""
    for d in range(4):
        scale = 10.0**d
        if np.array_equal(np.rint(sample * scale) / scale, sample):
            return scale
    return None


def _counted_on_grid(col: np.ndarray, lab: np.ndarray, k: int):
    """How often each group takes each value of a decimal grid, when every value lies on one; else None.

    A measurement typed with at most 3 decimals ("162.3") reads as the
    float nearest ``i / 10**d`` for an integer ``i``, and ``i / 10**d`` gives
    that float back exactly.  When every value does (checked bit for bit)
    and the grid's points times the groups are at most :data:`_GRID_COUNTS`,
    each group's sorted values are the grid's values repeated by their
    counts: one ``bincount`` over the rows instead of a sort (on the
    project's machine a 1M-row sort took ~35 ms, the counting ~10 ms).  The
    same arrays as sorting gives.

    Parameters
    ----------
    col : ndarray, (n,) float64
    lab : ndarray, (n,)
        -1 for a blank, else 0..k-1.
    k : int

    Returns
    -------
    (grid, counts) or None
        ``grid``: (g,) float64, ascending; ``counts``: (g, k + 1), the
        blank rows' count of each grid value in column 0, class j's in
        column j + 1.  ``np.repeat(grid, counts[:, j + 1])`` is class j's
        values sorted, ``np.repeat(grid, counts.sum(axis=1))`` every value.
    """
    n = col.shape[0]
    if n < _GRID_SAMPLE:
        return None  # a sort is cheap
    lo, hi = float(col.min()), float(col.max())
    if not (abs(lo) < 1e15 and abs(hi) < 1e15):
        return None  # NaN, or beyond whole numbers a float holds exactly
    scale = _grid_scale(col[:_GRID_SAMPLE])
    if scale is None:
        return None
    base = math.floor(lo * scale)
    size = math.floor(hi * scale) - base + 2
    if size * (k + 1) > _GRID_COUNTS:
        return None
    grid = (np.arange(size, dtype=np.float64) + base) / scale
    counts = np.zeros(size * (k + 1), dtype=np.intp)
    # A block of rows at a time: the keys and their checks are a few
    # temporaries of a block's size, not of every row's (a million rows:
    # 16-24 MB at once, in the window's refit; issue 14 item 3, the 1M
    # window's peak <= 300 MB).  Counts add up exactly.
    block = max(_GRID_BLOCK, size * (k + 1))  # a block's bincount costs no more than its rows
    for start in range(0, n, block):
        part = col[start : start + block]
        keys = np.rint(part * scale)
        keys -= base
        keys = keys.astype(np.intp)
        if keys.min() < 0 or keys.max() >= size:
            return None
        if not np.array_equal(grid[keys].view(np.int64), part.view(np.int64)):
            return None  # a value off the grid (or a -0.0): sort
        # One count per (grid value, group): key * (k + 1) + label + 1.
        keys *= k + 1
        keys += lab[start : start + block]
        keys += 1
        counts += np.bincount(keys, minlength=size * (k + 1))
        del keys
    return grid, counts.reshape(size, k + 1)


#: Values :func:`_repeat` writes per call of ``np.repeat``.
_REPEAT_BLOCK = 1 << 18


def _repeat(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.repeat(values, counts)``, a block of about :data:`_REPEAT_BLOCK` values at a time.

    ``np.repeat`` holds the interpreter lock while it fills its output, and
    a new 40 MB output is slow to map on this project's machine: in the
    window's fit thread, 5M rows in one call held the lock ~100 ms, a pause
    of the GUI thread (issue 14 item 3: every pause of a 5M-row fill
    <= 50 ms; ``benchmarks/bench_window.py --rows 5000000``).  Here the output
    is mapped as each block is copied in, which numpy does without the lock.
    """
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    if total <= _REPEAT_BLOCK:
        return np.repeat(values, counts)
    out = np.empty(total, dtype=values.dtype)
    # The last value of each block: where the running count passes a block's end.
    lasts = np.searchsorted(ends, np.arange(_REPEAT_BLOCK, total, _REPEAT_BLOCK), side="left")
    first = 0
    for last in [*np.unique(lasts).tolist(), len(values) - 1]:
        if last < first:
            continue
        a = int(ends[first - 1]) if first else 0
        b = int(ends[last])
        out[a:b] = np.repeat(values[first : last + 1], counts[first : last + 1])
        first = last + 1
    return out


def _canonical_order(rows: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows (n, D) by value, first feature first, shape (n,).

    The same permutation as ``np.lexsort(rows.T[::-1])`` (stable: equal rows
    keep their order) for rows without NaN.
    """
    if rows.shape[1] > 1 and rows.shape[0] >= _GRID_SAMPLE:
        # Measurements typed with a few decimals: each row as one integer
        # (see _grid_key), one stable sort of those.  A 1M-row, 5-feature
        # fill's rows (values to 0.1) in ~0.16 CPU s instead of the byte
        # keys' ~0.32 (AMD EPYC, issue 14), the same permutation.
        key = _grid_key(rows)
        if key is not None:
            return np.argsort(key, kind="stable")
    head = rows[:1024, 0]
    if rows.shape[0] > 1 and len(np.unique(head)) == len(head):  # no tie among the first rows: maybe none at all
        order = np.argsort(rows[:, 0])
        first = rows[order, 0]
        if not (first[1:] == first[:-1]).any():
            return order
    # Ties in the first feature: let the other features decide.  One stable
    # sort of each row as a byte string, not lexsort's D stable sorts: a
    # 1M-row, 5-feature fill's rows (values to 0.1) in 0.37 s instead of
    # 0.69 s (CPU time, AMD EPYC; issue 14), the same permutation.
    return np.argsort(_row_keys(rows), kind="stable")


#: Whole numbers below this are exact in a float64 (2**53), with a margin.
_EXACT_WHOLE = 2.0**52


def _grid_key(rows: np.ndarray) -> np.ndarray | None:
    """Each row (n, D) as one int64 whose order is the rows' order by value, or None.

    When every value of a column is ``i / 10**d`` for a whole ``i`` (a
    measurement typed with at most 3 decimals; ``d`` picked from the first
    values, then every value checked bit for bit), ``i`` orders the column's
    values as they order themselves and is equal for equal values (0.0 and
    -0.0 too).  The columns' ``i``, less their least, are digits of one
    mixed-radix number, first feature most significant: it orders rows as
    ``np.lexsort(rows.T[::-1])`` does.  None when a column is off its grid,
    holds NaN or infinities, or the digits need more than 63 bits.
    """
    found = _grid_digits(rows)
    return None if found is None else found[0]


def _grid_digits(rows: np.ndarray, spare: int = 1) -> tuple[np.ndarray, list[tuple[float, float, int]]] | None:
    """:func:`_grid_key`'s key and each column's (scale, least whole, digits): the key's radix.

    ``spare``: the key times it must still fit in 63 bits (room for one more
    digit below the others).  Each column's least and largest whole numbers
    are its extremes' (``x -> rint(x * scale)`` never decreases), so the
    radix is known before the rows are read; then a block of rows at a time,
    each column's whole numbers are checked and added to the block's keys
    in small buffers that stay in the cache (a million rows of five: ~40 ->
    ~15 ms, and no fresh 8 MB arrays per column; issue 14).
    """
    n, dim = rows.shape
    radix = spare
    grid = []
    for f in range(dim):
        col = rows[:, f]
        scale = _grid_scale(col[:_GRID_SAMPLE])
        if scale is None:
            return None
        lo, hi = float(np.rint(col.min() * scale)), float(np.rint(col.max() * scale))
        if not (abs(lo) < _EXACT_WHOLE and abs(hi) < _EXACT_WHOLE):
            return None  # NaN, infinite, or past the whole numbers a float holds exactly
        size = int(hi - lo) + 1
        radix *= size
        if radix >= 2**63:
            return None
        grid.append((scale, lo, size))
    key = np.zeros(n, dtype=np.int64)
    block = max(1, min(n, _ROW_BLOCK))
    whole, back = np.empty(block), np.empty(block)
    digit = np.empty(block, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        keys, m = key[start:stop], stop - start
        w, b, d = whole[:m], back[:m], digit[:m]
        for f, (scale, lo, size) in enumerate(grid):
            col = rows[start:stop, f]
            np.multiply(col, scale, out=w)
            np.rint(w, out=w)
            np.divide(w, scale, out=b)
            if not np.array_equal(b.view(np.int64), col.view(np.int64)):
                return None  # a value off the grid: the byte keys
            w -= lo
            np.copyto(d, w, casting="unsafe")
            keys *= size
            keys += d
    return key, grid


def _sorted_on_grid(rows: np.ndarray, lab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """The rows (n, D) in canonical order and their labels, by sorting one integer a row; else None.

    The row's :func:`_grid_key` with its label as one more, last digit is
    sorted (the key itself, not an argsort: no permutation to gather the
    rows by), and the rows and labels are read back from the sorted keys:
    ``(i + least) / 10**d`` gives each value back bit for bit (checked when
    the key was made; a -0.0 would come back as 0.0, so rows holding one
    take the argsort).  The rows are those of ``rows[_canonical_order(rows)]``
    bit for bit; equal rows may carry their labels in another order, which
    no sum over a group of rows can tell.
    A 1M-row, 5-feature fill's rows in ~0.12 s instead of ~0.19 (argsort,
    then gathering rows and labels; AMD EPYC, issue 14).

    Returns ``(rows, labels, known)``: ``known`` is what :func:`_summarise`
    would find of the rows by reading them again, ``(distinct rows, each
    column's least, each column's largest)``, read off the keys and the grid.
    """
    if rows.shape[0] < _GRID_SAMPLE:
        return None  # sorting is cheap
    negative_zero = np.int64(-(2**63))  # the bits of -0.0
    if any((rows[:, f].view(np.int64) == negative_zero).any() for f in range(rows.shape[1])):
        return None
    found = _grid_digits(rows, spare=k + 1)
    if found is None:
        return None
    key, grid = found
    key *= k + 1
    key += lab
    key += 1
    if key.shape[0] >= _SORT_HALVES and _parallel.cores() >= 2:
        # Each half sorted on a core of its own, then the two sorted runs
        # merged in one linear pass (timsort): 1M keys ~0.03 s instead of
        # ~0.05 when the second core is free (issue 14).  The keys sorted are
        # the same array either way.
        half = key.shape[0] // 2
        _parallel.run(np.ndarray.sort, [key[:half], key[half:]])
        key.sort(kind="stable")
    else:
        key.sort()
    # Read back in place, a block of rows at a time into small buffers: each
    # block of the (n, D) rows is written a column at a time while it is in
    # the cache (all n rows a column at a time wrote each row's cache line D
    # times over; issue 14).
    code = np.empty_like(key)
    np.divmod(key, k + 1, out=(key, code))
    code -= 1
    # Equal rows have equal keys; each column's extremes are its least and
    # largest whole numbers read back as below (digit 0 and size - 1).
    distinct = 1 + int(np.count_nonzero(key[1:] != key[:-1]))
    least = np.array([(0.0 + lo) / scale for scale, lo, _ in grid])
    largest = np.array([(float(size - 1) + lo) / scale for scale, lo, size in grid])
    n = rows.shape[0]
    xs = np.empty(rows.shape)
    block = min(n, _ROW_BLOCK)
    digit = np.empty(block, dtype=np.int64)
    col = np.empty(block)
    for start in range(0, n, block):
        stop = min(start + block, n)
        keys, m = key[start:stop], stop - start
        for f in range(rows.shape[1] - 1, -1, -1):
            scale, lo, size = grid[f]
            if f:
                np.divmod(keys, size, out=(keys, digit[:m]))
                d = digit[:m]
            else:
                d = keys  # the first feature's digit is what is left
            np.add(d, lo, out=col[:m])
            col[:m] /= scale
            xs[start:stop, f] = col[:m]
    return xs, code.astype(np.intp, copy=False), (distinct, least, largest)


class SortedRows(NamedTuple):
    """Rows sorted the way :class:`EMFit` sorts them first, made beforehand (see :func:`sort_rows`)."""

    X: np.ndarray  # the rows given, (n, D): EMFit takes this only for the very same arrays
    labels: np.ndarray  # the labels given, (n,)
    rows: np.ndarray  # (n, D), canonical order, centred by summary.shift
    row_labels: np.ndarray  # (n,), the label of each sorted row
    summary: _Summary


def sort_rows(X: np.ndarray, labels: np.ndarray) -> SortedRows | None:
    """The sorting an :class:`EMFit` of ``X`` and ``labels`` starts with, or None where it would sort otherwise.

    For a fill to run on its second core while it chooses the model on a
    sample (``FillJob.prepare``): the fit of all rows then takes the sorted
    rows (``EMFit(..., sorted_rows=)``) instead of sorting them itself.  Only
    rows of two or more features on a decimal grid, none blank.
    """
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] > 1 and X.dtype == np.float64):
        return None
    if not (isinstance(labels, np.ndarray) and labels.shape == (X.shape[0],) and labels.dtype.kind == "i"):
        return None
    if not len(labels) or labels.min() < -1 or not np.isfinite(X).all():
        return None
    found = _sorted_on_grid(X, labels, max(int(labels.max()) + 1, 1))
    if found is None:
        return None
    summary = _summarise(found[0], found[2])  # centres the sorted rows, as EMFit would
    return None if summary.too_far else SortedRows(X, labels, found[0], found[1], summary)


class Starts:
    """The starting parameters of several fits of the same rows, each made once (``EMFit(starts=)``).

    The model choice fits each number of groups twice, with separate and
    with shared covariances, from the same starts: a k-means start is made
    by the first fit and taken by the second (the 5-feature model choice on
    10,000 rows: 20 starts, ~4 ms each, half of its time; issue 14).  A
    start is keyed by what it depends on besides the rows: the number of
    classes, the seed, which start and ``reg_covar``; kept before a shared
    covariance pools it.  Only for the very arrays given, unchanged since.
    """

    def __init__(self, X: np.ndarray, labels: np.ndarray | None) -> None:
        self.X, self.labels = X, labels
        self._thetas: dict[tuple, _Theta] = {}

    def covers(self, X, labels) -> bool:
        """Whether a fit of ``X`` and ``labels`` may take these starts (the very arrays)."""
        return X is self.X and labels is self.labels

    def sharing(self, X: np.ndarray, labels: np.ndarray | None) -> Starts:
        """These starts for other arrays made from the very ones given (an EMFit's helper's imputed rows)."""
        view = Starts(X, labels)
        view._thetas = self._thetas
        return view

    def get(self, key: tuple, make: Callable[[], _Theta]) -> _Theta:
        """The start ``key``, made by ``make`` the first time (read-only: fits share it)."""
        theta = self._thetas.get(key)
        if theta is None:
            theta = make()
            for a in theta:
                a.flags.writeable = False
            self._thetas[key] = theta
        return theta


def _row_keys(rows: np.ndarray) -> np.ndarray:
    """Each row (n, D) as one byte string of 8·D bytes whose byte order (memcmp) is the rows' order by value.

    Each value's IEEE bits, negatives inverted and the sign bit of the
    others set, compare as unsigned integers as the values do; written most
    significant byte first and side by side, they compare as the rows do,
    first feature first.
    """
    keys = np.add(rows, 0.0, order="C")  # a copy; -0.0 + 0.0 is 0.0: equal values, equal bytes
    bits = keys.view(np.uint64)
    negative = np.signbit(keys)
    np.invert(bits, out=bits, where=negative)
    np.bitwise_or(bits, np.uint64(1 << 63), out=bits, where=~negative)
    bits.byteswap(inplace=True)  # most significant byte first
    return bits.view(np.dtype((np.void, 8 * rows.shape[1]))).reshape(-1)


# --------------------------------------------------------------------------- Gaussian maths


_COLLAPSED = (
    "A class collapsed onto too few distinct values to have a spread: "
    "enter more measurements, use fewer classes, or raise reg_covar."
)


def _factorise(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> _fast.Gaussians:
    """Cholesky factors of the precisions (scikit-learn's ``precisions_cholesky_``)."""
    dim = means.shape[1]
    if dim == 1:
        # One feature: the factor of a 1x1 matrix is its square root and the
        # inverse one over that, the very numbers LAPACK's cholesky and solve
        # give, without their per-call cost (a fill makes ~600 of these).
        if not (covariances > 0).all():  # LAPACK's test: not positive, or NaN
            raise MixtureError(_COLLAPSED)
        prec_chol = 1.0 / np.sqrt(covariances)
    else:
        try:
            chol = np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise MixtureError(_COLLAPSED) from None
        eye = np.broadcast_to(np.eye(dim), covariances.shape)
        prec_chol = np.swapaxes(np.linalg.solve(chol, eye), 1, 2)
    diag = np.diagonal(prec_chol, axis1=1, axis2=2)
    if not (np.isfinite(prec_chol).all() and (diag > 0).all()):
        raise MixtureError(
            "A class became too narrow to compute with: "
            "enter more measurements, use fewer classes, or raise reg_covar."
        )
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    return _fast.Gaussians(log_weights, means, prec_chol, np.log(diag).sum(axis=1))


def _weighted_log_prob(X: np.ndarray, g: _fast.Gaussians) -> np.ndarray:
    """log π_k N(x_i | μ_k, Σ_k), shape (n_rows, K)."""
    n, dim = X.shape
    out = np.empty((n, g.means.shape[0]))
    # Blocks keep each matrix product small enough for BLAS to run it on this
    # thread, in its small-matrix kernel: handing it to a second thread is
    # slow on a busy machine (see _fast.BLAS_SMALL).
    step = max(1024, min(65536, _fast.BLAS_SMALL // (dim * dim)))
    for k in range(g.means.shape[0]):
        for s in range(0, n, step):
            if dim == 1:
                y = (X[s : s + step] - g.means[k]) * g.prec_chol[k, 0, 0]
            else:
                y = (X[s : s + step] - g.means[k]) @ g.prec_chol[k]
            out[s : s + step, k] = np.einsum("ij,ij->i", y, y)
    out *= -0.5
    out += g.log_weights + g.half_log_det - 0.5 * dim * _LOG_2PI
    return out


def _weighted_log_prob_any(X: np.ndarray, weights, means, covariances) -> np.ndarray:
    """log π_k N(x_i,o | μ_k,o, Σ_k,oo) over each row's observed features o, shape (n_rows, K).

    NaN marks a blank value; a row without one takes the complete-data path.
    """
    observed = np.isfinite(X)
    if observed.all():  # one test over all values first: row by row it is ~5 ms for 300,000 rows of five
        return _weighted_log_prob(X, _factorise(weights, means, covariances))
    full = observed.all(axis=1)
    out = np.empty((X.shape[0], len(weights)))
    if full.any():
        out[full] = _weighted_log_prob(X[full], _factorise(weights, means, covariances))
    part = np.flatnonzero(~full)
    masks, which = np.unique(observed[part], axis=0, return_inverse=True)
    which = which.reshape(-1)
    for p, mask in enumerate(masks):
        rows = part[which == p]
        o = np.flatnonzero(mask)
        out[rows] = _weighted_log_prob(
            X[np.ix_(rows, o)], _factorise(weights, means[:, o], covariances[:, o][:, :, o])
        )
    return out


def _imputed_for_start(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """A copy of ``x`` (n, D) with each NaN replaced by its typed class's mean of that
    feature (its column's mean for a blank label): only to start EM from.

    Raises
    ------
    MixtureError
        A feature has no value at all.
    """
    observed = np.isfinite(x)
    empty = ~observed.any(axis=0)
    if empty.any():
        raise MixtureError(
            f"Feature {int(np.flatnonzero(empty)[0])} (counting from 0) has no value in any row: "
            "leave it out or enter some values."
        )
    counts = observed.sum(axis=0)
    # Values near the largest float overflow a sum to inf: such a start is
    # refused right after as too far apart (see _summarise), not warned of.
    with np.errstate(over="ignore"):
        column = np.where(observed, x, 0.0).sum(axis=0) / counts
        out = np.where(observed, x, column)
        for j in range(k):
            rows = labels == j
            obs = observed[rows]
            have = obs.sum(axis=0)
            if not rows.any() or not have.any():
                continue
            mean = np.where(have > 0, np.where(obs, x[rows], 0.0).sum(axis=0) / np.maximum(have, 1), column)
            out[rows] = np.where(obs, x[rows], mean)
    return out


def _log_normalise(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise log-sum-exp (n,) and posteriors (n, K) of log π_k N_k."""
    mx = logp.max(axis=1)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(under="ignore"):
        ex = np.exp(logp - mx[:, None])
    tot = ex.sum(axis=1)
    with np.errstate(divide="ignore"):
        norm = mx + np.log(tot)
    return norm, ex / tot[:, None]


def _normalise_in_place(logp: np.ndarray) -> np.ndarray:
    """Posteriors (n, K) of log π_k N_k, written over ``logp`` itself; returns it.

    The posteriors :func:`_log_normalise` gives, with no (n, K) temporary and
    the row-wise max and sum taken a column at a time (an ``axis=1``
    reduction over a handful of columns is several times slower).
    """
    k = logp.shape[1]
    mx = logp[:, 0].copy()
    for j in range(1, k):
        np.maximum(mx, logp[:, j], out=mx)
    mx[~np.isfinite(mx)] = 0.0
    logp -= mx[:, None]
    with np.errstate(under="ignore"):
        np.exp(logp, out=logp)
    tot = logp[:, 0].copy()
    for j in range(1, k):
        tot += logp[:, j]
    logp /= tot[:, None]
    return logp


def predict_proba(X, weights, means, covariances) -> np.ndarray:
    """Posterior class probabilities of rows under given parameters.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
        NaN marks a blank value: a row's posterior uses its observed values.
    weights : array_like, shape (K,)
    means : array_like, shape (K, n_features)
    covariances : array_like, shape (K, n_features, n_features)

    Returns
    -------
    ndarray, shape (n_rows, K)
        Each row sums to 1.
    """
    x = _as_rows(X, missing=True)
    w, mu, cov = _as_params(weights, means, covariances, x.shape[1])
    post = _normalise_in_place(_weighted_log_prob_any(x, w / w.sum(), mu, cov))
    return post


def log_likelihood(X, labels, weights, means, covariances) -> float:
    """Observed-data log-likelihood (natural log), computed plainly row by row.

    Σ_labelled log π_y N(x | μ_y, Σ_y) + Σ_unlabelled log Σ_k π_k N(x | μ_k, Σ_k).

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
        NaN marks a blank value: N is then the marginal density of the
        row's observed values.
    labels : array_like of int, shape (n_rows,), or None
        -1 = unknown; None = all unknown.
    weights : array_like, shape (K,)
    means : array_like, shape (K, n_features)
    covariances : array_like, shape (K, n_features, n_features)

    Returns
    -------
    float
    """
    x = _as_rows(X, missing=True)
    lab = _as_labels(labels, x.shape[0])
    w, mu, cov = _as_params(weights, means, covariances, x.shape[1])
    if lab.max() >= w.shape[0]:
        raise MixtureError(f"Label {int(lab.max())} is out of range for {w.shape[0]} classes.")
    logp = _weighted_log_prob_any(x, w, mu, cov)
    norm, _ = _log_normalise(logp)
    known = lab >= 0
    rows = np.where(known, logp[np.arange(x.shape[0]), np.maximum(lab, 0)], norm)
    return float(rows.sum())


def _reference_step(X, labels, weights, means, covariances, reg_covar=1e-6):
    """One plain EM iteration over all rows, scikit-learn's formulas: the test oracle.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
    labels : array_like of int, shape (n_rows,), or None
    weights, means, covariances : array_like, shapes (K,), (K, D), (K, D, D)
    reg_covar : float

    Returns
    -------
    ll : float
        Observed-data log-likelihood of the given parameters.
    posteriors : ndarray, shape (n_rows, K)
        E-step of the given parameters (labelled rows one-hot).
    weights, means, covariances : ndarray
        The M-step from those posteriors.
    """
    x = _as_rows(X)
    lab = _as_labels(labels, x.shape[0])
    w, mu, cov = _as_params(weights, means, covariances, x.shape[1])
    k = w.shape[0]
    logp = _weighted_log_prob(x, _factorise(w, mu, cov))
    norm, resp = _log_normalise(logp)
    known = lab >= 0
    resp[known] = np.eye(k)[lab[known]]
    ll = float(np.where(known, logp[np.arange(x.shape[0]), np.maximum(lab, 0)], norm).sum())
    nk = resp.sum(axis=0) + 10 * _EPS
    new_means = resp.T @ x / nk[:, None]
    new_cov = np.empty_like(cov)
    for j in range(k):
        diff = x - new_means[j]
        new_cov[j] = (resp[:, j] * diff.T) @ diff / nk[j]
        new_cov[j].flat[:: x.shape[1] + 1] += reg_covar
    return ll, resp, nk / nk.sum(), new_means, new_cov


def _conditionals(xo: np.ndarray, o: np.ndarray, m: np.ndarray, means: np.ndarray, covariances: np.ndarray):
    """Per class: blank values' conditional means (n, q) and covariance (q, q) given observed ``xo`` (n, p)."""
    out = []
    for j in range(means.shape[0]):
        cov = covariances[j]
        inv_chol = np.linalg.inv(np.linalg.cholesky(cov[np.ix_(o, o)]))
        half = inv_chol @ cov[np.ix_(o, m)]  # L⁻¹ Σ_om
        out.append((means[j, m] + (xo - means[j, o]) @ (half.T @ inv_chol).T, cov[np.ix_(m, m)] - half.T @ half))
    return out


def _patterns(X: np.ndarray):
    """(rows, observed features, blank features) for each pattern of NaN with some blank."""
    observed = np.isfinite(X)
    part = np.flatnonzero(~observed.all(axis=1))
    if not len(part):
        return []
    masks, which = np.unique(observed[part], axis=0, return_inverse=True)
    which = which.reshape(-1)
    return [(part[which == p], np.flatnonzero(mask), np.flatnonzero(~mask)) for p, mask in enumerate(masks)]


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z), vectorised, by the Chebyshev fit of erfc in Numerical Recipes (relative error < 1.2e-7)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    tail = 0.5 * t * np.exp(poly)  # P(Z > |z|)
    return np.where(z < 0, tail, 1.0 - tail)


def _t_to_z(t: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """The normal deviate with the Student-t CDF's value at ``t``: P(T_dof <= t) ≈ Φ(z).

    Bailey's (1980) normalising transform, z = (8ν+1)/(8ν+3) · √(ν ln(1 + t²/ν))
    with t's sign: its CDF error is below 1e-4 from ν = 10 (3.4e-4 at ν = 5,
    8e-3 at ν = 1; checked against SciPy in the tests), and it has a closed-form
    inverse (:func:`_z_to_t`), so an interval's ends need no search.
    """
    a = (8.0 * dof + 1.0) / (8.0 * dof + 3.0)
    return np.sign(t) * a * np.sqrt(dof * np.log1p(t * t / dof))


def _z_to_t(z: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_t_to_z`: the Student-t quantile at the normal deviate ``z``'s probability."""
    a = (8.0 * dof + 1.0) / (8.0 * dof + 3.0)
    return np.sign(z) * np.sqrt(dof * np.expm1((z / a) ** 2 / dof))


def _mixture_quantiles(weights: np.ndarray, centres: np.ndarray, sds: np.ndarray, probs,
                       dofs: np.ndarray | None = None) -> list[np.ndarray]:
    """Quantiles of per-row one-dimensional mixtures, by bisection on the mixture's CDF.

    weights, centres, sds : (n, K).  ``dofs`` (n, K): each component a
    Student t with that many degrees of freedom (location ``centres``, scale
    ``sds``); None: Gaussians.  Returns one (n,) array per probability.
    """
    out = []
    for p in probs:
        # The mixture's p-quantile lies between its components' own p-quantiles.
        z = (1.0 if p > 0.5 else -1.0) * _norm_quantile(p)
        own = centres + sds * (z if dofs is None else _z_to_t(np.full(centres.shape, z), dofs))
        lo, hi = own.min(axis=1), own.max(axis=1)
        for _ in range(60):  # the bracket shrinks to 1e-18 of its width
            mid = 0.5 * (lo + hi)
            u = (mid[:, None] - centres) / sds
            below = (weights * _norm_cdf(u if dofs is None else _t_to_z(u, dofs))).sum(axis=1) < p
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out.append(0.5 * (lo + hi))
    return out


def _norm_quantile(p: float) -> float:
    """|Φ⁻¹(p)| by bisection on :func:`_norm_cdf` (a handful of scalars per fill)."""
    p = min(p, 1.0 - p)
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(_norm_cdf(np.array(-mid))) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


#: The normal quantile of a two-sided 95 % interval.
_Z95 = 1.959963984540054


def impute(X, posteriors, means, covariances, counts=None, shared: bool = False
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each blank value's conditional mean under the mixture, with its 95 % predictive interval.

    A blank value of a row has, given the row's class k and its observed
    values, the Gaussian N(μ_k,m + Σ_k,mo Σ_k,oo⁻¹ (x_o - μ_k,o), Σ_k,mm -
    Σ_k,mo Σ_k,oo⁻¹ Σ_k,om); over the row's class probabilities its
    predictive distribution is the mixture of these.  The value given is
    that mixture's mean; the interval runs between the mixture's own 2.5 %
    and 97.5 % quantiles (exact quantiles, not a moment match: with two
    classes far apart the predictive distribution has two humps).

    With ``counts`` the parameters are taken as estimated from that many
    rows per class, not known, and the interval also carries their own
    uncertainty: each class's predictive distribution is then the Student t
    of a normal whose mean and covariance were estimated (the posterior
    predictive under the non-informative prior, Gelman et al., *Bayesian
    Data Analysis*, 3rd ed., §3.6): ν = n_k - D degrees of freedom and scale
    Σ_k (n_k + 1) / ν for a class's own covariance from n_k rows; with a
    ``shared`` covariance from N = Σ n_k rows, ν = N - K - D + 1 and scale
    Σ (1 + 1/n_k) N / ν.  Given the observed values (p of them, at
    Mahalanobis distance δ² under that scale) a blank value is again a t,
    with ν + p degrees of freedom, the same centre, and its conditional
    scale times (ν + δ²) / (ν + p) (Ding, "On the conditional distribution
    of the multivariate t distribution", *The American Statistician* 70,
    2016).  The centre, and so the value filled, does not change; with 50
    rows a class and 4 features the interval widens by about 8 %, with
    thousands of rows by a fraction of a percent.

    Parameters
    ----------
    X : ndarray, shape (n, D)
        NaN marks a blank value.
    posteriors : ndarray, shape (n, K)
        P(class | row): one-hot for a typed label, else given the observed values.
    means : ndarray, shape (K, D)
    covariances : ndarray, shape (K, D, D)
    counts : array_like, shape (K,), optional
        Rows each class's parameters were estimated from (its weight times
        the rows fitted).  None: the parameters are taken as known.
    shared : bool
        The covariance is one, shared by the classes (pooled over their rows).

    Returns
    -------
    value, low, high : ndarray, shape (n, D)
        NaN where the value was observed.
    """
    X = np.asarray(X, dtype=np.float64)
    post = np.asarray(posteriors, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    k_count, dim = means.shape
    dof = scale = None
    if counts is not None:
        n_k = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
        if shared:
            n_all = float(n_k.sum())
            dof = np.full(k_count, max(n_all - k_count - dim + 1.0, 1.0))
            scale = (1.0 + 1.0 / n_k) * n_all / dof
        else:
            dof = np.maximum(n_k - dim, 1.0)  # fewer rows than features: as wide as one degree of freedom
            scale = (n_k + 1.0) / dof
        covariances = covariances * scale[:, None, None]
    value = np.full(X.shape, np.nan)
    low, high = value.copy(), value.copy()
    for rows, o, m in _patterns(X):
        xo = X[np.ix_(rows, o)]
        cond = _conditionals(xo, o, m, means, covariances)
        r = post[rows]
        centres = np.stack([c[0] for c in cond], axis=2)  # (n, q, K)
        value[np.ix_(rows, m)] = np.einsum("nqk,nk->nq", centres, r)
        dofs = None
        widen = np.ones((len(rows), k_count))
        if dof is not None:
            # δ² of the observed values under each class's (scaled) covariance.
            for j in range(k_count):
                inv_chol = np.linalg.inv(np.linalg.cholesky(covariances[j][np.ix_(o, o)]))
                z = (xo - means[j, o]) @ inv_chol.T
                widen[:, j] = (dof[j] + np.einsum("ij,ij->i", z, z)) / (dof[j] + len(o))
            dofs = np.broadcast_to(dof + len(o), r.shape)
        for i, f in enumerate(m):
            sds = np.sqrt(np.array([c[1][i, i] for c in cond])[None, :] * widen)
            sds = np.broadcast_to(sds, r.shape)
            c = centres[:, i, :]
            certain = r.max(axis=1) >= 1.0 - 1e-12
            lo = np.empty(len(rows))
            hi = np.empty(len(rows))
            if certain.any():  # one class: its own interval
                j = r[certain].argmax(axis=1)
                mid, sd = c[certain, j], sds[certain, j]
                half = _Z95 if dofs is None else _z_to_t(np.full(len(mid), _Z95), dofs[certain, j])
                lo[certain], hi[certain] = mid - half * sd, mid + half * sd
            if (~certain).any():
                lo[~certain], hi[~certain] = _mixture_quantiles(
                    r[~certain], c[~certain], sds[~certain], (0.025, 0.975),
                    None if dofs is None else dofs[~certain],
                )
            low[rows, f], high[rows, f] = lo, hi
    return value, low, high


def draw_missing(X, classes, means, covariances, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``X`` (n, D) with each blank value drawn from its class's conditional Gaussian.

    Parameters
    ----------
    X : ndarray, shape (n, D)
        NaN marks a blank value.
    classes : ndarray of int, shape (n,)
        The class each row is drawn under (typed, or itself drawn).
    means, covariances : ndarray, shapes (K, D), (K, D, D)
    rng : numpy.random.Generator
    """
    X = np.asarray(X, dtype=np.float64)
    out = X.copy()
    for rows, o, m in _patterns(X):
        cond = _conditionals(X[np.ix_(rows, o)], o, m, means, covariances)
        noise = rng.standard_normal((len(rows), len(m)))
        for j, (centre, cov) in enumerate(cond):
            sel = classes[rows] == j
            if sel.any():
                chol = np.linalg.cholesky(cov + 1e-12 * np.trace(cov) * np.eye(len(m)))
                out[np.ix_(rows[sel], m)] = centre[sel] + noise[sel] @ chol.T
    return out


def _match(cost: np.ndarray) -> list[int]:
    """Distinct columns for the rows of ``cost`` (r <= c) with the least total cost.

    Every assignment is tried for up to 7 columns (5,040), a greedy choice beyond.
    """
    r, c = cost.shape
    if c <= 7:
        cols = np.array(list(itertools.permutations(range(c), r)), dtype=np.intp)
        best = int(np.argmin(cost[np.arange(r), cols].sum(axis=1)))
        return [int(j) for j in cols[best]]
    out = [-1] * r
    taken: set[int] = set()
    for i in np.argsort(cost.min(axis=1)):  # the clearest matches first
        out[int(i)] = next(int(j) for j in np.argsort(cost[i]) if int(j) not in taken)
        taken.add(out[int(i)])
    return out


def n_parameters(n_components: int, n_features: int, covariance: str = "separate") -> int:
    """Free parameters of a mixture: weights, means and covariances (for the BIC).

    Parameters
    ----------
    n_components, n_features : int
    covariance : {"separate", "shared"}
    """
    k, d = n_components, n_features
    cov = d * (d + 1) // 2
    return (k - 1) + k * d + (k * cov if covariance == "separate" else cov)


class _Summary(NamedTuple):
    """What :func:`_summarise` finds of sorted rows (None where ``too_far``)."""

    dim: int
    distinct: int
    too_far: bool
    shift: np.ndarray | None = None
    floor: np.ndarray | None = None
    global_cov: np.ndarray | None = None
    spread: np.ndarray | None = None


#: Rows per block of :func:`_sums_from`, :func:`_grid_digits` and the rows read back by
#: :func:`_sorted_on_grid`: a block of five columns (2.5 MB) stays in the cache while each of its
#: columns is written or summed.  Not fewer: the sort runs beside the model choice, and each numpy
#: call takes the interpreter lock back from it; with 16,384 rows (four times the calls) the main
#: thread waited 48-54 ms for the sorted rows, with 65,536 13 ms (medians of 20 fresh 1M-row,
#: 5-feature fills, alternating; issue 14).
_ROW_BLOCK = 1 << 16


def _sums_from(rows: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Each column's sum of ``rows - origin`` (n, D): ``(rows - origin).sum(axis=0)``'s bits.

    numpy sums a C-ordered (n, D) array, D > 1, over its rows one row after
    another, each column on its own, and so does this, without the (n, D) difference: a
    block of rows at a time, accumulated down the block (numpy's loop runs
    down each column, not once per row of D values), with the sum so far as
    the block's first row.  A million rows of five: ~72 ms -> ~25 (AMD
    EPYC; the sorting of a 5-feature fill's rows, issue 14).
    """
    n, dim = rows.shape
    if n == 0:
        return np.zeros(dim)
    if dim == 1 or not rows.flags.c_contiguous:
        # One column (numpy sums a contiguous one pairwise) or another layout: numpy's own.
        return (rows - origin).sum(axis=0)
    block = min(n, _ROW_BLOCK)
    buf = np.empty((block + 1, dim))
    buf[0] = rows[0] - origin
    start = 1  # buf[0] holds the sum of rows[:start]
    while start < n:
        stop = min(start + block, n)
        part = buf[: stop - start + 1]
        np.subtract(rows[start:stop], origin, out=part[1:])
        np.add.accumulate(part, axis=0, out=part)
        buf[0] = part[-1]
        start = stop
    return buf[0].copy()


def _summarise(xs: np.ndarray, known: tuple | None = None) -> _Summary:
    """Distinct rows, shift, collapse floor, covariance and spread of rows ``xs`` (n, D) in canonical order.

    Centres ``xs`` in place by the shift (no copy of a million rows), unless
    the values are too far apart to fit together (``too_far``: then nothing
    else is computed).  :meth:`EMFit._use_summary` checks and takes it.
    ``known``: ``(distinct rows, each column's least, each column's
    largest)`` when the caller knows them (:func:`_sorted_on_grid`).
    """
    n, dim = xs.shape
    if known is not None:
        distinct, lo, hi = known
    else:
        # Rows unlike the one before, a column at a time (any(axis=1) over an
        # (n, D) comparison walks it D values at a time: ~30 ms for a million
        # rows of five, this ~5).
        differs = xs[1:, 0] != xs[:-1, 0]
        for f in range(1, dim):
            differs |= xs[1:, f] != xs[:-1, f]
        distinct = 1 + int(np.count_nonzero(differs))
        del differs
        lo, hi = _fast.column_min(xs), _fast.column_max(xs)
    # The spread is checked before any sum over the rows: values near the
    # largest float would overflow the mean itself.
    with np.errstate(over="ignore"):
        too_far = bool(np.any(~np.isfinite(hi - lo)) or np.any(np.abs(lo) > _MAX_SPREAD)
                       or np.any(np.abs(hi) > _MAX_SPREAD))
    if too_far:
        return _Summary(dim, distinct, True)
    shift = lo + _sums_from(xs, lo) / n  # (xs - lo).mean(axis=0), the same bits
    # max |x| is max(|lo|, |hi|): no (n, D) temporary for it.
    floor = (_COLLAPSE * _EPS * np.maximum(np.abs(lo), np.abs(hi))) ** 2
    xc = xs  # centred in place (see above)
    xc -= shift
    if float(max(np.abs(xc.min()), np.abs(xc.max()))) > _MAX_SPREAD:
        return _Summary(dim, distinct, True)
    global_cov = _scatter(xc) / n
    spread = np.sqrt(np.diagonal(global_cov))
    return _Summary(dim, distinct, False, shift, floor, global_cov, np.where(spread > 0, spread, 1.0))


# --------------------------------------------------------------------------- the fit


class EMFit:
    """A semi-supervised EM fit that advances one iteration at a time.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
        Numbers; NaN marks a blank value (each row needs one observed
        value).  A row with blanks takes part through its observed values.
    labels : array_like of int, shape (n_rows,), optional
        -1 = unknown, 0..K-1 = a known class (fixed during the fit).  None: all
        unknown.
    n_components : int, optional
        K.  Default: max(labels) + 1 if any label is known, else 2.  K may
        exceed the classes seen.
    max_iter : int, default 300
        E+M iterations per start.
    tol : float, default 1e-6
        Converged when |LL_i - LL_{i-1}| <= tol * max(1, |LL_i|).
    reg_covar : float, default 1e-6
        Added to every covariance diagonal: keeps a class with one distinct
        value (or one row) from collapsing to zero spread.
    n_init : int, optional
        Starts; the best log-likelihood is kept.  Default 5 without labels
        (k-means++ seeds) and 1 with labels.  With labels, start 0 is the
        typed rows' own statistics and the others seeded k-means groups
        matched to the typed classes.
    seed : int, default 0
        Seeds the k-means++ initialisation; the same seed gives the same fit.
    sorted_rows : SortedRows, optional
        :func:`sort_rows` of these very ``X`` and ``labels`` (unchanged
        since), made beforehand, maybe on another thread; ignored for other
        arrays.  The fit is the same with or without it.
    starts : Starts, optional
        Starting parameters shared with other fits of these very ``X`` and
        ``labels``; ignored for other arrays.  The fit is the same with or
        without it.

    Raises
    ------
    MixtureError
        No rows, a non-finite value, labels out of range, K < 1, fewer
        distinct rows than classes, or a setting out of range.

    Notes
    -----
    Initialisation: when every class has at least 2 labelled rows, the
    labelled rows' statistics (weights from the label counts).  Otherwise
    k-means++ seeding for the classes without labels (centres of labelled
    classes fixed at their labelled mean), a few k-means steps with labelled
    rows fixed, and the statistics of that partition.

    With no labels at all the components are ordered by the mean of the first
    feature in every snapshot and in the result, so class "1" is always the
    lowest.

    The log-likelihood never decreases from one iteration to the next (up to
    rounding).  Adding ``reg_covar`` to a class barely wider than it can lower
    the likelihood; that iteration then floors the covariance eigenvalues at
    ``reg_covar`` instead, which cannot (a generalised EM step).

    A class whose variance falls to rounding noise, or whose rows nearly lie
    on a line (with two or more features), raises :class:`MixtureError`
    rather than returning meaningless numbers; with no labels, such a start
    is dropped and the other starts carry on.
    """

    def __init__(
        self,
        X,
        labels=None,
        n_components=None,
        *,
        max_iter=300,
        tol=1e-6,
        reg_covar=1e-6,
        n_init=None,
        seed=0,
        covariance="separate",
        init=None,
        sorted_rows: SortedRows | None = None,
        starts: Starts | None = None,
    ) -> None:
        x = _as_rows(X, missing=True)
        n, dim = x.shape
        lab = _as_labels(labels, n)
        has_labels = bool((lab >= 0).any())
        if n_components is None:
            k = int(lab.max()) + 1 if has_labels else 2
        else:
            k = _as_int(n_components, "The number of classes", 1)
        if lab.max() >= k:
            raise MixtureError(
                f"Label {int(lab.max())} is out of range for {k} classes: "
                f"use codes 0..{k - 1} or ask for more classes."
            )
        self.n_components = k
        self.max_iter = _as_int(max_iter, "max_iter", 0)
        self.tol = _as_nonnegative(tol, "tol")
        self.reg_covar = _as_nonnegative(reg_covar, "reg_covar")
        # Without labels several random starts are the rule; with labels the
        # typed rows' start alone, unless more starts are asked for (the fill
        # asks for 5: see emgui.core.trust.fit_model).
        if n_init is None:
            n_init = 1 if has_labels else 5
        self.n_init = _as_int(n_init, "n_init", 1)
        self.seed = _as_int(seed, "seed", 0)
        if covariance not in COVARIANCES:
            raise MixtureError(
                f"covariance must be one of {', '.join(COVARIANCES)}, got {covariance!r}."
            )
        self.covariance = covariance

        # Rows with some features blank (NaN) take part through their observed
        # values (see _fast.Incomplete); the starts come from a copy with each
        # blank replaced by its column's (or typed class's) mean.
        # (Every value finite, the usual case, is one quick test; row by row
        # it is ~15 ms for a million rows of five.)
        complete = None if dim == 1 or np.isfinite(x).all() else np.isfinite(x).all(axis=1)
        self._helper: EMFit | None = None
        self._incomplete: _fast.Incomplete | None = None
        parts = None  # one feature: each group's values sorted (see below)
        if complete is not None and not complete.all():
            imputed = _imputed_for_start(x, lab, k)
            # Its rows are made from these: the starts of these rows are its starts.
            shared = starts.sharing(imputed, lab) if starts is not None and starts.covers(X, labels) else None
            self._helper = EMFit(
                imputed, lab, k, max_iter=max_iter, tol=tol, reg_covar=reg_covar, n_init=n_init,
                seed=seed, covariance=covariance, init=init, starts=shared,
            )
            del imputed, shared
            self._shift = self._helper._shift
            self._floor = self._helper._floor
            self._global_cov = self._helper._global_cov
            self._spread = self._helper._spread
            part = np.flatnonzero(~complete)
            xi = x[part] - self._shift
            order = np.lexsort(xi.T[::-1])  # canonical: the same rows in any order give the same sums
            self._incomplete = _fast.Incomplete(xi[order], lab[part][order], k, _QUAD_MAX_COLUMNS, _QUAD_MAX_BYTES)
            x_full, lab_full = x[complete], lab[complete]
        else:
            x_full, lab_full = x, lab
        # Several features: the complete rows are sorted once, and the
        # unlabelled rows and each class's rows taken from that order (a
        # subset of sorted rows is sorted).  With ties in the first feature
        # (values to 0.1 cm) sorting is a lexsort; four of them per fit were
        # most of a 5-feature fill's time on a busy machine.  The sorted rows
        # are centred in place once the shift is known; each group is then
        # taken from them with compress (the same values as subtracting the
        # shift from each group: ~40 ms less for a million rows of five).
        xs = ls = parts = known = None
        # Rows sorted (and centred) beforehand count for the very arrays
        # given (their values unchanged since: the caller's promise), every
        # row complete.
        if not (sorted_rows is not None and sorted_rows.X is X and sorted_rows.labels is labels
                and x_full is x and self._helper is None and dim > 1):
            sorted_rows = None
        if dim > 1:
            if sorted_rows is None:
                found = _sorted_on_grid(x_full, lab_full, k)
            else:
                found = (sorted_rows.rows, sorted_rows.row_labels, None)
            if found is not None:
                xs, ls, known = found
            else:
                at = _canonical_order(x_full)
                # take, not x_full[at]: the same rows, ~3x faster for rows of a few values.
                xs, ls = np.take(x_full, at, axis=0), lab_full[at]
                del at
            del found
        if self._helper is None:
            if dim == 1 and n > 1:
                # One feature: each group (blank, each class) sorted once, and
                # all rows' canonical order merged from those sorted runs (a
                # stable sort merges runs in linear time): a million rows sort
                # in ~50 ms less than sorting all of them and each group again.
                col = x[:, 0]
                counted = _counted_on_grid(col, lab, k)
                if counted is None:
                    parts = {j: np.sort(col[lab == j]) for j in range(-1, k)}
                    merged = np.concatenate(list(parts.values()))
                    merged.sort(kind="stable")
                    self._init_shift(x, k, merged[:, None])
                    del merged
                else:
                    # On a grid, every value sorted is made, summarised and
                    # let go before the groups are made from the same counts:
                    # not both at once (a million rows: this set-up's traced
                    # peak 25.6 -> 20.9 MB with the counting in blocks; the
                    # window's refit, issue 14 item 3, <= 300 MB).
                    grid, counts = counted
                    merged = _repeat(grid, counts.sum(axis=1))
                    self._init_shift(x, k, merged[:, None])
                    del merged
                    parts = {j: _repeat(grid, counts[:, j + 1]) for j in range(-1, k)}
                    del grid, counts
                del counted
            elif sorted_rows is not None:
                self._use_summary(sorted_rows.summary, k)  # its rows are centred already
            else:
                self._init_shift(x, k, xs, known)  # centres xs
        elif xs is not None:
            xs -= self._shift

        self._dim = dim
        self._n = n
        self._has_labels = has_labels
        self._labels = lab
        self._unl_rows = np.flatnonzero(lab < 0)
        self._xu_input_order = np.take(x, self._unl_rows, axis=0)
        self._xu_input_order -= self._shift
        def unlabelled() -> tuple[np.ndarray, tuple[np.ndarray, float]]:
            """The rows every E-step sweeps, in canonical order and centred, and their reach."""
            if parts is not None:
                # Sorting commutes with subtracting the shift (a monotone map): the
                # same values; in place, as each group's sorted copy is its own.
                parts[-1] -= self._shift
                xu = parts[-1][:, None]
            elif xs is not None:
                xu = np.compress(ls < 0, xs, axis=0)
            else:
                xu = np.ascontiguousarray(_canonical(self._xu_input_order))
            return xu, _fast.reach_of(xu)

        def labelled() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Each class's typed rows (with every value) as constant sums: count, mean, scatter about it."""
            # Counted with the blanks as a group of their own, dropped after: no
            # masked copy of the labelled rows (1M rows ~1.5 ms instead of ~4.9).
            n_lab = np.bincount(lab_full + 1, minlength=k + 1)[1:].astype(np.float64)
            mean_lab = np.zeros((k, dim))
            scatter_lab = np.zeros((k, dim, dim))
            for j in np.flatnonzero(n_lab):
                if parts is not None:
                    rows = parts[j][:, None]
                    rows -= self._shift
                elif xs is not None:
                    rows = np.compress(ls == j, xs, axis=0)
                else:
                    rows = _canonical(x_full[lab_full == j]) - self._shift
                mean_lab[j] = rows.mean(axis=0)
                # In place: each group's rows are this loop's own (a copy, or a
                # sorted part let go below), and a fresh (n, D) array costs its
                # pages here (issue 14: the 5-feature fill's set-up).
                rows -= mean_lab[j]
                scatter_lab[j] = _scatter(rows)
                del rows
            return n_lab, mean_lab, scatter_lab

        # Rows sorted on the grid: the two, each a few large numpy calls on
        # its own groups of rows, side by side when there is a second core
        # (see emgui.core._parallel; the same arrays either way).
        if xs is not None and parts is None:
            (self._xu, reach), sums = _parallel.run(lambda make: make(), [unlabelled, labelled])
        else:
            self._xu, reach = unlabelled()
            sums = labelled()
        self._n_lab, self._mean_lab, self._scatter_lab = sums
        self._scale, self._radius = reach
        del sums, reach

        n_u = self._xu.shape[0]
        # The engine exact for any parameters, made on first use: with 2-4
        # features the monomial engine below usually serves every iteration,
        # and Whitened keeps its own (D+1, n) copy of the rows.
        self._exact: _fast.Precise | _fast.Whitened | None = None
        parts = xs = ls = None  # the sorted groups go (the closures above hold these names)
        self._fast: _fast.TwoClassLine | _fast.QuadraticFeatures | None = None
        p = _fast.QuadraticFeatures.n_columns(dim)
        if n_u and dim == 1 and k == 2:
            self._fast = _fast.TwoClassLine(self._xu[:, 0])
        elif n_u and p <= _QUAD_MAX_COLUMNS and n_u * p * 8 <= _QUAD_MAX_BYTES:
            self._fast = _fast.QuadraticFeatures(self._xu, k)

        self._init: _Theta | None = None
        # Shared starts; with a helper, it makes the starts (and took these).
        covered = starts is not None and starts.covers(X, labels) and self._helper is None
        self._starts = starts if covered else None
        if self._helper is not None:
            self._n_starts, self._seeds = self._helper._n_starts, self._helper._seeds
        elif init is not None:
            w, mu, cov = _as_params(*init, dim=dim)
            if w.shape[0] != k:
                raise MixtureError(f"The starting parameters have {w.shape[0]} classes, not {k}.")
            self._init = _Theta(w / w.sum(), mu - self._shift, cov.copy())
        # One start from given parameters; otherwise the typed rows' start
        # (with labels) and seeded k-means starts: with few typed rows per
        # class, the typed start alone often ends in a poor local optimum.
        if self._helper is None:
            seeded = self._xu.shape[0] >= k  # seeded starts need unlabelled rows to seed from
            self._n_starts = 1 if init is not None or (has_labels and not seeded) else self.n_init
            self._seeds = np.random.SeedSequence(self.seed).spawn(self._n_starts)
        self._start = 0
        self._run: _Run | None = None
        self._runs: list[_Run] = []
        self._last: Snapshot | None = None
        self._finished = False
        self._cancel = threading.Event()
        self._lock = threading.RLock()

    def _init_shift(self, x: np.ndarray, k: int, xs: np.ndarray | None = None, known: tuple | None = None) -> None:
        """The shift, collapse floor and spread of complete rows ``x`` (n, D); checks them.

        ``xs``: the same rows already in canonical order, the caller's own
        array: centred in place (no copy of a million rows).  ``known``: see
        :func:`_summarise`.
        """
        # Every group of rows (all, unlabelled, each class) is put in a
        # canonical order: sorted by the features, first feature first.  Rows
        # that tie are equal, so the sorted values do not depend on the input
        # order, and neither does anything computed from them below.
        xs = _canonical(x) if xs is None else xs
        self._use_summary(_summarise(xs, known), k)

    def _use_summary(self, summary: _Summary, k: int) -> None:
        if summary.distinct < k:
            what = ("value" if summary.dim == 1 else "row") + ("" if summary.distinct == 1 else "s")
            raise MixtureError(
                f"Only {summary.distinct} distinct {what} for {k} classes: "
                "enter more measurements or fewer classes."
            )
        if summary.too_far:
            raise MixtureError("The values are too far apart to fit together: check their units.")
        self._shift, self._floor = summary.shift, summary.floor
        self._global_cov, self._spread = summary.global_cov, summary.spread

    # ----------------------------------------------------------------- public

    def __iter__(self) -> Iterator[Snapshot]:
        """Yield the initial parameters, then one snapshot per E+M iteration.

        Stops when every start has converged or hit ``max_iter``, or after
        :meth:`cancel`.  Raises :class:`MixtureError` like :meth:`step`.
        """
        while (snap := self._next()) is not None:
            yield snap

    def step(self) -> Snapshot:
        """Advance exactly one iteration and return its snapshot.

        The first call returns iteration 0 (the initial parameters).  Once
        :attr:`done`, returns the last snapshot again without doing anything.

        Raises
        ------
        MixtureError
            The data cannot support the model (e.g. a class collapsed).
        RuntimeError
            The fit was cancelled before its first iteration.
        """
        snap = self._next()
        if snap is not None:
            return snap
        if self._last is None:
            raise RuntimeError("The fit was stopped before its first iteration.")
        return self._last

    def cancel(self) -> None:
        """Ask the fit to stop at the next iteration boundary (thread-safe)."""
        if not self._finished:
            self._cancel.set()

    @property
    def done(self) -> bool:
        """True once every start has finished, or after :meth:`cancel`."""
        return self._finished or self._cancel.is_set()

    @property
    def cancelled(self) -> bool:
        """True if :meth:`cancel` stopped the fit."""
        return self._cancel.is_set()

    def result(self) -> MixtureResult:
        """The best start's latest state, with posteriors for every row.

        After :attr:`done` this is the final result; before, the best state so
        far (a fresh fit is first initialised).  With no labels the
        components are ordered by the mean of the first feature.
        """
        with self._lock:
            runs = list(self._runs)
            if self._run is not None:
                runs.append(self._run)
            if not runs:
                self.step()
                return self.result()
            best = max(runs, key=lambda r: r.ll)
            weights, means, cov = self._present(best.theta)
            return MixtureResult(
                weights=weights,
                means=means,
                covariances=cov,
                log_likelihood=best.ll,
                n_iter=best.iteration,
                converged=best.converged,
                history=tuple(best.history),
                _posteriors_of=self._posterior_maker(best.theta),
            )

    # ----------------------------------------------------------------- stepping

    def _next(self) -> Snapshot | None:
        """Advance one iteration; None when there is nothing left to do."""
        with self._lock:
            while not self.done:
                try:
                    snap = self._advance()
                except MixtureError:
                    if self._n_starts > 1 and self._start + 1 < self._n_starts:
                        # One unlucky random start; the others may be fine.
                        self._run = None
                        self._start += 1
                        continue
                    self._run = None
                    self._finished = True
                    if self._runs:
                        return None
                    raise
                self._last = snap
                return snap
            return None

    def _advance(self) -> Snapshot:
        run = self._run
        if run is None:
            theta = self._initial_theta(self._start)
            ll, sweep = self._evaluate(theta)
            run = _Run(self._start, theta, ll, sweep, finished=self.max_iter == 0)
            self._run = run
        else:
            previous = run.ll
            theta = self._m_step(run.sweep)
            ll, sweep = self._evaluate(theta)
            if self.reg_covar > 0.0 and ll < previous - _SLACK * max(1.0, abs(previous)):
                # reg_covar added to a class barely wider than reg_covar can
                # lower the likelihood.  Flooring the eigenvalues instead is a
                # constrained M-step that the previous parameters satisfy, so
                # the likelihood cannot go down (generalised EM).
                clipped = self._m_step(run.sweep, clip=True)
                ll2, sweep2 = self._evaluate(clipped)
                if ll2 > ll:
                    theta, ll, sweep = clipped, ll2, sweep2
            run.theta, run.ll, run.sweep = theta, ll, sweep
            run.iteration += 1
            run.history.append(ll)
            run.converged = abs(ll - previous) <= self.tol * max(1.0, abs(ll))
            run.finished = run.converged or run.iteration >= self.max_iter
        weights, means, cov = self._present(run.theta)
        snap = Snapshot(
            iteration=run.iteration,
            log_likelihood=run.ll,
            weights=weights,
            means=means,
            covariances=cov,
            converged=run.converged,
            start=run.start,
        )
        if run.finished:
            self._runs.append(run)
            self._run = None
            self._start += 1
            if self._start >= self._n_starts:
                self._finished = True
        return snap

    def _order(self, theta: _Theta) -> np.ndarray:
        return np.argsort(theta.means[:, 0], kind="stable")

    def _present(self, theta: _Theta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read-only copies in the caller's coordinates (and order, if unlabelled)."""
        weights, means, cov = theta.weights, theta.means + self._shift, theta.covariances
        if not self._has_labels:
            order = self._order(theta)
            weights, means, cov = weights[order], means[order], cov[order]
        out = []
        for a in (weights, means, cov):
            a = np.array(a, dtype=np.float64)
            a.flags.writeable = False
            out.append(a)
        return out[0], out[1], out[2]

    def _posterior_maker(self, theta: _Theta) -> Callable[[np.ndarray | None], np.ndarray]:
        """A function giving the posteriors of rows (all rows for None) under ``theta``.

        It holds the parameters (theta is replaced, never changed, as EM
        goes on) and the unlabelled rows, not the fit: a result may outlive it.
        """
        k, labels, unl_rows, xu = self.n_components, self._labels, self._unl_rows, self._xu_input_order
        order = None if self._has_labels else self._order(theta)

        def posteriors_of(rows: np.ndarray | None) -> np.ndarray:
            if rows is not None and len(rows) == len(unl_rows) and np.array_equal(rows, unl_rows):
                # Just the unlabelled rows (the blanks of a fill): computed in place.
                post = _normalise_in_place(_weighted_log_prob_any(xu, *theta))
            else:
                lab = labels if rows is None else labels[rows]
                post = np.empty((len(lab), k))
                for j in range(k):  # a labelled row is certain: 1 for its class, 0 for the others
                    np.equal(lab, j, out=post[:, j])
                if rows is None:
                    at, which = unl_rows, slice(None)
                else:  # the unlabelled ones among ``rows``, and where they are in ``xu``
                    at = np.flatnonzero(lab < 0)
                    which = np.searchsorted(unl_rows, rows[at])
                if len(at):
                    post[at] = _normalise_in_place(_weighted_log_prob_any(xu[which], *theta))
            if order is not None:
                post = post[:, order]
            if rows is None:
                post.flags.writeable = False  # kept by the result, and shared
            return post

        return posteriors_of

    # ----------------------------------------------------------------- E and M

    def _evaluate(self, theta: _Theta) -> tuple[float, _fast.Sweep]:
        """LL(θ) and the sweep statistics for the next M-step."""
        if not all(np.isfinite(a).all() for a in theta):
            raise MixtureError(
                "The fit broke down numerically: check the values' units, "
                "use fewer classes, or raise reg_covar."
            )
        if (np.diagonal(theta.covariances, axis1=1, axis2=2) < self._floor).any():
            raise MixtureError(
                "A class collapsed onto a single value: "
                "enter more measurements, use fewer classes, or raise reg_covar."
            )
        if self._dim > 1:
            sd = np.sqrt(np.diagonal(theta.covariances, axis1=1, axis2=2))
            corr = theta.covariances / (sd[:, :, None] * sd[:, None, :])
            if (np.linalg.eigvalsh(corr)[:, 0] < _FLAT).any():
                raise MixtureError(
                    "A class is too flat to compute with (its rows nearly lie on a line): "
                    "enter more measurements, use fewer classes or features, or raise reg_covar."
                )
        g = _factorise(*theta)
        sweep = self._sweep(g)
        if self._incomplete is not None:
            try:
                sweep = _fast.merge(sweep, self._incomplete.sweep(*theta))
            except np.linalg.LinAlgError:
                raise MixtureError(
                    "A class collapsed onto too few distinct values to have a spread: "
                    "enter more measurements, use fewer classes, or raise reg_covar."
                ) from None
        ll = float(self._labelled_ll(g) + sweep.ll)
        if not math.isfinite(ll):
            raise MixtureError(
                "The fit broke down numerically: check the values' units, "
                "use fewer classes, or raise reg_covar."
            )
        return ll, sweep

    def sweep_about(self, g: _fast.Gaussians, origin: np.ndarray) -> _fast.Sweep:
        """One E-step over this fit's unlabelled rows, for Gaussians centred on ``origin``.

        ``g``'s means and the returned first moments ``s1`` are taken about
        ``origin`` (the fit itself works about its own ``shift``); the other
        sums do not depend on it.  The Dask engine sums these over the parts
        of a data set, each part an EMFit of its own rows.
        """
        delta = self._shift - np.asarray(origin, dtype=float)
        sweep = self._sweep(g._replace(means=g.means - delta))
        return sweep._replace(s1=sweep.s1 + np.outer(sweep.s0, delta))

    def _sweep(self, g: _fast.Gaussians) -> _fast.Sweep:
        if self._xu.shape[0] == 0:
            return _fast.empty_sweep(self.n_components, self._dim)
        if (
            self._fast is not None
            and _fast.condition(g, self._scale, self._radius) <= _fast.CONDITION_LIMIT
        ):
            sweep = self._fast.sweep(g)
            if sweep is not None:
                return sweep
        if self._exact is None:
            self._exact = _fast.exact_engine(self._xu, self.n_components, (self._scale, self._radius))
        return self._exact.sweep(g)

    def _labelled_ll(self, g: _fast.Gaussians) -> float:
        """Σ_labelled log π_y N(x | μ_y, Σ_y) from the constant per-class sums."""
        total = 0.0
        for j in np.flatnonzero(self._n_lab):
            nj = self._n_lab[j]
            c = g.prec_chol[j]
            # tr(P W) with P = C Cᵀ, plus n δᵀPδ: the scatter about μ_j.
            trace = float(np.sum(c * (self._scatter_lab[j] @ c)))
            y = (self._mean_lab[j] - g.means[j]) @ c
            total += nj * (g.log_weights[j] + g.half_log_det[j] - 0.5 * self._dim * _LOG_2PI)
            total -= 0.5 * (trace + nj * float(y @ y))
        return total

    def _m_step(self, sweep: _fast.Sweep, clip: bool = False) -> _Theta:
        """Weights, means, covariances from labelled sums plus the sweep's.

        clip=False: covariance + reg_covar on the diagonal (scikit-learn).
        clip=True: covariance eigenvalues raised to at least reg_covar, the
        maximiser of the expected log-likelihood among covariances with that
        floor; used when the first lowered the log-likelihood.
        """
        n_lab, m_lab, w_lab = self._n_lab, self._mean_lab, self._scatter_lab
        s0, s1 = sweep.s0, sweep.s1
        nk = n_lab + s0 + 10 * _EPS
        means = (n_lab[:, None] * m_lab + s1) / nk[:, None]
        # Scatter about the new means, by the parallel-axis rule from each
        # part's own mean: labelled rows, then unlabelled responsibilities.
        dl = m_lab - means
        du = s1 / np.where(s0 > 0.0, s0, 1.0)[:, None] - means
        du[s0 <= 0.0] = 0.0
        scatter = (
            w_lab
            + sweep.scatter
            + np.einsum("k,ki,kj->kij", n_lab, dl, dl)
            + np.einsum("k,ki,kj->kij", s0, du, du)
        )
        if self.covariance == "shared":
            cov = np.broadcast_to(scatter.sum(axis=0) / nk.sum(), scatter.shape).copy()
        else:
            cov = scatter / nk[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        if clip:
            vals, vecs = np.linalg.eigh(cov)
            vals = np.maximum(vals, self.reg_covar)
            cov = np.einsum("kij,kj,klj->kil", vecs, vals, vecs)
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        else:
            cov += self.reg_covar * np.eye(self._dim)
        return _Theta(nk / nk.sum(), means, cov)

    # ----------------------------------------------------------------- initialisation

    def _initial_theta(self, start: int) -> _Theta:
        if self._helper is not None:  # the same shift: its parameters are ours
            return self._helper._initial_theta(start)
        if self._init is not None:
            return self._init
        if self._starts is None:
            theta = self._start_theta(start)
        else:
            key = (self.n_components, self.seed, start, self.reg_covar)
            theta = self._starts.get(key, lambda: self._start_theta(start))
        if self.covariance == "shared":
            pooled = np.einsum("k,kij->ij", theta.weights, theta.covariances)
            theta = _Theta(theta.weights, theta.means, np.broadcast_to(pooled, theta.covariances.shape).copy())
        return theta

    def _start_theta(self, start: int) -> _Theta:
        """Start ``start``'s parameters, before a shared covariance pools them."""
        rng = np.random.default_rng(self._seeds[start])
        if self._has_labels and start > 0 and self._xu.shape[0] >= self.n_components:
            return self._matched_theta(rng)
        if (self._n_lab >= 2).all():
            return self._typed_theta()
        return self._anchored_theta(rng)

    def _typed_theta(self) -> _Theta:
        """The typed rows' own statistics (every class has at least 2 typed rows).

        A class with fewer typed rows than features + 2 has a singular or
        nearly singular covariance; it starts from the typed rows' pooled
        within-class covariance instead (the spread of all rows when even
        that has too few rows), shrunk towards by as many pseudo-rows as it lacks.
        """
        dim, n_lab = self._dim, self._n_lab
        eye = np.eye(dim)
        need = dim + 2
        pooled_n = float(n_lab.sum() - len(n_lab))
        target = self._scatter_lab.sum(axis=0) / pooled_n if pooled_n >= need else self._global_cov
        short = np.maximum(need - n_lab, 0.0)
        cov = (self._scatter_lab + short[:, None, None] * target) / (n_lab + short)[:, None, None]
        return _Theta(n_lab / n_lab.sum(), self._mean_lab.copy(), cov + self.reg_covar * eye)

    def _sample(self, rng: np.random.Generator) -> np.ndarray:
        """At most _KMEANS_ROWS unlabelled rows: a start is cheap on a million rows, and EM refines it."""
        xu = self._xu
        if xu.shape[0] > _KMEANS_ROWS:
            return xu[np.sort(rng.choice(xu.shape[0], _KMEANS_ROWS, replace=False))]
        return xu

    def _seed_centres(self, sample: np.ndarray, centres: np.ndarray, have: np.ndarray, rng) -> None:
        """k-means++ seeds for the classes not in ``have`` (the others' centres given); in place."""
        d2 = np.full(sample.shape[0], np.inf)
        for j in np.flatnonzero(have):
            d2 = np.minimum(d2, self._dist2(sample, centres[j]))
        for j in np.flatnonzero(~have):
            total = float(d2.sum()) if np.isfinite(d2).all() else math.inf
            if math.isfinite(total) and total > 0.0:
                # k-means++: a row with probability ∝ its squared distance.
                pick = int(np.searchsorted(np.cumsum(d2), rng.random() * total, side="right"))
                pick = min(pick, sample.shape[0] - 1)
            else:
                pick = int(rng.integers(sample.shape[0]))
            centres[j] = sample[pick]
            d2 = np.minimum(d2, self._dist2(sample, centres[j]))

    def _anchored_theta(self, rng: np.random.Generator) -> _Theta:
        """k-means with each typed class's centre anchored by its typed rows; seeds for the others."""
        centres = self._mean_lab.copy()
        if self._xu.shape[0]:
            sample = self._sample(rng)
            self._seed_centres(sample, centres, self._n_lab > 0, rng)
            self._lloyd(sample, centres, self._xu.shape[0] / sample.shape[0])
            assign = self._nearest(self._xu, centres)
        else:
            assign = np.zeros(0, dtype=np.intp)
        return self._partition_theta(assign, centres)

    def _matched_theta(self, rng: np.random.Generator) -> _Theta:
        """Free k-means on the unlabelled rows, its groups matched to the typed classes.

        The typed rows then join their own class.  Unlike the typed rows'
        start, this one does not depend on the few typed rows of each class
        being typical of it.
        """
        k = self.n_components
        sample = self._sample(rng)
        centres = np.zeros((k, self._dim))
        self._seed_centres(sample, centres, np.zeros(k, dtype=bool), rng)
        self._lloyd(sample, centres, self._xu.shape[0] / sample.shape[0], anchored=False)
        typed = np.flatnonzero(self._n_lab > 0)
        cost = np.stack([self._dist2(centres, self._mean_lab[j]) for j in typed])  # (typed, k)
        order = _match(cost)
        rest = [c for c in range(k) if c not in set(order)]
        mapping = np.empty(k, dtype=np.intp)  # class -> centre
        mapping[typed] = order
        # The untyped classes in order (a list, not np.setdiff1d: numpy's
        # plain unique under it imports numpy.ma, ~7 ms of a command-line run).
        typed_set = set(typed.tolist())
        mapping[[j for j in range(k) if j not in typed_set]] = rest
        centres = centres[mapping]
        return self._partition_theta(self._nearest(self._xu, centres), centres)

    def _partition_theta(self, assign: np.ndarray, centres: np.ndarray) -> _Theta:
        """Weights, means and covariances of a hard partition: typed rows in their class."""
        k, dim = self.n_components, self._dim
        eye = np.eye(dim)
        xu = self._xu
        n_lab, m_lab, w_lab = self._n_lab, self._mean_lab, self._scatter_lab
        weights = np.empty(k)
        means = np.empty((k, dim))
        cov = np.empty((k, dim, dim))
        for j in range(k):
            rows = xu[assign == j]
            nu = rows.shape[0]
            ntot = n_lab[j] + nu
            weights[j] = max(ntot, 1.0)
            if ntot == 0:
                means[j] = centres[j]
                cov[j] = self._global_cov + self.reg_covar * eye
                continue
            mu_u = rows.mean(axis=0) if nu else np.zeros(dim)
            mean = (n_lab[j] * m_lab[j] + nu * mu_u) / ntot
            means[j] = mean
            if ntot < 2:
                cov[j] = self._global_cov + self.reg_covar * eye
                continue
            diff = rows - mu_u
            dl, du = m_lab[j] - mean, mu_u - mean
            scatter = w_lab[j] + diff.T @ diff + n_lab[j] * np.outer(dl, dl) + nu * np.outer(du, du)
            # A group of fewer rows than features + 2 is shrunk towards the
            # spread of all rows rather than started (nearly) singular.
            short = max(dim + 2 - ntot, 0.0)
            cov[j] = (scatter + short * self._global_cov) / (ntot + short) + self.reg_covar * eye
        return _Theta(weights / weights.sum(), means, cov)

    def _dist2(self, rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """Squared distances in units of each feature's spread, shape (n,)."""
        z = (rows - centre) / self._spread
        return np.einsum("ij,ij->i", z, z)

    def _nearest(self, rows: np.ndarray, centres: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Index of the nearest centre for each row (the first of equals), shape (n,).

        Every centre's distances at once, a block of rows at a time: the
        same numbers as :meth:`_dist2` gives a centre at a time (the same
        operations on each value, each row's sum in the same order), in a
        few numpy calls instead of three a centre (the 5-feature model
        choice on 10,000 rows ~3 % faster, issue 14).  The differences are
        made a feature at a time from ``columns`` (``rows.T``, contiguous;
        made here if not given) into the rows' layout: broadcast over rows
        of five values, numpy's loop ran once per row (3,000 rows, 2
        centres: 280 -> 83 µs, the same bits).  Then a centre at a time
        (argmin's answer for finite distances): an argmin over an (n, K)
        stack took as long as the distances.
        """
        n, k = rows.shape[0], len(centres)
        if columns is None:
            columns = np.ascontiguousarray(rows.T)
        nearest = np.zeros(n, dtype=np.intp)
        step = max(1, _NEAREST_VALUES // max(1, k * rows.shape[1]))
        spread = self._spread[:, None]
        for start in range(0, n, step):
            stop = min(start + step, n)
            z = np.empty((k, stop - start, rows.shape[1]))
            zt = z.transpose(0, 2, 1)  # (k, D, m) view of the (k, m, D) rows' layout
            np.subtract(columns[None, :, start:stop], centres[:, :, None], out=zt)
            zt /= spread
            dist = np.einsum("kij,kij->ki", z, z)
            del z, zt
            best = dist[0]
            near = nearest[start:stop]
            for j in range(1, k):
                closer = dist[j] < best
                np.copyto(best, dist[j], where=closer)
                near[closer] = j
        return nearest

    def _lloyd(self, rows: np.ndarray, centres: np.ndarray, scale: float, anchored: bool = True) -> None:
        """k-means steps on unlabelled `rows`, labelled rows fixed; updates `centres`.

        Each row stands for `scale` unlabelled rows (a sample of them).  With
        ``anchored`` False the labelled rows take no part.
        """
        k = self.n_components
        n_lab, m_lab = self._n_lab, self._mean_lab
        if not anchored:
            n_lab = np.zeros_like(n_lab)
        assign = None
        columns = np.ascontiguousarray(rows.T)  # each feature's values side by side, for bincount
        for _ in range(_LLOYD_ITERATIONS):
            new = self._nearest(rows, centres, columns)
            if assign is not None and np.array_equal(new, assign):
                break
            assign = new
            counts = scale * np.bincount(assign, minlength=k)
            sums = scale * np.stack([np.bincount(assign, weights=col, minlength=k) for col in columns], axis=1)
            tot = n_lab + counts
            ok = tot > 0
            centres[ok] = (n_lab[ok, None] * m_lab[ok] + sums[ok]) / tot[ok, None]


def fit(X, labels=None, n_components=None, **kwargs) -> MixtureResult:
    """Run :class:`EMFit` to the end and return its result.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
    labels : array_like of int, shape (n_rows,), optional
        -1 = unknown.
    n_components : int, optional
    **kwargs
        ``max_iter``, ``tol``, ``reg_covar``, ``n_init``, ``seed`` (see
        :class:`EMFit`).

    Returns
    -------
    MixtureResult
    """
    em = EMFit(X, labels, n_components, **kwargs)
    for _ in em:
        pass
    return em.result()
