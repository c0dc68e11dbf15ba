"""The window as people use it (issue 12): its parts, the cursor, the plot, the layout, the threshold, steps."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from emgui.ui import dialogs
from emgui.ui.window import MainWindow

DATA = Path(__file__).resolve().parent.parent / "data"
FIT_TIMEOUT = 30_000

# The offscreen platform cannot resize windows to fit their docks and says so.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def isolated_settings(tmp_path, qapp):
    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"


@pytest.fixture
def warnings(monkeypatch):
    """Every QMessageBox.warning shown, as (title, text); nothing blocks."""
    shown: list[tuple[str, str]] = []

    def fake(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(fake))
    return shown


@pytest.fixture
def window(qtbot, isolated_settings, warnings, monkeypatch):
    monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: "discard")
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    yield w
    w.undo_stack.setClean()


# -- 10. MainWindow in parts -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "module"),
    [
        ("open_path", "emgui.ui.files"),
        ("save_to", "emgui.ui.files"),
        ("export_to", "emgui.ui.files"),
        ("paste_text", "emgui.ui.editing"),
        ("clear_cells", "emgui.ui.editing"),
        ("insert_rows", "emgui.ui.editing"),
        ("fill_gaps", "emgui.ui.fitting"),
        ("step_fit", "emgui.ui.fitting"),
        ("edit_threshold", "emgui.ui.fitting"),
        ("set_filter", "emgui.ui.view"),
        ("restore_order", "emgui.ui.view"),
        ("show_how_em", "emgui.ui.plotting"),
    ],
)
def test_each_responsibility_lives_in_its_own_module(method, module):
    """The window module only assembles the parts: each action is found in the module named for it."""
    assert getattr(MainWindow, method).__module__ == module


def test_the_window_module_is_small():
    import emgui.ui.window as window_module

    lines = inspect.getsource(window_module).count("\n")
    assert lines < 600, f"emgui/ui/window.py has {lines} lines"
    own = [name for name, value in vars(MainWindow).items() if callable(value) and not name.startswith("__")]
    # Construction, start-up, closing and the Help ▸ About one-liner; nothing else.
    assert len(own) <= 12, own


# -- 1. One cursor -----------------------------------------------------------------

CLASS_CSV = "Name,Gender,Height (cm)\nAnn,F,162\nBob,M,181\nCy,,170\nDee,F,158\n"


@pytest.fixture
def small(window, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV, encoding="utf-8")
    assert window.open_path(path, ask=False)
    return window


def _click(qtbot, window, row, col):
    view = window.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(window.model.index(row, col)).center())


def _type(qtbot, window, text):
    """Type on the current cell as a person does: the first key opens the editor, the rest go into it."""
    qtbot.keyClicks(window.view, text[0])
    qtbot.keyClicks(window.view.focusWidget(), text[1:])
    qtbot.keyClick(window.view.focusWidget(), Qt.Key.Key_Return)


def _selected(window):
    return sorted((i.row(), i.column()) for i in window.view.selectionModel().selectedIndexes())


def _names(window):
    return [window.sheet.text(r, 0) for r in range(window.sheet.n_rows)]


@pytest.mark.parametrize(
    ("key", "modifier", "expected"),
    [
        (Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier, None),  # the last used cell
        (Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier, (0, 0)),
        (Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier, None),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier, None),
        (Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier, (2, 0)),
        (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier, None),
        (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, None),
    ],
)
def test_every_key_moves_the_cursor_and_the_selection_together(small, qtbot, key, modifier, expected):
    """Click a cell, move by a key: the selection is the current cell, and Delete clears that cell only."""
    _click(qtbot, small, 1, 0)  # Bob's name
    assert _selected(small) == [(1, 0)]
    qtbot.keyClick(small.view, key, modifier)
    current = small.view.currentIndex()
    at = (current.row(), current.column())
    if expected is not None:
        assert at == expected
    assert _selected(small) == [at]
    before = [[small.sheet.text(r, c) for c in range(small.sheet.n_cols)] for r in range(small.sheet.n_rows)]
    qtbot.keyClick(small.view, Qt.Key.Key_Delete)
    after = [[small.sheet.text(r, c) for c in range(small.sheet.n_cols)] for r in range(small.sheet.n_rows)]
    changed = [(r, c) for r in range(len(before)) for c in range(len(before[0])) if before[r][c] != after[r][c]]
    sheet_col = small.model.sheet_column(at[1])
    sheet_row = small.model.sheet_row(at[0]) if at[0] < small.model.n_data_rows else None
    if sheet_row is None or sheet_col < 0 or before[sheet_row][sheet_col] is None:
        assert changed == []
    else:
        assert changed == [(sheet_row, sheet_col)]


def test_ctrl_end_goes_to_the_last_used_cell_not_the_empty_row(small, qtbot):
    _click(qtbot, small, 0, 0)
    qtbot.keyClick(small.view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    current = small.view.currentIndex()
    assert current.row() == small.model.n_data_rows - 1 == 3
    assert current.column() == small.model.columnCount() - 1
    # Typing goes where the cursor is, and Delete clears the same cell.
    _type(qtbot, small, "160")
    assert small.sheet.text(3, 2) == "160" and _names(small) == ["Ann", "Bob", "Cy", "Dee"]


def test_typing_after_insert_row_goes_into_the_new_row(small, qtbot):
    _click(qtbot, small, 1, 0)  # Bob
    small.view.setFocus()
    qtbot.keyClick(small.view, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert _names(small) == ["Ann", None, "Bob", "Cy", "Dee"]
    current = small.view.currentIndex()
    assert (current.row(), current.column()) == (1, 0) and _selected(small) == [(1, 0)]
    _type(qtbot, small, "Zed")
    assert _names(small) == ["Ann", "Zed", "Bob", "Cy", "Dee"]


def test_delete_and_paste_act_at_the_cursor_when_it_left_the_selection(small, qtbot):
    """A program moving the cursor (a filter, Find) without the selection: the keys follow the cursor."""
    from PySide6.QtCore import QItemSelectionModel

    _click(qtbot, small, 0, 0)  # Ann selected
    small.view.selectionModel().setCurrentIndex(small.model.index(2, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
    qtbot.keyClick(small.view, Qt.Key.Key_Delete)
    assert _names(small) == ["Ann", "Bob", None, "Dee"]
    small.view.selectionModel().setCurrentIndex(small.model.index(1, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
    small.paste_text("Bo")
    assert _names(small) == ["Ann", "Bo", None, "Dee"]
