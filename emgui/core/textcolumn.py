"""A column of text cells kept packed, as Arrow lays it out, until it is edited.

A million names held as Python ``str`` objects take ~70 MB (one object of
~60 bytes per cell, plus the pointer); the same text packed as one UTF-8
buffer with offsets takes ~15 MB.  :class:`TextColumn` is that packed form
for the columns a sheet only shows (names, notes): a cell is decoded when
the table asks for it, a block of rows when a command copies it, and the
sheet turns the whole column into an ordinary object array
(:meth:`TextColumn.to_cells`) the first time a cell of it is changed or its
rows move.  Label and feature columns are never packed: the fit reads them
whole.

Reading a cell needs no pyarrow (memoryviews over Arrow's buffers); taking
rows and unpacking import it, which is already loaded whenever a column was
packed (the CSV reader made the array).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TextColumn", "copy_cells", "shared_cells"]

# A column whose first cells repeat this much is unpacked through a
# dictionary: one Python str per distinct value instead of one per cell.
DEDUP_SAMPLE = 4096
DEDUP_SHARE = 0.25
#: Cells made per step when unpacking through the dictionary (~3-5 ms each).
TAKE_BLOCK = 1 << 18
#: From this many cells an object array's pages are mapped before numpy
#: fills it (see :func:`_object_cells`).
PREFAULT_CELLS = 1 << 20


def shared_cells(array) -> np.ndarray:
    """An Arrow string array as an object array of ``str``/None (``(n,)``).

    When its first cells repeat (a gender or height column) the values go
    through a dictionary, so equal cells share one ``str``: ~50 MB less per
    million rows, and faster.
    """
    import pyarrow.compute as pc

    from . import _arrowtext as at

    head = array.slice(0, DEDUP_SAMPLE)
    if len(head) and pc.count_distinct(head).as_py() <= DEDUP_SHARE * len(head):
        # Nulls encoded as an entry of their own (None in the words): indices
        # without nulls, copied out of Arrow without a masked fill.
        encoded = pc.dictionary_encode(array, null_encoding="encode")
        words = at.to_cells(encoded.dictionary)
        width = encoded.indices.type.bit_width
        codes = at.to_numbers(encoded.indices, f"int{width}")
        # In blocks: taking objects holds the interpreter lock, and a window
        # reading a file in the background needs it back every few ms (five
        # million cells in one take held it 90-130 ms, issue 14 item 3).
        cells = _object_cells(len(codes))
        for start in range(0, len(codes), TAKE_BLOCK):
            np.take(words, codes[start : start + TAKE_BLOCK], out=cells[start : start + TAKE_BLOCK])
        return cells
    return at.to_cells(array)


def _object_cells(n: int) -> np.ndarray:
    """``np.empty(n, dtype=object)`` whose pages are already mapped.

    numpy fills a new object array with None holding the interpreter lock,
    and on a machine that backs fresh memory lazily (this project's virtual
    machine: ~10 us a page the first time) that fill of five million cells
    held it 85-130 ms, a pause of a window reading in the background
    (issue 14 item 3, open of 5M rows, target 50 ms).  An integer array of
    the same size filled first (numpy fills it without the lock) and freed
    leaves those pages to the object array: the fill then held it ~10 ms
    (``benchmarks/bench_window.py --rows 5000000``).  A small column needs
    no such step.
    """
    if n >= PREFAULT_CELLS:
        np.ones(n, dtype=np.intp)  # freed at once: its pages go to the array below
    return np.empty(n, dtype=object)


def copy_cells(cells: np.ndarray) -> np.ndarray:
    """A copy of an object array ``(n,)``, made a block at a time into pages mapped first.

    ``np.array(cells)`` of five million cells held the interpreter lock
    ~110 ms in a fit thread (a new 40 MB array filled with the lock held),
    a pause of the window during a refit (issue 14 item 3, every pause
    <= 50 ms); this way each step holds it a few ms.
    """
    out = _object_cells(len(cells))
    for start in range(0, len(cells), TAKE_BLOCK):
        out[start : start + TAKE_BLOCK] = cells[start : start + TAKE_BLOCK]
    return out


class TextColumn:
    """Read-only text cells of one column in Arrow's layout (see the module docstring).

    Parameters
    ----------
    array : pyarrow.StringArray or LargeStringArray (or a ChunkedArray of one)
        The cells; null (or an empty string) is a blank cell.
    """

    __slots__ = ("_array", "_offsets", "_data", "_valid", "_first_bit", "_n")

    def __init__(self, array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        from . import _arrowtext as at

        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            raise TypeError(f"a TextColumn holds strings, not {array.type}")
        lengths = pc.binary_length(array)
        empty = at.to_numbers(lengths, f"int{lengths.type.bit_width}", null=-1) == 0
        if empty.any():  # a blank cell is None, never ""
            array = at.with_nulls(array, empty)
        self._array = array
        self._n = len(array)
        validity, offsets, data = array.buffers()
        kind, size = ("q", 8) if pa.types.is_large_string(array.type) else ("i", 4)
        raw = memoryview(offsets)
        raw = raw[: len(raw) // size * size]  # cast() wants whole items
        self._offsets = raw.cast(kind)[array.offset : array.offset + self._n + 1] if self._n else None
        self._data = memoryview(data) if data is not None else memoryview(b"")
        self._valid = memoryview(validity) if array.null_count else None
        self._first_bit = array.offset

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes of the packed buffers."""
        return int(self._array.nbytes)

    def get(self, row: int) -> str | None:
        """One cell, ``str`` or None; ``row`` in ``[0, len)``."""
        if self._valid is not None:
            bit = row + self._first_bit
            if not (self._valid[bit >> 3] >> (bit & 7)) & 1:
                return None
        off = self._offsets
        return str(self._data[off[row] : off[row + 1]], "utf-8")

    def take(self, rows) -> np.ndarray:
        """The cells of ``rows`` (ints in ``[0, len)``) as an object array ``(r,)``."""
        from . import _arrowtext as at

        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not len(idx):
            return np.empty(0, dtype=object)
        if len(idx) and (idx.min() < 0 or idx.max() >= self._n):
            raise IndexError("row out of range")
        return at.to_cells(self._array.take(at.from_ints(idx)))

    def to_arrow(self):
        """The cells as the Arrow string array they are kept in (shared, read-only)."""
        return self._array

    def to_cells(self) -> np.ndarray:
        """Every cell as an object array ``(n,)`` of ``str``/None (equal cells shared when they repeat)."""
        return shared_cells(self._array)
