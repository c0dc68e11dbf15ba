"""A large sheet is sorted and filtered in a helper thread: the same order, swapped in one step, never stale.

``pacing.LARGE_ROWS`` is lowered so a sheet of a few thousand rows counts
as large.  Every wait is bounded (``qtbot.waitSignal(timeout=...)``).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtGui import QUndoStack

from emgui.core.fill import fill_sheet
from emgui.core.sheet import Sheet
from emgui.ui import pacing
from emgui.ui import table_model as tm
from emgui.ui.table_model import SheetTableModel

N = 3000
WAIT_MS = 20_000
ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
# view columns: name, gender, Confidence, height
NAME, GENDER, CONF, HEIGHT = range(4)


def make_sheet(n: int = N, seed: int = 3) -> Sheet:
    rng = np.random.default_rng(seed)
    first = np.array(["Ana", "zoë", "Émile", "bo", "Chloé", "Noah", "ana", "Zoe"], dtype=object)
    names = np.empty(n, dtype=object)
    names[:] = [f"{first[i % len(first)]} {int(rng.integers(0, 50))}" for i in range(n)]
    names[rng.random(n) < 0.05] = None
    male = rng.random(n) < 0.5
    gender = np.where(male, "m", "f").astype(object)
    gender[rng.random(n) < 0.3] = None
    heights = np.where(male, rng.normal(178, 7, n), rng.normal(165, 6, n))
    height = np.array([f"{h:.1f}" for h in heights], dtype=object)
    height[rng.random(n) < 0.04] = None
    height[rng.random(n) < 0.01] = "tall"  # unreadable: sorts with the blanks
    return Sheet(["name", "gender", "height"], [names, gender, height])


def sync_order(sheet: Sheet, mode: str, sort) -> list[int]:
    """The order as a small sheet gets it: computed at once in the GUI thread."""
    large, pacing.LARGE_ROWS = pacing.LARGE_ROWS, 10**9
    try:
        model = SheetTableModel(sheet)
        model.set_filter(mode)
        if sort is not None:
            model.sort(*sort)
        assert not model.reordering
        return [model.sheet_row(r) for r in range(model.n_data_rows)]
    finally:
        pacing.LARGE_ROWS = large


def shown(model: SheetTableModel) -> list[int]:
    return [model.sheet_row(r) for r in range(model.n_data_rows)]


@pytest.fixture
def large(monkeypatch):
    monkeypatch.setattr(pacing, "LARGE_ROWS", 100)


def wait_sorted(qtbot, model: SheetTableModel) -> None:
    if model.reordering:
        with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
            pass
    assert not model.reordering


@pytest.mark.parametrize(
    ("column", "order"), [(HEIGHT, ASC), (HEIGHT, DESC), (NAME, ASC), (NAME, DESC), (GENDER, ASC), (CONF, ASC)]
)
def test_a_large_sheet_is_sorted_in_a_thread_in_the_same_order(qtbot, column, order, monkeypatch):
    sheet = make_sheet()
    fill_sheet(sheet, min_confidence=0.8)  # confidences and uncertain rows to sort by
    expected = sync_order(sheet, "all", (column, order))
    monkeypatch.setattr(pacing, "LARGE_ROWS", 100)
    model = SheetTableModel(sheet, QUndoStack())
    started, reordered = [], []
    model.reordering_started.connect(lambda: started.append(1))
    model.rows_reordered.connect(lambda: reordered.append(shown(model)))
    with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(column, order)
        # Not yet: the view keeps the sheet's order until the new one is ready.
        assert model.reordering and model.sort_state is None
        assert shown(model) == list(range(N))
    assert started == [1] and reordered == [expected]  # one swap, to the final order
    assert shown(model) == expected and model.sort_state == (column, order)
    assert [model.view_row(r) for r in expected[:50]] == list(range(50))  # the inverse map from the thread


def test_heights_sort_as_a_two_key_lexsort_blanks_last(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    values = sheet.values(2)
    missing = ~np.isfinite(values)
    for order, sign in ((ASC, 1), (DESC, -1)):
        model.sort(HEIGHT, order)
        wait_sorted(qtbot, model)
        assert shown(model) == list(np.lexsort((np.where(missing, 0.0, sign * values), missing)))


def test_a_filter_is_chosen_in_the_thread_too_and_keeps_the_sort(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    model.sort(HEIGHT, DESC)
    wait_sorted(qtbot, model)
    with qtbot.waitSignal(model.modelReset, timeout=WAIT_MS):
        model.set_filter("missing")
        assert model.reordering and model.filter_mode == "all"
    wait_sorted(qtbot, model)
    assert model.filter_mode == "missing"
    assert shown(model) == sync_order(sheet, "missing", (HEIGHT, DESC))
    model.set_filter("all")
    wait_sorted(qtbot, model)
    assert shown(model) == sync_order(sheet, "all", (HEIGHT, DESC))


def test_a_second_request_supersedes_the_first(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    reordered, finished = [], []
    model.rows_reordered.connect(lambda: reordered.append(model.sort_state))
    model.reordering_finished.connect(lambda: finished.append(1))
    with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(HEIGHT, ASC)
        model.sort(NAME, DESC)  # before the first is shown
    assert reordered == [(NAME, DESC)] and finished == [1]  # the first order was never shown
    assert shown(model) == sync_order(sheet, "all", (NAME, DESC))
    # Sorted, then back to the sheet's order before the sort was shown.
    with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(HEIGHT, ASC)
        model.sort(-1)
    assert model.sort_state is None and shown(model) == list(range(N))


def test_edits_while_sorting_are_sorted_again_and_land_on_their_rows(qtbot, large):
    sheet = make_sheet()
    stack = QUndoStack()
    model = SheetTableModel(sheet, stack)
    row = 17
    with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(HEIGHT, DESC)
        # Typed through the view while the thread sorts: the old order maps it.
        assert model.setData(model.index(model.view_row(row), HEIGHT), "250")
        sheet.insert_rows(0, 2)  # every sheet row moves down by two
        sheet.set_cell(0, 2, "260")
    assert sheet.text(row + 2, 2) == "250"  # the edit is kept, on its row
    assert model.n_data_rows == N + 2
    assert shown(model) == sync_order(sheet, "all", (HEIGHT, DESC))
    assert shown(model)[:2] == [0, row + 2]  # sorted with the values typed meanwhile
    assert stack.count() == 1  # the edit went through the undo stack, as every typed edit


def test_rows_removed_while_sorting(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    with qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(NAME, ASC)
        sheet.remove_rows(list(range(0, N, 3)))
    assert model.n_data_rows == sheet.n_rows
    assert shown(model) == sync_order(sheet, "all", (NAME, ASC))


def test_persistent_indexes_follow_the_swap(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    row = 1234
    keep = QPersistentModelIndex(model.index(row, HEIGHT))
    text = keep.data()
    model.sort(HEIGHT, ASC)
    wait_sorted(qtbot, model)
    assert keep.isValid() and keep.row() == model.view_row(row) and keep.data() == text


def test_another_sheet_drops_the_sort_still_running(qtbot, large):
    sheet = make_sheet()
    model = SheetTableModel(sheet)
    finished, reordered = [], []
    model.reordering_finished.connect(lambda: finished.append(1))
    model.sort(HEIGHT, ASC)
    other = make_sheet(500, seed=4)
    model.set_sheet(other)
    assert finished == [1] and not model.reordering
    model.rows_reordered.connect(lambda: reordered.append(1))
    qtbot.wait(300)  # the dropped thread ends; nothing of it is shown
    assert reordered == [] and shown(model) == list(range(500)) and model.sort_state is None


def test_an_error_in_the_thread_reaches_the_gui_thread(qtbot, large, monkeypatch):
    sheet = make_sheet()
    model = SheetTableModel(sheet)

    def broken(*args, **kwargs):
        raise RuntimeError("no order today")

    monkeypatch.setattr(tm, "compute_order", broken)
    with qtbot.captureExceptions() as caught, qtbot.waitSignal(model.reordering_finished, timeout=WAIT_MS):
        model.sort(HEIGHT, ASC)
    assert [str(e[1]) for e in caught] == ["no order today"]
    assert not model.reordering and model.sort_state is None and shown(model) == list(range(N))


@pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
def test_the_window_shows_a_busy_cursor_while_sorting(qtbot, large, isolated_settings):
    from emgui.ui.window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.set_sheet(make_sheet())
    window.show()
    with qtbot.waitSignal(window.model.reordering_finished, timeout=WAIT_MS):
        window.view.sortByColumn(HEIGHT, DESC)  # as a click on the header
        assert window.view.cursor().shape() == Qt.CursorShape.BusyCursor
        assert window.statusBar().currentMessage() == f"Sorting {N:,} rows…"
        assert window.view.horizontalHeader().sortIndicatorSection() == HEIGHT
        assert window.original_order.isEnabled()  # a way back even before the sort shows
    assert not window.view.testAttribute(Qt.WidgetAttribute.WA_SetCursor)
    assert window.statusBar().currentMessage() == ""
    assert window.original_order.isEnabled()
    assert shown(window.model) == sync_order(window.sheet, "all", (HEIGHT, DESC))
    with qtbot.waitSignal(window.model.reordering_finished, timeout=WAIT_MS):
        window.restore_order()
    assert shown(window.model) == list(range(N)) and not window.original_order.isEnabled()
    # Original Order while a sort runs: the sort is never shown.
    reordered = []
    window.model.rows_reordered.connect(lambda: reordered.append(window.model.sort_state))
    with qtbot.waitSignal(window.model.reordering_finished, timeout=WAIT_MS):
        window.view.sortByColumn(NAME, ASC)
        window.original_order.click()
    assert reordered == [None] and shown(window.model) == list(range(N))
    assert window.view.horizontalHeader().sortIndicatorSection() == -1 and not window.original_order.isEnabled()
    window.undo_stack.setClean()
