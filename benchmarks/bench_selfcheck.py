"""What the trust work adds to a 1M-row fill: model choice, unusual values, the self-check.

Run: ``python benchmarks/bench_selfcheck.py [--rows N] [--repeat R]``.

The same seeded CSV as ``bench_cli.py`` (name, gender 30 % blank, height) is
read once; then, alternately ``R`` times (default 5), the fill of its sheet
is timed in this process (a fresh sheet each time, the file already read):

* ``plain``: one EM fit of the typed classes from the typed rows' start and
  the plan (the fill before the trust work: ``mixture.fit`` + ``plan_fill``);
* ``no_check``: :class:`emgui.core.fill.FillJob` with ``check=False`` (model
  choice by BIC, unusual values, the final fit, the plan);
* ``full``: ``FillJob`` as the command line and the window run it (the
  self-check and calibration included).

Reading and writing the file are left out, so the ratios are upper bounds of
what the whole command gains (``emgui-cli fill`` on this file also spends
~1 s reading and writing).  The window runs the same ``FillJob`` in its fit
thread, so the same ratios hold there.  Prints one JSON line with medians and
min–max.  Target (the trust issue): the self-check adds at most 50 % to a fill.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import make_csv  # noqa: E402

from emgui.core import fileio, mixture  # noqa: E402
from emgui.core.fill import FillJob, plan_fill, prepare_fit  # noqa: E402
from emgui.core.sheet import Sheet  # noqa: E402


def _sheet(table) -> Sheet:
    return Sheet.from_table(table.columns, [fileio.object_cells(c) for c in table.cells])


def _plain(table) -> float:
    t = time.perf_counter()
    fi = prepare_fit(_sheet(table))
    result = mixture.fit(fi.X, fi.labels, fi.n_components)
    plan_fill(fi, result)
    return time.perf_counter() - t


def _job(table, check: bool) -> float:
    t = time.perf_counter()
    fi = prepare_fit(_sheet(table))
    job = FillJob(fi, check=check)
    job.prepare()
    em = job.em()
    for _ in em:
        pass
    job.finish(em.result())
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.csv")
        make_csv(path, args.rows)
        table = fileio.read_table(path)
    runs: dict[str, list[float]] = {"plain": [], "no_check": [], "full": []}
    _job(table, True)  # warm-up: imports, caches
    for _ in range(args.repeat):
        runs["plain"].append(_plain(table))
        runs["no_check"].append(_job(table, False))
        runs["full"].append(_job(table, True))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(json.dumps({
        "bench": "selfcheck",
        "rows": args.rows,
        "cpu": _cpu(),
        **{f"{k}_s": round(v, 3) for k, v in med.items()},
        **{f"{k}_range": [round(min(v), 3), round(max(v), 3)] for k, v in runs.items()},
        "check_adds": round(med["full"] / med["no_check"] - 1, 3),
        "trust_adds": round(med["full"] / med["plain"] - 1, 3),
        "target_check_adds": 0.5,
        "target_met": med["full"] / med["no_check"] - 1 <= 0.5,
    }))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
