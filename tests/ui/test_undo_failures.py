"""A sheet write that raises inside the undo stack: rolled back, said once, the stack and sheet agree.

``QUndoStack`` calls a command's ``redo()`` / ``undo()`` from C++; before
:class:`emgui.ui.commands.SheetUndoStack` an exception there was kept by
PySide and raised in the next slot Qt called (``cleanChanged``), while Qt
finished the push or undo as if it had worked: the stack moved, the sheet
did not, a ``beginMacro`` stayed open.  Here each failure is provoked by
patching a :class:`Sheet` method (or a view's handler) to raise, driven by
keys as a person would.  pytest-qt's capture of exceptions in Qt virtuals
and slots is on: any exception reaching Qt fails the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QComboBox

import emgui.core.fill as core_fill
from emgui.core import recovery as core_recovery
from emgui.core.sheet import Sheet, SheetError
from emgui.ui.commands import (
    GroupCommand,
    InsertRowsCommand,
    RemoveRowsCommand,
    SetCellsCommand,
    SheetUndoStack,
)
from emgui.ui.recovery import RecoveryKeeper
from emgui.ui.table_model import SheetTableModel

MESSY = Path(__file__).resolve().parent.parent / "data" / "messy_class.csv"
NAME, GENDER, CONF, HEIGHT = range(4)
CTRL = Qt.KeyboardModifier.ControlModifier
WAIT_MS = 5000
FIT_TIMEOUT = 30_000

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def window(discard_unsaved, shown_window):
    assert shown_window.open_path(MESSY)
    return shown_window


def _second_call_raises(real, calls: list, exc: BaseException):
    """``real`` (a method) wrapped: each call's arguments kept in ``calls``; the second call raises ``exc``."""

    def wrapped(self, *args):
        calls.append(args)
        if len(calls) == 2:
            raise exc
        return real(self, *args)

    return wrapped


def _raise(exc: BaseException):
    def boom(*_args, **_kwargs):
        raise exc

    return boom


def _cells(sheet: Sheet) -> list[list]:
    return [list(sheet.column_cells(c)) for c in range(sheet.n_cols)]


def _row(sheet: Sheet, name: str) -> int:
    return list(sheet.column_cells(0)).index(name)


def _select(window, row: int, col: int) -> None:
    window.view.setCurrentIndex(window.model.index(row, col))
    window.view.setFocus()


def _message(qtbot, warnings) -> str:
    """The one warning shown (it opens a turn after the failure)."""
    qtbot.waitUntil(lambda: len(warnings) > 0, timeout=WAIT_MS)
    qtbot.wait(50)  # a second one would be queued by now
    assert len(warnings) == 1, warnings
    title, text = warnings[0]
    assert title == "Could not change the sheet"
    return text


def _consistent(window) -> None:
    """The table shows the sheet: one view row per sheet row (and the empty row), the texts equal."""
    sheet, model = window.sheet, window.model
    assert model.n_data_rows == sheet.n_rows
    assert model.rowCount() == sheet.n_rows + 1
    for r in range(sheet.n_rows):
        assert model.index(r, NAME).data(Qt.ItemDataRole.EditRole) in (sheet.text(r, 0), None)


def test_a_typed_cell_whose_write_fails_is_not_written_nor_put_on_the_stack(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    r = _row(sheet, "Ana Lima")
    window.model.setData(window.model.index(r + 1, HEIGHT), "150")  # something to redo: a failed edit must keep it
    stack.undo()
    before = _cells(sheet)
    _select(window, r, HEIGHT)
    qtbot.keyClicks(window.view, "1")
    editor = window.view.indexWidget(window.view.currentIndex())
    qtbot.keyClicks(editor, "70")
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _raise(MemoryError("no room for the cell")))
        qtbot.keyClick(editor, Qt.Key.Key_Return)

    text = _message(qtbot, warnings)
    assert "Edit Cell could not be done" in text and "MemoryError: no room for the cell" in text
    assert "as it was before" in text
    assert _cells(sheet) == before
    assert (stack.count(), stack.index(), stack.canRedo()) == (1, 0, True)
    assert not window.isWindowModified()
    _consistent(window)
    qtbot.keyClick(window.view, Qt.Key.Key_Y, CTRL)  # the redo it kept still works
    assert sheet.text(r + 1, 2) == "150"


def test_a_paste_that_fails_halfway_is_rolled_back_whole(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    r = _row(sheet, "Ana Lima")
    before = _cells(sheet)
    values_before = sheet.values(2).copy()
    parse = Sheet._parse_cells
    failed = []

    def parse_fails_on_heights(self, col, rows):
        if col == 2 and not failed:  # once: the gender cells are written by then, the height cells too
            failed.append(col)
            raise MemoryError("no room to read the heights")
        return parse(self, col, rows)

    _select(window, r, GENDER)
    with monkeypatch.context() as m:
        m.setattr(Sheet, "_parse_cells", parse_fails_on_heights)
        window.paste_text("M\t190\nF\t150\n")

    assert failed and "Paste could not be done" in _message(qtbot, warnings)
    assert _cells(sheet) == before
    np.testing.assert_array_equal(sheet.values(2), values_before)
    assert stack.count() == 0 and not window.isWindowModified()
    _consistent(window)


def test_an_undo_that_fails_keeps_the_sheet_and_the_stack_where_they_were(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    r = _row(sheet, "Ana Lima")
    window.model.setData(window.model.index(r, HEIGHT), "170")
    done = _cells(sheet)
    with monkeypatch.context() as m:
        m.setattr(Sheet, "restore", _raise(SheetError("the rows of this change no longer exist")))
        qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)

    text = _message(qtbot, warnings)
    assert text.startswith("Undo Edit Cell could not be done") and "SheetError" in text
    assert _cells(sheet) == done
    assert (stack.count(), stack.index(), stack.canUndo()) == (1, 1, True)
    assert window.action_map["undo"].isEnabled() and window.action_map["undo"].text() == "&Undo Edit Cell"
    assert window.isWindowModified()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)  # and it can be undone once the cause is gone
    assert sheet.text(r, 2) == "162" and stack.index() == 0


def test_a_redo_that_fails_keeps_the_sheet_and_the_stack_where_they_were(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    r = _row(sheet, "Ana Lima")
    window.model.setData(window.model.index(r, HEIGHT), "170")
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    undone = _cells(sheet)
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _raise(RuntimeError("a bug in the sheet")))
        qtbot.keyClick(window.view, Qt.Key.Key_Y, CTRL)

    assert _message(qtbot, warnings).startswith("Redo Edit Cell could not be done (RuntimeError: a bug")
    assert _cells(sheet) == undone
    assert (stack.count(), stack.index(), stack.canRedo()) == (1, 0, True)
    assert not window.isWindowModified()
    qtbot.keyClick(window.view, Qt.Key.Key_Y, CTRL)
    assert sheet.text(r, 2) == "170" and stack.index() == 1


def test_clearing_two_ranges_is_all_or_none_and_leaves_no_macro_open(window, qtbot, warnings, monkeypatch):
    sheet, stack, model = window.sheet, window.undo_stack, window.model
    before = _cells(sheet)
    _select(window, 0, HEIGHT)
    selection = QItemSelection(model.index(0, HEIGHT), model.index(1, HEIGHT))
    selection.merge(QItemSelection(model.index(4, NAME), model.index(5, NAME)), QItemSelectionModel.SelectionFlag.Select)
    window.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    calls = []
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _second_call_raises(Sheet.set_block, calls, MemoryError("no room")))
        qtbot.keyClick(window.view, Qt.Key.Key_Delete)

    assert "Clear Cells could not be done" in _message(qtbot, warnings)
    assert len(calls) == 2 and _cells(sheet) == before  # the first range was cleared, then put back
    assert stack.count() == 0
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)  # no macro left open: the next change is one undo step
    assert sheet.text(0, 2) is None and sheet.text(4, 0) is None
    assert stack.count() == 1 and stack.canUndo()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert _cells(sheet) == before


def test_deleted_rows_come_back_when_a_view_fails_on_their_removal(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    before = _cells(sheet)
    _select(window, 2, NAME)
    with monkeypatch.context() as m:
        m.setattr(SheetTableModel, "_on_rows_removed", _raise(IndexError("a bug in the table")))
        qtbot.keyClick(window.view, Qt.Key.Key_Minus, CTRL)

    assert "Delete Row could not be done (IndexError: a bug in the table)" in _message(qtbot, warnings)
    assert _cells(sheet) == before  # before, the removed row was lost for good
    assert stack.count() == 0
    qtbot.waitUntil(lambda: window.model.rowCount() == sheet.n_rows + 1, timeout=WAIT_MS)  # the table reads it again
    _consistent(window)


def test_when_the_rollback_fails_too_the_history_is_cleared_and_the_sheet_unsaved(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    r = _row(sheet, "Ana Lima")
    window.model.setData(window.model.index(r + 1, HEIGHT), "150")
    stack.setClean()  # as if saved: the failure below must make it unsaved again
    assert not window.isWindowModified()
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _raise(MemoryError("no room")))
        m.setattr(Sheet, "restore", _raise(MemoryError("no room either")))
        window.model.setData(window.model.index(r, HEIGHT), "170")

    text = _message(qtbot, warnings)
    assert "could not be put back either" in text and "undo history was cleared" in text
    assert stack.count() == 0 and not stack.isClean() and window.isWindowModified()
    assert sheet.text(r + 1, 2) == "150"  # the earlier edit stays in the sheet


def test_a_fill_that_fails_to_be_written_leaves_the_labels_as_they_were(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    before = _cells(sheet)
    filled = []
    window.fill_applied.connect(filled.append)
    with monkeypatch.context() as m:
        m.setattr(core_fill, "apply_plan", _raise(MemoryError("no room for the fill")))
        window.action_map["fill"].trigger()
        qtbot.waitUntil(lambda: len(warnings) > 0, timeout=FIT_TIMEOUT)

    assert "could not be done (MemoryError: no room for the fill)" in _message(qtbot, warnings)
    assert _cells(sheet) == before and not len(sheet.filled_rows())
    assert stack.count() == 0 and not filled
    assert window.fit_label.text() == "Nothing was filled"


def test_the_recovery_copy_after_a_failed_write_is_the_sheet_as_shown(window, qtbot, warnings, monkeypatch, tmp_path):
    monkeypatch.setenv("EMGUI_RECOVERY_DIR", str(tmp_path / "recovery"))
    sheet, stack = window.sheet, window.undo_stack
    keeper = RecoveryKeeper(lambda: window.sheet, lambda: str(MESSY), undo_stack=stack, parent=window)
    r = _row(sheet, "Ana Lima")
    window.model.setData(window.model.index(r + 1, HEIGHT), "150")  # a change worth keeping
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _raise(MemoryError("no room")))
        window.model.setData(window.model.index(r, HEIGHT), "170")
    _message(qtbot, warnings)

    assert keeper.write_now() is not None
    (info,) = core_recovery.list_recoveries(include_running=True)
    restored, _source = core_recovery.load_recovery(info)
    assert _cells(restored) == _cells(sheet)
    assert restored.text(r + 1, 2) == "150" and restored.text(r, 2) == "162"
    keeper.discard()


def test_typing_still_works_after_a_failed_edit(window, qtbot, warnings, monkeypatch):
    sheet = window.sheet
    r = _row(sheet, "Ana Lima")
    with monkeypatch.context() as m:
        m.setattr(Sheet, "set_block", _raise(MemoryError("no room")))
        window.model.setData(window.model.index(r, HEIGHT), "170")
    _message(qtbot, warnings)
    _select(window, r, GENDER)
    qtbot.keyClicks(window.view, "M")
    editor = window.view.indexWidget(window.view.currentIndex())
    editor = editor.lineEdit() if isinstance(editor, QComboBox) else editor
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert sheet.text(r, 1) == "M" and window.undo_stack.count() == 1


# -- the stack and the commands alone ---------------------------------------------------


def _small_sheet() -> Sheet:
    names = np.array([f"p{i}" for i in range(10)], dtype=object)
    labels = np.array(["F", "M"] * 5, dtype=object)
    heights = np.array([str(150 + i) for i in range(10)], dtype=object)
    return Sheet(["name", "gender", "height"], [names, labels, heights])


@pytest.fixture
def stack(qapp):
    s = SheetUndoStack()
    failures = []
    s.command_failed.connect(failures.append)
    s.failures = failures
    yield s
    s.deleteLater()


def test_an_undo_of_scattered_rows_that_fails_halfway_removes_the_rows_it_put_back(stack, monkeypatch):
    sheet = _small_sheet()
    before = _cells(sheet)
    assert stack.push(RemoveRowsCommand(sheet, [1, 2, 5, 8]))  # three runs: 8, 5, then 1-2
    done = _cells(sheet)
    calls = []
    with monkeypatch.context() as m:
        m.setattr(Sheet, "restore_rows", _second_call_raises(Sheet.restore_rows, calls, MemoryError("no room")))
        stack.undo()
    assert len(calls) == 2 and _cells(sheet) == done and stack.index() == 1
    assert stack.failures == [stack.last_failure.message()] and stack.last_failure.rolled_back
    stack.undo()
    assert _cells(sheet) == before and stack.index() == 0


def test_a_group_whose_undo_fails_in_its_second_part_is_done_again_whole(stack, monkeypatch):
    sheet = _small_sheet()
    parts = [SetCellsCommand(sheet, [r], 0, [[f"x{r}"]], "Edit") for r in (1, 4, 7)]
    assert stack.push(GroupCommand(sheet, parts, "Clear Cells"))
    done = _cells(sheet)
    calls = []
    with monkeypatch.context() as m:
        m.setattr(Sheet, "restore", _second_call_raises(Sheet.restore, calls, MemoryError("no room")))
        stack.undo()
    assert len(calls) == 2 and _cells(sheet) == done and stack.index() == 1
    assert stack.failures[0].startswith("Undo Clear Cells could not be done (MemoryError: no room)")


def test_a_failed_push_keeps_the_redo_history_and_returns_false(stack, monkeypatch):
    sheet = _small_sheet()
    assert stack.push(InsertRowsCommand(sheet, 3, 2))
    stack.undo()
    with monkeypatch.context() as m:
        m.setattr(Sheet, "insert_rows", _raise(MemoryError("no room")))
        assert stack.push(InsertRowsCommand(sheet, 0, 1)) is False
    assert sheet.n_rows == 10 and (stack.count(), stack.index()) == (1, 0)
    stack.redo()
    assert sheet.n_rows == 12


def test_an_undo_whose_rollback_fails_too_clears_the_history(stack, monkeypatch):
    sheet = _small_sheet()
    assert stack.push(SetCellsCommand(sheet, [2], 0, [["x"]], "Edit"))
    assert stack.push(SetCellsCommand(sheet, [3], 0, [["y"]], "Edit"))
    stack.setClean()
    with monkeypatch.context() as m:
        m.setattr(Sheet, "restore", _raise(MemoryError("no room")))
        m.setattr(Sheet, "set_block", _raise(MemoryError("no room either")))
        stack.undo()
    assert stack.count() == 0 and not stack.isClean() and not stack.last_failure.rolled_back
    assert "undo history was cleared" in stack.failures[0]
    assert sheet.text(2, 0) == "x" and sheet.text(3, 0) == "y"  # nothing else was touched


def test_a_refit_whose_fill_fails_after_writing_puts_the_earlier_fill_back(window, qtbot, warnings, monkeypatch):
    sheet, stack = window.sheet, window.undo_stack
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert len(sheet.filled_rows())
    state = (_cells(sheet), sheet.provenance.copy(), sheet.confidence.copy(), sheet.guess.copy())
    apply_plan = core_fill.apply_plan

    def writes_then_fails(*args, **kwargs):
        apply_plan(*args, **kwargs)
        raise RuntimeError("a bug after the fill was written")

    with monkeypatch.context() as m:
        m.setattr(core_fill, "apply_plan", writes_then_fails)
        window.action_map["fill"].trigger()
        qtbot.waitUntil(lambda: len(warnings) > 0, timeout=FIT_TIMEOUT)

    assert "(RuntimeError: a bug after the fill was written)" in _message(qtbot, warnings)
    assert _cells(sheet) == state[0]
    np.testing.assert_array_equal(sheet.provenance, state[1])
    np.testing.assert_array_equal(sheet.confidence, state[2])
    np.testing.assert_array_equal(sheet.guess, state[3])
    assert (stack.count(), stack.index()) == (1, 1)
    stack.undo()  # the first fill still undoes cleanly
    assert not len(sheet.filled_rows())
