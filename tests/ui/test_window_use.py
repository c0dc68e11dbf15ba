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
