"""The fit worker thread and its controller: signals, cancellation, lifecycle."""

from __future__ import annotations

import gc
import logging

import numpy as np
import pytest
from PySide6.QtCore import QThread

from emgui.core.mixture import EMFit, MixtureError, fit
from emgui.ui import worker as worker_module
from emgui.ui.worker import FitController, FitOutcome, FitWorker


def _heights(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(163.0, 6.0, n // 2), rng.normal(177.0, 7.0, n - n // 2)].reshape(-1, 1)
    labels = np.full(n, -1)
    labels[:20] = 0
    labels[n // 2 : n // 2 + 20] = 1
    return x, labels


def _big(n: int = 200_000, seed: int = 1) -> np.ndarray:
    """Unlabelled 2-D data that takes long enough per iteration to stop mid-fit."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * [6.0, 10.0] + [170.0, 65.0]


# A fit with these settings runs until stopped: exact convergence is not reached
# within the test's lifetime on the big data.
_ENDLESS = {"max_iter": 10**9, "tol": 0.0, "n_init": 1}


class _Recorder:
    """Collects every controller signal in order."""

    def __init__(self, controller: FitController) -> None:
        self.events: list[tuple[str, object]] = []
        controller.fit_started.connect(lambda: self.events.append(("started", None)))
        controller.fit_iterated.connect(lambda s: self.events.append(("iterated", s)))
        controller.fit_finished.connect(lambda o: self.events.append(("finished", o)))
        controller.fit_failed.connect(lambda m: self.events.append(("failed", m)))
        controller.fit_cancelled.connect(lambda: self.events.append(("cancelled", None)))

    def of(self, kind: str) -> list:
        return [payload for k, payload in self.events if k == kind]


@pytest.fixture
def controller(qtbot):
    c = FitController()
    yield c
    # Every test must leave no thread behind, whatever it did.
    assert c.wait(10_000)
    qtbot.waitUntil(lambda: not c.is_running(), timeout=10_000)


def test_fit_streams_snapshots_and_matches_core_fit(qtbot, controller):
    x, labels = _heights()
    rec = _Recorder(controller)
    with qtbot.waitSignal(controller.fit_finished, timeout=10_000) as blocker:
        controller.start(x, labels, 2, data_version=42, seed=3)
    outcome = blocker.args[0]
    assert isinstance(outcome, FitOutcome)
    assert outcome.data_version == 42

    expected = fit(x, labels, 2, seed=3)
    result = outcome.result
    np.testing.assert_allclose(result.weights, expected.weights)
    np.testing.assert_allclose(result.means, expected.means)
    np.testing.assert_allclose(result.covariances, expected.covariances)
    np.testing.assert_allclose(result.posteriors, expected.posteriors)
    assert result.n_iter == expected.n_iter
    assert result.log_likelihood == pytest.approx(expected.log_likelihood)

    assert rec.events[0][0] == "started"
    snaps = rec.of("iterated")
    assert snaps, "no iteration snapshot arrived"
    assert snaps[0].iteration == 0
    its = [s.iteration for s in snaps]
    assert its == sorted(set(its))
    # The last snapshot is always delivered, so the plot ends on the result.
    assert its[-1] == result.n_iter
    lls = np.array([s.log_likelihood for s in snaps])
    assert np.all(np.diff(lls) >= -1e-9 * np.abs(lls[1:]))
    assert rec.of("failed") == [] and rec.of("cancelled") == []


def test_snapshots_are_detached_read_only_copies(qtbot, controller):
    x, labels = _heights(200)
    snaps = []
    controller.fit_iterated.connect(snaps.append)
    with qtbot.waitSignal(controller.fit_finished, timeout=10_000):
        controller.start(x, labels, 2, data_version=0)
    for s in snaps:
        for a in (s.weights, s.means, s.covariances):
            assert not a.flags.writeable
    assert len({id(s.means) for s in snaps}) == len(snaps)


def test_iterations_are_throttled_but_the_last_is_kept(qtbot):
    x, labels = _heights(400)
    # One emission per minute at most: only iteration 0 and the final one get out.
    c = FitController(min_interval=60.0)
    snaps = []
    c.fit_iterated.connect(snaps.append)
    with qtbot.waitSignal(c.fit_finished, timeout=10_000) as blocker:
        c.start(x, labels, 2, data_version=0, tol=1e-14, max_iter=500)
    result = blocker.args[0].result
    assert result.n_iter > 2
    assert [s.iteration for s in snaps] == [0, result.n_iter]
    assert c.wait(5000)


def test_caller_may_change_its_arrays_after_start(qtbot, controller):
    x, labels = _heights()
    expected = fit(x.copy(), labels.copy(), 2)
    with qtbot.waitSignal(controller.fit_finished, timeout=10_000) as blocker:
        controller.start(x, labels, 2, data_version=1)
        x[:] = 0.0  # the worker works on its own copy
        labels[:] = -1
    np.testing.assert_allclose(blocker.args[0].result.means, expected.means)


def test_read_only_arrays_are_shared_and_writable_ones_copied():
    from emgui.ui.worker import _own_copy

    x, labels = _heights()
    x2 = x.reshape(-1, 1)
    frozen_x, frozen_labels = x2.copy(), labels.astype(np.int64)
    frozen_x.flags.writeable = False
    frozen_labels.flags.writeable = False
    got_x, got_labels = _own_copy(frozen_x, frozen_labels)
    assert got_x is frozen_x and got_labels is frozen_labels  # nobody can change them: no copy
    got_x, got_labels = _own_copy(x2, labels)
    assert not np.shares_memory(got_x, x2) and not np.shares_memory(got_labels, labels)


def test_after_runs_in_the_worker_thread_and_its_value_arrives_with_the_outcome(qtbot, controller):
    import threading

    x, labels = _heights()
    seen = {}

    def after(result):
        seen["thread"] = threading.current_thread()
        return ("planned", result.n_iter)

    with qtbot.waitSignal(controller.fit_finished, timeout=10_000) as blocker:
        controller.start(x, labels, 2, data_version=3, after=after)
    outcome = blocker.args[0]
    assert seen["thread"] is not threading.main_thread()
    assert outcome.extra == ("planned", outcome.result.n_iter)
    assert outcome.data_version == 3


def test_stop_cancels_a_long_fit(qtbot, controller):
    rec = _Recorder(controller)
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=5, **_ENDLESS)
    assert controller.is_running()
    with qtbot.waitSignal(controller.fit_cancelled, timeout=20_000):
        controller.stop()
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    assert rec.of("finished") == []
    assert rec.of("failed") == []
    assert len(rec.of("cancelled")) == 1


def test_wait_after_stop_returns_true(qtbot, controller):
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=0, **_ENDLESS)
    controller.stop()
    assert controller.wait(10_000) is True
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)


def test_wait_alone_stops_a_running_fit(qtbot, controller):
    """What the window does on close: no 'QThread destroyed while running'."""
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=0, **_ENDLESS)
    assert controller.wait(10_000) is True
    assert controller.wait(0) is True  # idempotent once ended


def test_wait_when_idle_returns_true(controller):
    assert not controller.is_running()
    assert controller.wait(0) is True


def test_mixture_error_reaches_fit_failed_as_is(qtbot, controller):
    with pytest.raises(MixtureError) as raised:
        EMFit([[170.0]], [-1], 2)
    rec = _Recorder(controller)
    with qtbot.waitSignal(controller.fit_failed, timeout=10_000) as blocker:
        controller.start([[170.0]], [-1], 2, data_version=0)
    assert blocker.args == [str(raised.value)]
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    assert rec.of("finished") == [] and rec.of("cancelled") == []


def test_unexpected_error_gives_a_short_message_and_logs_the_traceback(
    qtbot, controller, monkeypatch, caplog
):
    class Broken:
        def __init__(self, *args, **kwargs):
            raise ZeroDivisionError("boom inside the engine")

    monkeypatch.setattr(worker_module, "EMFit", Broken)
    with (
        caplog.at_level(logging.ERROR, logger="emgui.ui.worker"),
        qtbot.waitSignal(controller.fit_failed, timeout=10_000) as blocker,
    ):
        controller.start([[1.0], [2.0]], None, 2, data_version=0)
    message = blocker.args[0]
    assert "ZeroDivisionError" in message and "log" in message
    assert "boom inside the engine" not in message
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_second_start_supersedes_the_running_fit(qtbot, controller):
    rec = _Recorder(controller)
    x, labels = _heights()
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=1, **_ENDLESS)
    with qtbot.waitSignal(controller.fit_finished, timeout=20_000) as blocker:
        controller.start(x, labels, 2, data_version=2)
    assert blocker.args[0].data_version == 2
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    assert [o.data_version for o in rec.of("finished")] == [2]
    # The superseded fit goes quietly: no "cancelled" for a fit the user did not stop.
    assert rec.of("cancelled") == []
    np.testing.assert_allclose(blocker.args[0].result.means, fit(x, labels, 2).means)


def test_stop_while_a_fit_is_queued_reports_one_cancellation(qtbot, controller):
    rec = _Recorder(controller)
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=1, **_ENDLESS)
    controller.start(_big(seed=2), None, 2, data_version=2, **_ENDLESS)
    with qtbot.waitSignal(controller.fit_cancelled, timeout=20_000):
        controller.stop()
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    qtbot.wait(50)
    assert len(rec.of("cancelled")) == 1
    assert rec.of("finished") == []


def test_many_rapid_starts_deliver_only_the_last(qtbot, controller):
    x, labels = _heights(300)
    finished = []
    controller.fit_finished.connect(finished.append)
    for version in range(10):
        controller.start(x, labels, 2, data_version=version)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=20_000)
    # Superseded fits are dropped even if they got to finish; the middle ones never run.
    assert [o.data_version for o in finished] == [9]


# -- stepping ------------------------------------------------------------------------------


def test_stepping_runs_one_iteration_per_call_until_finished(qtbot, controller):
    x, labels = _heights(400)
    rec = _Recorder(controller)
    assert controller.begin_stepping(x, labels, 2, data_version=8, tol=1e-10)
    assert controller.is_stepping()
    assert [k for k, _ in rec.events] == ["started", "iterated"]
    assert rec.of("iterated")[0].iteration == 0
    snaps = []
    for _ in range(10_000):
        snap = controller.step()
        if snap is None:
            break
        snaps.append(snap)
        if not controller.is_stepping():
            break
    assert not controller.is_stepping()
    assert [s.iteration for s in snaps] == list(range(1, len(snaps) + 1))
    lls = np.array([s.log_likelihood for s in rec.of("iterated")])
    assert np.all(np.diff(lls) >= -1e-9 * np.abs(lls[1:]))
    (outcome,) = rec.of("finished")
    assert outcome.data_version == 8
    expected = fit(x, labels, 2, tol=1e-10)
    assert outcome.result.n_iter == expected.n_iter == snaps[-1].iteration
    np.testing.assert_allclose(outcome.result.means, expected.means)
    assert controller.step() is None  # stepping ended


def test_stepping_error_reaches_fit_failed(controller):
    rec = _Recorder(controller)
    assert controller.begin_stepping([[1.0]], None, 2, data_version=0) is False
    assert len(rec.of("failed")) == 1 and "distinct" in rec.of("failed")[0]
    assert not controller.is_stepping()


def test_stop_while_stepping_cancels(controller):
    x, labels = _heights(200)
    rec = _Recorder(controller)
    controller.begin_stepping(x, labels, 2, data_version=0)
    controller.step()
    controller.stop()
    assert not controller.is_stepping()
    assert rec.of("cancelled") == [None]
    assert controller.step() is None


def test_begin_stepping_quietly_cancels_a_running_fit(qtbot, controller):
    rec = _Recorder(controller)
    with qtbot.waitSignal(controller.fit_iterated, timeout=20_000):
        controller.start(_big(), None, 2, data_version=1, **_ENDLESS)
    x, labels = _heights(200)
    controller.begin_stepping(x, labels, 2, data_version=2)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    assert controller.is_stepping()
    assert rec.of("cancelled") == [] and rec.of("finished") == []


def test_start_ends_stepping(qtbot, controller):
    x, labels = _heights(200)
    controller.begin_stepping(x, labels, 2, data_version=1)
    with qtbot.waitSignal(controller.fit_finished, timeout=10_000) as blocker:
        controller.start(x, labels, 2, data_version=2)
    assert not controller.is_stepping()
    assert blocker.args[0].data_version == 2


# -- the worker on its own -------------------------------------------------------------------


def test_worker_run_emits_in_order_and_ended_last():
    """``run`` called directly (no thread) shows the signal protocol plainly."""
    x, labels = _heights(200)
    w = FitWorker(x, labels, 2, data_version=11)
    order: list[str] = []
    w.started.connect(lambda: order.append("started"))
    w.iteration.connect(lambda s: order.append("iteration"))
    w.finished.connect(lambda o: order.append(f"finished:{o.data_version}"))
    w.ended.connect(lambda: order.append("ended"))
    w.run()
    assert order[0] == "started" and order[1] == "iteration"
    assert order[-2:] == ["finished:11", "ended"]
    assert w.data_version == 11


def test_worker_aborted_before_run_emits_cancelled():
    x, labels = _heights(200)
    w = FitWorker(x, labels, 2, data_version=0)
    order: list[str] = []
    w.cancelled.connect(lambda: order.append("cancelled"))
    w.finished.connect(lambda o: order.append("finished"))
    w.ended.connect(lambda: order.append("ended"))
    w.abort()
    assert w.aborted
    w.run()
    assert order == ["cancelled", "ended"]


def test_dropping_the_controller_mid_fit_leaves_no_dangling_thread(qtbot, qapp):
    """Without wait() the thread is not destroyed while running; it ends by itself."""
    c = FitController()
    with qtbot.waitSignal(c.fit_iterated, timeout=20_000):
        c.start(_big(), None, 2, data_version=0, max_iter=5, tol=0.0, n_init=1)
    del c
    gc.collect()

    def fit_threads():
        return [t for t in qapp.findChildren(QThread) if t.objectName() == "emgui-fit"]

    assert fit_threads()  # still alive, owned by the application
    qtbot.waitUntil(lambda: not fit_threads(), timeout=30_000)


def test_a_fit_thread_outlives_its_deleted_controller_and_frees_its_worker_once(qtbot, qapp):
    """Worker and thread are destroyed once, both in the GUI thread, the worker first.

    Deleting the controller mid-fit (a window closed in a hurry) used to let
    the GUI thread destroy the thread object -- and with it the worker's
    last Python reference -- while the fit thread was deleting the worker:
    a double free, a crash now and then.  Deleting the worker in the fit
    thread at all could deadlock with the GUI thread (see _FitThread).
    """
    import threading

    import shiboken6
    from PySide6.QtCore import Qt

    c = FitController()
    with qtbot.waitSignal(c.fit_iterated, timeout=20_000):
        c.start(_big(), None, 2, data_version=0, **_ENDLESS)
    events = []
    here = Qt.ConnectionType.DirectConnection
    c._worker.destroyed.connect(lambda: events.append(("worker", threading.current_thread().name)), here)
    c._thread.destroyed.connect(lambda: events.append(("thread", threading.current_thread().name)), here)
    c.stop()
    shiboken6.delete(c)  # gone before the thread's ``finished`` reaches it
    del c
    gc.collect()
    qtbot.waitUntil(lambda: len(events) == 2, timeout=30_000)
    (what, where), (then, there) = events
    assert (what, then) == ("worker", "thread")
    assert where == threading.main_thread().name and there == threading.main_thread().name


def test_a_finished_fit_s_worker_is_destroyed_in_the_gui_thread(qtbot, controller):
    """Nothing is destroyed in the fit thread.

    ``~QObject`` there takes Qt's signal-slot locks and then waits for the
    interpreter lock, which the GUI thread may hold while it waits for one of
    those locks in a ``connect``: a test run hung that way (see _FitThread).
    """
    import threading

    from PySide6.QtCore import Qt

    x, labels = _heights()
    where = []
    with qtbot.waitSignal(controller.fit_started, timeout=10_000):
        controller.start(x, labels, 2, data_version=0)
    controller._worker.destroyed.connect(
        lambda: where.append(threading.current_thread().name), Qt.ConnectionType.DirectConnection
    )
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=10_000)
    gc.collect()
    qtbot.waitUntil(lambda: bool(where), timeout=10_000)
    assert where == [threading.main_thread().name]
