"""Packed text columns: a sheet built from Arrow arrays behaves exactly as one built from object arrays.

The window reads CSV files with ``read_table(arrow=True)`` and the sheet
keeps the columns it only shows (names, notes) packed until they are edited
(issue 6: memory for a million rows).  Every observable thing -- cells,
roles, edits, undo records, row removal and insertion, saving -- must be
the same as with the plain object arrays.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from cellarrays import obj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import fileio
from emgui.core.fill import export_table, fill_sheet
from emgui.core.sheet import Sheet
from emgui.core.textcolumn import TextColumn

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

_TEXT = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=st.sampled_from("aZé ü😀,'=\t\n1"), min_size=1, max_size=6),
)


def as_cells(values) -> np.ndarray:
    """What the sheet keeps for typed values: "" is a blank (None)."""
    return obj(None if v == "" else v for v in values)


def test_cells_nulls_and_empty_strings():
    arr = pa.array(["Ana", "", None, "Zoë", "😀 x"])
    col = TextColumn(arr)
    assert len(col) == 5
    assert [col.get(i) for i in range(5)] == ["Ana", None, None, "Zoë", "😀 x"]
    assert col.take([4, 0, 2]).tolist() == ["😀 x", "Ana", None]
    assert col.to_cells().tolist() == ["Ana", None, None, "Zoë", "😀 x"]
    assert col.take(np.zeros(0, dtype=np.int64)).tolist() == []
    with pytest.raises(IndexError):
        col.take([5])


def test_slices_and_large_strings_read_from_their_offset():
    base = pa.array(["h", "a", None, "b", "", "c"])
    col = TextColumn(base.slice(1, 4))
    assert [col.get(i) for i in range(4)] == ["a", None, "b", None]
    large = TextColumn(pa.array(["x", None, "yz"], type=pa.large_string()).slice(1))
    assert [large.get(i) for i in range(2)] == [None, "yz"]
    assert TextColumn(pa.chunked_array([["p"], [None, "q"]])).to_cells().tolist() == ["p", None, "q"]
    with pytest.raises(TypeError):
        TextColumn(pa.array([1, 2]))


def test_packed_names_take_a_fraction_of_python_strings():
    names = [f"Student {i}" for i in range(100_000)]
    col = TextColumn(pa.array(names))
    as_objects = sum(sys.getsizeof(s) for s in names) + 8 * len(names)
    assert col.nbytes < as_objects / 4


def test_repeating_cells_are_unpacked_as_shared_strings():
    col = TextColumn(pa.array(["F", "M", None] * 2000))
    cells = col.to_cells()
    assert len({id(v) for v in cells}) == 3  # "F", "M", None: one object each


def test_unpacking_in_blocks_gives_every_cell_in_order(monkeypatch):
    # The blocks that hand the interpreter lock back while a file is read
    # (issue 14 item 3): their edges must not drop or shift a cell.
    from emgui.core import _arrowtext, textcolumn

    monkeypatch.setattr(textcolumn, "TAKE_BLOCK", 7)
    monkeypatch.setattr(_arrowtext, "_CELLS_BLOCK", 5)
    labels = ["F", "M", None, "?"] * 1100 + ["M"]
    assert TextColumn(pa.array(labels)).to_cells().tolist() == labels  # through the dictionary
    names = [f"name {i}" if i % 9 else None for i in range(23)]
    assert TextColumn(pa.array(names)).to_cells().tolist() == names  # one str per cell
    sliced = pa.array(names).slice(3, 17)
    assert TextColumn(sliced).to_cells().tolist() == names[3:20]


def test_a_copy_of_cells_made_in_blocks_is_a_whole_independent_copy(monkeypatch):
    # The fit thread's copy of the label column, made in steps (issue 14 item 3).
    from emgui.core import textcolumn

    monkeypatch.setattr(textcolumn, "TAKE_BLOCK", 4)
    monkeypatch.setattr(textcolumn, "PREFAULT_CELLS", 5)  # the pages-first path too
    cells = np.array(["F", None, "M", "?", "m"] * 3, dtype=object)
    out = textcolumn.copy_cells(cells)
    assert out.tolist() == cells.tolist() and out.dtype == object
    out[0] = "changed"
    assert cells[0] == "F"
    assert textcolumn.copy_cells(cells[:0]).tolist() == []


@PROPS
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.lists(_TEXT, min_size=n, max_size=n),
            st.lists(st.sampled_from(["F", "M", None, "?"]), min_size=n, max_size=n),
            st.lists(st.sampled_from(["160", "172.5", None, "5'9\"", "x"]), min_size=n, max_size=n),
        )
    ),
    st.lists(
        st.tuples(st.sampled_from(["set", "insert", "remove", "capture"]), st.integers(0, 20), _TEXT),
        max_size=6,
    ),
)
def test_a_sheet_of_arrow_columns_behaves_as_one_of_object_columns(columns, ops):
    names, genders, heights = columns
    header = ["name", "gender", "height (cm)"]
    plain = Sheet(header, [as_cells(names), obj(genders), obj(heights)])
    packed = Sheet(header, [pa.array(names, type=pa.string()), pa.array(genders, type=pa.string()),
                            pa.array(heights, type=pa.string())])  # fmt: skip
    assert packed.is_packed(0) and not packed.is_packed(1) and packed.is_packed(2)
    undo = []
    for op, where, text in ops:
        for sheet in (plain, packed):
            row = where % max(sheet.n_rows, 1)
            if op == "set":
                sheet.set_cell(row, 0, text)
            elif op == "insert":
                sheet.insert_rows(row, 2)
            elif op == "remove" and sheet.n_rows > 1:
                undo.append((sheet, sheet.remove_rows([row])))
            elif op == "capture":
                undo.append((sheet, sheet.capture([row], [0, 1])))
    for sheet, record in reversed(undo):
        if hasattr(record, "state"):
            sheet.restore_rows(record)
        else:
            sheet.restore(record)
    assert plain.roles == packed.roles and plain.n_rows == packed.n_rows
    for c in range(3):
        assert plain.column_cells(c).tolist() == packed.column_cells(c).tolist()
        assert [plain.text(r, c) for r in range(plain.n_rows)] == [packed.text(r, c) for r in range(packed.n_rows)]
        rows = np.arange(plain.n_rows)[::-1]
        assert plain.cells(c, rows).tolist() == packed.cells(c, rows).tolist()
    assert plain.counts() == packed.counts()
    a_cols, a_cells = plain.to_table()
    b_cols, b_cells = packed.to_table()
    assert a_cols == b_cols
    assert [fileio.object_cells(c).tolist() for c in a_cells] == [fileio.object_cells(c).tolist() for c in b_cells]


def test_a_packed_column_is_unpacked_by_its_first_edit_and_snapshots_do_not_follow():
    sheet = Sheet(["name", "height"], [pa.array(["Ana", "Ben", None]), pa.array(["160", "180", "170"])])
    before = sheet.column_snapshot(0)
    assert sheet.is_packed(0) and isinstance(before, pa.Array)
    sheet.set_cell(1, 0, "Bea")
    assert not sheet.is_packed(0)
    assert fileio.object_cells(before).tolist() == ["Ana", "Ben", None]
    assert sheet.column_cells(0).tolist() == ["Ana", "Bea", None]


def test_a_packed_column_made_the_label_is_unpacked_for_the_fit():
    sheet = Sheet(["who", "sex", "height"], [pa.array(["a", "b", "c", "d"]), pa.array(["F", None, "M", None]),
                                             pa.array(["150", "152", "181", "179"])])  # fmt: skip
    assert sheet.roles.label == 1 and not sheet.is_packed(1)
    _, _, plan = fill_sheet(sheet)
    assert plan.n_filled == 2
    columns, cells = export_table(sheet)
    assert fileio.object_cells(cells[0]).tolist() == ["a", "b", "c", "d"]
    assert cells[1].tolist() == ["F", "F", "M", "M"]


def test_saving_a_packed_sheet_round_trips(tmp_path):
    names = [f"Student {i}" for i in range(500)] + [None, "=SUM(A1)", "Zoë"]
    heights = [str(150 + i % 40) for i in range(len(names))]
    sheet = Sheet(["name", "height"], [pa.array(names), pa.array(heights)])
    for ext in (".csv", ".xlsx"):
        path = tmp_path / f"out{ext}"
        fileio.write_table(path, *sheet.to_table(marks=False))
        back = fileio.read_table(path)
        assert back.cells[0].tolist() == names


def test_opening_and_filling_in_the_window_path_never_imports_pandas(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("name,gender,height\nAna,F,160\nBen,M,181\nCy,,172\nDi,F,158.5\nEd,,185\n")
    code = (
        "import sys\n"
        "from emgui.ui.loader import _build\n"
        "from emgui.core import fileio\n"
        "from emgui.core.fill import fill_sheet\n"
        f"sheet = _build({str(src)!r}, 2)\n"
        "packed = sheet.is_packed(0)\n"
        "fill_sheet(sheet)\n"
        f"fileio.write_table({str(tmp_path / 'o.csv')!r}, *sheet.to_table())\n"
        "print(packed, 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


_HEIGHT_CELL = st.one_of(
    st.none(),
    st.sampled_from(["160", "172.5", "1,75", "1.68 m", "5'9\"", "69 in", "175 cm", "n/a", "?", " 181 ",
                     "x", "1e3", "-5", "2,50", "1.000", "300", "inf", "12/03/2020", "TRUE", "#N/A"]),
    st.text(alphabet=st.sampled_from("0123456789.,' \"cmin-"), min_size=1, max_size=6),
)  # fmt: skip


@PROPS
@given(st.lists(_HEIGHT_CELL, max_size=30), st.sampled_from([None, "cm", "in", "m"]))
def test_parsing_packed_text_gives_what_parsing_object_cells_gives(cells, unit):
    from emgui.core import parsing

    cells = [None if c is None or not c.strip() and c == "" else c for c in cells]
    objects = obj(None if c == "" else c for c in cells)
    arrow = TextColumn(pa.array(cells, type=pa.string())).to_arrow()
    for parse in (lambda raw: parsing.parse_height_column(raw, unit), parsing.parse_number_column):
        a, b = parse(objects), parse(arrow)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.issues.tolist() == b.issues.tolist()
        np.testing.assert_array_equal(a.missing, b.missing)
        assert a.unit == b.unit
        if a.plain is None:
            assert b.plain is None
        else:
            np.testing.assert_array_equal(a.plain, b.plain)


@pytest.mark.parametrize(("unit", "mean", "sd", "spelt"), [
    ("m", 1.7, 0.1, "{:.2f}"), ("in", 67.0, 4.0, "{:.1f}"), ("cm", 170.0, 9.0, "{:.1f}"),
])
def test_a_packed_height_column_gets_the_unit_its_object_cells_get(unit, mean, sd, spelt):
    from emgui.core.sheet import height_unit

    rng = np.random.default_rng(0)
    # Mostly blank: every cell is looked at, packed or not; some cells carry
    # a unit of their own, and some are not heights at all.
    for blank in (0.0, 0.5, 0.999):
        cells = [None if rng.random() < blank else spelt.format(rng.normal(mean, sd)) for _ in range(100_000)]
        cells[7], cells[500] = "5'9\"", "tall"
        assert height_unit(obj(cells)) == height_unit(TextColumn(pa.array(cells, type=pa.string()))) == unit
