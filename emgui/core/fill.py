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

import numpy as np

from . import binning, mixture, parsing, trust
from .sheet import FILLED, UNCERTAIN, USER, FillNotes, Sheet

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
    # Labels typed only on rows without a usable feature value (as spelt): no group.
    absent: tuple[str, ...] = ()
    heights: tuple[int, ...] = ()  # positions of the features that hold heights

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
    # Feature cells unusual under the fit: (sheet row, feature position, reason).
    unusual: tuple[tuple[int, int, str], ...] = ()
    # Per class: True for a group no typed label names (never written).
    unnamed: tuple[bool, ...] = ()

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
    heights: tuple[int, ...] = ()  # positions of the features that hold heights


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
        heights=tuple(i for i, f in enumerate(roles.features) if roles.units.get(f)),
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

    # A class typed only where no feature can be read is no group: it would
    # become a free component and be written on rows nobody typed so.
    absent: list[str] = []
    if classes:
        present = np.zeros(len(classes) + 1, dtype=bool)
        present[codes_all[rows] + 1] = True
        # A label given by a formula is typed (never filled over) but names no class.
        formulas = [j for j, c in enumerate(classes) if c.startswith("=")]
        present[[j + 1 for j in formulas]] = False
        if not present[1:].all():
            remap = np.full(len(classes) + 1, -1, dtype=np.int64)
            kept = [j for j in range(len(classes)) if present[j + 1]]
            remap[[j + 1 for j in kept]] = np.arange(len(kept))
            for j in range(len(classes)):
                if not present[j + 1] and j not in formulas:
                    absent.append(spellings.get(classes[j], classes[j]))
            codes_all = remap[codes_all + 1]
            spellings = {classes[j]: spellings[classes[j]] for j in kept if classes[j] in spellings}
            classes = [classes[j] for j in kept]

    unlabelled = not classes
    if unlabelled:
        k = 2 if n_components is None else n_components
        classes = [str(i + 1) for i in range(k)]
        spellings = {c: c for c in classes}

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
        absent=tuple(absent),
        heights=tuple(source.heights),
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


def apply_plan(sheet: Sheet, plan: FillPlan, notes: FillNotes | None = None) -> None:
    """Write a fill plan into the sheet (adds a ``class`` column if it has no label)."""
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


#: Held-out log-loss (nats per typed label) by which the typed rows alone must beat the full fit to replace it.
TYPED_ONLY_MARGIN = 0.02


def _typed_only_result(alone: mixture.MixtureResult, X: np.ndarray) -> mixture.MixtureResult:
    """A fit of the typed rows alone, with posteriors for every row of ``X`` (the blank ones included)."""
    params = (alone.weights, alone.means, alone.covariances)

    def posteriors_of(rows):
        rows = np.arange(len(X)) if rows is None else rows
        return mixture.predict_proba(X[rows], *params)

    return dataclasses.replace(alone, _posteriors_of=posteriors_of, _made={})


#: How a group no typed label names is called in tooltips and reports (never written in a cell).
UNNAMED = "(unnamed group {})"
COVARIANCE_CHOICES = ("auto", *mixture.COVARIANCES)


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
        **em_kwargs,
    ) -> None:
        if covariance not in COVARIANCE_CHOICES:
            raise FillError(f"covariance must be one of {', '.join(COVARIANCE_CHOICES)}, not '{covariance}'")
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
        self.keep: np.ndarray | None = None  # (m,) bool over the fit input's rows
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
        Xs, ls = (X, labels) if sub is None else (X[sub], labels[sub])
        keep_s = np.ones(len(Xs), dtype=bool)
        for _ in range(3):
            chosen, candidates = trust.choose_model(
                Xs[keep_s], ls[keep_s], self.n_typed,
                groups=self.components, covariance=self.covariance, seed=self.seed,
            )
            found = self._find_unusual(Xs, chosen.result)
            if np.array_equal(~found.mask, keep_s):
                break
            keep_s = ~found.mask
        self.chosen, self.candidates = chosen, candidates
        self.unusual = self._find_unusual(X, chosen.result) if sub is not None else found
        self.keep = ~self.unusual.mask

    def _find_unusual(self, X: np.ndarray, result):
        fi = self.fit_input
        return trust.find_unusual(
            X, result, fi.feature_names, heights=frozenset(fi.heights), n_total=len(fi.X)
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
        return mixture.EMFit(
            X, labels, c.groups, covariance=c.covariance, seed=self.seed, init=init,
            n_init=1 if init is not None else 5, **self._em_kwargs,
        )

    def _kept(self) -> tuple[np.ndarray, np.ndarray]:
        fi = self.fit_input
        if self.keep is None or self.keep.all():
            return fi.X, fi.labels
        return fi.X[self.keep], fi.labels[self.keep]

    # -- step 3 ---------------------------------------------------------------------

    def finish(self, result: mixture.MixtureResult) -> tuple[FillPlan, FillReport]:
        """Unusual values under the final fit, the self-check, calibration and the plan."""
        fi = self.fit_input
        c = self.chosen
        found = self._find_unusual(fi.X, result)
        if not np.array_equal(~found.mask, self.keep):
            # The final fit sees a different set of unusual rows: fit once more without them.
            self.keep, self.unusual = ~found.mask, found
            X, labels = self._kept()
            result = trust.fit_model(
                X, labels, c.groups, c.covariance, seed=self.seed,
                init=(result.weights, result.means, result.covariances),
            )
        classes, names, unnamed = self._classes(result)
        n_named = len(classes) - sum(unnamed)
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
                    result = _typed_only_result(alone, X_all)
                    self.typed_only = True
                    check = trust.self_check(
                        X, labels, names[:n_named], n_named, c.covariance, result,
                        folds=self.folds, min_confidence=self.min_confidence, seed=self.seed,
                        typed_rows_only=True,
                    )
        temperature = check.temperature if check is not None and check.accuracy is not None else 1.0
        self.temperature = temperature
        plan = self._plan(result, classes, unnamed, temperature)
        report = FillReport(
            result=result, classes=classes, names=names, unnamed=unnamed,
            covariance=c.covariance, candidates=self.candidates, check=check,
            n_unusual=int(np.count_nonzero(~self.keep)),
            subsampled=None if self._sub is None else len(self._sub),
            typed_only=self.typed_only,
        )
        return plan, report

    def _classes(self, result) -> tuple[list[str], list[str], tuple[bool, ...]]:
        fi = self.fit_input
        k = len(result.weights)
        if fi.unlabelled:
            classes = [str(i + 1) for i in range(k)]
            return classes, list(classes), (False,) * k
        extra = k - self.n_typed
        classes = list(fi.classes) + [UNNAMED.format(i + 1) for i in range(extra)]
        names = [fi.spellings.get(c, c) for c in fi.classes] + classes[self.n_typed:]
        return classes, names, (False,) * self.n_typed + (True,) * extra

    def _plan(self, result, classes, unnamed, temperature) -> FillPlan:
        fi = self.fit_input
        keep = self.keep
        blank = fi.blank_rows
        kept_blank = blank[keep[blank]]
        position = np.cumsum(keep) - 1  # row of the fit input -> row of the kept rows
        post = result.posteriors_of(position[kept_blank])
        post = trust.temper(post, temperature)
        k = post.shape[1]
        guess = np.argmax(post, axis=1) if len(post) else np.zeros(0, dtype=np.int64)
        conf = np.take_along_axis(post, guess[:, None], axis=1)[:, 0] if len(post) else np.zeros(0)
        named = ~np.asarray(unnamed, dtype=bool)[guess] if len(guess) else np.zeros(0, dtype=bool)
        status = np.where(named & (conf >= self.min_confidence), FILLED, UNCERTAIN).astype(np.int8)
        # Rows with unusual values take no part: their blank label is not filled.
        off = blank[~keep[blank]]
        rows = np.concatenate([kept_blank, off])
        status = np.concatenate([status, np.full(len(off), UNCERTAIN, dtype=np.int8)])
        conf = np.concatenate([conf, np.full(len(off), np.nan)])
        guess = np.concatenate([guess, np.full(len(off), -1, dtype=guess.dtype)])
        if k > 2:
            post = np.concatenate([post, np.full((len(off), k), np.nan)])
        order = np.argsort(rows, kind="stable")
        unusual = tuple(
            (int(fi.rows[i]), int(f), reason)
            for i, items in sorted(self.unusual.reasons.items())
            for f, reason in items
        )
        return FillPlan(
            rows=fi.rows[rows[order]],
            status=status[order],
            confidence=conf[order],
            guess=guess[order].astype(np.int16),
            posteriors=post[order] if k > 2 else None,
            classes=classes,
            spellings={**fi.spellings, **{c: c for c in classes if c not in fi.spellings}},
            unusual=unusual,
            unnamed=tuple(unnamed),
        )

    def replan(self, result: mixture.MixtureResult, min_confidence: float) -> FillPlan:
        """The plan of a finished fill at another threshold (the window's threshold changed meanwhile)."""
        self.min_confidence = float(min_confidence)
        classes, _, unnamed = self._classes(result)
        return self._plan(result, classes, unnamed, self.temperature)

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
    **em_kwargs,
) -> tuple[FitInput, FillReport, FillPlan]:
    """Fit and fill in one call (the command line's path): see :class:`FillJob`."""
    fit_input = prepare_fit(sheet, n_components)
    job = FillJob(
        fit_input, components=n_components, covariance=covariance,
        min_confidence=min_confidence, seed=seed, check=check, **em_kwargs,
    )
    job.prepare()
    em = job.em()
    for _ in em:
        pass
    plan, report = job.finish(em.result())
    apply_plan(sheet, plan, job.notes(plan, report))
    return fit_input, report, plan


def export_table(sheet: Sheet) -> tuple[list[str], list[np.ndarray]]:
    """Columns and cells as the ``emgui-cli fill`` contract writes them.

    Every input column in order; feature cells that were read in another
    unit converted to the column's unit (unreadable ones keep their text);
    then ``<label>_imputed`` and ``<label>_confidence``; then a
    ``<feature>_issue`` column for each feature with unreadable cells.
    """
    columns, cells = sheet.to_table(marks=True)  # the issue columns included
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
    return columns, cells


def export_styles(sheet: Sheet) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Shading and a probability comment for each filled label cell, for an XLSX export.

    Returns ``(fill_colors, comments)`` as :func:`emgui.core.fileio.write_table`
    takes them: per column index, ``(n_rows,)`` object arrays of ``"#RRGGBB"``
    or text, None where a cell is not filled.  Empty dicts without a label.
    """
    from .colors import UNLABELLED_HEX, shade_hex

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
    # Blanks left blank keep their reason (and best guess) as a comment, in grey.
    unsure = np.flatnonzero(sheet.provenance == UNCERTAIN)
    if len(unsure):
        why = sheet.note_column(unsure)
        for i, r in enumerate(unsure):
            colors[r] = UNLABELLED_HEX
            if why is not None and why[i] is not None:
                notes[r] = f"Left blank: {why[i]}"
    return {label: colors}, {label: notes}


def report_dict(fit_input: FitInput, report: FillReport, plan: FillPlan, label: str) -> dict:
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
        "n_rows_fitted": int(len(fit_input.rows) - report.n_unusual),
        "n_unusual": int(report.n_unusual),
        "n_filled": plan.n_filled,
        "n_uncertain": plan.n_uncertain,
        "check": None if report.check is None else report.check.as_dict(),
        "model": report.model_dict(),
    }
