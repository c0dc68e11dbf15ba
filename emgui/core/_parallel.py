"""How many cores a batch read or write may use, and an in-order map over that many threads.

The one place the core decides to run its own work on a second core (issue
14: the command line on a million rows).  Two kinds of work use it, and only
for a caller that asks (``fileio.read_table``/``write_table`` with
``parallel=True``: the command line, which has nothing else to do
meanwhile) and waits for no progress; the window's reads and saves, its
recovery copies and Dask's parts stay on the thread that runs them:

* reading a CSV whole with Arrow's own threads (``fileio._read_csv_arrow``),
  the modules its cleaning needs imported meanwhile (:func:`meanwhile`), and
  its columns cleaned side by side (:func:`ordered_map`);
* turning the chunks of a CSV being written into bytes
  (``fileio._write_csv``): Arrow's CSV writer releases the interpreter lock,
  so one thread formats the next chunk while another formats this one and
  the caller writes the finished ones to the file, in order.

Both are coarse (a few milliseconds of C per piece; fileio keeps short
columns and wide files on one thread), so two threads do not wait on each
other for the interpreter lock between pieces -- what made finer-grained
overlap slower than one thread when another process held the second core.  Results are used in the order of the one-thread code, so the
bytes written never depend on which thread ran what
(``tests/core/test_parallel.py``).  With one core allowed (``taskset -c 0``,
a container's CPU set) everything runs on the calling thread, exactly as
before.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["cores", "meanwhile", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

#: More threads than this gain nothing for the pieces here (the file write is
#: one stream) and each holds a chunk of text.
MAX_THREADS = 2


def cores() -> int:
    """The CPUs this process may run on (its affinity mask), at most :data:`MAX_THREADS`."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def ordered_map(func: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``map(func, items)`` with the next items computed ahead in :func:`cores` threads.

    Results come in the order of ``items``, each as soon as it and those
    before it are done, so the consumer (a file write) overlaps the work on
    the following items.  At most ``2 * cores()`` results are under way or
    waiting at once, so memory stays bounded.  With one core it is plain
    ``map``.  An exception in ``func`` is raised where its result would be
    consumed; items not yet started are then dropped.
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
    here once both have ended.
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
