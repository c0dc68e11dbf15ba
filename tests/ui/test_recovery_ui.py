"""RecoveryKeeper (when copies are written and removed) and the start-up offer."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication, QMessageBox

from emgui.core import recovery as core_recovery
from emgui.core.sheet import Sheet
from emgui.ui import recovery
from emgui.ui.commands import SetCellsCommand
from emgui.ui.recovery import RecoveryKeeper, offer_recovery

IDLE = 60

# The offscreen platform cannot size dialogs to their hints and says so.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    path = tmp_path / "recovery"
    monkeypatch.setenv("EMGUI_RECOVERY_DIR", str(path))
    return path


def _obj(values):
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def _sheet() -> Sheet:
    return Sheet(
        ["Name", "Gender", "Height (cm)"],
        [_obj(["Ann", "Bob", "Cy", "Di"]), _obj(["F", "M", None, None]), _obj(["160", "181", "170", "165"])],
    )


@pytest.fixture
def doc(qapp):
    """A sheet, its undo stack and a keeper watching them (short idle time)."""
    sheet = _sheet()
    stack = QUndoStack()
    keeper = RecoveryKeeper(lambda: sheet, lambda: "/class/list.csv", undo_stack=stack, idle_ms=IDLE)
    yield sheet, stack, keeper
    keeper.discard()
    keeper.deleteLater()
    stack.deleteLater()


def _edit(stack, sheet, row, col, text):
    stack.push(SetCellsCommand(sheet, [row], col, [[text]], "Edit"))


def _copies(folder):
    return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else []


def _restored():
    (info,) = core_recovery.list_recoveries(include_running=True)
    return core_recovery.load_recovery(info)


def _dead_pid() -> int:
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


# --------------------------------------------------------------------------- the keeper


def test_defaults_are_a_few_seconds():
    assert 1000 <= recovery.IDLE_MS <= 5000
    assert recovery.IDLE_MS < recovery.MAX_DELAY_MS <= 60_000


def test_a_copy_is_written_after_idle_time_following_an_edit(qtbot, doc, folder):
    sheet, stack, keeper = doc
    _edit(stack, sheet, 0, 0, "Anna")
    assert keeper.is_pending() and _copies(folder) == []  # not at once: after a pause
    with qtbot.waitSignal(keeper.recovery_written, timeout=5000) as blocker:
        pass
    assert blocker.args[0].endswith(".json")
    back, source = _restored()
    assert back.text(0, 0) == "Anna"
    assert source == "/class/list.csv"


def test_a_burst_of_edits_gives_one_copy_with_the_last_edit(qtbot, doc, folder):
    sheet, stack, keeper = doc
    written = []
    keeper.recovery_written.connect(written.append)
    for i in range(5):
        _edit(stack, sheet, 0, 0, f"Ann {i}")
        qtbot.wait(IDLE // 3)  # shorter than the idle time: the timer restarts
    assert written == []
    qtbot.waitUntil(lambda: len(written) == 1, timeout=5000)
    qtbot.wait(3 * IDLE)
    assert len(written) == 1
    assert _restored()[0].text(0, 0) == "Ann 4"


def test_endless_typing_still_gets_a_copy(qtbot, qapp, folder):
    sheet, stack = _sheet(), QUndoStack()
    keeper = RecoveryKeeper(lambda: sheet, undo_stack=stack, idle_ms=10_000, max_delay_ms=150)
    written = []
    keeper.recovery_written.connect(written.append)
    try:
        deadline = time.monotonic() + 5
        i = 0
        while not written and time.monotonic() < deadline:
            i += 1
            _edit(stack, sheet, 1, 0, f"Bob {i}")
            qtbot.wait(20)  # never idle for 10 s
        assert written, "no copy while changes kept coming"
    finally:
        keeper.discard()


def test_saving_or_undoing_to_the_saved_state_removes_the_copy(qtbot, doc, folder):
    sheet, stack, keeper = doc
    _edit(stack, sheet, 0, 0, "Anna")
    with qtbot.waitSignal(keeper.recovery_written, timeout=5000):
        pass
    assert len(_copies(folder)) == 1
    stack.undo()  # back to the saved state: nothing unsaved to recover
    assert _copies(folder) == []
    _edit(stack, sheet, 0, 0, "Anne")
    with qtbot.waitSignal(keeper.recovery_written, timeout=5000):
        pass
    stack.setClean()  # saved
    assert _copies(folder) == []
    qtbot.wait(3 * IDLE)
    assert _copies(folder) == []


def test_a_fill_writes_at_once_and_only_with_unsaved_changes(qtbot, doc, folder):
    sheet, stack, keeper = doc
    keeper.write_soon()  # clean: nothing to keep
    qtbot.wait(2 * IDLE)
    assert _copies(folder) == []
    _edit(stack, sheet, 2, 1, "M")
    with qtbot.waitSignal(keeper.recovery_written, timeout=5000):
        keeper.write_soon()
        assert not keeper._timer.isActive()  # not waiting for the idle time


def test_write_now_writes_even_a_clean_sheet(doc, folder):
    sheet, stack, keeper = doc
    path = keeper.write_now()
    assert path is not None and path.exists()
    assert _copies(folder) == [path.name]
    keeper.discard()
    assert _copies(folder) == []


def test_the_copy_is_written_off_the_gui_thread(qtbot, doc, monkeypatch):
    sheet, stack, keeper = doc
    threads = []
    real = core_recovery.write_recovery

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(core_recovery, "write_recovery", spy)
    _edit(stack, sheet, 0, 0, "Anna")
    with qtbot.waitSignal(keeper.recovery_written, timeout=5000):
        pass
    assert threads and threads[0] is not threading.main_thread()


def test_edits_during_a_slow_write_are_written_next(qtbot, doc, monkeypatch):
    sheet, stack, keeper = doc
    real = core_recovery.write_recovery
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(core_recovery, "write_recovery", slow)
    written = []
    keeper.recovery_written.connect(written.append)
    _edit(stack, sheet, 0, 0, "first")
    keeper.write_soon()
    _edit(stack, sheet, 0, 0, "second")
    keeper.write_soon()  # the writer is busy: this one waits its turn
    release.set()
    qtbot.waitUntil(lambda: len(written) >= 1 and not keeper.is_pending(), timeout=5000)
    assert _restored()[0].text(0, 0) == "second"
    # The first copy holds the sheet's own arrays (no copies, issue 14 item 3):
    # the edit during its write made it stale, so only the second was committed.
    assert len(written) == 1


def test_discard_waits_for_a_running_write(qtbot, doc, folder, monkeypatch):
    # A clean close must not be followed by a late write that brings the copy back.
    sheet, stack, keeper = doc
    real = core_recovery.write_recovery

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(core_recovery, "write_recovery", slow)
    _edit(stack, sheet, 0, 0, "Anna")
    keeper.write_soon()
    keeper.discard()
    qtbot.wait(100)
    assert _copies(folder) == []
    assert not keeper.is_pending()


def test_a_failed_write_is_reported_not_raised(qtbot, doc, monkeypatch):
    sheet, stack, keeper = doc

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core_recovery, "write_recovery", full)
    _edit(stack, sheet, 0, 0, "Anna")
    with qtbot.waitSignal(keeper.recovery_failed, timeout=5000) as blocker:
        pass
    assert "No space" in blocker.args[0]
    assert keeper.write_now() is None
    assert sheet.text(0, 0) == "Anna"


# --------------------------------------------------------------------------- the offer


@pytest.fixture
def asked(monkeypatch):
    """Answers for ask_restore, in order; records what was asked."""
    state = {"answers": [], "infos": []}

    def ask(parent, info):
        state["infos"].append(info)
        return state["answers"].pop(0)

    monkeypatch.setattr(recovery, "ask_restore", ask)
    return state


def _left_behind(text="Zed", source="/home/t/class.xlsx"):
    """A copy as a killed process leaves it."""
    sheet = _sheet()
    sheet.set_cell(3, 0, text)
    pid = _dead_pid()
    core_recovery.write_recovery(sheet, source, f"{pid}-{time.time_ns()}")


def test_nothing_to_offer(qapp, asked):
    assert offer_recovery(None) is None
    assert asked["infos"] == []


def test_restore_returns_the_work_and_keeps_it_on_disk(qapp, asked, folder):
    _left_behind()
    asked["answers"] = ["restore"]
    sheet, source = offer_recovery(None, session_id="99-1")
    assert source == "/home/t/class.xlsx"
    assert sheet.text(3, 0) == "Zed"
    assert asked["infos"][0].file_name == "class.xlsx"
    # The old copy became this session's copy: restored work survives another crash.
    assert _copies(folder) == ["session-99-1.json"]


def test_discard_deletes_the_copy_and_keep_leaves_it(qapp, asked, folder):
    _left_behind()
    asked["answers"] = ["keep"]
    assert offer_recovery(None) is None
    assert len(_copies(folder)) == 1
    asked["answers"] = ["discard"]
    assert offer_recovery(None) is None
    assert _copies(folder) == []


def test_several_copies_are_offered_newest_first(qapp, asked, folder):
    _left_behind("older", "/a.csv")
    time.sleep(0.01)
    _left_behind("newer", "/b.csv")
    asked["answers"] = ["discard", "restore"]
    sheet, source = offer_recovery(None)
    assert [i.source_path for i in asked["infos"]] == ["/b.csv", "/a.csv"]
    assert (sheet.text(3, 0), source) == ("older", "/a.csv")


def test_an_unreadable_copy_is_reported_and_kept(qapp, asked, folder, monkeypatch):
    _left_behind()
    (csv_file,) = folder.glob("*.csv")
    csv_file.write_bytes(b"\x00\x01\x02binary junk\xff" * 50)
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    asked["answers"] = ["restore"]
    assert offer_recovery(None) is None
    assert len(warned) == 1 and str(csv_file) in warned[0]
    assert csv_file.exists()


def test_the_question_names_the_time_and_the_file(qtbot, folder):
    _left_behind(source="/home/t/Class 7b.xlsx")
    (info,) = core_recovery.list_recoveries()
    seen = {}

    def answer():
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen["text"] = box.text()
        next(b for b in box.buttons() if b.text() == "Restore").click()

    QTimer.singleShot(50, answer)
    assert recovery.ask_restore(None, info) == "restore"
    text = seen["text"]
    assert text.startswith("EM Gap Filler closed unexpectedly. Restore unsaved work from ")
    assert "(Class 7b.xlsx)?" in text
    assert info.saved_at.astimezone().strftime("%H:%M") in text


# --------------------------------------------------------------------------- in the real window

CSV = "Name,Gender,Height (cm)\nAnn,F,162\nBob,M,181\nCy,,170\nDi,F,158\nEd,M,185\nFay,,160\n"


@pytest.fixture
def main_window(qtbot, tmp_path, monkeypatch):
    """The real MainWindow, with settings kept in tmp and unsaved changes discarded on close."""
    from PySide6.QtCore import QCoreApplication, QSettings

    from emgui.ui import dialogs
    from emgui.ui.window import MainWindow

    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: "discard")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    yield window
    window.controller.wait(10_000)


@pytest.fixture
def class_csv(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_window_restores_a_copy_as_unsaved_work_instead_of_the_file(qtbot, main_window, asked, folder, class_csv):
    _left_behind("Zed", str(class_csv))
    other = class_csv.with_name("other.csv")
    other.write_text(CSV, encoding="utf-8")
    asked["answers"] = ["restore"]
    keeper = recovery.keep_recovery(main_window, open_after=other)
    qtbot.waitUntil(lambda: main_window.path == str(class_csv), timeout=5000)
    assert main_window.sheet.text(3, 0) == "Zed"
    assert main_window.isWindowModified()
    assert main_window.windowTitle().startswith("class.csv")
    qtbot.wait(50)
    assert main_window.path == str(class_csv)  # the command line's file did not replace it
    assert _copies(folder) == [f"session-{keeper.session_id}.json"]
    keeper.discard()


def test_window_opens_the_file_when_nothing_is_restored(qtbot, main_window, asked, class_csv):
    keeper = recovery.keep_recovery(main_window, open_after=class_csv)
    qtbot.waitUntil(lambda: main_window.path == str(class_csv), timeout=5000)
    assert asked["infos"] == []
    assert not main_window.isWindowModified()
    keeper.discard()


def test_window_edit_fill_and_save(qtbot, main_window, asked, folder, class_csv):
    from PySide6.QtCore import Qt

    keeper = recovery.keep_recovery(main_window)
    qtbot.wait(10)  # the (empty) offer runs first
    assert main_window.open_path(class_csv, ask=False)
    model = main_window.model
    name = next(
        c for c in range(model.columnCount()) if model.headerData(c, Qt.Orientation.Horizontal) == "Name"
    )
    # An edit typed in the table: a copy follows once the user pauses.
    with qtbot.waitSignal(keeper.recovery_written, timeout=3 * recovery.IDLE_MS):
        assert model.setData(model.index(0, name), "Anna", Qt.ItemDataRole.EditRole)
    assert _restored()[0].text(0, 0) == "Anna"

    # A fill writes a copy at once, marks included (not after the idle time).
    started = time.monotonic()
    with qtbot.waitSignal(keeper.recovery_written, timeout=30_000):
        main_window.fill_gaps()
    assert time.monotonic() - started < recovery.IDLE_MS / 1000
    back, source = _restored()
    assert source == str(class_csv)
    assert list(back.provenance) == list(main_window.sheet.provenance)
    assert back.text(2, 1) == main_window.sheet.text(2, 1) is not None

    # Saving makes the copy pointless.
    assert main_window.save_to(class_csv)
    assert _copies(folder) == []
    keeper.discard()
