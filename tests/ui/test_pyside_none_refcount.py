"""PySide6 must not leak references to None on calls that return nothing.

PySide6 6.12.0 on Python < 3.12 dropped a reference to ``None`` on every
void call; a live plot makes millions of them and the interpreter aborts
with "none_dealloc".  On Python >= 3.12 ``None`` is immortal and its count
does not move, so the test passes trivially there.
"""

import sys

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

N_CALLS = 10_000


def test_void_qt_calls_keep_none_refcount(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.update()  # warm up any one-off caches
    QCoreApplication.processEvents()

    before = sys.getrefcount(None)
    for _ in range(N_CALLS):
        widget.update()
        widget.setToolTip("")
    QCoreApplication.processEvents()
    after = sys.getrefcount(None)

    assert abs(after - before) < 100, (
        f"None refcount moved by {after - before} over {N_CALLS} calls"
    )
