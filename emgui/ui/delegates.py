"""Spreadsheet-like editing: the cell delegate and the table view.

* Enter commits and moves down; Tab moves right (Qt's default).  After a
  run of Tabs along a row, Enter goes to the next row's cell below where
  the run began, so a row can be typed as ``name Tab gender Tab height Enter``.
* Typing on a cell starts editing it; the label column's editor is an
  editable combo box offering the classes present, and free text.
* Escape in an editor cancels the edit, even while "Stop" (also Escape) is
  enabled in the window.
* One cursor: every key moves the current cell and the selection together
  (Qt leaves the selection behind on Ctrl+key), so Delete, typing and paste
  act on the same cell; Ctrl+End goes to the last used cell, not the empty
  row for typing.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QComboBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

__all__ = ["CellDelegate", "SheetView"]

_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_NAVIGATION_KEYS = (
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
)


class CellDelegate(QStyledItemDelegate):
    """Editors for the sheet's cells.

    Signals
    -------
    enter_committed()
        Enter or Return committed an edit (the view moves down).
    """

    enter_committed = Signal()

    def createEditor(  # noqa: N802
        self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QWidget:
        model = _source_model(index.model())
        is_label = (
            model is not None
            and hasattr(model, "sheet_column")
            and model.sheet_column(index.column()) == model.sheet.roles.label
        )
        if not is_label:
            editor = super().createEditor(parent, option, index)
        else:
            editor = QComboBox(parent)
            editor.setEditable(True)
            editor.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            # Inline completion would turn a typed "m" into "male": the cell
            # must hold what was typed unless a class is picked from the list.
            editor.setCompleter(None)
            editor.addItems(model.label_choices())
            editor.lineEdit().installEventFilter(self)
        editor.setProperty("emgui_editor", True)
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802
        if isinstance(editor, QComboBox):
            editor.setEditText(index.data(Qt.ItemDataRole.EditRole) or "")
            editor.lineEdit().selectAll()
            return
        super().setEditorData(editor, index)

    def setModelData(  # noqa: N802
        self, editor: QWidget, model: QAbstractItemModel, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)
            return
        super().setModelData(editor, model, index)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        editor = _editor_of(obj)
        if editor is None:
            return super().eventFilter(obj, event)
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and event.key() in (Qt.Key.Key_Escape, *_ENTER_KEYS):
            # Keep window shortcuts (Stop = Escape) from stealing the editor's keys.
            event.accept()
            return True
        if kind == QEvent.Type.KeyPress and event.key() in _ENTER_KEYS:
            if isinstance(editor, QComboBox) and editor.view().isVisible():
                return False  # Enter picks from the open list first
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)
            self.enter_committed.emit()
            return True
        if kind == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.RevertModelCache)
            return True
        if obj is not editor:
            return False  # the editor's own filter sees what its line edit passes on
        return super().eventFilter(obj, event)


def _editor_of(obj: QObject) -> QWidget | None:
    """The editor widget ``obj`` is (or belongs to), if it is one of ours."""
    w = obj
    for _ in range(2):
        if isinstance(w, QWidget) and w.property("emgui_editor"):
            return w
        w = w.parent() if w is not None else None
    return None


def _source_model(model: QAbstractItemModel | None):
    while model is not None and hasattr(model, "sourceModel"):
        model = model.sourceModel()
    return model


class SheetView(QTableView):
    """A table view that edits like a spreadsheet.

    Enter moves down (committing an edit first); on the last row it moves to
    the empty row that adds a new one.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(True)
        delegate = CellDelegate(self)
        delegate.enter_committed.connect(self._move_down)
        self.setItemDelegate(delegate)
        header = self.verticalHeader()
        header.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header.setSectionResizeMode(header.ResizeMode.Fixed)
        self.horizontalHeader().setHighlightSections(True)
        self.horizontalHeader().setStretchLastSection(True)
        # (row, column) where a run of Tabs began: Enter returns to that column.
        self._tab_start: tuple[int, int] | None = None

    def selectionCommand(self, index, event=None):  # noqa: N802
        """Ctrl with a navigation key selects where it lands, as spreadsheets do.

        Qt's extended selection moves only the current cell on Ctrl+key
        (``NoUpdate``), which left the old selection for Delete while typing
        went to the new cell.  Shift (extend) and mouse clicks keep Qt's way.
        """
        if (
            event is not None
            and event.type() == QEvent.Type.KeyPress
            and event.key() in _NAVIGATION_KEYS
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            return QItemSelectionModel.SelectionFlag.ClearAndSelect
        return super().selectionCommand(index, event)

    def moveCursor(self, action, modifiers):  # noqa: N802
        model = self.model()
        if (
            action == QAbstractItemView.CursorAction.MoveEnd
            and modifiers & Qt.KeyboardModifier.ControlModifier
            and model is not None
            and hasattr(model, "n_data_rows")
        ):
            # The last used cell: the last row of data, not the empty row below it.
            return model.index(max(model.n_data_rows - 1, 0), max(model.columnCount() - 1, 0))
        tabbing = action in (QAbstractItemView.CursorAction.MoveNext, QAbstractItemView.CursorAction.MovePrevious)
        if tabbing:
            current = self.currentIndex()
            if current.isValid() and (self._tab_start is None or self._tab_start[0] != current.row()):
                self._tab_start = (current.row(), current.column())
        index = super().moveCursor(action, modifiers)
        if tabbing:
            # Tab skips read-only cells (the Confidence column), as spreadsheets skip locked ones.
            for _ in range(model.columnCount() if model is not None else 0):
                if not index.isValid() or index.flags() & Qt.ItemFlag.ItemIsEditable:
                    break
                self.setCurrentIndex(index)
                index = super().moveCursor(action, modifiers)
        return index

    def dataChanged(self, top_left, bottom_right, roles=()) -> None:  # noqa: N802
        """Repaint only the changed cells that are on screen.

        Qt repaints the whole viewport when a change spans more rows than it
        shows -- a fill of a million rows changes two columns, and every
        visible cell of every column was asked for its data again.  Clipped
        to the rows in view, the change repaints just its columns (rows out
        of view are drawn fresh when scrolled to).  Unclipped while a cell
        is being edited, so the editor always gets its cell's new data.
        """
        model = self.model()
        if (
            model is not None
            and top_left.isValid()
            and bottom_right.isValid()
            and self.state() != QAbstractItemView.State.EditingState
        ):
            first = self.rowAt(0)
            last = self.rowAt(self.viewport().height() - 1)
            if first >= 0:
                if last < 0:
                    last = model.rowCount() - 1
                top, bottom = max(top_left.row(), first), min(bottom_right.row(), last)
                if top > bottom:
                    return  # nothing changed on screen
                if (top, bottom) != (top_left.row(), bottom_right.row()):
                    top_left = model.index(top, top_left.column(), top_left.parent())
                    bottom_right = model.index(bottom, bottom_right.column(), bottom_right.parent())
        super().dataChanged(top_left, bottom_right, roles)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in _ENTER_KEYS and self.state() != QAbstractItemView.State.EditingState:
            self._move_down()
            event.accept()
            return
        if event.key() in _NAVIGATION_KEYS:
            self._tab_start = None
        super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._tab_start = None
        super().mousePressEvent(event)

    def _move_down(self) -> None:
        current = self.currentIndex()
        model = self.model()
        if not current.isValid() or model is None:
            return
        row = min(current.row() + 1, model.rowCount() - 1)
        column = current.column()
        # After Tab, Tab, Enter a row is done: go back to the column the
        # Tabs started from, on the next row (as spreadsheets do).
        if self._tab_start is not None and self._tab_start[0] == current.row():
            column = self._tab_start[1]
        self._tab_start = None
        target = model.index(row, column)
        self.setCurrentIndex(target)
        self.scrollTo(target)
