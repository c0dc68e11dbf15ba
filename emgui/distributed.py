"""``emgui-cli fill --engine dask``: the same fill, over partitions on a Dask cluster.

INPUT is a folder of Parquet parts or a glob of CSV/Parquet files; each part
is read and parsed on a worker by the same code as an in-memory fill (the
roles are resolved once, from the first part, and sent to every worker).
What stays on the workers between steps is small and parsed: each part's
readable feature rows (float64), their class codes, and an
:class:`~emgui.core.mixture.EMFit` over them that is never stepped -- its
``_sweep`` is the in-memory E-step, run on the part's own rows.

One EM iteration is a map and a reduce (as dask-ml's k-means, STYLE.md
point 16): the client sends the parameters to every part, each part returns
its sufficient statistics -- the log-likelihood of its unlabelled rows, the
sums of responsibilities Σr, weighted sums Σr·x and the scatter about the
weighted mean -- and the client merges them by the parallel-axis rule.  The
labelled rows' sums are reduced once.  The loop itself (M-step, reg_covar,
the generalised step that keeps the likelihood from falling, convergence) is
:class:`EMFit`'s own: :class:`_ClusterEM` only replaces where its sweep
comes from.

Model choice, the unusual-value screen and the self-check run on the client
on rows gathered from the parts -- the same rows an in-memory fill of the
same data picks with :func:`emgui.core.trust.subsample` -- and the
distributed EM starts from the chosen model's parameters, as the in-memory
fill does for large data.  So the parameters equal the in-memory fill's to
rounding (the tests ask 1e-6).

OUTPUT is a folder of parts, one per input part, in order (``part-00000``
...), Parquet, or CSV when OUTPUT ends in ``.csv``; each holds its input
part's rows with the contract's columns.  The parts are written into a
temporary folder beside OUTPUT, which becomes OUTPUT once all are written.

Imported only for ``--engine dask``: importing ``distributed`` costs about
a second.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import cli
from .core import _mixture_fast as _fast
from .core import fileio, mixture, parsing, trust
from .core.fill import (
    FillError,
    FillJob,
    FillPlan,
    FillReport,
    FitInput,
    apply_plan,
    export_table,
    posteriors_over,
    prepare_fit,
    report_dict,
)
from .core.sheet import USER, Sheet

__all__ = ["run_fill"]

_PART_EXTENSIONS = (".parquet", ".csv", ".tsv")


# --------------------------------------------------------------------------- the parts


def part_paths(spec: str) -> list[str]:
    """The input parts: a folder's Parquet files, or the files a glob names, sorted.

    Raises
    ------
    cli.UsageError
        Nothing matches, or a match is not a CSV/TSV/Parquet file.
    """
    if os.path.isdir(spec):
        paths = sorted(str(p) for p in Path(spec).iterdir() if p.suffix.lower() == ".parquet" and p.is_file())
        if not paths:
            raise cli.UsageError(f"folder '{cli._shown(spec)}' holds no .parquet parts")
        return paths
    paths = sorted(p for p in glob.glob(spec) if os.path.isfile(p))
    if not paths:
        raise cli.UsageError(f"'{cli._shown(spec)}' names no file (a folder of Parquet parts or a glob)")
    odd = [p for p in paths if os.path.splitext(p)[1].lower() not in _PART_EXTENSIONS]
    if odd:
        raise cli.UsageError(
            f"'{cli._shown(os.path.basename(odd[0]))}' is not a part: use .parquet, .csv or .tsv files"
        )
    return paths


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What every part is read with: the first part's columns and the roles resolved from it."""

    columns: list[str]
    used: list[int]
    in_sheet: list[int]
    roles: object  # Roles, in the numbering of ``used``
    label_roles: object  # Roles, in the input's numbering
    n_components: int | None


def _read(path: str, spec: _Spec):
    """A part read and parsed as an in-memory fill reads a file: (table, sheet, fit input or None)."""
    table = fileio.read_table(path, arrow=True)
    if list(table.columns) != spec.columns:
        raise fileio.FileFormatError(
            f"'{cli._shown(os.path.basename(path))}' has other columns than the first part"
        )
    sheet = Sheet.from_table(
        [spec.columns[j] for j in spec.used],
        [fileio.object_cells(table.cells[j]) for j in spec.used],
        spec.roles,
    )
    try:
        fi = prepare_fit(sheet, spec.n_components)
    except FillError:
        fi = None  # no row of this part has a readable value in every feature
    return table, sheet, fi


class _Part:
    """A part's parsed rows, kept on a worker between the steps.

    A step never changes a part: it returns a new one (Dask may have copied
    a part to a second worker, and a change to one copy would not reach the
    other).  Only the E-step's engine is built lazily, on the copy that
    sweeps (a cache: every copy builds the same).

    Attributes
    ----------
    X : ndarray, (m, D)
        Rows whose features are all readable, in file order.
    labels : ndarray, (m,)
        Class codes (the local ones until :func:`_globalise`), -1 for a blank.
    keep : ndarray, (m,) bool
        Rows that take part in the fit (not unusual).
    fit : EMFit or None
        Over the kept rows; only its E-step is used.
    """

    def __init__(self, X: np.ndarray, labels: np.ndarray, summary: dict) -> None:
        self.X = X
        self.labels = labels
        self.keep = np.ones(len(X), dtype=bool)
        self.reasons: dict = {}
        self.fit: mixture.EMFit | None = None  # built by _build_engine
        self.sweeper: _fast.Precise | None = None
        self.summary = summary
        self.sweep_args: tuple | None = None  # (k, shift, typed_only): see _for_em

    def __getstate__(self) -> dict:
        # Dask may move a part to another worker: its E-step (which holds a
        # lock) is built again there from the rows, on first use.
        state = dict(self.__dict__)
        state["fit"] = state["sweeper"] = None
        return state


def _parse(path: str, spec: _Spec) -> _Part:
    """Task: read one part; its rows, local codes and what the client needs to merge classes."""
    table, sheet, fi = _read(path, spec)
    dim = len(spec.roles.features)
    summary = {"n_rows": table.n_rows, "classes": [], "tally": {}, "absent": []}
    if fi is None:
        return _Part(np.zeros((0, dim)), np.zeros(0, dtype=np.int64), summary)
    if not fi.unlabelled:
        summary["classes"] = list(fi.classes)
        summary["absent"] = list(fi.absent)
        # Each class's spellings with their counts and first row: the
        # client picks the most used over all parts (ties: the first seen).
        summary["tally"] = _tally(sheet)
    return _Part(np.array(fi.X), np.array(fi.labels, dtype=np.int64), summary)


def _tally(sheet: Sheet) -> dict:
    """{(class key, spelling): [count, first row]} of the typed label cells (one pass per distinct text)."""
    from .core import _arrowtext as at

    cells = sheet.column_cells(sheet.roles.label)
    typed = np.flatnonzero((sheet.provenance == USER) & ~sheet.label_missing())
    tally: dict = {}
    if not len(typed):
        return tally
    encoded = at.from_cells(cells[typed]).dictionary_encode()
    codes = at.to_numbers(encoded.indices, f"int{encoded.indices.type.bit_width}")
    uniques, first, counts = np.unique(codes, return_index=True, return_counts=True)
    words = at.to_cells(encoded.dictionary)
    for u, f, c in zip(uniques, first, counts, strict=True):
        text = words[u]
        key = parsing.label_key(text)
        if key is None:
            continue
        entry = tally.setdefault((key, text.strip()), [0, int(typed[f])])
        entry[0] += int(c)
        entry[1] = min(entry[1], int(typed[f]))
    return tally


def _summary(part: _Part) -> dict:
    return {**part.summary, "n_fit": len(part.X)}


def _changed(part: _Part, **fields) -> _Part:
    """A new part: ``part`` with ``fields`` replaced (arrays shared, never written)."""
    new = object.__new__(_Part)
    new.__dict__.update(part.__getstate__(), **fields)
    return new


def _globalise(part: _Part, codes: np.ndarray) -> _Part:
    """Task: local class codes -> the global ones (``codes[local]``; -1 stays -1)."""
    if not len(part.labels):
        return part
    return _changed(part, labels=np.append(codes, -1)[part.labels])


def _rows(part: _Part, idx: np.ndarray, kept: bool) -> tuple[np.ndarray, np.ndarray]:
    """Task: rows ``idx`` of the part (of its kept rows when ``kept``)."""
    X, labels = (part.X[part.keep], part.labels[part.keep]) if kept else (part.X, part.labels)
    return X[idx], labels[idx]


class _Params:
    """The fields of a MixtureResult that :func:`trust.find_unusual` reads."""

    def __init__(self, weights, means, covariances) -> None:
        self.weights, self.means, self.covariances = weights, means, covariances


def _screen(part: _Part, params: tuple, names: list[str], heights: frozenset, n_total: int) -> _Part:
    """Task: the part with its unusual rows under ``params`` marked (the bound is for ``n_total`` rows)."""
    if not len(part.X):
        return part
    found = trust.find_unusual(part.X, _Params(*params), names, heights=heights, n_total=n_total)
    return _changed(part, keep=~found.mask, reasons=found.reasons)


def _n_kept(part: _Part) -> int:
    return int(np.count_nonzero(part.keep))


def _fit_rows(part: _Part, typed_only: bool) -> tuple[np.ndarray, np.ndarray]:
    X, labels = part.X[part.keep], part.labels[part.keep]
    if typed_only:
        X, labels = X[labels >= 0], labels[labels >= 0]
    return X, labels


def _sums(part: _Part, typed_only: bool) -> tuple[np.ndarray, int]:
    """Task: Σx and the count of the rows the EM will use."""
    X, _ = _fit_rows(part, typed_only)
    return X.sum(axis=0), len(X)


def _for_em(part: _Part, k: int, shift: np.ndarray, typed_only: bool) -> _Part:
    """Task: the part ready to sweep (its engine is built on first use)."""
    return _changed(part, sweep_args=(k, shift, typed_only), fit=None, sweeper=None)


def _labelled(part: _Part) -> dict:
    """Task: each class's count, Σ(x - shift) and scatter about its mean, over the labelled rows."""
    k, shift, typed_only = part.sweep_args
    X, labels = _fit_rows(part, typed_only)
    dim = X.shape[1]
    n_lab = np.zeros(k)
    s1_lab = np.zeros((k, dim))
    scatter_lab = np.zeros((k, dim, dim))
    for j in range(k):
        rows = X[labels == j] - shift
        if len(rows):
            n_lab[j] = len(rows)
            s1_lab[j] = rows.sum(axis=0)
            diff = rows - rows.mean(axis=0)
            scatter_lab[j] = diff.T @ diff
    return {"n_lab": n_lab, "s1_lab": s1_lab, "scatter_lab": scatter_lab}


def _build_engine(part: _Part) -> None:
    """The E-step over the part's unlabelled fit rows, built once per copy of the part.

    An :class:`EMFit` of those rows: its ``sweep_about`` is the in-memory E-step
    (engine choice included).  A part with fewer distinct rows than classes
    cannot have one; its few rows go through the Precise engine.
    """
    k, shift, typed_only = part.sweep_args
    X, labels = _fit_rows(part, typed_only)
    unl = X[labels < 0]
    if len(unl):
        try:
            part.fit = mixture.EMFit(unl, None, k, n_init=1, init=_flat_start(unl, k))
        except mixture.MixtureError:
            part.sweeper = _fast.Precise(np.ascontiguousarray(unl - shift), k)


def _flat_start(x: np.ndarray, k: int) -> tuple:
    """Any valid parameters for an EMFit that is only swept (never stepped from them)."""
    d = x.shape[1]
    return np.full(k, 1.0 / k), np.zeros((k, d)), np.broadcast_to(np.eye(d), (k, d, d))


def _sweep(part: _Part, g: _fast.Gaussians) -> _fast.Sweep | None:
    """Task: one E-step over the part's unlabelled rows, ``g`` centred by the global shift.

    Returns the sweep (first moments about the global shift, scatter about
    each weighted mean), or None without unlabelled rows.
    """
    if part.fit is None and part.sweeper is None:
        _build_engine(part)
    if part.fit is not None:
        return part.fit.sweep_about(g, part.sweep_args[1])  # the part's EMFit has a shift of its own
    if part.sweeper is not None:
        return part.sweeper.sweep(g)
    return None


def _merge(sweeps: list) -> _fast.Sweep | None:
    """The parts' sweeps merged (:func:`_fast.merge`: the parallel-axis rule); None without any."""
    sweeps = [s for s in sweeps if s is not None]
    return functools.reduce(_fast.merge, sweeps) if sweeps else None


class _ClusterEM(mixture.EMFit):
    """:class:`EMFit` whose E-step is a map over the parts and a reduce.

    Built on rows gathered to the client (for its checks and settings); then
    its labelled sums, shift and start are replaced by those of all the
    parts' kept rows, and :meth:`_sweep` asks the parts.
    """

    def __init__(self, client, parts, X, labels, k, covariance, init, em_kwargs) -> None:
        super().__init__(X, labels, k, covariance=covariance, init=init, n_init=1, **em_kwargs)
        self._client, self._parts = client, parts

    def use_parts(self, stats: list[dict], shift: np.ndarray, init: tuple) -> None:
        n_lab = np.sum([s["n_lab"] for s in stats], axis=0)
        s1 = np.sum([s["s1_lab"] for s in stats], axis=0)
        mean = s1 / np.where(n_lab > 0, n_lab, 1.0)[:, None]
        scatter = np.zeros_like(stats[0]["scatter_lab"])
        for s in stats:
            pm = s["s1_lab"] / np.where(s["n_lab"] > 0, s["n_lab"], 1.0)[:, None]
            d = pm - mean
            scatter += s["scatter_lab"] + np.einsum("k,ki,kj->kij", s["n_lab"], d, d)
        self._n_lab, self._mean_lab, self._scatter_lab = n_lab, mean, scatter
        self._has_labels = bool((n_lab > 0).any())
        self._shift = shift
        w, mu, cov = (np.asarray(a, dtype=np.float64) for a in init)
        self._init = self._init._replace(weights=w / w.sum(), means=mu - shift, covariances=cov.copy())

    def _sweep(self, g: _fast.Gaussians) -> _fast.Sweep:
        futures = self._client.map(_sweep, self._parts, g=g, pure=False)
        merged = _merge(self._client.gather(futures))
        return _fast.empty_sweep(self.n_components, self._dim) if merged is None else merged


# --------------------------------------------------------------------------- the driver


class _Cluster:
    """The parts on the cluster and the steps that run over them."""

    def __init__(self, client, paths: list[str], spec: _Spec) -> None:
        self.client = client
        self.paths = paths
        self.spec = spec
        parts = client.map(_parse, paths, spec=spec, pure=False)
        summaries = client.gather(client.map(_summary, parts, pure=False))
        self.n_rows = [s["n_rows"] for s in summaries]
        self.n_fit = np.array([s["n_fit"] for s in summaries], dtype=np.int64)
        self.classes, self.spellings, self.absent = self._merge_classes(summaries)
        keys = {c: i for i, c in enumerate(self.classes)}
        self.parts = [
            client.submit(_globalise, p, np.array([keys[c] for c in s["classes"]], dtype=np.int64), pure=False)
            for p, s in zip(parts, summaries, strict=True)
        ]
        self.n_kept = self.n_fit.copy()

    @staticmethod
    def _merge_classes(summaries: list[dict]) -> tuple[list[str], dict, dict]:
        """The classes over all parts (in encode_labels' order), their spellings, the absent ones."""
        keys = {c for s in summaries for c in s["classes"]}
        # encode_labels orders class keys; a list of one key each gives that order.
        _, classes, _ = parsing.encode_labels_and_spellings(np.array(sorted(keys), dtype=object))
        best: dict = {}
        for part, s in enumerate(summaries):
            for (key, spelt), (count, first) in s["tally"].items():
                best.setdefault(key, {}).setdefault(spelt, [0, (part, first)])
                best[key][spelt][0] += count
        spellings = {c: c for c in classes}
        for key, options in best.items():
            if key in spellings:
                spellings[key] = min(options.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]
        absent = sorted({a for s in summaries for a in s["absent"]} - {spellings[c] for c in classes})
        return classes, spellings, absent

    def gather_rows(self, idx: np.ndarray, kept: bool) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the concatenated parts (their kept rows when ``kept``) by global index."""
        counts = self.n_kept if kept else self.n_fit
        bounds = np.concatenate([[0], np.cumsum(counts)])
        futures = []
        for i, part in enumerate(self.parts):
            lo, hi = np.searchsorted(idx, [bounds[i], bounds[i + 1]])
            if hi > lo:
                futures.append(self.client.submit(_rows, part, idx[lo:hi] - bounds[i], kept, pure=False))
        pieces = self.client.gather(futures)
        dim = len(self.spec.roles.features)
        if not pieces:
            return np.zeros((0, dim)), np.zeros(0, dtype=np.int64)
        return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])

    def screen(self, params: tuple, names: list[str], heights: frozenset) -> None:
        n_total = int(self.n_fit.sum())
        self.parts = self.client.map(_screen, self.parts, params=params, names=names, heights=heights,
                                     n_total=n_total, pure=False)
        self.n_kept = np.array(self.client.gather(self.client.map(_n_kept, self.parts, pure=False)),
                               dtype=np.int64)

    def em(self, k: int, covariance: str, init: tuple, *, seed: int, typed_only: bool = False,
           em_kwargs: dict) -> mixture.MixtureResult:
        """The distributed EM over the kept rows, started from ``init``."""
        sub = trust.subsample(int(self.n_kept.sum()), seed=seed)
        idx = np.arange(int(self.n_kept.sum())) if sub is None else sub
        Xs, ls = self.gather_rows(idx, kept=True)
        if typed_only:
            Xs, ls = Xs[ls >= 0], ls[ls >= 0]
        # The shift first (the mean of the rows fitted), then every part's sums about it.
        sums = self.client.gather(self.client.map(_sums, self.parts, typed_only=typed_only, pure=False))
        shift = np.sum([s[0] for s in sums], axis=0) / max(sum(s[1] for s in sums), 1)
        ready = self.client.map(_for_em, self.parts, k=k, shift=shift, typed_only=typed_only, pure=False)
        stats = self.client.gather(self.client.map(_labelled, ready, pure=False))
        em = _ClusterEM(self.client, ready, Xs, ls, k, covariance, init, em_kwargs)
        em.use_parts(stats, shift, init)
        for _ in em:
            pass
        return em.result()


def run_fill(args) -> int:
    """``emgui-cli fill --engine dask``; raises cli.UsageError on bad input."""
    paths = part_paths(args.input)
    out = Path(args.output)
    fmt = ".csv" if out.suffix.lower() == ".csv" else ".parquet"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise cli.UsageError(f"OUTPUT '{cli._shown(str(out))}' exists: name a new folder for the parts")
    if not out.resolve().parent.is_dir():
        raise cli.UsageError(f"cannot write OUTPUT '{cli._shown(out.name)}': its folder does not exist")
    if args.components is not None and args.components < 1:
        raise cli.UsageError("--components must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise cli.UsageError("--min-confidence must be between 0 and 1")
    spec = _spec(args, paths[0])

    from dask.distributed import Client, LocalCluster

    if args.workers is not None and args.workers < 1:
        raise cli.UsageError("--workers must be at least 1")
    if args.scheduler:
        if args.workers is not None:
            raise cli.UsageError("--workers is for the local cluster; an existing cluster has its own")
        client = Client(args.scheduler)
        cluster = None
    else:
        # One thread per worker: the E-step is numpy on one core, and
        # processes sidestep the GIL held by the parsing.
        import dask

        # Each part's rows stay where they were parsed: stealing a task
        # would move the part to the thief.
        dask.config.set({"distributed.scheduler.work-stealing": False})
        cluster = LocalCluster(n_workers=args.workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        return _fill(client, args, paths, spec, out, fmt)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _spec(args, first: str) -> _Spec:
    try:
        table = fileio.read_table(first, arrow=True)
    except fileio.FileFormatError as exc:
        raise cli.UsageError(str(exc)) from exc
    columns = list(table.columns)
    if not columns:
        raise cli.UsageError(f"'{cli._shown(os.path.basename(first))}' has no columns")
    # Detected on the first part: its rows bound how many measurements are taken.
    notes: list[str] = []
    roles = cli._resolve_roles(
        args, columns, cli._role_cells(columns, table.cells), n_rows=len(table.cells[0]), notes=notes
    )
    for line in notes:
        print(f"emgui-cli: warning: {line}", file=sys.stderr)
    used = cli._fill_columns(columns, roles)
    return _Spec(columns, used, cli._sheet_columns(columns, used, roles),
                 cli._subset_roles(roles, used), roles, args.components)


def _fill(client, args, paths, spec, out, fmt) -> int:
    seed = args.seed
    clock = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:  # where the time goes, for the report
        now = time.perf_counter()
        seconds[name] = round(now - clock[0], 2)
        clock[0] = now

    cl = _Cluster(client, paths, spec)
    lap("read_parse")
    names = [spec.columns[f] for f in spec.label_roles.features]
    heights = frozenset(i for i, f in enumerate(spec.label_roles.features) if spec.label_roles.units.get(f))
    n = int(cl.n_fit.sum())
    if n == 0:
        raise cli.UsageError("no row has a readable value in every feature column; nothing to fit")
    unlabelled = not cl.classes
    classes = cl.classes or [str(i + 1) for i in range(args.components or 2)]
    spellings = cl.spellings if not unlabelled else {c: c for c in classes}
    # The rows an in-memory fill of the same data chooses its model on.
    sub = trust.subsample(n, trust.CHOICE_ROWS, seed=seed)
    Xs, ls = cl.gather_rows(np.arange(n) if sub is None else sub, kept=False)
    sample = FitInput(
        X=Xs, labels=ls.astype(np.int8 if len(classes) < 127 else np.int32),
        rows=np.arange(len(Xs)), blank_rows=np.flatnonzero(ls < 0), classes=list(classes),
        spellings=dict(spellings), n_components=len(classes), feature_names=names, version=0,
        unlabelled=unlabelled, absent=tuple(cl.absent), heights=tuple(heights),
    )
    try:
        job = FillJob(sample, components=args.components, covariance=args.covariance,
                      min_confidence=args.min_confidence, seed=seed)
        chosen, candidates = _choose(job, Xs, ls, n)
        lap("model_choice")
        cl.screen((chosen.result.weights, chosen.result.means, chosen.result.covariances), names, heights)
        em_kwargs: dict = {}
        init = (chosen.result.weights, chosen.result.means, chosen.result.covariances)
        if sub is None and int(cl.n_kept.sum()) == n:
            # Every row was gathered and none is unusual: FillJob.em() fits
            # this candidate again on these rows with the same starts, so its
            # result is the candidate's own.
            result = chosen.result
        else:
            result = cl.em(chosen.groups, chosen.covariance, init, seed=seed, em_kwargs=em_kwargs)
        kept_before = cl.n_kept.copy()
        cl.screen((result.weights, result.means, result.covariances), names, heights)
        if not np.array_equal(kept_before, cl.n_kept):
            # As FillJob.finish: the final fit sees other unusual rows; fit once more without them.
            result = cl.em(chosen.groups, chosen.covariance,
                           (result.weights, result.means, result.covariances), seed=seed, em_kwargs=em_kwargs)
        job.chosen, job.candidates = chosen, candidates
        lap("em")
        check, result, typed_only = _check(job, cl, result, seed)
        lap("self_check")
    except (FillError, mixture.MixtureError) as exc:
        raise cli.UsageError(str(exc)) from exc
    classes_out, names_out, unnamed = job.classes_of(result)
    temperature = check.temperature if check is not None and check.accuracy is not None else 1.0
    n_unusual = int(cl.n_fit.sum() - cl.n_kept.sum())
    report = FillReport(
        result=result, classes=classes_out, names=names_out, unnamed=unnamed,
        covariance=chosen.covariance, candidates=candidates, check=check, n_unusual=n_unusual,
        subsampled=None if sub is None else len(sub), typed_only=typed_only,
    )
    slim = dataclasses.replace(report, result=_without_rows(result), candidates=[], check=None)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    try:
        info = dict(classes=classes, spellings=spellings, unlabelled=unlabelled, report=slim,
                    temperature=temperature, min_confidence=args.min_confidence, absent=cl.absent)
        futures = [
            client.submit(_write, path, str(tmp / f"part-{i:05d}{fmt}"), spec, part, info, pure=False)
            for i, (path, part) in enumerate(zip(paths, cl.parts, strict=True))
        ]
        counts = client.gather(futures)
        # A note or issue column some parts have and others not: those are written again with it.
        added = _union([c["added"] for c in counts])
        again = [i for i, c in enumerate(counts) if c["added"] != added]
        futures = [
            client.submit(_write, paths[i], str(tmp / f"part-{i:05d}{fmt}"), spec, cl.parts[i], info,
                          added, pure=False)
            for i in again
        ]
        for i, c in zip(again, client.gather(futures), strict=True):
            counts[i] = c
        rewritten = len(again)
        if out.exists():
            out.rmdir()  # an empty folder, checked above
        os.replace(tmp, out)
        lap("fill_write")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    filled = sum(c["filled"] for c in counts)
    uncertain = sum(c["uncertain"] for c in counts)
    blank = sum(c["blank"] for c in counts)
    for c in counts:
        for line in c["warnings"]:
            print(f"emgui-cli: warning: {line}", file=sys.stderr)
    label_name = spec.columns[spec.label_roles.label] if spec.label_roles.label is not None else "class"
    if args.report:
        empty = FillPlan(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0, dtype=np.int16),
                         None, classes_out, spellings)
        data = report_dict(sample, report, empty, label_name)
        data.update(n_rows_fitted=int(cl.n_kept.sum()), n_filled=filled, n_uncertain=uncertain,
                    engine={"name": "dask", "parts": len(paths), "workers": len(client.scheduler_info()["workers"]),
                            "em_iterations": int(result.n_iter), "seconds": seconds, "parts_written_again": rewritten})
        fileio.write_json(args.report, data)
    print(
        f"{cli._shown(str(out))}: {len(paths)} part{'s' if len(paths) != 1 else ''}, "
        f"filled {filled} of {blank} blank '{cli._shown(label_name)}' cells"
        + (f", {uncertain} left blank (see '{cli._shown(label_name)}_note')" if uncertain else "")
        + (f"; {n_unusual} rows with unusual values set aside" if n_unusual else "")
        + f"; model: {report.groups} groups, {report.covariance} covariance"
        + ("" if check is None else f". {check.sentence()}")
        + ("" if result.converged else f" (EM stopped after {result.n_iter} iterations without converging)"),
        file=sys.stderr,
    )
    return 0


def _union(lists: list[list[str]]) -> list[str]:
    """Names of all ``lists`` in one order that keeps each list's own (they share one order)."""
    out: list[str] = []
    for names in sorted(lists, key=len, reverse=True):
        for i, name in enumerate(names):
            if name not in out:
                before = [n for n in names[:i] if n in out]
                out.insert(out.index(before[-1]) + 1 if before else 0, name)
    return out


def _choose(job: FillJob, Xs: np.ndarray, ls: np.ndarray, n_total: int):
    """FillJob's model choice on the gathered rows (the unusual bound for all ``n_total``)."""
    chosen, candidates, _ = job.choose(Xs, ls, n_total)
    return chosen, candidates


def _check(job: FillJob, cl: _Cluster, result, seed: int):
    """FillJob.finish's self-check on gathered kept rows; the typed rows alone when they predict better."""
    from .core.fill import TYPED_ONLY_MARGIN

    fi, c = job.fit_input, job.chosen
    if fi.unlabelled:
        return trust.no_check("no label is typed, so there is nothing to check against", job.folds), result, False
    classes, names, unnamed = job.classes_of(result)
    n_named = len(classes) - sum(unnamed)
    n_kept = int(cl.n_kept.sum())
    sub = trust.subsample(n_kept, seed=seed + 1)
    X, labels = cl.gather_rows(np.arange(n_kept) if sub is None else sub, kept=True)
    check = trust.self_check(X, labels, names[:n_named], n_named, c.covariance, result,
                             folds=job.folds, min_confidence=job.min_confidence, seed=seed)
    typed_only = False
    if check.typed_only_log_loss is not None and check.typed_only_log_loss < check.log_loss - TYPED_ONLY_MARGIN:
        # The typed rows alone (every row labelled: EM's first M-step is the answer).
        result = cl.em(c.groups, c.covariance, (result.weights, result.means, result.covariances),
                       seed=seed, typed_only=True, em_kwargs={})
        typed_only = True
        check = trust.self_check(X, labels, names[:n_named], n_named, c.covariance, result,
                                 folds=job.folds, min_confidence=job.min_confidence, seed=seed,
                                 typed_rows_only=True)
    return check, result, typed_only


def _without_rows(result: mixture.MixtureResult) -> mixture.MixtureResult:
    """``result`` without the rows its posteriors came from (it is sent to every part)."""
    return dataclasses.replace(result, _posteriors_of=None, _made={})


def _write(path: str, target: str, spec: _Spec, part: _Part, info: dict, added: list[str] | None = None) -> dict:
    """Task: read the part again, fill it with the final parameters, write its output part.

    ``added``: the columns after the input's that every part must have (a
    note or issue column some other part has); those this part lacks are
    written empty.  Returns the counts and the added columns it wrote.
    """
    table, sheet, fi = _read(path, spec)
    classes = info["classes"]
    keys = {c: i for i, c in enumerate(classes)}
    counts = {"filled": 0, "uncertain": 0, "blank": 0, "warnings": list(table.warnings)}
    if fi is not None:
        codes = np.array([keys[c] for c in fi.classes], dtype=np.int64) if not fi.unlabelled else None
        labels = np.array(fi.labels, dtype=np.int64)
        if codes is not None and len(labels):
            labels = np.append(codes, -1)[labels]
        absent = tuple(a for a in fi.absent if a in info["absent"])
        fi = dataclasses.replace(
            fi, labels=labels, classes=list(classes), spellings=dict(info["spellings"]),
            n_components=len(classes), unlabelled=info["unlabelled"], absent=absent,
        )
        # components=0: the job only plans this part (FillJob's checks of
        # the groups against the rows were made once, for all parts).
        job = FillJob(fi, components=0, min_confidence=info["min_confidence"], check=False)
        job.keep = part.keep
        job.unusual = trust.Unusual(~part.keep, part.reasons)
        report = info["report"]
        result = posteriors_over(report.result, np.asarray(fi.X)[part.keep])
        plan = job.plan(result, report.classes, report.unnamed, info["temperature"])
        apply_plan(sheet, plan, job.notes(plan, report))
        counts["filled"], counts["uncertain"] = plan.n_filled, plan.n_uncertain
    counts["blank"] = counts["filled"] + sheet.counts()["missing"]
    exported_columns, exported = export_table(sheet)
    for f in sheet.roles.features:
        if not sheet.converted(f).any():
            exported[f] = table.cells[spec.in_sheet[f]]
    out_columns, out_cells, _ = cli._merge_output(
        spec.columns, table.cells, spec.used, spec.in_sheet, exported_columns, exported)
    schema = cli._output_schema(table.meta.get("schema"), len(spec.columns), spec.used, spec.in_sheet)
    first = len(out_columns) - (len(exported_columns) - len(spec.in_sheet))  # where the added columns start
    counts["added"] = out_columns[first:]
    if added is not None and added != counts["added"]:
        have = dict(zip(out_columns[first:], out_cells[first:], strict=True))
        empty = np.full(table.n_rows, None, dtype=object)
        out_columns = out_columns[:first] + list(added)
        out_cells = out_cells[:first] + [have.get(name, empty) for name in added]
    counts["warnings"] += fileio.write_table(
        target, out_columns, out_cells, dialect=table.meta.get("dialect"),
        computed=range(len(spec.columns), len(out_columns)), schema=schema,
    )
    return counts
