"""A fill prepared off the GUI thread (Sheet.prepare_fill) leaves exactly what a fill in place leaves.

The window writes a fill's marks into copies of the sheet's per-row arrays
in the fit's thread and works out the texts to write there; the GUI thread
swaps the arrays in and writes the texts (a pointer a cell) and a
refit's confidences (the plan's, into the sheet's array).  These tests
hold the sheet's arrays read-only while the fill is prepared (it writes
nothing) and its mark arrays while it is swapped in (no mark is written
row by row).  Then the two sheets are compared field by field, through
refits, uncertain rows, markers such as "?", three classes, and undo.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgui.core import sheet as sheet_module
from emgui.core.sheet import FILLED, UNCERTAIN, USER, CellsChanged, Sheet

CLASSES = {2: (["female", "male"], {"female": "F", "male": "M"}),
           3: (["female", "male", "other"], {"female": "F", "male": "M", "other": "X"})}


def _sheet(cells):
    labels = np.empty(len(cells), dtype=object)
    labels[:] = cells
    heights = np.array([f"{160 + i % 30}" for i in range(len(cells))], dtype=object)
    return Sheet(["gender", "height"], [labels, heights])


def _row_arrays(s):
    out = [s._cells[s.roles.label], s.provenance, s.confidence, s.guess, s._label_missing]
    return out + [a for a in (s._lazy["_before_fill"], s._post) if a is not None]


def _frozen(s, on=True, marks_only=False):
    """Make the sheet's per-row arrays (or only the marks swapped in) read-only: a write into any of them raises.

    The marks swapped in are the provenance, the best class and the blank
    flags; a refit's confidences are written into the sheet's own array
    when the fill is swapped in, the plan's values (no copy of them is
    prepared), a first fill's are a copy swapped in.
    """
    arrays = _row_arrays(s)
    for a in [arrays[i] for i in (1, 3, 4)] if marks_only else arrays:
        a.flags.writeable = not on


def _state(s):
    label = s.roles.label
    rows = np.arange(s.n_rows)
    return (
        [s.text(i, label) for i in rows], s.provenance.tolist(), s.confidence.tolist(), s.guess.tolist(),
        s.label_missing().tolist(),
        [None] * s.n_rows if s._lazy["_before_fill"] is None else s._lazy["_before_fill"].tolist(),
        s._before_fill_any, None if s._post is None else s._post.tolist(), s.probabilities(rows).tolist(),
        s.fill_classes, s.fill_spellings, s.counts(), s.marker_texts().tolist(),
    )


#: The fields of _state a user sees: texts, marks, blank flags, text before the fill, counts, markers.
CELLS_AND_MARKS = (0, 1, 2, 3, 4, 5, 11, 12)


def _same(a, b) -> bool:
    # NaN == NaN here: the lists are compared through their repr.
    return repr(a) == repr(b)


def _fill_args(rng, s, k):
    """A fill as a fit plans one: the blank labels and the rows filled before, some left uncertain."""
    rows = np.flatnonzero(s.label_missing() | (s.provenance != USER))
    rows = rows[rng.random(len(rows)) < 0.8]  # some rows of an earlier fill are not covered now (stale)
    status = np.where(rng.random(len(rows)) < 0.7, FILLED, UNCERTAIN).astype(np.int8)
    post = rng.dirichlet(np.ones(k), len(rows))
    guess = post.argmax(axis=1)
    return rows, status, post.max(axis=1), guess, post, *CLASSES[k]


@settings(max_examples=40, deadline=None)
@given(
    cells=st.lists(st.sampled_from(["F", "M", None, "?", "N/A", ""]), min_size=1, max_size=40),
    ks=st.lists(st.sampled_from([2, 3]), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_a_prepared_fill_leaves_what_a_fill_in_place_leaves(cells, ks, seed):
    rng = np.random.default_rng(seed)
    in_place, swapped = _sheet(cells), _sheet(cells)
    seen = {id(s): [] for s in (in_place, swapped)}
    for s in (in_place, swapped):
        s.subscribe(seen[id(s)].append)
    for k in ks:
        args = _fill_args(rng, in_place, k)
        undo_reference = in_place.capture(in_place.filled_rows(), [0])
        before = _state(in_place)
        in_place.apply_fill(*args)
        _frozen(swapped)
        prepared = swapped.prepare_fill(*args, version=swapped.version)
        assert _same(_state(swapped), before)  # preparing changed nothing
        _frozen(swapped, on=False)
        _frozen(swapped, marks_only=True)
        assert swapped.apply_prepared(prepared, args[5], args[6])  # the marks swapped: none written in place
        _frozen(swapped, on=False)
        assert _same(_state(swapped), _state(in_place))
        assert seen[id(swapped)] == seen[id(in_place)]  # the same CellsChanged
        assert _same(prepared.undo, undo_reference)
        # Undo as FillCommand does it: clear this fill's rows, then restore the record and the classes.
        for s, patch in ((in_place, undo_reference), (swapped, prepared.undo)):
            s.clear_filled(args[0])
            s.fill_classes, s.fill_spellings = list(before[9]), dict(before[10])
            s.restore(patch)
        assert _same(_state(swapped), _state(in_place))
        # The cells and marks are back (a (n, K) array of NaN may stay, as before this change).
        assert _same([_state(swapped)[i] for i in CELLS_AND_MARKS], [before[i] for i in CELLS_AND_MARKS])
        for s in (in_place, swapped):  # redo, as the command's later redos do: in place
            s.apply_fill(*args)
        assert _same(_state(swapped), _state(in_place))


def test_a_prepared_fill_is_discarded_when_the_sheet_changed_and_used_once():
    s = _sheet(["F", None, "?", None, "M", None])
    args = _fill_args(np.random.default_rng(0), s, 2)
    prepared = s.prepare_fill(*args, version=s.version)
    assert s.prepare_fill(*args, version=s.version - 1) is None  # already stale when asked
    s.set_cell(1, 1, "175")  # an edit after the copies were made
    before = _state(s)
    assert not prepared.fits(s) and not s.apply_prepared(prepared, args[5], args[6])
    assert _same(_state(s), before)
    prepared = s.prepare_fill(*args, version=s.version)
    assert s.apply_prepared(prepared, args[5], args[6])
    assert not prepared.fits(s)  # the sheet moved on (and the arrays are the sheet's now)
    with pytest.raises(sheet_module.SheetError):
        prepared.take()


def test_object_arrays_are_read_and_written_in_steps(monkeypatch):
    """Off the GUI thread, no single step over a large object array holds the interpreter lock long."""
    monkeypatch.setattr(sheet_module, "_STEP", 7)
    cells = [None if i % 3 else ("?" if i % 2 else "F") for i in range(100)]
    in_place, swapped = _sheet(cells), _sheet(cells)
    args = _fill_args(np.random.default_rng(1), in_place, 2)
    in_place.apply_fill(*args)
    assert swapped.apply_prepared(swapped.prepare_fill(*args, version=swapped.version), args[5], args[6])
    assert _same(_state(swapped), _state(in_place))


def test_swapping_a_large_fill_in_writes_only_the_filled_cells():
    """A million rows: the GUI thread's part (apply_prepared) swaps the marks in, writes the texts only."""
    n = 1_000_000
    labels = np.full(n, None, dtype=object)
    labels[::3] = "F"
    s = Sheet(["gender", "height"], [labels, np.full(n, "170", dtype=object)])
    rows = np.flatnonzero(s.label_missing())
    status = np.full(len(rows), FILLED, np.int8)
    args = (rows, status, np.full(len(rows), 0.9), np.arange(len(rows)) % 2, None, *CLASSES[2])
    prepared = s.prepare_fill(*args, version=s.version)
    before = labels.copy()
    _frozen(s, marks_only=True)  # a write into a mark array raises
    s.confidence.flags.writeable = False  # a first fill's confidences are a copy swapped in too
    events = []
    s.subscribe(events.append)
    assert s.apply_prepared(prepared, args[5], args[6])
    assert events == [CellsChanged(int(rows[0]), 0, int(rows[-1]), 0)]
    assert s.column_cells(0) is labels  # the column itself: no copy of it was made
    changed = np.flatnonzero(labels != before)
    assert np.array_equal(changed, rows)  # exactly the filled cells
    assert s.counts()["filled"] == len(rows) and s.text(1, 0) == "F" and s.text(2, 0) == "M"


def test_a_prepared_refit_keeps_only_the_texts_that_change():
    """A refit's cells that say the new class already are not written again (nor kept meanwhile)."""
    n = 10_000
    labels = np.full(n, None, dtype=object)
    labels[::3] = "F"
    in_place, swapped = _sheet(list(labels)), _sheet(list(labels))
    rows = np.flatnonzero(in_place.label_missing())
    status = np.full(len(rows), FILLED, np.int8)
    guess = np.arange(len(rows)) % 2
    first = (rows, status, np.full(len(rows), 0.9), guess, None, *CLASSES[2])
    for s in (in_place, swapped):
        s.apply_fill(*first)
    again = guess.copy()
    again[:100] = 1 - again[:100]  # 100 rows change class
    status[100:150] = UNCERTAIN  # 50 stay as filled but are now uncertain: their text is dropped
    refit = (rows, status, np.full(len(rows), 0.8), again, None, *CLASSES[2])
    prepared = swapped.prepare_fill(*refit, version=swapped.version)
    kept = sum(len(idx) for name, idx, _ in prepared._state.deferred if name == "cells")
    assert kept == 100 + 50  # the changed texts, and the uncertain rows' blanks
    in_place.apply_fill(*refit)
    assert swapped.apply_prepared(prepared, refit[5], refit[6])
    assert _same(_state(swapped), _state(in_place))
