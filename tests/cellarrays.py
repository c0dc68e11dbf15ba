"""Cells as a sheet holds them, for tests: a 1-D object array of ``str``/None (or anything else).

``np.array(list_of_str)`` would make a fixed-width str array, and
``np.array`` of equal-length sequences a 2-D one; the sheet's columns are
object arrays of whatever was typed, which this builds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def obj(values: Iterable) -> np.ndarray:
    """``values`` as a 1-D object array, each item as it is."""
    values = list(values)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr
