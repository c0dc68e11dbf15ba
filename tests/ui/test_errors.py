"""The one exception handler: log, recovery copy, one dialog, app and sheet untouched.

pytest-qt normally turns an exception in a slot into a test failure by
taking over ``sys.excepthook``; these tests switch that off
(``qt_no_exception_capture``) because the hook is what they test.
"""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from emgui.core import recovery as core_recovery
from emgui.core.sheet import Sheet
from emgui.ui import errors
from emgui.ui.recovery import RecoveryKeeper

pytestmark = [
    pytest.mark.qt_no_exception_capture,
    pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)"),
]


def _obj(values):
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


@pytest.fixture
def dialogs(monkeypatch):
    shown = []
    monkeypatch.setattr(
        errors, "show_error_dialog", lambda parent, message, log, recovered: shown.append((parent, message, log, recovered))
    )
    return shown


@pytest.fixture
def app_state(qtbot, tmp_path, monkeypatch):
    """A window with a sheet, a keeper and the handler installed (log in tmp)."""
    monkeypatch.setenv("EMGUI_RECOVERY_DIR", str(tmp_path / "recovery"))
    sheet = Sheet(
        ["Name", "Gender", "Height (cm)"],
        [_obj(["Ann", "Bob", "Cy"]), _obj(["F", "M", None]), _obj(["160", "181", "170"])],
    )
    window = QMainWindow()
    qtbot.addWidget(window)
    stack = QUndoStack(window)
    keeper = RecoveryKeeper(lambda: sheet, lambda: "/t/class.csv", undo_stack=stack, parent=window)
    handler = errors.install_excepthook(lambda: window, keeper=keeper, log_path=tmp_path / "logs" / "emgui.log")
    yield {"sheet": sheet, "window": window, "keeper": keeper, "handler": handler, "log": tmp_path / "logs" / "emgui.log"}
    handler.uninstall()
    keeper.discard()


def _cells(sheet):
    return [list(sheet.column_cells(c)) for c in range(sheet.n_cols)]


def _raise_later(exc: BaseException, delay: int = 0):
    def boom():
        raise exc

    QTimer.singleShot(delay, boom)


def test_an_exception_in_a_slot_is_logged_shown_once_and_survived(qtbot, app_state, dialogs):
    sheet, handler = app_state["sheet"], app_state["handler"]
    before = _cells(sheet)
    with qtbot.waitSignal(handler.error_reported, timeout=5000) as blocker:
        _raise_later(ValueError("could not frobnicate row 3\nsecond line"))
    assert blocker.args == ["ValueError: could not frobnicate row 3"]

    ((parent, message, log, recovered),) = dialogs
    assert parent is app_state["window"]
    assert message == "ValueError: could not frobnicate row 3"
    assert log == app_state["log"]
    assert recovered is True
    text = app_state["log"].read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "in boom" in text and "ValueError: could not frobnicate row 3" in text
    assert _cells(sheet) == before  # the sheet is intact

    # A recovery copy was written, holding the sheet as it is.
    (info,) = core_recovery.list_recoveries(include_running=True)
    assert _cells(core_recovery.load_recovery(info)[0]) == before

    # The app keeps running: timers still fire, events are still processed.
    fired = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: fired == [True], timeout=2000)


def test_the_same_error_again_goes_to_the_status_bar_not_a_second_dialog(qtbot, app_state, dialogs):
    handler, window = app_state["handler"], app_state["window"]

    def same_place():
        raise RuntimeError("paint failed")

    for _ in range(3):
        with qtbot.waitSignal(handler.error_reported, timeout=5000):
            QTimer.singleShot(0, same_place)
    assert len(dialogs) == 1
    assert "paint failed" in window.statusBar().currentMessage()
    with qtbot.waitSignal(handler.error_reported, timeout=5000):
        _raise_later(KeyError("another kind"))
    assert len(dialogs) == 2
    assert app_state["log"].read_text(encoding="utf-8").count("RuntimeError: paint failed") >= 3


def test_an_exception_in_another_thread_is_shown_on_the_gui_thread(qtbot, app_state, dialogs):
    handler = app_state["handler"]
    seen = []
    handler.error_reported.connect(lambda m: seen.append(threading.current_thread()))

    def work():
        raise OSError("disk went away")

    with qtbot.waitSignal(handler.error_reported, timeout=5000):
        t = threading.Thread(target=work)
        t.start()
    t.join()
    assert dialogs[0][1] == "OSError: disk went away"
    assert seen == [threading.main_thread()]
    assert "disk went away" in app_state["log"].read_text(encoding="utf-8")


def test_an_error_while_the_dialog_is_open_is_logged_only(qtbot, app_state, monkeypatch):
    handler = app_state["handler"]
    shown = []

    def dialog(parent, message, log, recovered):
        shown.append(message)
        # Events run while a modal dialog is open; a second error arrives now.
        try:
            raise ZeroDivisionError("nested")
        except ZeroDivisionError:
            handler.handle(*sys.exc_info())

    monkeypatch.setattr(errors, "show_error_dialog", dialog)
    with qtbot.waitSignal(handler.error_reported, timeout=5000):
        _raise_later(ValueError("first"))
    assert shown == ["ValueError: first"]
    assert "ZeroDivisionError: nested" in app_state["log"].read_text(encoding="utf-8")


def test_without_a_keeper_or_a_writable_log_the_dialog_says_so(qtbot, tmp_path, dialogs):
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("x")
    window = QMainWindow()
    qtbot.addWidget(window)
    handler = errors.install_excepthook(lambda: window, log_path=blocker_file / "emgui.log")
    try:
        assert handler.log_path is None
        with qtbot.waitSignal(handler.error_reported, timeout=5000):
            _raise_later(ValueError("x"))
    finally:
        handler.uninstall()
    assert dialogs[0][2:] == (None, False)


def test_uninstall_puts_the_hooks_back_and_closes_the_log(tmp_path, qapp):
    before, before_thread = sys.excepthook, threading.excepthook
    handler = errors.install_excepthook(lambda: None, log_path=tmp_path / "emgui.log")
    assert sys.excepthook == handler.handle
    assert threading.excepthook != before_thread
    handler.uninstall()
    assert sys.excepthook is before and threading.excepthook is before_thread
    assert not any(
        isinstance(h, logging.FileHandler) and h.baseFilename == str(tmp_path / "emgui.log")
        for h in logging.getLogger("emgui").handlers
    )


def test_keyboard_interrupt_is_passed_on(tmp_path, qapp, monkeypatch, dialogs):
    passed = []
    monkeypatch.setattr(sys, "excepthook", lambda *a: passed.append(a[0]))
    handler = errors.install_excepthook(lambda: None, log_path=tmp_path / "emgui.log")
    try:
        handler.handle(KeyboardInterrupt, KeyboardInterrupt(), None)
    finally:
        handler.uninstall()
    assert passed == [KeyboardInterrupt] and dialogs == []


def test_the_default_log_lives_in_the_app_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert errors.default_log_path() == tmp_path / "emgui" / "emgui.log"


def test_the_real_dialog_names_the_message_and_the_log(qtbot, tmp_path):
    seen = {}

    def close_it():
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen["text"], seen["info"] = box.text(), box.informativeText()
        box.accept()

    QTimer.singleShot(50, close_it)
    errors.show_error_dialog(None, "ValueError: bad", tmp_path / "emgui.log", True)
    assert "ValueError: bad" in seen["text"]
    assert str(tmp_path / "emgui.log") in seen["info"]
    assert "recovery copy" in seen["info"] and "not changed" in seen["info"]


def test_an_exception_in_a_real_window_slot(qtbot, tmp_path, monkeypatch, dialogs):
    """A menu action of the main window fails: logged, one dialog, copy written, sheet intact."""
    from PySide6.QtCore import QCoreApplication, QSettings

    from emgui.ui import dialogs as window_dialogs
    from emgui.ui.recovery import keep_recovery
    from emgui.ui.window import MainWindow

    monkeypatch.setenv("EMGUI_RECOVERY_DIR", str(tmp_path / "recovery"))
    QCoreApplication.setOrganizationName("emgui-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setattr(window_dialogs, "ask_unsaved_changes", lambda parent, name: "discard")
    data = tmp_path / "class.csv"
    data.write_text("Name,Gender,Height (cm)\nAnn,F,162\nBob,M,181\nCy,,170\n", encoding="utf-8")

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    keeper = keep_recovery(window)
    handler = errors.install_excepthook(lambda: window, keeper=keeper, log_path=tmp_path / "emgui.log")
    try:
        assert window.open_path(data, ask=False)
        window.sheet.set_cell(1, 0, "Bobby")  # unsaved work, not yet copied
        before = _cells(window.sheet)

        def broken(parent):
            raise RuntimeError("the About box is broken")

        monkeypatch.setattr(window_dialogs, "show_about", broken)
        with qtbot.waitSignal(handler.error_reported, timeout=5000):
            QTimer.singleShot(0, window.action_map["about"].trigger)

        assert [d[1] for d in dialogs] == ["RuntimeError: the About box is broken"]
        assert dialogs[0][0] is window and dialogs[0][3] is True
        assert "in show_about" in (tmp_path / "emgui.log").read_text(encoding="utf-8")
        assert _cells(window.sheet) == before
        (info,) = core_recovery.list_recoveries(include_running=True)
        assert _cells(core_recovery.load_recovery(info)[0]) == before
        assert window.isVisible()
    finally:
        handler.uninstall()
        keeper.discard()
        window.controller.wait(10_000)


def test_a_large_log_is_moved_aside_at_start(tmp_path, qapp):
    log = tmp_path / "emgui.log"
    log.write_bytes(b"x" * (errors._LOG_BYTES + 1))
    (tmp_path / "emgui.log.1").write_text("older")
    handler = errors.install_excepthook(lambda: None, log_path=log)
    handler.uninstall()
    assert (tmp_path / "emgui.log.1").stat().st_size == errors._LOG_BYTES + 1
    assert (tmp_path / "emgui.log.2").read_text() == "older"
    assert not log.exists() or log.stat().st_size == 0
