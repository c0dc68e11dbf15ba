"""Editing the sheet from the keyboard and the clipboard: copy, cut, paste, clear, insert and delete rows.

A part of :class:`emgui.ui.window.MainWindow` (a mixin: it works on the
window's ``view``, ``_model``, ``_sheet`` and ``undo_stack``).  Every change
is one command on the undo stack (:mod:`emgui.ui.commands`); a change that
fails is rolled back by the stack and said here in one warning.  The
clipboard holds tab-separated text, as spreadsheets put it there.
"""

from __future__ import annotations

import csv
import io

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

__all__ = ["EditActions"]


def _tsv_block(text: str) -> list[list[str]]:
    """Parse tab-separated text (as spreadsheets put it on the clipboard) into rows."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n") or text.endswith("\r"):
        text = text[:-1]
    if text == "":
        return [[""]]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"'))
    return rows or [[""]]


def _tsv_cell(text: str) -> str:
    if any(ch in text for ch in '\t\n\r"'):
        return '"' + text.replace('"', '""') + '"'
    return text


class EditActions:
    """Edit menu: the selection as text, the clipboard, clearing cells, inserting and deleting rows."""

    @Slot(str)
    def _on_command_failed(self, message: str) -> None:
        """A change on the undo stack failed and was rolled back (see :class:`~emgui.ui.commands.SheetUndoStack`)."""
        # As for a file that cannot be opened or saved: one warning saying what and why.
        QMessageBox.warning(self, "Could not change the sheet", message)

    def _cursor_ranges(self) -> list:
        """The selection's ranges when the current cell is in it; none when it is not.

        The current cell is where typing goes; a selection it has left (the
        program moved the cursor alone) is not what Delete or paste act on:
        then they act on the current cell, as typing would.
        """
        sel = self.view.selectionModel()
        if sel is None or not len(sel.selection()):
            return []
        current = self.view.currentIndex()
        if current.isValid() and not sel.isSelected(current):
            return []
        return list(sel.selection())

    def _selection_rect(self) -> tuple[int, int, int, int] | None:
        """Bounding (top, left, bottom, right) view cells of the selection, or the current cell."""
        ranges = self._cursor_ranges()
        if ranges and len(ranges):
            top = min(r.top() for r in ranges)
            left = min(r.left() for r in ranges)
            bottom = max(r.bottom() for r in ranges)
            right = max(r.right() for r in ranges)
            return top, left, bottom, right
        current = self.view.currentIndex()
        if current.isValid():
            return current.row(), current.column(), current.row(), current.column()
        return None

    def selected_text(self) -> str:
        """The selection's bounding rectangle as tab-separated text (raw cells)."""
        self._ensure_ready()
        rect = self._selection_rect()
        if rect is None:
            return ""
        top, left, bottom, right = rect
        model = self._model
        bottom = min(bottom, model.n_data_rows - 1)
        if bottom < top:
            return ""
        import numpy as np

        from emgui.core.sheet import USER

        sheet = self._sheet
        rows = np.array([model.sheet_row(r) for r in range(top, bottom + 1)], dtype=np.int64)
        columns = []
        for vc in range(left, right + 1):
            sc = model.sheet_column(vc)
            if sc < 0:
                conf = sheet.confidence[rows]
                filled = sheet.provenance[rows] != USER
                columns.append(
                    [f"{c:.4f}" if f and np.isfinite(c) else "" for c, f in zip(conf, filled, strict=True)]
                )
            else:
                raw = sheet.cells(sc, rows)
                columns.append(["" if v is None else _tsv_cell(str(v)) for v in raw])
        lines = ["\t".join(cells) for cells in zip(*columns, strict=True)]
        return "\n".join(lines) + "\n"

    @Slot()
    def copy(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    @Slot()
    def cut(self) -> None:
        text = self.selected_text()
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self._clear_cells("Cut")

    @Slot()
    def paste(self) -> None:
        self.paste_text(QGuiApplication.clipboard().text())

    def paste_text(self, text: str) -> None:
        """Paste tab-separated ``text`` at the selection; rows past the end are added."""
        self._ensure_ready()
        if not text:
            return
        rect = self._selection_rect()
        if rect is None:
            rect = (0, 0, 0, 0)
        top, left, bottom, right = rect
        block = _tsv_block(text)
        model = self._model
        sheet_col = model.sheet_column(left)
        if sheet_col < 0:  # on the confidence column: start at the next real column
            if left + 1 >= model.columnCount():
                return
            sheet_col = model.sheet_column(left + 1)
            left += 1
        if len(block) == 1 and len(block[0]) == 1 and (bottom > top or right > left):
            # One value onto a selection fills the selection (as spreadsheets do).
            bottom = min(bottom, model.n_data_rows - 1)
            width = sum(1 for c in range(left, right + 1) if model.sheet_column(c) >= 0)
            block = [[block[0][0]] * width for _ in range(max(bottom - top + 1, 1))]
        n_rows = self._sheet.n_rows
        rows = []
        extra = 0
        for r in range(top, top + len(block)):
            if r < model.n_data_rows:
                rows.append(model.sheet_row(r))
            else:
                rows.append(n_rows + extra)
                extra += 1
        if not model.edit_cells(rows, sheet_col, block, "Paste"):
            return  # nothing pasted (the stack reported why): the selection stays
        if model.rowCount():
            last = min(top + len(block) - 1, model.rowCount() - 1)
            right_col = min(left + max(len(b) for b in block) - 1, model.columnCount() - 1)
            sel = self.view.selectionModel()
            from PySide6.QtCore import QItemSelection, QItemSelectionModel

            sel.select(
                QItemSelection(model.index(top, left), model.index(last, right_col)),
                QItemSelectionModel.SelectionFlag.ClearAndSelect,
            )

    @Slot()
    def clear_cells(self) -> None:
        """Blank the selected cells (one undo step)."""
        self._clear_cells("Clear Cells")

    def _clear_cells(self, text: str) -> None:
        """Blank the selected cells as one undo step named ``text``: all of them or, if that fails, none."""
        self._ensure_ready()
        model = self._model
        ranges = self._cursor_ranges()
        if not ranges:
            current = self.view.currentIndex()
            if not current.isValid():
                return
            spans = [(current.row(), current.column(), current.row(), current.column())]
        else:
            spans = [(r.top(), r.left(), r.bottom(), r.right()) for r in ranges]
        from emgui.ui.commands import GroupCommand, SetCellsCommand

        commands = []
        for top, left, bottom, right in spans:
            bottom = min(bottom, model.n_data_rows - 1)
            cols = [model.sheet_column(c) for c in range(left, right + 1) if model.sheet_column(c) >= 0]
            if bottom < top or not cols:
                continue
            rows = [model.sheet_row(r) for r in range(top, bottom + 1)]
            commands.append((rows, cols[0], [[None] * len(cols) for _ in rows]))
        if not commands:
            return
        parts = [SetCellsCommand(self._sheet, rows, col, block, text) for rows, col, block in commands]
        self.undo_stack.push(parts[0] if len(parts) == 1 else GroupCommand(self._sheet, parts, text))

    @Slot()
    def fill_down(self) -> None:
        """Copy the top cell of each selected column down through the selection (Ctrl+D), one undo step."""
        self._ensure_ready()
        rect = self._selection_rect()
        if rect is None:
            return
        top, left, bottom, right = rect
        model = self._model
        bottom = min(bottom, model.n_data_rows - 1)
        # The view's columns map onto consecutive sheet columns, less the Confidence column.
        cols = [model.sheet_column(c) for c in range(left, right + 1) if model.sheet_column(c) >= 0]
        if bottom <= top or not cols:
            return
        first = model.sheet_row(top)
        values = [self._sheet.text(first, c) for c in cols]
        rows = [model.sheet_row(r) for r in range(top + 1, bottom + 1)]
        model.edit_cells(rows, cols[0], [list(values) for _ in rows], "Fill Down")

    def _selected_sheet_rows(self) -> list[int]:
        model = self._model
        rows: set[int] = set()
        for rng in self._cursor_ranges():
            for r in range(rng.top(), min(rng.bottom(), model.n_data_rows - 1) + 1):
                rows.add(model.sheet_row(r))
        current = self.view.currentIndex()
        if not rows and current.isValid() and current.row() < model.n_data_rows:
            rows.add(model.sheet_row(current.row()))
        return sorted(rows)

    @Slot()
    def insert_rows(self) -> None:
        """Insert as many blank rows as are selected, above the current row."""
        self._ensure_ready()
        from emgui.ui.commands import InsertRowsCommand

        current = self.view.currentIndex()
        at = self._model.sheet_row(current.row()) if current.isValid() else self._sheet.n_rows
        count = max(1, len(self._selected_sheet_rows()))
        column = max(current.column(), 0)
        if not self.undo_stack.push(InsertRowsCommand(self._sheet, at, count)):
            return  # nothing inserted (the stack reported why)
        # The cursor goes to the new blank rows: typing fills them, never the
        # row that moved down (Qt keeps the current cell on its old row).
        model = self._model
        first = model.view_row(at)
        if first >= 0:
            from PySide6.QtCore import QItemSelection, QItemSelectionModel

            last = min(first + count - 1, model.rowCount() - 1)
            sel = self.view.selectionModel()
            sel.setCurrentIndex(model.index(first, column), QItemSelectionModel.SelectionFlag.NoUpdate)
            sel.select(
                QItemSelection(model.index(first, column), model.index(last, column)),
                QItemSelectionModel.SelectionFlag.ClearAndSelect,
            )

    @Slot()
    def delete_rows(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import RemoveRowsCommand

        rows = self._selected_sheet_rows()
        if rows:
            self.undo_stack.push(RemoveRowsCommand(self._sheet, rows))
