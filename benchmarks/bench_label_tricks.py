"""Is reading object pointers (``parsing._addresses``) worth it?  A/B of a whole 1M-row fill.

Run: ``python benchmarks/bench_label_tricks.py [--rows N] [--repeat R]``.

``emgui.core.parsing`` tells None cells and factorizes label columns by the
addresses an object array holds, read through ctypes (``_is_none``,
``_factorize_identity``, also used by ``_arrowtext.from_cells``).  The
plain alternatives are ``np.equal(arr, None)`` and a dict or Arrow pass.
Both variants run in one process, alternately (the plain one by replacing
those two functions), ``R`` times each after a warm-up, on
``bench_cli.py``'s CSV: ``emgui-cli fill`` in-process (imports excluded).
Besides the whole fill (noisy on a shared machine), the time spent inside
``_arrowtext.from_cells`` and ``parsing._factorize`` -- where the two
variants differ -- is summed per fill.  Prints one JSON line: medians,
min-max, and ``plain / tricks``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    from emgui import cli
    from emgui.core import _arrowtext, parsing

    tricks = (parsing._is_none, parsing._factorize_identity)
    inside = {"s": 0.0}
    depth = {"n": 0}

    def timed(module, name):
        f = getattr(module, name)

        def wrapper(*a, **k):
            depth["n"] += 1
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                depth["n"] -= 1
                if depth["n"] == 0:  # outermost call only: nested ones are inside it
                    inside["s"] += time.perf_counter() - t0

        setattr(module, name, wrapper)

    timed(_arrowtext, "from_cells")
    timed(parsing, "_factorize")

    def use_tricks():
        parsing._is_none, parsing._factorize_identity = tricks

    def use_plain():
        parsing._is_none = lambda arr: np.equal(arr, None)
        parsing._factorize_identity = lambda arr: None

    with tempfile.TemporaryDirectory(prefix="bench_tricks_") as folder:
        src, out = os.path.join(folder, "class.csv"), os.path.join(folder, "out.csv")
        bench_cli.make_csv(src, args.rows)
        sides = {"tricks": use_tricks, "plain": use_plain}
        times: dict[str, list[float]] = {k: [] for k in sides}
        helpers: dict[str, list[float]] = {k: [] for k in sides}
        for use in sides.values():
            use()
            cli.main(["fill", src, "-o", out])  # warm-up
        for _ in range(args.repeat):
            for key, use in sides.items():
                use()
                inside["s"] = 0.0
                t0 = time.perf_counter()
                cli.main(["fill", src, "-o", out])
                times[key].append(round(time.perf_counter() - t0, 3))
                helpers[key].append(round(inside["s"], 3))
        use_tricks()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "bench": "label_tricks", "rows": args.rows,
        **{f"{k}_s": med[k] for k in sides}, **{f"{k}_min_max": [min(v), max(v)] for k, v in times.items()},
        "plain_over_tricks": round(med["plain"] / med["tricks"], 3),
        **{f"{k}_helpers_s": statistics.median(v) for k, v in helpers.items()},
        **{f"{k}_helpers_min_max": [min(v), max(v)] for k, v in helpers.items()},
        "runs": times, "load_avg_1min": round(os.getloadavg()[0], 2), "cpu": bench_cli._cpu_model(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
