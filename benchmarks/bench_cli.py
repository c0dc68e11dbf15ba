"""The whole task: ``emgui-cli fill`` on a 1M-row CSV against pandas + scikit-learn.

Run: ``python benchmarks/bench_cli.py [--rows N] [--repeat R] [--keep DIR]``.

A seeded CSV (``name,gender,height``; gender ``F``/``M`` with 30 % blank;
height in cm as text with one decimal) is written to a temporary folder.
Both sides then run as fresh subprocesses, so import costs count on both:

* ours: ``emgui-cli fill IN -o OUT.csv`` (the installed console script, or
  ``python -m emgui.cli`` when it is not installed);
* baseline: a script doing ``pandas.read_csv`` + scikit-learn's
  ``GaussianMixture`` fit on the heights + predicting the blank genders +
  ``DataFrame.to_csv``.

The two are run alternately ``R`` times (default 3) after one unmeasured
warm-up of each (file cache, byte-code), so a busy machine slows both alike.
The peak resident memory of our process is read from ``wait4``'s rusage.
Prints one JSON line::

    {"bench": "cli_fill", "rows": ..., "ours_s": median, "baseline_s": median,
     "ratio": baseline / ours, "target_ratio": 4, "target_met": ...,
     "ours_peak_rss_mb": ..., "ours_runs": [...], "baseline_runs": [...], ...}

Target: ours takes at most a quarter of the baseline's time.
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


def make_csv(path: str | os.PathLike, rows: int, seed: int = 0) -> None:
    """Write the benchmark's sheet: ``name,gender,height`` with ``rows`` data rows.

    Parameters
    ----------
    path : str or os.PathLike
        Target CSV file.
    rows : int
        Number of data rows.
    seed : int
        Seed of the random generator: the same seed gives the same file.
    """
    rng = np.random.default_rng(seed)
    male = rng.random(rows) < 0.5
    height = np.where(male, rng.normal(176.0, 7.5, rows), rng.normal(162.0, 6.5, rows))
    gender = np.where(male, "M", "F").astype(object)
    gender[rng.random(rows) < 0.3] = ""
    names = _FIRST[rng.integers(0, len(_FIRST), rows)] + " " + np.arange(rows).astype(str).astype(object)
    heights = np.char.mod("%.1f", np.round(height, 1)).astype(object)
    lines = names + "," + gender + "," + heights
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("name,gender,height\n")
        f.write("\n".join(lines.tolist()))
        f.write("\n")


def _ours_cmd() -> list[str]:
    script = Path(sys.executable).with_name("emgui-cli")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "emgui.cli"]


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one subprocess; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.strip()}")
    # ru_maxrss is in kilobytes on Linux.
    return wall, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("--no-baseline", action="store_true", help="time ours only")
    args = parser.parse_args(argv)

    folder = args.keep or tempfile.mkdtemp(prefix="bench_cli_")
    os.makedirs(folder, exist_ok=True)
    try:
        src = os.path.join(folder, "class.csv")
        make_csv(src, args.rows)
        ours = [*_ours_cmd(), "fill", src, "-o", os.path.join(folder, "ours.csv")]
        base_script = os.path.join(folder, "baseline.py")
        Path(base_script).write_text(_BASELINE, encoding="utf-8")
        base = [sys.executable, base_script, src, os.path.join(folder, "baseline.csv")]

        sides = {"ours": ours} if args.no_baseline else {"ours": ours, "baseline": base}
        times: dict[str, list[float]] = {k: [] for k in sides}
        rss: list[float] = []
        for cmd in sides.values():
            _run(cmd)  # warm-up: file cache and byte-code
        for _ in range(args.repeat):
            for key, cmd in sides.items():
                wall, peak = _run(cmd)
                times[key].append(round(wall, 3))
                if key == "ours":
                    rss.append(peak)

        ours_s = statistics.median(times["ours"])
        out = {
            "bench": "cli_fill",
            "rows": args.rows,
            "ours_s": round(ours_s, 3),
            "ours_runs": times["ours"],
            "ours_peak_rss_mb": round(max(rss), 1),
        }
        if not args.no_baseline:
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
        print(json.dumps(out))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
