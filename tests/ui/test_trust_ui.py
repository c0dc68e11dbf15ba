"""The window says how far a fill can be trusted: the self-check, the model, notes, unusual values."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from emgui.core.sheet import UNCERTAIN, USER, Sheet
from emgui.ui import dialogs
from tests.ui.test_window import (  # noqa: F401 - fixtures used by name
    answers,
    isolated_settings,
    run_fill,
    synthetic_sheet,
    warnings,
    window,
)

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

_TOOLTIP = Qt.ItemDataRole.ToolTipRole


def test_fit_panel_says_how_far_to_trust_the_fill_and_shows_the_curve(qtbot, window, monkeypatch):
    window.set_sheet(synthetic_sheet(400, seed=2))
    run_fill(qtbot, window)
    panel = window.fit_panel
    report = panel.report
    assert report is not None and report.check.accuracy is not None
    text = panel.trust.text()
    assert "of the filled cells are likely right" in text and "checked by hiding 5 × 20 %" in text
    assert "lower is better" in text
    # The candidates, best first, the chosen one ticked.
    assert panel.models.rowCount() == 4
    assert panel.models.item(0, 0).text().startswith("✔")
    shown = []
    monkeypatch.setattr(dialogs.ReliabilityDialog, "exec", lambda self: shown.append(self) or 0)
    assert panel.reliability_button.isEnabled()
    panel.reliability_button.click()
    (dialog,) = shown
    xs, ys = dialog.points.getData()
    assert len(xs) == len(report.check.reliability) and np.all((ys >= 0) & (ys <= 1))


def test_unusual_value_is_marked_left_out_noted_and_undone_with_the_fill(qtbot, window):
    sheet = synthetic_sheet(300, seed=4)
    sheet.set_cell(8, 1, None)
    sheet.set_cell(8, 2, "245")  # a plausible human height, far from both groups of this class
    window.set_sheet(sheet)
    run_fill(qtbot, window)
    assert window.sheet.is_unusual(8, 2)
    assert window.sheet.provenance[8] == UNCERTAIN and window.sheet.text(8, 1) is None
    assert window.sheet.note(8).startswith("not filled: unusual value (245 is ")
    model = window.model
    tip = model.data(model.index(model.view_row(8), model.view_column(2)), _TOOLTIP)
    assert tip.startswith("Unusual under the fit: 245 is ")
    label_tip = model.data(model.index(model.view_row(8), model.view_column(1)), _TOOLTIP)
    assert "not filled: unusual value" in label_tip
    # Show: rows with a note.
    window.set_filter("notes")
    assert 8 in [model.sheet_row(r) for r in range(model.rowCount() - 1)]
    window.set_filter("all")
    # Undo takes the fill back, marks and notes with it.
    window.undo_stack.undo()
    assert not window.sheet.is_unusual(8, 2) and window.sheet.provenance[8] == USER
    window.undo_stack.redo()
    assert window.sheet.is_unusual(8, 2)


def test_a_group_nobody_typed_stays_blank_with_a_note(qtbot, window):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(150, 4, 80), rng.normal(175, 4, 80), rng.normal(210, 4, 60)])
    labels = np.array(["F"] * 80 + ["M"] * 80 + [None] * 60, dtype=object)
    labels[::2] = None  # half of the typed classes blank too
    sheet = Sheet(["gender", "height"], [labels, np.array([f"{v:.1f}" for v in x], dtype=object)])
    window.set_sheet(sheet)
    run_fill(qtbot, window)
    report = window.fit_panel.report
    assert report.unnamed == (False, False, True)
    tail = [r for r in range(160, 220) if window.sheet.text(r, 0) is None]
    assert len(tail) >= 55
    assert all(window.sheet.note(r).startswith("unlike every typed class: a group of") for r in tail)
    assert "no typed label names" in window.fit_panel.trust.text()
