"""Help ▸ How EM Works: the E-step and the M-step with the current fit's own numbers.

:class:`ExplainPanel` is a read-only rich-text view.  The window gives it the
fit's data once (:meth:`ExplainPanel.set_fit_context`), every snapshot the fit
produces (:meth:`ExplainPanel.show_snapshot`) and the row the user selects
(:meth:`ExplainPanel.select_row`); the panel never knows the window.

Every number shown comes from the snapshot or from the core's public
functions: a row's density values from :func:`emgui.core.mixture.log_likelihood`
of that single row under a one-class weight vector (so the D-dimensional
normal is not written again here), its responsibilities from
:func:`emgui.core.mixture.predict_proba`.  Formulas are Unicode and HTML
(``<sub>``, ``<sup>``, Greek letters): no LaTeX needed.

A hidden panel only remembers what it was given and renders when shown, so
streaming snapshots to it during a threaded fit costs nothing while the dock
is closed; a visible one renders from the event loop, at most five times a
second, the latest state (laying out the text takes tens of milliseconds).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from emgui.core import mixture, parsing
from emgui.core.sheet import USER
from emgui.ui.palette import class_color

__all__ = ["ExplainPanel", "sheet_row_input"]

_LN10 = math.log(10.0)
# Laying out the rich text takes tens of milliseconds: a threaded fit's 30
# snapshots a second are shown at most this often (Step is slower than that).
_MIN_RENDER_MS = 200
_MINUS = "\u2212"  # a real minus sign lines up with the digits; "-" is a hyphen

# Styles Qt's rich-text engine understands (a subset of CSS 2.1).
_CSS = """
h3 { margin-top: 10px; margin-bottom: 4px; }
p { margin-top: 3px; margin-bottom: 3px; }
td, th { padding: 2px 6px; }
th { background-color: #eeeeee; font-weight: normal; }
.f { font-family: serif; font-size: large; }
.note { color: #555555; }
"""


# --------------------------------------------------------------------------- formatting


def _esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def _signed(text: str) -> str:
    return text.replace("-", _MINUS)


def _num(value: float, sig: int = 4) -> str:
    """``value`` with about ``sig`` significant digits, plain notation when readable."""
    v = float(value)
    if not math.isfinite(v):
        return "—" if math.isnan(v) else _signed("-∞" if v < 0 else "∞")
    if v == 0.0:
        return "0"
    exp = math.floor(math.log10(abs(v)))
    if exp >= 7 or exp < -4:
        return _power(v, sig)
    decimals = min(max(sig - 1 - exp, 0), 6)
    return _signed(f"{v:,.{decimals}f}")


def _power(v: float, sig: int) -> str:
    mantissa, exp = f"{v:.{sig - 1}e}".split("e")
    return _signed(f"{mantissa} × 10<sup>{int(exp)}</sup>")


def _from_log(log_value: float, sig: int = 3) -> str:
    """exp(``log_value``) with ``sig`` significant digits, never underflowing to 0."""
    if not math.isfinite(log_value):
        return "0" if log_value < 0 else "∞"
    exp10 = math.floor(log_value / _LN10)
    if -4 <= exp10 < 4:
        return _signed(f"{math.exp(log_value):.{sig}g}")
    mantissa = 10.0 ** (log_value / _LN10 - exp10)
    if round(mantissa, sig - 1) >= 10.0:  # 9.996 rounds up to 10.0 × 10^e
        mantissa, exp10 = mantissa / 10.0, exp10 + 1
    return _signed(f"{mantissa:.{sig - 1}f} × 10<sup>{exp10}</sup>")


def _pct(p: float) -> str:
    return f"{100.0 * float(p):.1f} %"


def _sub(symbol: str, index: str) -> str:
    return f"{symbol}<sub>{index}</sub>"


def _tr(cells: Sequence[str]) -> str:
    """A table row: the class on the left, numbers right-aligned and unbroken."""
    first, rest = cells[0], cells[1:]
    # Qt's table layout ignores ``nowrap`` and breaks "170.2 cm" at its space.
    return (
        f'<tr><td style="white-space:nowrap">{first}</td>'
        + "".join(f'<td align="right">{c.replace(" ", "&nbsp;")}</td>' for c in rest)
        + "</tr>"
    )


# --------------------------------------------------------------------------- the panel


class ExplainPanel(QWidget):
    """EM explained on the current fit: model, E-step for one row, M-step, log-likelihood.

    Parameters
    ----------
    parent : QWidget, optional

    Notes
    -----
    Call order: :meth:`set_fit_context` when a fit begins (it forgets the
    previous fit's snapshot), then :meth:`show_snapshot` per iteration and
    :meth:`select_row` whenever the selection changes; each may come in any
    order after that.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._browser = QTextBrowser(self)
        self._browser.setOpenLinks(False)
        # Qt's default also breaks inside words: "0.544" became "0.5" over "44".
        # Whole words only; a table wider than the dock scrolls instead.
        self._browser.setWordWrapMode(QTextOption.WrapMode.WordWrap)
        self.setMinimumWidth(280)
        self._browser.document().setDefaultStyleSheet(_CSS)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._browser)

        self._classes: list[str] = []
        self._features: list[str] = []
        self._units: list[str | None] = []
        self._X: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._snapshot: mixture.Snapshot | None = None
        self._previous_ll: float | None = None
        self._shared = False  # the chosen model's covariance is one for all classes
        self._unnamed: list[bool] = []  # per group: no typed label names it
        self._row: np.ndarray | None = None
        self._row_label = -1
        self._row_caption: str | None = None
        self._row_chosen = False
        self._dirty = True
        self._html = ""
        self._last_render = -math.inf
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._render_if_dirty)

    # ----------------------------------------------------------------- public

    def set_fit_context(
        self,
        classes: Sequence[str],
        feature_names: Sequence[str],
        unit: str | Sequence[str | None] | None,
        X: np.ndarray,
        labels: np.ndarray,
    ) -> None:
        """Describe the data of the fit that is about to run.

        Parameters
        ----------
        classes : sequence of str
            Class names, index = class (as in the snapshots).
        feature_names : sequence of str
            One name per feature column, length D.
        unit : str, sequence of (str or None), or None
            The features' unit ("cm"); one string applies to every feature,
            a sequence gives one unit per feature, None means plain numbers.
        X : ndarray, shape (m, D) or (m,)
            The fitted rows' feature values.
        labels : ndarray of int, shape (m,)
            Known class per row, -1 where unknown.
        """
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        self._X = x
        self._labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        self._classes = [str(c) for c in classes]
        dim = x.shape[1]
        self._features = [str(f) for f in feature_names][:dim]
        self._features += [f"feature {j + 1}" for j in range(len(self._features), dim)]
        if unit is None or isinstance(unit, str):
            self._units = [unit or None] * dim
        else:
            units = [u or None for u in unit][:dim]
            self._units = units + [None] * (dim - len(units))
        self._snapshot = None
        self._previous_ll = None
        self._shared, self._unnamed = False, []  # until set_model says which model was chosen
        if not self._row_chosen or self._row is None or self._row.shape != (dim,):
            self._pick_default_row()
        self._refresh()

    def set_model(self, covariance: str, unnamed: Sequence[bool] = ()) -> None:
        """The model the fill chose (by BIC): ``"shared"`` or ``"separate"`` covariance, and per
        group whether no typed label names it (its blanks stay blank, with a note)."""
        shared, unnamed = covariance == "shared", [bool(u) for u in unnamed]
        if (shared, unnamed) != (self._shared, self._unnamed):
            self._shared, self._unnamed = shared, unnamed
            self._refresh()

    def show_snapshot(self, snapshot: mixture.Snapshot, previous_ll: float | None = None) -> None:
        """Explain the fit as of ``snapshot``.

        Parameters
        ----------
        snapshot : Snapshot
            Parameters after an iteration (0: the initial parameters).
        previous_ll : float, optional
            Log-likelihood of the iteration before.  When None it is taken
            from the snapshot shown last if that was the iteration just
            before (a throttled stream may skip iterations: then no change
            is shown).
        """
        last = self._snapshot
        if (
            previous_ll is None
            and last is not None
            and snapshot.iteration >= 1
            and last.start == snapshot.start
            and last.iteration == snapshot.iteration - 1
        ):
            previous_ll = last.log_likelihood
        self._snapshot = snapshot
        self._previous_ll = None if snapshot.iteration == 0 else previous_ll
        self._refresh()

    def select_row(self, x: np.ndarray | None, label: int = -1, caption: str | None = None) -> None:
        """Explain the E-step for one row.

        Parameters
        ----------
        x : ndarray, shape (D,), or None
            The row's feature values; None: the row takes no part in the fit
            (a feature cannot be read).
        label : int, default -1
            Its known class, or -1 if unknown (EM estimates it).
        caption : str, optional
            How to name the row ("row 12, Alice").
        """
        self._row_chosen = True
        self._row = None if x is None else np.asarray(x, dtype=np.float64).reshape(-1)
        self._row_label = int(label)
        self._row_caption = caption
        self._refresh()

    def sizeHint(self) -> QSize:  # noqa: N802
        # Wide enough for the E-step table of two classes without scrolling.
        return QSize(460, 600)

    @property
    def browser(self) -> QTextBrowser:
        """The text view (to adjust its font, or to read what it shows)."""
        return self._browser

    def html(self) -> str:
        """The HTML the panel shows, as written (Qt's ``toHtml`` rewrites it into spans)."""
        self._render_if_dirty()
        return self._html

    def text(self) -> str:
        """The panel's text without markup (for tests and for copying)."""
        self._render_if_dirty()
        return self._browser.toPlainText()

    # ----------------------------------------------------------------- rendering

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._render_if_dirty()

    def _refresh(self) -> None:
        self._dirty = True
        if self.isVisible() and not self._timer.isActive():
            waited = (time.monotonic() - self._last_render) * 1000.0
            self._timer.start(int(max(0.0, _MIN_RENDER_MS - waited)))

    def _render_if_dirty(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._timer.stop()
        self._last_render = time.monotonic()
        scroll = self._browser.verticalScrollBar()
        # Keep the reader's place: Step re-renders the whole text.
        position = scroll.value()
        self._html = self._build_html()
        self._browser.setHtml(self._html)
        scroll.setValue(position)

    def _pick_default_row(self) -> None:
        """The first row EM has to estimate (else the first row) until one is selected."""
        self._row_chosen = False
        self._row_caption = None
        if self._X is None or self._X.shape[0] == 0:
            self._row, self._row_label = None, -1
            return
        unknown = np.flatnonzero(self._labels < 0) if self._labels is not None else np.array([])
        i = int(unknown[0]) if unknown.size else 0
        self._row = self._X[i].copy()
        self._row_label = int(self._labels[i]) if self._labels is not None else -1

    def _build_html(self) -> str:
        parts = [self._html_model()]
        snap = self._snapshot
        if snap is None:
            parts.append(
                "<h3>Run it</h3><p>Press <b>Step</b> (F6) to compute the initial parameters "
                "and then one E-step and M-step per press, or <b>Fill Gaps</b> (F5) to run to the "
                "end. This panel then shows the fit's own numbers.</p>"
            )
            return "".join(parts)
        try:
            parts.append(self._html_iteration(snap))
            parts.append(self._html_e_step(snap))
            parts.append(self._html_m_step(snap))
        except mixture.MixtureError as exc:
            parts.append(f"<p>These parameters cannot be evaluated: {_esc(exc)}</p>")
        return "".join(parts)

    # ----------------------------------------------------------------- pieces

    def _dim(self) -> int:
        if self._X is not None:
            return self._X.shape[1]
        if self._snapshot is not None:
            return self._snapshot.means.shape[1]
        return 1

    def _class_name(self, k: int) -> str:
        if k < len(self._unnamed) and self._unnamed[k]:
            return f"group {k + 1} (no typed label)"
        return self._classes[k] if k < len(self._classes) else f"class {k + 1}"

    def _class_cell(self, k: int) -> str:
        color = class_color(k).name()
        return f'<span style="color:{color}">■</span> <b>{_esc(self._class_name(k))}</b>'

    def _value(self, v: float, j: int, sig: int = 4) -> str:
        unit = self._units[j] if j < len(self._units) else None
        return f"{_num(v, sig)} {_esc(unit)}" if unit else _num(v, sig)

    def _vector(self, values: np.ndarray, sig: int = 4) -> str:
        if values.shape[0] == 1:
            return self._value(values[0], 0, sig)
        return "(" + ", ".join(
            self._value(v, j, sig) if np.isfinite(v) else "<i>blank</i>" for j, v in enumerate(values)
        ) + ")"

    def _units_note(self) -> str:
        """" (cm)", " (cm, kg)" or "": table headers carry the units, cells only numbers."""
        if not any(self._units):
            return ""
        return " (" + ", ".join(_esc(u) if u else "–" for u in self._units) + ")"

    def _html_model(self) -> str:
        one = self._dim() == 1
        x = "x" if one else "<b>x</b>"
        spread = ("σ" if one else "Σ") if self._shared else (_sub("σ", "k") if one else _sub("Σ", "k"))
        normal = f"N({x} | {_sub('μ', 'k')}, {spread})"
        feature = _esc(self._features[0]) if one and self._features else "the features"
        return (
            "<h3>The model</h3>"
            f"<p>Each class k is a bell curve over {feature}; the data are their mixture:</p>"
            f'<p class="f" align="center">p({x} | θ) = Σ<sub>k</sub> {_sub("π", "k")} {normal}</p>'
            f"<p>θ = ({_sub('π', 'k')}, {_sub('μ', 'k')}, {spread}) are the class weights, means "
            f"and spreads. Each row i has a class {_sub('z', 'i')}; for rows with a typed label "
            f"it is known and stays fixed, for the others it is hidden. Z (all the "
            f"{_sub('z', 'i')}) is what EM averages over: the likelihood of the observed data "
            "alone is</p>"
            '<p class="f" align="center">p(X | θ) = ∫ p(X, Z | θ) dZ = Σ<sub>Z</sub> p(X, Z | θ)'
            "</p>"
            f"<p>(Z is discrete, so the integral is a sum.) Its logarithm, the "
            f"log-likelihood ℓ(θ) = "
            f"Σ<sub>labelled</sub> log {_sub('π', 'y')} N({x} | {_sub('μ', 'y')}, …) + "
            f"Σ<sub>unlabelled</sub> log Σ<sub>k</sub> {_sub('π', 'k')} {normal} is what EM "
            "climbs: every iteration (an E-step, then an M-step) raises it or leaves it "
            "unchanged.</p>"
            + self._html_chosen_model()
        )

    def _html_chosen_model(self) -> str:
        """What the fill's model choice (by BIC) changes in the story above."""
        parts = []
        if self._shared:
            parts.append(
                "<p><b>The model chosen here has a shared spread:</b> every class has the same "
                f"{'σ' if self._dim() == 1 else 'covariance Σ'} (shared covariance), which had the "
                "lowest BIC of the candidates (see the Fit panel). The classes differ in weight and "
                "mean only.</p>"
            )
        n_unnamed = sum(self._unnamed)
        if n_unnamed:
            parts.append(
                f"<p><b>{n_unnamed} group{'s' if n_unnamed > 1 else ''} no typed label names</b> "
                "(BIC found more groups than typed classes): EM fits "
                f"{'them' if n_unnamed > 1 else 'it'} like the others, but a blank most likely "
                "in such a group stays blank, with a note.</p>"
            )
        return "".join(parts)

    def _html_iteration(self, snap: mixture.Snapshot) -> str:
        t = snap.iteration
        start = f" (random start {snap.start + 1})" if snap.start else ""
        lines = [
            f"<h3>Iteration {t}{start}</h3>",
            f'<p class="f">ℓ(θ<sup>({t})</sup>) = log p(X | θ<sup>({t})</sup>) = '
            f"{_num(snap.log_likelihood, 8)}</p>",
        ]
        if t == 0:
            lines.append(
                "<p>These are the starting parameters (from the labelled rows, or a k-means "
                "split of the data); no M-step has run yet.</p>"
            )
        elif self._previous_ll is not None:
            delta = snap.log_likelihood - self._previous_ll
            lines.append(
                f"<p>Change from iteration {t - 1}: Δℓ = "
                f"<b>{_signed(f'{delta:+.4g}')}</b> (EM never lets it fall).</p>"
            )
        if snap.converged:
            lines.append(
                "<p><b>Converged:</b> the log-likelihood has stopped changing (the change is "
                "within the fit's tolerance), so another iteration would not move θ.</p>"
            )
        return "".join(lines)

    def _html_e_step(self, snap: mixture.Snapshot) -> str:
        t = snap.iteration
        head = (
            f"<h3>E-step: how sure is EM about one row?</h3>"
            f"<p>With θ<sup>({t})</sup>, each row's <i>responsibilities</i> "
            f"{_sub('r', 'ik')} = P({_sub('z', 'i')} = k | {_sub('x', 'i')}, θ) share it between "
            "the classes; the next M-step uses them.</p>"
        )
        x = self._row
        dim = snap.means.shape[1]
        if x is None:
            if self._row_chosen:
                return head + "<p>The selected row takes no part in the fit (none of its features can be read).</p>"
            return head + "<p>Select a row in the table to see its numbers.</p>"
        if x.shape != (dim,):
            return head + "<p>Select a row in the table to see its numbers.</p>"
        k_count = snap.weights.shape[0]
        label = self._row_label if 0 <= self._row_label < k_count else -1
        one = dim == 1
        blank = ~np.isfinite(x)

        log_n = np.array([self._log_density(x, snap, k) for k in range(k_count)])
        with np.errstate(divide="ignore"):
            log_w = np.log(snap.weights)
        log_joint = log_w + log_n
        log_total = float(np.logaddexp.reduce(log_joint))
        posterior = mixture.predict_proba(x[None, :], snap.weights, snap.means, snap.covariances)[0]

        caption = _esc(self._row_caption) if self._row_caption else "the selected row"
        if not self._row_chosen:
            caption = "the first row without a label (select a row to change it)"
        xi = "x" if one else "<b>x</b>"
        out = [head, f"<p>For {caption}: {xi} = <b>{self._vector(x)}</b>.</p>"]

        # Short headers keep the table inside a narrow dock; the text below defines them.
        cells = ["class", "π<sub>k</sub>"]
        if one:
            cells.append("z<sub>k</sub>")
        cells += ["φ<sub>k</sub>(x)" if one else "φ<sub>k</sub>(<b>x</b>)", "π<sub>k</sub> φ<sub>k</sub>", "r<sub>ik</sub>"]
        rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>"]
        for k in range(k_count):
            r = (1.0 if k == label else 0.0) if label >= 0 else float(posterior[k])
            row = [self._class_cell(k), _num(snap.weights[k], 3)]
            if one:
                sd = math.sqrt(float(snap.covariances[k, 0, 0]))
                row.append(_signed(f"{(x[0] - snap.means[k, 0]) / sd:+.2f}"))
            row += [_from_log(log_n[k]), _from_log(log_joint[k]), f"<b>{_pct(r)}</b>"]
            rows.append(_tr(row))
        total_row = ["Σ", ""] + ([""] if one else []) + ["", _from_log(log_total), "100.0 %"]
        rows.append(_tr(total_row))
        out.append('<table cellspacing="0" border="1" style="border-color:#cccccc">' + "".join(rows) + "</table>")

        if one:
            out.append(
                "<p>φ<sub>k</sub>(x) = N(x | μ<sub>k</sub>, σ<sub>k</sub>) = "
                "exp(−½ z<sub>k</sub><sup>2</sup>) / (σ<sub>k</sub> √(2π)) is class k's bell curve, "
                "with z<sub>k</sub> = (x − μ<sub>k</sub>) / σ<sub>k</sub> the distance from its mean "
                "in units of its spread: the further away, the lower the curve. The plot draws each "
                "class's curve as π<sub>k</sub> φ<sub>k</sub>, so that column is how high each "
                "curve stands at x.</p>"
            )
        elif blank.any():
            seen = ", ".join(_esc(self._features[j]) for j in np.flatnonzero(~blank))
            out.append(
                f"<p>This row's {self._names(blank)} is blank, so φ<sub>k</sub> is the density of "
                f"its observed values alone ({seen}): N(<b>x</b><sub>o</sub> | μ<sub>k,o</sub>, "
                "Σ<sub>k,oo</sub>), the normal of class k with the blank feature integrated out "
                "(the rows and columns of the blank feature left out of μ<sub>k</sub> and "
                "Σ<sub>k</sub>). The class probabilities r<sub>ik</sub> therefore come from the "
                f"observed values only; nothing is guessed for the blank before they are known.</p>"
            )
        else:
            out.append(
                f"<p>φ<sub>k</sub>(<b>x</b>) = N(<b>x</b> | μ<sub>k</sub>, Σ<sub>k</sub>) is the "
                f"{dim}-dimensional normal density with mean μ<sub>k</sub> and covariance "
                "Σ<sub>k</sub>; π<sub>k</sub> φ<sub>k</sub> is the height of class k's weighted "
                "density at <b>x</b>.</p>"
            )
        if label >= 0:
            out.append(
                f"<p>This row's label is typed: <b>{_esc(self._class_name(label))}</b>. Its "
                f"responsibility is fixed at <b>1</b> (100 %) for that class and 0 for the others; "
                "EM does not change it. (From the curves alone it would get "
                + ", ".join(f"{_esc(self._class_name(k))} {_pct(posterior[k])}" for k in range(k_count))
                + ".)</p>"
            )
        else:
            best = int(np.argmax(posterior))
            if best < len(self._unnamed) and self._unnamed[best]:
                out.append(
                    f"<p>Most likely in <b>{_esc(self._class_name(best))}</b> "
                    f"({_pct(posterior[best])}): no typed label names that group, so this blank "
                    "would stay blank, with a note saying why.</p>"
                )
            else:
                out.append(
                    f"<p>Each responsibility is its class's share of the sum: "
                    f"r<sub>i,{_esc(self._class_name(best))}</sub> = {_from_log(log_joint[best])} / "
                    f"{_from_log(log_total)} = <b>{_pct(posterior[best])}</b>. If EM stopped here the "
                    f"blank would be filled with <b>{_esc(self._class_name(best))}</b>, "
                    f"{_pct(posterior[best])} sure.</p>"
                )
        if blank.any() and not blank.all():
            r = np.eye(k_count)[label] if label >= 0 else posterior
            out.append(self._html_blank_values(x, snap, r))
        return "".join(out)

    def _names(self, blank: np.ndarray) -> str:
        """The blank features' names: "weight", "weight and age"."""
        names = [_esc(self._features[j]) for j in np.flatnonzero(blank)]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _html_blank_values(self, x: np.ndarray, snap: mixture.Snapshot, r: np.ndarray) -> str:
        """The E-step's expectation of a row's blank feature values, per class and over the classes.

        Every number from :func:`emgui.core.mixture.impute`: with a one-hot
        posterior for class k it gives class k's conditional mean (and its
        95 % interval, mean ± 1.96 SD); with the row's responsibilities, the
        value a fill of blank numbers would write.
        """
        k_count = snap.weights.shape[0]
        blank = np.flatnonzero(~np.isfinite(x))
        seen = np.flatnonzero(np.isfinite(x))
        per_class = [
            mixture.impute(x[None, :], np.eye(k_count)[k][None, :], snap.means, snap.covariances)
            for k in range(k_count)
        ]
        value, low, high = mixture.impute(x[None, :], r[None, :], snap.means, snap.covariances)
        j0, o0 = int(blank[0]), int(seen[0])
        xm, xo = _sub("x", _esc(self._features[j0])), _sub("x", "o")
        out = [
            f"<h3>E-step for the blank {self._names(~np.isfinite(x))}</h3>"
            f"<p>The M-step needs every row's values, so for each class k the E-step also "
            f"expects the blank value given the observed ones: under class k's normal it is "
            f"itself normal, with the <i>conditional mean</i></p>"
            f'<p class="f" align="center">E[{xm} | {xo}, k] = μ<sub>k,m</sub> + '
            f"Σ<sub>k,mo</sub> Σ<sub>k,oo</sub><sup>−1</sup> ({xo} − μ<sub>k,o</sub>)</p>"
            f"<p>(the class's mean of the blank feature, moved along its regression on the "
            f"observed ones). For this row:</p>"
        ]
        cells = ["class", "r<sub>ik</sub>"] + [
            f"E[{_esc(self._features[j])}]{' (' + _esc(self._units[j]) + ')' if self._units[j] else ''}"
            for j in blank
        ]
        rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>"]
        for k in range(k_count):
            v, lo, hi = per_class[k]
            sd = [(hi[0, j] - v[0, j]) / 1.959963984540054 for j in blank]
            rows.append(_tr(
                [self._class_cell(k), _pct(r[k])]
                + [f"{_num(v[0, j])} ± {_num(s, 3)}" for j, s in zip(blank, sd, strict=True)]
            ))
        out.append('<table cellspacing="0" border="1" style="border-color:#cccccc">' + "".join(rows) + "</table>")
        k = int(np.argmax(r))
        mu_m, mu_o = snap.means[k, j0], snap.means[k, o0]
        if len(seen) == 1 and len(blank) == 1:
            c = snap.covariances[k]
            slope = c[j0, o0] / c[o0, o0]
            out.append(
                f'<p class="note">For {self._class_cell(k)}: {_num(mu_m)} + {_num(slope, 3)} × '
                f"({_num(x[o0])} − {_num(mu_o)}) = {_num(per_class[k][0][0, j0])}, with "
                f"{_num(slope, 3)} = Σ<sub>k,mo</sub> / Σ<sub>k,oo</sub> = {_num(c[j0, o0], 4)} / "
                f"{_num(c[o0, o0], 4)}. The ± is the conditional spread, "
                "√(Σ<sub>k,mm</sub> − Σ<sub>k,mo</sub> Σ<sub>k,oo</sub><sup>−1</sup> Σ<sub>k,om</sub>).</p>"
            )
        filled = ", ".join(
            f"{_esc(self._features[j])} {self._value(value[0, j], j)} (95 % between "
            f"{_num(low[0, j])} and {_num(high[0, j])})"
            for j in blank
        )
        out.append(
            "<p>The M-step counts this row in class k with weight r<sub>ik</sub>, using "
            "E[x<sub>m</sub> | x<sub>o</sub>, k] in the blank's place in μ<sub>k</sub> and "
            "Σ<sub>k</sub> (and adding the conditional spread to Σ<sub>k</sub>, so a guessed value "
            "never looks surer than it is). <i>Data ▸ Also Fill Blank Numbers</i> writes "
            "Σ<sub>k</sub> r<sub>ik</sub> E[x<sub>m</sub> | x<sub>o</sub>, k] into the cell: "
            f"<b>{filled}</b> at this iteration (the fill uses the final fit, its probabilities "
            "calibrated by the self-check, and widens the interval a little for the parameters "
            "being estimated from a limited number of rows).</p>"
        )
        return "".join(out)

    def _log_density(self, x: np.ndarray, snap: mixture.Snapshot, k: int) -> float:
        """log N(x | μ_k, Σ_k): the log-likelihood of x labelled k under weight 1 for k."""
        weights = np.zeros(snap.weights.shape[0])
        weights[k] = 1.0
        return mixture.log_likelihood(x[None, :], np.array([k]), weights, snap.means, snap.covariances)

    def _html_m_step(self, snap: mixture.Snapshot) -> str:
        t = snap.iteration
        dim = snap.means.shape[1]
        one = dim == 1
        n_rows = None if self._X is None else self._X.shape[0]
        if t == 0:
            head = (
                "<h3>Starting parameters</h3>"
                "<p>The first M-step (at iteration 1) will recompute these from the "
                "responsibilities above:</p>"
            )
        else:
            head = (
                f"<h3>M-step: the parameters θ<sup>({t})</sup></h3>"
                f"<p>From the responsibilities under θ<sup>({t - 1})</sup>, every row counts for "
                "each class with its responsibility (a labelled row fully for its own class):</p>"
            )
        formulas = (
            '<p class="f">N<sub>k</sub> = Σ<sub>i</sub> r<sub>ik</sub> &nbsp; '
            "π<sub>k</sub> = N<sub>k</sub> / N &nbsp; "
            "μ<sub>k</sub> = Σ<sub>i</sub> r<sub>ik</sub> x<sub>i</sub> / N<sub>k</sub></p>"
        )
        if self._shared and one:
            formulas += (
                '<p class="f">σ = √( Σ<sub>k</sub> Σ<sub>i</sub> r<sub>ik</sub> '
                "(x<sub>i</sub> − μ<sub>k</sub>)<sup>2</sup> / N )</p>"
                "<p>One spread for every class (the shared-covariance model): each row's "
                "distance from each class's mean, weighted by its responsibility, pooled over "
                "the classes.</p>"
            )
        elif self._shared:
            formulas += (
                '<p class="f">Σ = Σ<sub>k</sub> Σ<sub>i</sub> r<sub>ik</sub> (<b>x</b><sub>i</sub> − '
                "μ<sub>k</sub>)(<b>x</b><sub>i</sub> − μ<sub>k</sub>)<sup>T</sup> / N, "
                "one covariance shared by every class (the model chosen), shown as each feature's "
                "spread σ</p>"
            )
        elif one:
            formulas += (
                '<p class="f">σ<sub>k</sub> = √( Σ<sub>i</sub> r<sub>ik</sub> '
                "(x<sub>i</sub> − μ<sub>k</sub>)<sup>2</sup> / N<sub>k</sub> )</p>"
            )
        else:
            formulas += (
                '<p class="f">Σ<sub>k</sub> = Σ<sub>i</sub> r<sub>ik</sub> (<b>x</b><sub>i</sub> − '
                "μ<sub>k</sub>)(<b>x</b><sub>i</sub> − μ<sub>k</sub>)<sup>T</sup> / N<sub>k</sub>, "
                "shown as each feature's spread σ (the square root of its variance)</p>"
            )

        cells = ["class", "N<sub>k</sub>"]
        known = None
        if self._labels is not None and n_rows is not None:
            known = np.bincount(self._labels[self._labels >= 0], minlength=snap.weights.shape[0])
            cells.append("labelled")
        cells += ["π<sub>k</sub> = N<sub>k</sub>/N"]
        units = self._units_note()
        if one:
            cells.append(f"Σ<sub>i</sub> r<sub>ik</sub> x<sub>i</sub>{units}")
        cells += [f"μ<sub>k</sub>{units}", f"σ<sub>k</sub>{units}"]
        if dim == 2:
            cells.append("correlation")
        rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>"]
        for k in range(snap.weights.shape[0]):
            w = float(snap.weights[k])
            nk = w * n_rows if n_rows is not None else None
            sd = np.sqrt(np.diagonal(snap.covariances[k]))
            row = [self._class_cell(k), "—" if nk is None else _num(nk, 4)]
            if known is not None:
                row.append(str(int(known[k])) if k < known.shape[0] else "0")
            row.append(_num(w, 3))
            if one:
                row.append("—" if nk is None else _num(nk * snap.means[k, 0], 5))
            row += [", ".join(_num(v) for v in snap.means[k]), ", ".join(_num(v) for v in sd)]
            if dim == 2:
                denom = float(sd[0] * sd[1])
                rho = float(snap.covariances[k, 0, 1]) / denom if denom > 0 else float("nan")
                row.append(_signed(f"{rho:+.2f}"))
            rows.append(_tr(row))
        table = '<table cellspacing="0" border="1" style="border-color:#cccccc">' + "".join(rows) + "</table>"
        note = ""
        if n_rows is not None:
            note = (
                f'<p class="note">N = {n_rows} rows take part. N<sub>k</sub> adds up the '
                "responsibilities, so it need not be a whole number; the labelled rows in it are "
                "fixed, the rest is EM's estimate for the blanks.</p>"
            )
        if one and n_rows is not None and t > 0:
            note += (
                '<p class="note">So μ<sub>k</sub> is the responsibility-weighted average: '
                "the Σ r<sub>ik</sub> x<sub>i</sub> column divided by N<sub>k</sub>.</p>"
            )
        return head + formulas + table + note


def sheet_row_input(sheet, classes: Sequence[str], row: int) -> tuple[np.ndarray | None, int]:
    """What :meth:`ExplainPanel.select_row` needs for one row of a sheet.

    Read from the sheet as it is now, so it stays right after rows are
    inserted, sorted or filled since the fit.

    Parameters
    ----------
    sheet : emgui.core.sheet.Sheet
    classes : sequence of str
        The fit's class keys (``FitInput.classes``), index = class.
    row : int
        Sheet row.

    Returns
    -------
    x : ndarray, shape (D,), or None
        The row's feature values as the fit sees them: NaN where a value is
        blank, cannot be read, or is a number an earlier fill wrote; None
        when no value can be read (the row takes no part in a fit) or
        ``row`` is past the end.
    label : int
        The class of a label the user typed, else -1 (blank or filled by EM:
        unknown to the fit).
    """
    if not 0 <= row < sheet.n_rows or not sheet.roles.features:
        return None, -1
    x = np.array([sheet.values(f)[row] for f in sheet.roles.features], dtype=np.float64)
    # A number a fill wrote is blank to the fit (see emgui.core.fill.prepare_from).
    x[[sheet.number_mark(row, f) is not None for f in sheet.roles.features]] = np.nan
    if not np.isfinite(x).any():
        return None, -1
    label = -1
    col = sheet.roles.label
    if col is not None and sheet.provenance[row] == USER and not sheet.label_missing()[row]:
        key = parsing.label_key(sheet.text(row, col))
        if key in classes:
            label = list(classes).index(key)
    return x, label
