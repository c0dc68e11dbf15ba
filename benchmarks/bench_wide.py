"""Wide files: a CSV of 20,000 columns opened in the window, and 1M empty columns in the CLI.

Run: ``python benchmarks/bench_wide.py [--columns N] [--rows R] [--repeat K]``.

1. A seeded CSV of ``--columns`` columns (a gender and a height column
   first, then text and number columns) and ``--rows`` rows is opened in
   ``MainWindow`` through ``open_path``, on Qt's offscreen platform, in a
   fresh process per run; the clock stops when the sheet is shown, its
   column widths are set and the view has been painted (``open_s``: median
   and min-max of the runs).  Target: under 10 s for 20,000 columns.
   ``open_max_gap_ms``: the longest the GUI thread went without serving a
   10 ms timer (the read is in the loader thread; what remains is the GUI
   thread's own work: the model, the header, the column widths).
2. ``emgui-cli fill`` on a 21 MB CSV of a height column and 999,999 empty
   ones, in a child process: exit status, wall time and peak resident
   memory (``cli_million_columns``).  Target: refused or read under 2 GB.

Prints one JSON line ``{"bench": "wide", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would carry the
    parent's over exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_wide_csv(path: str, columns: int, rows: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    names = ["gender", "height"] + [f"col{j}" for j in range(columns - 2)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for i in range(rows):
            cells = ["" if rng.random() < 0.3 else "FM"[i % 2], f"{rng.normal(170, 9):.1f}"]
            values = rng.integers(0, 1000, columns - 2)
            cells += [f"v{v}" if j % 2 else str(v) for j, v in enumerate(values)]
            f.write(",".join(cells) + "\n")


def _open_once(src: str) -> dict:
    """One open in this process; returns its figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    config = tempfile.mkdtemp(prefix="bench_wide_cfg_")
    os.environ["XDG_CONFIG_HOME"] = config
    os.environ["XDG_DATA_HOME"] = config
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("emgui-bench")
    QCoreApplication.setApplicationName("emgui-bench")
    app = QApplication.instance() or QApplication([])
    from emgui.ui import loader
    from emgui.ui.window import MainWindow

    window = MainWindow(defer=True)
    window.resize(1280, 800)
    window.show()
    while not window.ready:
        app.processEvents()
        time.sleep(0.001)
    loader.preload_readers().join()
    ticks: list[float] = []
    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loaded: list[str] = []
    window.sheet_loaded.connect(loaded.append)
    ticks.append(time.perf_counter())
    probe.start()
    t0 = time.perf_counter()
    window.open_path(src, ask=False)
    while not loaded:
        app.processEvents()
        time.sleep(0.001)
    # Column widths follow in a later turn for a wide sheet: until they are set.
    end = time.perf_counter() + 60
    while getattr(window, "_columns_pending", False) and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    window.view.viewport().repaint()
    open_s = time.perf_counter() - t0
    probe.stop()
    ticks.append(time.perf_counter())
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    widths = {window.view.columnWidth(c) for c in range(min(window.model.columnCount(), 50))}
    return {
        "open_s": round(open_s, 3),
        "open_max_gap_ms": round(1e3 * max(gaps, default=0.0), 1),
        "n_cols": window.sheet.n_cols,
        "distinct_widths_first_50": len(widths),
        "peak_mb": round(_peak_mb(), 1),
    }


def _cli_million_columns(folder: str) -> dict:
    src = os.path.join(folder, "million.csv")
    with open(src, "w", encoding="utf-8") as f:
        f.write("height" + "," * 999_999 + "\n")
        for i in range(20):
            f.write(str(150 + i) + "," * 999_999 + "\n")
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from bench_wide import _peak_mb\n"
        "from emgui.cli import main\n"
        f"rc = main(['fill', {src!r}, '-o', {os.path.join(folder, 'out.csv')!r}])\n"
        "print(rc, _peak_mb())\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    parts = proc.stdout.split()
    return {
        "file_mb": round(os.path.getsize(src) / 2**20, 1),
        "exit": int(parts[0]) if parts else proc.returncode,
        "s": round(wall, 2),
        "peak_mb": float(parts[1]) if len(parts) > 1 else None,
        "message": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", metavar="CSV", help=argparse.SUPPRESS)  # a child's single run
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_open_once(args.one)))
        return 0
    folder = tempfile.mkdtemp(prefix="bench_wide_")
    src = os.path.join(folder, "wide.csv")
    make_wide_csv(src, args.columns, args.rows)
    runs = []
    for _ in range(args.repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", src], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    opens = [r["open_s"] for r in runs]
    gaps = [r["open_max_gap_ms"] for r in runs]
    out = {
        "bench": "wide",
        "columns": args.columns,
        "rows": args.rows,
        "file_mb": round(os.path.getsize(src) / 2**20, 1),
        "runs": args.repeat,
        "open_s": statistics.median(opens),
        "open_s_range": [min(opens), max(opens)],
        "open_max_gap_ms": statistics.median(gaps),
        "open_max_gap_ms_range": [min(gaps), max(gaps)],
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "cli_million_columns": _cli_million_columns(folder),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
