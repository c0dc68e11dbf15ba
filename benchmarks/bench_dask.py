"""``emgui-cli fill --engine dask`` on a folder of Parquet parts: scaling with workers and rows.

Run: ``python benchmarks/bench_dask.py [--rows N] [--part-rows P] [--workers 1,2]
[--repeat R] [--memory] [--keep DIR]``.

A seeded folder of Parquet parts (``name,gender,height``: gender ``F``/``M``
with 30 % blank, height in cm, float64; ``P`` rows a part, default 1M) is
written to a temporary folder.  Then for each worker count ``W`` the
command ``emgui-cli fill DIR -o OUT --engine dask --workers W`` runs as a
fresh subprocess ``R`` times (default 1: a 40M-row run takes minutes), the
local cluster's start-up included.  ``--memory`` also times the in-memory
fill of the same rows as one Parquet file (as a reference; it needs ~200
bytes a row).

Prints one JSON line per worker count::

    {"bench": "dask_fill", "rows": ..., "parts": ..., "workers": W,
     "median_s": ..., "runs": [...], "rows_per_s": ..., "cpus": ..., "cpu": "..."}
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
from machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent


def make_parts(folder: str, rows: int, part_rows: int, seed: int = 0) -> int:
    """Write ``rows`` rows as Parquet parts of ``part_rows``; returns the number of parts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_parts = 0
    for start in range(0, rows, part_rows):
        n = min(part_rows, rows - start)
        male = rng.random(n) < 0.5
        height = np.round(np.where(male, rng.normal(176.0, 7.5, n), rng.normal(162.0, 6.5, n)), 1)
        gender = pa.array(np.where(male, "M", "F")).to_pylist()
        for i in np.flatnonzero(rng.random(n) < 0.3):
            gender[i] = None
        names = pa.array(np.char.add("p", np.arange(start, start + n).astype(str)))
        table = pa.table({"name": names, "gender": pa.array(gender, pa.string()), "height": height})
        pq.write_table(table, os.path.join(folder, f"part-{n_parts:05d}.parquet"))
        n_parts += 1
    return n_parts


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("emgui-cli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "emgui.cli"]


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--part-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="also time the in-memory fill")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    args = parser.parse_args(argv)

    folder = args.keep or tempfile.mkdtemp(prefix="bench_dask_")
    os.makedirs(folder, exist_ok=True)
    common = {"rows": args.rows, "cpus": os.cpu_count(), "cpu": cpu_model()}
    try:
        parts = os.path.join(folder, "parts")
        t0 = time.perf_counter()
        n_parts = make_parts(parts, args.rows, args.part_rows)
        common["parts"] = n_parts
        print(json.dumps({"bench": "dask_data", **common, "write_s": round(time.perf_counter() - t0, 1)}),
              flush=True)
        for w in (int(x) for x in args.workers.split(",")):
            runs = []
            for r in range(args.repeat):
                out = os.path.join(folder, f"out-{w}-{r}")
                runs.append(round(_run([*_cli(), "fill", parts, "-o", out, "--engine", "dask",
                                        "--workers", str(w)]), 2))
                shutil.rmtree(out, ignore_errors=True)
            med = statistics.median(runs)
            print(json.dumps({"bench": "dask_fill", **common, "workers": w, "median_s": med,
                              "runs": runs, "rows_per_s": round(args.rows / med),
                              "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)
        if args.memory:
            import pyarrow.dataset as ds
            import pyarrow.parquet as pq

            whole = os.path.join(folder, "whole.parquet")
            pq.write_table(ds.dataset(parts).to_table(), whole)
            runs = []
            for _ in range(args.repeat):
                runs.append(round(_run([*_cli(), "fill", whole, "-o", os.path.join(folder, "mem.parquet")]), 2))
            med = statistics.median(runs)
            print(json.dumps({"bench": "memory_fill", **common, "median_s": med, "runs": runs,
                              "rows_per_s": round(args.rows / med)}), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
