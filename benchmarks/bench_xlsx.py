"""XLSX in and out: ``emgui-cli fill x.xlsx -o y.xlsx`` against pandas, and the XLSX writers side by side.

Run: ``python benchmarks/bench_xlsx.py [--rows N] [--repeat R] [--part cli,writers]
[--keep DIR]``.

A seeded workbook (``id,name,gender,height``: ids and heights as number
cells, gender ``F``/``M`` with 30 % blank) of ``N`` rows (default 100,000)
is written to a temporary folder.

``cli``: both sides run as fresh subprocesses, alternately ``R`` times
(default 5) after one unmeasured warm-up of each, so import costs count on
both and a busy machine slows both alike:

* ours: ``emgui-cli fill IN.xlsx -o OUT.xlsx`` (filled cells shaded by
  confidence, each with a comment giving the class probabilities);
* baseline (``pandas``): ``pandas.read_excel(engine="calamine")``,
  scikit-learn's ``GaussianMixture`` on the heights, the blank genders
  predicted, ``DataFrame.to_excel`` (xlsxwriter, pandas' faster engine);
  no shading, no comments;
* ``pandas_io``: the read and the write alone (no fit), for reference.

``writers``: the table our fill writes (the same cells, colours and
comments, captured from one in-process fill) is written by each candidate
writer in turn, ``R`` rounds, CPU and wall time each (in this process, so
imports do not count):

* ``rvgsrust-xlsxwriter`` (rust_xlsxwriter, constant memory): ours,
  ``fileio.write_table``; everything;
* ``xlsxwriter`` (constant memory): what ``fileio`` did before, cell by cell;
  everything;
* ``pyexcelerate``: cells, fill colours and number formats; it has no
  comments, and writes text starting with ``=`` as a formula;
* ``rustpy-xlsxwriter``: the cells only: it takes a format per column, no
  per-cell fill, and notes on header cells only;
* ``pandas to_excel`` (xlsxwriter engine): the cells only.

Prints one JSON line::

    {"bench": "xlsx", "rows": ..., "ours_s": median, "baseline_s": median,
     "ratio": baseline / ours, "target_ratio": 3, "target_met": ...,
     "ours_cpu_s": ..., "baseline_cpu_s": ..., "cpu_ratio": ..., "ours_runs": [...], "baseline_runs": [...], "pandas_io_s": ...,
     "writers": {"name": {"cpu_s": median, "wall_s": median, "wall_min": ...,
     "wall_max": ..., "writes": "what it could write"}}, ...}

Target (issue 14): the whole fill at least 3x faster than pandas + to_excel.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 3.0

_BASELINE = r"""
import sys
import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

src, dst = sys.argv[1], sys.argv[2]
df = pd.read_excel(src, engine="calamine")
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
df.to_excel(dst, index=False, engine="xlsxwriter")
"""

_PANDAS_IO = r"""
import sys
import pandas as pd

pd.read_excel(sys.argv[1], engine="calamine").to_excel(sys.argv[2], index=False, engine="xlsxwriter")
"""

# Captures what our fill hands to write_table, then writes it as usual.
_CAPTURE = r"""
import pickle, sys
from emgui import cli
from emgui.core import fileio

real = fileio.write_table

def spy(path, columns, cells, **kw):
    with open(sys.argv[3], "wb") as f:
        pickle.dump((list(columns), [fileio.object_cells(c) for c in cells], kw), f)
    return real(path, columns, cells, **kw)

fileio.write_table = spy
sys.exit(cli.main(["fill", sys.argv[1], "-o", sys.argv[2]]))
"""

_FIRST = np.array(["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas"], dtype=object)


def make_xlsx(path: str | os.PathLike, rows: int, seed: int = 0) -> None:
    """Write the benchmark's workbook: ``id,name,gender,height`` with ``rows`` data rows.

    Parameters
    ----------
    path : str or os.PathLike
        Target ``.xlsx`` file.
    rows : int
        Number of data rows.
    seed : int
        Seed of the random generator: the same seed gives the same file.
    """
    from emgui.core import fileio

    rng = np.random.default_rng(seed)
    male = rng.random(rows) < 0.5
    height = np.where(male, rng.normal(176.0, 7.5, rows), rng.normal(162.0, 6.5, rows))
    gender = np.where(male, "M", "F").astype(object)
    gender[rng.random(rows) < 0.3] = None
    ids = np.arange(1, rows + 1).astype(str).astype(object)
    names = _FIRST[rng.integers(0, len(_FIRST), rows)] + " " + ids
    heights = np.char.mod("%.1f", np.round(height, 1)).astype(object)
    fileio.write_table(path, ["id", "name", "gender", "height"], [ids, names, gender, heights])


def _ours_cmd() -> list[str]:
    script = Path(sys.executable).with_name("emgui-cli")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "emgui.cli"]


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one subprocess; raises if it fails.

    The CPU time tells the two sides apart more steadily than the wall time
    on a machine shared with other work.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({code}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def bench_cli(folder: str, src: str, repeat: int) -> dict:
    base_script = os.path.join(folder, "baseline.py")
    io_script = os.path.join(folder, "pandas_io.py")
    Path(base_script).write_text(_BASELINE, encoding="utf-8")
    Path(io_script).write_text(_PANDAS_IO, encoding="utf-8")
    sides = {
        "ours": [*_ours_cmd(), "fill", src, "-o", os.path.join(folder, "ours.xlsx")],
        "baseline": [sys.executable, base_script, src, os.path.join(folder, "baseline.xlsx")],
        "pandas_io": [sys.executable, io_script, src, os.path.join(folder, "pandas_io.xlsx")],
    }
    for cmd in sides.values():  # warm-up: file cache, byte-code (not measured)
        _run(cmd)
    runs: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeat):
        for k, cmd in sides.items():
            wall, used = _run(cmd)
            runs[k].append(wall)
            cpu[k].append(used)
    ours, base, pio = (statistics.median(runs[k]) for k in ("ours", "baseline", "pandas_io"))
    ratios = [b / o for o, b in zip(runs["ours"], runs["baseline"], strict=True)]
    return {
        "ours_s": round(ours, 3),
        "baseline_s": round(base, 3),
        "ratio": round(base / ours, 2),
        "ratio_per_round_min_max": [round(min(ratios), 2), round(max(ratios), 2)],
        "target_ratio": TARGET_RATIO,
        "target_met": base / ours >= TARGET_RATIO,
        "pandas_io_s": round(pio, 3),
        "ratio_to_pandas_io": round(pio / ours, 2),
        "ours_cpu_s": round(statistics.median(cpu["ours"]), 3),
        "baseline_cpu_s": round(statistics.median(cpu["baseline"]), 3),
        "cpu_ratio": round(statistics.median(cpu["baseline"]) / statistics.median(cpu["ours"]), 2),
        "pandas_io_cpu_s": round(statistics.median(cpu["pandas_io"]), 3),
        "ours_runs": [round(x, 3) for x in runs["ours"]],
        "baseline_runs": [round(x, 3) for x in runs["baseline"]],
        "pandas_io_runs": [round(x, 3) for x in runs["pandas_io"]],
    }


# --------------------------------------------------------------------------
# The writers, each given the same table


def _values(cells, computed):
    """Per column: the Python value of each cell (str, float, bool or None) and its number format."""
    from emgui.core import fileio

    out = []
    for j, col in enumerate(cells):
        is_number, values, formats = fileio._xlsx_numbers(col)
        vals = col.copy()
        vals[is_number] = values[is_number].tolist()
        booleans = fileio._COMPUTED_BOOLEANS if j in computed else fileio._BOOLEANS
        for text, flag in booleans.items():
            vals[col == text] = flag
        out.append((vals, formats))
    return out


def _write_xlsxwriter(path, columns, cells, fills, notes, computed):
    """What fileio did before: xlsxwriter in constant-memory mode, cell by cell."""
    import xlsxwriter

    typed = _values(cells, computed)
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False,
                                      "strings_to_formulas": False, "strings_to_urls": False})  # fmt: skip
    ws = book.add_worksheet("Sheet1")
    ws.freeze_panes(1, 0)
    bold = book.add_format({"bold": True})
    for j, title in enumerate(columns):
        ws.set_column(j, j, min(max(len(title) + 4, 10), 60))
        ws.write_string(0, j, title, bold)
    formats = {}

    def cell_format(color, number_format):
        if color is None and number_format is None:
            return None
        key = (color, number_format)
        if key not in formats:
            props = {} if color is None else {"bg_color": color, "pattern": 1}
            if number_format is not None:
                props["num_format"] = number_format
            formats[key] = book.add_format(props)
        return formats[key]

    for i in range(len(cells[0])):
        r = i + 1
        for j, (vals, fmts) in enumerate(typed):
            v = vals[i]
            color = fills[j][i] if j in fills else None
            if v is None:
                if color is not None:
                    ws.write_blank(r, j, None, cell_format(color, None))
            elif type(v) is str:
                ws.write_string(r, j, v, cell_format(color, None))
            elif type(v) is bool:
                ws.write_boolean(r, j, v, cell_format(color, None))
            else:
                ws.write_number(r, j, v, cell_format(color, fmts[i]))
            note = notes[j][i] if j in notes else None
            if note is not None:
                ws.write_comment(r, j, note, {"author": "EM Gap Filler"})
    book.close()


def _write_pyexcelerate(path, columns, cells, fills, notes, computed):
    from pyexcelerate import Color, Fill, Format, Style, Workbook

    typed = _values(cells, computed)
    rows = [list(columns), *map(list, zip(*(v.tolist() for v, _ in typed), strict=True))]
    book = Workbook()
    ws = book.new_sheet("Sheet1", data=rows)
    styles = {}
    for j, (_vals, fmts) in enumerate(typed):
        colors = fills.get(j)
        for i in np.flatnonzero((fmts != None) | (colors != None if colors is not None else False)):  # noqa: E711
            color = None if colors is None else colors[i]
            key = (color, fmts[i])
            if key not in styles:
                fill = None if color is None else Fill(background=Color(*(int(color[p : p + 2], 16) for p in (1, 3, 5))))
                styles[key] = Style(fill=fill, format=None if fmts[i] is None else Format(fmts[i]))
            ws.set_cell_style(int(i) + 2, j + 1, styles[key])
    book.save(path)


def _write_rustpy(path, columns, cells, fills, notes, computed):
    import rustpy_xlsxwriter as rp

    typed = _values(cells, computed)
    records = [dict(zip(columns, row, strict=True)) for row in zip(*(v.tolist() for v, _ in typed), strict=True)]
    rp.write_worksheet(records, path, sheet_name="Sheet1", freeze_row=1, bold_headers=True)


def _write_pandas(path, columns, cells, fills, notes, computed):
    import pandas as pd

    typed = _values(cells, computed)
    pd.DataFrame({c: v for c, (v, _) in zip(columns, typed, strict=True)}).to_excel(path, index=False, engine="xlsxwriter")


def _write_ours(path, columns, cells, fills, notes, computed):
    from emgui.core import fileio

    fileio.write_table(path, columns, cells, fill_colors=fills, comments=notes, computed=computed)


WRITERS = {
    "rvgsrust-xlsxwriter (ours)": (_write_ours, "cells, number formats, fill colours, comments"),
    "xlsxwriter constant-memory (before)": (_write_xlsxwriter, "cells, number formats, fill colours, comments"),
    "pyexcelerate": (_write_pyexcelerate, "cells, number formats, fill colours; no comments (no API); '=' text becomes a formula"),
    "rustpy-xlsxwriter": (_write_rustpy, "cells only: formats per column, no per-cell fill, notes on header cells only"),
    "pandas to_excel (xlsxwriter)": (_write_pandas, "cells only"),
}


def bench_writers(folder: str, src: str, repeat: int) -> dict:
    captured = os.path.join(folder, "table.pkl")
    cmd = [sys.executable, "-c", _CAPTURE, src, os.path.join(folder, "captured.xlsx"), captured]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    with open(captured, "rb") as f:
        columns, cells, kw = pickle.load(f)
    fills, notes, computed = kw.get("fill_colors", {}), kw.get("comments", {}), set(kw.get("computed", ()))
    args = (columns, cells, fills, notes, computed)
    # Warm-up on the first 1,000 rows: imports and first-call costs out of the measured rounds.
    head = (columns, [c[:1000] for c in cells], {j: v[:1000] for j, v in fills.items()},
            {j: v[:1000] for j, v in notes.items()}, computed)  # fmt: skip
    for write, _ in WRITERS.values():
        write(os.path.join(folder, "warm.xlsx"), *head)
    cpu: dict[str, list[float]] = {k: [] for k in WRITERS}
    wall: dict[str, list[float]] = {k: [] for k in WRITERS}
    for _ in range(repeat):
        for name, (write, _) in WRITERS.items():
            path = os.path.join(folder, "w.xlsx")
            t, c = time.perf_counter(), time.process_time()
            write(path, *args)
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - t)
            os.unlink(path)
    return {
        name: {
            "cpu_s": round(statistics.median(cpu[name]), 3),
            "wall_s": round(statistics.median(wall[name]), 3),
            "wall_min": round(min(wall[name]), 3),
            "wall_max": round(max(wall[name]), 3),
            "writes": what,
        }
        for name, (_, what) in WRITERS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--part", default="cli,writers", help="what to measure: cli, writers or both")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.part.split(",") if p.strip()}

    folder = args.keep or tempfile.mkdtemp(prefix="bench_xlsx_")
    os.makedirs(folder, exist_ok=True)
    try:
        src = os.path.join(folder, "class.xlsx")
        make_xlsx(src, args.rows)
        result: dict = {"bench": "xlsx", "rows": args.rows, "repeat": args.repeat,
                        "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
        if "cli" in parts:
            result.update(bench_cli(folder, src, args.repeat))
        if "writers" in parts:
            result["writers"] = bench_writers(folder, src, args.repeat)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, ensure_ascii=False))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
