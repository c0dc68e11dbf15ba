"""Undoable changes to a sheet, as ``QUndoCommand`` s.

Each command keeps what it needs to put the sheet back exactly: a
:class:`~emgui.core.sheet.Patch` from :meth:`Sheet.capture` (cells *and*
label marks, so undoing an edit of a filled cell brings its mark and
confidence back) or the :class:`~emgui.core.sheet.RemovedRows` of a row
deletion.  The state a command starts from is captured once, on its first
``redo``; the undo stack guarantees every later ``redo`` starts from it again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtGui import QUndoCommand

from emgui.core.sheet import USER, Patch, RemovedRows, Roles, Sheet

__all__ = [
    "AcceptFilledCommand",
    "ClearFilledCommand",
    "FillCommand",
    "InsertRowsCommand",
    "RemoveRowsCommand",
    "SetCellsCommand",
    "SetRolesCommand",
]


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Split ``rows`` (in the given order) into runs of consecutive values: (start index, length)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and rows[j] == rows[j - 1] + 1:
            j += 1
        runs.append((i, j - i))
        i = j
    return runs


class SetCellsCommand(QUndoCommand):
    """Write a block of text into the sheet: a typed cell, a paste, a clear.

    Parameters
    ----------
    sheet : Sheet
    rows : sequence of int, length n
        Sheet row for each block row (a sorted view gives scattered rows).
        Rows from ``sheet.n_rows`` on are appended; they must be
        consecutive and come last.
    col : int
        Sheet column of the block's first column; columns past the last are
        cut off.
    block : sequence of sequences of str or None, n x w
        Cell texts; ``""`` and None make a blank cell.
    text : str
        Shown in the Edit menu ("Undo Paste").
    """

    def __init__(
        self,
        sheet: Sheet,
        rows: Sequence[int],
        col: int,
        block: Sequence[Sequence[str | None]],
        text: str = "Edit",
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(text, parent)
        if len(rows) != len(block):
            raise ValueError("one sheet row is needed per block row")
        self._sheet = sheet
        self._rows = [int(r) for r in rows]
        self._col = int(col)
        self._block = [list(r) for r in block]
        self._patch: Patch | None = None
        self._n_before = 0
        self._added = 0

    def redo(self) -> None:
        sheet = self._sheet
        if self._patch is None:
            width = max((len(r) for r in self._block), default=0)
            cols = range(self._col, min(self._col + width, sheet.n_cols))
            existing = [r for r in self._rows if r < sheet.n_rows]
            self._patch = sheet.capture(existing, cols)
            self._n_before = sheet.n_rows
        for start, length in _runs(self._rows):
            sheet.set_block(self._rows[start], self._col, self._block[start : start + length])
        self._added = sheet.n_rows - self._n_before

    def undo(self) -> None:
        sheet = self._sheet
        if self._added:
            sheet.remove_rows(range(self._n_before, self._n_before + self._added))
        sheet.restore(self._patch)


class InsertRowsCommand(QUndoCommand):
    """Insert ``count`` blank rows before sheet row ``at``."""

    def __init__(self, sheet: Sheet, at: int, count: int = 1, parent: QUndoCommand | None = None) -> None:
        super().__init__("Insert Row" if count == 1 else f"Insert {count} Rows", parent)
        self._sheet = sheet
        self._at = max(0, min(int(at), sheet.n_rows))
        self._count = int(count)

    def redo(self) -> None:
        self._sheet.insert_rows(self._at, self._count)

    def undo(self) -> None:
        self._sheet.remove_rows(range(self._at, self._at + self._count))


class RemoveRowsCommand(QUndoCommand):
    """Delete sheet rows (any order, duplicates ignored).

    Contiguous runs are removed one at a time from the bottom up, so each
    removal is a single, consistent change for the table model; undo puts
    them back in the reverse order.
    """

    def __init__(self, sheet: Sheet, rows: Sequence[int], parent: QUndoCommand | None = None) -> None:
        rows = sorted({int(r) for r in rows if 0 <= int(r) < sheet.n_rows})
        super().__init__("Delete Row" if len(rows) == 1 else f"Delete {len(rows)} Rows", parent)
        self._sheet = sheet
        self._runs = [(rows[s], n) for s, n in _runs(rows)]
        self._removed: list[RemovedRows] = []

    def redo(self) -> None:
        self._removed = [
            self._sheet.remove_rows(range(first, first + n)) for first, n in reversed(self._runs)
        ]

    def undo(self) -> None:
        for removed in reversed(self._removed):
            self._sheet.restore_rows(removed)
        self._removed = []


class _MarksCommand(QUndoCommand):
    """Base for changes to the label column and its marks, undone from a patch."""

    def __init__(self, sheet: Sheet, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self._sheet = sheet
        self._patch: Patch | None = None
        self._classes = list(sheet.fill_classes)
        self._spellings = dict(sheet.fill_spellings)
        self._notes = sheet.fill_notes
        self._unusual = sheet.unusual_marks()

    def _capture(self, rows: np.ndarray) -> None:
        label = self._sheet.roles.label
        self._patch = self._sheet.capture(rows, [] if label is None else [label])

    def undo(self) -> None:
        sheet = self._sheet
        sheet.fill_classes = list(self._classes)
        sheet.fill_spellings = dict(self._spellings)
        sheet.fill_notes = self._notes
        if self._patch is not None:
            sheet.restore(self._patch)
        if self._unusual != sheet.unusual_marks():
            sheet.set_unusual_marks(self._unusual)


class FillCommand(_MarksCommand):
    """Write a fit's :class:`~emgui.core.fill.FillPlan` into the sheet.

    Labels filled by an earlier fit are cleared first (through the sheet, so
    their cells are announced), then the plan is applied.  A sheet without a
    label column gets one ("class"); undo then blanks it and makes it an
    ordinary column again.
    """

    def __init__(self, sheet: Sheet, plan, parent: QUndoCommand | None = None, notes=None, prepared=None) -> None:
        n = plan.n_filled
        super().__init__(sheet, f"Fill {n} Gap" + ("" if n == 1 else "s"), parent)
        self._plan = plan
        self._fill_notes = notes
        # The plan written into copies of the sheet's arrays off the GUI
        # thread (Sheet.prepare_fill): the first redo swaps them in if the
        # sheet is as they were made from; later redos write the plan.
        self._prepared = prepared
        self._roles_before: Roles | None = None
        self._roles_after: Roles | None = None

    def redo(self) -> None:
        from emgui.core.fill import apply_plan

        sheet = self._sheet
        prepared, self._prepared = self._prepared, None  # used once at most, and not kept alive
        if prepared is not None and not prepared.fits(sheet):
            prepared = None  # the sheet changed since: written as usual
        if self._roles_before is None:
            self._roles_before = sheet.roles
            if sheet.roles.label is not None:
                # Only the rows an earlier fill marked need a copy: rows that
                # were the user's go back by clearing this fill (the sheet
                # keeps what each filled cell held), see undo.  A first fill
                # of a million rows thus copies nothing.  A prepared fill
                # brings this copy, taken at the same version.
                if prepared is not None:
                    self._patch = prepared.undo
                else:
                    self._capture(sheet.filled_rows())
        apply_plan(sheet, self._plan, self._fill_notes, prepared)  # adds the "class" column again after an undo
        if self._roles_after is None:
            self._roles_after = sheet.roles
            if self._patch is None:  # the label column was added just now
                rows = np.asarray(self._plan.rows, dtype=np.int64)
                r = len(rows)
                self._patch = Patch(
                    rows,
                    (sheet.roles.label,),
                    (np.full(r, None, dtype=object),),
                    np.full(r, USER, dtype=np.int8),
                    np.full(r, np.nan),
                    np.full(r, -1, dtype=np.int64),
                    None,
                )

    def undo(self) -> None:
        if getattr(self._plan, "numbers", None) is not None:
            self._sheet.clear_numbers(self._plan.numbers.rows)  # blank again; an earlier fill's come back below
        if self._roles_before.label is not None:
            self._sheet.clear_filled(self._plan.rows)  # back to the user's text, marks dropped
        super().undo()  # then the earlier fill's marks, where there were any
        if self._roles_before.label is None and self._roles_after.label is not None:
            self._sheet.remove_column(self._roles_after.label)  # the column the fill added
        elif self._roles_before != self._sheet.roles:
            self._sheet.set_roles(self._roles_before)


class AcceptFilledCommand(_MarksCommand):
    """Make every filled label the user's."""

    def __init__(self, sheet: Sheet, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Accept Filled Values", parent)

    def redo(self) -> None:
        if self._patch is None:
            self._capture(self._sheet.filled_rows())
        self._sheet.accept_filled()


class ClearFilledCommand(_MarksCommand):
    """Blank every filled label and drop the fill marks."""

    def __init__(self, sheet: Sheet, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Clear Filled Values", parent)

    def redo(self) -> None:
        if self._patch is None:
            self._capture(self._sheet.filled_rows())
        self._sheet.clear_filled()


class SetRolesCommand(_MarksCommand):
    """Change the label and feature columns (and feature units).

    Moving the label to another column clears the old column's filled values
    first: their marks would otherwise describe the wrong column.
    """

    def __init__(self, sheet: Sheet, roles: Roles, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Change Columns", parent)
        self._old = sheet.roles
        self._new = roles

    def redo(self) -> None:
        sheet = self._sheet
        if self._old.label != self._new.label and len(sheet.filled_rows()):
            if self._patch is None:
                self._capture(sheet.filled_rows())
            sheet.clear_filled()
        sheet.set_roles(self._new)

    def undo(self) -> None:
        self._sheet.set_roles(self._old)
        super().undo()
