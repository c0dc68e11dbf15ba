"""Random tables through the whole pipeline: write, load, fill, export, write, load.

The promise under test: no crash (an unfittable table gets a FillError or a
MixtureError with a message), no user cell lost or altered, every filled
cell marked, rows and columns in their order; and a saved filled sheet
reopens with its marks.  fileio's own round trip of arbitrary cells is
fuzzed in test_fileio.py; here the cells are shaped like real class lists.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import parsing
from emgui.core.fileio import read_table, write_table
from emgui.core.fill import FillError, export_table, fill_sheet
from emgui.core.mixture import MixtureError
from emgui.core.sheet import FILLED, USER, Sheet

SETTINGS = settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text a CSV may hold: printable characters plus tab, newline and CR (a text
# file full of other control characters is refused as binary, on purpose).
_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r")
_FORMULAS = ["=1+2", "=HYPERLINK(\"http://x\")", "+3-4", "-x", "@SUM(A1)", "\tindent", "\rcr", "'=quoted"]
_NUMBER_LIKE = ["-5", "+3.2", "1e300", "1e308", "-1e-300", "9" * 25, "0", "-0", "1,5", "1 234,5", "0.0000001"]

_LABELS_COMMON = ["F", "M", "f", "m", "female", "Male", "FEMALE", " male ", "girl", "Boy", None]
_LABELS_BLANK = [None, "", "N/A", "?", "na", "-", "  ", "#N/A", "unknown"]
_LABELS_ODD = ["other", "Child", "x", "=F", "+M", "Ψ", "1", "non-binary"]

_HEIGHT_UNITS = {"Height (cm)": "cm", "Height (in)": "in", "height": None, "Körpergröße [m]": "m"}


def _obj(values) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def _text(max_size=10):
    return st.text(_ALPHABET, min_size=1, max_size=max_size)


def _cm_height():
    """A height cell in many spellings (most of them plausible, some not)."""
    return st.one_of(
        st.floats(120, 210).map(lambda v: f"{v:.1f}"),
        st.integers(120, 210).map(str),
        st.floats(1.2, 2.1).map(lambda v: f"{v:.2f} m".replace(".", ",")),
        st.integers(4, 6).flatmap(lambda ft: st.integers(0, 11).map(lambda i: f"{ft}'{i}\"")),
        st.integers(48, 80).map(lambda v: f"{v} in"),
        st.sampled_from(["10000", "-170", "1e308", "1e-300", "0", "abc", "#VALUE!", "inf", "NaN", "N/A", ""]),
        st.sampled_from(_FORMULAS + _NUMBER_LIKE),
        st.none(),
        _text(6),
    )


def _plain_number():
    return st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: parsing.format_number(round(v, 3))),
        st.integers(-10**12, 10**12).map(str),
        st.sampled_from(_NUMBER_LIKE + ["1.234,5", "1,234.5", "1e-300", "-1e300", "#DIV/0!", ""]),
        st.none(),
        _text(6),
    )


def _label():
    return st.one_of(
        st.sampled_from(_LABELS_COMMON),
        st.sampled_from(_LABELS_COMMON),
        st.sampled_from(_LABELS_BLANK),
        st.sampled_from(_LABELS_ODD),
    )


def _name():
    return st.one_of(
        _text(12),
        st.sampled_from(_FORMULAS + _NUMBER_LIKE + ["Zoë", "李雷", "O'Brien", "a,b;c", 'say "hi"', "x" * 300]),
        st.just(""),
        st.none(),
    )


@st.composite
def class_tables(draw):
    """(columns, cells as lists of str/None) shaped like a class list."""
    n = draw(st.integers(1, 25))
    kind = draw(st.sampled_from(["height", "plain", "two"]))
    label_name = draw(st.sampled_from(["Gender", "sex", "Geschlecht"]))
    columns = ["Name", label_name]
    cells = [[draw(_name()) for _ in range(n)], [draw(_label()) for _ in range(n)]]
    if kind in ("height", "two"):
        columns.append(draw(st.sampled_from(sorted(_HEIGHT_UNITS))))
        cells.append([draw(_cm_height()) for _ in range(n)])
    if kind in ("plain", "two"):
        columns.append("Score")
        cells.append([draw(_plain_number()) for _ in range(n)])
    if draw(st.booleans()):
        columns.append("Notes")
        cells.append([draw(st.one_of(st.none(), _text(20), st.sampled_from(_FORMULAS))) for _ in range(n)])
    return columns, cells


# --------------------------------------------------------------------------- helpers


def _normalise(cells: list[list]) -> list[list]:
    """What any file gives back: "" is blank (None); blank rows at the end are not kept."""
    out = [[None if v == "" else v for v in col] for col in cells]
    n = len(out[0])
    while n and all(col[n - 1] is None for col in out):
        n -= 1
    return [col[:n] for col in out]


def _round_trip(path: Path, columns, cells):
    write_table(path, columns, [_obj(c) for c in cells])
    table = read_table(path)
    return table.columns, [list(c) for c in table.cells]


_PLAIN_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _check_feature_cell(before, after, value, where):
    """A height cell is either unchanged or the same value rewritten in the column's unit."""
    if after == before:
        return
    assert before is not None and math.isfinite(value), f"{where}: {before!r} became {after!r}"
    assert after is not None and _PLAIN_NUMBER_TEXT.fullmatch(after), f"{where}: {after!r}"
    assert abs(float(after) - value) <= 5e-4 + 1e-12 * abs(value), f"{where}: {before!r} -> {after!r}"
    # Only text that is not already the plain number may be rewritten.
    plain = parsing.parse_number_column(_obj([before])).values[0]
    assert not (math.isfinite(plain) and abs(plain - value) < 1e-9), f"{where}: {before!r} rewritten"


def _xlsx_reads_as(text):
    """What an XLSX cell written from ``text`` reads back as: a number cell gives its value."""
    from emgui.core.fileio import _format_number, _xlsx_number

    if text is None:
        return None
    number = _xlsx_number(text)
    return text if number is None else _format_number(number[0])


def _as_read(ext: str, cols):
    """Cells as reading a file of kind ``ext`` gives them back (XLSX: numbers by value, marks as booleans)."""
    if ext != ".xlsx":
        return cols
    return [[_xlsx_reads_as(v) for v in c] for c in cols]


def _pipeline(ext: str, columns, cells):
    """Run the whole pipeline; returns (expected input cells, sheet, outcome, exported, reread)."""
    expected = _as_read(ext, _normalise(cells))
    with tempfile.TemporaryDirectory() as d:
        got_columns, got = _round_trip(Path(d) / f"in{ext}", columns, cells)
        assert got_columns == columns
        assert got == expected
        sheet = Sheet.from_table(got_columns, [_obj(c) for c in got])
        try:
            fill_sheet(sheet)
            outcome = None
        except (FillError, MixtureError) as exc:
            outcome = str(exc)
            assert outcome.strip() and "Traceback" not in outcome
        out_columns, out_cells = export_table(sheet)
        back_columns, back = _round_trip(Path(d) / f"out{ext}", out_columns, out_cells)
    assert back_columns == out_columns
    if ext == ".xlsx":
        # Written without the marks' column indices, "true"/"false" stay text.
        assert back == _as_read(ext, _normalise([list(c) for c in out_cells]))
    else:
        assert back == _normalise([list(c) for c in out_cells])
    return expected, sheet, outcome, back_columns, back


# --------------------------------------------------------------------------- the properties


def _check_export(columns, expected, sheet, outcome, back_columns, back):
    n_cols, n_rows = len(columns), len(expected[0])
    roles = sheet.roles
    label = roles.label
    assert label == 1  # named gender/sex/Geschlecht
    # Column order: the input's, then the marks, then issue columns.
    assert back_columns[:n_cols] == columns
    assert back_columns[n_cols : n_cols + 2] == [columns[label] + "_imputed", columns[label] + "_confidence"]
    assert all(c.endswith(("_issue", "_note")) for c in back_columns[n_cols + 2 :])
    # Row order and count: every input row is there (the mark column is never blank).
    assert all(len(c) == n_rows for c in back)
    imputed, confidence = back[n_cols], back[n_cols + 1]
    assert set(imputed) <= {"true", "false"}

    user_spellings = {v.strip() for v in expected[label] if not parsing.is_missing(v)}
    readable = np.all([np.isfinite(sheet.values(f)) for f in roles.features], axis=0) if roles.features else None
    unusual = {row for row, _, _ in sheet.unusual_marks()}
    for r in range(n_rows):
        where = f"row {r}"
        before, after = expected[label][r], back[label][r]
        if imputed[r] == "true":
            assert parsing.is_missing(before), f"{where}: typed label {before!r} overwritten"
            assert not parsing.is_missing(after), f"{where}: marked filled but blank"
            assert after in user_spellings or (not user_spellings and after.isdigit()), f"{where}: {after!r}"
            p = float(confidence[r])
            assert 0.0 < p <= 1.0 and math.isfinite(p), f"{where}: confidence {confidence[r]!r}"
        else:
            assert after == before, f"{where}: label {before!r} -> {after!r} without a mark"
            assert confidence[r] is None
        if outcome is None and parsing.is_missing(before) and readable[r]:
            if r in unusual:  # its value is left out, its label not filled, and the note says why
                assert imputed[r] == "false" and "unusual" in (sheet.note(r) or ""), where
            else:
                assert imputed[r] == "true", f"{where}: a fittable blank label was not filled"

    for j in range(n_cols):
        if j == label:
            continue
        if j in roles.features and sheet.unit(j) is not None:
            for r in range(n_rows):
                _check_feature_cell(expected[j][r], back[j][r], sheet.values(j)[r], f"row {r}, {columns[j]!r}")
        else:
            assert back[j] == expected[j], f"column {columns[j]!r} changed"
    if outcome is not None:
        assert (sheet.provenance == USER).all()


@SETTINGS
@given(class_tables())
def test_csv_pipeline_keeps_every_user_cell(table):
    columns, cells = table
    _check_export(columns, *_pipeline(".csv", columns, cells))


@SETTINGS
@given(class_tables())
def test_xlsx_pipeline_keeps_every_user_cell(table):
    columns, cells = table
    _check_export(columns, *_pipeline(".xlsx", columns, cells))


@SETTINGS
@given(class_tables(), st.sampled_from([".csv", ".xlsx", ".tsv"]))
def test_saved_filled_sheet_reopens_with_its_marks(table, ext):
    columns, cells = table
    sheet = Sheet(columns, [_obj([None if v == "" else v for v in c]) for c in cells])
    try:
        fill_sheet(sheet, min_confidence=0.0)
    except (FillError, MixtureError) as exc:
        assert str(exc).strip()
    saved_columns, saved_cells = sheet.to_table()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"saved{ext}"
        write_table(path, saved_columns, saved_cells)
        table = read_table(path)
    reopened = Sheet.from_table(table.columns, table.cells)
    assert reopened.columns == sheet.columns
    assert reopened.roles == sheet.roles
    n = reopened.n_rows  # blank rows at the end of a file are not kept
    assert n <= sheet.n_rows
    assert all(v is None for c in range(sheet.n_cols) for v in sheet.column_cells(c)[n:])
    for c in range(sheet.n_cols):
        assert list(reopened.column_cells(c)) == _as_read(ext, [list(sheet.column_cells(c)[:n])])[0]
    filled = sheet.provenance[:n] == FILLED
    np.testing.assert_array_equal(reopened.provenance == FILLED, filled)
    np.testing.assert_allclose(reopened.confidence[filled], sheet.confidence[:n][filled], atol=5e-7)
