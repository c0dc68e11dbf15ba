"""UI test fixtures: fail any test that leaves a QThread running (as napari does).

And destroy the widgets earlier tests closed before anything else runs:
pytest-qt closes them and calls ``deleteLater``, which only an event loop
carries out -- often in the middle of a later test.  The window collects
garbage from a timer in the GUI thread; collected first, a closed window's
Python half is cleared while Qt still holds the window, and its destruction
then calls into the cleared half ("no attribute '_order'" from the table
model, seen once in a full run).  The program's own event loop runs
``deleteLater`` at once, so this is about the test harness.
"""

import gc

import pytest


@pytest.fixture(autouse=True)
def _delete_closed_widgets_first(qapp):
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()
    yield


@pytest.fixture(autouse=True)
def _no_running_qthreads(qapp):
    from PySide6.QtCore import QThread

    before = set()
    yield
    qapp.processEvents()
    leaked = [
        t for t in qapp.findChildren(QThread) if t.isRunning() and id(t) not in before
    ]
    for t in leaked:
        t.quit()
        t.wait(5000)
    assert not leaked, f"test left {len(leaked)} QThread(s) running"
