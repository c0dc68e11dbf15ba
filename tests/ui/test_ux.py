"""What a person sees and types: first start, typing rows, sizes, labels, the plot's details."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QHeaderView, QTreeView

from emgui.core.sheet import Roles, Sheet
from emgui.ui import dialogs
from emgui.ui.plot import MixturePlot, _PlainAxis
from emgui.ui.table_model import SheetTableModel

NAME, GENDER, CONF, HEIGHT = range(4)
FIT_TIMEOUT = 30_000

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def window(discard_unsaved, shown_window, warnings):
    shown_window.warnings_shown = warnings
    return shown_window


def _sheet(names, genders, heights, extra: dict | None = None) -> Sheet:
    columns = ["name", "gender", "height"]
    cells = [np.array(names, dtype=object), np.array(genders, dtype=object), np.array(heights, dtype=object)]
    for name, values in (extra or {}).items():
        columns.append(name)
        cells.append(np.array(values, dtype=object))
    return Sheet(columns, cells)


def _type_cell(qtbot, window, text: str, key: Qt.Key) -> None:
    """Type ``text`` on the current cell, then press ``key``.

    The first key opens the editor, unless Tab already opened one there (as Qt does).
    """
    editor = window.view.indexWidget(window.view.currentIndex())
    if editor is None:
        qtbot.keyClicks(window.view, text[0])
        text = text[1:]
        editor = window.view.indexWidget(window.view.currentIndex())
    assert editor is not None, "typing did not open an editor"
    line = editor.lineEdit() if isinstance(editor, QComboBox) else editor
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, key)


def _at(window) -> tuple[int, int]:
    current = window.view.currentIndex()
    return current.row(), current.column()


# -- typing into an empty sheet ---------------------------------------------------------------


def test_first_start_puts_the_cursor_in_the_sheet_not_on_a_welcome_button(window, qtbot):
    assert window.welcome.isVisible()
    assert _at(window) == (0, NAME)
    qtbot.waitUntil(window.view.hasFocus, timeout=2000)


def test_rows_typed_with_tab_and_enter_land_in_their_own_cells(window, qtbot):
    for name, gender, height in (("Ana", "F", "162"), ("Ben", "M", "180")):
        row = window.sheet.n_rows
        assert _at(window) == (row, NAME)
        _type_cell(qtbot, window, name, Qt.Key.Key_Tab)
        # The new row is the one being typed: Tab moves along it, not to the next empty row.
        assert _at(window) == (row, GENDER)
        _type_cell(qtbot, window, gender, Qt.Key.Key_Tab)
        assert _at(window) == (row, HEIGHT)  # the read-only Confidence column is skipped
        _type_cell(qtbot, window, height, Qt.Key.Key_Return)
        # Enter after a run of Tabs starts the next row where the run began.
        assert _at(window) == (row + 1, NAME)
    sheet = window.sheet
    assert sheet.n_rows == 2
    assert [[sheet.text(r, c) for c in range(3)] for r in range(2)] == [["Ana", "F", "162"], ["Ben", "M", "180"]]


def test_enter_without_tabs_or_after_an_arrow_key_stays_in_its_column(window, qtbot):
    window.set_sheet(_sheet(["a", "b", "c"], ["F", "M", None], ["160", "180", "170"]))
    window.view.setCurrentIndex(window.model.index(0, HEIGHT))
    window.view.setFocus()
    _type_cell(qtbot, window, "161", Qt.Key.Key_Return)
    assert _at(window) == (1, HEIGHT)
    window.view.setCurrentIndex(window.model.index(1, NAME))
    _type_cell(qtbot, window, "bb", Qt.Key.Key_Tab)
    assert _at(window) == (1, GENDER)
    qtbot.keyClick(window.view, Qt.Key.Key_Right)  # the Tab run is over
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert _at(window) == (2, CONF)


def test_an_edit_that_appends_keeps_indexes_on_the_typed_row(qtmodeltester):
    sheet = _sheet(["a"], ["F"], ["160"])
    model = SheetTableModel(sheet)
    qtmodeltester.check(model)
    on_empty_row = QPersistentModelIndex(model.index(1, GENDER))
    assert model.setData(model.index(1, NAME), "b")
    assert sheet.n_rows == 2 and model.rowCount() == 3
    assert on_empty_row.row() == 1 and on_empty_row.column() == GENDER
    assert model.headerData(2, Qt.Orientation.Vertical) == "*"


def test_a_long_typed_name_widens_its_column(window, qtbot):
    before = window.view.columnWidth(NAME)
    _type_cell(qtbot, window, "Dmitri Alexandrovich Petrov", Qt.Key.Key_Return)
    text_width = window.view.fontMetrics().horizontalAdvance("Dmitri Alexandrovich Petrov")
    assert window.view.columnWidth(NAME) >= min(text_width, 300) > before


def test_column_widths_also_measure_rows_far_down_a_big_sheet(window):
    n = 5000
    names = [f"s{i}" for i in range(n - 1)] + ["A name far longer than the others, at the end"]
    window.set_sheet(_sheet(names, ["F"] * n, ["160"] * n))
    long_width = window.view.fontMetrics().horizontalAdvance(names[-1])
    assert window.view.columnWidth(NAME) >= min(long_width, 320)


def test_numbers_in_a_plain_column_are_right_aligned_and_text_is_not(window):
    window.set_sheet(_sheet(["a", "b", "c"], ["F", "M", None], ["160", "180", "170"], {"speed": ["85.0", "fast", "nan"]}))
    model = window.model
    speed = model.columnCount() - 1
    align = [model.index(r, speed).data(Qt.ItemDataRole.TextAlignmentRole) for r in range(3)]
    assert align[0] == int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert align[1] is None and align[2] is None
    assert model.index(0, NAME).data(Qt.ItemDataRole.TextAlignmentRole) is None


def test_status_counts_say_row_and_label_in_the_singular_for_one(window):
    window.set_sheet(_sheet(["a"], [None], ["160"]))
    window._update_counts()
    assert window.counts_label.text().startswith("1 row  ·  1 missing label  ·")


# -- the plot and the fit panel ----------------------------------------------------------------


def test_the_plot_follows_typing_until_a_fit_is_drawn(window, qtbot):
    plot = window.plot
    assert not plot.has_data and plot._empty_note.isVisible()
    window.set_sheet(_sheet(["a", "b", "c", "d"], ["F", "M", None, None], ["160", "180", "165", "178"]))
    assert plot.has_data and not plot._empty_note.isVisible()
    window.model.setData(window.model.index(4, HEIGHT), "171")
    qtbot.waitUntil(lambda: plot._static_items[0].getData()[1].sum() == 5, timeout=3000)

    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert plot.has_fit
    window.model.setData(window.model.index(0, HEIGHT), "161")
    qtbot.wait(500)
    assert plot.has_fit  # an edit after a fit keeps the fitted picture


def test_the_fit_panel_is_empty_until_a_fit_and_shows_mean_and_sd_per_feature(window, qtbot):
    panel = window.fit_panel
    assert panel.table.isHidden()
    sheet = _sheet(
        ["a", "b", "c", "d", "e", "f"], ["F", "M", None, "F", "M", None],
        ["160", "180", "165", "158", "182", "176"], {"weight": ["55", "80", "60", "52", "85", "74"]},
    )
    window.set_sheet(sheet)
    window.apply_roles(Roles(1, (2, 3), {2: "cm", 3: None}))
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert not panel.table.isHidden()
    headers = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    assert headers == ["Class", "Weight", "height: mean ± SD", "weight: mean ± SD"]
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d", panel.table.item(0, 2).text())
    assert re.search(r"after \d+ iterations?,", panel.status.text())
    window.set_sheet(_sheet(["x"], ["F"], ["150"]))
    assert panel.table.isHidden() and panel.table.rowCount() == 0  # no parameters of another sheet


def test_a_missing_feature_column_error_says_where_to_choose_one(window):
    window.set_sheet(Sheet(["name", "gender"], [np.array(["a"], dtype=object), np.array(["F"], dtype=object)]))
    window.action_map["fill"].trigger()
    assert len(window.warnings_shown) == 1
    assert "Data ▸ Columns…" in window.warnings_shown[0][1]


def test_empty_plot_shows_a_sentence_instead_of_bare_axes(qtbot):
    plot = MixturePlot()
    qtbot.addWidget(plot)
    item = plot._main.getPlotItem()
    assert plot._empty_note.isVisible() and not item.getAxis("bottom").isVisible()
    plot.set_data(np.array([160.0, 170.0, 180.0]))
    assert not plot._empty_note.isVisible() and item.getAxis("bottom").isVisible()
    plot.set_data([])
    assert plot._empty_note.isVisible() and not plot.has_data


def test_the_legend_goes_to_the_emptier_top_corner(qtbot):
    plot = MixturePlot()
    qtbot.addWidget(plot)
    rng = np.random.default_rng(0)
    crowded_right = np.c_[rng.uniform(0, 10, 400), rng.uniform(0, 10, 400)]
    crowded_right = crowded_right[~((crowded_right[:, 0] < 5) & (crowded_right[:, 1] > 5))]
    plot.set_data(crowded_right, np.zeros(len(crowded_right), int), ["a"], ["x", "y"])
    assert plot._legend.opts["offset"][0] > 0  # anchored left
    plot.set_data(np.c_[10 - crowded_right[:, 0], crowded_right[:, 1]], np.zeros(len(crowded_right), int), ["a"])
    assert plot._legend.opts["offset"][0] < 0  # anchored right


def test_filled_points_are_named_by_their_best_guess_in_the_legend(qtbot):
    plot = MixturePlot()
    qtbot.addWidget(plot)
    X = np.array([[160.0, 55.0], [180.0, 80.0], [170.0, 66.0]])
    plot.set_data(X, [0, 1, -1], ["F", "M"], ["h", "w"])
    names = lambda: [label.text for _, label in plot._legend.items]  # noqa: E731
    assert names()[-1] == "unlabelled"
    plot.show_posteriors(np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]]))
    assert names()[-1] == "unlabelled: best guess"
    plot.show_posteriors(None)
    assert names()[-1] == "unlabelled"


def test_likelihood_ticks_stay_distinct_for_large_values(qtbot):
    axis = _PlainAxis("left")
    labels = axis.tickStrings([-390936.0, -390935.9, -390935.8], 1.0, 0.1)
    assert labels == ["−390936.0", "−390935.9", "−390935.8"]


def test_a_short_log_likelihood_axis_writes_labels_that_do_not_overlap(qapp):
    # The plot is ~40 px tall in a 900 px window: pyqtgraph's two and a
    # quarter intervals at least wrote -120.945, -120.950 and -120.955 over
    # one another.
    axis = _PlainAxis("left")
    for size in (30.0, 40.0, 60.0, 120.0, 400.0):
        for lo, hi in ((-120.956, -120.944), (-390936.2, -390935.0), (-5977.7, -5977.38), (0.0, 1e6)):
            spacing = axis.tickSpacing(lo, hi, size)[0][0]
            assert spacing * size / (hi - lo) >= _PlainAxis.LABEL_PITCH
            assert np.isclose(spacing / 10 ** np.floor(np.log10(spacing)), [1, 2, 5, 10]).any()
    # A tall axis keeps pyqtgraph's own spacing and its minor ticks.
    assert len(axis.tickSpacing(0.0, 10.0, 400.0)) > 1


# -- dialogs and menus -------------------------------------------------------------------------


def test_columns_dialog_offers_a_unit_only_for_height_columns_in_use(qtbot):
    roles = Roles(1, (2,), {2: "cm"})
    dialog = dialogs.ColumnsDialog(["name", "gender", "height", "weight", "stature_in"], roles)
    qtbot.addWidget(dialog)
    units = [u.currentData() for u in dialog._units]
    assert units == [None, None, "cm", None, "in"]
    assert [u.isEnabled() for u in dialog._units] == [False, False, True, False, False]
    dialog._checks[3].setChecked(True)
    assert dialog._units[3].isEnabled()
    assert dialog.roles() == Roles(1, (2, 3), {2: "cm", 3: None})


def test_file_dialog_is_big_enough_to_show_sizes_types_and_dates(qtbot, tmp_path):
    dialog = dialogs._file_dialog(None, "Export", str(tmp_path), ["CSV (*.csv)"])
    qtbot.addWidget(dialog)
    assert dialog.width() >= 700
    header = dialog.findChild(QTreeView, "treeView").header()
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.Stretch
    assert all(header.sectionResizeMode(c) == QHeaderView.ResizeMode.ResizeToContents for c in range(1, header.count()))


def test_each_menu_has_distinct_access_keys(window):
    for menu_action in window.menuBar().actions():
        keys = []
        for action in menu_action.menu().actions():
            match = re.search(r"&(\w)", action.text())
            if match:
                keys.append(match.group(1).lower())
        assert len(keys) == len(set(keys)), (menu_action.text(), keys)
