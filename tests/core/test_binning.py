"""The plot's per-class histogram, binned without Qt (emgui.core.binning)."""

from __future__ import annotations

import numpy as np

from emgui.core.binning import group_histogram


def test_counts_per_class_for_any_integer_label_type():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(170, 9, 20_000), 1)  # written to a tenth: up to 100 bins
    labels = rng.integers(-1, 3, 20_000)
    wide = group_histogram(values, labels.astype(np.int64), 3)
    assert wide.counts.shape == (4, len(wide.edges) - 1) and len(wide.edges) > 50
    for dtype in (np.int8, np.int16, np.int32):
        small = group_histogram(values, labels.astype(dtype), 3)  # no overflow in the bin index
        np.testing.assert_array_equal(small.counts, wide.counts)
    # Row 0 counts the unlabelled values, row k + 1 class k's; every value once.
    for k in range(-1, 3):
        assert wide.counts[k + 1].sum() == np.count_nonzero(labels == k)
    assert wide.n_values == 20_000


def test_non_finite_values_are_left_out_and_nothing_left_gives_none():
    h = group_histogram(np.array([160.0, np.nan, 170.0, np.inf]), np.array([0, 1, -1, 0]), 2)
    assert h.n_values == 2 and h.counts.sum() == 2
    assert group_histogram(np.array([np.nan]), np.array([0]), 2) is None
