"""One EM iteration with blank feature values against one on complete data.

Run: ``python benchmarks/bench_em_missing.py [--rows N] [--repeat R] [--blank P]``.
Prints one JSON line: median milliseconds per ``EMFit.step`` (E + M +
log-likelihood) on N rows with two features, 30 % of the labels typed, (a)
every value there and (b) the same rows with a share P (default 10 %) of the
numbers blanked at random (rows left with no value dropped: ~1 %), and their
ratio (issue 13's target: at most 2).  The two fits are stepped in
interleaved rounds so that a busy machine slows both alike.

Data: as ``bench_em.py`` (two Gaussians, a correlated second column), seed 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from emgui.core.mixture import EMFit  # noqa: E402


def _data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.45).astype(np.intp)
    height = np.where(y == 1, rng.normal(176.0, 7.5, rows), rng.normal(162.0, 6.5, rows))
    mass = 0.9 * (height - 100.0) + np.where(y == 1, 10.0, 0.0) + rng.normal(0, 6, rows)
    x = np.stack([height, mass], axis=1)
    labels = np.where(rng.random(rows) < 0.3, y, -1)
    return x, labels


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--blank", type=float, default=0.1)
    args = parser.parse_args(argv)
    x, labels = _data(args.rows)
    rng = np.random.default_rng(1)
    holes = x.copy()
    holes[rng.random(x.shape) < args.blank] = np.nan
    keep = np.isfinite(holes).any(axis=1)
    holes, hole_labels = holes[keep], labels[keep]

    def fresh(data, lab):
        em = EMFit(data, lab, 2, tol=0.0, max_iter=10**9, n_init=1)
        for _ in range(3):  # iteration 0 and two more: past the first big moves
            em.step()
        return em

    t0 = time.perf_counter()
    full = fresh(x, labels)
    setup_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    part = fresh(holes, hole_labels)
    setup_part = time.perf_counter() - t0
    ours_full, ours_part = [], []
    for _ in range(args.repeat):
        if full.done:
            full = fresh(x, labels)
        if part.done:
            part = fresh(holes, hole_labels)
        ours_full.append(_time(full.step))
        ours_part.append(_time(part.step))
    incomplete = int(np.count_nonzero(~np.isfinite(holes).all(axis=1)))
    report = {
        "bench": "em_missing",
        "rows": args.rows,
        "rows_with_blanks_fitted": incomplete,
        "rows_dropped_no_value": int(np.count_nonzero(~keep)),
        "blank_share": args.blank,
        "labelled": 0.3,
        "complete_ms": round(statistics.median(ours_full), 2),
        "with_blanks_ms": round(statistics.median(ours_part), 2),
        "ratio": round(statistics.median(ours_part) / statistics.median(ours_full), 2),
        "ratio_of_minima": round(min(ours_part) / min(ours_full), 2),
        "target_ratio": 2.0,
        "setup_complete_s": round(setup_full, 2),
        "setup_with_blanks_s": round(setup_part, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
