"""`emgui-cli fill --fill all`, `--draws M` and the missing-data report, against DESIGN.md."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from emgui.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


def read_csv(path, delimiter=","):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    return rows[0], rows[1:]


@pytest.fixture
def penguins_with_gaps(tmp_path):
    """The real penguins file with 10 % of the bill and mass numbers and 30 % of the sexes blanked (seeded)."""
    header, rows = read_csv(DATA / "penguins.csv")
    rng = np.random.default_rng(4)
    cols = [header.index(c) for c in ("bill_length_mm", "bill_depth_mm", "body_mass_g")]
    for r in rows:
        for c in cols:
            if r[c] != "NA" and rng.random() < 0.1:
                r[c] = ""
        if r[header.index("sex")] != "NA" and rng.random() < 0.3:
            r[header.index("sex")] = ""
    path = tmp_path / "penguins.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path, header, rows


FEATURES = "bill_length_mm,bill_depth_mm,body_mass_g"


def test_fill_all_writes_numbers_intervals_and_the_report(penguins_with_gaps, tmp_path):
    path, header, rows = penguins_with_gaps
    out, report = tmp_path / "out.csv", tmp_path / "r.json"
    assert main(["fill", str(path), "-o", str(out), "--label", "sex", "--features", FEATURES,
                 "--fill", "all", "--report", str(report)]) == 0
    out_header, out_rows = read_csv(out)
    assert out_header[: len(header)] == header
    added = out_header[len(header):]
    for f in FEATURES.split(","):
        i = added.index(f + "_imputed")
        assert added[i + 1 : i + 3] == [f + "_low", f + "_high"]
    assert len(out_rows) == len(rows)
    n_filled = 0
    for r_in, r_out in zip(rows, out_rows, strict=True):
        for f in FEATURES.split(","):
            c = header.index(f)
            flag = r_out[out_header.index(f + "_imputed")]
            if r_in[c] == "":
                # A blank number of a row with some other value is filled, inside its interval.
                others = [r_in[header.index(g)] not in ("", "NA") for g in FEATURES.split(",") if g != f]
                if any(others):
                    assert flag == "true"
                    lo, hi = (float(r_out[out_header.index(f + s)]) for s in ("_low", "_high"))
                    assert lo < float(r_out[c]) < hi
                    n_filled += 1
            else:
                # Typed cells, and the NA markers of the source, are kept as they were.
                assert r_out[c] == r_in[c] and flag == "false"
    assert n_filled > 50
    rep = json.loads(report.read_text())
    assert rep["n_numbers_filled"] == n_filled
    assert set(rep["mcar_test"]) == {"chi2", "df", "p"} and rep["mcar_test"]["df"] > 0
    assert 0.0 <= rep["mcar_test"]["p"] <= 1.0
    pats = rep["missing_patterns"]
    assert sum(p["rows"] for p in pats) == len(rows)
    assert {"blank": [], "rows": pats[0]["rows"]} == pats[0]
    assert any(p["blank"] == ["sex"] for p in pats)


def test_draws_stack_copies_with_typed_cells_identical(penguins_with_gaps, tmp_path):
    path, header, rows = penguins_with_gaps
    out = tmp_path / "draws.csv"
    m = 4
    assert main(["fill", str(path), "-o", str(out), "--label", "sex", "--features", FEATURES,
                 "--fill", "all", "--draws", str(m), "--seed", "3"]) == 0
    out_header, out_rows = read_csv(out)
    assert out_header[0] == "imputation"
    assert out_header[1 : len(header) + 1] == header
    assert out_header[len(header) + 1 :] == ["sex_imputed"] + [f + "_imputed" for f in FEATURES.split(",")]
    assert len(out_rows) == m * len(rows)
    copies = [out_rows[i * len(rows) : (i + 1) * len(rows)] for i in range(m)]
    sex = header.index("sex") + 1
    differs = 0
    for i, copy in enumerate(copies, start=1):
        assert {r[0] for r in copy} == {str(i)}
        for r_in, r_out in zip(rows, copy, strict=True):
            for c, v in enumerate(r_in):
                if v != "" and not (c == sex - 1 and v == "NA"):  # "NA" marks a blank label
                    assert r_out[c + 1] == v  # typed cells identical in every copy
        differs += sum(a[sex] != b[sex] for a, b in zip(copies[0], copy, strict=True))
    # The copies differ where the fill is unsure, and only in the blank cells.
    assert differs > 0


def test_fill_all_keeps_a_decimal_comma(tmp_path):
    src = tmp_path / "semi.csv"
    lines = ["name;sex;height;weight"]
    rng = np.random.default_rng(0)
    for i in range(60):
        male = i % 2
        h = 165 + 12 * male + rng.normal(0, 5)
        w = 60 + 14 * male + 0.5 * (h - 165 - 12 * male) + rng.normal(0, 4)
        hs = "" if i % 7 == 3 else f"{h:.1f}".replace(".", ",")
        ws = "" if i % 5 == 2 else f"{w:.1f}".replace(".", ",")
        lines.append(f"p{i};{'' if i % 4 == 0 else 'MF'[male]};{hs};{ws}")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["fill", str(src), "-o", str(out), "--features", "height,weight", "--fill", "all"]) == 0
    head, body = read_csv(out, delimiter=";")
    hi = head.index("height")
    filled = [r for r in body if r[head.index("height_imputed")] == "true"]
    assert filled and all("," in r[hi] and "." not in r[hi] for r in filled)
    assert all("." not in r[head.index("height_low")] for r in filled)


@pytest.mark.parametrize("bad", ["0", "-2", "5000"])
def test_impossible_draws_are_refused(penguins_with_gaps, tmp_path, capsys, bad):
    path, _, _ = penguins_with_gaps
    out = tmp_path / "out.csv"
    assert main(["fill", str(path), "-o", str(out), "--draws", bad]) == 2
    assert "--draws must be between 1 and 1000" in capsys.readouterr().err
    assert not out.exists()
