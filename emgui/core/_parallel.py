"""Parts of one computation on the machine's second core: the core's one thread pool.

Why: the baseline a several-feature fill is measured against (polars +
scikit-learn, issue 14) reads and fits on both cores of the 2-core machine,
while our fit ran on one.  The long passes of a fit (the ``Whitened`` sweep
over a million rows) are numpy and BLAS calls on cache-sized blocks, which
release the interpreter lock, so plain Python threads share them out.

Determinism: a caller splits its work into a number of parts fixed by the
data alone (:func:`spans`, never by the cores free), computes each part into
its own accumulators and merges them in the parts' order.  :func:`run` only
decides where the parts run: on the calling thread and the pool's thread
when this process may use two cores, all on the calling thread otherwise
(``os.sched_getaffinity``: ``taskset -c 0``, a container given one core).
Either way the same numbers come out, bit for bit.

These are our own threads, not OpenBLAS's: ``emgui-cli`` keeps OpenBLAS on
one thread (see ``emgui.cli.main``), and each part's products stay in its
small-matrix kernel on the thread that calls it.  The window's fit thread
(a QThread) calls the same code; its part runs on it and the other on the
pool's thread, so the GUI thread is never involved.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["PARTS", "Later", "cores", "run", "spans"]

T = TypeVar("T")
R = TypeVar("R")

#: Parts a long pass is split into: the project's machine has 2 cores.
PARTS = 2

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_inside = threading.local()  # set on the pool's own thread: it never waits on the pool


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def spans(n: int, parts: int = PARTS) -> list[tuple[int, int]]:
    """``[start, stop)`` of up to ``parts`` contiguous, nearly equal, non-empty pieces of ``range(n)``.

    A function of ``n`` and ``parts`` only; no piece when ``n`` is 0.
    """
    bounds = [i * n // parts for i in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _mark_inside() -> None:
    _inside.flag = True


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # a forked child has no thread of its parent's pool
            _pool = ThreadPoolExecutor(PARTS - 1, thread_name_prefix="emgui-part", initializer=_mark_inside)
            _pool_pid = os.getpid()
        return _pool


def run(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, shared with the pool's thread when this process has a second core.

    The calling thread and the pool's thread each take the next item not yet
    taken until none is left; each result lands at its item's place, so the
    list is the same whichever thread computed what.  ``fn`` must not write
    anything another item reads.  When items raise, the first item's
    exception (in the items' order) is raised once every item is done, so
    nothing is still running on the caller's data afterwards.  Called from
    the pool's own thread (a part that splits again), or on one core, every
    item runs on the calling thread.
    """
    n = len(items)
    if n < 2 or cores() < 2 or getattr(_inside, "flag", False):
        return [fn(item) for item in items]
    results: list = [None] * n
    errors: list[BaseException | None] = [None] * n
    order = iter(range(n))
    taking = threading.Lock()

    def work() -> None:
        while True:
            with taking:
                i = next(order, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # re-raised below, in the items' order
                errors[i] = exc

    helper = _get_pool().submit(work)
    try:
        work()
    finally:
        # Not started yet (the pool's thread busy with another caller's
        # items): every item is done, so it is not waited for.
        if not helper.cancel():
            helper.result()
    for exc in errors:
        if exc is not None:
            raise exc
    return results


class Later:
    """``fn(*args)``, started on the pool's thread now when there is a second core, else made when asked for.

    :meth:`result` gives it either way (computing it on the calling thread
    if the pool's thread has not started it yet); :meth:`drop` says it is
    not needed.  What it computes must not depend on where it runs.
    """

    def __init__(self, fn: Callable[..., R], *args) -> None:
        self._fn, self._args = fn, args
        self._future = None
        if cores() >= 2 and not getattr(_inside, "flag", False):
            self._future = _get_pool().submit(fn, *args)

    def result(self):
        """The value (an exception ``fn`` raised is raised here)."""
        if self._future is not None and not self._future.cancel():
            return self._future.result()
        self._future = None
        return self._fn(*self._args)

    def drop(self) -> None:
        """Not needed: not started if it has not started yet (a started one finishes on its own)."""
        if self._future is not None:
            self._future.cancel()
        self._fn, self._args, self._future = None, (), None
