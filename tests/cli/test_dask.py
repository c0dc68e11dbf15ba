"""`emgui-cli fill --engine dask`: the same fill as in memory, over parts on a local Dask cluster.

One cluster of two worker processes serves the module (started once: ~2 s);
one test lets the command start its own.
"""

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emgui.cli import main
from emgui.core import _mixture_fast as _fast
from emgui.core import fileio

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def people(n, seed=1):
    """Heights by gender, a third of the genders blank, a few messy cells a fill must parse."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.5
    height = np.where(male, rng.normal(178, 7, n), rng.normal(164, 6.5, n)).round(1)
    gender = np.where(male, "male", "female").astype(object)
    gender[rng.random(n) < 0.33] = None
    gender[5] = "M"  # another spelling of a typed class
    cells = [f"{h:g}" for h in height]
    cells[7] = "5 ft 10"  # another unit: converted, and written back in cm
    cells[11] = "tall"  # unreadable: kept, with an issue
    cells[13] = None
    cells[17] = "236"  # unusual (8 SD from the nearest group): set aside
    return ["id", "gender", "height"], [
        np.array([str(i) for i in range(n)], dtype=object), gender, np.array(cells, dtype=object),
    ]


def write_parts(folder, columns, cells, sizes, ext):
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        part = [c[start : start + size] for c in cells]
        fileio.write_table(folder / f"p{i:02d}{ext}", columns, part)
        start += size
    assert start == len(cells[0])


def concat_parquet(folder):
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.iterdir()))


@pytest.mark.parametrize("n", [3_000, 26_000])  # all rows, and the in-memory fill's subsample
def test_parquet_parts_fill_as_in_memory(tmp_path, scheduler, n):
    columns, cells = people(n)
    whole = tmp_path / "all.parquet"
    fileio.write_table(whole, columns, cells)
    write_parts(tmp_path / "parts", columns, cells, [n // 3, n // 2, n - n // 3 - n // 2], ".parquet")
    rep_mem, rep_dask = tmp_path / "mem.json", tmp_path / "dask.json"
    assert main(["fill", str(whole), "-o", str(tmp_path / "mem.parquet"), "--report", str(rep_mem)]) == 0
    assert main(["fill", str(tmp_path / "parts"), "-o", str(tmp_path / "out"), "--engine", "dask",
                 "--scheduler", scheduler, "--report", str(rep_dask)]) == 0
    a, b = json.loads(rep_mem.read_text()), json.loads(rep_dask.read_text())
    for key in ("weights", "means", "covariances"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-9)
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=1e-9)
    for key in ("classes", "n_iter", "converged", "n_rows_fitted", "n_unusual", "n_filled", "n_uncertain"):
        assert b[key] == a[key], key
    assert a["n_unusual"] >= 1 and b["check"]["accuracy"] == pytest.approx(a["check"]["accuracy"])
    assert b["engine"]["parts"] == 3 and b["engine"]["workers"] == 2
    assert [p.name for p in sorted((tmp_path / "out").iterdir())] == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    mem, dask_out = pq.read_table(tmp_path / "mem.parquet"), concat_parquet(tmp_path / "out")
    assert dask_out.schema == mem.schema
    assert dask_out.equals(mem)
    assert "height_issue" in mem.schema.names and "M" in mem.column("gender").to_pylist()


def test_csv_glob_to_csv_parts(tmp_path, scheduler):
    columns, cells = people(2_000, seed=2)
    write_parts(tmp_path / "in", columns, cells, [700, 1300], ".csv")
    whole = tmp_path / "all.csv"
    fileio.write_table(whole, columns, cells)
    assert main(["fill", str(whole), "-o", str(tmp_path / "mem.csv")]) == 0
    assert main(["fill", str(tmp_path / "in" / "p*.csv"), "-o", str(tmp_path / "out.csv"),
                 "--engine", "dask", "--scheduler", scheduler]) == 0
    with open(tmp_path / "mem.csv", newline="", encoding="utf-8") as fh:
        mem = list(csv.reader(fh))
    rows = []
    for p in sorted((tmp_path / "out.csv").iterdir()):
        assert p.suffix == ".csv"
        with open(p, newline="", encoding="utf-8") as fh:
            part = list(csv.reader(fh))
        assert part[0] == mem[0]
        rows += part[1:]
    assert rows == mem[1:]


def test_local_cluster_without_scheduler(tmp_path):
    columns, cells = people(1_000, seed=3)
    write_parts(tmp_path / "parts", columns, cells, [400, 600], ".parquet")
    assert main(["fill", str(tmp_path / "parts"), "-o", str(tmp_path / "out"),
                 "--engine", "dask", "--workers", "2"]) == 0
    out = concat_parquet(tmp_path / "out")
    assert out.num_rows == 1_000 and out.column("gender_imputed").to_pylist().count(True) > 250


def test_bad_dask_input_exits_2_and_writes_nothing(tmp_path, scheduler, capsys):
    (tmp_path / "empty").mkdir()
    args = ["--engine", "dask", "--scheduler", scheduler]
    assert main(["fill", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), *args]) == 2
    assert "holds no .parquet parts" in capsys.readouterr().err
    assert main(["fill", str(tmp_path / "nothing*.csv"), "-o", str(tmp_path / "out"), *args]) == 2
    assert "names no file" in capsys.readouterr().err
    columns, cells = people(200)
    write_parts(tmp_path / "parts", columns, cells, [100, 100], ".parquet")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    assert main(["fill", str(tmp_path / "parts"), "-o", str(taken), *args]) == 2
    assert "exists" in capsys.readouterr().err and (taken / "x").read_text() == "mine"
    fileio.write_table(tmp_path / "parts" / "p02.parquet", ["id", "sex", "height"], [c[:5] for c in cells])
    assert main(["fill", str(tmp_path / "parts"), "-o", str(tmp_path / "out"), *args]) == 2
    assert "other columns than the first part" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary folder left
    assert main(["fill", str(tmp_path / "parts" / "p00.parquet"), "-o", str(tmp_path / "o.csv"),
                 "--scheduler", scheduler]) == 2
    assert "--engine dask" in capsys.readouterr().err


def test_merged_part_statistics_equal_one_pass():
    """The reduce: the parts' merged sweeps equal one sweep over all rows."""
    from emgui.distributed import _merge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5_000, 2)) * [3.0, 1.0]
    g = _fast.Gaussians(
        np.log([0.3, 0.7]), np.array([[-1.0, 0.0], [1.0, 0.5]]),
        np.linalg.cholesky(np.linalg.inv(np.array([[[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]))),
        np.zeros(2),
    )
    whole = _fast.Precise(x, 2).sweep(g)
    parts = [_fast.Precise(np.ascontiguousarray(p), 2).sweep(g) for p in np.array_split(x, [700, 3_100])]
    ll, s0, s1, scatter = _merge([*parts, None])
    assert ll == pytest.approx(whole.ll, rel=1e-12)
    np.testing.assert_allclose(s0, whole.s0, rtol=1e-12)
    np.testing.assert_allclose(s1, whole.s1, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(scatter, whole.scatter, rtol=1e-10)


def test_no_label_column_groups_by_bic_as_in_memory(tmp_path, scheduler):
    rng = np.random.default_rng(4)
    n = 1_500
    x = np.concatenate([rng.normal(50, 4, n // 2), rng.normal(80, 5, n - n // 2)])
    cells = [np.array([str(i) for i in range(n)], dtype=object), np.array([f"{v:.2f}" for v in x], dtype=object)]
    columns = ["id", "wait"]
    fileio.write_table(tmp_path / "all.parquet", columns, cells)
    write_parts(tmp_path / "parts", columns, cells, [600, 900], ".parquet")
    rep_mem, rep_dask = tmp_path / "mem.json", tmp_path / "dask.json"
    assert main(["fill", str(tmp_path / "all.parquet"), "-o", str(tmp_path / "mem.parquet"),
                 "--features", "wait", "--report", str(rep_mem)]) == 0
    assert main(["fill", str(tmp_path / "parts"), "-o", str(tmp_path / "out"), "--features", "wait",
                 "--engine", "dask", "--scheduler", scheduler, "--report", str(rep_dask)]) == 0
    a, b = json.loads(rep_mem.read_text()), json.loads(rep_dask.read_text())
    assert b["classes"] == a["classes"] == ["1", "2"]
    np.testing.assert_allclose(b["means"], a["means"], rtol=1e-6)
    assert concat_parquet(tmp_path / "out").equals(pq.read_table(tmp_path / "mem.parquet"))
