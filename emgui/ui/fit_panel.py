"""The Fit dock: iteration, log-likelihood, the parameters per class, and how far the fill can be trusted.

Filled by :class:`emgui.ui.fitting.FitActions` as EM runs (a snapshot per
iteration) and when it finishes (the result and the trust report of
:mod:`emgui.core.trust`).  PySide6 alone at import; numpy is imported when
the first parameters are shown.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from emgui.ui import dialogs

__all__ = ["FitPanel", "blanks_sentence"]


def iterations(n: int) -> str:
    """``"1 iteration"`` or ``"12 iterations"``."""
    return "1 iteration" if n == 1 else f"{n:,} iterations"


#: Below this p, Little's test is read as saying the blanks depend on the values.
MCAR_ALPHA = 0.05


def _p_text(p: float) -> str:
    """``"p < 0.001"``, ``"p = 0.004"``, ``"p = 0.42"``."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def blanks_sentence(test) -> str:
    """Little's MCAR test (a :class:`emgui.ui.fitting.BlanksTest`) in a plain sentence.

    A small p says which cells are blank depends on the values (missing not
    completely at random): the fill then assumes the other columns explain
    it (missing at random); a large p finds no sign of such a dependence,
    which is not proof that there is none.
    """
    names = list(test.columns)
    which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    on = "" if test.rows is None else f", on {test.rows:,} rows drawn at random"
    stats = f"Little's test: χ² = {test.chi2:,.1f}, df = {test.df}{on}"
    if test.p < MCAR_ALPHA:
        return (
            f"Whether {which} is blank depends on other values ({_p_text(test.p)}): filling assumes "
            f"the blanks are explained by the columns you have. ({stats}.)"
        )
    return f"Nothing suggests the blanks depend on the values ({_p_text(test.p)}; {stats})."


def _fit_rows(table: QTableWidget) -> None:
    """Make a small table exactly as tall as its rows (the panel scrolls, not the table)."""
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    # Wider than the panel: the table's own scroll bar takes a row's height
    # (a third class was cut off by it) unless that height is added.
    row_header = table.verticalHeader().width() if table.verticalHeader().isVisible() else 0
    if table.horizontalHeader().length() + row_header + 2 * table.frameWidth() > table.width():
        height += table.horizontalScrollBar().sizeHint().height()
    if table.height() != height + 2:
        table.setFixedHeight(height + 2)


class FitPanel(QWidget):
    """Iteration, log-likelihood, convergence and the parameters per class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.status = QLabel("No fit yet. Press F5 to fill the gaps.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        # Escape after stepping keeps the stepped fit: this writes it into the sheet.
        self.fill_stepped_button = QPushButton("Fill from This Fit")
        self.fill_stepped_button.setToolTip("Fill the blank labels with the fit as stepped so far (F5 runs it on instead)")
        self.fill_stepped_button.hide()
        layout.addWidget(self.fill_stepped_button)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.hide()  # an empty white box until a fit names its classes
        layout.addWidget(self.table)
        # How far the fill can be trusted: the self-check in a sentence, the
        # model chosen and the candidates it was chosen from.
        self.trust = QLabel("")
        self.trust.setWordWrap(True)
        self.trust.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust.hide()
        layout.addWidget(self.trust)
        self.reliability_button = QPushButton("Reliability Curve…")
        self.reliability_button.setToolTip(
            "How often a filled cell of each confidence was right when typed labels were hidden"
        )
        self.reliability_button.hide()
        self.reliability_button.clicked.connect(self._show_reliability)
        layout.addWidget(self.reliability_button)
        self.models = QTableWidget(0, 4)
        self.models.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.models.verticalHeader().setVisible(False)
        self.models.setHorizontalHeaderLabels(["Groups", "Covariance", "BIC", "Parameters"])
        self.models.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.models.hide()
        layout.addWidget(self.models)
        layout.addStretch(1)
        self._classes: list[str] = []
        self._features: list[str] = []
        self.report = None
        self.blanks = None

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        # A narrower panel may need the tables' scroll bars: their rows stay whole.
        for table in (self.table, self.models):
            if table.isVisible():
                _fit_rows(table)

    def reset(self, classes: list[str], features: list[str]) -> None:
        """Prepare the parameter table for a new fit."""
        from emgui.ui import palette

        self._classes, self._features = list(classes), list(features)
        # One column per feature, "mean ± SD": two features still fit the dock's width.
        headers = ["Class", "Weight"] + [f"{name}: mean ± SD" for name in features]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(classes))
        self.table.setHorizontalHeaderLabels(headers)
        for k, name in enumerate(classes):
            item = QTableWidgetItem(f"■ {name}")
            item.setForeground(palette.class_color(k))
            self.table.setItem(k, 0, item)
            for c in range(1, len(headers)):
                cell = QTableWidgetItem("")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(k, c, cell)
        self.table.resizeColumnsToContents()
        _fit_rows(self.table)
        self.table.show()
        self.status.setText("Starting…")

    def show_parameters(self, weights, means, covariances) -> None:
        import numpy as np

        w = np.asarray(weights, dtype=float)
        mu = np.asarray(means, dtype=float).reshape(len(w), -1)
        cov = np.asarray(covariances, dtype=float).reshape(len(w), mu.shape[1], mu.shape[1])
        if len(w) != self.table.rowCount():
            self.reset([f"class {k + 1}" for k in range(len(w))], self._features or ["x"])
        for k in range(len(w)):
            self.table.item(k, 1).setText(f"{w[k]:.3f}")
            for d in range(min(mu.shape[1], len(self._features))):
                sd = np.sqrt(max(cov[k, d, d], 0.0))
                self.table.item(k, 2 + d).setText(f"{mu[k, d]:.2f} ± {sd:.2f}")

    def show_snapshot(self, snapshot, *, stepping: bool = False, previous_ll: float | None = None) -> None:
        """One iteration's parameters; ``stepping``: say what the step did and what the keys do next."""
        self.show_parameters(snapshot.weights, snapshot.means, snapshot.covariances)
        self.fill_stepped_button.hide()
        done = " (converged)" if snapshot.converged else ""
        ll = f"Log-likelihood {snapshot.log_likelihood:,.3f}"
        if not stepping:
            self.status.setText(f"Iteration {snapshot.iteration}{done}\n{ll}")
        elif snapshot.iteration == 0:
            self.status.setText(
                f"<b>Iteration 0: the starting guess.</b> Each class's weight, mean and spread "
                f"come from its typed rows (or, for groups no label names, from a k-means "
                f"split of the data); the blank rows take no part yet.<br>{ll}<br>"
                f"<i>F6</i>: one step — the E-step gives every blank row a probability for "
                f"each class, the M-step recomputes the table below from them. "
                f"<i>F5</i> runs on to the end from here; <i>Esc</i> stops and keeps this fit."
            )
        else:
            gain = "" if previous_ll is None else f" (up {snapshot.log_likelihood - previous_ll:,.3f})"
            self.status.setText(
                f"<b>Iteration {snapshot.iteration}{done}:</b> one E-step (each blank row's class "
                f"probabilities) and one M-step (weights, means and spreads from them).<br>"
                f"{ll}{gain}; EM never lets it fall.<br>"
                f"<i>F6</i> steps again, <i>F5</i> runs on from here, <i>Esc</i> stops and keeps this fit."
            )

    def show_stepped(self, iteration: int) -> None:
        """Stepping stopped (Esc): the fit is kept; offer to fill from it."""
        self.status.setText(
            f"Stopped at iteration {iteration}; the stepped fit is kept. "
            "<b>Fill from This Fit</b> writes it into the sheet; F5 runs EM on from it; F6 steps on."
        )
        self.fill_stepped_button.show()

    def show_result(self, result, report=None, blanks=None) -> None:
        """The finished fit, its trust report and (``blanks``) Little's test of the blank feature values."""
        self.fill_stepped_button.hide()
        if report is not None and len(report.names) != self.table.rowCount():
            self.reset(list(report.names), self._features)
        self.show_parameters(result.weights, result.means, result.covariances)
        self.table.resizeColumnsToContents()
        _fit_rows(self.table)
        state = "converged" if result.converged else "stopped before converging"
        self.status.setText(
            f"Finished after {iterations(result.n_iter)}, {state}.\n"
            f"Log-likelihood {result.log_likelihood:,.3f}"
        )
        self.show_report(report, blanks)

    def show_report(self, report, blanks=None) -> None:
        """The self-check sentence, the model chosen and the candidates (None: hide them).

        ``blanks``: Little's MCAR test of the blank feature values (a
        :class:`emgui.ui.fitting.BlanksTest`), said after the self-check.
        """
        self.report, self.blanks = report, blanks
        for w in (self.trust, self.reliability_button, self.models):
            w.setVisible(report is not None)
        if report is None:
            return
        lines = []
        check = report.check
        if check is not None:
            lines.append(f"<b>{check.sentence()}.</b>")
        if blanks is not None:
            lines.append(html.escape(blanks_sentence(blanks), quote=False))
        model = f"{report.groups} group{'s' if report.groups != 1 else ''}, {report.covariance} covariance"
        if any(report.unnamed):
            model += f" ({sum(report.unnamed)} no typed label names: its rows stay blank, with a note)"
        fitted = [c.bic for c in report.candidates if c.bic is not None]
        chosen_bic = next(
            (c.bic for c in report.candidates if c.groups == report.groups and c.covariance == report.covariance),
            None,
        )
        if chosen_bic is None or not fitted or chosen_bic <= min(fitted):
            lines.append(f"Model: {model}, the lowest BIC of the candidates below (lower is better).")
        else:
            from emgui.core.trust import EXTRA_GROUP_MARGIN

            # Said as it is: a candidate with an extra group had a lower BIC but was not taken.
            lines.append(
                f"Model: {model}, chosen by BIC (lower is better). A candidate with a group no typed "
                f"label names scored lower, but such a group is taken only when it lowers BIC by "
                f"{EXTRA_GROUP_MARGIN:g} or more, is no handful of rows, and holds few typed rows."
            )
        if report.typed_only:
            lines.append("The typed rows alone predicted the hidden labels better: the blank rows took no part.")
        if report.n_unusual:
            n = report.n_unusual
            lines.append(
                f"{n:,} row{'s' if n != 1 else ''} with an unusual value: the value left out of the fit "
                "(red, its reason in the tooltip), the blank label not filled."
            )
        self.trust.setText("<br>".join(lines))
        self.reliability_button.setEnabled(check is not None and bool(check.reliability))
        cands = [c for c in report.candidates if c.bic is not None]
        self.models.setRowCount(len(cands))
        for i, c in enumerate(sorted(cands, key=lambda c: c.bic)):
            chosen = c.groups == report.groups and c.covariance == report.covariance
            for j, text in enumerate([str(c.groups), c.covariance, f"{c.bic:,.1f}", str(c.n_params)]):
                item = QTableWidgetItem(("✔ " if chosen and j == 0 else "") + text)
                self.models.setItem(i, j, item)
        self.models.resizeColumnsToContents()
        _fit_rows(self.models)

    def _show_reliability(self) -> None:
        if self.report is not None and self.report.check is not None:
            dialogs.ReliabilityDialog(self.report.check, self).exec()

    def show_message(self, text: str) -> None:
        self.fill_stepped_button.hide()
        self.status.setText(text)

    def clear(self) -> None:
        """No fit: drop the last sheet's parameters."""
        self.table.setRowCount(0)
        self.table.hide()
        self.fill_stepped_button.hide()
        self.show_report(None)
        self.status.setText("No fit yet. Press F5 to fill the gaps.")
