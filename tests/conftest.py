"""Shared test settings: Qt runs offscreen, and no test may leave a QThread running."""

import os

# Set before any Qt import so every test (and pytest-qt's QApplication) is offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
