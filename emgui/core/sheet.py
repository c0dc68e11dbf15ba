"""The document: raw cells as typed, column roles, parsed numbers and label marks.

A :class:`Sheet` owns every cell of a table exactly as it was loaded or typed
(a ``str`` or ``None``), in column and row order.  A column that is neither
the label nor a feature and came from Arrow's CSV reader stays packed
(:class:`~emgui.core.textcolumn.TextColumn`: ~15 MB instead of ~70 MB for a
million names) until one of its cells is changed or rows are inserted or
removed; then it becomes an ordinary object array.  Features stay packed
too (their numbers are parsed straight from the packed text); the label
column never is (fills write into it).  On top of that it keeps

* the column roles: which column is the label and which are features, and
  for each feature whether it holds heights (and in which unit);
* for each feature column the parsed numbers and, for cells that could not be
  read, the reason (the raw text is never touched);
* for each row the label's provenance: typed by the user (or blank),
  ``FILLED`` by EM, or ``UNCERTAIN`` (left blank because the fit was not sure
  enough), with the confidence and the per-class probabilities.

Every change bumps :attr:`Sheet.version` and is announced to subscribers as a
small event, so a table model can emit exact ``dataChanged`` ranges and a
running fit can tell that its data went stale.  Undo is built from
:meth:`Sheet.capture` / :meth:`Sheet.restore` (cells and marks of a block) and
:meth:`Sheet.remove_rows` / :meth:`Sheet.restore_rows`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import _parallel, parsing
from .textcolumn import TextColumn

__all__ = [
    "USER",
    "FILLED",
    "UNCERTAIN",
    "Roles",
    "Sheet",
    "SheetError",
    "CellsChanged",
    "RowsInserted",
    "RowsRemoved",
    "SheetReset",
    "Patch",
    "RemovedRows",
    "PreparedFill",
    "detect_label",
    "detect_roles",
    "height_unit",
    "mark_cells",
    "FillNotes",
    "UNUSUAL_PREFIX",
    "no_measurement",
]

#: Per-row object arrays of a sheet that are all None until a fill needs them
#: (text a fill replaced; marks of filled numbers): five million rows would
#: hold 80 MB of None pointers, and making them held the interpreter lock
#: ~25 ms each while a file was read in the background.
_LAZY_ROW_ARRAYS = ("_before_fill", "_number_marks")

#: Label provenance codes (``Sheet.provenance``): typed (or blank), filled by EM,
#: left blank because the best guess was below the confidence threshold.
USER, FILLED, UNCERTAIN = 0, 1, 2

_LABEL_NAME = re.compile(
    r"^\s*(gender|sex|geschlecht|genre|sexe|sexo|género|genero|gesl?acht|kön|label|class)\b",
    re.IGNORECASE,
)
_MARK_SUFFIXES = ("_imputed", "_confidence")
#: Columns the program adds to its output besides the marks (read back, they are its own).
_NOTE_SUFFIX, _ISSUE_SUFFIX = "_note", "_issue"
_WAS = re.compile(r"(?:^|; )was '(.*)'$")
_BEST_GUESS = re.compile(r"uncertain: best guess (.*) \(\d+ %\)")
#: The columns a saved sheet holds for each feature with filled numbers.
_NUMBER_SUFFIXES = ("_imputed", "_low", "_high")
#: The reason of a feature cell that is readable but unusual under the last fit.
UNUSUAL_PREFIX = "unusual: "


@dataclass(frozen=True)
class FillNotes:
    """What the last fill found beyond each cell's marks, to explain blanks in words.

    Attributes
    ----------
    unnamed : dict
        Class index (into ``Sheet.fill_classes``) -> description of a group
        no typed label names ("a group of 48 rows around height 172").
    absent : dict
        Label spelling -> why that typed class took no part in the fit.
    """

    unnamed: dict[int, str] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)


class SheetError(ValueError):
    """A request the sheet cannot honour (unknown column, bad role)."""


@dataclass(frozen=True)
class Roles:
    """Which column is the label and which are features.

    Parameters
    ----------
    label : int or None
        Index of the label column, or None when the sheet has none.
    features : tuple of int
        Indices of the numeric feature columns, in fit order.
    units : dict
        For each feature index, the height unit (``"cm"``, ``"in"``, ``"m"``),
        or None for a plain number column (no units, no range).
    """

    label: int | None = None
    features: tuple[int, ...] = ()
    units: dict[int, str | None] = field(default_factory=dict)


# -- events -----------------------------------------------------------------


@dataclass(frozen=True)
class CellsChanged:
    """Cells in rows ``[top, bottom]`` and columns ``[left, right]`` changed (inclusive)."""

    top: int
    left: int
    bottom: int
    right: int


@dataclass(frozen=True)
class RowsInserted:
    """``count`` rows were inserted before row ``first``."""

    first: int
    count: int


@dataclass(frozen=True)
class RowsRemoved:
    """The rows ``[first, first + count)`` were removed."""

    first: int
    count: int


@dataclass(frozen=True)
class SheetReset:
    """Columns, roles or everything changed; listeners should re-read the sheet."""


@dataclass(frozen=True)
class Patch:
    """Cells and label marks of a block, to put back with :meth:`Sheet.restore`."""

    rows: np.ndarray  # (r,) int row indices
    cols: tuple[int, ...]
    cells: tuple[np.ndarray, ...]  # per column, (r,) object
    provenance: np.ndarray  # (r,) int8
    confidence: np.ndarray  # (r,) float64
    guess: np.ndarray  # (r,) int
    posteriors: np.ndarray | None  # (r, K) stored posteriors (more than two classes), or None
    # (r,) object: label text a fill replaced; NO_TEXT_BEFORE_FILL: none in
    # any of the rows (put back as such); None: left as it is.
    before_fill: np.ndarray | None = None
    # Filled numbers of the rows: their marks (r,) object and the cells of
    # the feature columns they are in, {column: (r,) object}; None: no mark.
    number_marks: np.ndarray | None = None
    number_cells: dict | None = None


#: :attr:`Patch.before_fill` of rows that held no text before a fill: restored as None.
NO_TEXT_BEFORE_FILL = np.empty(0, dtype=object)


@dataclass(frozen=True)
class RemovedRows:
    """Rows taken out by :meth:`Sheet.remove_rows`, to put back with :meth:`Sheet.restore_rows`."""

    rows: np.ndarray  # (r,) sorted original indices
    cells: tuple[np.ndarray, ...]  # per column, (r,) object
    state: dict  # per-row arrays (marks) of those rows, by attribute name


#: Rows per step when a fill's object arrays are read or written off the
#: GUI thread: a step holds the interpreter lock ~2-5 ms, so the GUI thread
#: gets its turn between steps.
_STEP = 1 << 18


@dataclass
class _FillState:
    """The per-row arrays a fill writes (see :meth:`Sheet.apply_fill`): the sheet's own, or copies of the marks'."""

    cells: np.ndarray  # the label column, (n,) object
    provenance: np.ndarray
    confidence: np.ndarray  # a prepared refit's writes into it wait in ``deferred`` too
    guess: np.ndarray
    post: np.ndarray | None
    label_missing: np.ndarray
    before_fill: np.ndarray | None  # None: not made yet (all None)
    before_fill_any: bool
    # A prepared fill's writes into the object arrays (cells, before_fill)
    # and a refit's into the confidences, as (name, rows, values): made when
    # it is swapped in.  None: written at once (a fill in place).
    deferred: list | None = None
    # The arrays of a prepared fill that are copies, written at once.
    copied: frozenset = frozenset()

    def put(self, name: str, idx: np.ndarray, values) -> None:
        """``self.<name>[idx] = values``, now or (a prepared fill) when swapped in."""
        if self.deferred is None or name in self.copied:
            _scatter(getattr(self, name), idx, values)
        elif len(idx):
            self.deferred.append((name, idx, values))

    def write_deferred(self) -> None:
        for name, idx, values in self.deferred or ():
            _scatter(getattr(self, name), idx, values)
        self.deferred = None


class PreparedFill:
    """A fill's mark arrays and texts made off the GUI thread by :meth:`Sheet.prepare_fill`, to swap in.

    ``undo`` is the sheet's :meth:`~Sheet.capture` of the rows an earlier
    fill marked (the undo record of a refit), taken at the same version.
    Used once: :meth:`take` hands the arrays over and forgets them.
    """

    def __init__(self, version: int, label: int, n_rows: int, state: _FillState,
                 touched: tuple[int, int] | None, undo: Patch) -> None:
        self.version, self.label, self.n_rows = version, label, n_rows
        self._state: _FillState | None = state
        self.touched, self.undo = touched, undo

    def fits(self, sheet: Sheet) -> bool:
        """Whether ``sheet`` is still exactly as these arrays were made from (and they are unused)."""
        return (
            self._state is not None and sheet.version == self.version
            and sheet.n_rows == self.n_rows and sheet.roles.label == self.label
        )

    def take(self) -> _FillState:
        state, self._state = self._state, None
        if state is None:
            raise SheetError("this prepared fill was used already")
        return state


def _write_fill(s: _FillState, rows, status, confidence, guess, posteriors, classes, spellings):
    """Write a fill into the arrays of ``s`` (in place); returns the rows touched as (top, bottom), or None.

    A ``FILLED`` row gets its best class written as the column spells it;
    an ``UNCERTAIN`` row keeps its cell and only gets the marks.  Marks of an
    earlier fill on rows this fill does not cover are dropped, and so is the
    text of a row filled before that this fill leaves blank as uncertain:
    both go back to what they held before (see :meth:`Sheet.apply_fill`).
    """
    rows = np.asarray(rows)
    if rows.dtype.kind not in "iu":  # a list (an empty one reads as float)
        rows = rows.astype(np.int64)
    # Else the plan's own (int32 below 2**31 rows), not an int64 copy: a
    # prepared fill's deferred writes keep slices of it until swapped in
    # (five million rows: 12 MB less at the refit's peak, issue 14 item 3).
    guess = np.asarray(guess)
    status = np.asarray(status)
    col = s.cells
    marked = s.provenance != USER
    had_marks = bool(marked.any())
    stale = np.zeros(0, dtype=np.int64)
    if had_marks:
        # Masks rather than setdiff1d/union1d (those sort).
        marked[rows] = False
        marked[rows[(status == UNCERTAIN) & (s.provenance[rows] == FILLED)]] = True
        stale = np.flatnonzero(marked)
        if len(stale):
            was_filled = s.provenance[stale] == FILLED
            filled = stale[was_filled]
            now = _gather(col, stale)  # what the stale rows hold once this is written
            if s.before_fill_any:
                before = _gather(s.before_fill, filled)
                s.put("cells", filled, before)
                s.put("before_fill", filled, None)
                now[was_filled] = before
            else:
                s.put("cells", filled, None)  # nothing was held before: blank again
                now[was_filled] = None
            s.provenance[stale] = USER
            s.put("confidence", stale, np.nan)
            s.guess[stale] = -1
            if s.post is not None:
                s.post[stale] = np.nan
            s.label_missing[stale] = _missing_mask(now)
    k = len(classes)
    if k <= 2:
        # With one or two classes the best class and its probability say
        # it all (the other is 1 - p): no (n, K) array to keep, which at a
        # million rows is 16 MB and ~20 ms of fresh pages for each fill.
        s.post = None
    elif s.post is None or s.post.shape[1] != k:
        s.post = np.full((len(s.provenance), k), np.nan)
    if len(rows):
        names = _obj([spellings.get(c, c) for c in classes])
        filled = status == FILLED
        every = bool(filled.all())  # the usual case: no fancy indexing to redo
        write = rows if every else rows[filled]
        written = guess if every else guess[filled]
        # What a cell held before its first fill comes back on undo or
        # "clear filled"; a row filled again keeps its first "before".
        # Rows not filled hold None there, so only texts need writing.
        fresh = write[s.provenance[write] != FILLED] if had_marks else write
        held = []  # (rows, texts) of the fresh rows that hold a text, looked at in steps
        for at in range(0, len(fresh), _STEP):
            part = fresh[at : at + _STEP]
            old = col[part]
            kept = _not_none(old)
            if kept.any():
                held.append((part[kept], old[kept]))
        if held:
            if s.before_fill is None:
                s.before_fill = np.full(len(s.provenance), None, dtype=object)
            for part, texts in held:
                s.put("before_fill", part, texts)
            s.before_fill_any = True
        if s.deferred is None:
            _scatter(col, write, names, written)
        else:  # the texts in steps (no one large object array made at once), written when swapped in
            for at in range(0, len(write), _STEP):
                part, texts = write[at : at + _STEP], names[written[at : at + _STEP]]
                if had_marks:
                    # A refit: a row filled before with the same class says so
                    # already; only the cells whose text changes wait to be
                    # written (five million rows: the deferred texts were
                    # 12 MB at the refit's peak, issue 14 item 3).
                    change = texts != col[part]
                    if not change.all():
                        part, texts = part[change], texts[change]
                s.put("cells", part, texts)
        # Whether each spelling names a class, worked out once per class
        # instead of once per row.
        s.label_missing[write] = _missing_mask(names)[written]
        s.provenance[rows] = status
        s.put("confidence", rows, np.asarray(confidence, dtype=np.float64))
        s.guess[rows] = guess
        if s.post is not None:
            s.post[rows] = posteriors
    touched = np.concatenate([rows, stale]) if len(stale) else rows
    return (int(touched.min()), int(touched.max())) if len(touched) else None


def _gather(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx]``; an object array's in steps of :data:`_STEP` rows."""
    if a.dtype != object or len(idx) <= _STEP:
        return a[idx]
    out = np.empty(len(idx), dtype=object)
    for at in range(0, len(idx), _STEP):
        out[at : at + _STEP] = a[idx[at : at + _STEP]]
    return out


def _scatter(a: np.ndarray, idx: np.ndarray, values, pick: np.ndarray | None = None) -> None:
    """``a[idx] = values`` (``values[pick]`` when given); an object array's in steps of :data:`_STEP` rows."""
    for at in range(0, max(len(idx), 1), _STEP):
        part = slice(at, at + _STEP)
        if pick is not None:
            a[idx[part]] = values[pick[part]]
        elif isinstance(values, np.ndarray):
            a[idx[part]] = values[part]
        else:
            a[idx[part]] = values


def _column(values) -> np.ndarray | TextColumn:
    """A column as the sheet keeps it: an object array, or packed text for an Arrow array."""
    if isinstance(values, TextColumn):
        return values
    if isinstance(values, np.ndarray):
        return values if values.dtype == object else _obj(values)
    if type(values).__module__.startswith("pyarrow"):
        return TextColumn(values)
    return _obj(values)


def _take(col: np.ndarray | TextColumn, idx: np.ndarray) -> np.ndarray:
    """The cells of rows ``idx`` of a column, as a new object array (in steps: see :func:`_gather`)."""
    return col.take(idx) if isinstance(col, TextColumn) else _gather(col, idx)


def _head(col: np.ndarray | TextColumn, n: int) -> np.ndarray:
    """The first ``n`` cells of a column, as an object array."""
    return col.take(np.arange(min(n, len(col)))) if isinstance(col, TextColumn) else col[:n]


def _obj(values: Iterable) -> np.ndarray:
    arr = np.empty(len(values) if hasattr(values, "__len__") else 0, dtype=object)
    if len(arr):
        arr[:] = list(values) if not isinstance(values, np.ndarray) else values
    return arr


#: Rows a detected feature needs: a sheet of n rows gets at most n // 5
#: features by detection (at least one).  A Gaussian's covariance in D
#: features has D(D+3)/2 numbers to estimate per group; without a bound, a
#: 50-row sheet of 20,000 number columns would be fitted on 10,000 features
#: (bench_wide.py: 15.8 s to open instead of 2.1 s) and any sheet with more
#: columns than rows would be fitted on noise.  More can be named with
#: ``--features`` or ticked in Data > Columns.
ROWS_PER_FEATURE = 5


def detect_roles(
    columns: Sequence[str], cells: Sequence[np.ndarray], notes: list[str] | None = None, *, n_rows: int | None = None
) -> Roles:
    """Guess the label and feature columns from names and contents.

    The label is the first column named like gender/sex (or label/class);
    failing that, a column whose entries are mostly female/male spellings.
    Features are the measurements: columns whose entries are mostly numbers,
    with more than two distinct values, no identifier (see
    :func:`no_measurement`), and not one of the program's own columns.
    Columns named like heights come first when there are more measurements
    than the rows support (:data:`ROWS_PER_FEATURE`); the rest in column
    order.  Features are kept in column order.  A height column's unit comes
    from its name, else from the median of up to 20,000 of its non-blank
    cells spread evenly over the rows (see
    :func:`emgui.core.parsing.parse_height_column`); other measurements have
    no unit.

    ``notes``, if given, gets one sentence when measurements were left out
    for the bound, for the person to see.  ``n_rows``: the sheet's rows,
    when ``cells`` are only the start of some columns (the command line
    passes what detection reads).
    """
    cells = [_column(c) for c in cells]
    label = detect_label(columns, cells)
    own = _MARK_SUFFIXES + (_NOTE_SUFFIX, _ISSUE_SUFFIX, "_low", "_high")
    heights = [
        i for i, name in enumerate(columns)
        if i != label and parsing.is_height_column(name or "") and not (name or "").endswith(own)
    ]
    if n_rows is None:
        n_rows = max((len(c) for c in cells), default=0)
    bound = max(1, n_rows // ROWS_PER_FEATURE)
    units: dict[int, str | None] = {}
    for i in heights[:bound]:
        units[i] = parsing.unit_from_name(columns[i]) or height_unit(cells[i])
    # One measurement past the bound is enough to say that some were left
    # out: a sheet of 20,000 columns is not read to the end.
    found = len(heights)
    for i, col in enumerate(cells):
        if found > bound:
            break
        if i == label or i in heights or (columns[i] or "").endswith(own):
            continue
        head = _head(col, 5000)
        if len(col) and parsing.mostly_numbers(head, 0.8) and no_measurement(columns[i], head) is None:
            found += 1
            if len(units) < bound:
                units[i] = None
    if found > bound and notes is not None:
        used = [repr(columns[i]) for i in sorted(units)]
        shown = ", ".join(used[:5]) + (", ..." if len(used) > 5 else "")
        notes.append(
            f"More number columns than {n_rows} rows can fit: {bound} of them "
            f"{'is' if bound == 1 else 'are'} used as features ({shown}); "
            "choose others with --features or in Data > Columns."
        )
    return Roles(label, tuple(sorted(units)), units)


def detect_label(columns: Sequence[str], cells: Sequence[np.ndarray]) -> int | None:
    """The label column :func:`detect_roles` finds, or None; without looking for features.

    The first column named like gender/sex (or label/class); failing that,
    the first whose non-blank cells among its first 2,000 are mostly
    female/male spellings.  The command line asks for this alone when ``--features``
    names the features.
    """
    label = next((i for i, name in enumerate(columns) if _LABEL_NAME.match(name or "")), None)
    if label is None:
        for i, values in enumerate(cells):
            sample = [v for v in _head(_column(values), 2000) if not parsing.is_missing(v)]
            if sample and sum(parsing.label_key(v) in ("female", "male") for v in sample) >= 0.8 * len(
                sample
            ):
                return i
    return label


_ID_NAME = re.compile(r"(^|[^a-z])(id|no|nr|number|num|#)([^a-z]|$)", re.IGNORECASE)


def no_measurement(name: str | None, cells) -> str | None:
    """Why a numeric column is no measurement to fit, or None if it may be one.

    Two or fewer distinct values (0/1, yes/no coded as numbers) carry no
    bell curve; distinct whole numbers that only increase are an identifier
    (a row number, a student id).  The reason is one sentence naming the column.
    """
    # An Arrow string column (the command line's) is read as Arrow text,
    # without a str per cell: a 1M-row column in ~0.02 s instead of ~0.08 s.
    raw = cells if type(cells).__module__.startswith("pyarrow") else np.asarray(cells, dtype=object)
    id_named = _ID_NAME.search(name or "") is not None
    if len(raw) > _HEAD_ROWS and _measurement_from_head(parsing.parse_number_column(raw[:_HEAD_ROWS]).values, id_named):
        return None
    values = parsing.parse_number_column(raw).values
    values = values[np.isfinite(values)]
    label = f"column '{name or ''}'"
    if len(values):
        # At most two distinct values: two comparisons, not a sort of the column.
        other = values[values != values[0]]
        if not len(other) or bool((other == other[0]).all()):
            distinct = np.unique(values)
            shown = ", ".join(f"{v:g}" for v in distinct)
            return f"{label} holds only {len(distinct)} distinct value{'s' if len(distinct) > 1 else ''} ({shown}): it is a code, not a measurement"
    # Distinct whole numbers counting up (a row number, 1, 2, 3...; or ids
    # named so): a sheet merely sorted by a measurement has gaps and ties.
    # Steps all above 0 make the values distinct.
    steps = np.diff(values)
    whole = bool(np.all(values == np.round(values)))
    if (
        whole
        and len(values) >= 5
        and np.all(steps > 0)
        # 1, 2, 3, 4, 5: row numbers even of a short sheet; from 10 values,
        # steps mostly of 1, or any steps in a column named like an id.
        and (np.all(steps == 1) or (len(values) >= 10 and (np.median(steps) == 1 or id_named)))
    ):
        return f"{label} holds distinct whole numbers that only increase: it is an identifier, not a measurement"
    # Named like one ("id", "student no") and every number different: an
    # identifier in any order and of any length (a 16-digit student id is
    # no measurement beside the heights).
    if whole and id_named and len(values) >= 2 and len(np.unique(values)) == len(values):
        return f"{label} holds a different whole number on every row: it is an identifier, not a measurement"
    return None


#: Cells :func:`no_measurement` reads first: a column they show to be a
#: measurement is not parsed to its end (a named feature of a million rows
#: in ~1 ms instead of ~15 ms, issue 14).
_HEAD_ROWS = 5000


def _measurement_from_head(head: np.ndarray, id_named: bool) -> bool:
    """Whether a column's first values (parsed, NaN for none) already rule out every reason of :func:`no_measurement`.

    Each reason holds of all the column's numbers or of none: at most two
    distinct values; whole numbers with every step up; whole numbers all
    different.  The head's numbers come first among the column's, so three
    distinct values, a fraction, a step down or a repeat among them hold
    of the whole column too.
    """
    values = head[np.isfinite(head)]
    # Counted on a sorted copy: np.unique's first call imports numpy.ma (~8 ms of a command-line run).
    ordered = np.sort(values)
    distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + (len(values) > 0)
    if distinct < 3:
        return False
    if not np.all(values == np.round(values)):
        return True
    step_down = bool(np.any(np.diff(values) <= 0))
    return step_down and (not id_named or distinct < len(values))


# Enough cells for the median that picks a height unit (cm, in or m: far
# apart), few enough that a million-row column is not parsed twice on load.
_UNIT_SAMPLE = 20_000


def height_unit(col) -> str:
    """The unit of a height column from an evenly spread sample of its non-blank cells.

    ``col``: an object array, packed text or an Arrow string array.
    """
    col = _column(col)
    if isinstance(col, TextColumn):
        # The sample as Arrow text, parsed without a str per cell; the same
        # cells as the object path below takes.
        from . import _arrowtext as at

        arr = col.to_arrow()
        n = len(arr)
        if n > 4 * _UNIT_SAMPLE:
            thin = arr.take(at.from_ints(np.linspace(0, n - 1, 4 * _UNIT_SAMPLE).astype(np.int64))).drop_null()
            arr = thin if len(thin) >= _UNIT_SAMPLE else arr.drop_null()  # mostly blank: every cell
        else:
            arr = arr.drop_null()
        if len(arr) > _UNIT_SAMPLE:
            arr = arr.take(at.from_ints(np.linspace(0, len(arr) - 1, _UNIT_SAMPLE).astype(np.int64)))
        return parsing.parse_height_column(arr).unit
    arr = np.asarray(col)
    if arr.dtype == object:
        # Thin out first when that still leaves enough non-blank cells: the
        # blank test then runs over a few cells, not a million (and a packed
        # column unpacks only those).
        n = len(arr)
        thinned = n > 4 * _UNIT_SAMPLE
        thin = _take(arr, np.linspace(0, n - 1, 4 * _UNIT_SAMPLE).astype(np.int64) if thinned else np.arange(n))
        present = thin[_not_none(thin)]
        if len(present) < _UNIT_SAMPLE and thinned:  # mostly blank: look at every cell
            every = _take(arr, np.arange(n))
            present = every[_not_none(every)]
        arr = present
    if len(arr) > _UNIT_SAMPLE:
        arr = arr[np.linspace(0, len(arr) - 1, _UNIT_SAMPLE).astype(np.int64)]
    return parsing.parse_height_column(arr).unit


class Sheet:
    """A table of raw cells with roles, parsed features and label marks.

    Parameters
    ----------
    columns : sequence of str
        Header names in order (duplicates and blanks allowed).
    cells : sequence of ndarray
        One object array per column, each ``(n_rows,)``; items are ``str`` or
        None.  A column may also be an Arrow string array (as
        ``fileio.read_table(arrow=True)`` gives), kept packed unless it is the
        label.
    roles : Roles, optional
        Column roles; detected from names and contents when omitted.
    """

    def __init__(
        self,
        columns: Sequence[str],
        cells: Sequence[np.ndarray],
        roles: Roles | None = None,
    ) -> None:
        if len(columns) != len(cells):
            raise SheetError("every column needs a header")
        lengths = {len(c) for c in cells}
        if len(lengths) > 1:
            raise SheetError("all columns must have the same number of rows")
        self._columns = [str(c) if c is not None else "" for c in columns]
        self._cells: list[np.ndarray | TextColumn] = [_column(c) for c in cells]
        n = lengths.pop() if lengths else 0
        self._n_rows = n
        self.provenance = np.zeros(n, dtype=np.int8)
        self.confidence = np.full(n, np.nan)
        self.guess = np.full(n, -1, dtype=np.int16)  # best class of a fill; 2 bytes a row
        # (n, K) per-class probabilities, NaN rows where not fitted; only kept
        # for more than two classes (see probabilities()).
        self._post: np.ndarray | None = None
        # Label text a fill replaced, and (below) the marks of filled numbers:
        # (n_rows,) object arrays made on first use (see _LAZY_ROW_ARRAYS).
        self._lazy: dict[str, np.ndarray | None] = dict.fromkeys(_LAZY_ROW_ARRAYS)
        # Whether any row's _before_fill may hold text (a fill replaced a
        # marker such as "?"); while not, undo records need not copy it.
        self._before_fill_any = False
        self._label_missing = np.ones(n, dtype=bool)  # cache of label_missing()
        # Blank numbers filled by EM (fill "all"): per row None or {feature
        # column: (low, high)}, the 95 % interval of the value written.
        # Whether any row may hold such a mark: while not, nothing scans the
        # marks (a million rows: 5 ms a scan).
        self._numbers_any = False
        self.fill_classes: list[str] = []  # class keys the posteriors' columns refer to
        self.fill_spellings: dict[str, str] = {}
        self.fill_notes = FillNotes()
        self.version = 0
        self._listeners: list[Callable[[object], None]] = []
        self._values: dict[int, np.ndarray] = {}
        # Per feature: the reasons of its unreadable cells, or None while it
        # has none (a million readable cells need no (n,) array of None).
        self._issues: dict[int, np.ndarray | None] = {}
        self._converted: dict[int, np.ndarray] = {}  # height features: see converted()
        self._issue_count: dict[int, int] = {}
        self._roles = Roles()
        #: Sentences about how the file was read (lines in another
        #: encoding...) or its columns detected, for the window to show
        #: once after opening it.
        self.load_warnings: list[str] = []
        if roles is None:
            roles = detect_roles(self._columns, self._cells, self.load_warnings)
        self.set_roles(roles, notify=False)
        #: How the file it came from was written (a CSV/TSV's
        #: :class:`~emgui.core.dialect.Dialect`), so that saving writes it
        #: back the same way; None for a workbook or a new sheet.
        self.dialect = None

    # -- construction ---------------------------------------------------

    @classmethod
    def from_table(cls, columns: Sequence[str], cells: Sequence[np.ndarray], roles: Roles | None = None) -> Sheet:
        """Build a sheet from a loaded table, restoring saved fill marks.

        A file saved by this app carries ``<label>_imputed`` and
        ``<label>_confidence`` columns; they are taken out of the visible
        columns and turned back into marks (they are written again on save).
        """
        columns = list(columns)
        cells = [_column(c) for c in cells]  # Arrow arrays packed once, here
        marks: dict[str, np.ndarray] = {}
        detected: list[str] = []  # what detection has to say, for load_warnings
        if roles is None:
            roles = detect_roles(columns, cells, detected)
        if roles.label is not None:
            name = columns[roles.label]
            for suffix in _MARK_SUFFIXES:
                wanted = name + suffix
                if wanted in columns and columns.count(wanted) == 1:
                    found = _column(cells[columns.index(wanted)])
                    marks[suffix] = found.to_cells() if isinstance(found, TextColumn) else found
        # The program's own derived columns: notes and issue reasons are made
        # again from the marks and the cells, so they are not read as data
        # (filling the program's output again replaces them).
        own = set()
        notes = None
        if roles.label is not None:
            note = columns[roles.label] + _NOTE_SUFFIX
            if columns.count(note) == 1:
                own.add(columns.index(note))
                found = _column(cells[columns.index(note)])
                notes = found.to_cells() if isinstance(found, TextColumn) else found
        unusual: list[tuple[int, str, str]] = []  # (row, feature name, reason) from the issue columns
        for f in roles.features:
            issue = (columns[f] or "") + _ISSUE_SUFFIX
            if columns.count(issue) == 1:
                own.add(columns.index(issue))
                found = _column(cells[columns.index(issue)])
                texts = found.to_cells() if isinstance(found, TextColumn) else found
                for row in np.flatnonzero(_not_none(texts)):
                    if str(texts[row]).startswith(UNUSUAL_PREFIX):
                        unusual.append((int(row), columns[f], str(texts[row])[len(UNUSUAL_PREFIX):]))
        # Filled numbers: <feature>_imputed, _low and _high, made again on save.
        saved_numbers: dict[int, tuple[np.ndarray, ...]] = {}
        for f in roles.features:
            names = [(columns[f] or "") + s for s in _NUMBER_SUFFIXES]
            if columns[f] and all(columns.count(n) == 1 for n in names):
                at = [columns.index(n) for n in names]
                own.update(at)
                saved_numbers[f] = tuple(_head(cells[j], len(cells[j])) if isinstance(cells[j], np.ndarray)
                                         else cells[j].to_cells() for j in at)
        if len(marks) == 2 or own:
            drop = set(own)
            if len(marks) == 2:
                drop |= {columns.index(columns[roles.label] + s) for s in _MARK_SUFFIXES}
            keep = [i for i in range(len(columns)) if i not in drop]
            remap = {old: new for new, old in enumerate(keep)}
            roles = Roles(
                remap[roles.label],
                tuple(remap[f] for f in roles.features if f in remap),
                {remap[f]: u for f, u in roles.units.items() if f in remap},
            )
            sheet = cls([columns[i] for i in keep], [cells[i] for i in keep], roles)
            if len(marks) == 2:
                sheet._restore_marks(marks["_imputed"], marks["_confidence"])
                if notes is not None:
                    sheet._restore_before_fill(notes)
            if unusual:
                at = {name: sheet.columns.index(name) for _, name, _ in unusual}
                sheet.set_unusual_marks([(r, at[name], why) for r, name, why in unusual], notify=False)
                # A blank left blank for its unusual value is one of the fill's blanks again.
                if notes is not None:
                    for r in {r for r, _, _ in unusual}:
                        if sheet._label_missing[r] and str(notes[r]).startswith("not filled: unusual"):
                            sheet.provenance[r] = UNCERTAIN
            for f, (imputed, low, high) in saved_numbers.items():
                sheet._restore_numbers(remap[f], imputed, low, high)
        else:
            sheet = cls(columns, cells, roles)
        sheet.load_warnings.extend(detected)
        return sheet

    @classmethod
    def blank(cls, columns: Sequence[str] = ("Name", "Gender", "Height (cm)"), n_rows: int = 0) -> Sheet:
        """A new empty sheet ready for typing (default: Name, Gender, Height in cm)."""
        cells = [np.full(n_rows, None, dtype=object) for _ in columns]
        sheet = cls(columns, cells)
        return sheet

    def _restore_before_fill(self, notes: np.ndarray) -> None:
        """From the notes of the program's own output: what filled cells held before the fill
        ("was '…'") and the best guess of blanks left uncertain."""
        noted = _not_none(notes)
        for row in np.flatnonzero((self.provenance == FILLED) & noted):
            found = _WAS.search(str(notes[row]))
            if found:
                self._before_fill[row] = found.group(1)
                self._before_fill_any = True
        names = {self.fill_spellings.get(c, c): k for k, c in enumerate(self.fill_classes)}
        for row in np.flatnonzero((self.provenance == UNCERTAIN) & noted):
            found = _BEST_GUESS.match(str(notes[row]))
            if found and found.group(1) in names:
                self.guess[row] = names[found.group(1)]

    def _restore_marks(self, imputed: np.ndarray, confidence: np.ndarray) -> None:
        flags = np.array([str(v).strip().lower() in ("true", "1", "yes") for v in imputed], dtype=bool)
        conf = parsing.parse_number_column(confidence).values
        filled = flags & ~self._label_missing
        self.provenance[filled] = FILLED
        self.confidence[filled] = conf[filled]
        # Left blank as uncertain: blank, not filled, with its best guess's probability.
        uncertain = ~flags & self._label_missing & np.isfinite(conf)
        self.provenance[uncertain] = UNCERTAIN
        self.confidence[uncertain] = conf[uncertain]
        # Each filled cell's class, from its own text, so it reopens in its class's colour.
        if filled.any() and self._roles.label is not None:
            codes, classes, spellings = parsing.encode_labels_and_spellings(self._cells[self._roles.label])
            self.fill_classes, self.fill_spellings = list(classes), dict(spellings)
            self.guess[filled] = codes[filled]

    # -- shape and access -----------------------------------------------

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def n_cols(self) -> int:
        return len(self._columns)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def roles(self) -> Roles:
        return self._roles

    def column_cells(self, col: int) -> np.ndarray:
        """The raw cells of a column, ``(n_rows,)`` object (do not modify).

        For a packed column this builds the whole array (a million names:
        ~70 MB, ~0.1 s) without keeping it: :meth:`cells` takes some rows,
        :meth:`column_snapshot` keeps a column for later.
        """
        c = self._cells[col]
        return c.to_cells() if isinstance(c, TextColumn) else c

    def cells(self, col: int, rows: Iterable[int] | np.ndarray) -> np.ndarray:
        """The raw cells of ``rows`` of a column, as a new ``(r,)`` object array."""
        idx = rows if isinstance(rows, np.ndarray) else np.asarray(list(rows), dtype=np.int64)
        return _take(self._cells[col], idx)

    def column_snapshot(self, col: int, *, copy: bool = True):
        """The cells of a column as they are now, unaffected by later edits.

        An object array copy, or for a packed column its Arrow string array
        (read-only, shared: no copy).  :func:`emgui.core.fileio.write_table`
        and :class:`Sheet` take either.  Without ``copy``, an object column
        is the sheet's own array: valid only while :attr:`version` stays
        the same (a reader in another thread checks it afterwards).
        """
        c = self._cells[col]
        if isinstance(c, TextColumn):
            return c.to_arrow()
        return c.copy() if copy else c

    def is_packed(self, col: int) -> bool:
        """Whether a column is still kept as packed text (see the module docstring)."""
        return isinstance(self._cells[col], TextColumn)

    def text(self, row: int, col: int) -> str | None:
        """The raw cell exactly as typed or loaded."""
        c = self._cells[col]
        return c.get(row) if isinstance(c, TextColumn) else c[row]

    def _unpack(self, col: int) -> np.ndarray:
        """Make a packed column an ordinary object array (before changing it); returns it."""
        c = self._cells[col]
        if isinstance(c, TextColumn):
            c = self._cells[col] = c.to_cells()
        return c

    def values(self, col: int) -> np.ndarray:
        """Parsed numbers of a feature column, ``(n_rows,)`` float64, NaN if missing/unreadable."""
        return self._values[col]

    def shared_values(self, col: int) -> np.ndarray:
        """:meth:`values`, made read-only and kept as it is from now on.

        The sheet writes an edit's numbers into a copy of a read-only array
        (copy on write), so a fit's input may hold this array itself instead
        of a copy of it, whatever is edited meanwhile: five million rows,
        40 MB less for as long as the fit input lives (issue 14 item 3).
        """
        arr = self._values[col]
        arr.flags.writeable = False
        return arr

    def converted(self, col: int) -> np.ndarray:
        """Which cells of a feature column were read in another unit, ``(n_rows,)`` bool.

        True where the value is a number but not the one the cell's text
        says as a plain number (``5'9"``, ``1,68 m``, ``1,65`` in a cm
        column): an export writes those in the column's unit.  Always False
        for a plain-number column.  Do not modify.
        """
        found = self._converted.get(col)
        return np.zeros(self._n_rows, dtype=bool) if found is None else found

    def issues(self, col: int) -> np.ndarray:
        """Reasons for unreadable cells of a feature column, ``(n_rows,)`` object (None if fine).

        Do not modify.  A column with no unreadable cell keeps no such array:
        this builds one, so per cell use :meth:`issue`, for a mask
        :meth:`unreadable`.
        """
        found = self._issues[col]
        return np.full(self._n_rows, None, dtype=object) if found is None else found

    def unreadable(self, col: int) -> np.ndarray:
        """``(n_rows,)`` bool: the cells of a feature column that could not be read."""
        found = self._issues.get(col)
        return np.zeros(self._n_rows, dtype=bool) if found is None else _not_none(found)

    def value(self, row: int, col: int) -> float | None:
        if col not in self._values:
            return None
        return float(self._values[col][row])

    def issue(self, row: int, col: int) -> str | None:
        found = self._issues.get(col)
        return None if found is None else found[row]

    def unit(self, col: int) -> str | None:
        return self._roles.units.get(col)

    def is_feature(self, col: int) -> bool:
        return col in self._values

    def label_missing(self) -> np.ndarray:
        """``(n_rows,)`` bool: the label cell is blank (or a missing marker). Do not modify."""
        return self._label_missing

    def counts(self) -> dict[str, int]:
        """Figures for a status bar: rows, missing labels, filled, uncertain, unreadable cells.

        Kept cheap for a million rows: the blank flags and issue counts are
        maintained as cells change, so this is a few vectorised counts.
        """
        filled = self.provenance == FILLED
        return {
            "rows": self._n_rows,
            "missing": int(np.count_nonzero(self._label_missing & ~filled)),
            "filled": int(np.count_nonzero(filled)),
            "uncertain": int(np.count_nonzero(self.provenance == UNCERTAIN)),
            "unreadable": sum(self._issue_count.values()),
        }

    # -- listeners --------------------------------------------------------

    def subscribe(self, callback: Callable[[object], None]) -> None:
        """Call ``callback(event)`` after every change (events defined in this module)."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[object], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _emit(self, event: object) -> None:
        self.version += 1
        for cb in list(self._listeners):
            cb(event)

    # -- roles -------------------------------------------------------------

    def set_roles(self, roles: Roles, *, notify: bool = True) -> None:
        """Change which columns are the label and the features, and re-parse."""
        n = self.n_cols
        if roles.label is not None and not 0 <= roles.label < n:
            raise SheetError(f"no column {roles.label}")
        for f in roles.features:
            if not 0 <= f < n:
                raise SheetError(f"no column {f}")
            if f == roles.label:
                raise SheetError(f"column '{self._columns[f]}' cannot be both the label and a feature")
        units = {f: roles.units.get(f) for f in roles.features}
        self._roles = Roles(roles.label, tuple(roles.features), units)
        self._values.clear()
        self._issues.clear()
        self._converted.clear()
        self._issue_count.clear()
        features = list(self._roles.features)

        def label_missing() -> np.ndarray:
            if roles.label is None:
                return np.ones(self._n_rows, dtype=bool)
            return _missing_mask(self._unpack(roles.label))  # unpacked: fills write into it

        # The columns two at a time where the command line has a second core
        # (the window parses on one thread): most of a feature's parse is
        # Arrow's number cast, which releases the interpreter lock, and the
        # label's text becomes str objects meanwhile (issue 14).
        # The label first: the longest job, started while the features' begin.
        jobs = [label_missing] + [functools.partial(self._parsed, f) for f in features]
        missing, *parsed = _parallel.run(lambda job: job(), jobs)
        for f, column in zip(features, parsed, strict=True):
            self._store(f, column)
        self._label_missing = missing
        if notify:
            self._emit(SheetReset())

    def _parsed(self, col: int) -> parsing.ParsedColumn:
        """Column ``col`` parsed as its role says (reads the sheet, changes nothing)."""
        raw = self._cells[col]
        if isinstance(raw, TextColumn):
            raw = raw.to_arrow()  # read as Arrow text: a str only for the odd cell
        unit = self._roles.units.get(col)
        if unit is None:
            return parsing.parse_number_column(raw)
        return parsing.parse_height_column(raw, unit)

    def _store(self, col: int, parsed: parsing.ParsedColumn) -> None:
        # The parser's own fresh arrays: no second copy of a million rows.
        self._values[col] = np.asarray(parsed.values, dtype=np.float64)
        self._issues[col] = parsed.issues_if_any()
        count = len(parsed.found)
        if parsed.plain is not None:
            self._converted[col] = _converted(parsed)
        self._issue_count[col] = count

    def _parse_cells(self, col: int, rows: np.ndarray) -> None:
        if col not in self._values or not len(rows):
            return
        unit = self._roles.units.get(col)
        raw = self._cells[col][rows]
        parsed = parsing.parse_number_column(raw) if unit is None else parsing.parse_height_column(raw, unit)
        issues = self._issues[col]
        before = 0 if issues is None else int(np.count_nonzero(_not_none(issues[rows])))
        after = len(parsed.found)
        values = self._values[col]
        if not values.flags.writeable:  # shared with a fit's input (shared_values): copy on write
            values = self._values[col] = values.copy()
        values[rows] = parsed.values
        if issues is None and after:
            issues = self._issues[col] = np.full(self._n_rows, None, dtype=object)
        if issues is not None:
            issues[rows] = parsed.issues
        if col in self._converted:
            self._converted[col][rows] = _converted(parsed)
        self._issue_count[col] += after - before

    # -- editing -----------------------------------------------------------

    def set_cell(self, row: int, col: int, text: str | None) -> None:
        """Set one cell as the user typed it (a label typed by the user is the user's)."""
        self.set_block(row, col, [[text]])

    def set_block(self, row: int, col: int, block: Sequence[Sequence[str | None]]) -> None:
        """Paste a rectangular block with its top-left at (row, col).

        Rows past the end are added; columns past the last are cut off (the
        caller adds columns first if it wants them).  Empty strings become
        None (a blank cell).
        """
        if not block:
            return
        height = len(block)
        width = min(max(len(r) for r in block), self.n_cols - col)
        if width <= 0 or row < 0 or col < 0:
            return
        if row + height > self._n_rows:
            self.insert_rows(self._n_rows, row + height - self._n_rows)
        rows = np.arange(row, row + height)
        for j in range(width):
            c = col + j
            colvals = [(r[j] if j < len(r) else None) for r in block]
            self._unpack(c)[row : row + height] = [None if v == "" else v for v in colvals]
            self._parse_cells(c, rows)
            if c in self._values:
                self._drop_number_marks(rows, c)
            if c == self._roles.label:
                self._clear_marks(rows)
                if self._before_fill_any:
                    self._before_fill[rows] = None
                self._missing_dirty(rows)
        self._emit(CellsChanged(row, col, row + height - 1, col + width - 1))

    # Per-row arrays and the value a new row gets; rows are inserted, removed
    # and restored in all of them the same way.
    _ROW_ARRAYS = (
        ("provenance", USER),
        ("confidence", np.nan),
        ("guess", -1),
        ("_before_fill", None),
        ("_label_missing", True),
        ("_number_marks", None),
    )

    @property
    def _before_fill(self) -> np.ndarray:
        return self._lazy_array("_before_fill")

    @property
    def _number_marks(self) -> np.ndarray:
        return self._lazy_array("_number_marks")

    def _lazy_array(self, name: str) -> np.ndarray:
        """One of the ``_LAZY_ROW_ARRAYS``, made (all None) the first time it is needed."""
        arr = self._lazy[name]
        if arr is None:
            arr = self._lazy[name] = np.full(self._n_rows, None, dtype=object)
        return arr

    def _row_arrays(self):
        """``(name, array or None, fill)`` of each per-row array; None: a lazy one not made yet (all None)."""
        for name, fill in self._ROW_ARRAYS:
            yield name, (self._lazy[name] if name in _LAZY_ROW_ARRAYS else getattr(self, name)), fill

    def _set_row_array(self, name: str, arr: np.ndarray | None) -> None:
        if name in _LAZY_ROW_ARRAYS:
            self._lazy[name] = arr
        else:
            setattr(self, name, arr)

    def _row_state(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        state = {
            name: np.full(len(idx), None, dtype=object) if arr is None else arr[idx].copy()
            for name, arr, _ in self._row_arrays()
        }
        if self._post is not None:
            state["posteriors"] = self._post[idx].copy()
        return state

    def _missing_dirty(self, rows: np.ndarray) -> None:
        """Refresh the cached blank-label flags of ``rows``."""
        if self._roles.label is not None and len(rows):
            self._label_missing[rows] = _missing_mask(self._cells[self._roles.label][rows])

    def _clear_marks(self, rows: np.ndarray) -> None:
        self.provenance[rows] = USER
        self.confidence[rows] = np.nan
        self.guess[rows] = -1
        if self._post is not None:
            self._post[rows] = np.nan

    def insert_rows(self, at: int, count: int = 1) -> None:
        """Insert ``count`` blank rows before row ``at``."""
        if count <= 0:
            return
        at = max(0, min(at, self._n_rows))
        for c in range(self.n_cols):
            self._unpack(c)

        def grow(arr: np.ndarray, fill) -> np.ndarray:
            blank = np.full((count,) + arr.shape[1:], fill, dtype=arr.dtype)
            return np.concatenate([arr[:at], blank, arr[at:]])

        self._cells = [grow(c, None) for c in self._cells]
        for f in list(self._values):
            self._values[f] = grow(self._values[f], np.nan)
            if self._issues[f] is not None:
                self._issues[f] = grow(self._issues[f], None)
        for f in list(self._converted):
            self._converted[f] = grow(self._converted[f], False)
        for name, arr, fill in self._row_arrays():
            if arr is not None:  # a lazy array not made yet stays so (all None)
                self._set_row_array(name, grow(arr, fill))
        if self._post is not None:
            self._post = grow(self._post, np.nan)
        self._n_rows += count
        self._emit(RowsInserted(at, count))

    def remove_rows(self, rows: Iterable[int], *, record: list[RemovedRows] | None = None) -> RemovedRows:
        """Remove rows (any order); returns what :meth:`restore_rows` needs to undo it.

        ``record``, if given, gets that same record appended once the rows
        are out and before the change is announced: a caller that must be
        able to put them back keeps it even if a subscriber raises.
        """
        idx = np.unique(np.asarray(list(rows), dtype=np.int64))
        idx = idx[(idx >= 0) & (idx < self._n_rows)]
        removed = RemovedRows(idx, tuple(_take(c, idx) for c in self._cells), self._row_state(idx))
        if not len(idx):
            return removed
        for c in range(self.n_cols):
            self._unpack(c)
        keep = np.ones(self._n_rows, dtype=bool)
        keep[idx] = False
        self._cells = [c[keep] for c in self._cells]
        for f in list(self._values):
            self._values[f] = self._values[f][keep]
            if self._issues[f] is not None:
                self._issue_count[f] -= int(np.count_nonzero(_not_none(self._issues[f][idx])))
                self._issues[f] = self._issues[f][keep]
        for f in list(self._converted):
            self._converted[f] = self._converted[f][keep]
        for name, arr, _ in self._row_arrays():
            if arr is not None:
                self._set_row_array(name, arr[keep])
        if self._post is not None:
            self._post = self._post[keep]
        self._n_rows = int(keep.sum())
        if record is not None:
            record.append(removed)
        # Contiguous runs from the bottom up, so each index is valid when read.
        for first, count in reversed(_runs(idx)):
            self._emit(RowsRemoved(first, count))
        return removed

    def restore_rows(self, removed: RemovedRows) -> None:
        """Put rows taken out by :meth:`remove_rows` back where they were."""
        idx = removed.rows
        if not len(idx):
            return
        for c in range(self.n_cols):
            self._unpack(c)
        total = self._n_rows + len(idx)
        slot = np.zeros(total, dtype=bool)
        slot[idx] = True

        def merge(old: np.ndarray, back: np.ndarray) -> np.ndarray:
            out = np.empty((total,) + old.shape[1:], dtype=old.dtype)
            out[slot] = back
            out[~slot] = old
            return out

        self._cells = [merge(c, b) for c, b in zip(self._cells, removed.cells, strict=True)]
        for name, arr, _ in self._row_arrays():
            back = removed.state[name]
            if arr is None:
                if not _not_none(back).any():
                    continue  # still all None: not made
                arr = self._lazy_array(name)
            self._set_row_array(name, merge(arr, back))
        if _not_none(removed.state["_before_fill"]).any():
            self._before_fill_any = True
        if _not_none(removed.state["_number_marks"]).any():
            self._numbers_any = True
        if self._post is not None:
            back = removed.state.get("posteriors")
            if back is None or back.shape[1] != self._post.shape[1]:
                back = np.full((len(idx), self._post.shape[1]), np.nan)
            self._post = merge(self._post, back)
        self._n_rows = total
        for f in list(self._converted):
            self._converted[f] = merge(self._converted[f], np.zeros(len(idx), dtype=bool))
        for f in list(self._values):
            self._values[f] = merge(self._values[f], np.full(len(idx), np.nan))
            if self._issues[f] is not None:
                self._issues[f] = merge(self._issues[f], np.full(len(idx), None, dtype=object))
            self._parse_cells(f, idx)
        for first, count in _runs(idx):
            self._emit(RowsInserted(first, count))

    def insert_column(self, at: int, name: str) -> None:
        """Insert a blank column (roles shift to follow their columns)."""
        at = max(0, min(at, self.n_cols))
        self._columns.insert(at, name)
        self._cells.insert(at, np.full(self._n_rows, None, dtype=object))
        shift = lambda i: i + 1 if i >= at else i  # noqa: E731
        r = self._roles
        self.set_roles(
            Roles(
                None if r.label is None else shift(r.label),
                tuple(shift(f) for f in r.features),
                {shift(f): u for f, u in r.units.items()},
            )
        )

    def remove_column(self, col: int) -> tuple[str, np.ndarray]:
        """Remove a column (roles follow); returns its name and cells."""
        name, cells = self._columns.pop(col), self._cells.pop(col)
        shift = lambda i: i - 1 if i > col else i  # noqa: E731
        r = self._roles
        self.set_roles(
            Roles(
                None if r.label in (None, col) else shift(r.label),
                tuple(shift(f) for f in r.features if f != col),
                {shift(f): u for f, u in r.units.items() if f != col},
            )
        )
        return name, cells

    def rename_column(self, col: int, name: str) -> None:
        self._columns[col] = name
        self._emit(SheetReset())

    # -- undo support ------------------------------------------------------

    def capture(self, rows: Iterable[int] | slice, cols: Iterable[int]) -> Patch:
        """Copy the cells of ``rows`` x ``cols`` and the label marks of ``rows``."""
        if isinstance(rows, slice):
            idx = np.arange(self._n_rows)[rows]
        elif isinstance(rows, np.ndarray):
            idx = rows.astype(np.int64)  # a copy: the patch must not change with the caller's array
        else:
            idx = np.asarray(list(rows), dtype=np.int64)
        return self._capture_rows(idx, cols)

    def _capture_rows(self, idx: np.ndarray, cols: Iterable[int]) -> Patch:
        """:meth:`capture` of ``idx``, (r,) int64, which the patch keeps (no copy: nobody else may hold it)."""
        cols = tuple(cols)
        return Patch(
            idx,
            cols,
            tuple(_take(self._cells[c], idx) for c in cols),
            self.provenance[idx].copy(),
            self.confidence[idx].copy(),
            self.guess[idx].copy(),
            None if self._post is None else self._post[idx].copy(),
            # Nothing held anywhere (the usual case): no copy of a million Nones.
            _gather(self._before_fill, idx) if self._before_fill_any else NO_TEXT_BEFORE_FILL,
            *self._capture_numbers(idx),
        )

    def _capture_numbers(self, idx: np.ndarray) -> tuple[np.ndarray | None, dict | None]:
        if not self._numbers_any:
            return None, None
        marks = self._number_marks[idx]
        if not _not_none(marks).any():
            return None, None
        cols = sorted({c for m in marks if m is not None for c in m})
        return _copy_marks(marks), {c: _take(self._cells[c], idx) for c in cols}

    def restore(self, patch: Patch) -> None:
        """Put back cells and label marks captured by :meth:`capture`."""
        idx = patch.rows
        if not len(idx):
            return
        if len(idx) and idx.max() >= self._n_rows:
            raise SheetError("the rows of this change no longer exist")
        for c, vals in zip(patch.cols, patch.cells, strict=True):
            self._unpack(c)[idx] = vals
            self._parse_cells(c, idx)
            if c == self._roles.label:
                self._missing_dirty(idx)
        self.provenance[idx] = patch.provenance
        self.confidence[idx] = patch.confidence
        self.guess[idx] = patch.guess
        if patch.before_fill is NO_TEXT_BEFORE_FILL:
            if self._before_fill_any:
                self._before_fill[idx] = None
        elif patch.before_fill is not None:
            self._before_fill[idx] = patch.before_fill
            if _not_none(patch.before_fill).any():
                self._before_fill_any = True
        held = self._number_marks[idx] if self._numbers_any else np.full(len(idx), None, dtype=object)
        if patch.number_marks is not None:
            self._numbers_any = True
        if patch.number_marks is not None or _not_none(held).any():
            # Numbers filled since the capture are blank again; those filled then come back.
            for c in sorted({c for m in held if m is not None for c in m}):
                self._unpack(c)[idx[[m is not None and c in m for m in held]]] = None
            for c, vals in (patch.number_cells or {}).items():
                if c < self.n_cols:
                    self._unpack(c)[idx] = vals
            self._number_marks[idx] = None if patch.number_marks is None else _copy_marks(patch.number_marks)
            for c in self._values:
                self._parse_cells(c, idx)
        if patch.posteriors is not None and patch.posteriors.shape[1] > 2:
            self._ensure_posteriors(patch.posteriors.shape[1])
            self._post[idx] = patch.posteriors
        elif self._post is not None:
            self._post[idx] = np.nan
        left = min(patch.cols) if patch.cols else (self._roles.label or 0)
        right = max(patch.cols) if patch.cols else left
        if patch.number_cells or _not_none(held).any():
            left, right = 0, self.n_cols - 1
        self._emit(CellsChanged(int(idx.min()), left, int(idx.max()), right))

    def _ensure_posteriors(self, k: int) -> None:
        if k <= 2:
            # With one or two classes the best class and its probability say
            # it all (the other is 1 - p): no (n, K) array to keep, which at a
            # million rows is 16 MB and ~20 ms of fresh pages for each fill.
            self._post = None
        elif self._post is None or self._post.shape[1] != k:
            self._post = np.full((self._n_rows, k), np.nan)

    def probabilities(self, rows: Iterable[int] | np.ndarray) -> np.ndarray:
        """Every class's probability for ``rows`` as the last fill found them.

        Returns
        -------
        ndarray, (r, K)
            Columns follow :attr:`fill_classes`; NaN rows where a row was not
            filled or marked uncertain.
        """
        idx = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64).reshape(-1)
        k = len(self.fill_classes)
        if self._post is not None and self._post.shape[1] == k:
            return self._post[idx]
        out = np.full((len(idx), k), np.nan)
        g, conf = self.guess[idx], self.confidence[idx]
        ok = np.flatnonzero((g >= 0) & (g < k) & (k <= 2))
        if len(ok):
            out[ok, g[ok]] = conf[ok]
            if k == 2:
                out[ok, 1 - g[ok]] = 1.0 - conf[ok]
        return out

    # -- fill marks ----------------------------------------------------------

    def apply_fill(
        self,
        rows: np.ndarray,
        status: np.ndarray,
        confidence: np.ndarray,
        guess: np.ndarray,
        posteriors: np.ndarray,
        classes: Sequence[str],
        spellings: dict[str, str],
        *,
        unusual: Sequence[tuple[int, int, str]] = (),
        notes: FillNotes | None = None,
    ) -> None:
        """Write filled labels and their marks (one vectorised step).

        A ``FILLED`` row gets its best class written as the column spells it
        (``spellings[classes[guess]]``); an ``UNCERTAIN`` row stays exactly as
        it was (blank) and only gets the marks.

        Parameters
        ----------
        rows : ndarray, (r,)
            Sheet rows whose blank label is being filled or marked.
        status : ndarray, (r,) int8
            ``FILLED`` or ``UNCERTAIN`` per row.
        confidence, guess : ndarray, (r,)
            Probability of the best class, and its index into ``classes``.
        posteriors : ndarray, (r, K), or None
            Every class's probability; only needed (and kept) for more than
            two classes (see :meth:`probabilities`).
        classes : sequence of str
            Class keys, index = class.
        spellings : dict
            The text written for each class key (the key itself if absent).
        unusual : sequence of (row, column, reason)
            Feature cells unusual under the fit; they replace the last fill's
            (see :meth:`set_unusual_marks`).
        notes : FillNotes, optional
            Groups no typed label names, and typed classes that took no part.
        """
        label = self._roles.label
        if label is None:
            raise SheetError("the sheet has no label column to fill")
        state = self._fill_state(copy=False)
        touched = _write_fill(state, rows, status, confidence, guess, posteriors, classes, spellings)
        self._finish_fill(state, touched, classes, spellings, unusual, notes)

    def prepare_fill(
        self,
        rows: np.ndarray,
        status: np.ndarray,
        confidence: np.ndarray,
        guess: np.ndarray,
        posteriors: np.ndarray,
        classes: Sequence[str],
        spellings: dict[str, str],
        *,
        version: int,
    ) -> PreparedFill | None:
        """The per-row arrays :meth:`apply_fill` would leave, made from copies (any thread).

        A fill of five million rows writes 1.5M label cells and their marks:
        ~40 ms of the GUI thread in place (~85 ms with the undo record of a
        refit).  Here, in the fit's thread, the marks are written into
        copies of their arrays and the texts to write are worked out, in
        steps of :data:`_STEP` rows (each holds the interpreter lock a few
        ms, so the GUI thread keeps its turns); :meth:`apply_prepared` then
        swaps the arrays in and writes the texts, a pointer a cell (~5 ms
        for 1.5M cells; a refit's only where the text changes), and a
        refit's confidences into the sheet's array (~10 ms for 1.5M rows;
        a copy of that array would be 40 MB more at a refit's peak).

        Returns None when the sheet is not at ``version`` any more (it
        changed since the fit's input was taken: the result is stale) or has
        no label column; the caller then fills as usual.  The sheet itself
        is only read: an edit from the GUI thread meanwhile bumps its version,
        and :meth:`apply_fill` then discards what was prepared.
        """
        label = self._roles.label
        if label is None or self.version != version:
            return None
        if not isinstance(self._cells[label], np.ndarray):
            return None
        state = self._fill_state(copy=True)
        touched = _write_fill(state, rows, status, confidence, guess, posteriors, classes, spellings)
        # The undo record of a refit (the rows an earlier fill marked), taken at the same version.
        # filled_rows() is a new array: the record keeps it, not a copy of it
        # (five million rows: 12 MB less at the refit's peak, issue 14 item 3).
        undo = self._capture_rows(self.filled_rows(), [label])
        return PreparedFill(version, label, self._n_rows, state, touched, undo)

    def _fill_state(self, *, copy: bool) -> _FillState:
        """The per-row arrays a fill writes: the sheet's own, or copies to write off the GUI thread."""
        label = self._roles.label
        if not copy:
            return _FillState(self._cells[label], self.provenance, self.confidence, self.guess, self._post,
                              self._label_missing, self._lazy["_before_fill"], self._before_fill_any)
        # The object arrays are not copied: a copy of five million cells
        # is a new 40 MB array whose first filling (page faults included)
        # holds the interpreter lock 5-90 ms in one go; their writes wait
        # in ``deferred`` (a pointer each, ~5 ms for 1.5M cells).  Nor are a
        # refit's confidences: a copy was 8 bytes a row at a refit's peak
        # (five million rows: 40 MB; issue 14 item 3), and the plan's are
        # written into the sheet's array when swapped in (~10 ms for 1.5M
        # rows, while the refit writes few texts).  A first fill's are: its
        # swap writes 1.5M texts already, and its peak is lower.
        refit = bool((self.provenance != USER).any())
        return _FillState(
            self._cells[label], self.provenance.copy(), self.confidence if refit else self.confidence.copy(),
            self.guess.copy(), None if self._post is None else self._post.copy(), self._label_missing.copy(),
            self._lazy["_before_fill"], self._before_fill_any, deferred=[],
            copied=frozenset() if refit else frozenset({"confidence"}),
        )

    def _finish_fill(self, state: _FillState, touched, classes, spellings, unusual, notes) -> None:
        """Make ``state`` the sheet's arrays (the same ones for a fill in place) and announce the fill."""
        label = self._roles.label
        self._cells[label] = state.cells
        self.provenance, self.confidence, self.guess = state.provenance, state.confidence, state.guess
        self._post, self._label_missing = state.post, state.label_missing
        self._lazy["_before_fill"], self._before_fill_any = state.before_fill, state.before_fill_any
        self.fill_classes = list(classes)
        self.fill_spellings = dict(spellings)
        self.fill_notes = notes if notes is not None else FillNotes()
        self.set_unusual_marks(unusual, notify=False)
        if touched is not None:
            self._emit(CellsChanged(touched[0], label, touched[1], label))
        else:
            self._emit(CellsChanged(0, label, max(self._n_rows - 1, 0), label))

    def apply_prepared(
        self, prepared: PreparedFill, classes: Sequence[str], spellings: dict[str, str], *,
        unusual: Sequence[tuple[int, int, str]] = (), notes: FillNotes | None = None,
    ) -> bool:
        """Swap in the arrays of :meth:`prepare_fill` if the sheet is still as they were made from.

        Returns False (nothing changed) when the sheet changed meanwhile:
        then :meth:`apply_fill` writes the fill as usual.
        """
        if not prepared.fits(self):
            return False
        state = prepared.take()
        state.write_deferred()  # the label cells (and texts kept for undo): one pointer each
        self._finish_fill(state, prepared.touched, classes, spellings, unusual, notes)
        return True

    def unusual_marks(self) -> tuple[tuple[int, int, str], ...]:
        """The feature cells marked unusual by the last fill: (row, column, reason) each."""
        out = []
        for col, issues in self._issues.items():
            if issues is None:
                continue
            for row in np.flatnonzero(_not_none(issues)):
                text = issues[row]
                if isinstance(text, str) and text.startswith(UNUSUAL_PREFIX):
                    out.append((int(row), int(col), text[len(UNUSUAL_PREFIX):]))
        return tuple(out)

    def set_unusual_marks(self, marks: Sequence[tuple[int, int, str]], *, notify: bool = True) -> None:
        """Replace the unusual marks with ``marks`` (row, column, reason); a fill and its undo use it.

        A mark is shown like an unreadable cell's reason, prefixed
        "unusual: "; it is dropped when the cell is edited.  Cells that cannot
        be read keep their own reason.
        """
        old = self.unusual_marks()
        for row, col, _ in old:
            self._issues[col][row] = None
            self._issue_count[col] -= 1
        for row, col, reason in marks:
            if col not in self._values or not 0 <= row < self._n_rows:
                continue
            issues = self._issues.get(col)
            if issues is None:
                issues = self._issues[col] = np.full(self._n_rows, None, dtype=object)
            if issues[row] is not None:
                continue  # unreadable: its own reason stays
            issues[row] = UNUSUAL_PREFIX + reason
            self._issue_count[col] += 1
        if notify and (old or marks):
            cols = [c for _, c, _ in old] + [c for _, c, _ in marks]
            self._emit(CellsChanged(0, min(cols), max(self._n_rows - 1, 0), max(cols)))

    def is_unusual(self, row: int, col: int) -> bool:
        text = self.issue(row, col)
        return isinstance(text, str) and text.startswith(UNUSUAL_PREFIX)

    def note(self, row: int) -> str | None:
        """Why row's label stayed blank, or what it held before a fill; None if nothing to say."""
        found = self.note_column(np.array([row]))
        return None if found is None else found[0]

    def note_column(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        """The ``<label>_note`` cells of ``rows`` (all rows for None), (r,) object; None when no row has a note.

        Made from the marks, not stored: an uncertain blank's best guess, a
        group no typed label names, a value unusual under the fit, a typed
        class that took no part, and what a filled cell held before ("was '?'").
        """
        label = self._roles.label
        if label is None:
            return None
        idx = np.arange(self._n_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        prov = self.provenance[idx]
        interesting = prov == UNCERTAIN  # a filled cell has a note only for what it held before (below)
        if self._before_fill_any:
            interesting |= _not_none(self._before_fill[idx])
        absent = self.fill_notes.absent
        col = self._cells[label]
        if absent:
            texts = _take(col, idx)
            interesting |= np.isin(texts, np.array(list(absent), dtype=object))
        hits = np.flatnonzero(interesting)
        if not len(hits):
            return None
        # Whole arrays where a fill leaves thousands of uncertain blanks (a
        # threshold on a large sheet): one text per class and percent, not
        # one format per row.  The rarer notes are made row by row.
        out = np.full(len(idx), None, dtype=object)
        names = [self.fill_spellings.get(c, c) for c in self.fill_classes]
        unusual_rows: dict[int, list[str]] = {}
        for row, _col, reason in self.unusual_marks():
            unusual_rows.setdefault(row, []).append(reason)
        rows = idx[hits]
        guess = self.guess[rows].astype(np.int64)
        unsure = prov[hits] == UNCERTAIN
        flagged = np.isin(rows, np.fromiter(unusual_rows, dtype=np.int64, count=len(unusual_rows)))
        unnamed = np.isin(guess, np.fromiter(self.fill_notes.unnamed, dtype=np.int64,
                                             count=len(self.fill_notes.unnamed)))
        plain = unsure & ~flagged & ~unnamed & (guess >= 0) & (guess < len(names))
        if plain.any():
            pct = np.rint(100 * np.nan_to_num(self.confidence[rows[plain]])).astype(np.int64)
            keys, where = np.unique(guess[plain] * 1000 + pct, return_inverse=True)
            texts = np.array(
                [f"uncertain: best guess {names[k // 1000]} ({k % 1000} %)" for k in keys] + [None], dtype=object
            )[:-1]
            out[hits[plain]] = texts[where]
        for g, description in self.fill_notes.unnamed.items():
            sel = unsure & ~flagged & (guess == g)
            out[hits[sel]] = f"unlike every typed class: {description}; type one of them to name it"
        for h in hits[unsure & flagged]:
            reasons = dict.fromkeys(unusual_rows[int(idx[h])])
            out[h] = "not filled: unusual value (" + "; ".join(reasons) + ")"
        if absent:
            user_rows = hits[prov[hits] == USER]
            texts = _take(col, idx[user_rows])
            for name, why in absent.items():
                out[user_rows[texts == name]] = why
        if self._before_fill_any:
            before = self._before_fill[rows]
            for h, text in zip(hits[_not_none(before)], before[_not_none(before)], strict=True):
                was = f"was '{text}'"
                out[h] = was if out[h] is None else f"{out[h]}; {was}"
        return out if _not_none(out).any() else None

    def _unfill(self, rows: np.ndarray) -> None:
        """Put back what filled cells held before the fill and drop the marks."""
        label = self._roles.label
        filled = rows[self.provenance[rows] == FILLED]
        if self._before_fill_any:
            self._cells[label][filled] = self._before_fill[filled]
            self._before_fill[filled] = None
        else:
            self._cells[label][filled] = None  # nothing was held before: blank again
        self._clear_marks(rows)

    def marker_texts(self) -> np.ndarray:
        """What was typed in each label cell that is, or was before its fill, a missing marker.

        ``(n_rows,)`` object array: ``"unknown"``, ``"NA"``, ``"?"`` where
        the label cell holds such a marker now (blank to the fit, so it may
        be filled or left uncertain) or held it before a fill wrote a class
        over it; None everywhere else (blank cells, typed classes).  For the
        note that keeps what was typed (``was 'unknown'``).
        """
        out = np.full(self._n_rows, None, dtype=object)
        label = self._roles.label
        if label is None or not self._n_rows:
            return out
        col = self._cells[label]
        raw = col.to_cells() if isinstance(col, TextColumn) else col
        now = self._label_missing & _not_none(raw)
        out[now] = raw[now]
        if self._before_fill_any:
            filled = (self.provenance == FILLED) & _not_none(self._before_fill)
            out[filled] = self._before_fill[filled]
        return out

    def filled_rows(self) -> np.ndarray:
        """Rows whose label is filled or marked uncertain, or with a filled number, ``(r,)`` int."""
        marked = self.provenance != USER
        if not self._numbers_any:
            return np.flatnonzero(marked)
        return np.flatnonzero(marked | _not_none(self._number_marks))

    # -- filled numbers (fill "all") ---------------------------------------------

    def apply_numbers(self, rows: np.ndarray, cols: np.ndarray, texts: np.ndarray,
                      low: np.ndarray, high: np.ndarray, guess: np.ndarray, confidence: np.ndarray) -> None:
        """Write filled numbers into blank feature cells and mark them (with their 95 % interval).

        Parameters
        ----------
        rows, cols : (c,) int
            Sheet rows and feature columns of the cells.
        texts : (c,) object
            The values as text in the column's unit.
        low, high : (c,) float
        guess, confidence : (c,)
            The row's most likely class and its probability (for the shading).
        """
        if not len(rows):
            return
        for c in np.unique(cols):
            sel = cols == c
            self._unpack(int(c))[rows[sel]] = texts[sel]
            self._parse_cells(int(c), rows[sel])
        self._numbers_any = True
        for r, c, lo, hi, g, p in zip(rows.tolist(), cols.tolist(), low.tolist(), high.tolist(),
                                      guess.tolist(), confidence.tolist(), strict=True):
            marks = self._number_marks[r]
            if marks is None:
                marks = self._number_marks[r] = {}
            marks[c] = (lo, hi, g, p)
        self._emit(CellsChanged(int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())))

    def _restore_numbers(self, col: int, imputed, low, high) -> None:
        """Marks of filled numbers read back from a saved ``<feature>_imputed/_low/_high``."""
        rows = np.flatnonzero([isinstance(v, str) and v.strip().lower() == "true" for v in imputed])
        rows = rows[np.isfinite(self._values[col][rows])]
        if not len(rows):
            return

        def num(v) -> float:
            try:
                return float(v.strip().replace(",", ".")) if isinstance(v, str) else float("nan")
            except ValueError:
                return float("nan")

        self._numbers_any = True
        for r in rows.tolist():
            marks = self._number_marks[r]
            if marks is None:
                marks = self._number_marks[r] = {}
            marks[col] = (num(low[r]), num(high[r]), -1, float("nan"))  # the class is not saved

    def number_mark(self, row: int, col: int) -> tuple[float, float, int, float] | None:
        """(low, high, class, probability) of a filled number cell: its 95 % interval and its
        row's most likely class; None when the cell was not filled."""
        if not self._numbers_any:
            # No number filled: the table's paints make no (n,) array of
            # None (five million rows: 40 MB, ~40 ms of the GUI thread).
            return None
        marks = self._number_marks[row]
        return None if marks is None else marks.get(col)

    def number_filled(self, col: int) -> np.ndarray:
        """``(n_rows,)`` bool: the cells of a feature column holding a filled number."""
        out = np.zeros(self._n_rows, dtype=bool)
        if not self._numbers_any:
            return out
        rows = np.flatnonzero(_not_none(self._number_marks))
        if len(rows):
            out[rows] = [col in self._number_marks[r] for r in rows]
        return out

    def _drop_number_marks(self, rows: np.ndarray, col: int | None = None) -> np.ndarray:
        """Drop the marks of ``rows`` (of one column, or all); returns the (row, col) pairs dropped, (d, 2)."""
        dropped = []
        if not self._numbers_any:
            return np.zeros((0, 2), dtype=np.int64)
        for r in rows[_not_none(self._number_marks[rows])].tolist():
            marks = self._number_marks[r]
            for c in [col] if col is not None else list(marks):
                if c in marks:
                    del marks[c]
                    dropped.append((r, c))
            if not marks:
                self._number_marks[r] = None
        return np.array(dropped, dtype=np.int64).reshape(-1, 2)

    def clear_numbers(self, rows: np.ndarray | None = None) -> None:
        """Blank the filled numbers of ``rows`` (all rows for None) again and drop their marks."""
        if not self._numbers_any:
            return
        if rows is None:
            rows = np.flatnonzero(_not_none(self._number_marks))
        rows = np.asarray(rows, dtype=np.int64)
        dropped = self._drop_number_marks(rows)
        for c in np.unique(dropped[:, 1]):
            at = dropped[dropped[:, 1] == c, 0]
            self._unpack(int(c))[at] = None
            self._parse_cells(int(c), at)
        if len(dropped):
            self._emit(CellsChanged(int(dropped[:, 0].min()), int(dropped[:, 1].min()),
                                    int(dropped[:, 0].max()), int(dropped[:, 1].max())))

    def accept_filled(self) -> None:
        """Make every filled label the user's (uncertain blanks stay blank)."""
        rows = self.filled_rows()
        if not len(rows):
            return
        dropped = self._drop_number_marks(rows)
        self._clear_marks(rows)
        if self._before_fill_any:
            self._before_fill[rows] = None
        label = self._roles.label
        if len(dropped):
            self._emit(CellsChanged(int(rows.min()), 0, int(rows.max()), self.n_cols - 1))
        elif label is not None:
            self._emit(CellsChanged(int(rows.min()), label, int(rows.max()), label))

    def clear_filled(self, rows: np.ndarray | None = None) -> None:
        """Blank filled labels again (back to what they held: blank or a marker such as "?").

        Every filled or uncertain row and every filled number, or the labels
        of ``rows`` (other rows in it are left alone; see :meth:`clear_numbers`).
        """
        if rows is None:
            rows = self.filled_rows()
            self.clear_numbers(rows)
        else:
            rows = np.asarray(rows, dtype=np.int64)
            rows = rows[self.provenance[rows] != USER]
        rows = rows[self.provenance[rows] != USER]
        if not len(rows):
            return
        label = self._roles.label
        self._unfill(rows)
        self._missing_dirty(rows)
        self._emit(CellsChanged(int(rows.min()), label, int(rows.max()), label))

    # -- output ------------------------------------------------------------------

    def to_table(
        self, *, marks: bool = True, numbers: bool = True, arrow_marks: bool = False, copy: bool = True,
        mark_blocks: bool = False,
    ) -> tuple[list[str], list[np.ndarray]]:
        """Columns and raw cells for saving; with ``<label>_imputed/_confidence/_note``,
        ``<feature>_issue`` and the filled numbers' columns added (``marks``).

        ``arrow_marks``: ``<label>_imputed`` and ``_confidence`` as Arrow
        text (see :func:`mark_cells`), no Python ``str`` per filled row.
        ``mark_blocks`` (with ``arrow_marks``): those two as
        :class:`~emgui.core.fileio.ColumnBlocks`, made a block of rows at a
        time as a CSV is written (by the writer's threads on the command
        line) from the sheet's own marks, which must not change meanwhile.
        ``copy`` False: the sheet's own object arrays, not copies (for a
        caller that writes them at once and changes neither them nor the sheet).

        The raw cells are written exactly as typed, so reopening gives the same
        sheet back, filled marks included.  Each column as
        :meth:`column_snapshot` gives it (a packed one as its Arrow array).
        With ``numbers`` (and ``marks``), each feature with filled numbers
        adds ``<feature>_imputed``, ``_low`` and ``_high``.
        """
        columns = list(self._columns)
        cells = [
            self.column_snapshot(c) if copy or isinstance(self._cells[c], TextColumn) else self._cells[c]
            for c in range(self.n_cols)
        ]
        if marks and self._roles.label is not None:
            name = self._columns[self._roles.label]
            if arrow_marks and mark_blocks:
                imputed, conf = mark_blocks_of(self.provenance, self.confidence)
            else:
                imputed, conf = mark_cells(self.provenance, self.confidence, arrow=arrow_marks)
            columns += [name + "_imputed", name + "_confidence"]
            cells += [imputed, conf]
            notes = self.note_column()
            if notes is not None:
                columns.append(name + _NOTE_SUFFIX)
                cells.append(notes)
        if marks:
            # The reasons of unreadable and unusual cells, read back as the
            # program's own (an unusual mark is not made again on reading).
            for f in self._roles.features:
                if self.unreadable(f).any():
                    columns.append(self._columns[f] + _ISSUE_SUFFIX)
                    cells.append(self.issues(f).copy())
        if marks and numbers and self._numbers_any and _not_none(self._number_marks).any():
            for f in self._roles.features:
                filled = self.number_filled(f)
                if not filled.any():
                    continue
                imputed = np.empty(self._n_rows, dtype=object)
                imputed[:] = "false"
                imputed[filled] = "true"
                low = np.full(self._n_rows, None, dtype=object)
                high = np.full(self._n_rows, None, dtype=object)
                rows = np.flatnonzero(filled)
                low[rows] = [parsing.format_number(float(f"{self._number_marks[r][f][0]:.6g}")) for r in rows]
                high[rows] = [parsing.format_number(float(f"{self._number_marks[r][f][1]:.6g}")) for r in rows]
                columns += [self._columns[f] + s for s in _NUMBER_SUFFIXES]
                cells += [imputed, low, high]
        return columns, cells

    def mark_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """``<label>_imputed`` ("true"/"false") and ``<label>_confidence`` cells, ``(n_rows,)`` each."""
        return mark_cells(self.provenance, self.confidence)


def mark_cells(
    provenance: np.ndarray, confidence: np.ndarray, *, arrow: bool = False, uncertain: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``_imputed`` and ``_confidence`` cells of fill marks, ``(n,)`` each.

    ``"true"`` where ``provenance`` is ``FILLED`` (else ``"false"``), and the
    confidence there as short text (else blank).  Object arrays with two
    shared ``str`` objects for the flags and whole-array formatting for the
    numbers; with ``arrow``, Arrow string arrays built from bytes, without a
    Python object per row (the crash-recovery copy of a million rows, written
    after every fill, takes ~40 MB less that way).  ``uncertain``: for a
    block of rows, whether any row of the whole sheet is ``UNCERTAIN`` (so
    a block gives the cells the whole would); None looks at these rows.
    """
    filled = provenance == FILLED
    if uncertain is None:
        uncertain = bool((provenance == UNCERTAIN).any())
    # A blank left blank as uncertain keeps its best guess's probability too.
    shown = filled if not uncertain else (provenance != USER) & np.isfinite(confidence)
    if arrow:
        from . import _arrowtext as at

        imputed = at.bools_as_text(filled)  # "true" / "false"
        texts, lengths = _probability_bytes(confidence[shown]) if shown.any() else (np.zeros((0, 8), np.uint8), np.zeros(0, np.int32))
        full = np.zeros(len(provenance), dtype=np.int32)
        full[shown] = lengths
        return imputed, at.from_padded(texts, lengths, full, valid=shown)
    imputed = np.empty(len(provenance), dtype=object)
    imputed[:] = "false"  # one shared object (np.full would make one per row)
    imputed[filled] = "true"
    conf = np.full(len(provenance), None, dtype=object)
    if shown.any():
        conf[shown] = _format_probabilities(confidence[shown])
    return imputed, conf


def mark_blocks_of(provenance: np.ndarray, confidence: np.ndarray):
    """The ``_imputed`` and ``_confidence`` columns of :func:`mark_cells` (``arrow``), made a block at a time.

    Each block's cells are those of the whole columns (``uncertain`` is the
    whole sheet's).  A CSV writer makes them as it writes each block: the
    command line's beside the next ones on its second core (issue 14: ~45 ms
    of a 1M-row fill's export done in the writer's threads), the recovery
    copy a block's text at a time.  The arrays must not change meanwhile.
    """
    from . import _arrowtext as at
    from .fileio import ColumnBlocks

    uncertain = bool((provenance == UNCERTAIN).any())
    n = len(provenance)

    def imputed(start: int, stop: int):
        return at.bools_as_text(provenance[start:stop] == FILLED)

    def confidence_text(start: int, stop: int):
        return mark_cells(provenance[start:stop], confidence[start:stop], arrow=True, uncertain=uncertain)[1]

    return ColumnBlocks(n, imputed), ColumnBlocks(n, confidence_text)


def _probability_bytes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities as ASCII text: ``(n, w)`` uint8, each row's text zero-padded, and its length ``(n,)``.

    The text is ``"%.6f" % round(p, 6)`` with trailing zeros cut ("0.999977",
    "0.5", "1", "0").  Values in [0, 1] are spelt digit by digit from their
    rounded millionths (``np.round(p, 6)`` is ``rint(p * 1e6) / 1e6``), whole
    columns at a time; anything else (a confidence read back from a
    hand-edited file) one at a time, as wide as it needs (``w`` >= 8).
    """
    p = np.asarray(p, dtype=np.float64)
    ok = (p >= 0) & (p <= 1)
    odd = np.flatnonzero(~ok)
    others = [f"{round(float(p[i]), 6):.6f}".rstrip("0").rstrip(".").encode("ascii") for i in odd]
    width = max([8, *map(len, others)])
    m = np.rint(np.where(ok, p, 0.0) * 1e6).astype(np.int32)  # millionths: 0..1e6
    out = np.zeros((len(p), width), dtype=np.uint8)
    out[:, 0], out[:, 1] = ord("0"), ord(".")
    for j in range(6):  # a column at a time: small temporaries at 300k rows
        out[:, 2 + j] = (m // 10 ** (5 - j)) % 10 + ord("0")
    # "0." and six decimals, less the millionths' trailing zeros; a whole
    # number ("0", "1") without its point.  Arithmetic on the millionths:
    # any/argmax over the digits' rows took twice as long.
    lengths = np.full(len(p), 8, dtype=np.int32)
    for z in (10, 100, 1000, 10_000, 100_000, 1_000_000):
        lengths -= m % z == 0
    lengths[m % 1_000_000 == 0] = 1
    one = m >= 1_000_000
    out[one, 0] = ord("1")
    for i, text in zip(odd, others, strict=True):
        out[i] = 0
        out[i, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        lengths[i] = len(text)
    out[np.arange(width) >= lengths[:, None]] = 0  # the padding
    return out, lengths


def _format_probabilities(p: np.ndarray) -> np.ndarray:
    """Probabilities as short text with 6 decimals ("0.999977", "1", "0.5"), ``(n,)`` object.

    The text of :func:`_probability_bytes`, as ``str`` objects (the padding
    is zeros, which a fixed-width str view drops).
    """
    out, _ = _probability_bytes(p)
    if not len(out):
        return np.empty(0, dtype=object)
    # ASCII codes as UTF-32 code points: a fixed-width str view, trailing zeros dropped.
    return out.astype(np.uint32).view(f"U{out.shape[1]}").ravel().astype(object)


def _copy_marks(marks: np.ndarray) -> np.ndarray:
    """An object array of number marks with each row's dict copied (marks are changed in place)."""
    out = np.empty(len(marks), dtype=object)
    out[:] = [None if m is None else dict(m) for m in marks]
    return out


def _converted(parsed: parsing.ParsedColumn) -> np.ndarray:
    """``(n,)`` bool: the value is a number other than the text read as a plain number."""
    values = parsed.values
    # A bool per row rather than the plain numbers themselves: 1 MB, not 8, per million.
    gap = parsed.plain - values
    np.abs(gap, out=gap)  # in place: one temporary of 8 bytes a row, not two
    return np.isfinite(values) & ~(gap <= 1e-9)


def _missing_mask(raw: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: the label cells that name no class (blank or a missing marker).

    The same test the fit uses (:func:`~emgui.core.parsing.encode_labels`
    gives them code -1), so a cell is blank here exactly when the fit sees no
    label in it.
    """
    if not len(raw):
        return np.zeros(0, dtype=bool)
    codes, _ = parsing.encode_labels(raw)
    return codes < 0


def _not_none(arr: np.ndarray) -> np.ndarray:
    # Compares the items' addresses with None's: C speed, no item touched.
    arr = np.asarray(arr)
    return ~parsing._is_none(arr) if arr.dtype == object else np.ones(len(arr), dtype=bool)


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of sorted indices as (first, count)."""
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(idx)]])
    return [(int(idx[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]
