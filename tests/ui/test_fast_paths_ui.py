"""The window's paths for a million rows agree with the simple ones, and keep it alive.

Opening a large file in a thread (progress, cancel, errors), sorting text
and numbers with the fast sorts, and the plot keeping its histogram when F5
fits the data it already shows.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from emgui.core import fileio
from emgui.core.fill import prepare_fit
from emgui.ui import dialogs, loader
from emgui.ui.table_model import SheetTableModel, _text_sort_perm
from emgui.ui.window import MainWindow

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def _class_csv(path, n: int) -> None:
    rng = np.random.default_rng(0)
    rows = [
        f"P{i},{'' if rng.random() < 0.3 else 'FM'[i % 2]},{rng.normal(170, 9):.1f}\n" for i in range(n)
    ]
    path.write_text("name,gender,height\n" + "".join(rows), encoding="utf-8")


@pytest.fixture
def big_csv(tmp_path, monkeypatch):
    """A file of 3,000 rows, with the progress dialog shown at once."""
    path = tmp_path / "class.csv"
    _class_csv(path, 3000)
    monkeypatch.setattr(loader, "DIALOG_DELAY_MS", 0)
    return path


def _same_sheet(a, b) -> bool:
    return a.columns == b.columns and all(
        list(a.column_cells(c)) == list(b.column_cells(c)) for c in range(a.n_cols)
    ) and a.roles == b.roles


def test_a_file_loads_in_a_thread_with_the_same_sheet(qtbot, big_csv, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    threads = []
    real_build = loader._build
    monkeypatch.setattr(
        loader,
        "_build",
        lambda *a, **k: threads.append(threading.current_thread()) or real_build(*a, **k),
    )
    threaded = loader.load_sheet(parent, big_csv, 2)
    assert threads and threads[0] is not threading.main_thread()
    direct = real_build(str(big_csv), 2)
    assert _same_sheet(threaded, direct)
    # The fit's input was prepared in the thread and is ready for the plot and F5.
    first = prepare_fit(threaded, None)
    assert prepare_fit(threaded, None) is first


def test_the_dialog_follows_a_slow_read(qtbot, big_csv, monkeypatch):
    real_build = loader._build

    def slow_build(path, n_components, progress=None, cancel=None):
        for i in range(20):
            progress(i / 40)
            time.sleep(0.02)
        return real_build(path, n_components, lambda f: progress(0.5 + f / 2), cancel)

    monkeypatch.setattr(loader, "_build", slow_build)
    shown: list[int] = []
    real_set = QProgressDialog.setValue
    monkeypatch.setattr(QProgressDialog, "setValue", lambda self, v: shown.append(v) or real_set(self, v))
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    assert loader.load_sheet(parent, big_csv, 2).n_rows == 3000
    assert len(set(shown)) >= 3 and shown == sorted(shown)


def test_cancel_stops_a_large_read(qtbot, big_csv, monkeypatch):
    def slow_build(path, n_components, progress=None, cancel=None):
        for i in range(2000):
            progress(i / 2000)
            if cancel():
                raise fileio.ReadCancelled("cancelled")
            time.sleep(0.005)
        raise AssertionError("the read was not cancelled")

    monkeypatch.setattr(loader, "_build", slow_build)
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()

    def press_cancel():
        from PySide6.QtWidgets import QPushButton

        for dialog in parent.findChildren(QProgressDialog):
            dialog.findChild(QPushButton).click()  # what a person does

    QTimer.singleShot(100, press_cancel)
    assert loader.load_sheet(parent, big_csv, 2) is None


def test_a_damaged_file_raises_from_the_thread(qtbot, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 40)
    parent = QWidget()
    qtbot.addWidget(parent)
    with pytest.raises(fileio.FileFormatError, match="does not look like a text table"):
        loader.load_sheet(parent, path, 2)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, qapp):
    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler fast-path tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: "discard")
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.wait(10_000)


def test_the_window_opens_a_large_file_and_fits_it(window, big_csv, qtbot):
    assert window.open_path(big_csv, ask=False)
    assert window.sheet.n_rows == 3000 and "class.csv" in window.windowTitle()
    plot = window.plot
    drawn = list(plot._static_items)
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    # F5 fitted the data the plot already showed: the histogram was kept.
    assert plot._static_items == drawn and all(a is b for a, b in zip(plot._static_items, drawn, strict=True))
    assert window.sheet.counts()["filled"] > 0


def test_a_large_sheet_shows_its_table_first_and_its_widths_and_plot_next(window, big_csv, qtbot, monkeypatch):
    import emgui.ui.pacing as pacing

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large
    window.plot.set_data([])  # nothing drawn before the open
    sized = []
    size_columns = window._size_columns
    monkeypatch.setattr(window, "_size_columns", lambda: (sized.append(window.sheet.n_rows), size_columns()))
    assert window.open_path(big_csv, ask=False)
    # The table is there at once; widths and plot follow in later turns.
    assert window.model.rowCount() == 3001
    assert not window.plot.has_data and sized == []
    qtbot.waitUntil(lambda: window.plot.has_data, timeout=5_000)
    assert sized == [3000] and window.view.columnWidth(0) >= 80
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    assert window.sheet.counts()["filled"] > 0


def test_the_plot_keeps_its_items_for_new_arrays_with_the_same_histogram(window, big_csv, qtbot):
    """A refit makes new arrays of unchanged data: the drawn histogram stays, the fit goes."""
    from emgui.core.binning import group_histogram

    window.open_path(big_csv, ask=False)
    plot = window.plot
    fit_input = prepare_fit(window.sheet, None)
    X, labels = fit_input.X.copy(), fit_input.labels.copy()
    names, axis = window._class_names(fit_input), window._axis_labels()
    plot.set_data(X, labels, names, axis, histogram=group_histogram(X[:, 0], labels, 2))
    drawn = list(plot._static_items)
    X2, labels2 = X.copy(), labels.copy()
    plot.set_data(X2, labels2, names, axis, histogram=group_histogram(X2[:, 0], labels2, 2))
    assert all(a is b for a, b in zip(plot._static_items, drawn, strict=True))
    assert not plot.has_fit
    labels3 = labels2.copy()
    labels3[: len(labels3) // 2] = -1  # other data: drawn anew
    plot.set_data(X2.copy(), labels3, names, axis, histogram=group_histogram(X2[:, 0], labels3, 2))
    assert not any(a is b for a, b in zip(plot._static_items, drawn, strict=False))


def test_the_plot_redraws_for_other_data(window, big_csv, qtbot):
    window.open_path(big_csv, ask=False)
    plot = window.plot
    drawn = list(plot._static_items)
    fit_input = prepare_fit(window.sheet, None)
    plot.set_data(fit_input.X.copy(), fit_input.labels, ["F", "M"], "height (cm)")
    assert not any(a is b for a, b in zip(plot._static_items, drawn, strict=False))


# -- sorting -----------------------------------------------------------------------------


def _reference_text_perm(raw: np.ndarray, descending: bool) -> np.ndarray:
    """The model's general text sort: ranks of casefolded texts, blanks last, stable."""
    missing = np.equal(raw, None)
    texts = np.array(["" if v is None else str(v).casefold() for v in raw], dtype=str)
    _, ranks = np.unique(texts, return_inverse=True)
    key = -ranks.astype(float) if descending else ranks.astype(float)
    return np.argsort(np.where(missing, np.inf, key), kind="stable")


_PIECES = ["a", "B", "ß", "SS", "ss", "é", "E", "İ", "i", "ﬁ", "FI", "Σ", "ς", "σ", " ", "Z", "1", "ǅ", "😀"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_PIECES), max_size=3).map("".join)), max_size=40),
    st.booleans(),
)
def test_text_sort_in_arrow_matches_the_casefold_sort(cells, descending):
    raw = np.empty(len(cells), dtype=object)
    raw[:] = cells
    assert list(_text_sort_perm(raw, descending)) == list(_reference_text_perm(raw, descending))


def test_sorting_a_number_column_matches_a_two_key_lexsort(qapp):
    from emgui.core.sheet import Sheet

    rng = np.random.default_rng(2)
    n = 5000
    heights = np.array([None if rng.random() < 0.05 else f"{h:.1f}" for h in rng.normal(170, 8, n)], dtype=object)
    names = np.array([f"p{i}" for i in range(n)], dtype=object)
    sheet = Sheet(["name", "gender", "height"], [names, np.full(n, None, dtype=object), heights])
    model = SheetTableModel(sheet)
    col = model.view_column(sheet.roles.features[0])
    values = sheet.values(sheet.roles.features[0])
    missing = ~np.isfinite(values)
    for order, sign in ((Qt.SortOrder.AscendingOrder, 1), (Qt.SortOrder.DescendingOrder, -1)):
        model.sort(col, order)
        expected = np.lexsort((np.where(missing, 0.0, sign * values), missing))
        assert [model.sheet_row(r) for r in range(n)] == list(expected)


# -- saving ------------------------------------------------------------------------------


def test_a_large_table_is_written_in_a_thread_with_the_same_bytes(qtbot, tmp_path, monkeypatch):
    n = 2000
    columns = ["name", "height"]
    cells = [np.array([f"p{i}" for i in range(n)], dtype=object), np.array([f"{150 + i % 50}" for i in range(n)], dtype=object)]
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    for ext in (".csv", ".xlsx"):
        direct = tmp_path / f"direct{ext}"
        fileio.write_table(direct, columns, cells)
        monkeypatch.setattr(loader, "SYNC_MAX_CELLS", 10)
        threaded = tmp_path / f"threaded{ext}"
        assert loader.save_table(parent, threaded, columns, cells)
        again = fileio.read_table(threaded)
        assert again.columns == columns and [list(c) for c in again.cells] == [list(c) for c in cells]
        if ext == ".csv":
            assert threaded.read_bytes() == direct.read_bytes()


def test_cancelling_a_save_keeps_the_old_file(qtbot, tmp_path, monkeypatch):
    target = tmp_path / "keep.csv"
    target.write_text("old\n")
    monkeypatch.setattr(loader, "SYNC_MAX_CELLS", 10)
    real_write = fileio.write_table

    def slow_write(path, columns, cells, *, progress=None, cancel=None, **extras):
        for i in range(400):
            progress(i / 400)
            time.sleep(0.005)
            if cancel():
                raise fileio.ReadCancelled("cancelled")
        real_write(path, columns, cells, **extras)

    monkeypatch.setattr(fileio, "write_table", slow_write)
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()

    def press_cancel():
        from PySide6.QtWidgets import QPushButton

        for dialog in parent.findChildren(QProgressDialog):
            dialog.findChild(QPushButton).click()

    QTimer.singleShot(100, press_cancel)
    cells = [np.array([str(i) for i in range(100)], dtype=object)]
    assert not loader.save_table(parent, target, ["a"], cells)
    assert target.read_text() == "old\n"


def test_preloading_the_readers_once_and_freezing_the_start_up_objects():
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from emgui.ui import loader\n"
        "t = loader.preload_readers(freeze_gc=True)\n"
        "assert loader.preload_readers() is t\n"
        "t.join()\n"
        "print('pyarrow.csv' in sys.modules, gc.get_freeze_count() > 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_the_started_window_has_the_file_module_so_the_first_open_does_not_import_it(tmp_path):
    # Imported by the first open on the GUI thread it was 20-50 ms of a 5M open's longest pause.
    import os
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from emgui.ui.window import MainWindow\n"
        "before = 'emgui.core.fileio' in sys.modules\n"
        "w = MainWindow()\n"
        "print(before, 'emgui.core.fileio' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env=env)
    assert out.stdout.split()[-2:] == ["False", "True"]


def test_a_sheet_read_by_the_window_keeps_its_arrow_columns_in_the_c_heap(tmp_path):
    """Arrow's arrays come from malloc, not a second allocator (mimalloc) beside it: issue 14, the
    1M-row window's peak.  In a process of its own: the pool is process-wide."""
    import subprocess
    import sys

    src = tmp_path / "s.csv"
    src.write_text("name,gender,height\n" + "".join(f"n{i},{'MF'[i % 2] if i % 3 else ''},{150 + i % 40}\n"
                                                     for i in range(3000)))
    code = (
        "import pyarrow as pa\n"
        "from emgui.ui import loader\n"
        f"sheet = loader._build({str(src)!r}, 2)\n"
        "assert sheet.n_rows == 3000 and sheet.is_packed(0)\n"  # the names: Arrow text
        "print(pa.default_memory_pool().backend_name, pa.mimalloc_memory_pool().bytes_allocated(),\n"
        "      pa.system_memory_pool().bytes_allocated() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["system", "0", "True"]


def test_garbage_is_collected_only_in_the_gui_thread(window, qtbot):
    """A collection in a reader or fit thread could destroy Qt objects there."""
    import gc
    import threading

    import emgui.ui.window as window_module

    assert not gc.isenabled()  # no automatic collection, in any thread
    collector = window_module._COLLECTOR[0]
    # The UI tests pause its timer (see tests/ui/conftest.py); started here as the program has it.
    assert collector is not None and collector.timer.interval() == 1000
    seen = []
    threshold = collector.threshold
    gc.callbacks.append(lambda phase, info: seen.append(threading.current_thread()))
    collector.timer.start()
    try:
        collector.threshold = (0, 0, 0)  # collect at the next tick
        qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    finally:
        collector.timer.stop()
        gc.callbacks.pop()
        collector.threshold = threshold
    assert all(t is threading.main_thread() for t in seen)


def test_a_large_sheet_changed_since_its_last_fit_is_prepared_in_the_fit_thread(window, big_csv, qtbot, monkeypatch):
    """A refit after an edit makes its input off the GUI thread, with the same result."""
    import threading

    import emgui.ui.pacing as pacing
    from emgui.core import fill as fill_module
    from emgui.core.fill import prepare_fit

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large
    assert window.open_path(big_csv, ask=False)
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()  # prepared by the loader: the usual path
    first = window.sheet.provenance.copy()
    # An edit outside the fit's columns: the sheet changed otherwise than by the fill.
    window.sheet.set_cell(0, 0, "P0 again")
    threads = []
    prepare_from = fill_module.prepare_from
    monkeypatch.setattr(
        fill_module, "prepare_from", lambda *a, **k: (threads.append(threading.current_thread()), prepare_from(*a, **k))[1]
    )
    fit_source = fill_module.fit_source
    copied = []
    monkeypatch.setattr(
        fill_module, "fit_source", lambda *a, **k: (copied.append(threading.current_thread()), fit_source(*a, **k))[1]
    )
    kept = []  # after the window's own slot: is the input kept as prepare_fit's?
    window.controller.fit_prepared.connect(
        lambda made: kept.append(fill_module.cached_fit_input(window.sheet, None) is made)
    )
    with qtbot.waitSignal(window.controller.fit_prepared, timeout=30_000):
        window.fill_gaps()  # the sheet changed (filled): input made in the fit's thread
        assert window._fit_input is None  # not on the GUI thread
    qtbot.waitUntil(lambda: not window.is_fitting(), timeout=30_000)
    qtbot.wait(100)  # nothing left over (a deferred drawing of the data) makes it here either
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert copied and all(t is not threading.main_thread() for t in copied)  # the sheet's copy too
    assert kept == [True]
    assert (window.sheet.provenance == first).all()  # the same fit, the same fill
    monkeypatch.setattr(fill_module, "prepare_from", prepare_from)
    again = prepare_fit(window.sheet, None)
    assert np.array_equal(again.X, window._explained.X) and np.array_equal(again.labels, window._explained.labels)


def test_an_edit_while_a_refit_copies_the_sheet_fits_again(window, big_csv, qtbot, monkeypatch):
    import emgui.ui.pacing as pacing

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)
    assert window.open_path(big_csv, ask=False)
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    discarded = []
    window.fit_discarded.connect(lambda: discarded.append(window.sheet.version))
    height = window.sheet.roles.features[0]
    with qtbot.waitSignal(window.fill_applied, timeout=60_000):
        window.fill_gaps()  # filled since: the fit's thread copies the sheet
        window.sheet.set_cell(1, height, "199")  # ...which has changed by the time it is used
    assert len(discarded) == 1  # that fit described the data before the edit: fitted again
    assert window.sheet.text(1, height) == "199" and window.sheet.counts()["filled"] > 0


def test_a_fit_input_that_cannot_be_made_in_the_thread_is_reported(window, big_csv, qtbot, monkeypatch):
    import emgui.ui.pacing as pacing
    from emgui.core import fill as fill_module

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a, **k: shown.append(text)))
    assert window.open_path(big_csv, ask=False)
    window.sheet.set_cell(0, 0, "edited")  # the kept input is stale now

    def fails(*args, **kwargs):
        raise fill_module.FillError("No row has a readable value in every feature column; nothing to fit.")

    monkeypatch.setattr(fill_module, "prepare_from", fails)
    with qtbot.waitSignal(window.controller.fit_failed, timeout=30_000):
        window.fill_gaps()
    assert shown and "No row has a readable value" in shown[-1]
    assert not window.is_fitting() and window.sheet.counts()["filled"] == 0


def test_a_large_sheets_fill_is_written_from_a_timer_a_turn_after_the_fit(window, big_csv, qtbot, monkeypatch):
    """Not in the slot of the fit's queued signal: posted events go before timers and input."""
    import emgui.ui.pacing as pacing

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large
    assert window.open_path(big_csv, ask=False)
    finished, applied = [], []
    window._controller.fit_finished.connect(lambda o: finished.append(window.sheet.filled_rows().size))
    window.fill_applied.connect(applied.append)
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    assert finished == [0] and len(applied) == 1  # nothing written in the fit's slot itself
    assert window.sheet.filled_rows().size == len(applied[0].rows) > 0
    assert not window.is_fitting()


def test_escape_between_a_large_fit_and_its_fill_writes_nothing(window, big_csv, qtbot, monkeypatch):
    import emgui.ui.pacing as pacing

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)
    monkeypatch.setattr(pacing, "STEP_MS", 300)  # time to press Escape in between
    assert window.open_path(big_csv, ask=False)
    applied = []
    window.fill_applied.connect(applied.append)
    with qtbot.waitSignal(window._controller.fit_finished, timeout=30_000):
        window.fill_gaps()
    assert window.is_fitting()  # finished, not written yet: Stop still applies
    window.stop_fit()
    qtbot.wait(500)
    assert applied == [] and window.sheet.filled_rows().size == 0
    assert not window.is_fitting() and window.fit_label.text() == "Stopped"


def test_an_edit_between_a_large_fit_and_its_fill_fits_again(window, big_csv, qtbot, monkeypatch):
    import emgui.ui.pacing as pacing

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)
    monkeypatch.setattr(pacing, "STEP_MS", 300)
    assert window.open_path(big_csv, ask=False)
    discarded, applied = [], []
    window.fit_discarded.connect(lambda: discarded.append(True))
    window.fill_applied.connect(applied.append)
    with qtbot.waitSignal(window._controller.fit_finished, timeout=30_000):
        window.fill_gaps()
    window.sheet.set_cell(0, 0, "Renamed")  # the data changed before the fill was written
    qtbot.waitUntil(lambda: bool(applied), timeout=30_000)
    assert discarded == [True] and applied[0].rows.size == window.sheet.filled_rows().size


@pytest.mark.parametrize("large", [False, True])
def test_a_fill_is_written_into_copies_in_the_fit_thread_and_swapped_in(window, big_csv, qtbot, monkeypatch, large):
    """The GUI thread's part of a fill swaps the marks in and writes the texts (a refit's confidences too); undo,
    redo and a refit as before."""
    import emgui.ui.pacing as pacing
    from emgui.core import sheet as sheet_module

    if large:
        monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large: the refit is copied in the thread
    prepared_in, written_in = [], []
    prepare_fill, apply_fill = sheet_module.Sheet.prepare_fill, sheet_module.Sheet.apply_fill

    def spy_prepare(self, *a, **k):
        prepared_in.append(threading.current_thread())
        return prepare_fill(self, *a, **k)

    def spy_apply(self, *a, **k):
        written_in.append(threading.current_thread())
        return apply_fill(self, *a, **k)

    monkeypatch.setattr(sheet_module.Sheet, "prepare_fill", spy_prepare)
    monkeypatch.setattr(sheet_module.Sheet, "apply_fill", spy_apply)
    assert window.open_path(big_csv, ask=False)
    sheet = window.sheet
    blank = sheet.label_missing().copy()
    before = [sheet.provenance, sheet.guess]
    for a in before:
        a.flags.writeable = False  # the GUI thread's swap writes no mark into them
    column = sheet.column_cells(sheet.roles.label)
    typed = column.copy()
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    assert prepared_in and all(t is not threading.main_thread() for t in prepared_in)
    assert written_in == []  # swapped in: nothing written row by row
    for a in before:
        a.flags.writeable = True
    assert all(new is not old for new, old in zip([sheet.provenance, sheet.guess], before, strict=True))
    confidence = sheet.confidence  # a refit writes the plan's into it when swapped in (no copy prepared)
    assert sheet.column_cells(sheet.roles.label) is column  # written where filled, not copied
    assert set(np.flatnonzero(column != typed)) <= set(np.flatnonzero(blank))
    filled = sheet.provenance.copy()
    texts = sheet.column_cells(sheet.roles.label).copy()
    assert (filled[~blank] == 0).all() and (filled[blank] != 0).all()
    window.undo_stack.undo()
    assert (sheet.provenance == 0).all() and (sheet.label_missing() == blank).all()
    window.undo_stack.redo()  # a later redo writes the plan as usual, with the same result
    assert written_in == [threading.main_thread()]
    assert (sheet.provenance == filled).all() and list(sheet.column_cells(sheet.roles.label)) == list(texts)
    # A refit on the filled sheet: its undo record comes from the fit's thread too.
    with qtbot.waitSignal(window.fill_applied, timeout=60_000):
        window.fill_gaps()
    qtbot.waitUntil(lambda: not window.is_fitting(), timeout=30_000)
    assert len(written_in) == 1 and (sheet.provenance == filled).all()
    assert sheet.confidence is confidence and np.isfinite(confidence[blank]).all()
    window.undo_stack.undo()  # back to the first fill, its marks from the record
    assert (sheet.provenance == filled).all() and list(sheet.column_cells(sheet.roles.label)) == list(texts)
    window.undo_stack.undo()
    assert (sheet.provenance == 0).all() and (sheet.label_missing() == blank).all()


def test_a_large_sheet_s_row_numbers_are_made_in_the_loader_thread(window, big_csv, monkeypatch):
    # Numbering five million rows on the GUI thread paused it 40-90 ms
    # (issue 14 item 3): the loader thread makes them, the table takes them.
    import emgui.ui.pacing as pacing
    from emgui.ui import table_model

    made_in: list[str] = []
    prepare = table_model.prepare_row_numbers
    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large
    monkeypatch.setattr(
        table_model, "prepare_row_numbers", lambda n: (made_in.append(threading.current_thread().name), prepare(n))
    )
    assert window.open_path(big_csv, ask=False)
    assert len(made_in) == 1 and made_in[0] != threading.main_thread().name
    assert table_model._prepared_rows == []  # taken, not kept beside the table's own
    assert window.model.sheet_row(2999) == 2999 and window.model.sheet_row(0) == 0
    # A prepared array of another length is never used.
    table_model.prepare_row_numbers(5)
    assert table_model._row_numbers(7).tolist() == list(range(7))
    assert table_model._row_numbers(0).tolist() == []


def test_a_refit_after_a_fill_alone_fits_the_same_input_and_undoes_exactly(window, big_csv, qtbot, monkeypatch):
    """F5 again on a sheet changed only by its fill reuses the fit's input (nothing made again, no copy).

    The refit's fill and its undo and redo leave exactly what they did when
    the input was made anew (issue 14 item 3: five million rows, ~60 MB less).
    """
    import emgui.ui.pacing as pacing
    from emgui.core import fill as fill_module

    monkeypatch.setattr(pacing, "LARGE_ROWS", 1000)  # 3000 rows count as large
    assert window.open_path(big_csv, ask=False)
    sheet = window.sheet

    def state():
        label = sheet.roles.label
        return (list(sheet.column_cells(label)), sheet.provenance.tolist(), repr(sheet.confidence.tolist()),
                sheet.guess.tolist(), sheet.label_missing().tolist())

    before = state()
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    first_fill = state()
    made = []
    for name in ("prepare_from", "fit_source"):
        real = getattr(fill_module, name)
        monkeypatch.setattr(fill_module, name, lambda *a, _real=real, _name=name, **k: (made.append(_name), _real(*a, **k))[1])
    carried = fill_module.cached_fit_input(sheet, None)
    assert carried is not None and carried.version == sheet.version
    window.set_min_confidence(0.9)  # the refit leaves some rows filled before blank (uncertain)
    with qtbot.waitSignal(window.fill_applied, timeout=30_000):
        window.fill_gaps()
    assert made == []  # the input the first fill was fitted on, kept
    refit = state()
    assert refit != first_fill
    monkeypatch.undo()  # made anew from the filled sheet: the same input
    fresh = fill_module.prepare_from(fill_module.fit_source(sheet), None)
    kept = fill_module.cached_fit_input(sheet, None)
    assert np.array_equal(fresh.X, kept.X) and np.array_equal(fresh.labels, kept.labels)
    assert np.array_equal(fresh.rows, kept.rows) and np.array_equal(fresh.blank_rows, kept.blank_rows)
    window.undo_stack.undo()
    assert state() == first_fill
    window.undo_stack.undo()
    assert state() == before
    window.undo_stack.redo()
    window.undo_stack.redo()
    assert state() == refit
    window.undo_stack.setClean()  # no "save changes?" when the window closes
