"""Undoable changes to a sheet, as ``QUndoCommand`` s, and the stack that runs them safely.

Each command keeps what it needs to put the sheet back exactly: a
:class:`~emgui.core.sheet.Patch` from :meth:`Sheet.capture` (cells *and*
label marks, so undoing an edit of a filled cell brings its mark and
confidence back) or the :class:`~emgui.core.sheet.RemovedRows` of a row
deletion.  The state a command starts from is captured once, on its first
``redo``; the undo stack guarantees every later ``redo`` starts from it again.

Why the stack is not a plain ``QUndoStack``: ``QUndoStack.push``, ``undo``
and ``redo`` call the command's ``redo()`` / ``undo()`` from C++.  An
exception raised there (a sheet write that fails: no memory, a sheet changed
under an old command, a bug) cannot travel through C++; PySide 6 keeps it
and raises it at the next call from Python into Qt -- which is, more often
than not, inside whatever slot Qt calls next (``cleanChanged`` ->
``setWindowModified``), not at the ``push``.  Qt meanwhile finishes the
push, undo or redo as if it had worked: the stack moves while the sheet did
not (or moved halfway), a ``beginMacro`` is never closed (Undo greyed out for
good), and rows whose removal a view of the sheet failed to follow were lost
for good (their record never came back from ``remove_rows``).

So here no exception leaves a command's ``redo()`` or ``undo()``
(:class:`SheetCommand`): a step that fails is rolled back (the sheet put
back as it was before the step), the failure is logged and kept on the
command, and :class:`SheetUndoStack` -- whose ``push`` runs the first
``redo`` from Python before handing the command to Qt, and whose ``undo`` /
``redo`` put the stack's index back after a step that failed -- reports it
once through :attr:`SheetUndoStack.command_failed`.  The stack and the sheet
always agree: a failed push leaves neither changed, a failed undo or redo
leaves both where they were.  If even the rollback fails, the sheet is left
as it is and the undo history is cleared (it no longer describes the sheet)
and the stack is marked unsaved.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from emgui.core.sheet import USER, Patch, RemovedRows, Roles, Sheet

__all__ = [
    "AcceptFilledCommand",
    "ClearFilledCommand",
    "CommandFailure",
    "FillCommand",
    "GroupCommand",
    "InsertRowsCommand",
    "RemoveRowsCommand",
    "SetCellsCommand",
    "SetRolesCommand",
    "SheetCommand",
    "SheetUndoStack",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandFailure:
    """A command's step that raised, and whether the sheet was put back.

    Attributes
    ----------
    text : str
        The command's menu text ("Paste", "Fill 12 Gaps").
    step : {"do", "undo", "redo"}
        ``"do"`` is the first redo, run by :meth:`SheetUndoStack.push`.
    error : BaseException
        What was raised.
    rolled_back : bool
        True: the sheet is exactly as it was before the step.  False: the
        rollback failed too and the sheet is as the failure left it.
    views_stale : bool
        A view of the sheet (a listener) raised while told of a change, so
        those after it were not told: every view must read the sheet again.
    """

    text: str
    step: str
    error: BaseException
    rolled_back: bool
    views_stale: bool = False

    def message(self) -> str:
        """One paragraph for the user: what failed, why, and the state of the sheet."""
        from emgui.ui.errors import one_line

        what = {"do": self.text, "undo": f"Undo {self.text}", "redo": f"Redo {self.text}"}[self.step]
        why = one_line(type(self.error), self.error)
        if self.rolled_back:
            return f"{what} could not be done ({why}). The sheet is as it was before; nothing was lost."
        return (
            f"{what} could not be done ({why}), and the cells it touched could not be put back either. "
            "The undo history was cleared as it no longer matches the sheet: check the sheet, "
            "and save it under a new name if in doubt."
        )


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


class SheetCommand(QUndoCommand):
    """Base of the commands here: ``redo()`` and ``undo()`` never raise into Qt.

    A subclass writes :meth:`_redo` and :meth:`_undo`, which may raise.  If
    one does, its rollback (:meth:`_rollback_redo`, :meth:`_rollback_undo`;
    by default the opposite step, which each command here makes safe to run
    after a step that stopped halfway) puts the sheet back -- announcing
    every cell it puts back, so the views follow -- and the failure is kept
    in :attr:`failure` for :class:`SheetUndoStack` to report.

    Parameters
    ----------
    sheet : Sheet
    text : str
        Shown in the Edit menu ("Undo Paste").
    """

    def __init__(self, sheet: Sheet, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self._sheet = sheet
        #: The last step's failure, None when it worked.
        self.failure: CommandFailure | None = None
        # The next redo() or undo() Qt calls is already done (the push's first
        # redo, run from Python; a failed step whose rollback the stack records).
        self._skip_next = False

    def _redo(self) -> None:
        raise NotImplementedError

    def _undo(self) -> None:
        raise NotImplementedError

    def _rollback_redo(self) -> None:
        """Put the sheet back as it was before a :meth:`_redo` that raised."""
        self._undo()

    def _rollback_undo(self) -> None:
        """Put the sheet back as it was before an :meth:`_undo` that raised."""
        self._redo()

    def redo(self) -> None:
        if self._skip_next:
            self._skip_next = False
            return
        self._guarded("redo", self._redo, self._rollback_redo)

    def undo(self) -> None:
        if self._skip_next:
            self._skip_next = False
            return
        self._guarded("undo", self._undo, self._rollback_undo)

    def do(self) -> CommandFailure | None:
        """The first redo, from Python: the failure, or None (then Qt's next ``redo()`` does nothing)."""
        self._guarded("do", self._redo, self._rollback_redo)
        self._skip_next = self.failure is None
        return self.failure

    def _guarded(self, step: str, run: Callable[[], None], rollback: Callable[[], None]) -> None:
        self.failure = None
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - must not reach Qt's C++ (see the module docstring)
            _log.error("%s of %r failed", step, self.text(), exc_info=exc)
            stale = _raised_in_a_listener(exc)
            exc.__traceback__ = None  # logged: its frames (a pasted block, a plan) need not live on
            try:
                rollback()
            except Exception:  # noqa: BLE001 - reported: the sheet is as the failures left it
                _log.error("rolling back %s of %r failed too", step, self.text(), exc_info=True)
                self.failure = CommandFailure(self.text(), step, exc, rolled_back=False, views_stale=True)
            else:
                self.failure = CommandFailure(self.text(), step, exc, rolled_back=True, views_stale=stale)


def _raised_in_a_listener(exc: BaseException) -> bool:
    """Whether ``exc`` came out of a sheet listener (raised inside ``Sheet._emit``)."""
    emit = Sheet._emit.__code__
    return any(frame.f_code is emit for frame, _ in traceback.walk_tb(exc.__traceback__))


def _reread(sheet: Sheet) -> None:
    """Every view of ``sheet`` reads it again whole (after a listener missed a change)."""
    try:
        sheet.set_roles(sheet.roles)  # the same roles: parsed again, SheetReset announced
    except Exception:  # noqa: BLE001 - the failure was reported; a stale view is the lesser harm
        _log.error("could not redraw the sheet after a failed change", exc_info=True)


class SetCellsCommand(SheetCommand):
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
        super().__init__(sheet, text, parent)
        if len(rows) != len(block):
            raise ValueError("one sheet row is needed per block row")
        self._rows = [int(r) for r in rows]
        self._col = int(col)
        self._block = [list(r) for r in block]
        self._patch: Patch | None = None
        self._n_before = 0

    def _redo(self) -> None:
        sheet = self._sheet
        if self._patch is None:
            width = max((len(r) for r in self._block), default=0)
            cols = range(self._col, min(self._col + width, sheet.n_cols))
            existing = [r for r in self._rows if r < sheet.n_rows]
            self._n_before = sheet.n_rows
            self._patch = sheet.capture(existing, cols)
        for start, length in _runs(self._rows):
            sheet.set_block(self._rows[start], self._col, self._block[start : start + length])

    def _undo(self) -> None:
        # Also the rollback of a redo that stopped halfway: the rows it added
        # so far go, the cells it captured come back.
        if self._patch is None:
            return  # the first redo failed before writing anything
        sheet = self._sheet
        if sheet.n_rows > self._n_before:
            sheet.remove_rows(range(self._n_before, sheet.n_rows))
        sheet.restore(self._patch)


class InsertRowsCommand(SheetCommand):
    """Insert ``count`` blank rows before sheet row ``at``."""

    def __init__(self, sheet: Sheet, at: int, count: int = 1, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Insert Row" if count == 1 else f"Insert {count} Rows", parent)
        self._at = max(0, min(int(at), sheet.n_rows))
        self._count = int(count)
        self._n_before = sheet.n_rows

    def _redo(self) -> None:
        self._sheet.insert_rows(self._at, self._count)

    def _undo(self) -> None:
        self._sheet.remove_rows(range(self._at, self._at + self._count))

    def _rollback_redo(self) -> None:
        if self._sheet.n_rows > self._n_before:  # the rows went in (a view failed after)
            self._undo()

    def _rollback_undo(self) -> None:
        if self._sheet.n_rows == self._n_before:  # the rows went out
            self._redo()


class RemoveRowsCommand(SheetCommand):
    """Delete sheet rows (any order, duplicates ignored).

    Contiguous runs are removed one at a time from the bottom up, so each
    removal is a single, consistent change for the table model; undo puts
    them back in the reverse order.
    """

    def __init__(self, sheet: Sheet, rows: Sequence[int], parent: QUndoCommand | None = None) -> None:
        rows = sorted({int(r) for r in rows if 0 <= int(r) < sheet.n_rows})
        super().__init__(sheet, "Delete Row" if len(rows) == 1 else f"Delete {len(rows)} Rows", parent)
        self._runs = [(rows[s], n) for s, n in _runs(rows)]
        # What each removal took, kept as each one ends: a redo that fails
        # at the third run is rolled back by restoring the first two.
        self._removed: list[RemovedRows] = []
        self._restored: list[RemovedRows] = []

    def _redo(self) -> None:
        self._removed = []
        for first, n in reversed(self._runs):
            # Kept by the sheet as soon as the rows are out: a view that
            # raises when told cannot make them unrecoverable.
            self._sheet.remove_rows(range(first, first + n), record=self._removed)

    def _undo(self) -> None:
        self._restored = []
        sheet = self._sheet
        for removed in reversed(self._removed):
            n_before = sheet.n_rows
            try:
                sheet.restore_rows(removed)
            finally:
                if sheet.n_rows != n_before:  # back in, even if a view raised when told
                    self._restored.append(removed)
        self._removed = []

    def _rollback_undo(self) -> None:
        # The runs put back so far go out again, bottom up; the rest never came back.
        for removed in reversed(self._restored):
            self._sheet.remove_rows(removed.rows)


class _MarksCommand(SheetCommand):
    """Base for changes to the label column and its marks, undone from a patch."""

    def __init__(self, sheet: Sheet, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, text, parent)
        self._patch: Patch | None = None
        self._classes = list(sheet.fill_classes)
        self._spellings = dict(sheet.fill_spellings)
        self._notes = sheet.fill_notes
        self._unusual = sheet.unusual_marks()

    def _capture(self, rows: np.ndarray) -> None:
        label = self._sheet.roles.label
        self._patch = self._sheet.capture(rows, [] if label is None else [label])

    def _undo(self) -> None:
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

    def _redo(self) -> None:
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

    def _undo(self) -> None:
        # Also the rollback of a first redo that stopped halfway: then the
        # roles after it are the sheet's now, and rows the plan did not reach
        # are the user's (clear_filled leaves them) or an earlier fill's (the
        # patch puts them back).
        if self._roles_before is None:
            return  # the first redo failed before writing anything
        roles_after = self._roles_after if self._roles_after is not None else self._sheet.roles
        if getattr(self._plan, "numbers", None) is not None:
            self._sheet.clear_numbers(self._plan.numbers.rows)  # blank again; an earlier fill's come back below
        if self._roles_before.label is not None:
            self._sheet.clear_filled(self._plan.rows)  # back to the user's text, marks dropped
        super()._undo()  # then the earlier fill's marks, where there were any
        if self._roles_before.label is None and roles_after.label is not None:
            self._sheet.remove_column(roles_after.label)  # the column the fill added
        elif self._roles_before != self._sheet.roles:
            self._sheet.set_roles(self._roles_before)


class AcceptFilledCommand(_MarksCommand):
    """Make every filled label the user's."""

    def __init__(self, sheet: Sheet, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Accept Filled Values", parent)

    def _redo(self) -> None:
        if self._patch is None:
            self._capture(self._sheet.filled_rows())
        self._sheet.accept_filled()


class ClearFilledCommand(_MarksCommand):
    """Blank every filled label and drop the fill marks."""

    def __init__(self, sheet: Sheet, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, "Clear Filled Values", parent)

    def _redo(self) -> None:
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

    def _redo(self) -> None:
        sheet = self._sheet
        if self._old.label != self._new.label and len(sheet.filled_rows()):
            if self._patch is None:
                self._capture(sheet.filled_rows())
            sheet.clear_filled()
        sheet.set_roles(self._new)

    def _undo(self) -> None:
        self._sheet.set_roles(self._old)
        super()._undo()


class GroupCommand(SheetCommand):
    """Several commands as one undo step, done and undone all or none.

    If one of them fails, those done before it in the same step are undone
    (or, in an undo, done again), so the group is never left halfway.  The
    commands are not Qt children: only the group is on the stack.
    """

    def __init__(self, sheet: Sheet, commands: Sequence[SheetCommand], text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(sheet, text, parent)
        self._commands = list(commands)
        self._done = 0  # how many commands the current step got through

    def _redo(self) -> None:
        self._done = 0
        for cmd in self._commands:
            cmd._redo()
            self._done += 1

    def _rollback_redo(self) -> None:
        if self._done < len(self._commands):
            self._commands[self._done]._rollback_redo()
        for cmd in reversed(self._commands[: self._done]):
            cmd._undo()

    def _undo(self) -> None:
        self._done = 0
        for cmd in reversed(self._commands):
            cmd._undo()
            self._done += 1

    def _rollback_undo(self) -> None:
        n = len(self._commands)
        if self._done < n:
            self._commands[n - 1 - self._done]._rollback_undo()
        for cmd in self._commands[n - self._done :]:
            cmd._redo()


class SheetUndoStack(QUndoStack):
    """A ``QUndoStack`` whose push, undo and redo survive a command that fails.

    See the module docstring.  :meth:`push`, :meth:`undo` and :meth:`redo`
    are Python methods: the menu actions must call them (the actions of
    ``createUndoAction`` call the C++ ones, which cannot put the index back
    after a failed step).  Grouping is :class:`GroupCommand`, not
    ``beginMacro``: a macro whose push fails halfway stays open.  After a
    failure in which a view of the sheet raised (or the rollback failed),
    every view reads the sheet again whole, a turn of the event loop later.

    Signals
    -------
    command_failed(str)
        A push, undo or redo failed: what the user is told (details in the log).
    """

    command_failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        #: The last failure reported, for whoever wants the details.
        self.last_failure: CommandFailure | None = None

    def push(self, cmd: QUndoCommand) -> bool:
        """Do ``cmd`` and put it on the stack; False (nothing changed, the failure reported) if it failed."""
        if isinstance(cmd, SheetCommand):
            failure = cmd.do()  # from Python, where a failure is simply returned
            if failure is not None:
                if not failure.rolled_back:
                    self._forget()
                self._report(failure, cmd._sheet)
                return False
        super().push(cmd)  # calls cmd.redo(), which does nothing now
        if isinstance(cmd, SheetCommand):
            cmd._skip_next = False
        return True

    def undo(self) -> None:
        """Undo the last command; if that fails, the sheet and the index stay where they were."""
        if not self.canUndo():
            return
        cmd = self.command(self.index() - 1)
        super().undo()
        self._after_step(cmd, super().redo)

    def redo(self) -> None:
        """Redo the next command; if that fails, the sheet and the index stay where they were."""
        if not self.canRedo():
            return
        cmd = self.command(self.index())
        super().redo()
        self._after_step(cmd, super().undo)

    def _after_step(self, cmd, step_back: Callable[[], None]) -> None:
        failure = getattr(cmd, "failure", None)
        if failure is None:
            return
        cmd.failure = None
        sheet = cmd._sheet
        if failure.rolled_back:
            # The sheet is where it was; so goes the index, without a write.
            cmd._skip_next = True
            step_back()
            cmd._skip_next = False
        else:
            self._forget()  # deletes cmd
        self._report(failure, sheet)

    def _forget(self) -> None:
        """The sheet is as a failure left it: no command describes it any more."""
        self.clear()
        self.resetClean()  # differs from its file: unsaved (and kept by crash recovery)

    def _report(self, failure: CommandFailure, sheet: Sheet) -> None:
        self.last_failure = failure
        if failure.views_stale:
            # A turn later, not in the middle of what failed (an editor's
            # commit, say): a model reset there closes the editor under Qt.
            QTimer.singleShot(0, self, lambda: _reread(sheet))
        self.command_failed.emit(failure.message())
