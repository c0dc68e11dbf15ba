"""The main window, driven as a person would: keys, actions, dialogs patched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QComboBox, QMessageBox

from emgui import __version__, app
from emgui.core import fileio
from emgui.core.sheet import FILLED, UNCERTAIN, USER, Roles, Sheet
from emgui.ui import dialogs, palette
from emgui.ui.table_model import FILLED_MARK, FILTERS
from emgui.ui.window import ROW_FILTERS, MainWindow

DATA = Path(__file__).resolve().parent.parent / "data"
MESSY = DATA / "messy_class.csv"
STUDENTS = DATA / "students_speed_gender_height.csv"
D, E, TIP, BG, FONT = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.EditRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
)
NAME, GENDER, CONF, HEIGHT, NOTES = range(5)
FIT_TIMEOUT = 30_000

# The offscreen platform cannot resize windows to fit their docks and says so.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def answers(monkeypatch):
    """What the unsaved-changes question answers (default: discard), and who asked."""
    state = {"answer": "discard", "asked": []}

    def ask(parent, name):
        state["asked"].append(name)
        return state["answer"]

    monkeypatch.setattr(dialogs, "ask_unsaved_changes", ask)
    return state


@pytest.fixture
def window(answers, shown_window):
    return shown_window


@pytest.fixture
def messy(window):
    assert window.open_path(MESSY)
    return window


def row_of(sheet: Sheet, name: str) -> int:
    return list(sheet.column_cells(0)).index(name)


def select(window, row: int, col: int) -> None:
    index = window.model.index(row, col)
    window.view.setCurrentIndex(index)
    window.view.setFocus()


def open_editor(window):
    """The editor open on the current cell (the line edit inside a combo box)."""
    editor = window.view.indexWidget(window.view.currentIndex())
    assert editor is not None, "no editor is open"
    return editor.lineEdit() if isinstance(editor, QComboBox) else editor


def run_fill(qtbot, window, *, key: bool = False):
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT) as blocker:
        if key:
            qtbot.keyClick(window.view, Qt.Key.Key_F5)
        else:
            window.action_map["fill"].trigger()
    return blocker.args[0]


def synthetic_sheet(n: int, seed: int = 0, blank_share: float = 0.3, gap: float = 14.0) -> Sheet:
    rng = np.random.default_rng(seed)
    girls = rng.random(n) < 0.5
    heights = np.where(girls, rng.normal(163, 7, n), rng.normal(163 + gap, 7, n))
    labels = np.where(girls, "F", "M").astype(object)
    labels[rng.random(n) < blank_share] = None
    cells = [
        np.array([f"p{i}" for i in range(n)], dtype=object),
        labels,
        np.array([f"{h:.1f}" for h in heights], dtype=object),
    ]
    return Sheet(["name", "gender", "height"], cells)


# -- opening ---------------------------------------------------------------------------


def test_open_file_shows_it_with_title_and_counts(window):
    assert window.windowTitle() == "Untitled[*] — EM Gap Filler"
    assert window.open_path(MESSY)
    assert window.windowTitle() == "messy_class.csv[*] — EM Gap Filler"
    assert not window.isWindowModified()
    assert window.sheet.n_rows == 40
    assert window.model.rowCount() == 41
    window._update_counts()
    counts = window.counts_label.text()
    assert "40 rows" in counts and "missing labels" in counts and "unreadable" in counts
    assert window.open_path(STUDENTS)
    assert window.sheet.n_rows == 1325
    assert window.windowTitle().startswith("students_speed_gender_height.csv")
    # Both files are remembered.
    recent = window._recent_files()
    assert recent[0].endswith("students_speed_gender_height.csv") and recent[1].endswith("messy_class.csv")
    window._fill_recent_menu()
    assert any("messy_class.csv" in a.text() for a in window.recent_menu.actions())


def test_a_file_that_cannot_be_read_shows_why_and_keeps_the_sheet(messy, warnings, tmp_path):
    sheet = messy.sheet
    assert not messy.open_path(tmp_path / "nowhere.csv")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a workbook")
    assert not messy.open_path(bad)
    assert len(warnings) == 2 and all(title == "Cannot open the file" for title, _ in warnings)
    assert "nowhere.csv" in warnings[0][1]
    assert messy.sheet is sheet and messy.path.endswith("messy_class.csv")


def test_dropping_a_file_opens_it(window, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(MESSY))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.sheet_loaded, timeout=5000):
        window.dropEvent(event)
    assert window.sheet.n_rows == 40


def test_new_window_has_an_empty_sheet_with_a_welcome(window, qtbot):
    assert window.welcome.isVisible()
    assert window.sheet.columns == ["Name", "Gender", "Height (cm)"]
    assert window.sheet.roles.label == 1 and window.sheet.roles.features == (2,)
    # Typing into the empty row adds a row and hides the welcome.
    select(window, 0, 0)
    qtbot.keyClicks(window.view, "A")
    editor = open_editor(window)
    qtbot.keyClicks(editor, "da")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert window.sheet.n_rows == 1 and window.sheet.text(0, 0) == "Ada"
    assert not window.welcome.isVisible()
    assert window.isWindowModified()


def test_deferred_start_finishes_after_the_event_loop_runs(qtbot, isolated_settings, answers):
    w = MainWindow(defer=True)
    qtbot.addWidget(w)
    w.show()
    assert w._model is None
    qtbot.waitUntil(lambda: w._model is not None, timeout=10_000)
    assert w.view.model() is w._model and w._plot is not None


def test_the_command_line_file_opens_after_start_up(qtbot, isolated_settings, answers):
    w = MainWindow(defer=True)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.sheet_loaded, timeout=10_000):
        w.open_when_ready(MESSY)
    assert w.sheet.n_rows == 40 and w.windowTitle().startswith("messy_class.csv")


# -- editing -----------------------------------------------------------------------------


def test_typing_enter_commits_moves_down_and_undo_redo_by_keys(messy, qtbot):
    sheet = messy.sheet
    r = row_of(sheet, "Ana Lima")
    select(messy, r, HEIGHT)
    qtbot.keyClicks(messy.view, "1")
    editor = open_editor(messy)
    qtbot.keyClicks(editor, "70")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert sheet.text(r, 2) == "170"
    assert messy.view.currentIndex().row() == r + 1 and messy.view.currentIndex().column() == HEIGHT
    assert messy.isWindowModified()
    assert messy.model.index(r, HEIGHT).data(D) == "170"

    qtbot.keyClick(messy.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sheet.text(r, 2) == "162"
    assert not messy.isWindowModified()
    qtbot.keyClick(messy.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert sheet.text(r, 2) == "170"
    messy.undo_stack.undo()
    qtbot.keyClick(messy.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert sheet.text(r, 2) == "170"


def test_a_typed_unreadable_height_stays_as_typed_and_marked(messy, qtbot):
    sheet = messy.sheet
    r = row_of(sheet, "Ana Lima")
    messy.model.setData(messy.model.index(r, HEIGHT), "about two metres")
    idx = messy.model.index(r, HEIGHT)
    assert idx.data(D) == "about two metres"
    assert sheet.issue(r, 2) and sheet.issue(r, 2) in idx.data(TIP)
    messy.model.setData(idx, "5'9\"")
    assert idx.data(D) == "175.3" and "5'9\"" in idx.data(TIP)


def test_escape_cancels_an_edit_even_while_stop_is_enabled(messy, qtbot):
    sheet = messy.sheet
    messy.action_map["stop"].setEnabled(True)
    select(messy, 0, NAME)
    qtbot.keyClicks(messy.view, "X")
    editor = open_editor(messy)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert sheet.text(0, 0) == "Ana Lima"
    assert messy.undo_stack.count() == 0


def test_label_editor_offers_the_classes_and_accepts_free_text(messy, qtbot):
    sheet = messy.sheet
    r = row_of(sheet, "Eve Novak")  # blank gender
    select(messy, r, GENDER)
    qtbot.keyClicks(messy.view, "m")
    combo = messy.view.indexWidget(messy.model.index(r, GENDER))
    assert isinstance(combo, QComboBox) and combo.isEditable()
    items = [combo.itemText(i) for i in range(combo.count())]
    assert {"F", "M", "female"} <= set(items)
    assert combo.currentText() == "m"  # what was typed, not completed to "male"
    qtbot.keyClicks(combo.lineEdit(), "ale")
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert sheet.text(r, 1) == "male"
    assert messy.view.currentIndex().row() == r + 1
    # Free text is kept as typed; Tab commits and moves right, over the read-only Confidence.
    qtbot.keyClicks(messy.view, "n")
    qtbot.keyClicks(open_editor(messy), "on-binary")
    qtbot.keyClick(open_editor(messy), Qt.Key.Key_Tab)
    assert sheet.text(r + 1, 1) == "non-binary"
    assert messy.view.currentIndex().column() == HEIGHT


def test_copy_and_paste_blocks_as_tab_separated_text(messy, qtbot):
    sheet = messy.sheet
    n = sheet.n_rows
    # Copy names and genders of the first two rows (the Confidence column comes along empty).
    model = messy.model
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    messy.view.selectionModel().select(
        QItemSelection(model.index(0, NAME), model.index(1, HEIGHT)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect,
    )
    qtbot.keyClick(messy.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Ana Lima\tF\t\t162\nBen Okafor\tm\t\t\"5'11\"\"\"\n"

    # Paste a block from another spreadsheet two rows above the end: one row is added.
    QGuiApplication.clipboard().setText("Zed\tM\t181\r\nYara\tF\t1,62 m\r\nXu\t\t5'2\"\r\n")
    messy.view.selectionModel().clear()
    select(messy, n - 2, NAME)
    qtbot.keyClick(messy.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert sheet.n_rows == n + 1
    assert [sheet.text(n - 2 + i, 0) for i in range(3)] == ["Zed", "Yara", "Xu"]
    assert sheet.text(n, 1) is None and sheet.value(n - 1, 2) == pytest.approx(162.0)
    assert messy.undo_stack.count() == 1
    messy.undo_stack.undo()
    assert sheet.n_rows == n and sheet.text(n - 2, 0) != "Zed"


def test_one_value_pasted_onto_a_selection_fills_it(messy):
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    model = messy.model
    messy.view.selectionModel().select(
        QItemSelection(model.index(0, NOTES), model.index(2, NOTES)), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    messy.paste_text("checked\n")
    assert [messy.sheet.text(r, 3) for r in range(3)] == ["checked"] * 3


def test_cut_delete_insert_and_delete_rows_are_undoable(messy, qtbot):
    sheet = messy.sheet
    n = sheet.n_rows
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    model = messy.model
    sm = messy.view.selectionModel()
    sm.select(QItemSelection(model.index(0, NAME), model.index(1, NAME)), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    messy.view.setFocus()
    qtbot.keyClick(messy.view, Qt.Key.Key_Delete)
    assert sheet.text(0, 0) is None and sheet.text(1, 0) is None
    messy.undo_stack.undo()
    assert sheet.text(0, 0) == "Ana Lima"
    messy.action_map["cut"].trigger()
    assert QGuiApplication.clipboard().text() == "Ana Lima\nBen Okafor\n" and sheet.text(0, 0) is None
    messy.undo_stack.undo()
    assert sheet.text(1, 0) == "Ben Okafor"

    messy.view.setCurrentIndex(model.index(1, NAME))
    sm.select(QItemSelection(model.index(1, NAME), model.index(2, NAME)), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    messy.action_map["insert_row"].trigger()
    assert sheet.n_rows == n + 2 and sheet.text(1, 0) is None and sheet.text(3, 0) == "Ben Okafor"
    messy.undo_stack.undo()
    # A selection made as a drag makes it: the cursor is in it (Delete Rows acts on the selection at the cursor).
    messy.view.setCurrentIndex(model.index(1, NAME))
    sm.select(QItemSelection(model.index(1, NAME), model.index(2, NAME)), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    messy.action_map["delete_rows"].trigger()
    assert sheet.n_rows == n - 2 and sheet.text(1, 0) == "Dev Patel"
    messy.undo_stack.undo()
    assert sheet.n_rows == n and sheet.text(2, 0) == "Chloé Martin"


# -- filling -----------------------------------------------------------------------------


def test_f5_fills_the_gaps_with_shaded_italic_marked_cells(messy, qtbot):
    sheet = messy.sheet
    blank_before = sheet.label_missing().copy()
    user_before = list(sheet.column_cells(1))
    with qtbot.waitSignal(messy.controller.fit_finished, timeout=FIT_TIMEOUT):
        qtbot.keyClick(messy.view, Qt.Key.Key_F5)
    filled = np.flatnonzero(sheet.provenance == FILLED)
    assert len(filled) >= 10
    assert set(filled) <= set(np.flatnonzero(blank_before))
    for r in range(sheet.n_rows):
        if not blank_before[r]:
            assert sheet.text(r, 1) == user_before[r]
    model = messy.model
    for r in filled:
        idx = model.index(int(r), GENDER)
        assert idx.data(D) == sheet.text(int(r), 1) + FILLED_MARK
        assert idx.data(D).rstrip(" •") in ("F", "M")
        assert idx.data(FONT).italic()
        assert idx.data(BG).color() == palette.shade(int(sheet.guess[r]), float(sheet.confidence[r]), 2)
        tip = idx.data(TIP)
        assert "F: " in tip and "M: " in tip and "%" in tip
    assert messy.isWindowModified()
    assert messy.undo_stack.undoText().startswith("Fill")
    assert not messy.action_map["stop"].isEnabled()
    assert "Finished after" in messy.fit_panel.status.text()
    assert messy.fit_panel.table.rowCount() == 2
    assert messy.plot.frames_drawn > 0
    # The whole fill is one undo step.
    messy.undo_stack.undo()
    assert not len(sheet.filled_rows()) and list(sheet.column_cells(1)) == user_before


def test_the_model_passes_the_model_tester_after_a_fill(messy, qtbot, qtmodeltester):
    qtmodeltester.check(messy.model)
    run_fill(qtbot, messy)
    qtmodeltester.check(messy.model)
    messy.view.sortByColumn(CONF, Qt.SortOrder.AscendingOrder)
    messy.undo_stack.undo()
    messy.undo_stack.redo()


def test_stop_a_fit_midway_with_escape(window, qtbot):
    # Two nearly equal bell curves and almost no labels: EM creeps for many seconds.
    sheet = synthetic_sheet(200_000, blank_share=0.999, gap=2.0)
    window.set_sheet(sheet)
    before = list(sheet.column_cells(1))
    window.fit_options = {"tol": 0.0, "max_iter": 1_000_000}
    with qtbot.waitSignal(window.controller.fit_iterated, timeout=FIT_TIMEOUT):
        window.fill_gaps()
    assert window.action_map["stop"].isEnabled() and window.is_fitting()
    window.view.setFocus()
    with qtbot.waitSignal(window.controller.fit_cancelled, timeout=FIT_TIMEOUT):
        qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.is_fitting() and not window.action_map["stop"].isEnabled()
    assert window.controller.wait(10_000)
    assert list(sheet.column_cells(1)) == before and not len(sheet.filled_rows())
    assert window.undo_stack.count() == 0
    assert "Stopped" in window.fit_panel.status.text()


def test_an_edit_during_a_fit_discards_the_stale_result_and_fits_again(window, qtbot):
    sheet = synthetic_sheet(20_000, seed=3)
    window.set_sheet(sheet)
    known = int(np.flatnonzero(~sheet.label_missing())[0])
    discarded = []
    window.fit_discarded.connect(lambda: discarded.append(True))
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT) as blocker:
        window.fill_gaps()
        # The fit runs in its thread on a snapshot; the sheet changes under it.
        window.model.setData(window.model.index(known, GENDER), "")
        assert window.is_fitting()
    assert discarded == [True]
    plan = blocker.args[0]
    assert known in set(plan.rows)  # the re-fit saw the blanked label
    assert sheet.provenance[known] == FILLED
    assert window.undo_stack.count() == 2  # the edit and the fill


def test_a_failing_fit_shows_the_message_and_loses_nothing(window, qtbot, warnings):
    # No numeric column at all: the core refuses before any thread starts.
    words = Sheet(["name", "gender"], [np.array(["a", "b", "c"], dtype=object), np.array(["F", None, "M"], dtype=object)])
    window.set_sheet(words)
    window.fill_gaps()
    assert len(warnings) == 1 and warnings[0][0] == "Cannot fill the gaps"
    assert "numeric column" in warnings[0][1]
    assert not window.is_fitting()

    # Degenerate data: every height the same; the worker fails and says what to do.
    same = Sheet(
        ["name", "gender", "height"],
        [np.array(list("abcd"), dtype=object), np.array(["F", "M", None, None], dtype=object),
         np.array(["170"] * 4, dtype=object)],
    )
    window.set_sheet(same)
    before = [list(same.column_cells(c)) for c in range(3)]
    with qtbot.waitSignal(window.controller.fit_failed, timeout=FIT_TIMEOUT):
        window.fill_gaps()
    assert len(warnings) == 2 and len(warnings[1][1]) > 10
    assert [list(same.column_cells(c)) for c in range(3)] == before
    assert not len(same.filled_rows()) and window.undo_stack.count() == 0
    assert not window.is_fitting() and window.isVisible()


def test_step_runs_one_iteration_at_a_time_until_it_fills(messy, qtbot):
    iterations = []
    messy.controller.fit_iterated.connect(lambda s: iterations.append(s.iteration))
    applied = []
    messy.fill_applied.connect(applied.append)
    messy.step_fit()
    assert iterations == [0] and messy.is_fitting()
    assert "Iteration 0" in messy.fit_panel.status.text()
    for _ in range(300):
        if applied:
            break
        messy.action_map["step"].trigger()
    assert applied and iterations == list(range(len(iterations)))
    assert len(iterations) >= 2
    assert len(messy.sheet.filled_rows()) >= 10


def test_threshold_leaves_unsure_cells_blank_as_uncertain(messy, qtbot, monkeypatch):
    monkeypatch.setattr(dialogs, "ask_threshold", lambda parent, current: 0.999)
    messy.edit_threshold()
    assert messy.min_confidence == 0.999
    assert QSettings().value("fill/minConfidence") is None  # the sheet's, not the program's
    run_fill(qtbot, messy)
    sheet = messy.sheet
    uncertain = np.flatnonzero(sheet.provenance == UNCERTAIN)
    assert len(uncertain)
    r = int(uncertain[0])
    assert messy.model.index(r, GENDER).data(D) == "?"
    assert sheet.text(r, 1) is None or sheet.label_missing()[r]
    assert "best guess" in messy.model.index(r, GENDER).data(TIP)
    # Lowering the threshold again re-fills at once.
    monkeypatch.setattr(dialogs, "ask_threshold", lambda parent, current: 0.0)
    with qtbot.waitSignal(messy.fill_applied, timeout=FIT_TIMEOUT):
        messy.edit_threshold()
    assert not len(np.flatnonzero(sheet.provenance == UNCERTAIN))


def test_accept_and_clear_filled_values_are_undoable(messy, qtbot):
    sheet = messy.sheet
    as_typed = list(sheet.column_cells(1))
    run_fill(qtbot, messy)
    filled = list(np.flatnonzero(sheet.provenance == FILLED))
    assert {as_typed[r] for r in filled} == {None, "?", "N/A"}
    messy.action_map["accept"].trigger()
    assert not len(sheet.filled_rows()) and all(sheet.provenance[r] == USER for r in filled)
    messy.undo_stack.undo()
    assert list(np.flatnonzero(sheet.provenance == FILLED)) == filled
    messy.action_map["clear_filled"].trigger()
    # Cleared cells hold what was typed before the fill, markers such as "?" included.
    assert list(sheet.column_cells(1)) == as_typed
    messy.undo_stack.undo()
    assert list(np.flatnonzero(sheet.provenance == FILLED)) == filled


def test_columns_dialog_changes_roles_undoably(messy, qtbot, monkeypatch):
    dialog = dialogs.ColumnsDialog(messy.sheet.columns, messy.sheet.roles, messy)
    qtbot.addWidget(dialog)
    assert dialog.roles() == messy.sheet.roles
    dialog.set_feature(2, True, "in")
    roles = dialog.roles()
    assert roles == Roles(1, (2,), {2: "in"})
    messy.apply_roles(roles)
    assert messy.sheet.unit(2) == "in"
    assert messy.model.headerData(HEIGHT, Qt.Orientation.Horizontal) == "height (in) ↦ feature"
    messy.undo_stack.undo()
    assert messy.sheet.unit(2) == "cm"
    # Through the menu: the dialog's choice becomes one undo step.
    def accept_with_metres(self):
        self.set_feature(2, True, "m")
        return dialogs.ColumnsDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ColumnsDialog, "exec", accept_with_metres)
    messy.action_map["columns"].trigger()
    assert messy.sheet.unit(2) == "m"
    messy.undo_stack.undo()
    assert messy.sheet.unit(2) == "cm"
    # The label cannot also be a feature: the dialog says so and stays open.
    dialog.label_combo.setCurrentIndex(3)  # "height"
    dialog._on_accept()
    assert "cannot also be a feature" in dialog._error.text()


# -- saving and exporting ---------------------------------------------------------------


def test_export_csv_and_xlsx_with_ctrl_e(messy, qtbot, tmp_path, monkeypatch):
    run_fill(qtbot, messy)
    sheet = messy.sheet
    target = {"path": str(tmp_path / "out.csv")}
    asked = []

    def ask(parent, title, directory, filters, default_suffix="csv", **_kwargs):
        asked.append((title, directory, list(filters)))
        return target["path"]

    monkeypatch.setattr(dialogs, "ask_save_path", ask)
    messy.view.setFocus()
    qtbot.keyClick(messy.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked and asked[0][0] == "Export" and asked[0][1].endswith("messy_class_filled.csv")
    table = fileio.read_table(target["path"])
    original = fileio.read_table(MESSY)
    assert table.columns[:4] == original.columns
    assert "gender_imputed" in table.columns and "gender_confidence" in table.columns
    assert table.n_rows == original.n_rows
    imputed = table.cells[table.columns.index("gender_imputed")]
    for r in np.flatnonzero(sheet.provenance == FILLED):
        assert imputed[r] == "true" and table.cells[1][r] in ("F", "M")
    assert list(table.cells[0]) == list(original.cells[0])  # row order kept

    target["path"] = str(tmp_path / "out.xlsx")
    messy.action_map["export"].trigger()
    book = fileio.read_table(target["path"])
    assert book.columns == table.columns and book.n_rows == table.n_rows
    import openpyxl

    ws = openpyxl.load_workbook(target["path"]).active
    r = int(np.flatnonzero(sheet.provenance == FILLED)[0])
    cell = ws.cell(row=r + 2, column=2)
    expected = palette.shade_hex(int(sheet.guess[r]), float(sheet.confidence[r]), 2).lstrip("#").upper()
    assert cell.fill.fgColor.rgb.upper().endswith(expected)
    assert cell.comment is not None and "sure" in cell.comment.text
    assert ws.cell(row=1, column=1).font.bold and ws.freeze_panes == "A2"
    assert not messy.isWindowModified() or messy.undo_stack.count() > 0  # export does not save


def test_save_keeps_row_order_and_marks_and_reopens_them(messy, qtbot, tmp_path, monkeypatch):
    run_fill(qtbot, messy)
    messy.view.sortByColumn(HEIGHT, Qt.SortOrder.DescendingOrder)
    assert messy.model.sort_state is not None
    messy.set_filter("filled")
    out = tmp_path / "saved.csv"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(out))
    assert messy.save_as()
    assert not messy.isWindowModified()
    assert messy.windowTitle().startswith("saved.csv")
    table = fileio.read_table(out)
    original = fileio.read_table(MESSY)
    assert table.n_rows == original.n_rows
    assert list(table.cells[0]) == list(original.cells[0])
    filled = set(np.flatnonzero(messy.sheet.provenance == FILLED))
    assert messy.open_path(out)
    assert set(np.flatnonzero(messy.sheet.provenance == FILLED)) == filled
    assert messy.sheet.columns == original.columns
    # Save goes back to the same file without asking.
    assert messy.model.filter_mode == "all"
    messy.model.setData(messy.model.index(0, NOTES), "saved twice")
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: pytest.fail("Save must not ask"))
    qtbot.keyClick(messy.view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert fileio.read_table(out).cells[3][0] == "saved twice"


def test_a_failed_save_says_why_and_keeps_the_changes(messy, warnings, tmp_path):
    messy.model.setData(messy.model.index(0, NOTES), "changed")
    assert not messy.save_to(tmp_path / "no-such-folder" / "x.csv")
    assert warnings and warnings[-1][0] == "Cannot save the file"
    assert messy.isWindowModified() and messy.sheet.text(0, 3) == "changed"


def test_unsaved_changes_are_asked_about_on_close(window, answers, tmp_path, qtbot):
    path = tmp_path / "class.csv"
    path.write_text(MESSY.read_text(encoding="utf-8"), encoding="utf-8")
    assert window.open_path(path)
    assert window.close()  # nothing changed: no question
    assert answers["asked"] == []
    window.show()
    window.model.setData(window.model.index(0, NOTES), "changed")
    answers["answer"] = "cancel"
    assert not window.close()
    assert window.isVisible() and answers["asked"] == ["class.csv"]
    answers["answer"] = "save"
    assert window.close()
    assert fileio.read_table(path).cells[3][0] == "changed"
    window.show()
    window.model.setData(window.model.index(0, NOTES), "dropped")
    answers["answer"] = "discard"
    assert window.close()
    assert fileio.read_table(path).cells[3][0] == "changed"


def test_new_and_open_ask_about_unsaved_changes_too(messy, answers):
    messy.model.setData(messy.model.index(0, NOTES), "changed")
    answers["answer"] = "cancel"
    messy.new_sheet()
    assert messy.sheet.text(0, 3) == "changed"
    assert not messy.open_path(STUDENTS)
    answers["answer"] = "discard"
    messy.new_sheet()
    assert messy.sheet.n_rows == 0 and messy.windowTitle().startswith("Untitled")


def test_closing_during_a_fit_stops_the_thread(window, qtbot):
    window.set_sheet(synthetic_sheet(200_000, blank_share=0.999, gap=2.0))
    window.fit_options = {"tol": 0.0, "max_iter": 1_000_000}
    with qtbot.waitSignal(window.controller.fit_iterated, timeout=FIT_TIMEOUT):
        window.fill_gaps()
    window.undo_stack.setClean()
    assert window.close()
    # The fit would run for many more seconds; close stopped and joined its thread.
    qtbot.waitUntil(lambda: not window.controller.is_running(), timeout=1000)


# -- view --------------------------------------------------------------------------------


def test_filter_combo_shows_some_rows(messy, qtbot):
    assert [k for k, _ in ROW_FILTERS] == [k for k, _ in FILTERS]
    run_fill(qtbot, messy)
    messy.filter_combo.setCurrentIndex(messy.filter_combo.findData("filled"))
    n_filled = len(messy.sheet.filled_rows())
    assert messy.model.rowCount() == n_filled + 1
    messy.set_filter("unreadable")
    assert messy.model.n_data_rows == sum(
        messy.sheet.issue(r, 2) is not None for r in range(messy.sheet.n_rows)
    )
    messy.set_filter("all")
    assert messy.model.n_data_rows == messy.sheet.n_rows


def test_header_click_sorts_and_original_order_restores(messy, qtbot):
    header = messy.view.horizontalHeader()
    assert not messy.original_order.isEnabled()
    pos = QPoint(header.sectionViewportPosition(HEIGHT) + 5, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert messy.model.sort_state is not None and messy.original_order.isEnabled()
    messy.original_order.click()
    assert messy.model.sort_state is None
    assert [messy.model.sheet_row(r) for r in range(messy.sheet.n_rows)] == list(range(messy.sheet.n_rows))


def test_help_texts(window, monkeypatch):
    window.action_map["how_em"].trigger()
    html = window._how_em.browser.toHtml()
    assert window._how_em.isVisible()
    assert "E-step" in html and "M-step" in html and "log-likelihood" in html
    assert "p(X | θ) = ∫ p(X, Z | θ) dZ" in window._how_em.browser.toPlainText()
    window._how_em.close()
    seen = []
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: seen.append(text)))
    window.action_map["about"].trigger()
    assert seen and __version__ in seen[0]


def test_menus_and_shortcuts(window):
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "Data", "View", "Help"]
    shortcuts = {k: [s.toString() for s in a.shortcuts()] for k, a in window.action_map.items()}
    assert shortcuts["fill"] == ["F5"] and shortcuts["stop"] == ["Esc"]
    assert shortcuts["export"] == ["Ctrl+E"] and shortcuts["save"] == ["Ctrl+S"]
    assert shortcuts["save_as"] == ["Ctrl+Shift+S"] and shortcuts["quit"] == ["Ctrl+Q"]
    assert shortcuts["undo"] == ["Ctrl+Z"] and shortcuts["redo"] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert "Ctrl+C" in shortcuts["copy"] and "Ctrl+V" in shortcuts["paste"] and "Ctrl+X" in shortcuts["cut"]
    assert "Ctrl+O" in shortcuts["open"] and "Ctrl+N" in shortcuts["new"]
    data_menu = window.menuBar().actions()[2].menu()
    texts = [a.text().replace("&", "") for a in data_menu.actions() if a.text()]
    assert texts[:6] == [
        "Fill Gaps", "Stop", "Step One Iteration", "Accept Filled Values", "Clear Filled Values", "Columns…",
    ]


def test_geometry_is_restored(isolated_settings, qtbot, answers):
    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(700, 500)  # the offscreen screen is 800 x 600
    first.show()
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)


# -- the app entry point -----------------------------------------------------------------


def test_version_flag(capsys):
    assert app.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"emgui {__version__}"


def test_self_check_runs_headless(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-m", "emgui", "--self-check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "self-check ok"


def test_fill_without_label_column_adds_class_column_and_undo_removes_it(qtbot, window):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(50, 3, 60), rng.normal(80, 3, 60)])
    sheet = Sheet(["waiting"], [np.array([f"{v:.1f}" for v in x], dtype=object)])
    window.set_sheet(sheet)
    assert sheet.roles.label is None and sheet.roles.features == (0,)
    run_fill(qtbot, window)
    assert window.sheet.columns == ["waiting", "class"]
    assert set(window.sheet.column_cells(1)) == {"1", "2"}
    window.undo_stack.undo()
    assert window.sheet.columns == ["waiting"] and window.sheet.roles.label is None
    assert window.model.columnCount() == 1
    window.undo_stack.redo()
    assert window.sheet.columns == ["waiting", "class"]
    assert (window.sheet.provenance == FILLED).sum() == 120


def test_columns_dialog_sets_the_number_of_groups_for_unlabelled_data(qtbot, window, monkeypatch):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.normal(m, 2, 50) for m in (40, 60, 80)])
    window.set_sheet(Sheet(["waiting"], [np.array([f"{v:.1f}" for v in x], dtype=object)]))

    def accept(dialog):
        assert dialog.n_components() == 0  # chosen by BIC unless set
        assert dialog.components_spin.text() == "Auto (by BIC)"
        dialog.components_spin.setValue(3)
        return dialogs.ColumnsDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ColumnsDialog, "exec", accept)
    window.edit_columns()
    assert window.n_components == 3
    run_fill(qtbot, window)
    assert [window.sheet.column_cells(1)[i] for i in (0, 50, 100)] == ["1", "2", "3"]


def test_unlabelled_groups_are_chosen_by_bic_in_the_window(qtbot, window):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.normal(m, 2, 50) for m in (40, 60, 80)])
    window.set_sheet(Sheet(["waiting"], [np.array([f"{v:.1f}" for v in x], dtype=object)]))
    assert window.n_components == 0
    run_fill(qtbot, window)
    assert [window.sheet.column_cells(1)[i] for i in (0, 50, 100)] == ["1", "2", "3"]
    assert window.fit_panel.report.groups == 3
    assert window.fit_panel.models.rowCount() == 12  # 1..6 groups, separate or shared

# -- how far a fill can be trusted: the self-check, the model, notes, unusual values --------------

_TRUST_LOG = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
_TOOLTIP = Qt.ItemDataRole.ToolTipRole


@_TRUST_LOG
def test_fit_panel_says_how_far_to_trust_the_fill_and_shows_the_curve(qtbot, window, monkeypatch):
    window.set_sheet(synthetic_sheet(400, seed=2))
    run_fill(qtbot, window)
    panel = window.fit_panel
    report = panel.report
    assert report is not None and report.check.accuracy is not None
    text = panel.trust.text()
    assert "of the filled cells are likely right" in text and "checked by hiding 5 × 20 %" in text
    assert "lower is better" in text
    # The candidates, best first, the chosen one ticked.
    assert panel.models.rowCount() == 4
    assert panel.models.item(0, 0).text().startswith("✔")
    shown = []
    monkeypatch.setattr(dialogs.ReliabilityDialog, "exec", lambda self: shown.append(self) or 0)
    assert panel.reliability_button.isEnabled()
    panel.reliability_button.click()
    (dialog,) = shown
    xs, ys = dialog.points.getData()
    assert len(xs) == len(report.check.reliability) and np.all((ys >= 0) & (ys <= 1))


@_TRUST_LOG
def test_unusual_value_is_marked_left_out_noted_and_undone_with_the_fill(qtbot, window):
    sheet = synthetic_sheet(300, seed=4)
    sheet.set_cell(8, 1, None)
    sheet.set_cell(8, 2, "245")  # a plausible human height, far from both groups of this class
    window.set_sheet(sheet)
    run_fill(qtbot, window)
    assert window.sheet.is_unusual(8, 2)
    assert window.sheet.provenance[8] == UNCERTAIN and window.sheet.text(8, 1) is None
    assert window.sheet.note(8).startswith("not filled: unusual value (245 is ")
    assert "1 row with an unusual value: the value left out of the fit" in window.fit_panel.trust.text()
    model = window.model
    tip = model.data(model.index(model.view_row(8), model.view_column(2)), _TOOLTIP)
    assert tip.startswith("Unusual under the fit: 245 is ")
    label_tip = model.data(model.index(model.view_row(8), model.view_column(1)), _TOOLTIP)
    assert "not filled: unusual value" in label_tip
    # Show: rows with a note.
    window.set_filter("notes")
    assert 8 in [model.sheet_row(r) for r in range(model.rowCount() - 1)]
    window.set_filter("all")
    # Undo takes the fill back, marks and notes with it.
    window.undo_stack.undo()
    assert not window.sheet.is_unusual(8, 2) and window.sheet.provenance[8] == USER
    window.undo_stack.redo()
    assert window.sheet.is_unusual(8, 2)


@_TRUST_LOG
def test_a_group_nobody_typed_stays_blank_with_a_note(qtbot, window):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(150, 4, 80), rng.normal(175, 4, 80), rng.normal(210, 4, 60)])
    labels = np.array(["F"] * 80 + ["M"] * 80 + [None] * 60, dtype=object)
    labels[::2] = None  # half of the typed classes blank too
    sheet = Sheet(["gender", "height"], [labels, np.array([f"{v:.1f}" for v in x], dtype=object)])
    window.set_sheet(sheet)
    run_fill(qtbot, window)
    report = window.fit_panel.report
    assert report.unnamed == (False, False, True)
    tail = [r for r in range(160, 220) if window.sheet.text(r, 0) is None]
    assert len(tail) >= 55
    assert all(window.sheet.note(r).startswith("unlike every typed class: a group of") for r in tail)
    assert "no typed label names" in window.fit_panel.trust.text()


@_TRUST_LOG
def test_an_unnamed_group_is_drawn_grey_and_dashed(qtbot, window):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(150, 4, 80), rng.normal(175, 4, 80), rng.normal(210, 4, 60)])
    labels = np.array(["F"] * 80 + ["M"] * 80 + [None] * 60, dtype=object)
    labels[::2] = None
    window.set_sheet(Sheet(["gender", "height"], [labels, np.array([f"{v:.1f}" for v in x], dtype=object)]))
    run_fill(qtbot, window)
    curves = [items[0] for items in window._plot._component_items]
    assert curves[2].opts["pen"].style() == Qt.PenStyle.DashLine
    assert curves[2].opts["pen"].color().name() == "#999999"
    assert curves[0].opts["pen"].style() != Qt.PenStyle.DashLine


def test_save_at_the_unsaved_prompt_keeps_a_semicolon_files_dialect(window, qtbot, tmp_path, answers, monkeypatch):
    """Return at the unsaved-changes prompt saves the user's semicolon file as one.

    The two columns Save adds are the fill marks (``gender_imputed``,
    ``gender_confidence``), kept on save by design; they follow the dialect
    too (decimal comma).  Export offers the file's dialect first, and plain
    commas as another choice.
    """
    src = tmp_path / "eu.csv"
    src.write_bytes(
        "name;gender;height\r\nChloé;F;160,5\r\nJürgen;M;181,2\r\nZoë;;165,0\r\nAna;F;158,3\r\n"
        "Ben;M;179,9\r\nCy;;170,1\r\n".encode("cp1252")
    )
    assert window.open_path(src)
    run_fill(qtbot, window)
    answers["answer"] = "save"
    assert window.open_path(MESSY)  # asks, saves, opens
    assert answers["asked"]
    lines = src.read_bytes().decode("cp1252").split("\r\n")
    assert lines[0] == "name;gender;height;gender_imputed;gender_confidence"
    assert lines[1] == "Chloé;F;160,5;false;"
    assert lines[3].startswith("Zoë;") and ";true;" in lines[3] and "." not in lines[3]
    assert window.open_path(src)
    filters = []
    monkeypatch.setattr(
        dialogs, "ask_save_path",
        lambda parent, title, where, names, *a, **k: filters.extend(names) or k["chosen_filter"].append(names[1])
        or str(tmp_path / "plain.csv"),
    )  # fmt: skip
    assert window.export()
    assert filters[0].startswith("CSV like the file: semicolons, decimal commas")
    assert (tmp_path / "plain.csv").read_bytes().startswith(b"name,gender,height,")
