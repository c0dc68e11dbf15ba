"""The table the window shows: a Qt adapter over a :class:`~emgui.core.sheet.Sheet`.

:class:`SheetTableModel` reads every cell straight from the sheet's arrays
when the view asks for it (nothing is built per cell up front) and
translates the sheet's change events into exact Qt notifications
(``beginInsertRows``/``endInsertRows``, ``dataChanged(top_left,
bottom_right)``).  It never holds the window: edits typed into the view go
to an optional ``QUndoStack`` as commands, or straight to the sheet.

View layout
-----------
* Columns: the sheet's columns, with one read-only "Confidence" column
  right after the label column.
* Rows: the sheet's rows through a permutation ``order`` (view row -> sheet
  row) that sorting and filtering change; the sheet itself never moves, so
  saving keeps the original order.  One extra empty row at the bottom:
  typing into it appends a row.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from emgui.core import parsing
from emgui.core.sheet import (
    FILLED,
    UNCERTAIN,
    UNUSUAL_PREFIX,
    USER,
    CellsChanged,
    RowsInserted,
    RowsRemoved,
    Sheet,
    SheetReset,
)
from emgui.ui import pacing, palette

__all__ = ["FILTERS", "FILLED_MARK", "SheetTableModel"]

#: Row filters offered by the window, as (key, label).
FILTERS: tuple[tuple[str, str], ...] = (
    ("all", "All rows"),
    ("missing", "Missing label"),
    ("filled", "Filled"),
    ("uncertain", "Uncertain"),
    ("unreadable", "Unreadable or unusual"),
    ("notes", "With a note"),
)

#: Suffix marking a filled label, so filled cells differ from typed ones
#: by more than colour (and italics).
FILLED_MARK = " •"
UNCERTAIN_TEXT = "?"

_UNREADABLE_BG = QColor("#F6D3D3")
_UNREADABLE_FG = QColor("#7A0000")
_UNCERTAIN_BG = QColor("#EDEDED")
_UNCERTAIN_FG = QColor("#555555")
_CONFIDENCE_HEADER = "Confidence"

_ALIGN_NUMBER = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)


#: A sheet's row numbers made ahead in the thread that read it (see
#: :func:`prepare_row_numbers`), taken by the first model that shows it.
_prepared_rows: list[np.ndarray] = []


def prepare_row_numbers(n: int) -> None:
    """Make ``np.arange(n)`` now, in this (background) thread, for the next :func:`_row_numbers` ``(n)``.

    Showing a new sheet numbers its rows on the GUI thread; five million
    rows took 40-90 ms there (fresh memory is slow to map on this
    project's machine), a pause of the window (issue 14 item 3: open of
    5M rows, every pause <= 50 ms).  The loader thread makes them instead;
    only the last prepared array is kept, and only until it is taken.
    """
    _prepared_rows[:] = [np.arange(n, dtype=_row_dtype(n))]


def _row_dtype(n: int) -> type:
    """int32 for the row numbers of a sheet below 2**31 rows, else int64.

    The unsorted table's order is every row's number, kept as long as the
    sheet is shown: at a million rows int32 holds it in 4 MB less (the
    window's peak, issue 14 item 3: <= 300 MB; ``bench_window.py``).
    """
    return np.int32 if n < 2**31 else np.int64


def _row_numbers(n: int) -> np.ndarray:
    """``np.arange(n)`` (see :func:`_row_dtype`); the one :func:`prepare_row_numbers` made, if it fits."""
    ready = _prepared_rows.pop() if _prepared_rows else None
    return ready if ready is not None and len(ready) == n else np.arange(n, dtype=_row_dtype(n))


def _plain_float(text: str) -> float | None:
    """``text`` as a float when it is written as a plain number, else None."""
    try:
        return float(text)
    except ValueError:
        return None


_TYPED_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def _typed_number(text: str) -> float | None:
    """A number typed plainly with either decimal mark (``177,25``, ``181.0``), else None.

    A lone comma is a decimal comma, as the core reads a height cell, so
    a cell that reads as exactly this number is shown as typed: its own
    decimals and its own mark.
    """
    t = text.strip()
    if _TYPED_NUMBER.fullmatch(t) is None:
        return _plain_float(t)
    return float(t.replace(",", "."))


def _percent(p: float) -> str:
    # One decimal, and never a flat "100 %": EM is never certain of a filled cell.
    if p >= 0.9995:
        return "> 99.9 %"
    return f"{100.0 * p:.1f} %"


def _text_sort_perm(raw, descending: bool) -> np.ndarray | None:
    """Stable sort of text cells by ``str.casefold()``, None last, in Arrow; None if not all text.

    ``raw`` is an object array of cells or an Arrow string array.  The same
    order as ranking the casefolded texts with numpy (code-point order is
    UTF-8 byte order), but in C: ASCII cells are lowered by Arrow
    (``casefold`` is ``lower`` for them) and only the others by Python.  A
    million names sort in well under a second instead of ~3 s.
    """
    import pyarrow.compute as pc

    from emgui.core import _arrowtext as at

    if isinstance(raw, np.ndarray):
        try:
            texts = at.from_cells(raw)
        except TypeError:
            return None
    else:
        texts = raw
    folded = pc.ascii_lower(texts)
    other = ~at.to_bools(pc.string_is_ascii(texts), null=True)
    if other.any():
        spelt = np.empty(int(other.sum()), dtype=object)
        others = raw[other] if isinstance(raw, np.ndarray) else at.to_cells(texts.filter(at.from_bools(other)))
        spelt[:] = [v.casefold() for v in others]
        folded = pc.replace_with_mask(folded, at.from_bools(other), at.from_cells(spelt))
    order = "descending" if descending else "ascending"
    perm = pc.array_sort_indices(folded, order=order, null_placement="at_end")  # stable
    return at.to_numbers(perm, np.uint64).astype(np.int64)


def _filter_mask(sheet: Sheet, mode: str) -> np.ndarray | None:
    """``(n_rows,)`` bool: the rows ``mode`` shows; None for every row."""
    if mode == "all":
        return None
    if mode == "missing":
        return sheet.label_missing() & (sheet.provenance != FILLED)
    if mode == "filled":
        return sheet.provenance == FILLED
    if mode == "uncertain":
        return sheet.provenance == UNCERTAIN
    if mode == "notes":
        notes = sheet.note_column()
        return np.zeros(sheet.n_rows, dtype=bool) if notes is None else notes != None  # noqa: E711
    mask = np.zeros(sheet.n_rows, dtype=bool)
    for f in sheet.roles.features:
        mask |= sheet.unreadable(f)
    return mask


def compute_order(
    sheet: Sheet, view_cols: Sequence[int], features: set[int], mode: str, sort: tuple[int, Qt.SortOrder] | None,
    *, with_pos: bool = False,
) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """View row -> sheet row under a filter and a sort, without Qt: a helper thread may call it.

    Parameters
    ----------
    sheet : Sheet
    view_cols : sequence of int
        Sheet column of each view column (-1: the confidence column).
    features : set of int
        The sheet's feature columns.
    mode : str
        A key of :data:`FILTERS`.
    sort : (view column, Qt.SortOrder) or None
        None (or a column past the last) keeps the sheet's order.
    with_pos : bool
        Also make the inverse map.

    Returns
    -------
    order : ndarray, (n_shown,) int64; every row in order: int32 (see _row_dtype)
    identity : bool
        Whether ``order`` is every row in the sheet's order.
    pos : ndarray, (n_rows,) int32 or int64, or None
        Sheet row -> view row, -1 where hidden; None unless asked for.
    """
    n = sheet.n_rows
    mask = _filter_mask(sheet, mode)
    rows = None if mask is None else np.flatnonzero(mask).astype(np.int64)
    del mask
    if sort is None or sort[0] >= len(view_cols) or (rows is not None and not len(rows)) or n == 0:
        order = _row_numbers(n) if rows is None else rows
        identity = rows is None
    else:
        column, direction = sort
        perm = _sort_perm(sheet, features, view_cols[column], rows, direction == Qt.SortOrder.DescendingOrder)
        # Every row sorted: the permutation is the order (no (n,) arange to index).
        order = perm if rows is None else rows[perm]
        identity = False
    pos = None
    if with_pos and not identity:
        pos = np.full(n, -1, dtype=np.int32 if n < 2**31 else np.int64)
        pos[order] = np.arange(len(order), dtype=pos.dtype)
    return order, identity, pos


def _sort_perm(sheet: Sheet, features: set[int], col: int, rows: np.ndarray | None, descending: bool) -> np.ndarray:
    """The stable permutation sorting ``rows`` (None: every row) by sheet column ``col``, blanks last."""
    if col >= 0 and col not in features:
        if sheet.is_packed(col):
            # Straight from the packed text: no Python str per cell.
            from emgui.core import _arrowtext as at

            cells = sheet.column_snapshot(col)
            if rows is not None:
                cells = cells.take(at.from_ints(rows))
        else:
            cells = sheet.column_cells(col)
            if rows is not None:
                cells = cells[rows]
        perm = _text_sort_perm(cells, descending)
        if perm is not None:
            return perm
    key, missing = _sort_key(sheet, features, col, rows)
    # Blanks go last either way (keys are finite, blanks +inf); ties keep
    # the sheet's order (stable sort).  One argsort, not a two-key
    # lexsort: ~1.5x faster at a million rows.  In place, and ranks by
    # searchsorted rather than np.unique(return_inverse): a third of
    # the temporary memory at a million rows.
    if descending:
        np.negative(key, out=key)
    key[missing] = np.inf
    del missing
    ranks = np.unique(key)
    if len(ranks) <= 2**16:
        # Few distinct values (heights to a millimetre): numpy's stable
        # sort of 16-bit integers is a radix sort, several times faster.
        rank = np.searchsorted(ranks, key).astype(np.uint16)
        del key
        return np.argsort(rank, kind="stable")
    return np.argsort(key, kind="stable")


def _sort_key(sheet: Sheet, features: set[int], col: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A float key per row (ranks for text) and a missing flag, ``(r,)`` each, a new array each."""
    every = slice(None) if rows is None else rows
    if col < 0:
        key = sheet.confidence[every].astype(np.float64)  # a copy either way: changed in place
        missing = ~np.isfinite(key) | (sheet.provenance[every] == USER)
        key[missing] = 0.0
        return key, missing
    if col in features:
        key = sheet.values(col)[every]
        if rows is None:
            key = key.copy()  # changed in place below
        missing = ~np.isfinite(key)
        key[missing] = 0.0
        return key, missing
    raw = sheet.cells(col, np.arange(sheet.n_rows) if rows is None else rows)
    missing = np.equal(raw, None)
    texts = np.array(["" if v is None else str(v).casefold() for v in raw], dtype=str)
    _, ranks = np.unique(texts, return_inverse=True)
    return ranks.astype(np.float64), missing


class _OrderJob:
    """One order of the rows computed in a helper thread: what was asked, of which sheet and version.

    The thread reads the sheet while the GUI thread may change it; its
    result is only shown if the sheet's version is still the one taken here
    (else it is computed again), so an edit, an inserted or a removed row
    meanwhile is never shown at a stale place.  ``box`` gets the result,
    or the exception; the GUI thread polls it (no Qt object crosses threads).
    """

    def __init__(self, sheet: Sheet, view_cols: list[int], features: set[int], mode: str, sort) -> None:
        self.sheet, self.version = sheet, sheet.version
        self.view_cols, self.features = view_cols, features
        self.filter, self.sort = mode, sort
        self.box: list = []

    def run(self) -> None:
        try:
            result = compute_order(self.sheet, self.view_cols, self.features, self.filter, self.sort, with_pos=True)
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, raised there if it still matters
            result = exc
        self.box.append(result)  # list.append is atomic


#: How often the GUI thread looks whether a helper thread has the rows' new order (ms).
_POLL_MS = 15

_FLAGS_READ_ONLY = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_FLAGS_EDITABLE = _FLAGS_READ_ONLY | Qt.ItemFlag.ItemIsEditable


class SheetTableModel(QAbstractTableModel):
    """Table model over a :class:`Sheet`, with view-only sorting and filtering.

    Parameters
    ----------
    sheet : Sheet
        The document shown; the model subscribes to its events.
    undo_stack : QUndoStack, optional
        Where edits typed into the view go, as
        :class:`emgui.ui.commands.SetCellsCommand`; without one, edits are
        written to the sheet directly.
    parent : QObject, optional

    Signals
    -------
    rows_reordered()
        Sorting or filtering changed which sheet row each view row shows.
    reordering_started()
        A large sheet's new order is being computed in a helper thread.
    reordering_finished()
        ...and is shown now (after ``rows_reordered``), or was dropped.
    """

    rows_reordered = Signal()
    reordering_started = Signal()
    reordering_finished = Signal()

    def __init__(self, sheet: Sheet, undo_stack=None, parent=None) -> None:
        super().__init__(parent)
        self._undo_stack = undo_stack
        self._sheet: Sheet | None = None
        self._filter = "all"
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._brushes: dict[tuple[int, int, int], QBrush] = {}
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bg_unreadable = QBrush(_UNREADABLE_BG)
        self._bg_uncertain = QBrush(_UNCERTAIN_BG)
        self._fg_unreadable = QBrush(_UNREADABLE_FG)
        self._fg_uncertain = QBrush(_UNCERTAIN_FG)
        # A large sheet's order, computed in a helper thread: the filter and
        # sort asked for (None when none is pending) and the job running.
        self._wanted: tuple[str, tuple[int, Qt.SortOrder] | None] | None = None
        self._job: _OrderJob | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(_POLL_MS)
        self._poll.timeout.connect(self._poll_job)
        self._install(sheet)

    # -- the sheet --------------------------------------------------------------------

    @property
    def sheet(self) -> Sheet:
        """The sheet shown."""
        return self._sheet

    def set_sheet(self, sheet: Sheet) -> None:
        """Show another sheet (sorting is dropped, the filter kept)."""
        wanted = self._wanted
        if wanted is not None:
            self._filter = wanted[0]  # a filter asked for is kept too
        self.beginResetModel()
        if self._sheet is not None:
            self._sheet.unsubscribe(self._on_sheet_event)
        self._sort = None
        self._install(sheet)
        self.endResetModel()
        self.rows_reordered.emit()
        self._drop_job()

    def _install(self, sheet: Sheet) -> None:
        self._sheet = sheet
        sheet.subscribe(self._on_sheet_event)
        self._map_columns()
        self._order, self._identity = self._compute_order()
        self._pos: np.ndarray | None = None

    def _map_columns(self) -> None:
        """Recompute view column <-> sheet column (-1: the confidence column)."""
        sheet = self._sheet
        label = sheet.roles.label
        view: list[int] = []
        for c in range(sheet.n_cols):
            view.append(c)
            if c == label:
                view.append(-1)
        self._view_cols = view
        # One pass (view.index per column was quadratic: 1.6 s for 20,000 columns).
        to_view = [0] * sheet.n_cols
        for v, c in enumerate(view):
            if c >= 0:
                to_view[c] = v
        self._sheet_to_view = to_view
        self._label = label
        self._features = set(sheet.roles.features)
        self._n_classes = max(len(sheet.fill_classes), 2)

    # -- mapping ----------------------------------------------------------------------

    @property
    def confidence_column(self) -> int:
        """View column of the confidence column, or -1 without a label column."""
        return -1 if self._label is None else self._label + 1

    def sheet_column(self, view_col: int) -> int:
        """Sheet column shown in ``view_col`` (-1 for the confidence column)."""
        return self._view_cols[view_col]

    def view_column(self, sheet_col: int) -> int:
        """View column showing ``sheet_col``."""
        return self._sheet_to_view[sheet_col]

    def sheet_row(self, view_row: int) -> int:
        """Sheet row shown in ``view_row``; ``sheet.n_rows`` for the empty last row."""
        if view_row >= len(self._order):
            return self._sheet.n_rows
        return int(self._order[view_row])

    def view_row(self, sheet_row: int) -> int:
        """View row showing ``sheet_row``, or -1 when the filter hides it."""
        if self._identity:
            return sheet_row
        if self._pos is None:
            pos = np.full(self._sheet.n_rows, -1, dtype=np.int64)
            ok = self._order >= 0
            pos[self._order[ok]] = np.flatnonzero(ok)
            self._pos = pos
        return int(self._pos[sheet_row]) if 0 <= sheet_row < len(self._pos) else -1

    @property
    def n_data_rows(self) -> int:
        """View rows showing sheet rows (without the empty last row)."""
        return len(self._order)

    # -- Qt model API -----------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid():
            return 0
        return len(self._order) + 1

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid():
            return 0
        return len(self._view_cols)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # Combined once (module constants): "|" on Qt flags builds enum
        # objects in Python, and a repaint asks for every visible cell's flags.
        return _FLAGS_READ_ONLY if self._view_cols[index.column()] < 0 else _FLAGS_EDITABLE

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY):
        if not index.isValid():
            return None
        r = index.row()
        order = self._order
        if r >= len(order):
            return "" if role == _EDIT else None
        row = int(order[r])
        if row < 0 or row >= self._sheet.n_rows:
            return None  # a row on its way out (the sheet announces removals afterwards)
        col = self._view_cols[index.column()]
        if col < 0:
            return self._confidence_data(row, role)
        if col == self._label:
            return self._label_data(row, col, role)
        if col in self._features:
            return self._feature_data(row, col, role)
        if role in (_DISPLAY, _EDIT):
            text = self._sheet.text(row, col)
            return "" if text is None and role == _EDIT else text
        if role == _ALIGN:
            # Numbers right, text left, as in a spreadsheet: a column of
            # numbers that is not a feature (an age, a speed) still reads as one.
            value = None if (text := self._sheet.text(row, col)) is None else _plain_float(text)
            if value is not None and math.isfinite(value):
                return _ALIGN_NUMBER
        return None

    def _label_data(self, row: int, col: int, role: int):
        sheet = self._sheet
        status = int(sheet.provenance[row])
        if status == USER:
            if role in (_DISPLAY, _EDIT):
                text = sheet.text(row, col)
                return "" if text is None and role == _EDIT else text
            return None
        if role == _DISPLAY:
            if status == FILLED:
                text = sheet.text(row, col)
                return (text or "") + FILLED_MARK
            return UNCERTAIN_TEXT
        if role == _EDIT:
            return sheet.text(row, col) or ""
        if role == _BACKGROUND:
            if status == FILLED:
                return self._shade(int(sheet.guess[row]), float(sheet.confidence[row]))
            return self._bg_uncertain
        if role == _FONT:
            return self._italic
        if role == _FOREGROUND:
            return self._fg_uncertain if status == UNCERTAIN else None
        if role == _TOOLTIP:
            return self._fill_tooltip(row, status)
        return None

    def _feature_data(self, row: int, col: int, role: int):
        sheet = self._sheet
        text = sheet.text(row, col)
        if text is None:
            return "" if role == _EDIT else None
        if role == _EDIT:
            return text
        issue = sheet.issue(row, col)
        if issue is not None:
            if role == _DISPLAY:
                return text
            if role == _BACKGROUND:
                return self._bg_unreadable
            if role == _FOREGROUND:
                return self._fg_unreadable
            if role == _TOOLTIP:
                if issue.startswith(UNUSUAL_PREFIX):
                    return (
                        f"Unusual under the fit: {issue[len(UNUSUAL_PREFIX):]}. This row took no part "
                        "in the fit and its blank label was not filled; correct the value and press F5."
                    )
                return f"Cannot read “{text}”: {issue}. This row takes no part in the fit."
            return None
        mark = sheet.number_mark(row, col)
        if mark is not None:  # a blank number filled by EM: drawn like a filled label
            if role == _DISPLAY:
                return text + FILLED_MARK
            if role == _FONT:
                return self._italic
            if role == _BACKGROUND:  # no class when read back from a saved file
                return self._shade(int(mark[2]), float(mark[3])) if mark[2] >= 0 else None
            if role == _ALIGN:
                return _ALIGN_NUMBER
            if role == _TOOLTIP:
                lo, hi = (parsing.format_number(float(f"{v:.4g}")) for v in mark[:2])
                return (f"Filled by EM: the mean given the row's class and its other values; "
                        f"95 % between {lo} and {hi}.")
            return None
        if role == _DISPLAY:
            value = float(sheet.values(col)[row])
            if not math.isfinite(value):
                return text
            plain = _typed_number(text)
            if plain is not None and plain == value:
                return text.strip()  # as typed: 177,25 stays 177,25, 181.0 stays 181.0
            # Read from another form (a unit, feet and inches): the value in
            # the column's unit, with the file's decimal mark.
            shown = parsing.format_number(round(value, 1))
            dialect = sheet.dialect
            return shown.replace(".", ",") if dialect is not None and dialect.decimal == "," else shown
        if role == _ALIGN:
            return _ALIGN_NUMBER
        if role == _TOOLTIP:
            value = float(sheet.values(col)[row])
            plain = _typed_number(text)
            if math.isfinite(value) and (plain is None or plain != value):
                unit = sheet.unit(col)
                shown = parsing.format_number(round(value, 3))
                return f"Typed as “{text}”, read as {shown}{' ' + unit if unit else ''}."
        return None

    def _confidence_data(self, row: int, role: int):
        sheet = self._sheet
        status = int(sheet.provenance[row])
        if status == USER:
            return None
        conf = float(sheet.confidence[row])
        if role == _DISPLAY:
            return _percent(conf) if math.isfinite(conf) else None
        if role == _ALIGN:
            return _ALIGN_NUMBER
        if role == _FONT:
            return self._italic
        if role == _TOOLTIP:
            return self._fill_tooltip(row, status)
        return None

    def _shade(self, guess: int, confidence: float) -> QBrush:
        # About 100 distinct shades per class: a brush per cell would be wasteful.
        key = (guess, round(confidence * 100) if math.isfinite(confidence) else -1, self._n_classes)
        brush = self._brushes.get(key)
        if brush is None:
            brush = QBrush(palette.shade(guess, confidence, self._n_classes))
            self._brushes[key] = brush
        return brush

    def _fill_tooltip(self, row: int, status: int) -> str:
        sheet = self._sheet
        classes = sheet.fill_classes
        names = [sheet.fill_spellings.get(c, c) for c in classes]
        guess = int(sheet.guess[row])
        conf = float(sheet.confidence[row])
        best = names[guess] if 0 <= guess < len(names) else "?"
        note = sheet.note(row)
        if status == FILLED:
            head = f"Filled by EM: {best}, {_percent(conf)} sure."
        elif note is not None and not note.startswith("uncertain"):
            head = f"Left blank: {note}."
            note = None
        else:
            head = (
                f"Left blank: the best guess, {best} ({_percent(conf)}), "
                "is below the confidence threshold."
            )
        lines = [head]
        if note is not None and not note.startswith("uncertain"):
            lines.append(f"Note: {note}.")
        probs = sheet.probabilities([row])[0]
        if len(probs) == len(names):
            for name, p in sorted(zip(names, probs, strict=True), key=lambda t: -t[1]):
                if math.isfinite(p):
                    lines.append(f"  {name}: {_percent(float(p))}")
        return "\n".join(lines)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY):  # noqa: N802
        if orientation == Qt.Orientation.Vertical:
            if role != _DISPLAY:
                return None
            if section >= len(self._order):
                return "*"
            row = int(self._order[section])
            return None if row < 0 else str(row + 1)
        if not 0 <= section < len(self._view_cols):
            return None
        col = self._view_cols[section]
        if role == _DISPLAY:
            return self._header_text(col)
        if role == _TOOLTIP:
            return self._header_tooltip(col)
        return None

    def _header_text(self, col: int) -> str:
        sheet = self._sheet
        if col < 0:
            return _CONFIDENCE_HEADER
        name = sheet.columns[col]
        if col == self._label:
            return f"{name} (label)"
        if col in self._features:
            unit = sheet.unit(col)
            if unit and f"({unit})" not in name.replace(" ", ""):
                name = f"{name} ({unit})"
            return f"{name} ↦ feature"
        return name

    def _header_tooltip(self, col: int) -> str:
        if col < 0:
            return "How sure EM is of each filled label. Sort by it to review the least certain first."
        if col == self._label:
            return "The label column: blank cells are filled by EM (F5)."
        if col in self._features:
            unit = self._sheet.unit(col)
            what = f"heights in {unit}" if unit else "plain numbers"
            return f"A feature column the mixture is fitted on ({what})."
        return "Kept as it is; not used by the fit."

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = _EDIT) -> bool:  # noqa: N802
        if not index.isValid() or role != _EDIT:
            return False
        col = self._view_cols[index.column()]
        if col < 0:
            return False
        row = self.sheet_row(index.row())
        text = None if value is None else str(value)
        if text == "":
            text = None
        sheet = self._sheet
        if row >= sheet.n_rows:
            if text is None:
                return False  # leaving the empty row empty adds nothing
        elif text == sheet.text(row, col) and not (col == self._label and sheet.provenance[row] != USER):
            return True
        return self.edit_cells([row], col, [[text]], "Edit Cell")

    def edit_cells(self, rows: Sequence[int], col: int, block: Sequence[Sequence[str | None]], text: str) -> bool:
        """Write ``block`` into sheet ``rows`` from sheet column ``col``, undoably.

        Parameters
        ----------
        rows : sequence of int, length n
            Sheet row of each block row; indices from ``sheet.n_rows`` on
            append rows (they must be consecutive and last).
        col : int
            Sheet column of the block's first column.
        block : sequence of sequences of str or None, n x w
        text : str
            Undo menu text.

        Returns
        -------
        bool
            Whether the cells were written.  A write that failed is rolled
            back and reported by the undo stack
            (:class:`emgui.ui.commands.SheetUndoStack`); without a stack
            its exception is raised here.
        """
        from emgui.ui.commands import SetCellsCommand

        cmd = SetCellsCommand(self._sheet, rows, col, block, text)
        if self._undo_stack is not None:
            return self._undo_stack.push(cmd) is not False  # a plain QUndoStack returns None
        failure = cmd.do()
        if failure is not None:
            raise failure.error
        return True

    # -- sorting and filtering --------------------------------------------------------

    @property
    def filter_mode(self) -> str:
        """The filter of the rows shown (one asked for while :attr:`reordering` shows once it is done)."""
        return self._filter

    @property
    def sort_state(self) -> tuple[int, Qt.SortOrder] | None:
        """The view column and order the rows shown are sorted by, or None for the sheet's order."""
        return self._sort

    @property
    def reordering(self) -> bool:
        """Whether a new order of the rows is being computed in a helper thread."""
        return self._wanted is not None

    def set_filter(self, mode: str) -> None:
        """Show ``"all"``, ``"missing"``, ``"filled"``, ``"uncertain"``, ``"unreadable"`` or ``"notes"`` rows.

        A large sheet's rows are chosen in a helper thread (see :meth:`sort`).
        """
        if mode not in dict(FILTERS):
            raise ValueError(f"unknown filter {mode!r}")
        self._reorder(mode, self._wanted[1] if self._wanted is not None else self._sort)

    def refilter(self) -> None:
        """Apply the filter and sort again to the current data."""
        self.set_filter(self._wanted[0] if self._wanted is not None else self._filter)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the view (not the sheet) by view ``column``; -1 restores the sheet's order.

        A sheet of ``pacing.LARGE_ROWS`` rows or more is sorted in a helper
        thread: :attr:`reordering_started` now, the rows shown swap in one
        step when the order is ready (:attr:`rows_reordered`, then
        :attr:`reordering_finished`).  A later sort or filter supersedes
        one still running; a sheet changed meanwhile is sorted again.
        """
        if column >= len(self._view_cols):
            return
        sort = None if column < 0 else (column, order)
        self._reorder(self._wanted[0] if self._wanted is not None else self._filter, sort)

    def _reorder(self, mode: str, sort: tuple[int, Qt.SortOrder] | None) -> None:
        """Show the rows under ``mode`` and ``sort``: now for a small sheet, else from a helper thread."""
        sheet = self._sheet
        if self._wanted is None:
            if sheet.n_rows < pacing.LARGE_ROWS:
                order, identity, pos = compute_order(sheet, self._view_cols, self._features, mode, sort)
                self._show_order(mode, sort, order, identity, pos)
                return
            if self._identity and mode == self._filter and sort is None:
                return  # already every row in the sheet's order: nothing to compute
        busy = self._wanted is not None
        self._wanted = (mode, sort)
        if self._job is None:
            self._start_job()
        if not busy:
            self.reordering_started.emit()

    def _start_job(self) -> None:
        mode, sort = self._wanted
        self._job = job = _OrderJob(self._sheet, list(self._view_cols), set(self._features), mode, sort)
        threading.Thread(target=job.run, name="emgui-sort", daemon=True).start()
        self._poll.start()

    def _poll_job(self) -> None:
        """A timer of the GUI thread: show the helper thread's order once it is there and still wanted."""
        job = self._job
        if job is None or not job.box:
            if job is None:
                self._poll.stop()
            return
        self._job = None
        if self._wanted is None:  # dropped (another sheet is shown)
            self._poll.stop()
            return
        sheet = self._sheet
        if (
            job.sheet is not sheet
            or job.version != sheet.version  # edited, rows inserted or removed meanwhile: again
            or (job.filter, job.sort) != self._wanted  # superseded by a later request
            or job.view_cols != self._view_cols
        ):
            self._start_job()
            return
        self._poll.stop()
        self._wanted = None
        result = job.box[0]
        try:
            if isinstance(result, BaseException):
                raise result  # the same sheet, unchanged: a real error, for the window's handler
            self._show_order(job.filter, job.sort, *result)
        finally:
            self.reordering_finished.emit()

    def _drop_job(self) -> None:
        """Forget an order still being computed (its thread ends on its own; the result is dropped)."""
        if self._wanted is not None:
            self._wanted = None
            self.reordering_finished.emit()

    def _show_order(self, mode: str, sort, order: np.ndarray, identity: bool, pos: np.ndarray | None) -> None:
        """Swap in a new order of the rows: a reset for another filter, else a layout change."""
        if sort is not None and sort[0] >= len(self._view_cols):
            sort = None
        if mode != self._filter or len(order) != len(self._order):
            self.beginResetModel()
            self._filter, self._sort = mode, sort
            self._order, self._identity, self._pos = order, identity, pos
            self.endResetModel()
            self.rows_reordered.emit()
            return
        self.layoutAboutToBeChanged.emit()
        old_order = self._order
        self._sort = sort
        self._order, self._identity, self._pos = order, identity, pos
        n_old = len(old_order)
        persistent = self.persistentIndexList()
        if persistent:
            new_from_old = []
            for idx in persistent:
                r = idx.row()
                # The empty row stays last.
                new_r = len(self._order) if r >= n_old else self.view_row(int(old_order[r]))
                new_from_old.append(self.index(new_r, idx.column()) if new_r >= 0 else QModelIndex())
            self.changePersistentIndexList(persistent, new_from_old)
        self.layoutChanged.emit()
        self.rows_reordered.emit()

    def _compute_order(self) -> tuple[np.ndarray, bool]:
        """View row -> sheet row under the current filter and sort, now; and whether it is the identity."""
        order, identity, _ = compute_order(self._sheet, self._view_cols, self._features, self._filter, self._sort)
        if self._sort is not None and self._sort[0] >= len(self._view_cols):
            self._sort = None
        return order, identity

    # -- sheet events -----------------------------------------------------------------

    def _on_sheet_event(self, event: object) -> None:
        if isinstance(event, CellsChanged):
            self._on_cells_changed(event)
        elif isinstance(event, RowsInserted):
            self._on_rows_inserted(event.first, event.count)
        elif isinstance(event, RowsRemoved):
            self._on_rows_removed(event.first, event.count)
        elif isinstance(event, SheetReset):
            # The rows stay (columns or roles changed): a large sheet keeps
            # its current order while the new one is computed in a thread.
            later = self._sheet.n_rows >= pacing.LARGE_ROWS and not self._identity
            self.beginResetModel()
            self._map_columns()
            if not later:
                self._order, self._identity = self._compute_order()
                self._pos = None
            self.endResetModel()
            if later:
                # A job already running is computed again when it ends (the version changed).
                if self._wanted is None:
                    self._wanted = (self._filter, self._sort)
                    if self._job is None:
                        self._start_job()
                    self.reordering_started.emit()
            else:
                self.rows_reordered.emit()

    def _on_cells_changed(self, ev: CellsChanged) -> None:
        if ev.bottom < ev.top or ev.right < ev.left or not len(self._order):
            return
        self._n_classes = max(len(self._sheet.fill_classes), 2)
        left = self._sheet_to_view[ev.left]
        right = self._sheet_to_view[ev.right]
        if ev.right == self._label:
            right += 1  # the confidence column follows its label
        if self._identity:
            top, bottom = ev.top, min(ev.bottom, len(self._order) - 1)
            if bottom < top:
                return
        else:
            self.view_row(0)  # builds the inverse map
            shown = self._pos[ev.top : ev.bottom + 1]
            shown = shown[shown >= 0]
            if not len(shown):
                return
            top, bottom = int(shown.min()), int(shown.max())
        self.dataChanged.emit(self.index(top, left), self.index(bottom, right), [])

    def _on_rows_inserted(self, first: int, count: int) -> None:
        # The sheet has already changed; present the old rows at their new
        # sheet indices until endInsertRows, so views see a consistent model.
        order = self._order
        appended = first >= self._sheet.n_rows - count
        if self._identity or appended:
            at = first if self._identity else len(order)
        else:
            hits = np.flatnonzero(order == first)
            at = int(hits[0]) if len(hits) else len(order)
        self._order = np.where(order >= first, order + count, order)
        self.beginInsertRows(QModelIndex(), at, at + count - 1)
        new = np.arange(first, first + count, dtype=np.int64)
        self._order = np.concatenate([self._order[:at], new, self._order[at:]])
        self._pos = None
        self.endInsertRows()
        if appended and at == len(order):
            # Rows added at the end came from the empty row: what pointed at
            # it (the current cell, an open editor) now points at the first
            # new row, so Tab after typing a name moves along that row instead
            # of staying on the next empty row.
            for index in self.persistentIndexList():
                if index.row() == at + count:
                    self.changePersistentIndex(index, self.index(at, index.column()))

    def _on_rows_removed(self, first: int, count: int) -> None:
        order = self._order
        gone = (order >= first) & (order < first + count)
        shifted = np.where(order >= first + count, order - count, order)
        shifted[gone] = -1
        self._order = shifted
        self._pos = None
        view_rows = np.flatnonzero(gone)
        if not len(view_rows):
            return
        breaks = np.flatnonzero(np.diff(view_rows) != 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [len(view_rows)]])
        for s, e in reversed(list(zip(starts, ends, strict=True))):
            a, b = int(view_rows[s]), int(view_rows[e - 1])
            self.beginRemoveRows(QModelIndex(), a, b)
            self._order = np.concatenate([self._order[:a], self._order[b + 1 :]])
            self.endRemoveRows()
        self._pos = None

    # -- helpers for the window -------------------------------------------------------

    def label_choices(self, limit: int = 50) -> list[str]:
        """Distinct label spellings in the label column (for the editor), most common first."""
        sheet = self._sheet
        if self._label is None or sheet.n_rows == 0:
            return []
        raw = sheet.column_cells(self._label)
        user = sheet.provenance == USER
        values = raw[user] if not user.all() else raw
        counts: dict[str, int] = {}
        # A large sheet has few distinct labels; a sample finds them.
        step = max(1, len(values) // 20000)
        for v in values[::step]:
            if v is not None and not parsing.is_missing(v):
                counts[v] = counts.get(v, 0) + 1
        return [k for k, _ in sorted(counts.items(), key=lambda t: -t[1])[:limit]]
