"""UI test fixtures: fail any test that leaves a QThread running (as napari does)."""

import pytest


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
