"""Work on the machine's second core: the one place the core starts threads of its own.

Why: the baselines the command line is measured against (a lean polars
script; polars + scikit-learn, issue 14) read, write and fit on both cores
of the 2-core machine, while our process ran on one.  Three kinds of work
use a second core here:

* a long pass of a fit split into parts (the ``Whitened`` sweep over a
  million rows, the unusual-value check, the grid-key sort): numpy and BLAS
  calls on cache-sized blocks, which release the interpreter lock
  (:func:`spans`, :func:`run`), and a result wanted later (:class:`Later`:
  all rows sorted for the final fit while the model is chosen on a sample);
* reading a CSV whole in Arrow's own threads, the modules its cleaning needs
  imported meanwhile (:func:`meanwhile`), its columns cleaned side by side;
* turning the chunks of a CSV being written into bytes (:func:`ordered_map`):
  Arrow's CSV writer releases the interpreter lock, so threads format the
  next chunks while the caller writes the finished ones, in order.

Only the command line's fill uses a second core (:func:`second_core`; a
read or write also only without progress or cancel).  The window fits,
reads and saves in the same code on one thread each, leaving the other core
to its GUI thread; so does everything outside :func:`second_core`.

Determinism: a fit's work is split into parts fixed by the data alone
(:func:`spans`, never by the cores free), each part computed into its own
accumulators and merged in the parts' order; files are written in the
order of the one-thread code.  So the same numbers and bytes come out on
one core or two (``tests/core/test_parallel.py``,
``tests/core/test_parallel_parts.py``).  With one core allowed
(``os.sched_getaffinity``: ``taskset -c 0``, a container given one core)
everything runs on the calling thread, exactly as before.

These are our own threads, not OpenBLAS's: ``emgui-cli`` keeps OpenBLAS on
one thread (see ``emgui.cli.main``), and each part's products stay in its
small-matrix kernel on the thread that calls it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["PARTS", "Later", "cores", "meanwhile", "ordered_map", "run", "second_core", "spans"]

T = TypeVar("T")
R = TypeVar("R")

#: Parts a long pass is split into: the project's machine has 2 cores.
PARTS = 2

#: Threads :func:`ordered_map` formats with: more gain nothing for a file
#: write (one stream), and each holds a chunk of text.
MAX_THREADS = 2

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_inside = threading.local()  # set on the pool's own thread: it never waits on the pool


_second_core = False  # set by second_core()


@contextlib.contextmanager
def second_core() -> Iterator[None]:
    """Let the work done inside use a second core: the command line's fill.

    Outside it :func:`cores` is 1, so the window's fit thread, its reads,
    saves and recovery copies run on one thread each and leave the other
    core to the GUI thread.  With the fit's parts on two threads in the
    window too, its longest pause over a 5M-row fill went from 37-43 ms to
    53-62 ms (``benchmarks/bench_window.py --rows 5000000``, issue 14 item
    3: 50 ms): the GUI thread waited for the interpreter lock and a core.
    """
    global _second_core
    before, _second_core = _second_core, True
    try:
        yield
    finally:
        _second_core = before


def cores() -> int:
    """The CPUs this process may run on (its affinity mask), at most :data:`MAX_THREADS`; 1 outside :func:`second_core`."""
    if not _second_core:
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


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


def ordered_map(func: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``map(func, items)`` with the next items computed ahead in :func:`cores` threads.

    Results come in the order of ``items``, each as soon as it and those
    before it are done, so the consumer (a file write) overlaps the work on
    the following items.  At most ``2 * cores()`` results are under way or
    waiting at once, so memory stays bounded.  With one core it is plain
    ``map``.  An exception in ``func`` is raised where its result would be
    consumed; items not yet started are then dropped.  Its threads are its
    own, not the parts' pool: the caller only writes, so both cores format
    (measured with the write of ``bench_cli.py``, issue 14).
    """
    n = cores()
    if n <= 1:
        yield from map(func, items)
        return
    ahead = 2 * n
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="emgui") as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # the consumer stopped early (an error): drop the rest
                future.cancel()


def meanwhile(work: Callable[[], R], other: Callable[[], object]) -> R:
    """``work()`` in another thread while this thread runs ``other()``; returns what ``work`` returns.

    For a long call that releases the interpreter lock (Arrow reading a
    file) and some Python work not needed until it is done (imports).  With
    one core: ``other()``, then ``work()``.  An exception in either is raised
    here once both have ended.  Its thread is its own, not the parts' pool,
    which a fill abandoned after its :class:`Later` started may still be using.
    """
    if cores() <= 1:
        other()
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="emgui") as pool:
        done = pool.submit(work)
        try:
            other()
        finally:
            result = done.result()
    return result
