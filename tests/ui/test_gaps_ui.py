"""The window's part of issue 13: Data ▸ Also Fill Blank Numbers and File ▸ Export Multiple Imputations."""

from __future__ import annotations

import csv
import html

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from emgui.core.sheet import Roles
from emgui.ui import dialogs
from emgui.ui.table_model import FILLED_MARK
from emgui.ui.window import MainWindow

# The offscreen platform cannot resize windows to fit their docks and says so.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
D, TIP, FONT = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.FontRole
FIT_TIMEOUT = 30_000


@pytest.fixture
def window(qtbot, tmp_path, qapp, monkeypatch):
    """A window with its own settings; no dialog blocks (warnings and the unsaved-changes question)."""
    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: "discard")
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.wait(10_000)


@pytest.fixture
def gaps(window, tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "class.csv"
    rows = []
    for i in range(80):
        male = i % 2
        h = 163 + 14 * male + rng.normal(0, 6)
        w = 58 + 15 * male + 0.5 * (h - 163 - 14 * male) + rng.normal(0, 4)
        rows.append([f"p{i}", "" if i % 3 == 0 else "FM"[male],
                     "" if i % 9 == 4 else f"{h:.1f}", "" if i % 7 == 2 else f"{w:.1f}"])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([["name", "gender", "height", "weight"], *rows])
    assert window.open_path(path)
    window.apply_roles(Roles(1, (2, 3), {2: "cm"}))
    return window, rows


def _view_col(window, col):
    return next(j for j in range(window.model.columnCount()) if window.model._view_cols[j] == col)


def test_also_fill_blank_numbers_marks_them_and_undo_brings_the_blanks_back(gaps, qtbot):
    window, rows = gaps
    sheet = window.sheet
    blank_weight = [i for i, r in enumerate(rows) if r[3] == "" and r[2] != ""]
    window.action_map["fill_numbers"].setChecked(True)
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert all(sheet.number_mark(i, 3) is not None for i in blank_weight)
    assert all(sheet.text(i, 3) is not None for i in blank_weight)
    i = blank_weight[0]
    index = window.model.index(window.model._order.tolist().index(i), _view_col(window, 3))
    assert window.model.data(index, D).endswith(FILLED_MARK)
    assert "95 % between" in window.model.data(index, TIP)
    assert window.model.data(index, FONT).italic()
    # Typed numbers are drawn as before.
    typed = next(j for j, r in enumerate(rows) if r[3] != "")
    index = window.model.index(window.model._order.tolist().index(typed), _view_col(window, 3))
    assert not window.model.data(index, D).endswith(FILLED_MARK)
    window.undo_stack.undo()
    assert all(sheet.text(i, 3) is None and sheet.number_mark(i, 3) is None for i in blank_weight)
    window.undo_stack.redo()
    assert all(sheet.number_mark(i, 3) is not None for i in blank_weight)
    window.action_map["clear_filled"].trigger()
    assert all(sheet.text(i, 3) is None for i in blank_weight)
    window.undo_stack.undo()
    assert all(sheet.number_mark(i, 3) is not None for i in blank_weight)
    window.action_map["accept"].trigger()
    assert not len(sheet.filled_rows()) and all(sheet.text(i, 3) is not None for i in blank_weight)


def test_export_multiple_imputations_writes_stacked_copies(gaps, qtbot, tmp_path, monkeypatch):
    window, rows = gaps
    out = tmp_path / "draws.csv"
    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(lambda *a, **k: (3, True)))
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(out))
    shown = []
    monkeypatch.setattr("emgui.ui.files.QMessageBox.information", lambda *a, **k: shown.append(a[2]))
    assert not window.export_draws()  # nothing filled yet: says so
    assert shown and "Fill the gaps first" in shown[0]
    window.action_map["fill_numbers"].setChecked(True)
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    window.action_map["export_draws"].trigger()
    with open(out, newline="", encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0][:5] == ["imputation", "name", "gender", "height", "weight"]
    assert len(got) == 1 + 3 * len(rows)
    for m in range(3):
        copy = got[1 + m * len(rows) : 1 + (m + 1) * len(rows)]
        assert {r[0] for r in copy} == {str(m + 1)}
        for r_in, r_out in zip(rows, copy, strict=True):
            assert all(v == "" or r_out[c + 1] == v for c, v in enumerate(r_in))  # typed cells kept
            assert r_out[2] in ("F", "M") or r_in[2] == r_in[3] == ""


def test_little_test_is_said_in_the_fit_panel_and_computed_in_the_fit_thread(gaps, qtbot, monkeypatch):
    import threading

    from emgui.core import trust
    from emgui.core.fill import prepare_fit

    window, rows = gaps
    expected = trust.little_mcar(prepare_fit(window.sheet).X)
    threads = []
    real = trust.little_mcar

    def spy(X):
        threads.append(threading.current_thread())
        return real(X)

    monkeypatch.setattr(trust, "little_mcar", spy)
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert threads and all(t is not threading.main_thread() for t in threads)
    test = window.fit_panel.blanks
    assert test.columns == ("height", "weight") and test.rows is None
    assert (test.chi2, test.df, test.p) == pytest.approx((expected["chi2"], expected["df"], expected["p"]))
    # Blanks hidden at random here: the sentence says nothing suggests a dependence.
    assert test.p >= 0.05
    text = window.fit_panel.trust.text()
    assert f"Nothing suggests the blanks depend on the values (p = {test.p:.2f}" in text


def test_little_test_says_when_blanks_depend_on_values(window, qtbot, tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "mnar.csv"
    rows = []
    for i in range(200):
        male = i % 2
        h = 163 + 14 * male + rng.normal(0, 6)
        w = 58 + 15 * male + 0.5 * (h - 163 - 14 * male) + rng.normal(0, 4)
        # The tall rows' weights were never written down: blank depends on height.
        rows.append([f"p{i}", "" if i % 3 == 0 else "FM"[male], f"{h:.1f}", "" if h > 175 else f"{w:.1f}"])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([["name", "gender", "height", "weight"], *rows])
    assert window.open_path(path)
    window.apply_roles(Roles(1, (2, 3), {2: "cm"}))
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert window.fit_panel.blanks.p < 0.001
    text = html.unescape(window.fit_panel.trust.text())  # rich text: "<" is written "&lt;"
    assert ("Whether weight is blank depends on other values (p < 0.001): filling assumes the blanks "
            "are explained by the columns you have.") in text
    # A sheet without blank numbers: no test, no sentence.
    rows = [r[:3] + [r[3] or "70"] for r in rows]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([["name", "gender", "height", "weight"], *rows])
    assert window.open_path(path)
    window.apply_roles(Roles(1, (2, 3), {2: "cm"}))
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert window.fit_panel.blanks is None and "Little" not in window.fit_panel.trust.text()


def test_missing_data_report_shows_the_core_patterns_as_a_table_and_a_picture(gaps, qtbot):
    from emgui.core.fill import missing_patterns
    from emgui.ui.missing_report import BLANK_GRAY, PICTURE_ROWS, PRESENT_GRAY

    window, rows = gaps
    assert window.action_map["missing_report"] in window.menuBar().actions()[2].menu().actions()
    window.action_map["missing_report"].trigger()
    dialog = window.missing_report
    qtbot.waitExposed(dialog)
    patterns = missing_patterns(window.sheet)
    # By hand from the fixture's rule: label blank when i % 3 == 0, height when i % 9 == 4, weight when i % 7 == 2.
    by_hand = {}
    for i in range(len(rows)):
        key = tuple(c for c, b in zip(("gender", "height", "weight"),
                                      (i % 3 == 0, i % 9 == 4, i % 7 == 2), strict=True) if b)
        by_hand[key] = by_hand.get(key, 0) + 1
    assert {tuple(p["blank"]): p["rows"] for p in patterns} == by_hand
    table = dialog.table
    assert table.rowCount() == len(patterns)
    for i, p in enumerate(patterns):
        assert table.item(i, 0).text() == (", ".join(p["blank"]) or "(nothing blank)")
        assert table.item(i, 1).text() == str(p["rows"])
    assert "80 rows" in dialog.summary.text()
    # No fill yet: Little's test is said to come with the fill.
    assert "runs with the fill" in dialog.little.text()
    pixels = dialog.picture.pixels
    assert pixels.shape[1] == 3 and pixels.shape[0] <= PICTURE_ROWS + len(patterns)
    assert set(np.unique(pixels)) <= {BLANK_GRAY, PRESENT_GRAY}
    # Each column's dark share is its blank share of the rows (to the picture's rounding).
    for j, name in enumerate(("gender", "height", "weight")):
        blank_rows = sum(p["rows"] for p in patterns if name in p["blank"])
        assert np.mean(pixels[:, j] == BLANK_GRAY) == pytest.approx(blank_rows / len(rows), abs=0.02)
    # Grouped by pattern: the bands come in the table's order, one run per pattern.
    runs = [pixels[0].tolist()] + [pixels[i].tolist() for i in range(1, len(pixels)) if (pixels[i] != pixels[i - 1]).any()]
    assert runs == [[BLANK_GRAY if c in p["blank"] else PRESENT_GRAY for c in ("gender", "height", "weight")]
                    for p in patterns]
    dialog.close()
    # After a fill the report carries the Fit panel's sentence on Little's test.
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    window.action_map["missing_report"].trigger()
    assert window.missing_report.little.text().startswith("Nothing suggests the blanks depend on the values")
    window.missing_report.close()


def test_pattern_picture_of_a_million_rows_stays_small():
    from emgui.ui.missing_report import BLANK_GRAY, PICTURE_ROWS, pattern_picture

    patterns = [{"blank": [], "rows": 899_990}, {"blank": ["weight"], "rows": 100_000},
                {"blank": ["height", "weight"], "rows": 10}]
    pixels = pattern_picture(patterns, ["height", "weight"])
    assert len(pixels) <= PICTURE_ROWS + 3
    assert np.count_nonzero(pixels[:, 0] == BLANK_GRAY) == 1  # a rare pattern keeps one line
    assert np.count_nonzero(pixels[:, 1] == BLANK_GRAY) == 1 + round(0.1 * PICTURE_ROWS)


def test_how_em_works_explains_a_filled_number_as_the_blank_it_was(gaps, qtbot):
    window, rows = gaps
    i = next(j for j, r in enumerate(rows) if r[1] == "" and r[2] != "" and r[3] == "")  # label and weight blank
    window.action_map["fill_numbers"].setChecked(True)
    with qtbot.waitSignal(window.fill_applied, timeout=FIT_TIMEOUT):
        window.action_map["fill"].trigger()
    assert window.sheet.number_mark(i, 3) is not None  # the weight is filled now ...
    window.show_how_em()
    window.view.setCurrentIndex(window.model.index(window.model._order.tolist().index(i), 0))
    text = window._how_em.text()
    # ... and explained as the fit sees it: blank, expected from the height.
    assert f"For row {i + 1}: x = ({float(rows[i][2]):.1f} cm, blank)" in text
    assert "E-step for the blank weight" in text and "Also Fill Blank Numbers writes" in text
