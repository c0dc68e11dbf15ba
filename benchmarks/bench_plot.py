"""Cost of one live-plot frame: ``show_snapshot`` + redraw of the whole widget.

Run: ``python benchmarks/bench_plot.py [--rows N] [--frames F] [--size WxH]``.
Prints one JSON line ``{"bench": "plot_frame", "ms_per_frame_1d": ...,
"ms_per_frame_2d": ...}`` (median wall milliseconds over the frames), the
same as GUI-thread CPU time (``cpu_ms_per_frame_*``, steadier on a busy
machine) and the one-off ``set_data`` times.  Target: about 7 ms per frame
or less.

A frame is what the GUI does per timer tick: ``show_snapshot`` with new
parameters, the coalescing timer firing (``flush``), and a full repaint of
the widget forced with ``grab()`` (offscreen platform), which renders every
item, not only the region a real screen would repaint: an upper bound.

Data: 1,000,000 rows, two Gaussians (heights 162 / 176, sd 6.5 / 7.5,
rounded to whole centimetres), 30% labelled; for two features a correlated
body-mass column.  The histogram (one feature) is computed once; the scatter
(two features) shows a fixed sample of 20,000 rows.  Snapshots move the
components a little every frame, so no frame can reuse the previous one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from emgui.core.mixture import Snapshot  # noqa: E402
from emgui.ui.plot import MixturePlot  # noqa: E402


def _data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.45).astype(np.intp)
    height = np.round(np.where(y == 1, rng.normal(176.0, 7.5, rows), rng.normal(162.0, 6.5, rows)))
    cols = [height]
    if features >= 2:
        cols.append(0.9 * (height - 100.0) + np.where(y == 1, 10.0, 0.0) + rng.normal(0, 6, rows))
    labels = np.where(rng.random(rows) < 0.3, y, -1)
    return np.stack(cols, axis=1), labels


def _snapshots(x: np.ndarray, labels: np.ndarray, frames: int) -> list[Snapshot]:
    """Parameters drifting from a poor start towards the class statistics."""
    dim = x.shape[1]
    target_mu = np.stack([x[labels == k].mean(axis=0) for k in (0, 1)])
    target_cov = np.stack([np.cov(x[labels == k].T).reshape(dim, dim) for k in (0, 1)])
    start_mu = target_mu.mean(axis=0) + np.array([[-1.0], [1.0]]) * 2.0
    start_cov = target_cov * 2.0
    out = []
    for i in range(frames):
        t = (i + 1) / frames
        out.append(
            Snapshot(
                iteration=i,
                log_likelihood=-3.0e6 + 1.0e6 * (1 - np.exp(-5 * t)),
                weights=np.array([0.55 - 0.1 * t, 0.45 + 0.1 * t]),
                means=(1 - t) * start_mu + t * target_mu,
                covariances=(1 - t) * start_cov + t * target_cov,
                converged=False,
            )
        )
    return out


def _bench(app: QApplication, features: int, rows: int, frames: int, size: tuple[int, int]) -> dict:
    x, labels = _data(rows, features)
    plot = MixturePlot()
    plot.resize(*size)
    names = ["female", "male"]
    units = "height (cm)" if features == 1 else ["height (cm)", "mass (kg)"]

    t0 = time.perf_counter()
    plot.set_data(x, labels, names, units)
    set_data_ms = (time.perf_counter() - t0) * 1e3

    snaps = _snapshots(x, labels, frames)
    # Warm-up: first paint lays out the axes and fills the item caches.
    plot.show_snapshot(snaps[0])
    plot.flush()
    for _ in range(3):
        app.processEvents()
        plot.grab()

    times, cpu = [], []
    for snap in snaps:
        t0, c0 = time.perf_counter(), time.thread_time()
        plot.show_snapshot(snap)
        plot.flush()  # what the coalescing timer does when it fires
        plot.grab()  # force a full repaint
        cpu.append((time.thread_time() - c0) * 1e3)
        times.append((time.perf_counter() - t0) * 1e3)
    assert plot.frames_drawn == frames + 1
    plot.deleteLater()
    app.processEvents()
    return {
        "ms_per_frame": statistics.median(times),
        "cpu_ms_per_frame": statistics.median(cpu),
        "set_data_ms": set_data_ms,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="900x600", help="widget size, WxH")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))

    app = QApplication.instance() or QApplication([])
    one = _bench(app, 1, args.rows, args.frames, size)
    two = _bench(app, 2, args.rows, args.frames, size)
    print(
        json.dumps(
            {
                "bench": "plot_frame",
                "ms_per_frame_1d": round(one["ms_per_frame"], 3),
                "ms_per_frame_2d": round(two["ms_per_frame"], 3),
                # CPU time of the GUI thread: what the frame costs when
                # other processes share the cores (wall time then inflates).
                "cpu_ms_per_frame_1d": round(one["cpu_ms_per_frame"], 3),
                "cpu_ms_per_frame_2d": round(two["cpu_ms_per_frame"], 3),
                "set_data_ms_1d": round(one["set_data_ms"], 1),
                "set_data_ms_2d": round(two["set_data_ms"], 1),
                "rows": args.rows,
                "frames": args.frames,
                "size": list(size),
            }
        )
    )


if __name__ == "__main__":
    main()
