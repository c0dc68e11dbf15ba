"""The "How EM Works" panel: the numbers it shows are the fit's own."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from PySide6.QtWidgets import QTextBrowser

from emgui.core.mixture import EMFit, Snapshot, predict_proba
from emgui.ui.explain import ExplainPanel
from emgui.ui.worker import FitController

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

CLASSES = ["Female", "Male"]


def _heights(seed=0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(163.0, 6.0, 30), rng.normal(177.0, 7.0, 30)].round()
    labels = np.full(60, -1)
    labels[:4] = 0
    labels[30:34] = 1
    return x[:, None], labels


def _two_features_three_classes(seed=1):
    rng = np.random.default_rng(seed)
    parts = [
        rng.multivariate_normal([140, 35], [[40, 20], [20, 60]], 30),
        rng.multivariate_normal([163, 58], [[36, 20], [20, 64]], 30),
        rng.multivariate_normal([177, 75], [[49, 30], [30, 100]], 30),
    ]
    labels = np.full(90, -1)
    for k in range(3):
        labels[30 * k : 30 * k + 3] = k
    return np.vstack(parts), labels


def _number(cell: str) -> float:
    """A shown number back as a float ("−1,234.5", "12.3 %", "3.21 × 10-5")."""
    s = cell.replace("\u2212", "-").replace(",", "").replace("%", "").replace("\xa0", " ").strip()
    m = re.fullmatch(r"([-+]?[\d.]+)\s*×\s*10([-+]?\d+)", s)
    if m:
        return float(m.group(1)) * 10.0 ** int(m.group(2))
    return float(s)


def _parts(cell: str) -> tuple[str, int, int]:
    """(mantissa text, power of ten, decimals) of a shown number: "−1,234.5", "3.21 × 10−5"."""
    s = cell.replace("\u2212", "-").replace(",", "").replace("%", "").replace("\xa0", " ").strip()
    m = re.fullmatch(r"([-+]?[\d.]+)\s*×\s*10([-+]?\d+)", s)
    mantissa, exponent = (m.group(1), int(m.group(2))) if m else (s, 0)
    return mantissa, exponent, len(mantissa.partition(".")[2])


def _matches(cell: str, expected: float) -> bool:
    """Whether ``cell`` shows ``expected`` (a fraction if the cell is a %) to its own digits."""
    if "%" in cell:
        expected *= 100.0
    mantissa, exponent, decimals = _parts(cell)
    if exponent:
        return _matches_log(cell, math.log(expected))
    return abs(float(mantissa) - expected) <= 0.5001 * 10.0**-decimals + 1e-12


def _matches_log(cell: str, ln_expected: float) -> bool:
    """Like :func:`_matches` for exp(``ln_expected``), which may be far below the float range."""
    mantissa, exponent, decimals = _parts(cell)
    log10 = ln_expected / math.log(10.0)
    if not exponent:
        return abs(float(mantissa) - 10.0**log10) <= 0.5001 * 10.0**-decimals
    scale = math.floor(log10)
    return scale == exponent and abs(10.0 ** (log10 - scale) - float(mantissa)) <= 0.5001 * 10.0**-decimals


def _tables(text: str) -> list[dict[str, list[str]]]:
    """The panel's tables from its plain text: one dict per table, class name -> cells.

    Qt writes one table cell per line; a class row starts with "■ <name>".
    """
    lines = [ln.replace("\xa0", " ").strip() for ln in text.splitlines()]
    tables: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("■ "):
            name = line[2:].strip()
            if current is None or name in current:
                current = {}
                tables.append(current)
            cells = []
            i += 1
            while i < len(lines) and not lines[i].startswith("■ ") and lines[i] not in ("Σ", ""):
                cells.append(lines[i])
                i += 1
            current[name] = cells
            if i < len(lines) and lines[i] in ("Σ", ""):
                current = None
            continue
        i += 1
    return tables


def _e_and_m(panel: ExplainPanel):
    tables = _tables(panel.text())
    assert len(tables) == 2, panel.text()
    return tables


@pytest.fixture
def panel(qtbot):
    p = ExplainPanel()
    qtbot.addWidget(p)
    p.resize(700, 900)
    return p


def test_stepping_changes_the_numbers_and_they_match_the_snapshot(panel):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    em = EMFit(X, labels, tol=0.0, max_iter=50)
    shown = []
    previous = None
    for _ in range(4):
        snap = em.step()
        panel.show_snapshot(snap, previous)
        text = panel.text()
        assert f"Iteration {snap.iteration}" in text
        _, m_table = _e_and_m(panel)
        for k, name in enumerate(CLASSES):
            n_k, n_labelled, weight, weighted_sum, mean, sd = m_table[name]
            assert _matches(n_k, snap.weights[k] * len(X))
            assert n_labelled == "4"
            assert _matches(weight, snap.weights[k])
            assert _matches(mean, snap.means[k, 0])
            assert _matches(sd, math.sqrt(snap.covariances[k, 0, 0]))
            # Σ r x / N_k is the mean: the M-step in numbers.
            assert _matches(weighted_sum, snap.weights[k] * len(X) * snap.means[k, 0])
        shown.append(m_table)
        ll = re.search(r"= (\S+)\n", text[text.index("ℓ(θ") :]).group(1)
        assert _matches(ll, snap.log_likelihood)
        if previous is not None:
            delta = re.search(r"Δℓ = (\S+)", text).group(1)
            assert _number(delta) == pytest.approx(snap.log_likelihood - previous, rel=1e-3)
            assert _number(delta) >= 0.0
        previous = snap.log_likelihood
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))


def test_responsibilities_match_predict_proba_for_any_row(panel):
    X, labels = _heights(seed=3)
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    em = EMFit(X, labels, tol=0.0, max_iter=50)
    for _ in range(3):
        snap = em.step()
        panel.show_snapshot(snap)
        for row in (10, 40, 55):
            assert labels[row] == -1
            panel.select_row(X[row], -1, caption=f"row {row}")
            assert f"For row {row}: x = {X[row, 0]:.1f} cm" in panel.text()
            e_table, _ = _e_and_m(panel)
            post = predict_proba(X[row : row + 1], snap.weights, snap.means, snap.covariances)[0]
            joint = []
            for k, name in enumerate(CLASSES):
                weight, z, density, weighted, resp = e_table[name]
                sd = math.sqrt(snap.covariances[k, 0, 0])
                z_true = (X[row, 0] - snap.means[k, 0]) / sd
                pdf = math.exp(-0.5 * z_true**2) / (sd * math.sqrt(2 * math.pi))
                assert _matches(resp, post[k])
                assert _matches(weight, snap.weights[k])
                assert _matches(z, z_true)
                assert _number(density) == pytest.approx(pdf, rel=5e-3)
                assert _number(weighted) == pytest.approx(snap.weights[k] * pdf, rel=5e-3)
                joint.append(_number(weighted))
            # The responsibility is the class's share of the summed curve heights.
            assert np.array(joint) / sum(joint) == pytest.approx(post, abs=0.01)


def test_labelled_row_shows_its_fixed_responsibility(panel):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    em = EMFit(X, labels)
    panel.show_snapshot(em.step())
    snap = em.step()
    panel.show_snapshot(snap)
    row = 31  # typed "Male"
    assert labels[row] == 1
    panel.select_row(X[row], int(labels[row]))
    e_table, _ = _e_and_m(panel)
    assert e_table["Male"][-1] == "100.0 %"
    assert e_table["Female"][-1] == "0.0 %"
    text = panel.text()
    assert "fixed at 1" in text
    assert "label is typed: Male" in text
    # What the curves alone would say is shown apart, and it is predict_proba's.
    post = predict_proba(X[row : row + 1], snap.weights, snap.means, snap.covariances)[0]
    alone = re.search(r"Female (\S+ %), Male (\S+ %)", text)
    assert _matches(alone.group(1), post[0]) and _matches(alone.group(2), post[1])


def test_default_row_is_the_first_blank_one(panel):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    snap = EMFit(X, labels).step()
    panel.show_snapshot(snap)
    first_blank = int(np.flatnonzero(labels < 0)[0])
    assert f"x = {X[first_blank, 0]:.1f} cm" in panel.text()
    e_table, _ = _e_and_m(panel)
    post = predict_proba(X[first_blank : first_blank + 1], snap.weights, snap.means, snap.covariances)[0]
    assert all(_matches(e_table[c][-1], post[k]) for k, c in enumerate(CLASSES))


def test_three_classes_and_two_features(panel):
    X, labels = _two_features_three_classes()
    names = ["small", "medium", "large"]
    panel.set_fit_context(names, ["Height", "Mass"], ["cm", "kg"], X, labels)
    em = EMFit(X, labels, max_iter=20)
    for _ in range(3):
        panel.show_snapshot(em.step())
    snap = em.step()
    panel.show_snapshot(snap)
    row = 50
    panel.select_row(X[row], -1)
    text = panel.text()
    assert f"x = ({X[row, 0]:.1f} cm, {X[row, 1]:.2f} kg)" in text
    assert "μk (cm, kg)" in text
    e_table, m_table = _e_and_m(panel)
    assert list(e_table) == list(m_table) == names
    post = predict_proba(X[row : row + 1], snap.weights, snap.means, snap.covariances)[0]
    for k, name in enumerate(names):
        assert _matches(e_table[name][-1], post[k])
        n_k, n_labelled, weight, means, sds, corr = m_table[name]
        assert n_labelled == "3"
        assert _matches(n_k, snap.weights[k] * len(X))
        assert _matches(weight, snap.weights[k])
        sd = np.sqrt(np.diagonal(snap.covariances[k]))
        assert all(_matches(c, v) for c, v in zip(means.split(", "), snap.means[k], strict=True))
        assert all(_matches(c, v) for c, v in zip(sds.split(", "), sd, strict=True))
        assert _matches(corr, snap.covariances[k, 0, 1] / (sd[0] * sd[1]))


def test_far_away_row_keeps_readable_densities(panel):
    X, labels = _two_features_three_classes()
    panel.set_fit_context(["a", "b", "c"], ["Height", "Mass"], None, X, labels)
    snap = EMFit(X, labels).step()
    panel.show_snapshot(snap)
    far = np.array([400.0, -300.0])
    panel.select_row(far, -1)
    e_table, _ = _e_and_m(panel)
    for k, c in enumerate("abc"):
        # exp() of these underflows to 0; the panel shows them from the logarithm.
        cov = snap.covariances[k]
        d = far - snap.means[k]
        log_pdf = -0.5 * (d @ np.linalg.solve(cov, d)) - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
        assert "× 10" in e_table[c][1]
        assert _matches_log(e_table[c][1], log_pdf)
        assert _matches_log(e_table[c][2], log_pdf + math.log(snap.weights[k]))
    post = predict_proba(far[None, :], snap.weights, snap.means, snap.covariances)[0]
    assert all(_matches(e_table[c][-1], post[k]) for k, c in enumerate("abc"))


def test_formulas_and_convergence_are_shown(panel):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    text = panel.text()
    assert "p(X | θ) = ∫ p(X, Z | θ) dZ = ΣZ p(X, Z | θ)" in text
    assert "Step" in text  # no fit yet: tells the user how to start one
    assert "<sub>Z</sub>" in panel.html()
    em = EMFit(X, labels)
    snap = None
    for snap in em:
        panel.show_snapshot(snap)
    assert snap.converged
    assert "Converged" in panel.text()


def test_row_outside_the_fit_and_snapshot_without_context(panel):
    snap = Snapshot(
        iteration=0,
        log_likelihood=-10.0,
        weights=np.array([0.5, 0.5]),
        means=np.array([[160.0], [175.0]]),
        covariances=np.array([[[30.0]], [[40.0]]]),
        converged=False,
    )
    panel.show_snapshot(snap)
    assert "Iteration 0" in panel.text()
    panel.select_row(np.array([170.0]), -1)
    e_table, _ = _e_and_m(panel)
    assert list(e_table) == ["class 1", "class 2"]
    post = predict_proba([[170.0]], snap.weights, snap.means, snap.covariances)[0]
    assert _matches(e_table["class 2"][-1], post[1])
    panel.select_row(None)
    assert "takes no part in the fit" in panel.text()


def test_a_new_context_forgets_the_old_fit(panel):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    panel.show_snapshot(EMFit(X, labels).step())
    assert "Iteration 0" in panel.text()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    assert "Iteration" not in panel.text()


def test_shown_panel_follows_the_snapshots_at_a_bounded_rate(panel, qtbot):
    X, labels = _heights()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    em = EMFit(X, labels, tol=0.0, max_iter=100)
    panel.show_snapshot(em.step())
    panel.show_snapshot(em.step())
    panel.show()
    qtbot.waitExposed(panel)
    browser = panel.findChild(QTextBrowser)
    # Shown: the latest iteration is rendered without anyone asking for the text.
    assert "Iteration 1" in browser.toPlainText()
    renders = []
    browser.textChanged.connect(lambda: renders.append(browser.toPlainText()))
    for _ in range(30):  # a threaded fit's burst of snapshots
        panel.show_snapshot(em.step())
    qtbot.waitUntil(lambda: "Iteration 31" in browser.toPlainText(), timeout=3000)
    assert len(renders) <= 3  # coalesced: one layout per frame, not one per snapshot


def test_step_advances_the_fit_and_the_panel_together(panel):
    """The window's wiring in small: the controller's snapshots drive the panel."""
    X, labels = _heights()
    controller = FitController()
    panel.set_fit_context(CLASSES, ["Height"], "cm", X, labels)
    controller.fit_iterated.connect(panel.show_snapshot)
    assert controller.begin_stepping(X, labels, 2, data_version=1)
    assert "Iteration 0" in panel.text()
    for t in (1, 2):
        snap = controller.step()
        assert snap is not None and snap.iteration == t
        text = panel.text()
        assert f"Iteration {t}" in text
        assert "Δℓ" in text  # the previous iteration came just before: the change is shown
        _, m_table = _e_and_m(panel)
        assert _matches(m_table["Male"][4], snap.means[1, 0])
    controller.stop()


# --------------------------------------------------------------------------- in the window


@pytest.fixture
def window(qtbot, tmp_path, qapp, monkeypatch):
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QMessageBox

    from emgui.ui.window import MainWindow

    QCoreApplication.setOrganizationName("emgui-tests")
    QCoreApplication.setApplicationName("EM Gap Filler explain tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.wait(10_000)
    w.undo_stack.setClean()


@pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
def test_window_help_step_and_row_selection_drive_the_panel(window, qtbot):
    from emgui.ui.window import SAMPLE_PATH

    assert window.open_path(SAMPLE_PATH, ask=False)
    window.action_map["how_em"].trigger()
    panel = window.findChild(ExplainPanel)
    assert panel is not None and panel.isVisible()
    assert "Step" in panel.text()  # no fit yet

    snapshots = []
    window.controller.fit_iterated.connect(snapshots.append)
    window.action_map["step"].trigger()  # iteration 0: the starting parameters
    window.action_map["step"].trigger()
    window.action_map["step"].trigger()
    snap = snapshots[-1]
    assert snap.iteration == 2
    text = panel.text()
    assert "Iteration 2" in text and "Δℓ" in text
    _, m_table = _e_and_m(panel)
    names = list(m_table)
    for k, name in enumerate(names):
        assert _matches(m_table[name][2], snap.weights[k])  # π_k
        assert _matches(m_table[name][4], snap.means[k, 0])  # μ_k

    sheet = window.sheet
    height = sheet.roles.features[0]
    blank = int(np.flatnonzero(sheet.label_missing())[0])
    window.view.setCurrentIndex(window.model.index(window.model.view_row(blank), 0))
    text = panel.text()
    assert f"For row {blank + 1}: x = {sheet.values(height)[blank]:.1f}" in text
    e_table, _ = _e_and_m(panel)
    x = np.array([[sheet.values(height)[blank]]])
    post = predict_proba(x, snap.weights, snap.means, snap.covariances)[0]
    assert all(_matches(e_table[name][-1], post[k]) for k, name in enumerate(names))

    typed = int(np.flatnonzero(~sheet.label_missing())[0])
    window.view.setCurrentIndex(window.model.index(window.model.view_row(typed), 2))
    assert "fixed at 1" in panel.text()
    e_table, _ = _e_and_m(panel)
    assert sorted(cells[-1] for cells in e_table.values()) == ["0.0 %", "100.0 %"]
    window.stop_fit()


def test_a_row_with_a_blank_feature_is_explained_with_its_own_numbers(panel):
    from scipy import stats

    X, labels = _two_features_three_classes()
    X = X[30:].copy()  # two classes: medium and large
    labels = np.where(labels[30:] >= 0, labels[30:] - 1, -1)
    X[[5, 40, 47], 1] = np.nan  # blank masses
    panel.set_fit_context(["medium", "large"], ["Height", "Mass"], ["cm", "kg"], X, labels)
    em = EMFit(X, labels, max_iter=30)
    for _ in range(4):
        snap = em.step()
    panel.show_snapshot(snap)
    row = 40
    panel.select_row(X[row], -1, caption="row 41")
    text = panel.text()
    assert f"x = ({X[row, 0]:.1f} cm, blank)" in text
    assert "This row's Mass is blank" in text and "observed values alone (Height)" in text
    # By hand: the class probabilities from the height alone (its marginal normal) ...
    h = X[row, 0]
    mu, cov, w = snap.means, snap.covariances, snap.weights
    joint = np.array([w[k] * stats.norm.pdf(h, mu[k, 0], math.sqrt(cov[k, 0, 0])) for k in range(2)])
    post = joint / joint.sum()
    tables = _tables(text)
    assert len(tables) == 3, text  # the E-step, the blank value, the M-step
    e_table, blank_table, _ = tables
    assert _matches(e_table["medium"][-1], post[0]) and _matches(e_table["large"][-1], post[1])
    # ... and each class's conditional mean of the blank mass given the height, with its spread.
    for k, name in enumerate(["medium", "large"]):
        mean = mu[k, 1] + cov[k, 1, 0] / cov[k, 0, 0] * (h - mu[k, 0])
        sd = math.sqrt(cov[k, 1, 1] - cov[k, 1, 0] ** 2 / cov[k, 0, 0])
        r_cell, cell = blank_table[name]
        assert _matches(r_cell, post[k])
        shown_mean, shown_sd = cell.split(" ± ")
        assert _matches(shown_mean, mean) and _matches(shown_sd, sd)
    # The value a fill of blank numbers would write: the responsibility-weighted conditional means.
    means = [mu[k, 1] + cov[k, 1, 0] / cov[k, 0, 0] * (h - mu[k, 0]) for k in range(2)]
    filled = re.search(r"Mass (\S+) kg \(95 % between", text.replace("\xa0", " "))
    assert _matches(filled.group(1), float(post @ means))
    # A typed label: the blank is expected under that class alone.
    panel.select_row(X[row], 1)
    _, blank_table, _ = _tables(panel.text())
    assert blank_table["large"][0] == "100.0 %" and blank_table["medium"][0] == "0.0 %"


def test_sheet_row_input_gives_blank_and_filled_numbers_as_nan():
    from emgui.core.sheet import Roles, Sheet
    from emgui.ui.explain import sheet_row_input

    cells = [np.array(v, dtype=object) for v in (["F", None, "M"], ["160", "170", None], [None, "70", None])]
    sheet = Sheet(["sex", "height", "weight"], cells, Roles(0, (1, 2), {1: "cm"}))
    classes = ["female", "male"]  # parsing.label_key of "F" and "M"
    x, label = sheet_row_input(sheet, classes, 0)
    assert np.isnan(x[1]) and x[0] == 160.0 and label == 0
    x, label = sheet_row_input(sheet, classes, 1)
    assert x.tolist() == [170.0, 70.0] and label == -1
    assert sheet_row_input(sheet, classes, 2) == (None, -1)  # no value: no part in the fit
