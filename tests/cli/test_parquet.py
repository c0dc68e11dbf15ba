"""Parquet in memory: `emgui-cli fill x.parquet -o y.parquet` and fileio's Parquet reader/writer."""

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emgui.cli import main
from emgui.core import fileio

DATA = Path(__file__).resolve().parents[1] / "data"


def students_table(blank_every=3):
    """tests/data's students file as typed columns (speed, gender, height), some genders blank."""
    with open(DATA / "students_speed_gender_height.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    speed = [float(r[0]) if r[0] else None for r in body]
    gender = [r[1] or None for r in body]
    height = [float(r[2]) if r[2] else None for r in body]
    truth = {}
    for i in range(0, len(body), blank_every):
        truth[i], gender[i] = gender[i], None
    table = pa.table({header[0]: pa.array(speed, pa.float64()), header[1]: pa.array(gender, pa.string()),
                      header[2]: pa.array(height, pa.float64())})
    return table, truth


def test_parquet_round_trip_keeps_types_and_cells(tmp_path):
    p = tmp_path / "t.parquet"
    src = pa.table({
        "id": pa.array([7, 8, None], pa.int64()),
        "h": pa.array([160.5, float("nan"), 0.1 + 0.2], pa.float64()),
        "g": pa.array(["f", "", None]).dictionary_encode(),
        "ok": pa.array([True, None, False]),
    })
    pq.write_table(src, p)
    t = fileio.read_table(p)
    assert t.columns == ["id", "h", "g", "ok"]
    # Numbers read as the shortest text that reads back as the same number; NaN and "" as empty.
    assert [list(c) for c in t.cells] == [
        ["7", "8", None], ["160.5", None, "0.30000000000000004"], ["f", None, None], ["true", None, "false"],
    ]
    assert t.meta["format"] == "parquet"
    out = tmp_path / "again.parquet"
    fileio.write_table(out, t.columns, t.cells, schema=t.meta["schema"])
    back = pq.read_table(out)
    assert back.schema.types == [pa.int64(), pa.float64(), src.schema.field("g").type, pa.bool_()]
    assert back.column("h").to_pylist() == [160.5, None, 0.1 + 0.2]
    assert back.column("id").to_pylist() == [7, 8, None]


def test_parquet_column_with_text_stays_text(tmp_path):
    p = tmp_path / "t.parquet"
    schema = pa.schema([("h", pa.float64())])
    fileio.write_table(p, ["h"], [np.array(["160", "tall", None], dtype=object)], schema=schema)
    back = pq.read_table(p)
    assert back.schema.types == [pa.string()]
    assert back.column("h").to_pylist() == ["160", "tall", None]


@pytest.mark.parametrize("content", [b"", b"PAR1 not really", b"x" * 100])
def test_damaged_parquet_is_refused_in_one_sentence(tmp_path, content):
    p = tmp_path / "bad.parquet"
    p.write_bytes(content)
    with pytest.raises(fileio.FileFormatError, match=r"^'bad\.parquet' "):
        fileio.read_table(p)


def test_nested_parquet_column_is_refused(tmp_path):
    p = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"a": [[1, 2], [3]]}), p)
    with pytest.raises(fileio.FileFormatError, match="nested values"):
        fileio.read_table(p)


def test_cli_fills_parquet_to_parquet(tmp_path):
    table, truth = students_table()
    inp, out, report = tmp_path / "in.parquet", tmp_path / "out.parquet", tmp_path / "r.json"
    pq.write_table(table, inp)
    assert main(["fill", str(inp), "-o", str(out), "--report", str(report)]) == 0
    res = pq.read_table(out)
    names = table.schema.names
    assert res.schema.names == [*names, f"{names[1]}_imputed", f"{names[1]}_confidence"]
    # Input columns keep their types; the marks are booleans and numbers.
    assert res.schema.types[:3] == table.schema.types
    assert res.schema.field(f"{names[1]}_imputed").type == pa.bool_()
    assert res.schema.field(f"{names[1]}_confidence").type == pa.float64()
    assert res.column(0).equals(table.column(0)) and res.column(2).equals(table.column(2))
    gender = res.column(1).to_pylist()
    imputed = res.column(3).to_pylist()
    heights = table.column(2).to_pylist()
    speeds = table.column(0).to_pylist()
    typed = table.column(1).to_pylist()
    correct = 0
    for i, g in enumerate(gender):
        if i in truth:
            if heights[i] is None and speeds[i] is None:
                assert g is None and imputed[i] is False
                continue
            assert g in ("female", "male") and imputed[i] is True
            correct += g == truth[i]
        else:
            assert g == typed[i] and imputed[i] is False
    assert correct / sum(1 for i in truth if heights[i] is not None or speeds[i] is not None) > 0.75
    # The same fill as from the same rows in CSV.
    csv_in, csv_out, csv_report = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "rc.json"
    fileio.write_table(csv_in, names, fileio.read_table(inp).cells)
    assert main(["fill", str(csv_in), "-o", str(csv_out), "--report", str(csv_report)]) == 0
    a, b = json.loads(report.read_text()), json.loads(csv_report.read_text())
    np.testing.assert_allclose(a["means"], b["means"], rtol=1e-12)
    assert fileio.read_table(csv_out).cells[1].tolist() == [x for x in gender]


def test_cli_csv_to_parquet_writes_text_and_typed_marks(tmp_path):
    inp, out = tmp_path / "in.csv", tmp_path / "out.parquet"
    rows = "".join(f"{'f' if i % 2 else 'm'},{150 + (i % 2) * 20 + i % 7}\n" for i in range(40))
    inp.write_text("gender,height\n" + rows + ",152\n,175\n", encoding="utf-8")
    assert main(["fill", str(inp), "-o", str(out)]) == 0
    res = pq.read_table(out)
    assert res.schema.types == [pa.string(), pa.string(), pa.bool_(), pa.float64()]
    assert res.column("gender").to_pylist()[-2:] == ["m", "f"]
    assert res.column("height").to_pylist()[-1] == "175"  # a CSV's cells stay as typed


def test_cli_refuses_unknown_output_type(tmp_path, capsys):
    inp = tmp_path / "in.csv"
    inp.write_text("gender,height\nm,180\nf,160\n,170\n", encoding="utf-8")
    assert main(["fill", str(inp), "-o", str(tmp_path / "out.feather")]) == 2
    assert ".parquet" in capsys.readouterr().err
