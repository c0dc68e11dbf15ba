"""Data ▸ Missing-Data Report…: which cells are blank together, as a table and as a picture.

A part of :class:`emgui.ui.window.MainWindow` (a mixin) and the dialog it
shows.  The patterns come from the core (:func:`emgui.core.fill.missing_patterns`:
one integer per row and a count, ~10 ms at a million rows), never from a
loop over cells.  The picture is the sheet's rows sorted by pattern, as in
R's ``VIM::matrixplot`` or mice's ``md.pattern``: one band per pattern, as
tall as its share of the rows, blank cells dark.  Its pixels are an array
made with numpy from the patterns alone (at most :data:`PICTURE_ROWS`
pixel rows however long the sheet), drawn as one scaled image.

Little's MCAR test is not run here (its EM takes seconds at a million
rows): the report shows the one the last fill ran in the fit's thread, as
the Fit panel does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MissingPicture", "MissingReportActions", "MissingReportDialog", "pattern_picture"]

#: The picture has at most about this many pixel rows (a rare pattern still gets one).
PICTURE_ROWS = 400
BLANK_GRAY, PRESENT_GRAY = 40, 205


def pattern_picture(patterns: list[dict], columns: list[str], height: int = PICTURE_ROWS) -> np.ndarray:
    """The sheet's rows grouped by pattern as a grayscale picture, shape ``(h, len(columns))``, uint8.

    Parameters
    ----------
    patterns : list of dict
        :func:`emgui.core.fill.missing_patterns` (``{"blank": [names], "rows": n}``),
        in the order drawn (most rows first).
    columns : list of str
        The picture's columns, in order.
    height : int
        Pixel rows for all the sheet's rows; each pattern gets its share,
        at least one, so ``h`` may exceed ``height`` by the number of patterns.

    Returns
    -------
    ndarray
        ``BLANK_GRAY`` where a cell is blank, ``PRESENT_GRAY`` elsewhere.
    """
    import numpy as np  # not at import: the window starts before numpy loads

    if not patterns or not columns:
        return np.zeros((0, len(columns)), dtype=np.uint8)
    blank = np.array([[c in p["blank"] for c in columns] for p in patterns], dtype=bool)
    rows = np.array([p["rows"] for p in patterns], dtype=np.float64)
    share = np.maximum(1, np.rint(rows / rows.sum() * height)).astype(np.int64)
    band = np.where(blank, BLANK_GRAY, PRESENT_GRAY).astype(np.uint8)
    return np.repeat(band, share, axis=0)


class MissingPicture(QWidget):
    """The picture of :func:`pattern_picture`: column names on top, the bands below, scaled to fit."""

    _HEADER = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixels = None
        self._image: QImage | None = None
        self._columns: list[str] = []
        self._edges: list[int] = []  # pixel rows where a new pattern's band starts
        self.setMinimumSize(160, 160)

    def set_picture(self, pixels: np.ndarray, columns: list[str]) -> None:
        import numpy as np

        self.pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        self._columns = list(columns)
        h, w = self.pixels.shape
        # Neighbouring bands are different patterns, so they differ in some column.
        self._edges = (np.flatnonzero((self.pixels[1:] != self.pixels[:-1]).any(axis=1)) + 1).tolist()
        # QImage does not own the buffer: copy() makes it independent of the array.
        self._image = (
            QImage(self.pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy() if h and w else None
        )
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(max(200, 90 * len(self._columns)), 320)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            return
        n = len(self._columns)
        area = self.rect().adjusted(0, self._HEADER, 0, 0)
        width = area.width() / n
        for j, name in enumerate(self._columns):
            cell = QRect(int(area.left() + j * width), 0, int(width), self._HEADER)
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, painter.fontMetrics().elidedText(
                name, Qt.TextElideMode.ElideRight, cell.width() - 4))
        # Nearest-neighbour scaling keeps the bands' edges sharp.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(area, self._image)
        painter.setPen(QColor(self.palette().window().color()))
        for j in range(1, n):  # a gap between the columns
            x = int(area.left() + j * width)
            painter.drawLine(x, area.top(), x, area.bottom())
        scale = area.height() / self._image.height()
        for edge in self._edges:  # and between the patterns' bands
            y = int(area.top() + edge * scale)
            painter.drawLine(area.left(), y, area.right(), y)
        painter.end()


class MissingReportDialog(QDialog):
    """The patterns of blank cells of a sheet: a sentence, a table and a picture.

    Parameters
    ----------
    patterns : list of dict
        :func:`emgui.core.fill.missing_patterns`.
    columns : list of str
        The label column (if any) and the feature columns, as in the sheet.
    blanks_sentence : str or None
        Little's test of the last fill in words (the Fit panel's sentence), if it ran.
    """

    def __init__(self, patterns: list[dict], columns: list[str], blanks_sentence: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Missing-Data Report")
        self.patterns = patterns
        layout = QVBoxLayout(self)
        n = sum(p["rows"] for p in patterns)
        complete = next((p["rows"] for p in patterns if not p["blank"]), 0)
        summary = (
            f"{n:,} rows: {complete:,} have every cell of {', '.join(columns)}; "
            f"{n - complete:,} have some blank. Blank cells together, most rows first "
            "(a label counts as blank when it was blank before the fill):"
        )
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        body = QHBoxLayout()
        self.table = QTableWidget(len(patterns), 3)
        self.table.setHorizontalHeaderLabels(["Blank together", "Rows", "Share"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for i, p in enumerate(patterns):
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            cells = [", ".join(p["blank"]) or "(nothing blank)", f"{p['rows']:,}",
                     f"{100.0 * p['rows'] / n:.1f} %" if n else ""]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(right)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        body.addWidget(self.table, 3)
        self.picture = MissingPicture()
        self.picture.set_picture(pattern_picture(patterns, columns), columns)
        self.picture.setToolTip(
            "Every row of the sheet, grouped by which cells are blank (dark); each band is as "
            "tall as its share of the rows, a rare pattern at least one line."
        )
        body.addWidget(self.picture, 2)
        layout.addLayout(body, 1)
        self.little = QLabel(
            blanks_sentence
            or "Little's test of whether the blank numbers depend on the values runs with the fill (F5) "
            "when a feature value is blank; its result shows here and in the Fit panel."
        )
        self.little.setWordWrap(True)
        layout.addWidget(self.little)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 420)


class MissingReportActions:
    """Data ▸ Missing-Data Report… (a part of the main window)."""

    @Slot()
    def show_missing_report(self) -> None:
        """Show the patterns of blank cells of the open sheet (computed by the core, not per cell)."""
        self._ensure_ready()
        from emgui.core.fill import missing_patterns
        from emgui.ui.fit_panel import blanks_sentence

        sheet = self._sheet
        columns = [sheet.columns[c] for c in ([sheet.roles.label] if sheet.roles.label is not None else [])]
        columns += [sheet.columns[f] for f in sheet.roles.features]
        patterns = missing_patterns(sheet)
        if not patterns:
            why = "The sheet has no rows yet." if not sheet.n_rows else (
                "No label or feature column to report on (Data ▸ Columns…).")
            self.statusBar().showMessage(why, 6000)
            return
        test = self.fit_panel.blanks
        dialog = MissingReportDialog(patterns, columns, None if test is None else blanks_sentence(test), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.missing_report = dialog
        dialog.show()
