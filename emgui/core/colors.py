"""Class colours and confidence shading as plain ``"#RRGGBB"`` strings.

The palette is Okabe-Ito (colour-blind safe).  The UI wraps these in
``QColor`` (:mod:`emgui.ui.palette`); the XLSX export uses the hex strings
directly, so a cell looks the same in the app and in the exported file.
"""

from __future__ import annotations

import math
from functools import lru_cache

__all__ = [
    "CLASS_COLORS",
    "MAX_TINT",
    "UNLABELLED_HEX",
    "class_hex",
    "shade_hex",
    "tint_strength",
]

#: Okabe-Ito, in an order whose first two entries (the common two-class
#: sheet) differ in hue and in lightness.
CLASS_COLORS: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#000000",
)

#: Neutral grey for rows without a label (in plots).
UNLABELLED_HEX = "#999999"

#: Strongest tint, as the fraction of class colour blended into white.
MAX_TINT = 0.55

# A row the model cannot tell apart (confidence 1/K) still gets a faint tint,
# so a filled cell is never mistaken for an untouched one.
_MIN_TINT = 0.06

# WCAG AA: black text needs a background with contrast >= 4.5 : 1.
_MIN_CONTRAST_WITH_BLACK = 4.5


def class_hex(index: int) -> str:
    """Colour of class ``index``, cycling through :data:`CLASS_COLORS`.

    Parameters
    ----------
    index : int
        Class index, 0-based.  Negative indices (unlabelled, ``-1``) give
        :data:`UNLABELLED_HEX`.

    Returns
    -------
    str
        ``"#RRGGBB"``.
    """
    if index < 0:
        return UNLABELLED_HEX
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def tint_strength(confidence: float, n_classes: int = 2) -> float:
    """Fraction of the class colour blended into white for ``confidence``.

    Grows linearly from a faint tint at chance level (``1 / n_classes``) to
    :data:`MAX_TINT` at certainty.

    Parameters
    ----------
    confidence : float
        Probability of the written class, in ``[0, 1]``; NaN counts as chance.
    n_classes : int, default 2
        Number of classes ``K``; chance level is ``1 / K``.

    Returns
    -------
    float
        In ``[_MIN_TINT, MAX_TINT]``.
    """
    chance = 1.0 / max(int(n_classes), 1)
    if not math.isfinite(confidence) or chance >= 1.0:
        t = 0.0 if not math.isfinite(confidence) else 1.0
    else:
        t = (confidence - chance) / (1.0 - chance)
    t = min(max(t, 0.0), 1.0)
    return _MIN_TINT + (MAX_TINT - _MIN_TINT) * t


def shade_hex(index: int, confidence: float, n_classes: int = 2) -> str:
    """Cell background for a value of class ``index`` written with ``confidence``.

    White blended with the class colour by :func:`tint_strength`, capped per
    colour so that black text on it keeps a WCAG-AA contrast (4.5 : 1).

    Parameters
    ----------
    index : int
        Class index, 0-based (cycles like :func:`class_hex`).
    confidence : float
        Probability of the written class, in ``[0, 1]``.
    n_classes : int, default 2
        Number of classes ``K``.

    Returns
    -------
    str
        ``"#RRGGBB"``.
    """
    base = class_hex(index)
    alpha = min(tint_strength(confidence, n_classes), _readable_cap(base))
    r, g, b = _rgb(base)
    return _hex(_blend_white(r, alpha), _blend_white(g, alpha), _blend_white(b, alpha))


def shade_hexes(index, confidence, n_classes: int = 2):
    """:func:`shade_hex` of many cells at once: the same colours, numpy instead of a call per cell.

    Parameters
    ----------
    index : numpy.ndarray of int, shape (n,)
        Class index of each cell.
    confidence : numpy.ndarray of float, shape (n,)
        Probability of each cell's written class.
    n_classes : int, default 2

    Returns
    -------
    numpy.ndarray of object, shape (n,)
        ``"#RRGGBB"`` strings.
    """
    import numpy as np

    index = np.asarray(index, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    out = np.empty(len(index), dtype=object)
    if not len(index):
        return out
    # tint_strength, element-wise, the same operations in the same order.
    chance = 1.0 / max(int(n_classes), 1)
    finite = np.isfinite(confidence)
    if chance >= 1.0:
        t = np.where(finite, 1.0, 0.0)
    else:
        t = np.where(finite, (confidence - chance) / (1.0 - chance), 0.0)
    tint = _MIN_TINT + (MAX_TINT - _MIN_TINT) * np.minimum(np.maximum(t, 0.0), 1.0)
    packed = np.zeros(len(index), dtype=np.int64)
    for g in np.unique(index).tolist():
        sel = index == g
        base = class_hex(g)
        alpha = np.minimum(tint[sel], _readable_cap(base))
        # round() of _blend_white: numpy's rint rounds halves to even as round does.
        r, gr, b = (np.rint(255 * (1.0 - alpha) + c * alpha).astype(np.int64) for c in _rgb(base))
        packed[sel] = (r << 16) | (gr << 8) | b
    uniques, inverse = np.unique(packed, return_inverse=True)
    out[:] = np.array([f"#{u:06X}" for u in uniques.tolist()], dtype=object)[inverse.ravel()]
    return out


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def _hex(r: int, g: int, b: int) -> str:
    return f"#{r:02X}{g:02X}{b:02X}"


def _blend_white(channel: int, alpha: float) -> int:
    return round(255 * (1.0 - alpha) + channel * alpha)


def _relative_luminance(r: int, g: int, b: int) -> float:
    def linear(c: int) -> float:
        s = c / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


@lru_cache(maxsize=64)
def _readable_cap(hex_color: str) -> float:
    """Largest tint <= MAX_TINT keeping black text readable on ``hex_color``."""
    r, g, b = _rgb(hex_color)

    def readable(alpha: float) -> bool:
        lum = _relative_luminance(
            _blend_white(r, alpha), _blend_white(g, alpha), _blend_white(b, alpha)
        )
        return (lum + 0.05) / 0.05 >= _MIN_CONTRAST_WITH_BLACK

    if readable(MAX_TINT):
        return MAX_TINT
    lo, hi = 0.0, MAX_TINT
    # Luminance falls monotonically with alpha, so bisection converges.
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if readable(mid) else (lo, mid)
    return lo
