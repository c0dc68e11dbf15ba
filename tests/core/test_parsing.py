"""Reading heights, plain numbers, labels and missing markers (emgui.core.parsing)."""

import csv
import datetime as dt
import decimal
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import parsing
from emgui.core.parsing import (
    HEIGHT_UNITS,
    MISSING_TOKENS,
    encode_labels,
    encode_labels_and_spellings,
    format_height,
    format_number,
    is_height_column,
    is_missing,
    label_key,
    parse_height,
    parse_height_column,
    parse_number_column,
    preferred_spellings,
    unit_from_name,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CM_PER = {"cm": 1.0, "in": 2.54, "m": 100.0}
STYLES = (
    "plain", "cm", "m", "m_comma", "mm", "in", "inches", "in_mark", "ft_in", "ft_in_space",
    "ft_in_words", "ft_in_long", "ft_in_typographic", "ft_in_doubled",
)  # fmt: skip
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def issue_of(text, unit="cm"):
    with pytest.raises(ValueError) as err:
        parse_height(text, unit)
    return str(err.value)


# ---------------------------------------------------------------------------
# Missing markers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [None, float("nan"), np.nan, np.float32("nan"), pd.NA, pd.NaT, np.datetime64("NaT"),
     decimal.Decimal("NaN"), "", "   ", "\t", "NA", "n/a", " N/A ", "NaN", "null", "NULL",
     "None", "?", "-", "--", "unknown", "Missing", "#N/A", "#n/a", "\u00a0", "\u2003na\u2003"],
)  # fmt: skip
def test_missing_markers(cell):
    assert is_missing(cell)
    assert label_key(cell) is None
    assert math.isnan(parse_height(cell, "cm"))
    col = parse_height_column([cell, "170"], "cm")
    assert col.missing.tolist() == [True, False]
    assert col.issues[0] is None
    num = parse_number_column([cell])
    assert num.missing[0] and num.issues[0] is None and math.isnan(num.values[0])


@pytest.mark.parametrize(
    "cell", ["0", 0, 0.0, "n", "nope", "#VALUE!", "N/A!", "a", False, dt.date(2020, 1, 1)]
)
def test_not_missing(cell):
    assert not is_missing(cell)


def test_missing_tokens_are_casefolded_and_trimmed():
    assert all(t == t.strip().casefold() for t in MISSING_TOKENS)
    assert {"", "n/a", "#n/a", "?", "-"} <= MISSING_TOKENS


# ---------------------------------------------------------------------------
# Heights: one cell
# ---------------------------------------------------------------------------

HEIGHTS_CM = [
    ("170", 170.0),
    ("170.5", 170.5),
    (" 170 ", 170.0),
    ("\u00a0170\u00a0", 170.0),
    ("+170", 170.0),
    ("170,5", 170.5),
    ("１７０", 170.0),
    ("175 cm", 175.0),
    ("175cm", 175.0),
    ("175 CM", 175.0),
    ("175 centimetres", 175.0),
    ("1.75 m", 175.0),
    ("1,75 m", 175.0),
    ("1.75m", 175.0),
    ("1.68 m", 168.0),
    ("1.75 metres", 175.0),
    ("1m75", 175.0),
    ("1 m 75", 175.0),
    ("1750 mm", 175.0),
    ("1,750 mm", 175.0),
    ("1.750 mm", 175.0),
    ("5'9\"", 175.26),
    ("5' 9\"", 175.26),
    ("5'9", 175.26),
    ("5' 9", 175.26),
    ("5 ft 9 in", 175.26),
    ("5ft9in", 175.26),
    ("5 FT 9 IN", 175.26),
    ("5 ft. 9 in.", 175.26),
    ("5 feet 9 inches", 175.26),
    ("5 foot 9", 175.26),
    ("5 ft, 9 in", 175.26),
    ("5'-9\"", 175.26),
    ("5’9”", 175.26),
    ("5′9″", 175.26),
    ("5‘9“", 175.26),
    ("5'9''", 175.26),
    ("5’ 9’’", 175.26),
    ("5 ft", 152.4),
    ("5'", 152.4),
    ("6'", 182.88),
    ("5.5 ft", 167.64),
    ("5' 9½\"", 176.53),
    ("5' 9 1/2\"", 176.53),
    ("69 in", 175.26),
    ('69"', 175.26),
    ("69 inches", 175.26),
    ("69in", 175.26),
    ("69 1/2 in", 176.53),
    ("1.7e2", 170.0),
]


@pytest.mark.parametrize(("text", "cm"), HEIGHTS_CM)
def test_height_formats(text, cm):
    assert parse_height(text, "cm") == pytest.approx(cm, rel=1e-12)
    assert parse_height_column(["160", text], "cm").values[1] == pytest.approx(cm, rel=1e-12)
    if parsing._read_height_number(text) is None:  # a unit of its own: converted
        assert parse_height(text, "m") == pytest.approx(cm / 100, rel=1e-12)
        assert parse_height(text, "in") == pytest.approx(cm / 2.54, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("69", "in", 69.0),
        ("5'9\"", "in", 69.0),
        ("5 ft 9.5 in", "in", 69.5),
        ("175.26 cm", "in", 69.0),
        ("1.75", "m", 1.75),
        ("1,75", "m", 1.75),
        ("175 cm", "m", 1.75),
        ("6 ft", "m", 1.8288),
        ("2.6 m", "cm", 260.0),
        ("40 cm", "cm", 40.0),
        ("15.75 in", "in", 15.75),
    ],
)
def test_heights_in_other_units(text, unit, expected):
    assert parse_height(text, unit) == pytest.approx(expected, rel=1e-12)


def test_exact_decimal_conversions():
    # Converted through decimals, so there is no binary noise in the result.
    assert parse_height("1.68 m", "cm") == 168.0
    assert parse_height("5'9\"", "cm") == 175.26
    assert parse_height("69 in", "cm") == 175.26
    assert parse_height("175 cm", "m") == 1.75


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("five foot two", "cm", "not a height: 'five foot two'"),
        ("tall", "cm", "not a height: 'tall'"),
        ("17O", "cm", "not a height: '17O'"),
        ("#VALUE!", "cm", "a spreadsheet error, not a height: '#VALUE!'"),
        ("#REF!", "cm", "a spreadsheet error, not a height: '#REF!'"),
        ("#DIV/0!", "cm", "a spreadsheet error, not a height: '#DIV/0!'"),
        ("-172", "cm", "a height cannot be negative: '-172'"),
        ("-5'9\"", "cm", "a height cannot be negative: '-5'9\"'"),
        ("−1.7 m", "cm", "a height cannot be negative: '−1.7 m'"),
        ("0.3", "cm", "0.3 cm is outside the plausible height range (40–260 cm)"),
        ("1800", "cm", "1800 cm is outside the plausible height range (40–260 cm); did you mean 1800 mm?"),
        ("5.4", "cm", "5.4 cm is outside the plausible height range (40–260 cm); did you mean 5'4\"?"),
        ("6", "cm", "6 cm is outside the plausible height range (40–260 cm); did you mean 6 ft?"),
        ("175", "in", "175 in is outside the plausible height range (15.7–102.4 in); did you mean 175 cm?"),
        ("175", "m", "175 m is outside the plausible height range (0.4–2.6 m); did you mean 175 cm?"),
        ("3 m", "cm", "'3 m' = 300 cm is outside the plausible height range (40–260 cm)"),
        ("175 mm", "cm", "'175 mm' = 17.5 cm is outside the plausible height range (40–260 cm)"),
        ("0", "cm", "0 cm is outside the plausible height range (40–260 cm)"),
        ("5'13\"", "cm", "not a height: '5'13\"'"),
        ("5.5'9\"", "cm", "not a height: '5.5'9\"'"),
        ("5' 9 1/0\"", "cm", "not a height: '5' 9 1/0\"'"),
        ("inf", "cm", "not a height: 'inf'"),
        ("1e999", "cm", "not a height: '1e999'"),
        ("170 kg", "cm", "not a height: '170 kg'"),
        ("2024-01-05", "cm", "not a height: '2024-01-05'"),
    ],
)  # fmt: skip
def test_height_issues(text, unit, expected):
    assert issue_of(text, unit) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (170, 170.0),
        (170.5, 170.5),
        (np.int64(170), 170.0),
        (np.float32(170.5), 170.5),
        (decimal.Decimal("170.5"), 170.5),
    ],
)
def test_height_numbers_from_spreadsheets(cell, expected):
    assert parse_height(cell, "cm") == expected
    col = parse_height_column([cell, "160"], "cm")
    assert col.values.tolist() == [expected, 160.0]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (dt.date(2024, 1, 5), "a date, not a height: '2024-01-05'"),
        (dt.datetime(2024, 1, 5), "a date, not a height: '2024-01-05'"),
        (dt.datetime(2024, 1, 5, 10, 3), "a date, not a height: '2024-01-05 10:03:00'"),
        (pd.Timestamp("2024-01-05"), "a date, not a height: '2024-01-05'"),
        (np.datetime64("2024-01-05"), "a date, not a height: '2024-01-05'"),
        (dt.time(10, 3), "a time of day, not a height: '10:03:00'"),
        (True, "not a height: 'True'"),
        (float("inf"), "not a height: 'inf'"),
        (-172, "a height cannot be negative: '-172'"),
        (
            1800.0,
            "1800 cm is outside the plausible height range (40–260 cm); did you mean 1800 mm?",
        ),
    ],
)
def test_height_issues_for_non_text_cells(cell, expected):
    assert issue_of(cell) == expected
    col = parse_height_column(["170", cell], "cm")
    assert col.issues[1] == expected
    assert math.isnan(col.values[1]) and not col.missing[1]


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unknown height unit"):
        parse_height("170", "ft")
    with pytest.raises(ValueError, match="unknown height unit"):
        parse_height_column(["170"], "mm")


def test_issue_quotes_are_shortened_for_long_text():
    text = "x" * 500
    issue = issue_of(text)
    assert issue.startswith("not a height: '" + "x" * 57) and issue.endswith("…'")
    assert len(issue) < 100


# ---------------------------------------------------------------------------
# Heights: columns
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, unit, expected",
    [("1,65", "cm", 165.0), ("1.75", "cm", 175.0), ("1.75", "in", 175 / 2.54), ("0,5", "cm", 50.0)],
)
def test_unitless_metres_in_a_cm_or_inch_column(text, unit, expected):
    """Nobody is 1.75 cm tall: a number plausible only in metres is read in metres."""
    assert parse_height(text, unit) == pytest.approx(expected, rel=1e-12)
    col = parse_height_column([text, "170" if unit == "cm" else "67"], unit)
    assert col.values[0] == pytest.approx(expected, rel=1e-12) and col.issues[0] is None


def test_messy_class_file():
    with open(DATA / "messy_class.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    col = parse_height_column([r["height"] for r in rows])
    assert col.unit == "cm"
    by_name = {r["name"]: i for i, r in enumerate(rows)}

    expected_values = {
        "Ana Lima": 162.0, "Ben Okafor": 180.34, "Chloé Martin": 168.0, "Dev Patel": 175.0,
        "Femi Adeyemi": 185.42, "Ines Duarte": 162.56, "Jon Smith": 177.8, "Kira Ivanova": 163.5,
        "Ravi Kumar": 175.26, "Nia Jones": 166.0, "Greta Berg": 165.0,
    }  # fmt: skip
    for name, cm in expected_values.items():
        i = by_name[name]
        assert col.values[i] == pytest.approx(cm, rel=1e-12), name
        assert col.issues[i] is None and not col.missing[i]

    expected_issues = {
        "Mia Rossi": "not a height: 'five foot two'",
        "Tom Becker": "not a height: '17O'",
        "Yusuf Demir": "did you mean 1800 mm?",
        "Gus Brown": "a height cannot be negative: '-172'",
        "Hana Sato": "did you mean 5'4\"?",
    }
    for name, part in expected_issues.items():
        i = by_name[name]
        assert part in col.issues[i], name
        assert math.isnan(col.values[i]) and not col.missing[i]

    assert col.missing.tolist() == [r["height"] == "" for r in rows]
    readable = np.isfinite(col.values)
    assert readable.sum() == len(rows) - len(expected_issues) - col.missing.sum()
    assert ((col.values[readable] >= 40) & (col.values[readable] <= 260)).all()


def test_messy_class_labels():
    with open(DATA / "messy_class.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    raw = [r["gender"] for r in rows]
    codes, classes = encode_labels(raw)
    assert classes == ["female", "male"]
    by_raw = {}
    for text, code in zip(raw, codes, strict=True):
        by_raw.setdefault(text, set()).add(int(code))
    assert by_raw["F"] == by_raw["f"] == by_raw["female"] == by_raw["Female"] == by_raw["W"] == {0}
    assert by_raw["M"] == by_raw["m"] == by_raw["Male"] == by_raw["MALE"] == by_raw["male"] == {1}
    assert by_raw[""] == by_raw["?"] == by_raw["N/A"] == {-1}
    assert preferred_spellings(raw, codes, classes) == {"female": "F", "male": "M"}


@pytest.mark.parametrize(
    ("cells", "unit"),
    [
        (["162", "175", "181", "5'9\""], "cm"),
        (["1.62", "1.75", "1,81", "175 cm"], "m"),
        (["64", "69", "71.5", "180 cm"], "in"),
        (["5'9\"", "6 ft 1 in", "", None], "cm"),  # no unitless numbers: the default
        ([], "cm"),
        ([1.62, 1.75, 1.81], "m"),
        (np.array([64.0, 69.0, np.nan]), "in"),
        (["-170", "-160", "1.7", "1.8", "1.9"], "m"),  # only positive numbers vote
    ],
)
def test_unit_detection(cells, unit):
    assert parse_height_column(cells).unit == unit


def test_column_values_are_in_the_detected_unit():
    col = parse_height_column(["1.62", "1,75", "175 cm", "5'9\"", "n/a", "1.80 m", "170"])
    assert col.unit == "m"
    np.testing.assert_allclose(col.values[:4], [1.62, 1.75, 1.75, 1.7526], rtol=1e-12)
    assert col.missing.tolist() == [False, False, False, False, True, False, False]
    assert col.values[5] == 1.8
    assert "170 m is outside" in col.issues[6] and "did you mean 170 cm?" in col.issues[6]


def test_issues_are_kept_sparse_until_asked_for():
    # A column of readable cells makes no (n,) array of None (issue 14 item 3).
    good = parse_height_column(["170", None, "165.5"], "cm")
    assert good.found == {} and good.issues_if_any() is None
    assert good.issues.tolist() == [None, None, None]  # still there when asked for
    numbers = parse_number_column(["1", "x", "2,5", "12 kg"])
    assert sorted(numbers.found) == [1, 3] and numbers.found[3] == "not a number: '12 kg'"
    assert numbers.issues_if_any().tolist() == [None, "not a number: 'x'", None, "not a number: '12 kg'"]
    assert numbers.issues is numbers.issues_if_any()  # made once


def test_column_shapes_and_types():
    col = parse_height_column(["170", None, "x"], "cm")
    assert col.values.shape == col.issues.shape == col.missing.shape == (3,)
    assert col.values.dtype == np.float64
    assert col.issues.dtype == object
    assert col.missing.dtype == bool
    with pytest.raises(AttributeError):
        col.unit = "m"  # frozen


@pytest.mark.parametrize(
    "raw",
    [
        ["170", None, "5'9\"", 180, float("nan"), "x", True, dt.date(2020, 1, 2)],
        np.array(["170", None, "5'9\"", 180, float("nan"), "x", True, dt.date(2020, 1, 2)], dtype=object),
        pd.Series(["170", None, "5'9\"", 180, float("nan"), "x", True, dt.date(2020, 1, 2)], index=list("abcdefgh")),
        ("170", None, "5'9\"", 180, float("nan"), "x", True, dt.date(2020, 1, 2)),
    ],
)  # fmt: skip
def test_column_containers(raw):
    col = parse_height_column(raw, "cm")
    np.testing.assert_allclose(col.values[[0, 2, 3]], [170.0, 175.26, 180.0])
    assert col.missing.tolist() == [False, True, False, False, True, False, False, False]
    assert [i is None for i in col.issues] == [True, True, True, True, True, False, False, False]


def test_typed_arrays():
    floats = parse_height_column(np.array([170.0, np.nan, np.inf, 1.7]), "cm")
    assert floats.values[0] == 170.0 and floats.missing.tolist() == [False, True, False, False]
    assert floats.issues[2] == "not a height: 'inf'"
    assert floats.values[3] == 170.0 and floats.issues[3] is None  # only plausible in metres
    ints = parse_height_column(np.array([170, 180]), "cm")
    assert ints.values.tolist() == [170.0, 180.0]
    strings = parse_height_column(np.array(["170", "", "5 ft"]), "cm")
    assert strings.values[0] == 170.0 and strings.missing[1] and strings.values[2] == 152.4
    dates = parse_height_column(np.array(["2024-01-05", "NaT"], dtype="datetime64[ns]"), "cm")
    assert dates.issues[0] == "a date, not a height: '2024-01-05'" and dates.missing[1]
    nullable = parse_height_column(pd.Series([170, None], dtype="Int64"), "cm")
    assert nullable.values[0] == 170.0 and nullable.missing.tolist() == [False, True]
    assert parse_height_column(pd.Series([170.0, None])).values[0] == 170.0


def test_huge_python_int_is_an_issue_not_a_crash():
    col = parse_height_column([10**400, 170], "cm")
    assert col.issues[0].startswith("not a height: '1000") and col.values[1] == 170.0


# ---------------------------------------------------------------------------
# Plain numbers
# ---------------------------------------------------------------------------

NUMBERS = [
    ("12", 12.0),
    ("-12", -12.0),
    ("−12", -12.0),
    ("+12.5", 12.5),
    ("12.5", 12.5),
    ("12,5", 12.5),
    ("0,125", 0.125),
    (",5", 0.5),
    (".5", 0.5),
    ("12.", 12.0),
    ("1,234", 1234.0),
    ("-1,234", -1234.0),
    ("1,2345", 1.2345),
    ("1234,567", 1234.567),
    ("1,234,567", 1234567.0),
    ("1,234.5", 1234.5),
    ("1.234,5", 1234.5),
    ("1.234.567,89", 1234567.89),
    ("1.234", 1.234),
    ("1.234.567", 1234567.0),
    ("1 234", 1234.0),
    ("1 234,5", 1234.5),
    ("1 234.5", 1234.5),
    ("1\u00a0234,5", 1234.5),
    ("1\u202f234", 1234.0),
    ("1e5", 1e5),
    ("-2.5E-3", -0.0025),
    ("1,5e3", 1500.0),
    ("  42  ", 42.0),
    ("４２", 42.0),
    ("007", 7.0),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_plain_numbers(text, value):
    col = parse_number_column([text])
    assert col.values[0] == value
    assert col.issues[0] is None and not col.missing[0] and col.unit is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("17O", "not a number: '17O'"),
        ("1,23,456", "not a number: '1,23,456'"),
        ("12 34", "not a number: '12 34'"),
        ("1.234,567,8", "not a number: '1.234,567,8'"),
        ("0,123,456", "not a number: '0,123,456'"),
        ("1 234.567,8", "not a number: '1 234.567,8'"),
        ("1_000", "not a number: '1_000'"),
        ("0x10", "not a number: '0x10'"),
        ("12 kg", "not a number: '12 kg'"),
        (".", "not a number: '.'"),
        ("inf", "not a number: 'inf'"),
        ("1e999", "not a finite number: '1e999'"),
        (float("inf"), "not a finite number: 'inf'"),
        ("#DIV/0!", "a spreadsheet error, not a number: '#DIV/0!'"),
        ("#VALUE!", "a spreadsheet error, not a number: '#VALUE!'"),
        (True, "not a number: 'True'"),
        (dt.date(2024, 1, 5), "a date, not a number: '2024-01-05'"),
    ],
)
def test_plain_number_issues(cell, expected):
    col = parse_number_column(["1", cell])
    assert col.issues.tolist() == [None, expected]
    assert col.values[0] == 1.0 and math.isnan(col.values[1]) and not col.missing[1]


def test_plain_numbers_have_no_range():
    col = parse_number_column(["-1000000", "0", "1e300", 5, 2.5])
    assert col.values.tolist() == [-1e6, 0.0, 1e300, 5.0, 2.5]
    assert all(i is None for i in col.issues)


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("F", "female"), ("f", "female"), (" female ", "female"), ("Female", "female"),
        ("FEMALE", "female"), ("woman", "female"), ("Girl", "female"), ("W", "female"),
        ("Frau", "female"), ("weiblich", "female"), ("WEIBLICH", "female"),
        ("M", "male"), ("m", "male"), ("Male", "male"), ("man", "male"), ("Boy", "male"),
        ("Mann", "male"), ("männlich", "male"), ("MÄNNLICH", "male"), ("ma\u0308nnlich", "male"),
        ("Non-Binary", "non-binary"), ("  Other  ", "other"), ("two  words", "two words"),
        ("Ｆ", "female"), (1, "1"), (1.0, "1"), (np.int64(2), "2"), (2.5, "2.5"),
        ("1", "1"), (True, "true"), (None, None), ("", None), ("N/A", None), ("?", None),
    ],
)  # fmt: skip
def test_label_key(text, key):
    assert label_key(text) == key


def test_encode_labels_order_and_codes():
    raw = ["x", "M", None, "f", "b", "Male", "", "F", "unknown", "b"]
    codes, classes = encode_labels(raw)
    assert classes == ["female", "male", "b", "x"]
    assert codes.dtype == np.int64 and codes.shape == (len(raw),)
    assert codes.tolist() == [3, 1, -1, 0, 2, 1, -1, 0, -1, 2]


def test_encode_labels_other_classes_sort_alphabetically():
    codes, classes = encode_labels(["c", "a", "male", "b"])
    assert classes == ["male", "a", "b", "c"]
    assert codes.tolist() == [3, 1, 0, 2]


def test_encode_labels_all_blank():
    codes, classes = encode_labels([None, "", "N/A"])
    assert classes == [] and codes.tolist() == [-1, -1, -1]
    codes, classes = encode_labels([])
    assert classes == [] and codes.shape == (0,)


def test_encode_labels_mixed_types():
    # pd.factorize alone would merge True, 1 and 1.0; the keys keep them apart.
    codes, classes = encode_labels([True, 1, 1.0, "1", "true", np.nan])
    assert classes == ["1", "true"]
    assert codes.tolist() == [1, 0, 0, 0, 1, -1]


def test_encode_labels_numeric_array():
    codes, classes = encode_labels(np.array([2.0, 1.0, np.nan, 2.0]))
    assert classes == ["1", "2"] and codes.tolist() == [1, 0, -1, 1]


def test_preferred_spellings():
    raw = [" M", "male", "F", "Female", "female", "M", None, "f", "Female"]
    codes, classes = encode_labels(raw)
    assert preferred_spellings(raw, codes, classes) == {"female": "Female", "male": "M"}


def test_preferred_spellings_tie_goes_to_the_first_seen():
    raw = ["male", "F", "M", "female", "female", "F"]
    codes, classes = encode_labels(raw)
    assert preferred_spellings(raw, codes, classes) == {"female": "F", "male": "male"}


_LABEL_CELLS = st.sampled_from(
    ["F", "f", " F", "Female", "female ", "M", "m", "male", "Male", "boy", "girl", "n/a", "", " ", "?",
     None, 1, 2, 1.0, 2.5, True, False, float("nan")]
)


@given(st.lists(_LABEL_CELLS, max_size=200), st.booleans())
@settings(max_examples=300, deadline=None)
def test_labels_and_spellings_in_one_pass_equal_the_two_passes(cells, as_objects):
    raw = np.empty(len(cells), dtype=object)
    raw[:] = cells
    if as_objects and cells:  # one object per distinct value, as a file's column holds them
        raw = raw[np.random.default_rng(len(cells)).integers(0, len(cells), 300)]
    codes, classes = encode_labels(raw)
    one_codes, one_classes, one_spellings = encode_labels_and_spellings(raw)
    assert one_classes == classes
    assert one_codes.dtype == np.int64 and one_codes.tolist() == codes.tolist()
    assert one_spellings == preferred_spellings(raw, codes, classes)


def test_labels_and_spellings_in_one_pass_break_ties_by_the_first_seen():
    raw = ["male", "F", "M", "female", "female", "F", None, " M "]
    codes, classes, spellings = encode_labels_and_spellings(raw)
    assert classes == ["female", "male"] and codes.tolist() == [1, 0, 1, 0, 0, 0, -1, 1]
    assert spellings == {"female": "F", "male": "M"}  # "M" twice (with " M "), "male" once


def test_preferred_spellings_for_classes_without_cells():
    raw = [None, "", None]
    codes = np.array([0, 1, -1])  # filled rows have codes but no typed text
    assert preferred_spellings(raw, codes, ["1", "2"]) == {"1": "1", "2": "2"}
    codes, classes = encode_labels(["F", None])
    assert preferred_spellings(["F", None], codes, classes + ["male"]) == {
        "female": "F",
        "male": "male",
    }


def test_preferred_spellings_of_numbers_from_xlsx():
    raw = [1, 2.0, 2, None]
    codes, classes = encode_labels(raw)
    assert preferred_spellings(raw, codes, classes) == {"1": "1", "2": "2"}


# ---------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["height", "Height", "HEIGHT", "height (cm)", "Height_in", "Height (inches)", "height [m]",
     "body height", "heightCm", "stature", "Stature_cm", "tall", "how tall", "Größe", "Groesse",
     "GRÖSSE (cm)", "Körpergröße", "taille", "Altura", "altezza", "lengte", "ht_cm"],
)  # fmt: skip
def test_height_column_names(name):
    assert is_height_column(name)


@pytest.mark.parametrize(
    "name", ["", "name", "weight", "Weight (kg)", "gender", "installment", "notes", "age", "speed"]
)
def test_other_column_names(name):
    assert not is_height_column(name)


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("height (cm)", "cm"), ("Height (CM)", "cm"), ("height_cm", "cm"), ("heightCm", "cm"),
        ("height_in", "in"), ("Height_in", "in"), ("Height (inches)", "in"), ("height in inches", "in"),
        ("height [m]", "m"), ("Größe in m", "m"), ("height (metres)", "m"), ("height in cm", "cm"),
        ("height", None), ("Height (ft)", None), ("cm", None), ("", None), ("height (mm)", None),
    ],
)  # fmt: skip
def test_unit_from_name(name, unit):
    assert unit_from_name(name) == unit


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(170.0, "170"), (170.5, "170.5"), (0.1, "0.1"), (-2.0, "-2"), (1e-7, "1e-07"),
     (1e16, "1e+16"), (np.float64(175.26), "175.26"), (3, "3"), (float("nan"), ""),
     (float("inf"), "inf")],
)  # fmt: skip
def test_format_number(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("plain", "175.26"), ("cm", "175.26 cm"), ("m", "1.7526 m"), ("m_comma", "1,7526 m"),
        ("mm", "1752.6 mm"), ("in", "69 in"), ("inches", "69 inches"), ("in_mark", '69"'),
        ("ft_in", "5'9\""), ("ft_in_space", "5' 9\""), ("ft_in_words", "5 ft 9 in"),
        ("ft_in_long", "5 feet 9 inches"), ("ft_in_typographic", "5′9″"), ("ft_in_doubled", "5'9''"),
    ],
)  # fmt: skip
def test_format_height_styles(style, text):
    assert format_height(175.26, "cm", style) == text
    assert parse_height(text, "cm") == pytest.approx(175.26, rel=1e-12)


def test_format_height_unknown_style():
    with pytest.raises(ValueError, match="unknown height style"):
        format_height(170.0, "cm", "cubits")


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def heights(draw):
    unit = draw(st.sampled_from(HEIGHT_UNITS))
    lo, hi = 40.0 / CM_PER[unit], 260.0 / CM_PER[unit]
    return draw(st.floats(lo, hi, allow_nan=False)), unit


@PROPS
@given(heights(), st.sampled_from(STYLES))
def test_format_then_parse_gives_the_height_back(height, style):
    value, unit = height
    text = format_height(value, unit, style)
    assert parse_height(text, unit) == pytest.approx(value, rel=1e-9)
    col = parse_height_column([text, text], unit)
    assert col.values == pytest.approx([value, value], rel=1e-9)


FRAGMENTS = st.sampled_from(
    ["5", "9", "1", "17", "170", "0", "12", ".", ",", "'", '"', "’", "”", "′", "″", "''", "ft",
     "feet", "in", "inch", "cm", "m", "mm", " ", "  ", "-", "+", "−", "e", "1/2", "½", "and",
     "#", "!", "N/A", "na", "?", "\u00a0", "１", "\t", "x", "O"]
)  # fmt: skip
CELL_TEXT = st.one_of(st.lists(FRAGMENTS, max_size=7).map("".join), st.text(max_size=12))


def _check_cell(text, value, issue, missing):
    """Exactly one of value / missing / issue, and an issue quotes the text."""
    assert sum([math.isfinite(value), missing, issue is not None]) == 1
    if issue is not None:
        assert isinstance(issue, str) and issue
        shown = text.strip()
        if shown:
            assert shown[:50] in issue


@PROPS
@given(st.lists(CELL_TEXT, max_size=25), st.sampled_from((None, *HEIGHT_UNITS)))
def test_any_text_in_a_height_column_is_kept(texts, unit):
    col = parse_height_column(texts, unit)
    assert col.unit in HEIGHT_UNITS
    assert len(col.values) == len(col.issues) == len(col.missing) == len(texts)
    for i, text in enumerate(texts):
        _check_cell(text, col.values[i], col.issues[i], col.missing[i])
        # The vectorised column reader agrees with the one-cell reader.
        try:
            one = parse_height(text, col.unit)
        except ValueError as err:
            assert col.issues[i] == str(err)
        else:
            assert (math.isnan(one) and col.missing[i]) or one == col.values[i]
        if math.isfinite(col.values[i]):
            lo, hi = 40.0 / CM_PER[col.unit], 260.0 / CM_PER[col.unit]
            assert lo * (1 - 1e-9) <= col.values[i] <= hi * (1 + 1e-9)


@PROPS
@given(
    st.lists(
        st.one_of(CELL_TEXT, st.sampled_from(["1,234", "1.234,5", "12,5", "1 234", "1,234.5"])),
        max_size=25,
    )
)
def test_any_text_in_a_number_column_is_kept(texts):
    col = parse_number_column(texts)
    for i, text in enumerate(texts):
        _check_cell(text, col.values[i], col.issues[i], col.missing[i])
        value, issue, missing = parsing._number_cell(text)
        assert (issue, missing) == (col.issues[i], col.missing[i])
        assert value == col.values[i] or (math.isnan(value) and math.isnan(col.values[i]))


@PROPS
@given(st.text(max_size=15))
def test_label_key_is_idempotent(text):
    key = label_key(text)
    assert label_key(key) == key
    assert (key is None) == is_missing(text)


@PROPS
@given(
    st.text(
        alphabet=st.characters(max_codepoint=0xFF, categories=("L", "N", "P", "Zs")), max_size=12
    ),
    st.sampled_from(["", " ", "  ", "\t", "\u00a0"]),
    st.sampled_from(["", " ", "\n", "\u00a0 "]),
)
def test_label_key_ignores_case_and_surrounding_space(text, before, after):
    key = label_key(text)
    assert label_key(before + text.upper() + after) == key
    assert label_key(before + text.lower() + after) == key
    assert label_key(text.swapcase()) == key


@PROPS
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["F", "m", "Male", " female", "", "N/A", "x", "X "]),
            st.text(max_size=6),
            st.none(),
        ),
        max_size=30,
    )
)
def test_encode_labels_matches_label_key(raw):
    codes, classes = encode_labels(raw)
    assert len(set(classes)) == len(classes)
    assert classes == sorted(classes, key=lambda k: ({"female": 0, "male": 1}.get(k, 2), k))
    for cell, code in zip(raw, codes, strict=True):
        key = label_key(cell)
        assert (code == -1) if key is None else classes[code] == key
    assert set(classes) == {label_key(c) for c in raw} - {None}
    spellings = preferred_spellings(raw, codes, classes)
    assert set(spellings) == set(classes)
    for key, text in spellings.items():
        assert label_key(text) == key


# ---------------------------------------------------------------------------
# A million cells
# ---------------------------------------------------------------------------


def _count_calls(monkeypatch, name):
    calls = []
    original = getattr(parsing, name)

    def counting(*args):
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(parsing, name, counting)
    return calls


def test_a_million_height_cells_take_the_vectorised_path(monkeypatch):
    n = 1_000_000
    rng = np.random.default_rng(7)
    tenths = rng.integers(1400, 2000, n)
    cells = (
        (tenths // 10).astype(str).astype(object) + "." + (tenths % 10).astype(str).astype(object)
    )
    cells[::10] = ""
    cells[5::10] = np.char.replace(cells[5::10].astype(str), ".", ",").astype(object)
    cells[3::20] = tenths[3::20] / 10  # numbers from a spreadsheet
    odd = np.arange(7, n, 100_000)
    cells[odd] = "5'9\""
    calls = _count_calls(monkeypatch, "_height_cell")

    col = parse_height_column(cells)

    assert col.unit == "cm"
    expected = tenths / 10
    expected[::10] = np.nan
    expected[odd] = 175.26
    np.testing.assert_allclose(col.values, expected, rtol=1e-12)
    assert col.missing.sum() == n // 10
    assert not any(col.issues)
    assert len(calls) == len(odd)  # only the feet-and-inches cells were read one by one


def test_a_million_number_cells_take_the_vectorised_path(monkeypatch):
    n = 1_000_000
    rng = np.random.default_rng(8)
    ints = rng.integers(-5000, 5000, n)
    cells = ints.astype(str).astype(object)
    cells[1::4] = np.char.add(ints[1::4].astype(str), ",5").astype(object)
    big = np.abs(ints[2::4]) + 1000
    cells[2::4] = np.char.add(
        np.char.add((big // 1000).astype(str), ","), np.char.zfill((big % 1000).astype(str), 3)
    ).astype(object)
    cells[::50] = "n/a"
    cells[7::200_000] = "12 kg"
    calls = _count_calls(monkeypatch, "_number_cell")

    col = parse_number_column(cells)

    expected = ints.astype(float)
    expected[1::4] += np.where(ints[1::4] < 0, -0.5, 0.5)
    expected[2::4] = big
    expected[::50] = np.nan
    expected[7::200_000] = np.nan
    np.testing.assert_array_equal(col.values, expected)
    assert col.missing.sum() == n // 50
    assert (col.issues[7::200_000] == "not a number: '12 kg'").all()
    assert sum(i is not None for i in col.issues) == 5
    assert len(calls) == 5


def test_preferred_spellings_ignores_codes_outside_the_classes():
    raw = ["F", "F", "x", "female"]
    assert preferred_spellings(raw, np.array([0, 0, 5, 0]), ["female"]) == {"female": "F"}
    assert preferred_spellings(raw, np.array([0, 1, 1, 1]), ["female", "male"]) == {
        "female": "F",
        "male": "F",
    }
