"""Shared test settings: Qt runs offscreen; a test that hangs ends the run and says which it was.

Why the second: a CI run once ran out of its 90 minutes inside one test,
and its log ended in a stack with no test name.  A test blocked in C++ (a
``QThread.wait()``, a modal dialog's event loop) never returns to Python,
so pytest-timeout's default SIGALRM method cannot interrupt it.  A
timer thread can: after ``timeout`` seconds (pyproject.toml) it prints
every thread's stack and ends the process.  The hooks below are
pytest-timeout's own (``pytest_timeout_set_timer`` / ``..._cancel_timer``);
they replace its timer with one that also prints the test's name as the
very last line, where a log cut to its tail still shows it.
"""

import faulthandler
import os
import sys
import threading

import pytest

# Set before any Qt import so every test (and pytest-qt's QApplication) is offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

_TIMERS: dict[str, threading.Timer] = {}


def _give_up(item, seconds: float) -> None:
    """Print every thread's stack, then the test's name, and end the process."""
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # back to the real stderr, as pytest-timeout does
        capture.suspend_global_capture(in_=True)
    nodeid = item.nodeid
    sys.stderr.write(f"\n+++ Timeout: {nodeid} ran over {seconds:g} s; the stacks of every thread:\n")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.write(f"\n*** {nodeid} ran over {seconds:g} s: run stopped (stacks above)\n")
    sys.stderr.flush()
    os._exit(1)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    if not settings.timeout or settings.timeout <= 0:
        return None
    timer = threading.Timer(settings.timeout, _give_up, (item, settings.timeout))
    timer.name = "test-timeout"
    timer.daemon = True
    timer.start()
    _TIMERS[item.nodeid] = timer
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item):
    timer = _TIMERS.pop(item.nodeid, None)
    if timer is None:
        return None
    timer.cancel()
    timer.join()
    return True
