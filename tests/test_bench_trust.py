"""The trust benchmark's own maths, on hand-made numbers (the benchmark itself is run by hand).

``benchmarks/bench_trust.py`` judges the fill by its calibration error,
Brier score and accuracy against hidden truth; a mistake in those sums would
misreport every fill, so they are checked here against values worked out
by hand.  Nothing here runs a fill.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_trust.py"
_spec = importlib.util.spec_from_file_location("bench_trust", _PATH)
bt = importlib.util.module_from_spec(_spec)
# Registered before it runs: its dataclasses look their module up by name.
sys.modules.setdefault("bench_trust", bt)
_spec.loader.exec_module(bt)


def test_ece_of_a_hand_made_example():
    # Bin (.9, 1]: 2 cells at .95, 1 right -> |.5 - .95| = .45; bin (.5, .6]:
    # 2 cells at .55, both right -> |1 - .55| = .45; each bin holds half.
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, False, True, True])
    assert bt.ece(conf, correct) == pytest.approx(0.45)


def test_ece_is_zero_when_each_bin_is_right_as_often_as_it_says():
    conf = np.array([0.8] * 5 + [0.25] * 4)
    correct = np.array([1, 1, 1, 1, 0] + [1, 0, 0, 0], dtype=bool)
    assert bt.ece(conf, correct) == pytest.approx(0.0)


def test_ece_bin_edges_are_closed_on_the_right():
    # 0 and .1 share the first bin (0, .1]: accuracy .5, confidence .05.
    # Were .1 in the second bin, the error would be .5 * 1 + .5 * .1 = .55.
    assert bt.ece(np.array([0.0, 0.1]), np.array([True, False])) == pytest.approx(0.45)
    # .95 and 1.0 share the last bin (.9, 1]: accuracy .5, confidence .975.
    assert bt.ece(np.array([0.95, 1.0]), np.array([True, False])) == pytest.approx(0.475)
    assert math.isnan(bt.ece(np.array([]), np.array([], dtype=bool)))


def test_brier_of_the_written_label():
    # (1 - 0)^2 and (.5 - 1)^2 -> (1 + .25) / 2.
    assert bt.brier(np.array([1.0, 0.5]), np.array([False, True])) == pytest.approx(0.625)


def test_pearson_says_none_when_it_cannot_be_told():
    assert bt.pearson([1, 2], [1, 2]) is None
    assert bt.pearson([1, 2, 3], [5, 5, 5]) is None
    assert bt.pearson([1, 2, 3, float("nan")], [2, 4, 6, 1]) == pytest.approx(1.0)
    assert bt.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def _table(truth, x):
    truth = np.array(truth, dtype=object)
    rows = [[t, str(v)] for t, v in zip(truth, x, strict=True)]
    return bt.Table(["label", "f"], rows, "label", ("f",), truth,
                    np.asarray(x, dtype=float).reshape(-1, 1))


def test_hide_keeps_one_typed_row_of_each_class_on_a_row_with_features():
    table = _table(["a"] * 6 + ["b"] * 3 + [""], [1, 2, 3, 4, 5, float("nan"), 7, 8, 9, 10])
    for seed in range(20):
        hidden = bt.hide(table, 0.99, np.random.default_rng(seed))
        assert not hidden[9]  # no truth: never hidden
        for c in ("a", "b"):
            assert ((table.truth == c) & ~hidden & table.complete).any()
        # round(.99 * 9) = 9 hidden, then one row of each class given back.
        assert hidden.sum() == 7


def test_score_counts_filled_right_and_left_blank_cells():
    table = _table(["a", "a", "b", "b", "b"], [1, 2, 3, 4, 5])
    hidden = np.array([False, True, True, True, True])
    out = bt.Output(
        rc=0, message="",
        written=np.array(["a", "a", "A", "", "a"], dtype=object),  # case does not matter
        imputed=np.array([False, True, True, False, True]),
        confidence=np.array([np.nan, 0.9, 0.6, np.nan, 0.7]),
        note=None,
    )
    oracle = np.array(["a", "a", "b", "a", "b"], dtype=object)
    run = bt.score(table, hidden, out, oracle)
    assert (run.hidden, run.filled) == (4, 3)
    # Row 1 right, row 2 ("A" for "b") wrong, row 4 ("a" for "b") wrong.
    assert run.accuracy == pytest.approx(1 / 3)
    assert run.mean_confidence == pytest.approx((0.9 + 0.6 + 0.7) / 3)
    assert run.left_blank == pytest.approx(0.25)
    assert (run.oracle_correct, run.oracle_n) == (3, 4)
    assert run.check is None
