"""Where the sheet and the mixture meet: fit input, fill plan, contract output.

The flow is the same for the window and for ``emgui-cli``::

    fit_input = prepare_fit(sheet)                  # snapshot of the numbers
    result = mixture.fit(fit_input.X, fit_input.labels, fit_input.n_components)
    plan = plan_fill(fit_input, result, min_confidence)
    apply_plan(sheet, plan)                         # one vectorised write

``prepare_fit`` copies what the fit needs, so the fit can run in another
thread while the sheet is edited; ``FitInput.version`` tells whether the
result still matches the sheet.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from . import binning, mixture, parsing
from .sheet import FILLED, UNCERTAIN, USER, Sheet

__all__ = [
    "FillError",
    "FitInput",
    "FillPlan",
    "prepare_fit",
    "FitSource",
    "fit_source",
    "prepare_from",
    "cached_fit_input",
    "forget_fit_input",
    "remember_fit_input",
    "plan_fill",
    "apply_plan",
    "fill_sheet",
    "export_table",
    "export_styles",
    "report_dict",
]


class FillError(ValueError):
    """The sheet cannot be filled as it stands; the message says what to change."""


@dataclass(frozen=True)
class FitInput:
    """Everything a fit needs, copied out of the sheet.

    Attributes
    ----------
    X : ndarray, (m, D)
        Feature values of the rows that take part (all features readable).
    labels : ndarray, (m,)
        Class index per row, -1 where the label is blank or was filled.
    rows : ndarray, (m,)
        Sheet row of each fitted row.
    blank_rows : ndarray, (b,)
        Rows in ``rows``'s numbering order whose label is to be filled.
    classes : list of str
        Class keys (see :func:`emgui.core.parsing.label_key`), index = class.
    spellings : dict
        How the label column writes each class.
    n_components : int
        K.
    feature_names : list of str
    version : int
        ``Sheet.version`` at the time of the snapshot.
    """

    X: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    blank_rows: np.ndarray
    classes: list[str]
    spellings: dict[str, str]
    n_components: int
    feature_names: list[str]
    version: int
    unlabelled: bool  # True when no class came from the label column (classes "1".."K")

    @functools.cached_property
    def histogram(self) -> binning.Histogram | None:
        """The first feature's histogram by class (computed once, on first use).

        The window's loader thread asks for it so the GUI thread only draws it.
        """
        return binning.group_histogram(self.X[:, 0], self.labels, self.n_components)


@dataclass(frozen=True)
class FillPlan:
    """The outcome of a fit for the blank labels, ready to write.

    All arrays are ``(r,)`` over the sheet rows in ``rows`` except
    ``posteriors``, ``(r, K)``.
    """

    rows: np.ndarray
    status: np.ndarray
    confidence: np.ndarray
    guess: np.ndarray
    posteriors: np.ndarray | None  # (r, K); None with two classes or fewer (see Sheet.probabilities)
    classes: list[str]
    spellings: dict[str, str]

    @property
    def texts(self) -> np.ndarray:
        """``(r,)`` object: the text each row gets (None where it stays blank as uncertain)."""
        names = np.array([self.spellings.get(c, c) for c in self.classes] + [None], dtype=object)
        return names[np.where(self.status == FILLED, self.guess, len(self.classes))]

    @property
    def n_filled(self) -> int:
        return int(np.count_nonzero(self.status == FILLED))

    @property
    def n_uncertain(self) -> int:
        return int(np.count_nonzero(self.status == UNCERTAIN))


def prepare_fit(sheet: Sheet, n_components: int | None = None) -> FitInput:
    """Copy the fit's input out of ``sheet``.

    Rows whose features cannot all be read take no part.  Labels typed by the
    user anchor their class; blank and previously filled labels are unknown.
    ``n_components`` is used when the label column names no class (default 2);
    with typed classes K is their number (or ``n_components`` if larger).

    The result is kept until the sheet changes (``Sheet.version``): the
    window draws the data on opening and fits it on F5, and at a million
    rows each call costs ~0.1 s of the GUI thread.  Treat it as read-only.

    Raises
    ------
    FillError
        No feature column, no readable rows, or a label column to fill is missing.
    """
    cached = cached_fit_input(sheet, n_components)
    if cached is not None:
        return cached
    fit_input = prepare_from(fit_source(sheet, copy=False), n_components)
    remember_fit_input(sheet, n_components, fit_input)
    return fit_input


def forget_fit_input(sheet: Sheet) -> None:
    """Drop what :func:`prepare_fit` keeps for ``sheet`` (before making a new one: a million rows, 26 MB)."""
    with _CACHE_LOCK:
        _CACHE.pop(sheet, None)


def cached_fit_input(sheet: Sheet, n_components: int | None = None) -> FitInput | None:
    """The kept result of :func:`prepare_fit` if the sheet has not changed since, else None."""
    with _CACHE_LOCK:
        cached = _CACHE.get(sheet)
    if cached is not None and cached[0] == (sheet.version, n_components):
        return cached[1]
    return None


def remember_fit_input(sheet: Sheet, n_components: int | None, fit_input: FitInput) -> None:
    """Keep ``fit_input`` (made by :func:`prepare_from`) as :func:`prepare_fit`'s, if still current."""
    if fit_input.version == sheet.version:
        with _CACHE_LOCK:
            _CACHE[sheet] = ((fit_input.version, n_components), fit_input)


@dataclass(frozen=True)
class FitSource:
    """What :func:`prepare_from` reads from a sheet: its copy, or a view of it.

    :func:`fit_source` takes it on the thread that owns the sheet (a few
    array copies: ~20 ms at a million rows); :func:`prepare_from` may then
    run anywhere, e.g. in the fit's thread, while the sheet is edited.
    """

    values: tuple[np.ndarray, ...]  # per feature, (n,) float64
    label_cells: np.ndarray | None  # (n,) object, or None without a label column
    user: np.ndarray  # (n,) bool: the label is the user's (not filled or marked)
    label_missing: np.ndarray  # (n,) bool
    n_rows: int
    feature_names: list[str]
    version: int
    copied: bool = False  # the arrays are this source's own (prepare_from may reuse them)


def fit_source(sheet: Sheet, *, copy: bool = True) -> FitSource:
    """The sheet's part in a fit (copies, unless ``copy`` is False: then use it at once).

    Raises
    ------
    FillError
        The sheet has no feature column.
    """
    roles = sheet.roles
    if not roles.features:
        raise FillError(
            "There is no numeric column to fit: mark a column such as height as a feature."
        )
    keep = np.array if copy else np.asarray
    return FitSource(
        values=tuple(keep(sheet.values(f)) for f in roles.features),
        label_cells=None if roles.label is None else keep(sheet.column_cells(roles.label)),
        user=sheet.provenance == USER,
        label_missing=keep(sheet.label_missing()),
        n_rows=sheet.n_rows,
        feature_names=[sheet.columns[f] for f in roles.features],
        version=sheet.version,
        copied=copy,
    )


# The last FitInput of each sheet, by sheet (weakly): see prepare_fit.  A
# loader thread may fill it while the GUI thread reads it for another sheet.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def prepare_from(source: FitSource, n_components: int | None = None) -> FitInput:
    """:func:`prepare_fit` of a :class:`FitSource`; safe in any thread (it reads only the source)."""
    if n_components is not None and n_components < 1:
        raise FillError("The number of classes must be at least 1.")
    # One feature (the usual case): a view, not a stacked copy of a million rows.
    values = source.values[0][:, None] if len(source.values) == 1 else np.column_stack(source.values)
    readable = np.isfinite(values).all(axis=1)
    rows = np.flatnonzero(readable)
    if not len(rows):
        raise FillError("No row has a readable value in every feature column; nothing to fit.")
    X = np.ascontiguousarray(values[rows])
    del values

    user = source.user
    if source.label_cells is not None:
        if source.copied:
            typed_raw = source.label_cells  # our own copy: blanked in place
            typed_raw[~user] = None
        else:
            typed_raw = np.where(user, source.label_cells, None)
        codes_all, classes, spellings = parsing.encode_labels_and_spellings(typed_raw)
        blank = source.label_missing | ~user
    else:
        codes_all = np.full(source.n_rows, -1, dtype=np.int64)
        classes, spellings = [], {}
        blank = np.ones(source.n_rows, dtype=bool)

    unlabelled = not classes
    if unlabelled:
        k = 2 if n_components is None else n_components
        classes = [str(i + 1) for i in range(k)]
        spellings = {c: c for c in classes}
    elif n_components is not None and n_components > len(classes):
        extra = [str(i + 1) for i in range(len(classes), n_components)]
        classes = list(classes) + extra
        spellings = {**spellings, **{c: c for c in extra}}

    # Small integer types: kept with the fit input (and by the window for the
    # "How EM works" panel), they cost a million rows 5 MB instead of 24.
    index = np.int32 if source.n_rows < 2**31 else np.int64
    labels = codes_all[rows].astype(np.int8 if len(classes) < 127 else np.int32)
    blank_rows = np.flatnonzero(blank[rows]).astype(index)
    rows = rows.astype(index)
    # Read-only: a fit thread can share them instead of copying (see
    # emgui.ui.worker), and a slip that would write into the cache raises.
    for arr in (X, labels, rows, blank_rows):
        arr.flags.writeable = False
    return FitInput(
        X=X,
        labels=labels,
        rows=rows,
        blank_rows=blank_rows,
        classes=list(classes),
        spellings=dict(spellings),
        n_components=len(classes),
        feature_names=list(source.feature_names),
        version=source.version,
        unlabelled=unlabelled,
    )


def plan_fill(fit_input: FitInput, result: mixture.MixtureResult, min_confidence: float = 0.0) -> FillPlan:
    """Decide the text and mark of every blank label from a fit's posteriors.

    A blank gets the most likely class, written in the column's own spelling,
    when its probability is at least ``min_confidence``; otherwise it stays
    blank and is marked uncertain (the best guess is kept for the tooltip).
    """
    sel = fit_input.blank_rows
    post = result.posteriors_of(sel)  # only these rows: no (n, K) array for the whole sheet
    guess = np.argmax(post, axis=1) if len(sel) else np.zeros(0, dtype=np.int64)
    conf = np.take_along_axis(post, guess[:, None], axis=1)[:, 0] if len(sel) else np.zeros(0)
    unsure = ~(conf >= min_confidence)
    status = np.full(len(sel), FILLED, dtype=np.int8)
    status[unsure] = UNCERTAIN
    return FillPlan(
        rows=fit_input.rows[sel],
        status=status,
        confidence=conf,
        guess=guess.astype(np.int16),
        # With one or two classes the sheet derives them from guess and
        # confidence: not kept (a refit's undo step holds its plan).
        posteriors=post if post.shape[1] > 2 else None,
        classes=fit_input.classes,
        spellings=fit_input.spellings,
    )


def apply_plan(sheet: Sheet, plan: FillPlan) -> None:
    """Write a fill plan into the sheet (adds a ``class`` column if it has no label)."""
    if sheet.roles.label is None:
        sheet.insert_column(sheet.n_cols, "class")
        from .sheet import Roles

        r = sheet.roles
        sheet.set_roles(Roles(sheet.n_cols - 1, r.features, r.units))
    # apply_fill itself drops the marks of an earlier fill on rows this plan does not cover.
    sheet.apply_fill(
        plan.rows, plan.status, plan.confidence, plan.guess, plan.posteriors,
        plan.classes, plan.spellings,
    )


def fill_sheet(
    sheet: Sheet,
    *,
    n_components: int | None = None,
    min_confidence: float = 0.0,
    seed: int = 0,
    **em_kwargs,
) -> tuple[FitInput, mixture.MixtureResult, FillPlan]:
    """Fit and fill in one call (the command line's path)."""
    fit_input = prepare_fit(sheet, n_components)
    result = mixture.fit(
        fit_input.X, fit_input.labels, fit_input.n_components, seed=seed, **em_kwargs
    )
    plan = plan_fill(fit_input, result, min_confidence)
    apply_plan(sheet, plan)
    return fit_input, result, plan


def export_table(sheet: Sheet) -> tuple[list[str], list[np.ndarray]]:
    """Columns and cells as the ``emgui-cli fill`` contract writes them.

    Every input column in order; feature cells that were read in another
    unit converted to the column's unit (unreadable ones keep their text);
    then ``<label>_imputed`` and ``<label>_confidence``; then a
    ``<feature>_issue`` column for each feature with unreadable cells.
    """
    columns, cells = sheet.to_table(marks=True)
    issue_cols: list[tuple[str, np.ndarray]] = []
    for f in sheet.roles.features:
        if sheet.unit(f) is None:
            continue  # plain numbers are written back unchanged
        raw = sheet.column_cells(f)
        vals = sheet.values(f)
        out = raw.copy()
        # Only cells read in another unit are rewritten (few, typically), so
        # the per-cell formatting stays off the common path.
        convert = np.flatnonzero(sheet.converted(f))
        out[convert] = [parsing.format_number(round(float(v), 3)) for v in vals[convert]]
        cells[f] = out
    for f in sheet.roles.features:
        if sheet.unreadable(f).any():
            issue_cols.append((sheet.columns[f] + "_issue", sheet.issues(f).copy()))
    for name, col in issue_cols:
        columns.append(name)
        cells.append(col)
    return columns, cells


def export_styles(sheet: Sheet) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Shading and a probability comment for each filled label cell, for an XLSX export.

    Returns ``(fill_colors, comments)`` as :func:`emgui.core.fileio.write_table`
    takes them: per column index, ``(n_rows,)`` object arrays of ``"#RRGGBB"``
    or text, None where a cell is not filled.  Empty dicts without a label.
    """
    from .colors import shade_hex

    label = sheet.roles.label
    if label is None:
        return {}, {}
    rows = np.flatnonzero(sheet.provenance == FILLED)
    colors = np.full(sheet.n_rows, None, dtype=object)
    notes = np.full(sheet.n_rows, None, dtype=object)
    k = max(len(sheet.fill_classes), 2)
    names = [sheet.fill_spellings.get(c, c) for c in sheet.fill_classes]
    post = sheet.probabilities(rows)
    for i, r in enumerate(rows):
        g, conf = int(sheet.guess[r]), float(sheet.confidence[r])
        colors[r] = shade_hex(g, conf, k)
        probs = ""
        if post.shape[1] == len(names) and len(names):
            probs = " (" + ", ".join(f"{n} {p:.1%}" for n, p in zip(names, post[i], strict=True)) + ")"
        notes[r] = f"Filled by EM: {conf:.1%} sure{probs}"
    return {label: colors}, {label: notes}


def report_dict(fit_input: FitInput, result: mixture.MixtureResult, plan: FillPlan, label: str) -> dict:
    """The ``--report`` JSON: the fitted model in the features' units and the fill counts."""
    return {
        "label": label,
        "features": fit_input.feature_names,
        "classes": [fit_input.spellings[c] for c in fit_input.classes],
        "weights": np.asarray(result.weights).tolist(),
        "means": np.asarray(result.means).tolist(),
        "covariances": np.asarray(result.covariances).tolist(),
        "log_likelihood": float(result.log_likelihood),
        "n_iter": int(result.n_iter),
        "converged": bool(result.converged),
        "n_rows_fitted": int(len(fit_input.rows)),
        "n_filled": plan.n_filled,
        "n_uncertain": plan.n_uncertain,
    }
