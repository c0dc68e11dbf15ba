"""EM and filling on degenerate data: a fit, or a clear FillError/MixtureError -- never NaN.

Each case runs the command line's path (``fill_sheet`` then ``export_table``)
and either checks the specific outcome or, at least, that whatever comes out
is finite, marked and in range.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emgui.core import parsing
from emgui.core.fill import FillError, export_table, fill_sheet
from emgui.core.mixture import MixtureError
from emgui.core.sheet import FILLED, UNCERTAIN, USER, Sheet

HEIGHT = "Height (cm)"


def _obj(values) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def _sheet(genders, values, feature=HEIGHT) -> Sheet:
    n = len(genders)
    return Sheet(
        ["Name", "Gender", feature],
        [_obj([f"P{i}" for i in range(n)]), _obj(genders), _obj(values)],
    )


def _attempt(sheet: Sheet, **kwargs):
    """Fill; return (result, plan) or the error's message.  Anything else propagates."""
    before = [list(sheet.column_cells(c)) for c in range(sheet.n_cols)]
    try:
        _, report, plan = fill_sheet(sheet, **kwargs)
        result = report.result
    except (FillError, MixtureError) as exc:
        message = str(exc)
        assert message.strip().endswith("."), message  # a sentence for a person
        assert "nan" not in message.lower().split()
        # A refused fill changes nothing.
        assert [list(sheet.column_cells(c)) for c in range(sheet.n_cols)] == before
        assert (sheet.provenance == USER).all()
        _check_export(sheet)
        return message
    _check_result(sheet, result, plan)
    _check_export(sheet)
    return result, plan


def _check_result(sheet: Sheet, result, plan) -> None:
    for name in ("weights", "means", "covariances", "posteriors"):
        values = np.asarray(getattr(result, name))
        assert np.isfinite(values).all(), f"{name} has NaN/inf: {values}"
    assert math.isfinite(result.log_likelihood)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.sum(result.weights), 1.0, atol=1e-9)
    filled = sheet.provenance == FILLED
    assert np.isfinite(sheet.confidence[filled]).all()
    assert ((sheet.confidence[filled] > 0) & (sheet.confidence[filled] <= 1)).all()
    label = sheet.roles.label
    for r in np.flatnonzero(filled):
        assert not parsing.is_missing(sheet.text(r, label))


def _check_export(sheet: Sheet) -> None:
    columns, cells = export_table(sheet)
    assert len(columns) == len(cells)
    for name, col in zip(columns, cells, strict=True):
        assert len(col) == sheet.n_rows
        for v in col:
            assert v is None or (isinstance(v, str) and v.lower() not in ("nan", "inf", "-inf")), (name, v)


# --------------------------------------------------------------------------- the cases


def test_one_row_with_a_blank_label_is_one_group():
    # Without a typed label the number of groups is chosen by BIC: one row is one group.
    result, plan = _attempt(_sheet([None], ["170"]))
    assert len(result.weights) == 1 and plan.n_filled == 1
    # Asked for two groups, one distinct value is refused with a reason.
    assert "2 groups need at least 2 rows" in _attempt(_sheet([None], ["170"]), n_components=2)


def test_one_labelled_row_fits_and_fills_nothing():
    result, plan = _attempt(_sheet(["F"], ["170"]))
    assert len(plan.rows) == 0
    np.testing.assert_allclose(result.means.ravel(), [170.0])


@pytest.mark.parametrize(
    "genders",
    [["F", "M", None, None, "F", "M"], ["F", "M", "F", "M", "F", None]],
    ids=["some-blank", "every-class-labelled"],
)
def test_all_heights_equal_is_refused_clearly(genders):
    # One distinct value cannot tell two classes apart, even when both are labelled.
    message = _attempt(_sheet(genders, ["170"] * 6))
    assert "distinct value" in message


def test_one_class_only_is_no_classification():
    # Before: every blank was written F "at 100 %".  One typed class tells
    # nothing apart: refused, with what to type.
    sheet = _sheet(["F", "F", None, None], ["160", "165", "170", "180"])
    message = _attempt(sheet)
    assert "Only one class ('F')" in message
    assert [sheet.text(r, 1) for r in (2, 3)] == [None, None]


def test_a_class_with_one_row_gets_a_usable_spread():
    sheet = _sheet(["F", "F", "F", "M", None, None], ["160", "162", "158", "180", "163", "179"])
    result, plan = _attempt(sheet)
    assert plan.n_filled == 2
    assert sheet.text(4, 1) == "F" and sheet.text(5, 1) == "M"
    assert (np.asarray(result.covariances) > 0).all()


def test_an_extreme_height_is_an_issue_and_takes_no_part():
    sheet = _sheet(["F", "M", None, None, "F", "M"], ["160", "180", "10000", "170", "158", "182"])
    _, plan = _attempt(sheet)
    assert sheet.issue(2, 2) is not None and "10000" in sheet.issue(2, 2)
    assert 2 not in plan.rows  # unreadable rows are not guessed
    assert sheet.text(2, 1) is None and sheet.provenance[2] == USER
    columns, cells = export_table(sheet)
    issues = cells[columns.index(HEIGHT + "_issue")]
    assert issues[2] is not None and all(v is None for i, v in enumerate(issues) if i != 2)
    assert cells[2][2] == "10000"  # the text is kept as typed


def test_an_extreme_plain_number_takes_part():
    sheet = _sheet(["F", "M", None, None, "F", "M"], ["160", "180", "10000", "170", "158", "182"], "Score")
    assert sheet.unit(2) is None
    result, plan = _attempt(sheet)
    assert 2 in plan.rows and sheet.provenance[2] == FILLED
    assert np.asarray(result.means).max() > 1000  # the outlier pulls a component out to it
    columns, cells = export_table(sheet)
    assert cells[2][2] == "10000" and not any(c.endswith("_issue") for c in columns)


@pytest.mark.parametrize(
    "values",
    [
        ["1e200", "-1e200", "3", "4", "5", "6"],  # spread too wide to square
        ["1e-300", "2e-300", "3e-300", "1e-300", "2e-300", "3e-300"],  # far below reg_covar
        ["1.7976931348623157e308", "1", "2", "3", "4", "5"],
    ],
    ids=["huge-spread", "tiny-values", "max-float"],
)
def test_extreme_plain_numbers_fit_or_are_refused_clearly(values):
    outcome = _attempt(_sheet(["F", "M", None, "F", "M", None], values, "Score"))
    if isinstance(outcome, str):
        assert "far apart" in outcome or "distinct" in outcome


def test_values_near_the_largest_float_are_refused_clearly():
    outcome = _attempt(_sheet(["F", "M", None, None], ["1e308", "1.5e308", "1", "2"], "Score"))
    assert isinstance(outcome, str) and "far apart" in outcome


def test_thirty_classes():
    k = 30
    genders = [f"class {i:02d}" for i in range(k)] * 2 + [None] * 10
    heights = [str(100 + 3 * i + j) for j in range(2) for i in range(k)] + [str(101 + 9 * i) for i in range(10)]
    sheet = _sheet(genders, heights)
    result, plan = _attempt(sheet)
    assert len(result.weights) == k
    assert plan.n_filled == 10
    names = set(genders[:k])
    assert {sheet.text(r, 1) for r in plan.rows} <= names


def test_thirty_classes_with_one_row_each():
    genders = [f"c{i}" for i in range(30)] + [None] * 5
    outcome = _attempt(_sheet(genders, [str(100 + i) for i in range(35)]))
    assert not isinstance(outcome, str)


def test_more_classes_than_distinct_values_is_refused_clearly():
    genders = [f"c{i}" for i in range(30)] + [None]
    outcome = _attempt(_sheet(genders, ["170"] * 15 + ["171"] * 16))
    assert "distinct value" in outcome


def test_one_typed_class_fills_nothing_and_says_to_type_the_others():
    rng = np.random.default_rng(3)
    heights = np.concatenate([rng.normal(162, 6, 100), rng.normal(178, 7, 100)])
    sheet = _sheet(["F"] + [None] * 200, ["165"] + [f"{v:.1f}" for v in heights])
    message = _attempt(sheet)
    assert "Only one class ('F')" in message and "Type a row of each other class" in message


@pytest.mark.parametrize("n_components", [2, 5])
def test_one_typed_class_with_groups_given_names_no_other_group(n_components):
    rng = np.random.default_rng(3)
    heights = np.concatenate([rng.normal(162, 6, 100), rng.normal(178, 7, 100)])
    sheet = _sheet(["F"] + [None] * 200, ["165"] + [f"{v:.1f}" for v in heights])
    result, plan = _attempt(sheet, n_components=n_components)
    assert len(result.weights) == n_components
    # Only 'F' is ever written; the other groups' rows stay blank with a note.
    label = sheet.roles.label
    written = {sheet.text(r, label) for r in np.flatnonzero(sheet.provenance == FILLED)}
    assert written <= {"F"}
    blank = np.flatnonzero(sheet.provenance == UNCERTAIN)
    assert len(blank) > 50
    assert all("unlike every typed class" in sheet.note(int(r)) for r in blank)
    assert sheet.text(0, 1) == "F" and sheet.provenance[0] == USER


def test_no_label_at_all_and_all_values_equal_is_one_group():
    result, plan = _attempt(_sheet([None] * 40, ["170"] * 40))
    assert len(result.weights) == 1 and plan.n_filled == 40
    # Two groups asked for cannot be told apart.
    assert "distinct value" in _attempt(_sheet([None] * 40, ["170"] * 40), n_components=2)


def test_no_readable_value_is_refused_clearly():
    message = _attempt(_sheet(["F", None, "M"], ["abc", "#VALUE!", "-"]))
    assert "readable" in message


def test_no_numeric_column_is_refused_clearly():
    sheet = Sheet(["Name", "Gender"], [_obj(["a", "b"]), _obj(["F", None])])
    message = _attempt(sheet)
    assert "numeric column" in message


def test_two_identical_features_do_not_make_a_singular_fit():
    rng = np.random.default_rng(5)
    h = np.concatenate([rng.normal(160, 5, 30), rng.normal(180, 5, 30)])
    genders = ["F"] * 5 + [None] * 25 + ["M"] * 5 + [None] * 25
    sheet = Sheet(
        ["Gender", "Height (cm)", "Height again (cm)"],
        [_obj(genders), _obj([f"{v:.1f}" for v in h]), _obj([f"{v:.1f}" for v in h])],
    )
    assert sheet.roles.features == (1, 2)
    result, plan = _attempt(sheet)
    assert plan.n_filled == 50
    assert (sheet.confidence[sheet.provenance == FILLED] >= 0.5 - 1e-9).all()
