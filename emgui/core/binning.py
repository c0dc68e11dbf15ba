"""Histograms of a feature per class, for the plot, computed without Qt.

Binning a million heights takes ~50 ms; kept here (numpy only) it can run
in a loader thread, so the window only draws the counts.
:attr:`emgui.core.fill.FitInput.histogram` keeps the one of a fit's input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Histogram", "group_histogram", "histogram_edges", "group_counts"]

MIN_BINS = 8
MAX_BINS = 100


@dataclass(frozen=True)
class Histogram:
    """Counts of values per bin, for all rows split by class.

    Attributes
    ----------
    edges : ndarray, (n_bins + 1,)
        Uniform bin edges.
    counts : ndarray, (n_classes + 1, n_bins)
        Row 0 counts the unlabelled values, row ``k + 1`` class ``k``'s.
    n_values : int
        How many values were binned (the finite ones).
    """

    edges: np.ndarray
    counts: np.ndarray
    n_values: int


def group_histogram(values: np.ndarray, labels: np.ndarray, n_classes: int) -> Histogram | None:
    """The histogram of the finite ``values`` by class, or None when there are none.

    Parameters
    ----------
    values : ndarray, (n,)
    labels : ndarray of int, (n,)
        Class index per value, -1 for unlabelled.
    n_classes : int
        Number of classes (rows of counts after the unlabelled one).
    """
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels)
    ok = np.isfinite(values)
    if ok.all():
        v, g = values, labels  # the usual case (a fit's input): no copies
    else:
        v, g = values[ok], labels[ok]
    if v.size == 0:
        return None
    edges = histogram_edges(v)
    groups = g.astype(np.intp) + 1  # -1 (unlabelled) -> 0; intp: the bin index below multiplies it
    np.maximum(groups, 0, out=groups)
    return Histogram(edges, group_counts(v, groups, edges, n_classes + 1), int(v.size))


def histogram_edges(values: np.ndarray) -> np.ndarray:
    """Shared bin edges for ``values``, shape (n_bins + 1,).

    Rice's rule clipped to a readable count; data written to a resolution
    (whole cm, half inches, tenths) gets bins that are a multiple of it,
    centred on the written values, avoiding a comb of empty and double bins.
    """
    lo, hi = float(values.min()), float(values.max())
    n_bins = int(np.clip(round(2.0 * values.size ** (1.0 / 3.0)), MIN_BINS, MAX_BINS))
    if hi <= lo:
        half = max(abs(lo) * 0.05, 0.5)
        return np.linspace(lo - half, hi + half, MIN_BINS + 1)
    width = (hi - lo) / n_bins
    sample = values[:: max(1, values.size // 10_000)]
    for step in (1.0, 0.5, 0.1):  # the resolution most values were written with
        if np.mean(np.abs(sample / step - np.round(sample / step)) < 1e-6) >= 0.9:
            width = step * max(1, round(width / step))
            start = lo - step / 2  # edges between written values
            n_bins = int((hi - start) // width) + 1
            return start + width * np.arange(n_bins + 1)
    return np.linspace(lo, hi, n_bins + 1)


def group_counts(values: np.ndarray, groups: np.ndarray, edges: np.ndarray, n_groups: int) -> np.ndarray:
    """Histogram of ``values`` per group in one pass, shape (n_groups, n_bins).

    ``groups`` holds 0..n_groups-1 per value; ``edges`` are uniform.
    """
    n_bins = edges.size - 1
    width = (edges[-1] - edges[0]) / n_bins
    idx = np.floor((values - edges[0]) / width).astype(np.int64)
    np.clip(idx, 0, n_bins - 1, out=idx)  # the max value lands on the last edge
    flat = np.bincount(groups * n_bins + idx, minlength=n_groups * n_bins)
    return flat.reshape(n_groups, n_bins).astype(np.float64)
