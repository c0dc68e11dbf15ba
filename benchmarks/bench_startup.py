"""Start-up time of the real program: process start to the window's first paint.

Run: ``python benchmarks/bench_startup.py [--runs N] [--platform offscreen|xcb|all]
[--probe app|filter] [--file PATH] [--no-imports]``.

Each run launches ``sys.executable main.py`` (the double-click entry) in a
fresh process and measures, with the benchmark's own clock, the wall time
from just before the process is created to the moment its marker line
arrives on stderr; then the process is killed.  One unmeasured warm-up run
first fills the file cache.  Prints one JSON line per platform::

    {"bench": "startup", "median_s": ..., "runs": [...], "platform": ...,
     "probe": ..., "target_s": 1.5, "target_met": ...}

and, unless ``--no-imports``, one line ``{"bench": "startup_imports", ...}``
with the modules imported before the first paint (``python -X importtime``
of the same launch, cut at the marker) and the stand-alone import time of
the heavy ones.

The marker.  With ``EMGUI_STARTUP_PROBE=1`` in its environment the app
prints ``startup-visible <seconds>`` to stderr at its window's first paint
(``--probe app``).  Until the app has that hook, ``--probe filter`` (the
default when ``emgui/app.py`` does not mention the variable) runs the same
``main.py`` through a small wrapper whose ``QApplication`` subclass installs
an event filter and prints the marker at the first ``Paint`` event of a
top-level window.  Nothing else differs: PySide6 is imported by the wrapper
instead of by ``emgui.app``, which imports it before the window anyway.

Platforms: ``offscreen`` (Qt's headless platform: paints into memory, no
X server) and, when ``Xvfb`` is installed, ``xcb`` on a private Xvfb display
started and stopped by this script: a real X11 round trip, closer to a
desktop.  Settings are isolated (``XDG_CONFIG_HOME`` in a temporary folder),
so no saved window state or recent file changes the measurement.

Target: median under 1.5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
TARGET_S = 1.5
MARKER = re.compile(r"^startup-visible\s+([0-9.eE+-]+)")
HEAVY = ("PySide6.QtWidgets", "numpy", "pandas", "pyqtgraph", "emgui.core.mixture", "emgui.ui.plot")

# Run as ``python -c WRAPPER main.py [args]``: the real main.py, plus a first-paint probe.
_WRAPPER = r"""
import os, runpy, sys, time
_t0 = time.perf_counter()
from PySide6 import QtCore, QtWidgets

class _Probe(QtCore.QObject):
    def eventFilter(self, obj, event):
        if (
            event.type() == QtCore.QEvent.Type.Paint
            and isinstance(obj, QtWidgets.QWidget)
            and obj.isWindow()
            and isinstance(obj, QtWidgets.QMainWindow)
        ):
            sys.stderr.write(f"startup-visible {time.perf_counter() - _t0:.4f}\n")
            sys.stderr.flush()
            QtWidgets.QApplication.instance().removeEventFilter(self)
        return False

class _App(QtWidgets.QApplication):
    def exec(self):
        self._probe = _Probe()
        self.installEventFilter(self._probe)
        return super().exec()

QtWidgets.QApplication = _App
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _app_has_probe() -> bool:
    """Whether the app itself prints the marker (its source names the variable)."""
    for name in ("emgui/app.py", "emgui/ui/window.py"):
        path = ROOT / name
        if path.exists() and "EMGUI_STARTUP_PROBE" in path.read_text(encoding="utf-8"):
            return True
    return False


def _command(probe: str, file: str | None, importtime: bool = False) -> list[str]:
    cmd = [sys.executable]
    if importtime:
        cmd += ["-X", "importtime"]
    if probe == "filter":
        cmd += ["-c", _WRAPPER]
    cmd.append(str(MAIN))
    if file:
        cmd.append(file)
    return cmd


def _environment(platform: str, display: str | None, config: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EMGUI_STARTUP_PROBE"] = "1"
    env["QT_QPA_PLATFORM"] = platform
    env["XDG_CONFIG_HOME"] = config
    env.pop("PYTHONSTARTUP", None)
    if display is not None:
        env["DISPLAY"] = display
    else:
        env.pop("DISPLAY", None)
    return env


def _launch(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float | None, list[str]]:
    """Start ``cmd``; return (wall seconds to the marker, seconds the app reported, stderr lines).

    The process is killed as soon as the marker is read (or at ``timeout``).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    lines: list[str] = []
    reported = None
    wall = None
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    try:
        deadline = t0 + timeout
        while wall is None and time.perf_counter() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.perf_counter())):
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break  # the process ended without a marker
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            for raw in done:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                m = MARKER.match(line)
                if m and wall is None:
                    wall = time.perf_counter() - t0
                    reported = float(m.group(1))
    finally:
        sel.close()
        proc.kill()
        proc.wait()
        proc.stderr.close()
    if wall is None:
        tail = "\n".join(lines[-15:])
        raise RuntimeError(f"no 'startup-visible' marker within {timeout:.0f} s; stderr ends:\n{tail}")
    return wall, reported, lines


class _Xvfb:
    """A private Xvfb server for the ``xcb`` runs (started and stopped by us)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.display: str | None = None

    def __enter__(self) -> _Xvfb:
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            self.__exit__()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _measure(platform: str, display: str | None, probe: str, runs: int, file: str | None, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="emgui-bench-") as config:
        env = _environment(platform, display, config)
        cmd = _command(probe, file)
        warmup, _, _ = _launch(cmd, env, timeout)
        walls, reported = [], []
        for _ in range(runs):
            wall, rep, _ = _launch(cmd, env, timeout)
            walls.append(round(wall, 4))
            reported.append(rep)
    median = statistics.median(walls)
    return {
        "bench": "startup",
        "median_s": round(median, 4),
        "runs": walls,
        "platform": platform + (" (Xvfb)" if display else ""),
        "probe": probe,
        "warmup_s": round(warmup, 4),
        "app_reported_median_s": round(statistics.median(reported), 4) if all(reported) else None,
        "file": file,
        "target_s": TARGET_S,
        "target_met": median < TARGET_S,
        "cpus": os.cpu_count(),
        # Other work on a 2-core machine slows start-up in proportion: say how busy it was.
        "loadavg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _parse_importtime(lines: list[str]) -> list[tuple[str, int, int]]:
    """(module, cumulative µs, nesting depth) per ``-X importtime`` line."""
    out = []
    for line in lines:
        m = _IMPORTTIME.match(line)
        if m:
            depth = (len(m.group(3)) - 1) // 2
            out.append((m.group(4), int(m.group(2)), depth))
    return out


def _critical_imports(platform: str, display: str | None, probe: str, file: str | None, timeout: float) -> dict:
    """Modules imported before the first paint, the heaviest first."""
    with tempfile.TemporaryDirectory(prefix="emgui-bench-") as config:
        env = _environment(platform, display, config)
        _, _, lines = _launch(_command(probe, file, importtime=True), env, timeout)
    before = []
    for line in lines:
        if MARKER.match(line):
            break
        before.append(line)
    entries = _parse_importtime(before)
    top = sorted((e for e in entries if e[2] == 0), key=lambda e: -e[1])
    total_us = sum(e[1] for e in entries if e[2] == 0)
    loaded = {e[0] for e in entries}
    return {
        "bench": "startup_imports",
        "platform": platform,
        "imports_before_paint_ms": round(total_us / 1000, 1),
        "top_level_before_paint": [{"module": m, "ms": round(us / 1000, 1)} for m, us, _ in top[:12]],
        "heavy_before_paint": {name: name in loaded for name in HEAVY},
    }


def _standalone_import_ms(module: str, repeat: int = 3) -> float:
    """Median self-reported cumulative import time of ``module`` in a fresh interpreter."""
    times = []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGRAPH_QT_LIB="PySide6")
    for _ in range(repeat):
        res = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )
        entries = _parse_importtime(res.stderr.splitlines())
        # The requested module's own line is the last one at depth 0 naming it.
        cumulative = [us for name, us, depth in entries if name == module and depth == 0]
        if not cumulative:  # a parent package was already imported for it: sum the top level
            cumulative = [sum(us for _, us, depth in entries if depth == 0)]
        times.append(cumulative[-1] / 1000)
    return round(statistics.median(times), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--platform", choices=("offscreen", "xcb", "all"), default="all",
                        help="xcb needs Xvfb (skipped with a note when it is missing)")
    parser.add_argument("--probe", choices=("app", "filter"), default=None,
                        help="app: the app prints the marker itself; filter: wrapper event filter")
    parser.add_argument("--file", default=None, help="open this file at start (e.g. the sample)")
    parser.add_argument("--no-imports", action="store_true", help="skip the import-time analysis")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one start")
    args = parser.parse_args(argv)
    probe = args.probe or ("app" if _app_has_probe() else "filter")

    platforms = ["offscreen", "xcb"] if args.platform == "all" else [args.platform]
    for platform in platforms:
        if platform == "xcb":
            if shutil.which("Xvfb") is None:
                print(json.dumps({"bench": "startup", "platform": "xcb", "skipped": "Xvfb is not installed"}))
                continue
            try:
                with _Xvfb() as xvfb:
                    print(json.dumps(_measure("xcb", xvfb.display, probe, args.runs, args.file, args.timeout)))
            except RuntimeError as exc:
                print(json.dumps({"bench": "startup", "platform": "xcb", "skipped": str(exc).splitlines()[0]}))
                print(str(exc), file=sys.stderr)
            continue
        print(json.dumps(_measure(platform, None, probe, args.runs, args.file, args.timeout)), flush=True)

    if not args.no_imports:
        report = _critical_imports("offscreen", None, probe, args.file, args.timeout)
        report["standalone_import_ms"] = {m: _standalone_import_ms(m) for m in HEAVY}
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
