"""Run an EM fit off the GUI thread and stream its progress as signals.

:class:`FitWorker` is a ``QObject`` moved to a ``QThread`` (the superqt
``_qthreading`` pattern): ``thread.started -> worker.run``, the worker's last
signal ``ended -> thread.quit``; the worker then moves itself back to the GUI
thread, where it is destroyed, and the thread deletes itself once it has really ended.
It works on its own copy of the data, never touches a widget and checks an
abort flag between iterations.

:class:`FitController` owns that lifecycle for the window: at most one thread
alive at a time, a new :meth:`FitController.start` cancels the running fit and
starts after it has ended, :meth:`FitController.wait` for a clean close, and a
step-by-step mode that runs in the GUI thread (one iteration is fast, and a
person clicking "Step" wants the result right away, not via a thread hop).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from emgui.core.mixture import EMFit, MixtureError, MixtureResult, Snapshot

__all__ = ["FitController", "FitOutcome", "FitWorker"]

_log = logging.getLogger(__name__)

#: Minimum seconds between two ``iteration`` signals (about 30 per second).
DEFAULT_MIN_INTERVAL = 0.03


@dataclass(frozen=True)
class FitOutcome:
    """A finished fit and the version of the data it was computed from.

    Attributes
    ----------
    result : MixtureResult
        The fitted mixture.
    data_version : int
        The caller's opaque data version given to ``start``; the window drops
        the outcome when its sheet has changed since.
    extra : object
        What the ``after`` function given to ``start`` returned for this
        result, computed in the worker thread (None without one, and for a
        step-by-step fit, which runs in the GUI thread).
    """

    result: MixtureResult
    data_version: int
    extra: Any = None


def _detached(snapshot: Snapshot) -> Snapshot:
    """A copy of ``snapshot`` whose arrays share nothing with the running fit."""

    def frozen(a: Any) -> np.ndarray:
        out = np.array(a, copy=True)
        out.flags.writeable = False
        return out

    return dataclasses.replace(
        snapshot,
        weights=frozen(snapshot.weights),
        means=frozen(snapshot.means),
        covariances=frozen(snapshot.covariances),
    )


def _user_message(exc: BaseException) -> str:
    """The text shown for ``exc``: a MixtureError or FillError as is, anything else short."""
    from emgui.core.fill import FillError

    if isinstance(exc, (MixtureError, FillError)):
        return str(exc)
    _log.error("EM fit failed unexpectedly", exc_info=exc)
    return f"The fit stopped because of an internal error ({type(exc).__name__}); details are in the log."


def _own_copy(X: Any, labels: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The fit's own arrays: read-only arrays of the right type are shared, anything else copied.

    A read-only array cannot be changed by the caller behind the fit's back
    (``prepare_fit``'s are read-only), so a million rows need no second copy.
    """

    def own(a: Any, usable: Callable[[np.dtype], bool], dtype: type) -> np.ndarray:
        if isinstance(a, np.ndarray) and usable(a.dtype) and not a.flags.writeable and a.flags.c_contiguous:
            return a
        return np.array(a, dtype=dtype, copy=True)

    x = own(X, lambda d: d == np.float64, np.float64)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    # Labels of any signed integer type: the fit converts them itself.
    lab = None if labels is None else own(labels, lambda d: d.kind == "i", np.int64)
    return x, lab


class FitWorker(QObject):
    """One EM fit, meant to be moved to a ``QThread`` and started by ``run``.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_features) or (n_rows,)
        Feature values; copied here, on the caller's (GUI) thread, unless
        read-only (then shared: nobody can change them).
    labels : array_like of int, shape (n_rows,), optional
        Known class per row, ``-1`` where unknown; copied too.
    n_components : int, optional
        Number of mixture components ``K``.
    data_version : int
        Opaque version of the caller's data, handed back in :class:`FitOutcome`.
    min_interval : float, default 0.03
        Minimum seconds between two ``iteration`` signals; the last snapshot
        is always emitted.
    after : callable, optional
        ``after(result)`` is called in the worker thread once the fit has
        finished; its return value travels in :attr:`FitOutcome.extra` (work
        on the result that would otherwise block the GUI thread).  It must
        not touch widgets or anything the GUI thread changes.
    prepare : callable, optional
        Instead of ``X``, ``labels`` and ``n_components``: ``prepare()`` is
        called first in the worker thread and returns an object with ``X``,
        ``labels`` and ``n_components`` attributes (a
        :class:`~emgui.core.fill.FitInput`), emitted as ``prepared``.  Its
        errors are reported like the fit's.
    make_fit : callable, optional
        ``make_fit()`` (after ``prepare``) gives the :class:`EMFit` to run,
        instead of one made from ``X``, ``labels`` and ``n_components``: the
        fill's model choice (see :class:`emgui.core.fill.FillJob`) runs here,
        in the worker thread.
    **em_kwargs
        Passed to :class:`emgui.core.mixture.EMFit` (``seed``, ``max_iter``,
        ``tol``, ``reg_covar``, ``n_init``).

    Signals
    -------
    started()
        The fit began.
    prepared(object)
        What ``prepare`` returned (only with ``prepare``), before the first
        iteration.
    iteration(Snapshot)
        A progress snapshot (copied, read-only arrays), throttled.
    finished(FitOutcome)
        The fit ended by convergence or ``max_iter``.
    failed(str)
        The fit could not run; the text is meant for the user.
    cancelled()
        :meth:`abort` stopped the fit.
    ended()
        Emitted last, whatever the outcome (wired to ``thread.quit``).
    """

    started = Signal()
    prepared = Signal(object)
    iteration = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(
        self,
        X: Any,
        labels: Any = None,
        n_components: int | None = None,
        *,
        data_version: int = 0,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        after: Callable[[MixtureResult], Any] | None = None,
        prepare: Callable[[], Any] | None = None,
        make_fit: Callable[[], EMFit] | None = None,
        **em_kwargs: Any,
    ) -> None:
        super().__init__()
        self._prepare = prepare
        self._make_fit = make_fit
        # A fit made elsewhere (make_fit) or input made in the thread (prepare) needs no copy here.
        self._X, self._labels = (None, None) if prepare is not None or make_fit is not None else _own_copy(X, labels)
        self._after = after
        self._n_components = n_components
        self._em_kwargs = dict(em_kwargs)
        self._min_interval = float(min_interval)
        self.data_version = int(data_version)
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._fit: EMFit | None = None

    def abort(self) -> None:
        """Ask the fit to stop after the current iteration (thread-safe)."""
        self._abort.set()
        with self._lock:
            if self._fit is not None:
                self._fit.cancel()

    @property
    def aborted(self) -> bool:
        """Whether :meth:`abort` has been called."""
        return self._abort.is_set()

    @Slot()
    def run(self) -> None:
        """Fit and emit; runs in the worker thread."""
        try:
            self.started.emit()
            if self._abort.is_set():
                self.cancelled.emit()
                return
            if self._prepare is not None:
                prepared = self._prepare()
                self._X, self._labels = _own_copy(prepared.X, prepared.labels)
                self._n_components = prepared.n_components
                self.prepared.emit(prepared)
                if self._abort.is_set():
                    self.cancelled.emit()
                    return
            if self._make_fit is not None:
                fit = self._make_fit()
            else:
                fit = EMFit(self._X, self._labels, self._n_components, **self._em_kwargs)
            with self._lock:
                self._fit = fit
            if self._abort.is_set():  # abort() arrived while EMFit was initialising
                fit.cancel()
            self._stream(fit)
            # abort() cancels the fit unless it had already finished: then
            # the complete result is still worth delivering.
            if fit.cancelled:
                self.cancelled.emit()
                return
            result = fit.result()
            # The fit's engine (its sorted and centred copies of the blank
            # rows' values) is done with: let it go before ``after`` makes
            # the fill's arrays (five million rows: ~35 MB less at a
            # refit's peak, issue 14 item 3).  The result keeps what it needs.
            with self._lock:
                self._fit = None
            del fit
            extra = None if self._after is None else self._after(result)
            self.finished.emit(FitOutcome(result, self.data_version, extra))
        except Exception as exc:  # every failure must reach the window as a message
            self.failed.emit(_user_message(exc))
        finally:
            with self._lock:
                self._fit = None
            self._X = self._labels = self._after = self._prepare = self._make_fit = None  # done with them
            self.ended.emit()
            # Back to the GUI thread, to be destroyed there (see _FitThread).
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())

    def _stream(self, fit: EMFit) -> None:
        """Iterate ``fit``, emitting at most one snapshot per ``min_interval``."""
        last_emit = -np.inf
        pending: Snapshot | None = None
        for snapshot in fit:
            now = time.monotonic()
            if now - last_emit >= self._min_interval:
                self.iteration.emit(_detached(snapshot))
                last_emit = now
                pending = None
            else:
                pending = snapshot
            if self._abort.is_set():
                break
        if pending is not None:
            self.iteration.emit(_detached(pending))


class _Stepper:
    """A fit advanced one iteration per call, in the calling (GUI) thread."""

    def __init__(self, fit: EMFit, data_version: int) -> None:
        self.fit = fit
        self.data_version = data_version
        self._snapshots: Iterator[Snapshot] = iter(fit)

    def next(self) -> Snapshot | None:
        return next(self._snapshots, None)


class _FitThread(QThread):
    """A fit's thread, owned by the application; it deletes itself once it has really ended.

    Nothing is destroyed in the fit thread.  The worker moves itself back to
    the GUI thread as its ``run`` ends, and is destroyed there when this
    object lets it go, after the thread has ended.  It used to be deleted in
    the fit thread (``finished -> worker.deleteLater``), and a test run hung
    on that: ``~QObject`` takes Qt's signal-slot locks (a pool shared by
    all objects) and then asks PySide for the interpreter lock, while the
    GUI thread, holding that lock, waited in a ``connect`` for one of those
    Qt locks (pyqtgraph adding a curve).  The thread object lives in the
    GUI thread and deletes itself from there -- only after
    :meth:`QThread.wait`: ``finished`` is emitted while the thread is still
    finishing.  The reaping slot belongs to the thread itself, so it runs
    even when the controller that started the fit is gone.
    """

    def __init__(self, worker: FitWorker) -> None:
        super().__init__(QCoreApplication.instance())
        self.setObjectName("emgui-fit")
        self.worker = worker  # the worker's Python half lives as long as this thread
        worker.moveToThread(self)
        self.finished.connect(self._reap)  # queued to the GUI thread

    @Slot()
    def _reap(self) -> None:
        self.wait()
        self.worker = None  # destroyed here, in the GUI thread, once nobody else holds it
        self.deleteLater()


class FitController(QObject):
    """Owns the fit thread: start, stop, step, and a clean shutdown.

    Parameters
    ----------
    parent : QObject, optional
    min_interval : float, default 0.03
        Passed to each :class:`FitWorker`.

    Signals
    -------
    fit_started()
    fit_prepared(object)
    fit_iterated(Snapshot)
    fit_finished(FitOutcome)
    fit_failed(str)
    fit_cancelled()
        The worker's signals, re-emitted for the current fit only: a fit
        superseded by a newer :meth:`start` is cancelled silently.

    Notes
    -----
    Only one thread is alive at a time.  ``start`` while a fit runs cancels
    it and queues the new fit, which starts once the old thread has finished
    (2-core machines gain nothing from running both).  Stepping
    (:meth:`begin_stepping`, :meth:`step`) runs in the GUI thread.
    """

    fit_started = Signal()
    fit_prepared = Signal(object)
    fit_iterated = Signal(object)
    fit_finished = Signal(object)
    fit_failed = Signal(str)
    fit_cancelled = Signal()

    def __init__(
        self, parent: QObject | None = None, *, min_interval: float = DEFAULT_MIN_INTERVAL
    ) -> None:
        super().__init__(parent)
        # The fill's model choice and self-check run many short numpy calls in
        # the fit thread, each holding the interpreter lock; with Python's
        # default 5 ms switch interval the GUI thread waited behind them
        # (bench_window, 1M rows: longest pause while EM runs 45 ms median,
        # 32-49, target <= 50 ms).  At 1 ms: 28-32 ms, the fit's time unchanged.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._min_interval = min_interval
        self._thread: QThread | None = None
        self._worker: FitWorker | None = None
        # The running worker was superseded: drop its signals.
        self._stale = False
        self._pending: FitWorker | None = None
        self._stepper: _Stepper | None = None

    # -- threaded fit -----------------------------------------------------------------

    def start(
        self,
        X: Any = None,
        labels: Any = None,
        n_components: int | None = None,
        *,
        data_version: int,
        seed: int = 0,
        after: Callable[[MixtureResult], Any] | None = None,
        prepare: Callable[[], Any] | None = None,
        make_fit: Callable[[], EMFit] | None = None,
        **em_kwargs: Any,
    ) -> None:
        """Fit in a worker thread, replacing any fit that is running.

        Parameters
        ----------
        X : array_like, shape (n_rows, n_features) or (n_rows,)
            Copied before this returns (the caller may change its array),
            unless read-only.
        labels : array_like of int, shape (n_rows,), or None
            ``-1`` where unknown.
        n_components : int or None
            Number of classes ``K``.
        data_version : int
            Handed back in :class:`FitOutcome`.
        seed : int, default 0
        after : callable, optional
            Run on the result in the worker thread (see :class:`FitWorker`).
        prepare : callable, optional
            Makes the fit's input in the worker thread, instead of ``X``,
            ``labels`` and ``n_components`` (see :class:`FitWorker`);
            ``fit_prepared`` carries what it made.
        make_fit : callable, optional
            Gives the fit to run, in the worker thread (see :class:`FitWorker`).
        **em_kwargs
            ``max_iter``, ``tol``, ``reg_covar``, ``n_init`` for ``EMFit``.
        """
        self._stepper = None
        worker = FitWorker(
            X,
            labels,
            n_components,
            data_version=data_version,
            min_interval=self._min_interval,
            seed=seed,
            after=after,
            prepare=prepare,
            make_fit=make_fit,
            **em_kwargs,
        )
        if self._thread is None:
            self._launch(worker)
            return
        self._pending = worker
        self._stale = True
        self._worker.abort()

    def stop(self) -> None:
        """Cancel the running fit (``fit_cancelled`` follows) or end stepping."""
        if self._stepper is not None:
            self._stepper = None
            self.fit_cancelled.emit()
        if self._pending is not None:
            # The fit the user is waiting for is the queued one: report its
            # cancellation through the running (superseded) worker's signal.
            self._pending = None
            self._stale = False
        if self._worker is not None:
            self._worker.abort()

    def is_running(self) -> bool:
        """Whether a fit thread is alive or queued."""
        return self._thread is not None or self._pending is not None

    def wait(self, ms: int = 5000) -> bool:
        """Stop any fit and block until its thread has finished.

        Parameters
        ----------
        ms : int, default 5000
            Timeout in milliseconds.

        Returns
        -------
        bool
            True if no thread is left running.
        """
        self.stop()
        thread = self._thread
        if thread is None:
            return True
        return thread.wait(max(int(ms), 0))

    def _launch(self, worker: FitWorker) -> None:
        # Owned by the application, not by this controller or Python: a
        # running thread then outlives a controller dropped without wait()
        # instead of being destroyed while running, and the test suite's
        # leak check (children of the application) sees it.
        thread = _FitThread(worker)
        thread.started.connect(worker.run)
        # Direct: quit must not depend on the GUI thread's event loop, which
        # is blocked while wait() runs on close.
        worker.ended.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        worker.started.connect(self._on_worker_started)
        worker.prepared.connect(self._on_worker_prepared)
        worker.iteration.connect(self._on_worker_iteration)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        self._thread, self._worker, self._stale = thread, worker, False
        thread.start()

    # A worker's queued signals all arrive before its thread's ``finished``,
    # so the worker signalling is always ``self._worker``.

    @Slot()
    def _on_worker_started(self) -> None:
        if not self._stale:
            self.fit_started.emit()

    @Slot(object)
    def _on_worker_prepared(self, prepared: object) -> None:
        if not self._stale:
            self.fit_prepared.emit(prepared)

    @Slot(object)
    def _on_worker_iteration(self, snapshot: Snapshot) -> None:
        if not self._stale:
            self.fit_iterated.emit(snapshot)

    @Slot(object)
    def _on_worker_finished(self, outcome: FitOutcome) -> None:
        if not self._stale:
            self.fit_finished.emit(outcome)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        if not self._stale:
            self.fit_failed.emit(message)

    @Slot()
    def _on_worker_cancelled(self) -> None:
        if not self._stale:
            self.fit_cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        # ``finished`` is emitted just before the thread really ends; wait
        # out that last moment so a queued fit never runs beside it (one
        # thread at a time).  The thread deletes itself (see _FitThread).
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        self._stale = False
        pending, self._pending = self._pending, None
        if pending is not None:
            self._launch(pending)

    # -- stepping ---------------------------------------------------------------------

    def begin_stepping(
        self,
        X: Any,
        labels: Any,
        n_components: int | None,
        *,
        data_version: int,
        seed: int = 0,
        **em_kwargs: Any,
    ) -> bool:
        """Prepare a fit advanced by :meth:`step`, in the GUI thread.

        Emits ``fit_started`` and ``fit_iterated`` with iteration 0 (the
        initial parameters).  A threaded fit still running is cancelled
        silently.  Parameters as for :meth:`start`.

        Returns
        -------
        bool
            False if the fit could not be set up (``fit_failed`` was emitted).
        """
        self._pending = None
        if self._worker is not None:
            self._stale = True
            self._worker.abort()
        self._stepper = None
        x, lab = _own_copy(X, labels)
        try:
            stepper = _Stepper(
                EMFit(x, lab, n_components, seed=seed, **em_kwargs), int(data_version)
            )
            self.fit_started.emit()
            self._stepper = stepper
            first = stepper.next()
        except Exception as exc:
            self._stepper = None
            self.fit_failed.emit(_user_message(exc))
            return False
        if first is not None:
            self.fit_iterated.emit(_detached(first))
        self._finish_stepping_if_done()
        return True

    def take_stepping_fit(self) -> tuple[EMFit, int] | None:
        """End stepping without cancelling: the fit (at its last step) and its data version.

        Escape after stepping keeps what was stepped: the window can fill
        from it or run it on (:meth:`start` with ``make_fit``) or step it
        again (:meth:`resume_stepping`).  None when not stepping.
        """
        stepper, self._stepper = self._stepper, None
        return None if stepper is None else (stepper.fit, stepper.data_version)

    def resume_stepping(self, fit: EMFit, data_version: int) -> Snapshot | None:
        """Step on a fit taken by :meth:`take_stepping_fit` (one iteration, as :meth:`step`)."""
        self._pending = None
        if self._worker is not None:
            self._stale = True
            self._worker.abort()
        self._stepper = _Stepper(fit, int(data_version))
        self.fit_started.emit()
        return self.step()

    def is_stepping(self) -> bool:
        """Whether a step-by-step fit is in progress."""
        return self._stepper is not None

    def step(self) -> Snapshot | None:
        """Run exactly one E+M iteration of the stepping fit.

        Emits ``fit_iterated``; when that iteration converged (or reached
        ``max_iter``) ``fit_finished`` follows and stepping ends.

        Returns
        -------
        Snapshot or None
            The new snapshot, or None when not stepping or the step failed.
        """
        stepper = self._stepper
        if stepper is None:
            return None
        try:
            snapshot = stepper.next()
        except Exception as exc:
            self._stepper = None
            self.fit_failed.emit(_user_message(exc))
            return None
        if snapshot is not None:
            snapshot = _detached(snapshot)
            self.fit_iterated.emit(snapshot)
        self._finish_stepping_if_done(exhausted=snapshot is None)
        return snapshot

    def _finish_stepping_if_done(self, exhausted: bool = False) -> None:
        stepper = self._stepper
        if stepper is None or not (exhausted or stepper.fit.done):
            return
        self._stepper = None
        try:
            result = stepper.fit.result()
        except Exception as exc:
            self.fit_failed.emit(_user_message(exc))
            return
        self.fit_finished.emit(FitOutcome(result, stepper.data_version))
