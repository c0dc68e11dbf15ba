"""Role detection's shortcuts answer what reading every cell answers.

Three shortcuts keep a command-line fill from reading its columns twice
(issue 14, the 5-feature fill):

* :func:`parsing.mostly_numbers` stops the per-cell reader once the share of
  numbers is known (a column of names is told apart after ~20 % of its cells);
* :func:`sheet.no_measurement` decides from a column's first cells when they
  already rule out every reason (three values, a fraction, a step down...);
* ``--features`` makes the command line look for the label alone
  (:func:`sheet.detect_label`), not for every measurement.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from cellarrays import obj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import parsing
from emgui.core import sheet as sheetmod
from emgui.core.sheet import detect_label, detect_roles, no_measurement

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def _share(raw) -> float:
    """The share of present cells read as numbers, every cell read (the rule mostly_numbers answers)."""
    parsed = parsing.parse_number_column(raw)
    present = ~parsed.missing
    n = int(present.sum())
    return 0.0 if n == 0 else float(np.isfinite(parsed.values[present]).sum()) / n


# Cells of every kind the readers tell apart: plain and messy numbers, text,
# blanks and missing markers, overflowing numbers.
CELLS = st.one_of(
    st.sampled_from(["1.5", "170", "-3", "1,5", "1 234", "12 kg", "Olga 0", "abc", "", " ", "NA", "n/a", "?",
                     "1e999", "#DIV/0!", "3.2.1", None]),
    st.integers(-1000, 1000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.text(alphabet="ab 0123456789.,-", max_size=6),
)


@PROPS
@given(st.lists(CELLS, max_size=300), st.sampled_from([0.5, 0.8, 0.95]), st.booleans())
def test_mostly_numbers_is_the_share_of_numbers(cells, share, as_arrow):
    raw = pa.array(cells, type=pa.string()) if as_arrow else obj(cells)
    assert parsing.mostly_numbers(raw, share) == (_share(raw) >= share)


def test_mostly_numbers_stops_early_on_a_column_of_names(monkeypatch):
    names = obj(f"Name {i}" for i in range(5000))
    read = []
    real = parsing._number_cell
    monkeypatch.setattr(parsing, "_number_cell", lambda cell: read.append(cell) or real(cell))
    assert not parsing.mostly_numbers(names, 0.8)
    # 1,001 names make a share of 80 % out of reach (at most 3,999 of 5,000).
    assert len(read) == 1001
    read.clear()
    numbers = obj([f"{i}.5" for i in range(4000)] + ["1,5 kg"] * 1000)  # the messy ones read one by one
    assert parsing.mostly_numbers(numbers, 0.8)
    assert len(read) == 1  # 4,000 of 5,000 are numbers already: the answer is known


# Columns of the kinds no_measurement tells apart, long enough to have a head and a rest.
def _column(kind: str, n: int, rng: np.random.Generator) -> list[str | None]:
    if kind == "code":
        values = rng.integers(0, 2, n).astype(str).tolist()
    elif kind == "constant":
        values = ["7"] * n
    elif kind == "row number":
        values = [str(i + 1) for i in range(n)]
    elif kind == "ids counting up":
        values = np.cumsum(rng.integers(1, 4, n)).astype(str).tolist()
    elif kind == "ids shuffled":
        values = rng.permutation(np.arange(1000, 1000 + n)).astype(str).tolist()
    elif kind == "whole measure":
        values = rng.integers(150, 190, n).astype(str).tolist()
    elif kind == "fractions":
        values = [f"{v:.1f}" for v in rng.normal(170, 8, n)]
    else:  # sorted measure: whole values that never step down, with ties
        values = np.sort(rng.integers(150, 190, n)).astype(str).tolist()
    for i in rng.choice(n, n // 10, replace=False):
        values[i] = None if rng.random() < 0.5 else "n/a"
    return values


KINDS = ["code", "constant", "row number", "ids counting up", "ids shuffled", "whole measure", "fractions",
         "sorted measure"]


@PROPS
@given(
    st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
    st.integers(1, 60),
    st.sampled_from(["weight", "student id", "no", "height"]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_no_measurement_from_the_head_is_what_the_whole_column_says(kinds, part, name, seed, as_arrow):
    # A column made of parts of several kinds: the head shows one, the rest others.
    rng = np.random.default_rng(seed)
    cells = [c for kind in kinds for c in _column(kind, part, rng)]
    raw = pa.array(cells, type=pa.string()) if as_arrow else obj(cells)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sheetmod, "_HEAD_ROWS", 10**9)  # every cell read
        whole = no_measurement(name, raw)
    for head in (3, 7, part, len(cells) - 1):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sheetmod, "_HEAD_ROWS", max(head, 1))
            assert no_measurement(name, raw) == whole


def test_a_long_measurement_is_told_from_its_head(monkeypatch):
    rng = np.random.default_rng(3)
    cells = pa.array([f"{v:.1f}" for v in rng.normal(60, 9, 200_000)], type=pa.string())
    seen = []
    real = parsing.parse_number_column
    monkeypatch.setattr(parsing, "parse_number_column", lambda raw: seen.append(len(raw)) or real(raw))
    assert no_measurement("weight", cells) is None
    assert seen == [sheetmod._HEAD_ROWS]
    # A code after the head is still found, reading the whole column.
    codes = pa.array(["0"] * 6000 + ["1"] * 6000, type=pa.string())
    seen.clear()
    assert "holds only 2 distinct values (0, 1)" in no_measurement("flag", codes)
    assert seen == [sheetmod._HEAD_ROWS, 12_000]


@pytest.mark.parametrize(
    ("columns", "cells"),
    [
        (["name", "gender", "height"], [["a", "b", "c"], ["F", "", "M"], ["170", "160", "180"]]),
        (["name", "who", "height"], [["a", "b", "c"], ["female", "", "male"], ["170", "160", "180"]]),
        (["name", "Sex", "class"], [["a", "b", "c"], ["F", "M", ""], ["x", "y", "z"]]),
        (["a", "b"], [["1", "2", "3"], ["4", "5", "6"]]),
        (["who", "other"], [["F", "M", "F"], ["female", "male", ""]]),
    ],
)
def test_detect_label_is_the_label_detect_roles_finds(columns, cells):
    cells = [obj(c) for c in cells]
    assert detect_label(columns, cells) == detect_roles(columns, cells).label
    arrow = [pa.array(c, type=pa.string()) for c in cells]
    assert detect_label(columns, arrow) == detect_roles(columns, cells).label
