"""The window refuses hostile files in its loader thread and keeps the open sheet;
wide sheets have their columns sized as they come into view."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hostile_files import run_limited
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QMessageBox

from emgui.core import fileio
from emgui.ui.window import MainWindow

# The offscreen platform cannot resize windows to fit their docks and says so.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

_WINDOW_CHILD = """
import os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["XDG_CONFIG_HOME"] = os.environ["XDG_DATA_HOME"] = {folder!r}
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
import hostile_files as h
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox
QCoreApplication.setOrganizationName("emgui-tests")
QCoreApplication.setApplicationName("hostile")
app = QApplication([])
from emgui.ui.window import MainWindow
shown = []
QMessageBox.warning = staticmethod(lambda parent, title, text, *a, **k: shown.append([title, text]))
window = MainWindow()
window.show()
folder = Path({folder!r})
assert window.open_path(h.formatted_range_xlsx(folder / "ok.xlsx"), ask=False)
sheet = window.sheet
result = []
for make, name in ((h.far_cell_xlsx, "far.xlsx"), (h.shared_string_bomb_xlsx, "sst.xlsx"),
                   (h.ods_repeat_bomb, "bomb.ods")):
    opened = window.open_path(make(folder / name), ask=False)
    result.append([opened, window.sheet is sheet, window.windowTitle(), shown[-1] if shown else None])
"""


def test_hostile_workbooks_are_refused_by_the_window_which_keeps_its_sheet(tmp_path):
    """In a child with a 1.5 GB limit: a regression aborts the child, not the test run."""
    import hostile_files

    tests = str(Path(hostile_files.__file__).parent)
    code = _WINDOW_CHILD.format(folder=str(tmp_path), tests=tests)
    # The window's threads (Qt's pool, the plot's helper, the loader) each
    # reserve stack and heap arenas: 1.5 GB of address space no longer starts
    # it ("cannot allocate memory for thread-local data").  4 GB still stops
    # the readers' 8 GB and 512 GB requests; the resident peak is checked below.
    rc, result, peak_mb, stderr = run_limited(code, memory=4 * 2**30, timeout=120)
    assert rc == 0, stderr[-3000:]
    assert len(result) == 3
    for (opened, kept, title, warning), name in zip(result, ["far.xlsx", "sst.xlsx", "bomb.ods"], strict=True):
        assert not opened and kept
        assert title.startswith("ok.xlsx")
        assert warning[0] == "Cannot open the file"
        assert warning[1].startswith(f"'{name}' has a sheet") and "it was not read" in warning[1]
    assert peak_mb < 500


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, qapp):
    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    shown: list = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda p, t, x, *a, **k: shown.append((t, x))))
    w = MainWindow()
    w.warnings = shown
    qtbot.addWidget(w)
    w.resize(760, 560)  # the offscreen screen is 800 x 600
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.wait(10_000)


def test_even_a_small_workbook_is_read_in_the_loader_thread(window, tmp_path, monkeypatch):
    path = tmp_path / "small.xlsx"
    fileio.write_table(
        path,
        ["name", "gender", "height"],
        [np.array(v, dtype=object) for v in (["a", "b"], ["F", None], ["160", "181"])],
    )
    threads = []
    real = fileio.read_table
    monkeypatch.setattr(fileio, "read_table", lambda *a, **k: threads.append(threading.current_thread()) or real(*a, **k))
    assert window.open_path(path, ask=False)
    assert window.sheet.n_rows == 2
    assert threads and all(t is not threading.main_thread() for t in threads)
    # A refused file leaves this sheet in place, and says why.
    sheet = window.sheet
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert not window.open_path(bad, ask=False)
    assert window.sheet is sheet and window.warnings[-1][0] == "Cannot open the file"


def test_a_wide_sheet_sizes_the_columns_in_view_and_the_rest_as_they_scroll_in(window, tmp_path, qtbot):
    n = 1500
    path = tmp_path / "wide.csv"
    header = ["gender", "height"] + [f"a_rather_long_column_name_{j}" for j in range(n - 2)]
    rows = [["F" if i % 2 else "", str(150 + i)] + [f"v{i}"] * (n - 2) for i in range(5)]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    assert window.open_path(path, ask=False)
    view, model = window.view, window.model
    default = view.horizontalHeader().defaultSectionSize()
    last = model.columnCount() - 1
    # Columns in view fit their long names; columns far to the right are not measured yet.
    assert view.columnWidth(3) > default
    assert view.columnWidth(last) == default
    assert len(window._sized_columns) < 60
    # Scrolled to the end, the columns now in view are sized too.
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().maximum())
    qtbot.waitUntil(lambda: view.columnWidth(last) > default, timeout=5000)
    assert len(window._sized_columns) < 120
