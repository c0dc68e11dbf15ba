"""Arrow arrays to and from numpy arrays, built from their buffers.

pyarrow imports pandas -- half a second -- the first time ``pa.array``,
``pa.scalar`` or ``Array.to_numpy`` runs (and a compute function given a
Python scalar calls ``pa.scalar``).  The core never needs pandas for cells
of text, so it moves data across with these helpers instead: the command
line and the window's start-up do not pay for pandas.
``tests/core/test_fast_paths.py`` checks the results against ``pa.array`` /
``to_numpy`` and that a whole ``emgui-cli fill`` leaves pandas unimported.

Arrays here are plain (one chunk); a ``ChunkedArray`` is combined first.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = [
    "from_bools",
    "from_cells",
    "bools_as_text",
    "from_padded",
    "from_ints",
    "repeat",
    "to_bools",
    "to_cells",
    "to_numbers",
    "with_nulls",
]


#: Cells made into ``str`` per step by :func:`to_cells` (a few ms each).
_CELLS_BLOCK = 1 << 16


def _plain(arr):
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def from_cells(cells: np.ndarray) -> pa.Array:
    """An object array of ``str``/None as an Arrow string array (None -> null).

    Parameters
    ----------
    cells : ndarray, (n,) object
        Items ``str`` or None (anything else raises TypeError).

    Returns
    -------
    pyarrow.StringArray or pyarrow.LargeStringArray
        ``(n,)``; large when the text exceeds 2 GiB.
    """
    n = len(cells)
    from .parsing import _factorize_identity  # numpy only: no import cycle

    few = _factorize_identity(cells) if n > 64 else None
    if few is not None:
        # A column of a few shared objects (labels, "true"/"false"): convert
        # those, then let Arrow repeat them.
        codes, uniques = few
        valid = codes >= 0
        indices = from_ints(np.where(valid, codes, 0), valid=None if valid.all() else valid)
        return from_cells(uniques).take(indices)
    # Joined with NULs, whose byte positions are the cell boundaries: one C
    # pass instead of len() per cell (about twice as fast at 1M cells).
    # join itself tells whether there is a None (TypeError): most often not.
    try:
        data = "\x00".join(cells)
        present = None
    except TypeError:
        from .parsing import _is_none

        present = ~_is_none(cells)
        data = "\x00".join(cells[present])  # still TypeError on anything but str
    texts = cells if present is None else cells[present]
    m = len(texts)
    data = data.encode("utf-8")
    bounds = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
    if len(bounds) == max(m - 1, 0):
        starts = bounds - np.arange(len(bounds)) if len(bounds) else bounds
        data = data.replace(b"\x00", b"")
        lengths = np.diff(np.concatenate([[0], starts, [len(data)]])) if m else np.zeros(0)
    else:  # a cell holds NUL itself
        data = "".join(texts).encode("utf-8")
        lengths = np.fromiter(map(len, map(str.encode, texts)), dtype=np.int64, count=m)
    large = len(data) >= 2**31 - 1
    offsets = np.zeros(n + 1, dtype=np.int64 if large else np.int32)
    if present is None:
        np.cumsum(lengths, out=offsets[1:])
    else:
        full = np.zeros(n, dtype=np.int64)
        full[present] = lengths
        np.cumsum(full, out=offsets[1:])
    null_count = n - m
    validity = pa.py_buffer(np.packbits(present, bitorder="little")) if null_count else None
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), validity, null_count)


def with_nulls(arr, mask: np.ndarray):
    """A string array with the cells where ``mask`` is True made null (the text is not copied).

    Parameters
    ----------
    arr : pyarrow.StringArray or LargeStringArray, (n,)
    mask : ndarray of bool, (n,)
    """
    arr = _plain(arr)
    n, offset = len(arr), arr.offset
    valid = ~np.asarray(mask, dtype=bool)
    old = _valid(arr)
    if old is not None:
        valid &= old
    bits = np.ones(offset + n, dtype=bool)  # the bitmap counts from the buffers' start
    bits[offset:] = valid
    buffers = arr.buffers()
    return type(arr).from_buffers(
        n,
        buffers[1],
        buffers[2],
        pa.py_buffer(np.packbits(bits, bitorder="little")),
        int(n - valid.sum()),
        offset,
    )


def repeat(text: str, n: int) -> pa.StringArray:
    """An Arrow string array of ``n`` times ``text`` (a separator for element-wise joins)."""
    data = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    kind = pa.LargeStringArray if n * len(data) >= 2**31 - 1 else pa.StringArray
    if kind is pa.StringArray:
        offsets = offsets.astype(np.int32)
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def bools_as_text(mask: np.ndarray):
    """An Arrow string array ``(n,)`` of ``"true"``/``"false"``, taken from those two words (no str per row).

    Arrow's ``take`` with the mask's bytes as indices, in the system
    allocator: Arrow's own cast does the same but keeps ~4x the result's
    size in its default allocator afterwards.
    """
    import pyarrow.compute as pc

    mask = np.ascontiguousarray(mask, dtype=bool)
    words = from_cells(np.array(["false", "true"], dtype=object))
    indices = pa.Int8Array.from_buffers(pa.int8(), len(mask), [None, pa.py_buffer(mask.view(np.int8))])
    return pc.take(words, indices, memory_pool=pa.system_memory_pool())


def from_padded(rows: np.ndarray, lengths: np.ndarray, full_lengths: np.ndarray, valid: np.ndarray | None = None):
    """An Arrow string array from UTF-8 text padded into the rows of a uint8 matrix.

    Parameters
    ----------
    rows : ndarray, (m, w) uint8
        Row ``i`` holds a text in its first ``lengths[i]`` bytes.
    lengths : ndarray, (m,)
    full_lengths : ndarray, (n,)
        The length of every cell of the result: the texts of ``rows`` in
        order where ``valid`` is True, 0 elsewhere (``n == m`` without it).
    valid : ndarray of bool, (n,), optional
        Cells that are not null.
    """
    rows = np.asarray(rows, dtype=np.uint8)
    lengths = np.asarray(lengths)
    keep = np.arange(rows.shape[1] if rows.ndim == 2 else 0, dtype=lengths.dtype) < lengths[:, None]
    data = rows[keep]  # row by row, in order: the texts back to back
    n = len(full_lengths)
    large = int(lengths.sum(dtype=np.int64)) >= 2**31 - 1
    offsets = np.zeros(n + 1, dtype=np.int64 if large else np.int32)
    np.cumsum(full_lengths, out=offsets[1:])
    kind = pa.LargeStringArray if large else pa.StringArray
    # py_buffer shares the numpy arrays' memory (no copy); the array keeps them alive.
    if valid is None:
        return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    valid = np.asarray(valid, dtype=bool)
    bits = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), bits, int(n - valid.sum()))


def from_bools(mask: np.ndarray) -> pa.BooleanArray:
    """A numpy bool array ``(n,)`` as an Arrow boolean array."""
    mask = np.asarray(mask, dtype=bool)
    bits = pa.py_buffer(np.packbits(mask, bitorder="little"))
    return pa.BooleanArray.from_buffers(pa.bool_(), len(mask), [None, bits])


def from_ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Int64Array:
    """A numpy integer array ``(n,)`` as an Arrow int64 array; null where ``valid`` is False."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    bits = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else int(len(values) - np.count_nonzero(valid))
    return pa.Int64Array.from_buffers(pa.int64(), len(values), [bits, pa.py_buffer(values)], nulls)


def _bits(buf, offset: int, n: int) -> np.ndarray:
    raw = np.frombuffer(buf, dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little", count=offset + n)[offset:].astype(bool)


def _valid(arr) -> np.ndarray | None:
    if not arr.null_count:
        return None
    return _bits(arr.buffers()[0], arr.offset, len(arr))


def to_cells(arr) -> np.ndarray:
    """An Arrow string array as an object array ``(n,)`` of ``str``/None."""
    arr = _plain(arr)
    out = np.empty(len(arr), dtype=object)
    # A block at a time: making the strings holds the interpreter lock, which
    # a window reading in the background must get back every few ms; and
    # the list of a block, not of the whole column, is alive at once.
    for start in range(0, len(arr), _CELLS_BLOCK):
        out[start : start + _CELLS_BLOCK] = arr.slice(start, _CELLS_BLOCK).to_pylist()
    return out


def to_bools(arr, null: bool = False) -> np.ndarray:
    """An Arrow boolean array as a numpy bool array ``(n,)``; nulls read as ``null``."""
    arr = _plain(arr)
    if not len(arr):
        return np.zeros(0, dtype=bool)
    out = _bits(arr.buffers()[1], arr.offset, len(arr))
    valid = _valid(arr)
    if valid is not None:
        out[~valid] = null
    return out


def to_numbers(arr, dtype, null=None) -> np.ndarray:
    """An Arrow numeric array as a numpy array ``(n,)`` of ``dtype`` (a copy).

    ``dtype`` must be the array's own type (int32 for int32...).  Nulls
    become ``null``, which is required when the array has any.
    """
    arr = _plain(arr)
    dtype = np.dtype(dtype)
    if not len(arr):
        return np.zeros(0, dtype=dtype)
    out = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))[arr.offset :]
    out = out.copy()
    valid = _valid(arr)
    if valid is not None:
        if null is None:
            raise ValueError("the array has nulls: say what they become")
        out[~valid] = null
    return out
