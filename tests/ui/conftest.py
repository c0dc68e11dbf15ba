"""UI test fixtures: Qt objects die before their Python halves; no test leaves a QThread running.

Why the first: a window is a cycle of Python objects (its wrapper, its
model, its plot, the lambdas they hold) around live C++ objects.  When a
test ends, pytest-qt closes the windows it was given and calls
``deleteLater``, which only an event loop carries out; windows a test made
for itself are merely dropped.  If Python's cyclic collector gets to such a
window first, it clears the Python halves in no particular order while Qt
still holds the C++ ones: the view then calls a model whose attributes are
gone ("no attribute '_order'"), and objects owned by both sides are freed
twice -- seen here as segmentation faults in later tests, in
``QScreen::devicePixelRatio`` and ``~QObject``, one or two full runs in
five.  The program itself has one window for its whole life and deletes
what it closes with ``deleteLater`` in its own event loop; this is about
the test harness.

So: the program's collector (a 1 s timer of the GUI thread, see
``emgui.ui.window._collect_garbage_in_gui_thread``) is paused for the
session, and after every test each top-level widget the test left behind is
deleted -- by Qt, with its Python half intact -- before anything is
collected.
"""

import gc
import time

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

# A modal dialog still open after this long was not expected by the test.
MODAL_SECONDS = 20.0


def _address(widget) -> int:
    import shiboken6

    return shiboken6.getCppPointer(widget)[0]


def _flush_deferred_deletes() -> None:
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


@pytest.fixture(scope="session", autouse=True)
def _gui_collector_paused(qapp):
    """Start the program's GUI-thread collector as the first window would, then pause its timer.

    The automatic collector stays off (no collection in a worker thread);
    garbage is collected after each test instead, once the widgets are gone.
    """
    import emgui.ui.window as window_module

    window_module._collect_garbage_in_gui_thread()
    collector = window_module._COLLECTOR[0]
    assert collector is not None and collector.timer.isActive() and not gc.isenabled()
    collector.timer.stop()
    # What the session imported so far (Qt, numpy, pandas, Dask, scikit-learn...) lives to
    # the end: out of the collections after each test, which otherwise walked it all, twice
    # per test (the program does the same, see emgui.ui.loader.preload_readers).
    gc.collect()
    gc.freeze()
    yield collector
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _widgets_deleted_before_collection(qapp):
    _flush_deferred_deletes()
    gc.collect()
    before = {_address(w) for w in qapp.topLevelWidgets()}
    yield
    left = [w for w in qapp.topLevelWidgets() if _address(w) not in before and w.parent() is None]
    for w in left:
        w.hide()
        w.deleteLater()
    del left
    _flush_deferred_deletes()
    gc.collect()


@pytest.fixture(autouse=True)
def _no_running_qthreads(qapp):
    from PySide6.QtCore import QThread

    yield
    qapp.processEvents()
    leaked = [t for t in qapp.findChildren(QThread) if t.isRunning()]
    for t in leaked:
        t.quit()
        t.wait(5000)
    assert not leaked, f"test left {len(leaked)} QThread(s) running"


@pytest.fixture(autouse=True)
def _no_modal_dialog_left_open(qapp):
    """A modal dialog that no one closes is closed after MODAL_SECONDS and fails the test.

    Offscreen nobody clicks OK: a dialog a test did not expect (an error
    box after a race, a warning) would block the run in its own event loop
    for ever.  A timer of the GUI thread, which runs inside that loop too,
    closes it and the test fails with the dialog's title and text.
    """
    opened: dict[int, float] = {}
    stuck: list[str] = []

    def look() -> None:
        widget = QApplication.activeModalWidget()
        if widget is None:
            return
        since = opened.setdefault(_address(widget), time.monotonic())
        if time.monotonic() - since < MODAL_SECONDS:
            return
        text = widget.text() if isinstance(widget, QMessageBox) else ""
        stuck.append(f"{widget.windowTitle()!r}: {text!r}")
        if isinstance(widget, QDialog):
            widget.reject()
        else:
            widget.close()

    timer = QTimer()
    timer.setInterval(500)
    timer.timeout.connect(look)
    timer.start()
    yield
    timer.stop()
    assert not stuck, f"modal dialog(s) left open for {MODAL_SECONDS:g} s: {stuck}"


# Shared by the window tests: settings in a folder of the test's own, warnings collected.


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
def discard_unsaved(monkeypatch):
    """The unsaved-changes question answered "discard", without a dialog."""
    from emgui.ui import dialogs

    monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: "discard")


@pytest.fixture
def shown_window(qtbot, isolated_settings, warnings):
    """A ``MainWindow`` shown and active, settings of its own, warnings collected (the ``warnings`` fixture).

    Waits for its threads at the end, and leaves it clean (no question on
    close).  What the unsaved-changes question answers is the test's:
    :func:`discard_unsaved`, or a fixture of its own, asked for before this one.
    """
    from emgui.ui.window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    yield w
    w.controller.wait(10_000)
    w.undo_stack.setClean()
