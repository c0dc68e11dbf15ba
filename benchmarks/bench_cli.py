"""The whole task: ``emgui-cli fill`` on a 1M-row CSV against pandas + scikit-learn and a lean script.

Run: ``python benchmarks/bench_cli.py [--rows N] [--repeat R] [--keep DIR]
[--baselines pandas,lean] [--features 1|5] [--before EMGUI_CLI] [--profile]``,
or for the memory curve ``python benchmarks/bench_cli.py --memory 1e6,3e6,1e7,3e7``.
``--before`` runs another build's ``emgui-cli`` (a checkout of an older
commit with its own virtual environment) in the same alternation, so a
change is measured side by side with what it replaces.

With ``--features 5`` the sheet has five body measures (height, weight,
arm_span, foot, shoulder) and the baseline (``sklearn5``) is polars
``read_csv`` + scikit-learn's ``GaussianMixture(means_init=`` the typed rows'
means ``)`` + polars ``write_csv``; target: ours at most 0.25 of its time
(issue 14).  Every side's CPU seconds (``*_cpu_s``) are printed beside the
wall times.

A seeded CSV (``name,gender,height``; gender ``F``/``M`` with 30 % blank;
height in cm as text with one decimal) is written to a temporary folder.
Both sides then run as fresh subprocesses, so import costs count on both:

* ours: ``emgui-cli fill IN -o OUT.csv`` (the installed console script, or
  ``python -m emgui.cli`` when it is not installed);
* baseline (``pandas``): a script doing ``pandas.read_csv`` + scikit-learn's
  ``GaussianMixture`` fit on the heights + predicting the blank genders +
  ``DataFrame.to_csv``;
* lean (``lean``): the leanest script a skilled user would write: polars
  ``read_csv``, a plain numpy one-feature EM started from the typed rows'
  statistics (3 iterations), polars ``write_csv``; no messy-cell parsing, no
  spellings, no model choice or self-check.

The sides are run in turn ``R`` times (default 3) after one unmeasured
warm-up of each (file cache, byte-code), so a busy machine slows them alike;
each round starts with the next side, so none always runs right after
another (after the scikit-learn baseline a run was ~5 % slower).
The peak resident memory of our process is read from ``wait4``'s rusage.
Prints one JSON line::

    {"bench": "cli_fill", "rows": ..., "ours_s": median, "baseline_s": median,
     "ratio": baseline / ours, "target_ratio": 4, "target_met": ...,
     "lean_s": median, "ours_of_lean": ours / lean, "lean_target": 0.8, ...,
     "ours_peak_rss_mb": ..., "ours_runs": [...], "baseline_runs": [...], ...}

Targets: ours takes at most a quarter of the pandas baseline's time, and at
most 0.8 of the lean script's (issue 14).  ``--memory`` prints our peak
resident memory at each size, one run each, in MB and bytes per row (target:
at most 120 bytes per row at the largest).  ``--profile`` runs ours once more
under cProfile and prints its top functions by cumulative time to stderr.
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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 4.0
LEAN_TARGET = 0.8
# With --features 5: ours at most this fraction of polars + scikit-learn (issue 14).
SKLEARN5_TARGET = 0.25
#: Peak memory of ours per row at the largest size of ``--memory`` (issue 14).
MEMORY_TARGET = 120


def _cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"

_FIRST = np.array(
    ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
     "Kemi", "Liam", "Mia", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara"],
    dtype=object,
)  # fmt: skip

# The baseline: what a data scientist would write with pandas and scikit-learn.
_BASELINE = r"""
import sys
import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

src, dst = sys.argv[1], sys.argv[2]
df = pd.read_csv(src)
x = df["height"].to_numpy(dtype=float).reshape(-1, 1)
gm = GaussianMixture(n_components=2, random_state=0).fit(x)
post = gm.predict_proba(x)
blank = df["gender"].isna().to_numpy()
# The component with the smaller mean is the girls'.
names = np.where(np.argsort(gm.means_.ravel()) == 0, "F", "M")
guess = post.argmax(axis=1)
df.loc[blank, "gender"] = names[guess[blank]]
df["gender_imputed"] = blank
df["gender_confidence"] = np.where(blank, post.max(axis=1), np.nan)
df.to_csv(dst, index=False)
"""


# The lean baseline: polars for the file, numpy for a one-feature EM.
_LEAN = r"""
import sys
import numpy as np
import polars as pl

src, dst = sys.argv[1], sys.argv[2]
df = pl.read_csv(src)
x = df["height"].to_numpy().astype(float)
g = df["gender"]
blank = g.is_null().to_numpy()
typed = g.to_numpy()
classes = ["F", "M"]
w = np.array([np.mean(typed[~blank] == c) for c in classes])
mu = np.array([x[~blank][typed[~blank] == c].mean() for c in classes])
var = np.array([x[~blank][typed[~blank] == c].var() for c in classes])
lab = np.where(typed[~blank] == "F", 0, 1)
xl, xu = x[~blank], x[blank]
for _ in range(3):
    logp = np.log(w) - 0.5 * np.log(2 * np.pi * var) - 0.5 * (xu[:, None] - mu) ** 2 / var
    logp -= logp.max(axis=1, keepdims=True)
    r = np.exp(logp)
    r /= r.sum(axis=1, keepdims=True)
    resp = np.zeros((len(xl), 2))
    resp[np.arange(len(xl)), lab] = 1.0
    n = resp.sum(axis=0) + r.sum(axis=0)
    mu = (resp.T @ xl + r.T @ xu) / n
    var = (resp.T @ xl**2 + r.T @ xu**2) / n - mu**2
    w = n / n.sum()
guess = r.argmax(axis=1)
filled = typed.copy()
filled[blank] = np.array(classes)[guess]
conf = np.full(len(x), np.nan)
conf[blank] = r.max(axis=1)
df = df.with_columns(pl.Series("gender", filled), pl.Series("gender_imputed", blank),
                     pl.Series("gender_confidence", conf).fill_nan(None))
df.write_csv(dst)
"""


# The 5-feature baseline: polars for the file, scikit-learn's GaussianMixture
# started from the typed rows' means (the fairest start a user would give it).
_SKLEARN5 = r"""
import sys
import numpy as np
import polars as pl
from sklearn.mixture import GaussianMixture

src, dst = sys.argv[1], sys.argv[2]
features = sys.argv[3].split(",")
df = pl.read_csv(src)
x = df.select(features).to_numpy().astype(float)
g = df["gender"]
blank = g.is_null().to_numpy()
typed = g.to_numpy()
classes = ["F", "M"]
means = np.stack([x[~blank][typed[~blank] == c].mean(axis=0) for c in classes])
gm = GaussianMixture(n_components=2, means_init=means, random_state=0).fit(x)
post = gm.predict_proba(x[blank])
filled = typed.copy()
filled[blank] = np.array(classes)[post.argmax(axis=1)]
conf = np.full(len(x), np.nan)
conf[blank] = post.max(axis=1)
df = df.with_columns(pl.Series("gender", filled), pl.Series("gender_imputed", blank),
                     pl.Series("gender_confidence", conf).fill_nan(None))
df.write_csv(dst)
"""

#: The five features of ``--features 5``: (name, girls' mean, boys' mean, sd, decimals).
FEATURES5 = (
    ("height", 162.0, 176.0, 6.5, 1),
    ("weight", 58.0, 72.0, 8.0, 1),
    ("arm_span", 160.0, 178.0, 7.0, 1),
    ("foot", 23.5, 26.5, 1.2, 1),
    ("shoulder", 36.0, 41.0, 2.0, 1),
)


def make_csv(path: str | os.PathLike, rows: int, seed: int = 0, features: int = 1) -> None:
    """Write the benchmark's sheet: ``name,gender,height`` with ``rows`` data rows.

    Parameters
    ----------
    path : str or os.PathLike
        Target CSV file.
    rows : int
        Number of data rows.
    seed : int
        Seed of the random generator: the same seed gives the same file.
    features : {1, 5}
        ``height`` alone, or the five columns of :data:`FEATURES5`
        (correlated within each class through a shared body-size factor).
    """
    rng = np.random.default_rng(seed)
    header = "name,gender,height"
    if features == 5:
        header += "".join("," + f[0] for f in FEATURES5[1:])
    elif features != 1:
        raise ValueError("features must be 1 or 5")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(header + "\n")
        # In blocks of a million rows, so 30M rows need no 30M Python strings
        # at once (a file of at most a million rows is the same as before).
        for start in range(0, rows, _BLOCK):
            n = min(_BLOCK, rows - start)
            male = rng.random(n) < 0.5
            height = np.where(male, rng.normal(176.0, 7.5, n), rng.normal(162.0, 6.5, n))
            gender = np.where(male, "M", "F").astype(object)
            gender[rng.random(n) < 0.3] = ""
            names = (_FIRST[rng.integers(0, len(_FIRST), n)] + " "
                     + np.arange(start, start + n).astype(str).astype(object))
            heights = np.char.mod("%.1f", np.round(height, 1)).astype(object)
            lines = names + "," + gender + "," + heights
            if features == 5:
                size = (height - np.where(male, 176.0, 162.0)) / np.where(male, 7.5, 6.5)  # body size, in sd
                for _name, girls, boys, sd, _ in FEATURES5[1:]:
                    value = np.where(male, boys, girls) + sd * (0.6 * size + 0.8 * rng.standard_normal(n))
                    lines = lines + "," + np.char.mod("%.1f", np.round(value, 1)).astype(object)
            f.write("\n".join(lines.tolist()))
            f.write("\n")


_BLOCK = 1_000_000


def _make_csv_apart(path: str, rows: int, features: int = 1) -> None:
    """:func:`make_csv` in a child process, so this one stays small.

    A child's peak RSS as ``wait4`` reports it includes its parent's at the
    fork (Linux records the old memory's high-water mark at ``exec``): a
    parent that had built a million lines would count in ours.
    """
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from bench_cli import make_csv; make_csv({path!r}, {rows}, features={features})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _ours_cmd() -> list[str]:
    script = Path(sys.executable).with_name("emgui-cli")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "emgui.cli"]


def _env() -> dict:
    """The children's environment: byte-code written and read as an installed program's is.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in some shells and containers),
    every run would compile our modules from source again (~0.2 s), which
    no installed program does: its wheel's byte-code is compiled at install.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd: list[str], cpu: list[float] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one subprocess; raises if it fails.

    Its CPU seconds (user + system, all threads) are appended to ``cpu``:
    on a shared machine they vary less than the wall time, though a BLAS
    thread spinning while it waits counts too.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=_env())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.strip()}")
    if cpu is not None:
        cpu.append(round(usage.ru_utime + usage.ru_stime, 3))
    # ru_maxrss is in kilobytes on Linux.
    return wall, usage.ru_maxrss / 1024


def _memory_curve(sizes: list[int], keep: str | None) -> int:
    """Peak resident memory of ``emgui-cli fill`` at each size, in MB and bytes per row.

    One run per size (a 30M-row file takes minutes and several GB): the
    process's own peak (``wait4``'s ``ru_maxrss``), interpreter and
    libraries included.  One JSON line per size, then a summary line.
    """
    folder = keep or tempfile.mkdtemp(prefix="bench_cli_mem_")
    os.makedirs(folder, exist_ok=True)
    curve = []
    try:
        for rows in sizes:
            src = os.path.join(folder, f"class_{rows}.csv")
            _make_csv_apart(src, rows)
            out = os.path.join(folder, f"ours_{rows}.csv")
            wall, peak = _run([*_ours_cmd(), "fill", src, "-o", out])
            point = {
                "bench": "cli_memory",
                "rows": rows,
                "peak_rss_mb": round(peak, 1),
                "bytes_per_row": round(peak * 2**20 / rows, 1),
                "seconds": round(wall, 2),
            }
            curve.append(point)
            print(json.dumps(point), flush=True)
            if not keep:
                os.remove(src)
                os.remove(out)
        largest = curve[-1]
        print(json.dumps({
            "bench": "cli_memory_curve",
            "rows": [p["rows"] for p in curve],
            "peak_rss_mb": [p["peak_rss_mb"] for p in curve],
            "bytes_per_row": [p["bytes_per_row"] for p in curve],
            "target_bytes_per_row": MEMORY_TARGET,
            "target_met": largest["bytes_per_row"] <= MEMORY_TARGET,
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "cpu": _cpu_model(),
        }), flush=True)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("--no-baseline", action="store_true", help="time ours only")
    parser.add_argument("--baselines", default=None,
                        help="which baselines to run beside ours (pandas, lean; sklearn5 with "
                             "--features 5); default pandas,lean, or sklearn5 with --features 5")
    parser.add_argument("--features", type=int, choices=(1, 5), default=1,
                        help="feature columns in the CSV: height alone, or five body measures")
    parser.add_argument("--before", metavar="EMGUI_CLI",
                        help="also run this emgui-cli (e.g. a checkout of an older commit's "
                             ".venv/bin/emgui-cli) alternately with the others, as 'before'")
    parser.add_argument("--profile", action="store_true",
                        help="profile one more run of ours (cProfile, top 25 by cumulative time, on stderr)")
    parser.add_argument("--memory", metavar="N,N,...",
                        help="measure our peak memory at these row counts instead (one run each, no baseline)")
    args = parser.parse_args(argv)
    if args.memory:
        return _memory_curve([int(float(n)) for n in args.memory.split(",")], args.keep)
    if args.baselines is None:
        args.baselines = "sklearn5" if args.features == 5 else "pandas,lean"
    wanted = set() if args.no_baseline else {b.strip() for b in args.baselines.split(",") if b.strip()}
    if args.features == 5 and wanted - {"sklearn5"}:
        parser.error("with --features 5 the baseline is sklearn5 (the others fit height alone)")

    folder = args.keep or tempfile.mkdtemp(prefix="bench_cli_")
    os.makedirs(folder, exist_ok=True)
    try:
        src = os.path.join(folder, "class.csv")
        _make_csv_apart(src, args.rows, args.features)
        ours = [*_ours_cmd(), "fill", src, "-o", os.path.join(folder, "ours.csv")]
        names = ",".join(f[0] for f in FEATURES5[: args.features])
        if args.features > 1:
            ours += ["--features", names]
        sk5_script = os.path.join(folder, "sklearn5.py")
        Path(sk5_script).write_text(_SKLEARN5, encoding="utf-8")
        sk5 = [sys.executable, sk5_script, src, os.path.join(folder, "sklearn5.csv"), names]
        base_script = os.path.join(folder, "baseline.py")
        Path(base_script).write_text(_BASELINE, encoding="utf-8")
        base = [sys.executable, base_script, src, os.path.join(folder, "baseline.csv")]
        lean_script = os.path.join(folder, "lean.py")
        Path(lean_script).write_text(_LEAN, encoding="utf-8")
        lean = [sys.executable, lean_script, src, os.path.join(folder, "lean.csv")]

        sides = {"ours": ours}
        if args.before:
            sides["before"] = [args.before, "fill", src, "-o", os.path.join(folder, "before.csv")]
            if args.features > 1:
                sides["before"] += ["--features", names]
        if "pandas" in wanted:
            sides["baseline"] = base
        if "lean" in wanted:
            sides["lean"] = lean
        if "sklearn5" in wanted:
            sides["sklearn5"] = sk5
        times: dict[str, list[float]] = {k: [] for k in sides}
        cpu: dict[str, list[float]] = {k: [] for k in sides}
        rss: list[float] = []
        for cmd in sides.values():
            _run(cmd)  # warm-up: file cache and byte-code
        keys = list(sides)
        for r in range(args.repeat):
            # Each round starts with the next side: a run just after the
            # scikit-learn baseline was ~5 % slower (the same build on both
            # sides, 7 rounds), so no side always takes that place.
            for key in keys[r % len(keys):] + keys[: r % len(keys)]:
                cmd = sides[key]
                wall, peak = _run(cmd, cpu[key])
                times[key].append(round(wall, 3))
                if key == "ours":
                    rss.append(peak)

        ours_s = statistics.median(times["ours"])
        out = {
            "bench": "cli_fill",
            "rows": args.rows,
            "features": args.features,
            "ours_s": round(ours_s, 3),
            "ours_runs": times["ours"],
            "ours_peak_rss_mb": round(max(rss), 1),
        }
        out["ours_min_max"] = [min(times["ours"]), max(times["ours"])]
        for key in sides:
            out[f"{key}_cpu_s"] = statistics.median(cpu[key])
        def side(key: str) -> float:
            """A side's median, its runs and their range into ``out``; the median."""
            median = statistics.median(times[key])
            out.update({f"{key}_s": round(median, 3), f"{key}_runs": times[key],
                        f"{key}_min_max": [min(times[key]), max(times[key])]})
            return median

        if "lean" in sides:
            lean_s = side("lean")
            out.update(
                ours_of_lean=round(ours_s / lean_s, 2),
                lean_target=LEAN_TARGET,
                lean_target_met=ours_s / lean_s <= LEAN_TARGET,
            )
        if "sklearn5" in sides:
            sk5_s = side("sklearn5")
            out.update(
                ours_of_sklearn5=round(ours_s / sk5_s, 3),
                ours_of_sklearn5_cpu=round(out["ours_cpu_s"] / out["sklearn5_cpu_s"], 3),
                sklearn5_target=SKLEARN5_TARGET,
                sklearn5_target_met=ours_s / sk5_s <= SKLEARN5_TARGET,
            )
        if "before" in sides:
            before_s = side("before")
            out["ours_of_before"] = round(ours_s / before_s, 3)
            if "lean" in sides:
                out["before_of_lean"] = round(before_s / statistics.median(times["lean"]), 2)
        if "baseline" in sides:
            base_s = statistics.median(times["baseline"])
            ratio = base_s / ours_s
            out.update(
                baseline_s=round(base_s, 3),
                baseline_runs=times["baseline"],
                ratio=round(ratio, 2),
                target_ratio=TARGET_RATIO,
                target_met=ratio >= TARGET_RATIO,
            )
        out["load_avg_1min"] = round(os.getloadavg()[0], 2)
        out["cpus"] = os.cpu_count()
        out["cpu"] = _cpu_model()
        print(json.dumps(out), flush=True)
        if args.profile:
            stats = os.path.join(folder, "ours.prof")
            # One BLAS thread, as emgui-cli's main() sets before numpy loads.
            code = ("import os, sys, cProfile; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); "
                    "from emgui.cli import _main; "
                    f"sys.exit(cProfile.run('_main(sys.argv[1:])', {stats!r}) or 0)")
            _run([sys.executable, "-c", code, *ours[ours.index("fill"):]])  # the same arguments, --features too
            import pstats

            pstats.Stats(stats, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
