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

import dataclasses
import functools
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import _parallel, mixture, parsing, trust
from .sheet import FILLED, UNCERTAIN, USER, FillNotes, Sheet
from .textcolumn import copy_cells

if TYPE_CHECKING:
    from . import binning

__all__ = [
    "FillError",
    "FitInput",
    "FillPlan",
    "NumberFill",
    "Draw",
    "export_draws",
    "draws_table",
    "take_number_marks",
    "numbers_of",
    "missing_patterns",
    "mcar_test",
    "prepare_fit",
    "FitSource",
    "fit_source",
    "prepare_from",
    "cached_fit_input",
    "forget_fit_input",
    "remember_fit_input",
    "plan_fill",
    "apply_plan",
    "prepare_plan",
    "fill_sheet",
    "FillJob",
    "FillReport",
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
        Feature values of the rows that take part (at least one feature
        readable); NaN where a value is blank or unreadable.
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
    # Labels typed only on rows without a usable feature value (as spelt): no group.
    absent: tuple[str, ...] = ()
    # Labels given by a formula (as spelt): typed, never filled over, no group.
    formulas: tuple[str, ...] = ()
    heights: tuple[int, ...] = ()  # positions of the features that hold heights
    # (m, D) bool: the feature cells of ``X`` that are blank (NaN and no unreadable
    # text: only these may be filled); None when every value is there.
    blank_values: np.ndarray | None = None

    @functools.cached_property
    def histogram(self) -> binning.Histogram | None:
        """The first feature's histogram by class (computed once, on first use).

        The window's loader thread asks for it so the GUI thread only draws it
        (the command line never does: binning is imported here).
        """
        from . import binning

        return binning.group_histogram(self.X[:, 0], self.labels, self.n_components)


@dataclass(frozen=True)
class NumberFill:
    """Blank feature cells filled with their conditional mean under the fit (``--fill all``).

    All arrays are ``(c,)``, one entry per filled cell, ordered by row then feature.

    Attributes
    ----------
    rows : sheet rows
    features : position of the feature (in ``Roles.features``)
    values : the conditional mean given the row's class probabilities and observed values
    low, high : the 95 % predictive interval (quantiles of the predictive mixture)
    guess, confidence : the row's most likely class and its probability (for shading)
    """

    rows: np.ndarray
    features: np.ndarray
    values: np.ndarray
    low: np.ndarray
    high: np.ndarray
    guess: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Draw:
    """One multiple imputation (:meth:`FillJob.draws`).

    Attributes
    ----------
    label_rows : (b,) sheet rows whose blank label was drawn
    label_texts : (b,) object, the drawn label as the column spells it (None: an unnamed group)
    posteriors : (b, K) the probabilities the labels were drawn from
    number_rows, number_features, number_values : (c,) the blank numbers drawn
    """

    label_rows: np.ndarray
    label_texts: np.ndarray
    posteriors: np.ndarray
    number_rows: np.ndarray
    number_features: np.ndarray
    number_values: np.ndarray


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
    # Feature cells unusual under the fit: (sheet row, feature position, reason).
    unusual: tuple[tuple[int, int, str], ...] = ()
    # Per class: True for a group no typed label names (never written).
    unnamed: tuple[bool, ...] = ()
    # Blank numbers filled (``fill="all"``), else None.
    numbers: NumberFill | None = None

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

    Rows none of whose features can be read take no part; a row with some
    features blank or unreadable takes part through the others.  Labels typed by the
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


def carry_fit_input(sheet: Sheet, version: int) -> bool:
    """After a fill: keep the fit input made at ``version`` as the filled sheet's (no new one made).

    What a fill writes -- labels, marks, the unusual marks, blank numbers
    -- is what a fit's input leaves out (filled labels are unknown, filled
    numbers blank, an unusual value is still read), so :func:`prepare_fit`
    of the filled sheet gives the same arrays.  Keeping them saves a refit
    (F5 again) making them anew beside the earlier fit's: five million
    rows, ~60 MB and ~0.7 s of the fit's thread (issue 14 item 3).  Call
    only when the sheet changed by the fill alone since ``version`` (its
    roles included).  Returns whether a fit input was kept.
    """
    with _CACHE_LOCK:
        cached = _CACHE.get(sheet)
        if cached is None or cached[0][0] != version or sheet.version == version:
            return False
        old = cached[1]
        new = dataclasses.replace(old, version=sheet.version)
        if "histogram" in old.__dict__:
            # Binned already: functools.cached_property keeps it in the
            # instance's __dict__ (the class is frozen, so no setattr).
            new.__dict__["histogram"] = old.__dict__["histogram"]
        _CACHE[sheet] = ((sheet.version, cached[0][1]), new)
    return True


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
    # The arrays are this source's own (prepare_from may reuse them); its
    # values are the sheet's read-only ones either way (the sheet copies
    # them before an edit: Sheet.shared_values).
    copied: bool = False
    heights: tuple[int, ...] = ()  # positions of the features that hold heights
    # Per feature, (n,) bool of the cells holding text that cannot be read (None: none).
    unreadable: tuple[np.ndarray | None, ...] = ()


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
        values=tuple(_fit_values(sheet, f) for f in roles.features),
        label_cells=None if roles.label is None else _label_cells(sheet, copy),
        user=sheet.provenance == USER,
        label_missing=keep(sheet.label_missing()),
        n_rows=sheet.n_rows,
        feature_names=[sheet.columns[f] for f in roles.features],
        version=sheet.version,
        copied=copy,
        heights=tuple(i for i, f in enumerate(roles.features) if roles.units.get(f)),
        unreadable=tuple(_any_or_none(sheet.unreadable(f)) for f in roles.features),
    )


def _label_cells(sheet: Sheet, copy: bool) -> np.ndarray:
    """The label column's cells, or a copy of them made in steps (see :func:`textcolumn.copy_cells`)."""
    cells = sheet.column_cells(sheet.roles.label)
    if not copy:
        return cells
    return copy_cells(cells) if cells.dtype == object else np.array(cells)


def _fit_values(sheet: Sheet, f: int) -> np.ndarray:
    """A feature's numbers as the fit sees them: a number an earlier fill wrote is blank again.

    When no number was filled, the sheet's own array, read-only, even for a
    copied source: the sheet copies it before an edit writes into it
    (:meth:`Sheet.shared_values`), so a refit of five million rows holds
    no second 40 MB of them.
    """
    filled = sheet.number_filled(f)
    if not filled.any():
        return sheet.shared_values(f)
    out = np.array(sheet.values(f))
    out[filled] = np.nan
    return out


def _any_or_none(mask: np.ndarray) -> np.ndarray | None:
    return mask if mask.any() else None


# The last FitInput of each sheet, by sheet (weakly): see prepare_fit.  A
# loader thread may fill it while the GUI thread reads it for another sheet.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def prepare_from(source: FitSource, n_components: int | None = None, *, share: bool = False) -> FitInput:
    """:func:`prepare_fit` of a :class:`FitSource`; safe in any thread (it reads only the source).

    ``share``: a single feature read on every row is taken as ``X`` without
    a copy (read-only view of the source's array); only for a caller that
    does not change the sheet while the fit input lives (the command line,
    where a million rows then take 8 MB less).  Without it the same view is
    taken of an array nobody else writes: the source's own copy, or a
    sheet's read-only array (the sheet copies that before an edit).
    """
    if n_components is not None and n_components < 1:
        raise FillError("The number of classes must be at least 1.")
    # One feature (the usual case): a view, not a stacked copy of a million rows.
    # ``reshape``, not ``[:, None]``: that view's second stride is 0, and a
    # shared X must have the strides of a copy (BLAS and numpy's fast loops
    # want them; the fit ran slower and held the interpreter lock longer).
    stacked = len(source.values) > 1
    values = np.column_stack(source.values) if stacked else source.values[0].reshape(-1, 1)
    # Every value readable (the usual case) is one quick test over them all;
    # the tests row by row or column by column below are for the others
    # (a million rows of five: ~15 ms each).
    finite = np.isfinite(values)
    every = bool(finite.all())
    # A row takes part through whichever of its features can be read (EM
    # handles the blank ones); a row with none takes no part.
    readable = None if every else finite.any(axis=1)
    index = np.int32 if source.n_rows < 2**31 else np.int64
    # Every row readable (the usual case): the rows numbered in their final
    # small type, without an int64 array of them first (5M rows: 40 MB).
    rows = np.arange(len(values), dtype=index) if every or readable.all() else np.flatnonzero(readable)
    del readable
    if not len(rows):
        raise FillError("No row has a readable value in any feature column; nothing to fit.")
    if stacked and not every:
        empty = [name for f, name in enumerate(source.feature_names) if not finite[:, f].any()]
        if empty:
            raise FillError(f"The feature column '{empty[0]}' has no readable value: leave it out of the features.")
    del finite
    unwritten = source.copied or not source.values[0].flags.writeable
    if (share or unwritten) and len(rows) == len(values) and not stacked:
        X = values.view()  # its own flags: made read-only below, the source's stay
    elif stacked and len(rows) == len(values):
        X = values  # column_stack's own array, C-ordered: no second copy of it
    else:
        X = np.ascontiguousarray(values[rows])
    del values
    blank_values = None
    if not every and not np.isfinite(X).all():
        blank_values = np.isnan(X)
        for f, bad in enumerate(source.unreadable):
            if bad is not None:
                blank_values[:, f] &= ~bad[rows]  # unreadable text is never overwritten
        blank_values.flags.writeable = False

    user = source.user
    if source.label_cells is not None:
        if user.all():
            typed_raw = source.label_cells  # nothing to blank (a fresh sheet): no copy
        elif source.copied:
            typed_raw = source.label_cells  # our own copy: blanked in place
            typed_raw[~user] = None
        else:
            typed_raw = np.where(user, source.label_cells, None)
        codes_all, classes, spellings = parsing.encode_labels_and_spellings(typed_raw)
        del typed_raw
        if len(classes) < 127:  # small codes from here on (5M rows: 5 MB, not 40)
            codes_all = codes_all.astype(np.int8)
        blank = source.label_missing | ~user
    else:
        codes_all = np.full(source.n_rows, -1, dtype=np.int8)
        classes, spellings = [], {}
        blank = np.ones(source.n_rows, dtype=bool)

    # A class typed only where no feature can be read is no group: it would
    # become a free component and be written on rows nobody typed so.
    absent: list[str] = []
    formula_labels: tuple[str, ...] = ()
    if classes:
        present = np.zeros(len(classes) + 1, dtype=bool)
        typed = codes_all if len(rows) == source.n_rows else codes_all[rows]
        for j in range(len(classes)):  # a comparison per class: ~1 ms at 5M rows (bincount: 45-130 ms)
            present[j + 1] = (typed == j).any()
        del typed
        # A label given by a formula is typed (never filled over) but names no class.
        formulas = [j for j, c in enumerate(classes) if c.startswith("=")]
        present[[j + 1 for j in formulas]] = False
        formula_labels = tuple(spellings.get(classes[j], classes[j]) for j in formulas)
        if not present[1:].all():
            remap = np.full(len(classes) + 1, -1, dtype=codes_all.dtype)
            kept = [j for j in range(len(classes)) if present[j + 1]]
            remap[[j + 1 for j in kept]] = np.arange(len(kept))
            for j in range(len(classes)):
                if not present[j + 1] and j not in formulas:
                    absent.append(spellings.get(classes[j], classes[j]))
            codes_all = remap[codes_all.astype(np.intp) + 1]
            spellings = {classes[j]: spellings[classes[j]] for j in kept if classes[j] in spellings}
            classes = [classes[j] for j in kept]

    unlabelled = not classes
    if unlabelled:
        k = 2 if n_components is None else n_components
        classes = [str(i + 1) for i in range(k)]
        spellings = {c: c for c in classes}

    # Small integer types: kept with the fit input (and by the window for the
    # "How EM works" panel), they cost a million rows 5 MB instead of 24.
    every = len(rows) == source.n_rows  # every row readable: no (n,) gathers
    labels = (codes_all if every else codes_all[rows]).astype(np.int8 if len(classes) < 127 else np.int32)
    del codes_all
    blank_rows = np.flatnonzero(blank if every else blank[rows]).astype(index)
    rows = rows.astype(index, copy=False)
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
        absent=tuple(absent),
        formulas=formula_labels,
        heights=tuple(source.heights),
        blank_values=blank_values,
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


def apply_plan(sheet: Sheet, plan: FillPlan, notes: FillNotes | None = None, prepared=None) -> None:
    """Write a fill plan into the sheet (adds a ``class`` column if it has no label).

    ``prepared``: the plan's arrays from :func:`prepare_plan`, swapped in if
    the sheet has not changed since they were made (else written as usual).
    """
    features = sheet.roles.features
    unusual = [(r, features[f], reason) for r, f, reason in plan.unusual]
    if prepared is not None and sheet.apply_prepared(
        prepared, plan.classes, plan.spellings, unusual=unusual, notes=notes
    ):
        _apply_numbers(sheet, plan)
        return
    if sheet.roles.label is None:
        sheet.insert_column(sheet.n_cols, "class")
        from .sheet import Roles

        r = sheet.roles
        sheet.set_roles(Roles(sheet.n_cols - 1, r.features, r.units))
    # apply_fill itself drops the marks of an earlier fill on rows this plan does not cover.
    features = sheet.roles.features
    sheet.apply_fill(
        plan.rows, plan.status, plan.confidence, plan.guess, plan.posteriors,
        plan.classes, plan.spellings,
        unusual=[(r, features[f], reason) for r, f, reason in plan.unusual],
        notes=notes,
    )
    _apply_numbers(sheet, plan)


def prepare_plan(sheet: Sheet, plan: FillPlan, version: int):
    """The sheet's per-row arrays with ``plan`` written, made from copies (any thread).

    For :func:`apply_plan`: see :meth:`Sheet.prepare_fill`.  None when the
    sheet is not at ``version`` any more or has no label column.
    """
    return sheet.prepare_fill(
        plan.rows, plan.status, plan.confidence, plan.guess, plan.posteriors,
        plan.classes, plan.spellings, version=version,
    )


def _apply_numbers(sheet: Sheet, plan: FillPlan) -> None:
    features = sheet.roles.features
    # Numbers an earlier fill wrote are blank to this one: blank again, then this plan's.
    sheet.clear_numbers()
    nums = plan.numbers
    if nums is not None and len(nums):
        sheet.apply_numbers(
            nums.rows, np.asarray(features)[nums.features], _number_text(nums.values),
            nums.low, nums.high, nums.guess, nums.confidence,
        )


def _set_aside(X: np.ndarray, found) -> tuple[np.ndarray, np.ndarray]:
    """``X`` with the unusual cells of ``found`` blank (a copy when there are any), and the rows
    that still hold a value, (n,) bool."""
    if not found.mask.any():
        return X, np.ones(len(X), dtype=bool)
    out = np.array(X, dtype=np.float64)
    for row, items in found.reasons.items():
        for f, _ in items:
            out[row, f] = np.nan
    return out, np.isfinite(out).any(axis=1)


#: Held-out log-loss (nats per typed label) by which the typed rows alone must beat the full fit to replace it.
TYPED_ONLY_MARGIN = 0.02


def posteriors_over(result: mixture.MixtureResult, X: np.ndarray) -> mixture.MixtureResult:
    """``result`` with posteriors for the rows of ``X``, shape (n, D): a fit of the typed rows
    alone, say, asked for the blank ones too (or a Dask part's rows)."""
    params = (result.weights, result.means, result.covariances)
    k = len(result.weights)

    def posteriors_of(rows):
        rows = np.arange(len(X)) if rows is None else rows
        if not len(rows):
            return np.zeros((0, k))
        return mixture.predict_proba(X[rows], *params)

    return dataclasses.replace(result, _posteriors_of=posteriors_of, _made={})


#: How a group no typed label names is called in tooltips and reports (never written in a cell).
UNNAMED = "(unnamed group {})"
COVARIANCE_CHOICES = ("auto", *mixture.COVARIANCES)
#: What a fill fills: the blank labels, or the blank numbers of the features too.
FILL_CHOICES = ("labels", "all")


@dataclass(frozen=True)
class FillReport:
    """What a fill found beyond the cells: the model chosen, the candidates, the self-check.

    Attributes
    ----------
    result : MixtureResult
        The final fit (rows with unusual values left out).
    classes : list of str
        Class keys of the result's components; unnamed groups included.
    names : list of str
        How each is shown (the column's spelling, or "(unnamed group 1)").
    unnamed : tuple of bool
    covariance : str
    candidates : list of trust.Candidate
    check : trust.Check or None
        None when the self-check was not asked for.
    n_unusual : int
        Rows left out of the fit as unusual.
    subsampled : int or None
        Rows the candidates and the check were fitted on, when fewer than all.
    """

    result: mixture.MixtureResult
    classes: list[str]
    names: list[str]
    unnamed: tuple[bool, ...]
    covariance: str
    candidates: list
    check: object | None
    n_unusual: int
    subsampled: int | None = None
    typed_only: bool = False  # the blank rows took no part (see FillJob.finish)
    n_fitted: int | None = None  # rows in the final fit (unusual values blank; rows left with none out)

    @property
    def groups(self) -> int:
        return len(self.classes)

    def model_dict(self) -> dict:
        return {
            "covariance": self.covariance,
            "groups": self.groups,
            "unnamed_groups": int(sum(self.unnamed)),
            "fitted_on": "typed rows only" if self.typed_only else "all rows",
            "candidates": [c.as_dict() for c in self.candidates],
        }


class FillJob:
    """The fill of a :class:`FitInput`, in three steps that may run in another thread.

    ``prepare()`` screens for unusual values and chooses the model by BIC;
    ``em()`` gives the chosen model's :class:`~emgui.core.mixture.EMFit` over
    the rows kept (the window streams it to the plot); ``finish(result)``
    looks for unusual values again under the final fit, runs the self-check,
    calibrates and plans the fill::

        job = FillJob(fit_input)
        job.prepare()
        em = job.em()
        for _ in em: pass
        plan, report = job.finish(em.result())

    Parameters
    ----------
    fit_input : FitInput
    components : int, optional
        Fixes the number of groups (otherwise chosen by BIC).
    covariance : {"auto", "separate", "shared"}
    min_confidence : float
        Blanks whose best class is less likely stay blank (uncertain).
    seed : int
    check : bool
        Run the self-check (and calibrate from it).
    folds : int
    fill : {"labels", "all"}
        ``"all"``: blank feature cells get their conditional mean too
        (:attr:`FillPlan.numbers`).
    """

    def __init__(
        self,
        fit_input: FitInput,
        *,
        components: int | None = None,
        covariance: str = "auto",
        min_confidence: float = 0.0,
        seed: int = 0,
        check: bool = True,
        folds: int = 5,
        fill: str = "labels",
        **em_kwargs,
    ) -> None:
        if covariance not in COVARIANCE_CHOICES:
            raise FillError(f"covariance must be one of {', '.join(COVARIANCE_CHOICES)}, not '{covariance}'")
        if fill not in FILL_CHOICES:
            raise FillError(f"fill must be one of {', '.join(FILL_CHOICES)}, not '{fill}'")
        self.fill = fill
        self.fit_input = fit_input
        self.components = components
        self.covariance = covariance
        self.min_confidence = float(min_confidence)
        self.seed = int(seed)
        self.check = bool(check)
        self.folds = int(folds)
        self._em_kwargs = {k: v for k, v in em_kwargs.items() if k in ("max_iter", "tol", "reg_covar")}
        fi = fit_input
        self.n_typed = 0 if fi.unlabelled else len(fi.classes)
        if fi.unlabelled and fi.absent:
            names = ", ".join(f"'{name}'" for name in fi.absent)
            features = " or ".join(f"'{n}'" for n in fi.feature_names)
            raise FillError(
                f"The typed labels ({names}) are all on rows without a usable {features}, "
                "so no class can be filled: type labels on rows whose values can be read."
            )
        if fi.unlabelled and fi.formulas:
            # Typed, but by formulas only: no class to write, and numbers are
            # never invented as names in a column someone typed in.
            names = ", ".join(f"'{name}'" for name in fi.formulas)
            raise FillError(
                f"The only typed labels are formulas ({names}): no class can be filled. "
                "Type the classes themselves on some rows."
            )
        if self.n_typed == 1 and components is None and len(fi.blank_rows):
            name = fi.spellings.get(fi.classes[0], fi.classes[0])
            raise FillError(
                f"Only one class ('{name}') is typed: nothing can be told apart from it. "
                "Type a row of each other class, or give the number of groups."
            )
        if components is not None and components > len(fi.X):
            raise FillError(
                f"{components} groups need at least {components} rows with readable values; "
                f"there are {len(fi.X)}."
            )
        self._sub = trust.subsample(len(fi.X), trust.CHOICE_ROWS, seed=self.seed)
        self._sorted: _parallel.Later | None = None  # all rows sorted for em(), see prepare()
        self.keep: np.ndarray | None = None  # (m,) bool over the fit input's rows: those in the fit
        self._X_fit: np.ndarray | None = None  # the fit input's values, unusual cells blank
        self.chosen = None
        self.candidates: list = []
        self.unusual = None
        self.typed_only = False
        self.temperature = 1.0

    # -- step 1 ---------------------------------------------------------------------

    def prepare(self) -> None:
        """Screen for unusual values and choose the model (several small fits)."""
        fi = self.fit_input
        X, labels = fi.X, fi.labels
        sub = self._sub
        if sub is not None and self._sorted is None:
            # The fit of all rows sorts, centres and sums them first (~0.2 s
            # at 1M rows of five): on the second core while the model is
            # chosen on a sample (issue 14: fit input to finish 0.81 -> 0.59 s
            # with that core free); em() takes them if no value is set aside.
            self._sorted = _parallel.Later(mixture.sort_rows, X, labels)
        Xs, ls = (X, labels) if sub is None else (X[sub], labels[sub])
        chosen, candidates, found = self.choose(Xs, ls)
        self.chosen, self.candidates = chosen, candidates
        self._use(self._find_unusual(X, chosen.result) if sub is not None else found)

    def choose(self, Xs: np.ndarray, ls: np.ndarray, n_total: int | None = None):
        """The model chosen on rows ``Xs`` (labels ``ls``), unusual values set aside and looked for again.

        Returns ``(chosen, candidates, found)``: the candidate with the lowest
        BIC, every candidate, and the unusual values of ``Xs`` under the
        chosen one.  ``n_total`` is the number of rows the unusual bound is for
        (default: the fit input's); the Dask engine passes the whole data's.
        """
        Xs_fit, keep_s = Xs, np.ones(len(Xs), dtype=bool)
        flagged = np.zeros(len(Xs), dtype=bool)
        for _ in range(3):
            chosen, candidates = trust.choose_model(
                Xs_fit[keep_s], ls[keep_s], self.n_typed,
                groups=self.components, covariance=self.covariance, seed=self.seed,
            )
            found = self._find_unusual(Xs, chosen.result, n_total)
            if np.array_equal(found.mask, flagged):
                break
            flagged = found.mask
            Xs_fit, keep_s = _set_aside(Xs, found)
        return chosen, candidates, found

    def _use(self, found) -> None:
        """Take ``found`` as the unusual values: their cells blank for the fit, rows left with none out."""
        self.unusual = found
        self._X_fit, self.keep = _set_aside(self.fit_input.X, found)

    def _find_unusual(self, X: np.ndarray, result, n_total: int | None = None):
        fi = self.fit_input
        return trust.find_unusual(
            X, result, fi.feature_names, heights=frozenset(fi.heights),
            n_total=len(fi.X) if n_total is None else n_total,
        )

    # -- step 2 ---------------------------------------------------------------------

    def em(self) -> mixture.EMFit:
        """The chosen model's fit over the rows kept.

        Small data: the chosen candidate's own fit again (the same starts, so
        the plot shows EM climbing to it); large data: started from the
        candidate's parameters (fitted on a subsample).
        """
        if self.chosen is None:
            self.prepare()
        X, labels = self._kept()
        c = self.chosen
        init = None
        if self._sub is not None or not self.keep.all():
            r = c.result
            init = (r.weights, r.means, r.covariances)
        sorted_rows = None
        if self._sorted is not None:
            if X is self.fit_input.X and labels is self.fit_input.labels:
                sorted_rows = self._sorted.result()
            else:
                self._sorted.drop()
            self._sorted = None
        return mixture.EMFit(
            X, labels, c.groups, covariance=c.covariance, seed=self.seed, init=init,
            n_init=1 if init is not None else 5, sorted_rows=sorted_rows, **self._em_kwargs,
        )

    def _kept(self) -> tuple[np.ndarray, np.ndarray]:
        """The fit's rows: unusual cells blank (the row takes part through its other values)."""
        fi = self.fit_input
        if self.keep is None:
            return fi.X, fi.labels
        X = self._values_fit()
        if self.keep.all():
            return X, fi.labels
        return X[self.keep], fi.labels[self.keep]

    def _kept_labels(self) -> np.ndarray:
        """The labels of :meth:`_kept`'s rows, without a copy of their values."""
        fi = self.fit_input
        return fi.labels if self.keep is None or self.keep.all() else fi.labels[self.keep]

    def _values_fit(self) -> np.ndarray:
        """The fit input's values with the unusual cells blank; made again once :meth:`finish` let it go."""
        if self._X_fit is None:
            self._X_fit, _ = _set_aside(self.fit_input.X, self.unusual)
        return self._X_fit

    # -- step 3 ---------------------------------------------------------------------

    def finish(self, result: mixture.MixtureResult) -> tuple[FillPlan, FillReport]:
        """Unusual values under the final fit, the self-check, calibration and the plan."""
        fi = self.fit_input
        c = self.chosen
        found = self._find_unusual(fi.X, result)
        if not np.array_equal(found.mask, self.unusual.mask):
            # The final fit sees a different set of unusual values: fit once more without them.
            self._use(found)
            X, labels = self._kept()
            result = trust.fit_model(
                X, labels, c.groups, c.covariance, seed=self.seed,
                init=(result.weights, result.means, result.covariances),
            )
        classes, names, unnamed = self.classes_of(result)
        n_named = len(classes) - sum(unnamed)
        # The blank rows' posteriors (300,000 rows of five: ~20 ms) on the
        # second core while this thread checks the fit on 10,000 rows (many
        # small steps); the plan takes them, unless the check replaces the fit.
        posteriors = _parallel.Later(result.posteriors_of, self._blank_positions()[1])
        check = None
        if self.check:
            if fi.unlabelled:
                check = trust.no_check("no label is typed, so there is nothing to check against", self.folds)
            else:
                X, labels = self._kept()
                sub = trust.subsample(len(X), seed=self.seed + 1)
                if sub is not None:
                    X, labels = X[sub], labels[sub]
                check = trust.self_check(
                    X, labels, names[:n_named], n_named, c.covariance, result,
                    folds=self.folds, min_confidence=self.min_confidence, seed=self.seed,
                )
                if (
                    check.typed_only_log_loss is not None
                    and check.typed_only_log_loss < check.log_loss - TYPED_ONLY_MARGIN
                ):
                    # The blank rows pull the groups away from the typed
                    # classes (features far from Gaussian): the typed rows
                    # alone predict the hidden labels better, so they decide.
                    X_all, lab_all = self._kept()
                    use = lab_all >= 0
                    alone = trust.fit_model(X_all[use], lab_all[use], c.groups, c.covariance,
                                            seed=self.seed, n_init=1)
                    result = posteriors_over(alone, X_all)
                    posteriors.drop()
                    posteriors = None
                    self.typed_only = True
                    # Checked on other folds than those it won on: the same
                    # folds would report the luck of the comparison too
                    # (bench_trust, 90 % blank: +2.3 to +5 points too high).
                    check = trust.self_check(
                        X, labels, names[:n_named], n_named, c.covariance, result,
                        folds=self.folds, min_confidence=self.min_confidence, seed=self.seed + 1,
                        typed_rows_only=True,
                    )
        temperature = check.temperature if check is not None and check.accuracy is not None else 1.0
        self.temperature = temperature
        self.result, self.classes, self.unnamed = result, classes, unnamed
        plan = self.plan(result, classes, unnamed, temperature, posteriors)
        # The values with unusual cells blank are a copy of the fit input's
        # whenever a value was set aside: the window keeps a finished job
        # (a replan, the multiple imputations), and a refit made its own
        # beside it (one feature, a million rows: 8 MB at once more; issue
        # 14 item 3, the window's peak <= 300 MB).  Made again if asked for.
        self._X_fit = None
        report = FillReport(
            result=result, classes=classes, names=names, unnamed=unnamed,
            covariance=c.covariance, candidates=self.candidates, check=check,
            n_unusual=int(np.count_nonzero(self.unusual.mask)),
            n_fitted=int(np.count_nonzero(self.keep)),
            subsampled=None if self._sub is None else len(self._sub),
            typed_only=self.typed_only,
        )
        return plan, report

    def classes_of(self, result) -> tuple[list[str], list[str], tuple[bool, ...]]:
        """A fit's groups as (class names, their spellings to write, which are unnamed groups)."""
        fi = self.fit_input
        k = len(result.weights)
        if fi.unlabelled:
            classes = [str(i + 1) for i in range(k)]
            return classes, list(classes), (False,) * k
        extra = k - self.n_typed
        classes = list(fi.classes) + [UNNAMED.format(i + 1) for i in range(extra)]
        names = [fi.spellings.get(c, c) for c in fi.classes] + classes[self.n_typed:]
        return classes, names, (False,) * self.n_typed + (True,) * extra

    def _blank_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """The blank rows kept for the fit: their rows in the fit input, and among the kept rows."""
        keep = self.keep
        blank = self.fit_input.blank_rows
        kept_blank = blank[keep[blank]]
        # Row of the fit input -> row of the kept rows (the same when all are kept:
        # no (n,) int64 array then).
        return kept_blank, kept_blank if keep.all() else (np.cumsum(keep) - 1)[kept_blank]

    def plan(self, result, classes, unnamed, temperature, posteriors: _parallel.Later | None = None) -> FillPlan:
        """What to write in each blank label cell from ``result`` (see :meth:`classes_of`).

        ``posteriors``: ``result``'s posteriors of the blank rows kept, under way
        (see :meth:`finish`).
        """
        fi = self.fit_input
        keep = self.keep
        blank = fi.blank_rows
        kept_blank, position = self._blank_positions()
        # A new array: tempered in place.
        post = result.posteriors_of(position) if posteriors is None else posteriors.result()
        post = trust.temper(post, temperature, in_place=True, named=self.n_typed)
        k = post.shape[1]
        guess = np.argmax(post, axis=1).astype(np.int16) if len(post) else np.zeros(0, dtype=np.int16)
        conf = np.take_along_axis(post, guess[:, None], axis=1)[:, 0] if len(post) else np.zeros(0)
        named = ~np.asarray(unnamed, dtype=bool)[guess] if len(guess) else np.zeros(0, dtype=bool)
        status = np.where(named & (conf >= self.min_confidence), FILLED, UNCERTAIN).astype(np.int8)
        # A row with an unusual value takes part through its other values, but
        # its blank label is not filled (its note says why).
        flagged = self.unusual.mask[kept_blank]
        if flagged.any():
            status[flagged] = UNCERTAIN
            conf = np.where(flagged, np.nan, conf)
            guess = np.where(flagged, -1, guess)
            if k > 2:
                post = np.where(flagged[:, None], np.nan, post)
        # Rows left with no value take no part at all.
        off = blank[~keep[blank]]
        rows = kept_blank  # sorted, as blank_rows is
        if len(off):
            rows = np.concatenate([kept_blank, off])
            status = np.concatenate([status, np.full(len(off), UNCERTAIN, dtype=np.int8)])
            conf = np.concatenate([conf, np.full(len(off), np.nan)])
            guess = np.concatenate([guess, np.full(len(off), -1, dtype=guess.dtype)])
            if k > 2:
                post = np.concatenate([post, np.full((len(off), k), np.nan)])
            order = np.argsort(rows, kind="stable")
            rows, status, conf, guess = rows[order], status[order], conf[order], guess[order]
            if k > 2:
                post = post[order]
        unusual = tuple(
            (int(fi.rows[i]), int(f), reason)
            for i, items in sorted(self.unusual.reasons.items())
            for f, reason in items
        )
        return FillPlan(
            rows=fi.rows[rows],
            status=status,
            confidence=conf,
            guess=guess,
            posteriors=post if k > 2 else None,
            classes=classes,
            spellings={**fi.spellings, **{c: c for c in classes if c not in fi.spellings}},
            unusual=unusual,
            unnamed=tuple(unnamed),
            numbers=self._numbers(result, temperature) if self.fill == "all" else None,
        )

    def _posteriors(self, result, kept: np.ndarray, temperature: float) -> np.ndarray:
        """P(class | row) of kept rows ``kept`` (positions among the kept rows), (r, K):
        one-hot for a typed label, the calibrated posterior given the observed values otherwise."""
        from . import trust

        labels = self._kept_labels()
        post = np.array(result.posteriors_of(kept), dtype=np.float64)
        lab = labels[kept].astype(np.intp)
        typed = lab >= 0
        blank = ~typed
        if blank.any():
            post[blank] = trust.temper(post[blank], temperature, named=self.n_typed)
        post[typed] = 0.0
        post[np.flatnonzero(typed), lab[typed]] = 1.0
        return post

    def _numbers(self, result, temperature: float) -> NumberFill | None:
        """The blank feature cells of the rows kept, filled with their conditional means."""
        fi = self.fit_input
        if fi.blank_values is None:
            return None
        X, _ = self._kept()
        blank = fi.blank_values if self.keep is None or self.keep.all() else fi.blank_values[self.keep]
        need = np.flatnonzero(blank.any(axis=1))
        if not len(need):
            return None
        post = self._posteriors(result, need, temperature)
        # The parameters are estimates, from each class's share of the rows
        # fitted (the typed rows alone when they decide): the intervals carry
        # that uncertainty too, which matters for classes of a few dozen rows.
        labels = self._kept_labels()
        n_fit = int(np.count_nonzero(labels >= 0)) if self.typed_only else len(labels)
        counts = np.asarray(result.weights) * n_fit
        value, low, high = mixture.impute(X[need], post, result.means, result.covariances,
                                          counts=counts, shared=self.chosen.covariance == "shared")
        r, f = np.nonzero(blank[need])  # row-major: by row, then feature
        fit_rows = need if self.keep is None or self.keep.all() else np.flatnonzero(self.keep)[need]
        return NumberFill(
            rows=fi.rows[fit_rows[r]].astype(np.int64),
            features=f.astype(np.int64),
            values=value[r, f],
            low=low[r, f],
            high=high[r, f],
            guess=post.argmax(axis=1)[r].astype(np.int16),
            confidence=post.max(axis=1)[r],
        )

    def draws(self, m: int, seed: int | None = None) -> list[Draw]:
        """``m`` multiple imputations of the blank labels (and numbers, with ``fill="all"``).

        Each draw first draws the parameters by bootstrap EM (Amelia's way:
        the rows kept resampled with replacement and refitted from the final
        fit), then each blank label from its calibrated posterior under those
        parameters given the row's observed values, then each blank number
        from its conditional Gaussian given the drawn (or typed) class and
        the row's observed values.  A draw of a group no typed label names
        leaves the label blank.  Call after :meth:`finish`.
        """
        from . import trust

        fi = self.fit_input
        rng = np.random.default_rng(self.seed if seed is None else seed)
        X, labels = self._kept()
        c = self.chosen
        result = self.result
        names = np.array(
            [None if u else fi.spellings.get(cl, cl) for cl, u in zip(self.classes, self.unnamed, strict=True)]
            + [None], dtype=object,
        )
        kept_rows = np.arange(len(fi.X)) if self.keep is None else np.flatnonzero(self.keep)
        blank = np.flatnonzero(labels < 0)  # positions among the kept rows
        fit_on = np.flatnonzero(labels >= 0) if self.typed_only else np.arange(len(X))
        numbers = None
        if self.fill == "all" and fi.blank_values is not None:
            numbers = fi.blank_values[kept_rows]
        out = []
        for _ in range(m):
            params = (result.weights, result.means, result.covariances)
            for _attempt in range(5):
                pick = fit_on[rng.integers(0, len(fit_on), len(fit_on))]
                try:
                    boot = trust.fit_model(X[pick], labels[pick], c.groups, c.covariance,
                                           seed=self.seed, init=params)
                except mixture.MixtureError:
                    continue  # an unlucky resample (a class drawn too few times): another
                params = (boot.weights, boot.means, boot.covariances)
                break
            post = mixture.predict_proba(X[blank], *params) if len(blank) else np.zeros((0, len(names) - 1))
            post = trust.temper(post, self.temperature, named=self.n_typed)
            u = rng.random(len(blank))
            drawn = np.minimum((post.cumsum(axis=1) < u[:, None]).sum(axis=1), post.shape[1] - 1)
            cls = labels.astype(np.intp).copy()
            cls[blank] = drawn
            n_rows = n_feat = n_vals = np.zeros(0)
            if numbers is not None:
                need = np.flatnonzero(numbers.any(axis=1))
                filled = mixture.draw_missing(X[need], cls[need], params[1], params[2], rng)
                r, f = np.nonzero(numbers[need])
                n_rows, n_feat, n_vals = fi.rows[kept_rows[need[r]]], f, filled[r, f]
            out.append(Draw(
                label_rows=fi.rows[kept_rows[blank]].astype(np.int64),
                label_texts=names[drawn],
                posteriors=post,
                number_rows=np.asarray(n_rows, dtype=np.int64),
                number_features=np.asarray(n_feat, dtype=np.int64),
                number_values=np.asarray(n_vals, dtype=np.float64),
            ))
        return out

    def replan(self, result: mixture.MixtureResult, min_confidence: float) -> FillPlan:
        """The plan of a finished fill at another threshold (the window's threshold changed meanwhile)."""
        self.min_confidence = float(min_confidence)
        classes, _, unnamed = self.classes_of(result)
        return self.plan(result, classes, unnamed, self.temperature)

    def notes(self, plan: FillPlan, report: FillReport) -> FillNotes:
        """The sheet's notes for this fill: unnamed groups described, absent classes explained."""
        fi = self.fit_input
        res = report.result
        unnamed = {}
        for g, is_unnamed in enumerate(report.unnamed):
            if not is_unnamed:
                continue
            n_rows = int(np.count_nonzero((plan.guess == g) & (plan.status == UNCERTAIN)))
            where = ", ".join(
                f"{name} {parsing.format_number(float(f'{m:.4g}'))}"
                for name, m in zip(fi.feature_names, res.means[g], strict=True)
            )
            unnamed[g] = f"a group of {n_rows:,} blank row{'s' if n_rows != 1 else ''} around {where}"
        features = " or ".join(f"'{n}'" for n in fi.feature_names)
        absent = {
            name: f"'{name}' is typed only on rows without a usable {features}: it took no part in the fit"
            for name in fi.absent
        }
        return FillNotes(unnamed=unnamed, absent=absent)


def fill_sheet(
    sheet: Sheet,
    *,
    n_components: int | None = None,
    min_confidence: float = 0.0,
    seed: int = 0,
    covariance: str = "auto",
    check: bool = True,
    fill: str = "labels",
    job_out: list | None = None,
    **em_kwargs,
) -> tuple[FitInput, FillReport, FillPlan]:
    """Fit and fill in one call (the command line's path): see :class:`FillJob`.

    ``job_out``, when given, receives the job (for :meth:`FillJob.draws`).
    """
    # The command line changes the sheet only after the fit: its values are shared, not copied.
    fit_input = prepare_from(fit_source(sheet, copy=False), n_components, share=True)
    job = FillJob(
        fit_input, components=n_components, covariance=covariance,
        min_confidence=min_confidence, seed=seed, check=check, fill=fill, **em_kwargs,
    )
    if job_out is not None:
        job_out.append(job)
    job.prepare()
    em = job.em()
    for _ in em:
        pass
    plan, report = job.finish(em.result())
    apply_plan(sheet, plan, job.notes(plan, report))
    return fit_input, report, plan


def _number_text(values: np.ndarray, decimal: str = ".") -> np.ndarray:
    """(c,) object: each number to 6 significant digits, as the shortest text reading back as it
    (with ``decimal`` as the decimal mark: a filled cell is written as the column's own are)."""
    out = np.empty(len(values), dtype=object)
    out[:] = [parsing.format_number(float(f"{v:.6g}")).replace(".", decimal) for v in values]
    return out


def export_table(
    sheet: Sheet, numbers: NumberFill | None = None, decimal: str = ".", *, arrow: bool = False,
    mark_blocks: bool = False,
) -> tuple[list[str], list[np.ndarray]]:
    """Columns and cells as the ``emgui-cli fill`` contract writes them.

    Every input column in order; feature cells that were read in another
    unit converted to the column's unit (unreadable ones keep their text);
    then ``<label>_imputed`` and ``<label>_confidence``; then a
    ``<feature>_issue`` column for each feature with unreadable cells; with
    ``numbers`` (``--fill all``), the filled values written into their blank
    cells and, for each feature with filled cells, ``<feature>_imputed``,
    ``<feature>_low`` and ``<feature>_high``.

    Columns are object arrays of ``str``/None, or Arrow string arrays for
    packed columns.  ``arrow`` (the command line, whose writers take both):
    the mark columns as Arrow text too, and a height column with no cell
    converted left as the sheet holds it, so a million rows need no ``str``
    per filled cell or per height, and the label column is the sheet's own
    array (not a copy: write it, do not change it).  ``mark_blocks`` (with
    ``arrow``, for a UTF-8 CSV): the two mark columns made a block of rows at
    a time as they are written (see :meth:`Sheet.to_table`).
    """
    # The issue columns included; the numbers' below.
    columns, cells = sheet.to_table(
        marks=True, numbers=False, arrow_marks=arrow, copy=not arrow, mark_blocks=mark_blocks
    )
    if numbers is None:
        numbers = numbers_of(sheet)
    for f in sheet.roles.features:
        if sheet.unit(f) is None:
            continue  # plain numbers are written back unchanged
        # Only cells read in another unit are rewritten (few, typically), so
        # the per-cell formatting stays off the common path.
        convert = np.flatnonzero(sheet.converted(f))
        if arrow and not len(convert):
            continue
        vals = sheet.values(f)
        out = np.array(sheet.column_cells(f), dtype=object)
        out[convert] = [parsing.format_number(round(float(v), 3)) for v in vals[convert]]
        cells[f] = out
    if numbers is not None and len(numbers):
        features = sheet.roles.features
        for i, f in enumerate(features):
            sel = numbers.features == i
            if not sel.any():
                continue
            rows = numbers.rows[sel]
            col = cells[f]  # to_table's own copy, unless packed (an Arrow array) or not copied
            if not (isinstance(col, np.ndarray) and col.dtype == object) or col is sheet.column_cells(f):
                col = np.array(sheet.column_cells(f), dtype=object)
            col[rows] = _number_text(numbers.values[sel], decimal)
            cells[f] = col
            imputed = np.empty(sheet.n_rows, dtype=object)
            imputed[:] = "false"
            imputed[rows] = "true"
            low = np.full(sheet.n_rows, None, dtype=object)
            high = np.full(sheet.n_rows, None, dtype=object)
            low[rows] = _number_text(numbers.low[sel])
            high[rows] = _number_text(numbers.high[sel])
            name = sheet.columns[f]
            columns += [name + "_imputed", name + "_low", name + "_high"]
            cells += [imputed, low, high]
    return columns, cells


def take_number_marks(columns: list[str], cells: list) -> tuple[list[str], list]:
    """A table written with ``--fill all`` made ready to fill again.

    For each column X with ``X_imputed``, ``X_low`` and ``X_high`` (each
    once), those three are taken out and the cells of X they mark as filled
    are blank again, so a second fill replaces them rather than treating
    them as typed.  Other tables are returned as they are.

    Parameters
    ----------
    columns : list of str
    cells : list of columns (object arrays or Arrow string arrays)
    """
    from .fileio import object_cells

    drop: set[int] = set()
    cells = list(cells)
    for j, name in enumerate(columns):
        parts = [f"{name}{suffix}" for suffix in ("_imputed", "_low", "_high")]
        if not name or not all(columns.count(p) == 1 for p in parts):
            continue
        at = [columns.index(p) for p in parts]
        flags = object_cells(cells[at[0]])
        filled = np.array([isinstance(v, str) and v.strip().lower() == "true" for v in flags], dtype=bool)
        if filled.any():
            col = np.array(object_cells(cells[j]), dtype=object)
            col[filled] = None
            cells[j] = col
        drop.update(at)
    if not drop:
        return columns, cells
    keep = [j for j in range(len(columns)) if j not in drop]
    return [columns[j] for j in keep], [cells[j] for j in keep]


def draws_table(sheet: Sheet, job: FillJob, m: int, seed: int = 0) -> tuple[list[str], list[np.ndarray]]:
    """The window's File ▸ Export Multiple Imputations: ``m`` copies of the filled sheet, stacked.

    ``job`` is the finished fill whose plan the sheet holds (the sheet must
    not have changed since).  See :func:`export_draws` for the table.
    """
    columns, cells = export_table(sheet)
    cells = [np.asarray(c, dtype=object) if isinstance(c, np.ndarray) else np.array(c.to_pylist(), dtype=object)
             for c in cells]
    label = sheet.roles.label
    return export_draws(
        columns, cells, keep=list(range(sheet.n_cols)), label_at=label,
        feature_at=list(sheet.roles.features), label_name=sheet.columns[label],
        feature_names=[sheet.columns[f] for f in sheet.roles.features],
        draws=job.draws(m, seed=seed),
    )


def export_draws(
    columns: list[str],
    cells: list[np.ndarray],
    keep: list[int],
    label_at: int,
    feature_at: list[int],
    label_name: str,
    feature_names: list[str],
    draws: list[Draw],
    decimal: str = ".",
) -> tuple[list[str], list[np.ndarray]]:
    """The multiple imputations stacked in one long table (mice's long format).

    Parameters
    ----------
    columns, cells : the output table of the fill (cells as object arrays)
    keep : the output columns each copy holds (the input's, and an added class column)
    label_at : output column of the label; feature_at : of each feature
    label_name, feature_names : for the ``_imputed`` flags
    draws : the imputations

    Returns
    -------
    columns, cells
        ``imputation`` (1..M) first, then the kept columns with every blank
        label and (drawn) number filled by that copy's draw, typed cells as
        typed, then ``<label>_imputed`` and ``<feature>_imputed`` per
        feature with drawn cells.
    """
    n = len(cells[0]) if cells else 0
    drawn_features = sorted({int(f) for d in draws for f in np.unique(d.number_features)})
    out_cols = ["imputation", *(columns[j] for j in keep), label_name + "_imputed"]
    out_cols += [feature_names[f] + "_imputed" for f in drawn_features]
    parts: list[list[np.ndarray]] = [[] for _ in out_cols]
    for m, d in enumerate(draws, start=1):
        imp = np.empty(n, dtype=object)
        imp[:] = str(m)
        parts[0].append(imp)
        copy = {j: cells[j] for j in keep}
        label = np.array(cells[label_at], dtype=object)
        label[d.label_rows] = d.label_texts
        copy[label_at] = label
        for f in drawn_features:
            sel = d.number_features == f
            col = np.array(cells[feature_at[f]], dtype=object)
            col[d.number_rows[sel]] = _number_text(d.number_values[sel], decimal)
            copy[feature_at[f]] = col
        for i, j in enumerate(keep, start=1):
            parts[i].append(copy[j])
        flag = np.empty(n, dtype=object)
        flag[:] = "false"
        flag[d.label_rows[d.label_texts != None]] = "true"  # noqa: E711 (elementwise)
        parts[len(keep) + 1].append(flag)
        for i, f in enumerate(drawn_features):
            flag = np.empty(n, dtype=object)
            flag[:] = "false"
            flag[d.number_rows[d.number_features == f]] = "true"
            parts[len(keep) + 2 + i].append(flag)
    return out_cols, [np.concatenate(p) if p else np.zeros(0, dtype=object) for p in parts]


def numbers_of(sheet: Sheet) -> NumberFill | None:
    """The filled numbers the sheet holds (written by :func:`apply_plan`), or None."""
    rows, feats, values, low, high, guess, conf = [], [], [], [], [], [], []
    features = list(sheet.roles.features)
    # Only the rows holding a filled number (none, for a fill of labels: a
    # million rows need no Python pass then).
    held = np.zeros(sheet.n_rows, dtype=bool)
    for c in features:
        held |= sheet.number_filled(c)
    for r in np.flatnonzero(held).tolist():
        for i, c in enumerate(features):
            mark = sheet.number_mark(r, c)
            if mark is not None:
                rows.append(r)
                feats.append(i)
                values.append(float(sheet.values(c)[r]))
                low.append(mark[0])
                high.append(mark[1])
                guess.append(mark[2])
                conf.append(mark[3])
    if not rows:
        return None
    return NumberFill(np.array(rows, dtype=np.int64), np.array(feats, dtype=np.int64), np.array(values),
                      np.array(low), np.array(high), np.array(guess, dtype=np.int16), np.array(conf))


def export_styles(sheet: Sheet, numbers: NumberFill | None = None) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Shading and a probability comment for each filled label cell, for an XLSX export.

    With ``numbers``, each filled number cell too: shaded like its row's
    most likely class, its comment giving the 95 % predictive interval.

    Returns ``(fill_colors, comments)`` as :func:`emgui.core.fileio.write_table`
    takes them: per column index, ``(n_rows,)`` object arrays of ``"#RRGGBB"``
    or text, None where a cell is not filled.  Empty dicts without a label.
    """
    from .colors import UNLABELLED_HEX, shade_hexes

    label = sheet.roles.label
    if label is None:
        return {}, {}
    rows = np.flatnonzero(sheet.provenance == FILLED)
    colors = np.full(sheet.n_rows, None, dtype=object)
    notes = np.full(sheet.n_rows, None, dtype=object)
    k = max(len(sheet.fill_classes), 2)
    names = [str(sheet.fill_spellings.get(c, c)) for c in sheet.fill_classes]
    post = sheet.probabilities(rows)
    if len(rows):
        # A column at a time: "Filled by EM: 96.1% sure (F 96.1%, M 3.9%)".
        conf = sheet.confidence[rows].astype(np.float64)
        colors[rows] = shade_hexes(sheet.guess[rows], conf, k)
        text = "Filled by EM: " + _percent(conf) + " sure"
        if post.shape[1] == len(names) and len(names):
            probs = [name + " " + _percent(post[:, c]) for c, name in enumerate(names)]
            joined = probs[0]
            for p in probs[1:]:
                joined = joined + ", " + p
            text = text + " (" + joined + ")"
        notes[rows] = text
    # Blanks left blank keep their reason (and best guess) as a comment, in grey.
    unsure = np.flatnonzero(sheet.provenance == UNCERTAIN)
    if len(unsure):
        why = sheet.note_column(unsure)
        for i, r in enumerate(unsure):
            colors[r] = UNLABELLED_HEX
            if why is not None and why[i] is not None:
                notes[r] = f"Left blank: {why[i]}"
    fill_colors, comments = {label: colors}, {label: notes}
    _number_styles(sheet, numbers_of(sheet) if numbers is None else numbers, fill_colors, comments)
    return fill_colors, comments


def _percent(p: np.ndarray) -> np.ndarray:
    """``f"{p:.1%}"`` of each number, as an object array of str (Python's % format is
    ``p * 100`` in fixed notation, which ``%`` formatting gives alike)."""
    return np.char.mod("%.1f%%", np.asarray(p, dtype=np.float64) * 100).astype(object)


def _number_styles(sheet: Sheet, numbers: NumberFill | None, fill_colors: dict, comments: dict) -> None:
    from .colors import shade_hex

    if numbers is None or not len(numbers):
        return
    k = max(len(sheet.fill_classes), 2)
    for i, f in enumerate(sheet.roles.features):
        sel = np.flatnonzero(numbers.features == i)
        if not len(sel):
            continue
        colors = np.full(sheet.n_rows, None, dtype=object)
        notes = np.full(sheet.n_rows, None, dtype=object)
        lows, highs = _number_text(numbers.low[sel]), _number_text(numbers.high[sel])
        for j, lo, hi in zip(sel, lows, highs, strict=True):
            r = int(numbers.rows[j])
            if numbers.guess[j] >= 0:  # no class for marks read back from a saved file
                colors[r] = shade_hex(int(numbers.guess[j]), float(numbers.confidence[j]), k)
            notes[r] = f"Filled by EM: the conditional mean; 95 % between {lo} and {hi}"
        fill_colors[f], comments[f] = colors, notes


def missing_patterns(sheet: Sheet) -> list[dict]:
    """Which of the label and feature columns are blank together, and in how many rows.

    A label cell counts as blank when it was blank before the fill (it is
    filled, or left blank, now); a feature cell when it holds no value
    (unreadable text is not blank: see ``<feature>_issue``).  Most rows first.

    Returns
    -------
    list of dict
        ``{"blank": [column names], "rows": count}``, the pattern with no
        blank cell included.
    """
    cols, masks = [], []
    if sheet.roles.label is not None:
        cols.append(sheet.columns[sheet.roles.label])
        masks.append(sheet.label_missing() | (sheet.provenance != USER))
    for f in sheet.roles.features:
        cols.append(sheet.columns[f])
        masks.append(np.isnan(sheet.values(f)) & ~sheet.unreadable(f))
    if not cols or sheet.n_rows == 0:
        return []
    if len(masks) <= 62:
        # Each row's pattern as the bits of one integer: counting them takes
        # ~10 ms at a million rows, where np.unique(..., axis=0) of the
        # stacked masks takes ~1.5 s (the window's report runs this).
        code = np.zeros(sheet.n_rows, dtype=np.int64)
        for j, mask in enumerate(masks):
            code |= mask.astype(np.int64) << j
        if len(masks) <= 16:
            counts_all = np.bincount(code, minlength=1)
            codes = np.flatnonzero(counts_all)
            counts = counts_all[codes]
        else:
            codes, counts = np.unique(code, return_counts=True)
        found = (codes[:, None] >> np.arange(len(masks))) & 1 == 1
    else:
        found, counts = np.unique(np.column_stack(masks), axis=0, return_counts=True)
    order = sorted(range(len(found)), key=lambda i: (-int(counts[i]), found[i].tolist()))
    return [
        {"blank": [c for c, b in zip(cols, found[i], strict=True) if b], "rows": int(counts[i])}
        for i in order
    ]


def mcar_test(fit_input: FitInput) -> dict | None:
    """Little's MCAR test over the features (:func:`emgui.core.trust.little_mcar`); None without blanks."""
    from . import trust

    if fit_input.X.shape[1] < 1 or np.isfinite(fit_input.X).all():
        return None
    return trust.little_mcar(fit_input.X)


def report_dict(fit_input: FitInput, report: FillReport, plan: FillPlan, label: str,
                sheet: Sheet | None = None) -> dict:
    """The ``--report`` JSON: the fitted model in the features' units, the fill counts,
    the model choice and the self-check (DESIGN.md)."""
    result = report.result
    return {
        "label": label,
        "features": fit_input.feature_names,
        "classes": list(report.names),
        "weights": np.asarray(result.weights).tolist(),
        "means": np.asarray(result.means).tolist(),
        "covariances": np.asarray(result.covariances).tolist(),
        "log_likelihood": float(result.log_likelihood),
        "n_iter": int(result.n_iter),
        "converged": bool(result.converged),
        "n_rows_fitted": int(len(fit_input.rows) - report.n_unusual) if report.n_fitted is None
        else report.n_fitted,
        "n_unusual": int(report.n_unusual),
        "n_filled": plan.n_filled,
        "n_uncertain": plan.n_uncertain,
        "check": None if report.check is None else report.check.as_dict(),
        "model": report.model_dict(),
        "n_numbers_filled": 0 if plan.numbers is None else len(plan.numbers),
        "mcar_test": mcar_test(fit_input),
        "missing_patterns": [] if sheet is None else missing_patterns(sheet),
    }
