"""The table model: an adapter over the sheet with exact notifications, and the undo commands."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from cellarrays import obj as cell_array
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from emgui.core import fileio
from emgui.core.fill import fill_sheet
from emgui.core.sheet import FILLED, UNCERTAIN, USER, Roles, Sheet
from emgui.ui import palette
from emgui.ui.commands import (
    AcceptFilledCommand,
    ClearFilledCommand,
    FillCommand,
    InsertRowsCommand,
    RemoveRowsCommand,
    SetCellsCommand,
    SetRolesCommand,
)
from emgui.ui.table_model import FILLED_MARK, FILTERS, SheetTableModel

DATA = Path(__file__).resolve().parent.parent / "data"
D, E, TIP, BG, FONT = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.EditRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
)
# messy_class.csv: name, gender, height, notes -> view: name, gender, Confidence, height, notes
NAME, GENDER, CONF, HEIGHT, NOTES = range(5)


def messy_sheet() -> Sheet:
    table = fileio.read_table(DATA / "messy_class.csv")
    return Sheet.from_table(table.columns, table.cells)


def row_of(sheet: Sheet, name: str) -> int:
    return list(sheet.column_cells(0)).index(name)


def obj(*values):
    return cell_array(values)


@pytest.fixture
def sheet():
    return messy_sheet()


@pytest.fixture
def model(sheet, qtmodeltester):
    m = SheetTableModel(sheet, QUndoStack())
    # The C++ tester stays attached for the whole test and checks every signal.
    qtmodeltester.check(m)
    return m


class Recorder:
    """Collects a model's change signals as plain tuples."""

    def __init__(self, model):
        self.events = []
        model.dataChanged.connect(
            lambda tl, br, roles: self.events.append(("data", tl.row(), tl.column(), br.row(), br.column()))
        )
        model.rowsInserted.connect(lambda p, a, b: self.events.append(("inserted", a, b)))
        model.rowsRemoved.connect(lambda p, a, b: self.events.append(("removed", a, b)))


# -- shape and headers --------------------------------------------------------------


def test_columns_rows_and_headers(model, sheet):
    assert sheet.roles.label == 1 and sheet.roles.features == (2,)
    assert model.columnCount() == 5
    assert model.rowCount() == sheet.n_rows + 1  # the empty row that adds rows
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)]
    assert headers == ["name", "gender (label)", "Confidence", "height (cm) ↦ feature", "notes"]
    assert model.headerData(0, Qt.Orientation.Vertical) == "1"
    assert model.headerData(sheet.n_rows, Qt.Orientation.Vertical) == "*"
    assert model.confidence_column == CONF
    assert [model.sheet_column(c) for c in range(5)] == [0, 1, -1, 2, 3]
    assert not model.flags(model.index(0, CONF)) & Qt.ItemFlag.ItemIsEditable
    assert model.flags(model.index(0, HEIGHT)) & Qt.ItemFlag.ItemIsEditable
    assert model.flags(model.index(sheet.n_rows, NAME)) & Qt.ItemFlag.ItemIsEditable


def test_converted_height_shows_the_number_and_the_typed_text_in_the_tooltip(model, sheet):
    r = row_of(sheet, "Ben Okafor")  # 5'11"
    idx = model.index(r, HEIGHT)
    assert idx.data(D) == "180.3"
    assert idx.data(E) == "5'11\""
    assert "5'11\"" in idx.data(TIP) and "cm" in idx.data(TIP)
    plain = model.index(row_of(sheet, "Ana Lima"), HEIGHT)
    assert plain.data(D) == "162" and plain.data(TIP) is None


def test_unreadable_height_stays_as_typed_marked_with_the_reason(model, sheet):
    r = row_of(sheet, "Tom Becker")  # "17O", a letter O
    idx = model.index(r, HEIGHT)
    assert idx.data(D) == "17O"
    assert idx.data(BG).color().name().lower() == "#f6d3d3"
    tip = idx.data(TIP)
    assert "17O" in tip and sheet.issue(r, 2) in tip


def test_user_label_and_plain_column_read_the_raw_cells(model, sheet):
    r = row_of(sheet, "Liam O'Brien")
    assert model.index(r, GENDER).data(D) == "m"
    assert model.index(r, NOTES).data(D) == "absent on measuring day"
    assert model.index(r, GENDER).data(BG) is None
    assert model.index(r, CONF).data(D) is None
    blank = model.index(sheet.n_rows, NAME)
    assert blank.data(D) is None and blank.data(E) == ""


# -- filled and uncertain cells -------------------------------------------------------


def test_filled_cells_are_shaded_italic_marked_and_explained(model, sheet):
    fill_sheet(sheet)
    rows = np.flatnonzero(sheet.provenance == FILLED)
    assert len(rows) >= 5
    for r in rows:
        idx = model.index(int(r), GENDER)
        text = sheet.text(int(r), 1)
        assert idx.data(D) == text + FILLED_MARK
        assert idx.data(E) == text
        assert idx.data(FONT).italic()
        expected = palette.shade(int(sheet.guess[r]), float(sheet.confidence[r]), 2)
        assert idx.data(BG).color() == expected
        tip = idx.data(TIP)
        assert "Filled by EM" in tip
        for spelling in ("F", "M"):
            assert f"{spelling}: " in tip
        conf = model.index(int(r), CONF).data(D)
        assert conf.endswith("%")
    # A stronger confidence gives a stronger tint (further from white).
    lo = rows[np.argmin(sheet.confidence[rows])]
    hi = rows[np.argmax(sheet.confidence[rows])]
    if sheet.guess[lo] == sheet.guess[hi] and sheet.confidence[hi] - sheet.confidence[lo] > 0.2:
        light = model.index(int(lo), GENDER).data(BG).color().lightness()
        dark = model.index(int(hi), GENDER).data(BG).color().lightness()
        assert light > dark


def test_uncertain_cells_show_a_question_mark_and_the_best_guess(model, sheet):
    fill_sheet(sheet, min_confidence=0.999)
    rows = np.flatnonzero(sheet.provenance == UNCERTAIN)
    assert len(rows)
    r = int(rows[0])
    idx = model.index(r, GENDER)
    assert idx.data(D) == "?"
    assert idx.data(E) == ""
    tip = idx.data(TIP)
    guess = sheet.fill_spellings[sheet.fill_classes[int(sheet.guess[r])]]
    assert "best guess" in tip and guess in tip


# -- exact notifications --------------------------------------------------------------


def test_edits_emit_exact_data_changed_ranges(model, sheet):
    rec = Recorder(model)
    sheet.set_cell(5, 2, "170")
    assert rec.events == [("data", 5, HEIGHT, 5, HEIGHT)]
    rec.events.clear()
    sheet.set_cell(5, 1, "F")  # a label change includes its confidence cell
    assert rec.events == [("data", 5, GENDER, 5, CONF)]
    rec.events.clear()
    sheet.set_block(2, 0, [["a", "F"], ["b", "M"]])
    assert rec.events == [("data", 2, NAME, 3, CONF)]
    rec.events.clear()
    sheet.set_block(7, 2, [["150", "x"]])
    assert rec.events == [("data", 7, HEIGHT, 7, NOTES)]


def test_inserts_and_removals_emit_exact_rows(model, sheet):
    n = sheet.n_rows
    rec = Recorder(model)
    sheet.insert_rows(3, 2)
    assert rec.events == [("inserted", 3, 4)]
    assert model.index(3, NAME).data(D) is None
    assert model.index(5, NAME).data(D) == "Dev Patel"
    rec.events.clear()
    sheet.remove_rows([3, 4])
    assert rec.events == [("removed", 3, 4)]
    assert model.rowCount() == n + 1
    assert model.index(3, NAME).data(D) == "Dev Patel"
    rec.events.clear()
    sheet.set_block(n, 0, [["new"]])  # past the end: appended before the empty row
    assert rec.events[0] == ("inserted", n, n)
    assert model.index(n, NAME).data(D) == "new"
    assert model.rowCount() == n + 2


def test_the_unsorted_order_is_kept_as_int32_and_stays_right_through_inserts(model, sheet):
    # Every row's number, kept as long as the sheet is shown: 4 bytes a row
    # (issue 14, the 1M-row window's peak).
    from emgui.ui.table_model import compute_order, prepare_row_numbers

    order, identity, _ = compute_order(sheet, list(range(sheet.n_cols)), set(), "all", None)
    assert identity and order.dtype == np.int32 and np.array_equal(order, np.arange(sheet.n_rows))
    prepare_row_numbers(sheet.n_rows)  # as the loader thread makes them for a large sheet
    assert compute_order(sheet, list(range(sheet.n_cols)), set(), "all", None)[0].dtype == np.int32
    n = sheet.n_rows
    sheet.insert_rows(2, 3)
    names = [model.index(r, NAME).data(D) for r in range(model.rowCount() - 1)]
    assert names == [sheet.text(r, NAME) for r in range(n + 3)]


def test_commands_remove_scattered_rows_one_run_at_a_time(model, sheet):
    stack = QUndoStack()
    rec = Recorder(model)
    before = [list(sheet.column_cells(c)) for c in range(sheet.n_cols)]
    stack.push(RemoveRowsCommand(sheet, [9, 2, 3, 20]))
    assert [e for e in rec.events if e[0] == "removed"] == [("removed", 20, 20), ("removed", 9, 9), ("removed", 2, 3)]
    assert sheet.n_rows == len(before[0]) - 4
    stack.undo()
    assert [list(sheet.column_cells(c)) for c in range(sheet.n_cols)] == before
    assert model.rowCount() == len(before[0]) + 1


# -- editing through the model --------------------------------------------------------


def test_typing_into_the_empty_row_adds_a_row_and_undo_removes_it(sheet, qtmodeltester):
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    qtmodeltester.check(model)
    n = sheet.n_rows
    assert model.setData(model.index(n, HEIGHT), "5'9\"")
    assert sheet.n_rows == n + 1 and model.rowCount() == n + 2
    assert sheet.text(n, 2) == "5'9\""
    assert model.index(n, HEIGHT).data(D) == "175.3"
    # Leaving the empty row empty adds nothing.
    assert not model.setData(model.index(n + 1, NAME), "")
    assert sheet.n_rows == n + 1
    stack.undo()
    assert sheet.n_rows == n and model.rowCount() == n + 1
    stack.redo()
    assert sheet.text(n, 2) == "5'9\""


def test_editing_a_filled_label_makes_it_the_users_and_undo_brings_the_mark_back(sheet):
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    fill_sheet(sheet)
    r = int(np.flatnonzero(sheet.provenance == FILLED)[0])
    conf = float(sheet.confidence[r])
    old = sheet.text(r, 1)
    new = "M" if old == "F" else "F"
    assert model.setData(model.index(r, GENDER), new)
    assert sheet.provenance[r] == USER and sheet.text(r, 1) == new
    assert model.index(r, GENDER).data(D) == new
    stack.undo()
    assert sheet.provenance[r] == FILLED and sheet.text(r, 1) == old
    assert sheet.confidence[r] == conf
    assert model.index(r, GENDER).data(D) == old + FILLED_MARK


def test_unchanged_edit_pushes_nothing(sheet):
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    assert model.setData(model.index(0, NAME), "Ana Lima")
    assert stack.count() == 0
    assert not model.setData(model.index(0, CONF), "50")


def test_paste_block_past_the_end_is_one_undo_step(sheet):
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    n = sheet.n_rows
    rows = [n - 1, n, n + 1]
    block = [["Zed", "M", "180"], ["Yara", "F", "1,62 m"], ["Xu", "", "160"]]
    model.edit_cells(rows, 0, block, "Paste")
    assert stack.count() == 1 and sheet.n_rows == n + 2
    assert sheet.text(n - 1, 0) == "Zed" and sheet.text(n + 1, 1) is None
    assert sheet.value(n, 2) == pytest.approx(162.0)
    stack.undo()
    assert sheet.n_rows == n
    assert sheet.text(n - 1, 0) != "Zed"


def test_fill_accept_clear_and_roles_commands_undo(sheet):
    stack = QUndoStack()
    SheetTableModel(sheet, stack)
    original = list(sheet.column_cells(1))
    fit_input, result, plan = fill_sheet(sheet.__class__.from_table(*sheet.to_table(marks=False)))
    stack.push(FillCommand(sheet, plan))
    filled = np.flatnonzero(sheet.provenance == FILLED)
    assert len(filled) == plan.n_filled > 0
    stack.push(AcceptFilledCommand(sheet))
    assert not len(sheet.filled_rows())
    stack.undo()
    assert list(np.flatnonzero(sheet.provenance == FILLED)) == list(filled)
    stack.push(ClearFilledCommand(sheet))
    # Cleared cells hold what was typed before the fill ("?" included), the rest untouched.
    assert list(sheet.column_cells(1)) == original
    stack.undo()
    stack.undo()  # the fill
    assert list(sheet.column_cells(1)) == original and not len(sheet.filled_rows())
    stack.redo()
    assert list(np.flatnonzero(sheet.provenance == FILLED)) == list(filled)

    stack.push(SetRolesCommand(sheet, Roles(None, (2,), {2: "in"})))
    assert sheet.roles.label is None and not len(sheet.filled_rows())
    assert list(sheet.column_cells(1)) == original  # the old label's filled values are cleared
    stack.undo()
    assert sheet.roles.label == 1 and list(np.flatnonzero(sheet.provenance == FILLED)) == list(filled)


def test_a_second_fill_undoes_to_the_first_and_then_to_the_typed_sheet(sheet):
    """The fill's undo record copies only rows an earlier fill marked; both steps still undo exactly."""
    stack = QUndoStack()
    SheetTableModel(sheet, stack)

    def state():
        return (
            list(sheet.column_cells(1)),
            sheet.provenance.tolist(),
            np.nan_to_num(sheet.confidence, nan=-1).tolist(),
            sheet.guess.tolist(),
            sheet.label_missing().tolist(),
            sheet.counts(),
        )

    typed = state()
    _, _, first = fill_sheet(Sheet.from_table(*sheet.to_table(marks=False)))
    # A second fit with a threshold: some of the rows are now left uncertain.
    _, _, second = fill_sheet(Sheet.from_table(*sheet.to_table(marks=False)), min_confidence=0.9)
    stack.push(FillCommand(sheet, first))
    after_first = state()
    assert second.n_uncertain > 0
    stack.push(FillCommand(sheet, second))
    assert state() != after_first
    stack.undo()
    assert state() == after_first
    stack.undo()
    assert state() == typed
    stack.redo()
    stack.redo()
    assert (sheet.provenance[second.rows] == second.status).all()


def test_fill_without_label_column_adds_one_and_undo_removes_it(qtmodeltester):
    sheet = Sheet(["who", "height"], [obj("a", "b", "c", "d", "e", "f"), obj("150", "152", "151", "180", "182", "181")])
    assert sheet.roles.label is None
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    qtmodeltester.check(model)
    copy = Sheet(["who", "height"], [obj(*sheet.column_cells(0)), obj(*sheet.column_cells(1))])
    _, _, plan = fill_sheet(copy)
    stack.push(FillCommand(sheet, plan))
    assert sheet.columns == ["who", "height", "class"] and sheet.roles.label == 2
    assert model.columnCount() == 4
    stack.undo()
    assert sheet.roles.label is None
    assert sheet.columns == ["who", "height"] and model.columnCount() == 2
    stack.redo()
    assert sheet.roles.label == 2 and len(sheet.filled_rows()) == 6


def test_insert_rows_command(sheet):
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    n = sheet.n_rows
    stack.push(InsertRowsCommand(sheet, 2, 3))
    assert sheet.n_rows == n + 3 and model.index(2, NAME).data(D) is None
    stack.undo()
    assert sheet.n_rows == n and model.index(2, NAME).data(D) == "Chloé Martin"


def test_set_cells_command_rejects_mismatched_rows(sheet):
    with pytest.raises(ValueError):
        SetCellsCommand(sheet, [0, 1], 0, [["x"]])


# -- sorting and filtering ------------------------------------------------------------


def test_sorting_reorders_the_view_only(model, sheet):
    raw_before = [list(sheet.column_cells(c)) for c in range(sheet.n_cols)]
    model.sort(HEIGHT, Qt.SortOrder.AscendingOrder)
    shown = [sheet.value(model.sheet_row(r), 2) for r in range(model.n_data_rows)]
    readable = [v for v in shown if np.isfinite(v)]
    assert readable == sorted(readable)
    assert all(not np.isfinite(v) for v in shown[len(readable):])  # blanks and unreadable last
    assert [list(sheet.column_cells(c)) for c in range(sheet.n_cols)] == raw_before
    model.sort(HEIGHT, Qt.SortOrder.DescendingOrder)
    shown = [sheet.value(model.sheet_row(r), 2) for r in range(model.n_data_rows)]
    readable = [v for v in shown if np.isfinite(v)]
    assert readable == sorted(readable, reverse=True)
    assert model.index(0, NAME).data(D) == "Noah Schulz"  # 190 cm, the tallest
    assert model.headerData(0, Qt.Orientation.Vertical) == str(row_of(sheet, "Noah Schulz") + 1)
    model.sort(-1)
    assert model.sort_state is None
    assert [model.sheet_row(r) for r in range(model.n_data_rows)] == list(range(sheet.n_rows))


def test_sort_by_confidence_is_a_review_queue(model, sheet):
    fill_sheet(sheet)
    model.sort(CONF, Qt.SortOrder.AscendingOrder)
    n_filled = len(sheet.filled_rows())
    confs = [float(sheet.confidence[model.sheet_row(r)]) for r in range(n_filled)]
    assert confs == sorted(confs)
    assert all(sheet.provenance[model.sheet_row(r)] == USER for r in range(n_filled, model.n_data_rows))


def test_sort_by_text_and_persistent_indexes_follow(model, sheet):
    keep = QPersistentModelIndex(model.index(row_of(sheet, "Zoe Müller"), NAME))
    model.sort(NAME, Qt.SortOrder.AscendingOrder)
    names = [model.index(r, NAME).data(D) for r in range(model.n_data_rows)]
    present = [n for n in names if n]
    assert present == sorted(present, key=str.casefold)
    assert keep.isValid() and keep.data(D) == "Zoe Müller"


def test_edits_and_inserts_under_a_sort_land_on_the_right_view_rows(model, sheet):
    model.sort(HEIGHT, Qt.SortOrder.DescendingOrder)
    rec = Recorder(model)
    r = row_of(sheet, "Ana Lima")
    view_row = model.view_row(r)
    sheet.set_cell(r, 0, "Ana L.")
    assert rec.events == [("data", view_row, NAME, view_row, NAME)]
    assert model.index(view_row, NAME).data(D) == "Ana L."
    rec.events.clear()
    n_view = model.n_data_rows
    sheet.insert_rows(sheet.n_rows, 1)  # appended rows go to the end of the view
    assert rec.events == [("inserted", n_view, n_view)]
    rec.events.clear()
    sheet.insert_rows(r, 1)  # inserted rows go where their neighbour is shown
    assert rec.events == [("inserted", view_row, view_row)]
    assert model.index(view_row + 1, NAME).data(D) == "Ana L."


def test_filters(model, sheet):
    assert [k for k, _ in FILTERS] == ["all", "missing", "filled", "uncertain", "unreadable", "notes"]
    model.set_filter("unreadable")
    shown = {model.index(r, NAME).data(D) for r in range(model.n_data_rows)}
    assert {"Tom Becker", "Mia Rossi"} <= shown
    assert all(sheet.issue(model.sheet_row(r), 2) is not None for r in range(model.n_data_rows))
    model.set_filter("missing")
    missing = model.n_data_rows
    assert missing == sheet.counts()["missing"]
    fill_sheet(sheet, min_confidence=0.9)
    model.set_filter("filled")
    assert model.n_data_rows == sheet.counts()["filled"] > 0
    model.set_filter("uncertain")
    assert model.n_data_rows == sheet.counts()["uncertain"]
    model.set_filter("all")
    assert model.n_data_rows == sheet.n_rows
    with pytest.raises(ValueError):
        model.set_filter("nonsense")


def test_removing_rows_under_a_filter(model, sheet):
    model.set_filter("missing")
    shown = [model.sheet_row(r) for r in range(model.n_data_rows)]
    stack = QUndoStack()
    stack.push(RemoveRowsCommand(sheet, shown[:2] + [0]))
    assert model.n_data_rows == len(shown) - 2
    stack.undo()
    # Rows put back are shown even if the filter would hide them (row 0 has a label).
    assert model.n_data_rows == len(shown) + 1
    for r in range(model.n_data_rows):
        assert model.index(r, NAME).data(D) == sheet.text(model.sheet_row(r), 0)
    assert sorted(model.sheet_row(r) for r in range(model.n_data_rows)) == sorted(shown + [0])


def test_set_sheet_and_reset(model, sheet):
    other = Sheet.blank(n_rows=3)
    model.set_sheet(other)
    assert model.rowCount() == 4 and model.columnCount() == 4
    assert model.index(0, 0).data(D) is None
    sheet.set_cell(0, 0, "ignored")  # the old sheet no longer drives the model
    assert model.index(0, 0).data(D) is None
    other.rename_column(0, "Who")
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Who"


def test_label_choices_lists_the_spellings_in_use(model):
    choices = model.label_choices()
    assert {"F", "M", "female", "Male"} <= set(choices)
    assert "" not in choices


def test_invalid_index_and_parent(model):
    assert model.data(QModelIndex()) is None
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.columnCount(model.index(0, 0)) == 0


# -- speed ---------------------------------------------------------------------------


def test_data_is_fast_on_a_large_sheet():
    n = 200_000
    rng = np.random.default_rng(1)
    heights = np.array([f"{v:.1f}" for v in rng.normal(170, 9, n)], dtype=object)
    labels = np.array(["F", "M", None], dtype=object)[rng.integers(0, 3, n)]
    sheet = Sheet(["gender", "height"], [labels, heights])
    model = SheetTableModel(sheet)
    indexes = [model.index(int(r), c) for r in rng.integers(0, n, 2000) for c in range(3)]
    start = time.perf_counter()
    for _ in range(3):
        for idx in indexes:
            model.data(idx, D)
            model.data(idx, BG)
    per_call = (time.perf_counter() - start) / (len(indexes) * 6)
    # A few microseconds; generous for slow CI machines.
    assert per_call < 60e-6, f"data() takes {per_call * 1e6:.1f} µs"


def test_a_removal_of_several_runs_at_once_ends_consistent(sheet):
    # The sheet announces several runs only after removing all of them; the
    # model must still end up showing exactly the sheet's rows.
    model = SheetTableModel(sheet)
    rec = Recorder(model)
    sheet.remove_rows([2, 5, 6, 9])
    assert [e for e in rec.events if e[0] == "removed"] == [("removed", 9, 9), ("removed", 5, 6), ("removed", 2, 2)]
    assert model.rowCount() == sheet.n_rows + 1
    assert [model.index(r, NAME).data(D) for r in range(sheet.n_rows)] == list(sheet.column_cells(0))


def test_a_change_of_many_rows_repaints_only_its_columns_in_view(qtbot):
    """A fill changes two columns of every row: the view repaints those, not every visible cell."""
    from emgui.ui.delegates import SheetView

    asked: list[int] = []

    class Counting(SheetTableModel):
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            asked.append(index.column())
            return super().data(index, role)

    rng = np.random.default_rng(0)
    n = 5000
    heights = np.r_[rng.normal(162, 6, n // 2), rng.normal(177, 7, n - n // 2)]
    genders = np.where(np.arange(n) % 3 == 0, None, np.where(np.arange(n) < n // 2, "F", "M"))
    sheet = Sheet(
        ["name", "gender", "height", "notes"],
        [obj(*[f"P{i}" for i in range(n)]), obj(*genders), obj(*[f"{h:.1f}" for h in heights]), obj(*[""] * n)],
    )
    model = Counting(sheet, QUndoStack())
    view = SheetView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    columns = model.columnCount()
    assert all(view.columnViewportPosition(c) < view.viewport().width() for c in range(columns))

    def repaint_after(change) -> set[int]:
        """The view columns whose cells are asked for their data when ``change`` is painted."""
        QApplication.processEvents()
        asked.clear()
        change()
        QApplication.processEvents()  # the repaint that is due, of what is dirty
        return set(asked)

    assert repaint_after(lambda: view.viewport().update()) == set(range(columns))
    # Every blank label of 5000 rows: one CellsChanged over all rows.
    painted = repaint_after(lambda: fill_sheet(sheet))
    assert {GENDER, CONF} <= painted < set(range(columns))  # the fill's columns, not all
    # Shown as changed: a filled row in view has its mark.
    r = int(np.flatnonzero(sheet.provenance == FILLED)[0])
    assert view.rowAt(0) <= r <= view.rowAt(view.viewport().height() - 1)
    assert model.index(r, GENDER).data(D).endswith(FILLED_MARK)
    # A change wholly out of view repaints nothing.
    far = n - 10
    assert far > view.rowAt(view.viewport().height() - 1)
    assert repaint_after(lambda: sheet.set_cell(far, 0, "Zed")) == set()
