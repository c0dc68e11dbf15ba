"""The QColor wrappers agree with the hex colours the XLSX export writes."""

from PySide6.QtGui import QColor

from emgui.core.colors import UNLABELLED_HEX, class_hex, shade_hex
from emgui.ui.palette import class_color, shade, unlabelled_color


def test_qcolors_match_the_hex_strings():
    for k in range(10):
        assert class_color(k) == QColor(class_hex(k))
        for c in (0.0, 0.5, 0.73, 1.0):
            assert shade(k, c, 3).name().upper() == shade_hex(k, c, 3)
    assert unlabelled_color().name().upper() == UNLABELLED_HEX
    assert class_color(-1) == unlabelled_color()


def test_shade_is_opaque_and_lightens_towards_chance():
    strong, faint = shade(0, 1.0), shade(0, 0.5)
    assert strong.alpha() == faint.alpha() == 255
    assert faint.lightness() > strong.lightness()
