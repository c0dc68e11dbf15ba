"""The PySide6 window: a thin adapter over :mod:`emgui.core`."""
