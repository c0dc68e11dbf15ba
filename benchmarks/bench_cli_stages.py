"""Where one ``emgui-cli fill`` spends its time: CPU and wall seconds per stage, in one process.

Run: ``python benchmarks/bench_cli_stages.py [--rows N] [--repeat R] [--features 1|5] [--before PYTHON]``.

Writes the ``bench_cli.py`` sheet (name, gender 30 % blank, height; with
``--features 5`` the four other body measures too, all five named with
``--features`` as ``bench_cli.py --features 5`` does) to a temporary folder, then runs the command line's ``_main`` in a fresh process
per round with its stages wrapped: the imports, the read (pyarrow's own
import included: it is imported there), building the sheet, the fit input,
the model choice (``FillJob.prepare``), EM (``em``: its set-up; the
iterations run between it and ``finish``), the rest of the fill
(``finish``: unusual values, self-check, calibration, plan), writing the
fill into the sheet, the export table and the write.  CPU seconds
(``time.process_time``) count every thread of the process; on a shared
machine they vary less than the wall time.

``--before PYTHON``: the same child run by another interpreter (an older
commit's checkout with its own virtual environment, e.g.
``/tmp/before/.venv/bin/python``), alternately with this one, so the two
are measured side by side.  Prints one JSON line per round, then the
medians and min–max of each stage's CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cli import FEATURES5, _env, _make_csv_apart  # noqa: E402

# The child: wraps the stages, runs the fill, prints (wall, cpu) per stage as JSON.
# One OpenBLAS thread, as emgui-cli's main() sets before numpy loads (the child calls _main).
_CHILD = r"""
import json, os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
t0, c0 = time.perf_counter(), time.process_time()
import emgui.cli as cli
from emgui.core import fileio, fill, sheet as sheetmod
times = {"imports": [time.perf_counter() - t0, time.process_time() - c0]}

def timed(owner, name, label):
    f = getattr(owner, name)
    def run(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return f(*a, **k)
        finally:
            w = times.setdefault(label, [0.0, 0.0])
            w[0] += time.perf_counter() - t
            w[1] += time.process_time() - c
    setattr(owner, name, run)

timed(fileio, "read_table", "read")
timed(fill, "prepare_from", "fit_input")
for name in ("prepare", "em", "finish"):
    timed(fill.FillJob, name, name)
timed(fill, "apply_plan", "apply_plan")
timed(fill, "export_table", "export")
timed(fileio, "write_table", "write")
from_table = sheetmod.Sheet.from_table.__func__
def build(cls, *a, **k):
    t, c = time.perf_counter(), time.process_time()
    try:
        return from_table(cls, *a, **k)
    finally:
        times["sheet"] = [time.perf_counter() - t, time.process_time() - c]
sheetmod.Sheet.from_table = classmethod(build)
t1, c1 = time.perf_counter(), time.process_time()
rc = cli._main(sys.argv[1:])
times["run_fill"] = [time.perf_counter() - t1, time.process_time() - c1]
print(json.dumps({k: [round(v[0], 4), round(v[1], 4)] for k, v in times.items()}))
sys.exit(rc)
"""


def _round(python: str, src: str, out: str, extra: list[str]) -> dict:
    # Run in the data's folder: "-c" puts the working folder first on the
    # path, and in this checkout that would import this checkout's emgui
    # whatever the interpreter (each finds its own through its install).
    done = subprocess.run(
        [python, "-c", _CHILD, "fill", src, "-o", out, *extra],
        check=True, capture_output=True, text=True, cwd=os.path.dirname(src), env=_env(), timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(rounds: list[dict]) -> dict:
    """Per stage: median CPU seconds, their min–max, and the median wall seconds."""
    out = {}
    for stage in rounds[0]:
        cpu = [r[stage][1] for r in rounds]
        wall = [r[stage][0] for r in rounds]
        out[stage] = {
            "cpu": round(statistics.median(cpu), 3),
            "cpu_min_max": [round(min(cpu), 3), round(max(cpu), 3)],
            "wall": round(statistics.median(wall), 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--features", type=int, choices=(1, 5), default=1,
                        help="feature columns in the CSV: height alone, or five body measures")
    parser.add_argument("--before", metavar="PYTHON",
                        help="another build's interpreter, run alternately as 'before'")
    args = parser.parse_args(argv)
    sides = {"ours": sys.executable}
    if args.before:
        sides["before"] = args.before
    folder = tempfile.mkdtemp(prefix="bench_cli_stages_")
    try:
        src = os.path.join(folder, "class.csv")
        _make_csv_apart(src, args.rows, args.features)
        extra = [] if args.features == 1 else ["--features", ",".join(f[0] for f in FEATURES5[: args.features])]
        rounds: dict[str, list[dict]] = {k: [] for k in sides}
        for i in range(args.repeat + 1):  # the first warms the file cache and byte-code
            for key, python in sides.items():
                r = _round(python, src, os.path.join(folder, f"{key}.csv"), extra)
                if i:
                    rounds[key].append(r)
                    print(json.dumps({"bench": "cli_stages", "side": key, "wall_cpu_s": r}), flush=True)
        print(json.dumps({
            "bench": "cli_stages_median", "rows": args.rows, "features": args.features, "repeat": args.repeat,
            **{key: _summary(r) for key, r in rounds.items()},
            "load_avg_1min": round(os.getloadavg()[0], 2),
        }), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
