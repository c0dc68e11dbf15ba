"""The window's dialogs: file choosers, the unsaved-changes question, Columns…,
the confidence threshold, How EM Works and About.

The small functions here (``ask_save_path``, ``ask_open_path``,
``ask_unsaved_changes``, ``ask_threshold``) are looked up on this module at
call time, so a test can replace them with ``monkeypatch.setattr``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from emgui import __version__

__all__ = [
    "ColumnsDialog",
    "ask_open_path",
    "ask_save_path",
    "ask_threshold",
    "ask_unsaved_changes",
    "show_about",
]

OPEN_FILTERS = (
    "Spreadsheets (*.csv *.tsv *.txt *.xlsx *.xlsm *.ods)",
    "All files (*)",
)

#: Units offered per feature column: (label, Roles.units value).
UNIT_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("height in cm", "cm"),
    ("height in inches", "in"),
    ("height in metres", "m"),
    ("plain number", None),
)


def _file_dialog(parent: QWidget | None, title: str, directory: str, filters: Sequence[str]) -> QFileDialog:
    # Qt's own dialog, not the platform's: its file-name field has the focus,
    # so a person (or xdotool) can type a path and press Enter, everywhere.
    dialog = QFileDialog(parent, title, directory, ";;".join(filters))
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    # Qt's default size elides the size, type and date of every file.
    screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
    room = screen.availableGeometry() if screen is not None else None
    width, height = 820, 500
    if room is not None:
        width, height = min(width, int(room.width() * 0.9)), min(height, int(room.height() * 0.9))
    dialog.resize(max(dialog.width(), width), max(dialog.height(), height))
    details = dialog.findChild(QTreeView, "treeView")
    if details is not None:  # the extra width goes to the names; size, type and date stay whole
        header = details.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, header.count()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return dialog


def ask_open_path(parent: QWidget | None, directory: str = "") -> str | None:
    """Ask for a spreadsheet to open; None if cancelled."""
    dialog = _file_dialog(parent, "Open", directory, OPEN_FILTERS)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    return dialog.selectedFiles()[0]


def ask_save_path(
    parent: QWidget | None,
    title: str,
    directory: str,
    filters: Sequence[str],
    default_suffix: str = "csv",
    chosen_filter: list | None = None,
) -> str | None:
    """Ask where to save; None if cancelled.

    Parameters
    ----------
    parent : QWidget or None
    title : str
        Dialog title ("Export", "Save As").
    directory : str
        Folder or suggested file path.
    filters : sequence of str
        Name filters such as ``"CSV (*.csv)"``; the first is selected.
    default_suffix : str
        Added to a typed name without an extension.
    chosen_filter : list, optional
        Receives the name filter the user left selected (Export offers two
        kinds of CSV).
    """
    dialog = _file_dialog(parent, title, directory, filters)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setDefaultSuffix(default_suffix)
    # A name typed without an extension gets the one of the chosen file type.
    dialog.filterSelected.connect(lambda f: dialog.setDefaultSuffix(_suffix_of(f) or default_suffix))
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    if chosen_filter is not None:
        chosen_filter.append(dialog.selectedNameFilter())
    return dialog.selectedFiles()[0]


def _suffix_of(name_filter: str) -> str | None:
    """``"xlsx"`` for ``"Excel workbook (*.xlsx)"``."""
    match = re.search(r"\*\.(\w+)", name_filter)
    return match.group(1) if match else None


def ask_unsaved_changes(parent: QWidget | None, name: str) -> str:
    """Ask what to do with unsaved changes to ``name``.

    Returns
    -------
    str
        ``"save"``, ``"discard"`` or ``"cancel"``.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"Save the changes to “{name}” before closing it?")
    box.setInformativeText("Your changes are lost if you don't save them.")
    box.setStandardButtons(
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
    )
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"


def ask_threshold(parent: QWidget | None, current: float) -> float | None:
    """Ask for the minimum confidence to fill a cell, as a fraction; None if cancelled."""
    value, ok = QInputDialog.getDouble(
        parent,
        "Confidence Threshold",
        "Fill a blank label only when EM is at least this sure (%).\n"
        "Less certain cells stay blank, marked “?”, with the best guess in the tooltip.\n"
        "0 fills every blank. The threshold is this sheet's: opening a file sets it back to 0.",
        round(current * 100.0, 1),
        0.0,
        100.0,
        1,
    )
    return value / 100.0 if ok else None


#: Cells of a column looked at to tell text from numbers (spread over the rows).
_KIND_SAMPLE = 5000


def column_kinds(sheet) -> list[tuple[str, str | None]]:
    """Per column of ``sheet``: ``("measurement", None)``, ``("code", why)`` or ``("text", why)``.

    A measurement is numeric, has more than two values and is no identifier
    (:func:`emgui.core.sheet.no_measurement`): the Columns dialog offers it
    ticked.  A code (0/1, an id) is offered unticked with its reason; text
    cannot be a feature.  Decided on at most ``_KIND_SAMPLE`` cells spread
    over the rows, so a million-row sheet opens the dialog at once.
    """
    import numpy as np

    from emgui.core import parsing
    from emgui.core.sheet import no_measurement

    n = sheet.n_rows
    rows = np.unique(np.linspace(0, n - 1, min(n, _KIND_SAMPLE)).astype(np.int64)) if n else np.empty(0, np.int64)
    kinds: list[tuple[str, str | None]] = []
    for col, name in enumerate(sheet.columns):
        if col in sheet.roles.features:
            kinds.append(("measurement", None))
            continue
        cells = np.asarray(sheet.cells(col, rows), dtype=object)
        present = np.array([not parsing.is_missing(c) for c in cells], dtype=bool)
        cells = cells[present]
        if not len(cells):
            kinds.append(("text", "empty: no numbers to fit"))
            continue
        numeric = np.isfinite(parsing.parse_number_column(cells).values).mean()
        if numeric < 0.8 and (col == sheet.roles.label or np.isfinite(parsing.parse_height_column(cells, "cm").values).mean() < 0.8):
            kinds.append(("text", "text, not numbers: it cannot be fitted"))
            continue
        why = no_measurement(name, cells)
        kinds.append(("measurement", None) if why is None else ("code", why))
    return kinds


class ColumnsDialog(QDialog):
    """Choose the label column, the feature columns and each feature's unit.

    Parameters
    ----------
    columns : sequence of str
        The sheet's column names.
    roles : Roles
        The current roles, shown initially.
    parent : QWidget, optional
    kinds : sequence of (str, str or None), optional
        Per column, from :func:`column_kinds`: text columns cannot be
        ticked, codes and identifiers say why they are no measurement.
    suggest : bool, default False
        Tick every measurement not yet used (the first time the dialog is
        opened for a sheet): a second measurement (weight) is used by default.
    """

    def __init__(
        self, columns: Sequence[str], roles, parent: QWidget | None = None, *, n_components: int = 2,
        kinds: Sequence[tuple[str, str | None]] | None = None, suggest: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Columns")
        self._columns = list(columns)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "The <b>label</b> column holds the classes to fill in (e.g. gender). "
            "<b>Feature</b> columns hold the numbers the mixture is fitted on (e.g. height). "
            "Other columns are kept as they are."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        form = QFormLayout()
        self.label_combo = QComboBox()
        self.label_combo.addItem("(none: find K groups)", None)
        for i, name in enumerate(self._columns):
            self.label_combo.addItem(name or f"column {i + 1}", i)
        self.label_combo.setCurrentIndex(0 if roles.label is None else roles.label + 1)
        form.addRow("Label column:", self.label_combo)
        self.components_spin = QSpinBox()
        self.components_spin.setRange(0, 30)
        self.components_spin.setSpecialValueText("Auto (by BIC)")
        self.components_spin.setValue(n_components)
        self.components_spin.setToolTip(
            "When no label is typed (or there is no label column), EM looks for this many "
            "groups and names them 1, 2, … in order of their mean.  Auto: the number of "
            "groups (1 to 6) whose model has the lowest BIC."
        )
        form.addRow("Classes to find when no label is typed:", self.components_spin)
        layout.addLayout(form)

        self.table = QTableWidget(len(self._columns), 2)
        self.table.setHorizontalHeaderLabels(["Feature", "Unit"])
        self.table.setVerticalHeaderLabels([name or f"column {i + 1}" for i, name in enumerate(self._columns)])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._checks: list[QCheckBox] = []
        self._units: list[QComboBox] = []
        from emgui.core import parsing  # not at import: the window starts before the core loads

        for i, name in enumerate(self._columns):
            check = QCheckBox(f"use “{name}”")
            kind, why = kinds[i] if kinds is not None else ("measurement", None)
            used = i in roles.features or (suggest and kind == "measurement" and i != roles.label)
            check.setChecked(used and kind != "text")
            if kind == "text":
                check.setEnabled(False)
                check.setText(f"“{name}”: text")
            if why:
                check.setToolTip(f"{why[0].upper()}{why[1:]}.")
            elif kind == "measurement":
                check.setToolTip(
                    "A measurement: used by default. The Fit panel's model table (BIC) shows "
                    "whether the features chosen describe the groups well."
                )
            unit = QComboBox()
            for text, value in UNIT_CHOICES:
                unit.addItem(text, value)
            if i in roles.features:
                current = roles.units.get(i)
            elif parsing.is_height_column(name or ""):
                current = parsing.unit_from_name(name) or "cm"
            else:
                current = None  # a weight or a waiting time is no height in cm
            unit.setCurrentIndex(next(k for k, (_, v) in enumerate(UNIT_CHOICES) if v == current))
            # A unit means something only for a column that is used.
            unit.setEnabled(check.isChecked())
            check.toggled.connect(unit.setEnabled)
            self.table.setCellWidget(i, 0, check)
            self.table.setCellWidget(i, 1, unit)
            self._checks.append(check)
            self._units.append(unit)
        layout.addWidget(self.table)

        self._error = QLabel("")
        self._error.setStyleSheet("color: #a00000")
        layout.addWidget(self._error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 420)

    def roles(self):
        """The roles chosen in the dialog, a :class:`~emgui.core.sheet.Roles`."""
        from emgui.core.sheet import Roles  # not at import: the window starts before the core loads

        label = self.label_combo.currentData()
        features = tuple(i for i, c in enumerate(self._checks) if c.isChecked() and i != label)
        units = {i: self._units[i].currentData() for i in features}
        return Roles(label, features, units)

    def n_components(self) -> int:
        """K for a sheet whose label column names no class (0: chosen by BIC)."""
        return self.components_spin.value()

    def set_feature(self, col: int, used: bool, unit: str | None = None) -> None:
        """Tick or untick a feature column (and set its unit); for tests and scripts."""
        self._checks[col].setChecked(used)
        if used:
            self._units[col].setCurrentIndex(next(k for k, (_, v) in enumerate(UNIT_CHOICES) if v == unit))

    def _on_accept(self) -> None:
        label = self.label_combo.currentData()
        if label is not None and self._checks[label].isChecked():
            self._error.setText("The label column cannot also be a feature.")
            return
        if not self.roles().features:
            self._error.setText("Choose at least one feature column.")
            return
        self.accept()


def show_about(parent: QWidget | None) -> None:
    """Help ▸ About."""
    QMessageBox.about(
        parent,
        "About EM Gap Filler",
        f"<h3>EM Gap Filler {__version__}</h3>"
        "<p>Fills blank labels in a spreadsheet (for example a missing gender next to a "
        "height) with a semi-supervised Gaussian mixture fitted by Expectation-Maximisation, "
        "and shows how sure each filled value is.</p>"
        "<p>Built with Python, NumPy, pandas, PySide6 (Qt) and pyqtgraph.</p>",
    )


class ReliabilityDialog(QDialog):
    """The self-check's reliability curve: for each band of confidence, how often the fill was right.

    The points come from typed labels hidden and filled again (see
    :func:`emgui.core.trust.self_check`); on the diagonal, a confidence of
    0.8 is right 8 times in 10.
    """

    def __init__(self, check, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.setWindowTitle("Reliability Curve")
        layout = QVBoxLayout(self)
        text = QLabel(
            f"{check.sentence()}.  Each point is a band of confidence: how sure the fill was "
            "(across) and how often it was right (up), over the hidden typed labels; the dashed "
            "line is a confidence that means what it says.  Brier score "
            f"{check.brier:.3f} (0 is perfect)."
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "Confidence of the filled cell")
        self.plot.setLabel("left", "Share right")
        self.plot.setXRange(0, 1)
        self.plot.setYRange(0, 1)
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999999", style=Qt.PenStyle.DashLine))
        xs = [b["confidence"] for b in check.reliability]
        ys = [b["accuracy"] for b in check.reliability]
        sizes = [6 + 14 * (b["count"] / max(c["count"] for c in check.reliability)) ** 0.5 for b in check.reliability]
        self.points = self.plot.plot(xs, ys, pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=sizes,
                                     symbolBrush="#1f77b4")
        layout.addWidget(self.plot)
        per_class = ", ".join(
            f"{name} {recall:.0%}" for name, recall in check.per_class.items() if recall is not None
        )
        layout.addWidget(QLabel(f"Right per class (recall): {per_class}"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 460)
