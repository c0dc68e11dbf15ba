"""``QColor`` wrappers over :mod:`emgui.core.colors` (Okabe-Ito class colours)."""

from __future__ import annotations

from PySide6.QtGui import QColor

from emgui.core.colors import UNLABELLED_HEX, class_hex, shade_hex

__all__ = ["class_color", "shade", "shade_hex", "unlabelled_color"]


def class_color(index: int) -> QColor:
    """Colour of class ``index`` (cycles; ``-1`` gives the unlabelled grey)."""
    return QColor(class_hex(index))


def shade(index: int, confidence: float, n_classes: int = 2) -> QColor:
    """Cell background for class ``index`` at ``confidence``.

    Nearly white at chance level (``1 / n_classes``), a clear but readable
    tint at 1.0; identical to :func:`emgui.core.colors.shade_hex`, which the
    XLSX export uses.
    """
    return QColor(shade_hex(index, confidence, n_classes))


def unlabelled_color() -> QColor:
    """Neutral grey for rows without a label."""
    return QColor(UNLABELLED_HEX)
