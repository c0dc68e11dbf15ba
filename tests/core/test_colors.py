"""Class colours and confidence shading as hex strings (no Qt)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgui.core.colors import (
    CLASS_COLORS,
    MAX_TINT,
    UNLABELLED_HEX,
    class_hex,
    shade_hex,
    tint_strength,
)

HEX = re.compile(r"^#[0-9A-F]{6}$")


def _rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


def _luminance(h: str) -> float:
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(h)
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def test_palette_is_okabe_ito_and_cycles():
    assert CLASS_COLORS[:3] == ("#E69F00", "#56B4E9", "#009E73")
    assert len(set(CLASS_COLORS)) == 8
    assert [class_hex(i) for i in range(8)] == list(CLASS_COLORS)
    assert class_hex(8) == class_hex(0) and class_hex(17) == class_hex(1)
    assert class_hex(-1) == UNLABELLED_HEX


@pytest.mark.parametrize("k", range(8))
def test_chance_is_nearly_white_and_certainty_clearly_tinted(k):
    faint = _rgb(shade_hex(k, 0.5, 2))
    assert min(faint) >= 225
    strong = shade_hex(k, 1.0, 2)
    assert 255 - min(_rgb(strong)) >= 70  # visibly coloured
    # Black text stays readable (WCAG AA) on the strongest tint of every colour.
    assert (_luminance(strong) + 0.05) / 0.05 >= 4.5


def test_chance_level_depends_on_the_number_of_classes():
    assert shade_hex(0, 1 / 3, 3) == shade_hex(0, 0.5, 2)
    assert shade_hex(0, 0.5, 3) != shade_hex(0, 0.5, 2)
    assert tint_strength(1.0, 5) == pytest.approx(MAX_TINT)
    assert tint_strength(0.2, 5) < 0.1


def test_out_of_range_confidence_is_clamped():
    assert shade_hex(1, 1.7) == shade_hex(1, 1.0)
    assert shade_hex(1, -3.0) == shade_hex(1, 0.5) == shade_hex(1, float("nan"))
    assert tint_strength(0.9, 1) == pytest.approx(MAX_TINT)


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(0, 20),
    n_classes=st.integers(2, 8),
    a=st.floats(0.0, 1.0),
    b=st.floats(0.0, 1.0),
)
def test_more_confidence_never_gives_a_lighter_shade(k, n_classes, a, b):
    lo, hi = sorted((a, b))
    light, dark = shade_hex(k, lo, n_classes), shade_hex(k, hi, n_classes)
    assert HEX.match(light) and HEX.match(dark)
    assert all(x >= y for x, y in zip(_rgb(light), _rgb(dark), strict=True))


@pytest.mark.parametrize("n_classes", [1, 2, 3, 7])
def test_shade_hexes_gives_shade_hex_for_every_cell(n_classes):
    import numpy as np

    from emgui.core.colors import shade_hex, shade_hexes

    rng = np.random.default_rng(n_classes)
    index = rng.integers(-1, 9, 5000)
    conf = rng.random(5000)
    conf[:12] = [0.0, 1.0, 0.5, 1 / 3, 0.25, 2.0, -1.0, np.nan, np.inf, 0.999999, 0.5000001, 1 / n_classes]
    want = [shade_hex(int(g), float(c), n_classes) for g, c in zip(index, conf, strict=True)]
    assert shade_hexes(index, conf, n_classes).tolist() == want
    assert shade_hexes(np.zeros(0, dtype=int), np.zeros(0), n_classes).tolist() == []
