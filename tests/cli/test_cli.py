"""`emgui-cli fill` against the contract in DESIGN.md."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emgui.cli import main
from emgui.core import fileio

DATA = Path(__file__).resolve().parents[1] / "data"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.fixture
def students_with_blanks(tmp_path):
    """The real students file with every third gender blanked (seeded), plus the truth."""
    header, rows = read_csv(DATA / "students_speed_gender_height.csv")
    rng = np.random.default_rng(3)
    hide = rng.random(len(rows)) < 0.3
    truth = {}
    for i, r in enumerate(rows):
        if hide[i]:
            truth[i] = r[1]
            r[1] = ""
    path = tmp_path / "students.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path, header, rows, truth


def test_fill_keeps_columns_rows_and_user_cells(students_with_blanks, tmp_path):
    path, header, rows, truth = students_with_blanks
    out = tmp_path / "out.csv"
    report = tmp_path / "report.json"
    assert main(["fill", str(path), "-o", str(out), "--report", str(report)]) == 0
    out_header, out_rows = read_csv(out)
    assert out_header == header + ["gender_imputed", "gender_confidence"]
    assert len(out_rows) == len(rows)
    correct = 0
    for i, (orig, new) in enumerate(zip(rows, out_rows, strict=True)):
        assert new[0] == orig[0]  # speed untouched (plain number, written back unchanged)
        assert new[2] == orig[2]  # heights are already plain inches
        if i in truth:
            if orig[0] == orig[2] == "":
                # neither speed nor height: cannot take part, stays blank
                assert new[1] == "" and new[3] == "false" and new[4] == ""
                continue
            assert new[1] in ("female", "male")  # the column's own spelling
            assert new[3] == "true"
            conf = float(new[4])
            assert 0.5 <= conf <= 1.0
            correct += new[1] == truth[i]
        else:
            assert new[1] == orig[1]
            assert new[3] == "false" and new[4] == ""
    n_hidden = sum(1 for i in truth if rows[i][0] != "" or rows[i][2] != "")
    # Heights separate the sexes imperfectly; the Bayes rate here is roughly 80-85 %.
    assert correct / n_hidden > 0.75
    rep = json.loads(report.read_text())
    # Detected: every measurement (DESIGN.md), the speed as well as the height.
    assert rep["label"] == "gender" and rep["features"] == ["speed", "height"]
    assert rep["classes"] == ["female", "male"]
    assert len(rep["weights"]) == 2 and abs(sum(rep["weights"]) - 1) < 1e-9
    assert rep["means"][0][1] < rep["means"][1][1]  # women shorter, in inches
    assert 55 < rep["means"][0][1] < 70 and 62 < rep["means"][1][1] < 78
    assert np.array(rep["covariances"]).shape == (2, 2, 2)
    assert rep["converged"] is True and rep["n_iter"] >= 1
    assert rep["log_likelihood"] < 0


def test_messy_file_conversions_and_issues(tmp_path):
    out = tmp_path / "messy_out.csv"
    assert main(["fill", str(DATA / "messy_class.csv"), "-o", str(out)]) == 0
    header, rows = read_csv(out)
    _, original = read_csv(DATA / "messy_class.csv")
    assert header == [
        "name", "gender", "height", "notes", "gender_imputed", "gender_confidence", "gender_note", "height_issue"
    ]
    by_name = {r[0]: r for r in rows}
    assert [r[0] for r in rows] == [r[0] for r in original]
    # Converted to the column's unit (cm).
    assert float(by_name["Ben Okafor"][2]) == pytest.approx(180.34)
    assert float(by_name["Chloé Martin"][2]) == pytest.approx(168)
    assert float(by_name["Femi Adeyemi"][2]) == pytest.approx(185.42)
    # Unreadable cells keep their text and say why.
    for name, text in [("Mia Rossi", "five foot two"), ("Tom Becker", "17O"), ("Gus Brown", "-172")]:
        assert by_name[name][2] == text
        assert by_name[name][7] != ""
    # A filled marker keeps what was typed in the note.
    assert by_name["Bea Santos"][6] == "was '?'"
    # Their blank labels stay blank; readable blanks are filled in the column's spelling.
    assert by_name["Tom Becker"][1] == ""
    for name in ["Eve Novak", "Hiro Tanaka", "Noah Schulz", "Qi Wang"]:
        assert by_name[name][1] in ("F", "M"), by_name[name]
        assert by_name[name][4] == "true"
    assert by_name["Noah Schulz"][1] == "M"  # 190 cm
    assert by_name["Qi Wang"][1] == "F"  # 155 cm
    # User-entered labels unchanged.
    for o in original:
        if o[1].strip() and o[1].strip().lower() not in ("?", "n/a"):
            assert by_name[o[0]][1] == o[1]


def test_xlsx_output_and_min_confidence(students_with_blanks, tmp_path):
    path, header, rows, truth = students_with_blanks
    out = tmp_path / "out.xlsx"
    assert main(["fill", str(path), "-o", str(out), "--min-confidence", "0.9"]) == 0
    table = fileio.read_table(out)
    assert table.columns == header + ["gender_imputed", "gender_confidence", "gender_note"]
    gender = table.cells[1]
    imputed = table.cells[3]
    conf = table.cells[4]
    note = table.cells[5]
    n_left_blank = 0
    for i in truth:
        if gender[i] in (None, ""):
            n_left_blank += 1
            assert imputed[i] == "FALSE"  # a boolean cell in the workbook
            if conf[i]:  # left blank as uncertain: its best guess and probability are kept
                assert note[i].startswith("uncertain: best guess ") and float(conf[i]) < 0.9
            else:  # no readable height: not fitted
                assert note[i] is None
        else:
            assert float(conf[i]) >= 0.9
    assert n_left_blank > 0


def test_no_label_column_uses_numbered_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(60, 2, 100), rng.normal(80, 2, 100)])
    src = tmp_path / "waits.csv"
    src.write_text("waiting\n" + "\n".join(f"{v:.2f}" for v in x) + "\n")
    out = tmp_path / "w_out.csv"
    report = tmp_path / "r.json"
    assert main(["fill", str(src), "-o", str(out), "--components", "2", "--report", str(report)]) == 0
    header, rows = read_csv(out)
    assert header == ["waiting", "class", "class_imputed", "class_confidence"]
    assert [r[0] for r in rows] == [f"{v:.2f}" for v in x]
    assert {r[1] for r in rows[:100]} == {"1"} and {r[1] for r in rows[100:]} == {"2"}
    rep = json.loads(report.read_text())
    assert rep["classes"] == ["1", "2"] and rep["means"][0][0] < rep["means"][1][0]


def test_formula_like_text_is_defused_in_csv(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("name,gender,height\n=cmd|' /C calc'!A0,F,160\n@SUM(1),,175\n-minus,M,180\n+plus,F,158\n")
    out = tmp_path / "f_out.csv"
    assert main(["fill", str(src), "-o", str(out)]) == 0
    _, rows = read_csv(out)
    assert [r[0] for r in rows] == ["'=cmd|' /C calc'!A0", "'@SUM(1)", "'-minus", "'+plus"]
    assert [r[2] for r in rows] == ["160", "175", "180", "158"]
    back = fileio.read_table(out)
    assert list(back.cells[0]) == ["=cmd|' /C calc'!A0", "@SUM(1)", "-minus", "+plus"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--label", "nope"], "unknown column 'nope'"),
        (["--features", "name"], "holds no readable numbers"),
    ],
)
def test_bad_columns_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out.csv"
    src = tmp_path / "in.csv"
    shutil.copy(DATA / "messy_class.csv", src)
    assert main(["fill", str(src), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_unreadable_and_missing_files_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 40)
    out = tmp_path / "out.csv"
    assert main(["fill", str(junk), "-o", str(out)]) == 2
    assert main(["fill", str(tmp_path / "absent.csv"), "-o", str(out)]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 2 and all(e.startswith("emgui-cli: error:") for e in errs)
    assert not out.exists()


def test_no_numeric_feature_exit_2(tmp_path, capsys):
    src = tmp_path / "t.csv"
    src.write_text("name,gender\nAna,F\nBen,\n")
    out = tmp_path / "out.csv"
    assert main(["fill", str(src), "-o", str(out)]) == 2
    assert "no numeric feature" in capsys.readouterr().err
    assert not out.exists()


def test_console_script_runs_as_a_program(students_with_blanks, tmp_path):
    path, *_ = students_with_blanks
    out = tmp_path / "p.tsv"
    proc = subprocess.run(
        [sys.executable, "-m", "emgui.cli", "fill", str(path), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["speed", "gender", "height", "gender_imputed", "gender_confidence"]
    assert len(lines) == 1326


def test_csv_output_in_the_input_dialect_with_warnings(tmp_path, capsys):
    """OUTPUT .csv is written in INPUT's dialect; a stray Latin-1 line is named on stderr."""
    src = tmp_path / "eu.csv"
    src.write_bytes(
        "name;gender;height\r\nChloé;F;160,5\r\nJosé;M;181,2\r\nZoë;;165,0\r\n".encode()
        + "Renée;F;158,3\r\n".encode("latin-1")
        + "Émile;M;179,9\r\nFlo;;170,1\r\n".encode()
    )
    out = tmp_path / "out.csv"
    assert main(["fill", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "line 5" in err
    text = out.read_bytes().decode("utf-8")
    lines = text.split("\r\n")
    assert lines[0] == "name;gender;height;gender_imputed;gender_confidence"
    assert lines[4].startswith("Renée;F;158,3;false;")
    filled = [ln.split(";") for ln in lines[1:] if ln.endswith(tuple("0123456789"))]
    assert filled and all("," in row[4] or row[4] == "1" for row in filled)


@pytest.mark.parametrize("options", [(), ("--features", "height")])
def test_filling_the_programs_own_output_again_replaces_its_columns(tmp_path, options):
    # Before: "column 'height_issue' holds no readable numbers", and each pass
    # with --features added another height_issue column.
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert main(["fill", str(DATA / "messy_class.csv"), "-o", str(first), *options]) == 0
    assert main(["fill", str(first), "-o", str(second), *options]) == 0
    header1, rows1 = read_csv(first)
    header2, rows2 = read_csv(second)
    assert header2 == header1
    assert header1.count("height_issue") == 1 and header1.count("gender_note") == 1
    # The cells of the second pass are those of the first (filled cells now kept as filled).
    assert [r[:3] for r in rows2] == [r[:3] for r in rows1]


def test_closing_line_counts_each_blank_once(tmp_path, capsys):
    # Before: "filled 5 of 15 blank" for 10 blanks (the uncertain ones counted twice).
    header, rows = read_csv(DATA / "students_speed_gender_height.csv")
    rows = [[r[0], "" if i % 3 == 0 else r[1], r[2]] for i, r in enumerate(rows)]
    src = tmp_path / "s.csv"
    with open(src, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    blanks = sum(1 for r in rows if not r[1].strip())
    out = tmp_path / "o.csv"
    assert main(["fill", str(src), "-o", str(out), "--min-confidence", "0.9"]) == 0
    line = capsys.readouterr().err.strip().splitlines()[-1]
    _, filled_rows = read_csv(out)
    n_filled = sum(1 for r in filled_rows if r[3] == "true")
    assert f"filled {n_filled} of {blanks} blank 'gender' cells" in line
    assert n_filled < blanks


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_the_command_runs_blas_on_one_thread_unless_told(given, expected):
    """The installed command (main() without arguments) caps OpenBLAS at one thread before numpy loads.

    Its products are sized for one core; a second OpenBLAS thread woken by a
    large one spins afterwards (issue 14: 4.9 CPU seconds of a 5-feature fill
    instead of 3.0).  A value the user set is kept.
    """
    probe = (
        "import emgui.cli as cli\n"
        "def probe(argv):\n"
        "    import numpy, threadpoolctl  # numpy loads OpenBLAS\n"
        "    info = [p for p in threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas']\n"
        "    print(info[0]['num_threads'] if info else 'no openblas')\n"
        "    return 0\n"
        "cli._main = probe\n"
        "cli.main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    if out == "no openblas":
        pytest.skip("numpy is not built with OpenBLAS here")
    # OpenBLAS never runs more threads than the cores this process may use
    # (one under `taskset -c 0`).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert out == str(min(int(expected), cores))


@pytest.mark.parametrize(
    ("column", "message"),
    [("row", "holds distinct whole numbers that only increase: it is an identifier, not a measurement"),
     ("flag", "holds only 2 distinct values (0, 1): it is a code, not a measurement")],
)
def test_a_named_feature_that_is_a_code_or_an_identifier_exits_2(tmp_path, capsys, column, message):
    """``--features`` naming a row number or a 0/1 code is refused with the reason, the whole column read."""
    src = tmp_path / "in.csv"
    lines = ["row,flag,gender,height"]
    for i in range(1, 41):
        # The first 30 flags are all 0: a sample of the column would not see the 1s.
        lines.append(f"{i},{0 if i <= 30 else 1},{'F' if i % 2 else ''},{150 + (i * 7) % 30}")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["fill", str(src), "-o", str(out), "--features", f"height,{column}"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"column '{column}' {message}; leave it out of --features" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_detection_says_when_it_leaves_measurements_out(tmp_path, capsys):
    # 20 rows support 4 detected features (ROWS_PER_FEATURE); six are there.
    rng = np.random.default_rng(5)
    path, out = tmp_path / "wide.csv", tmp_path / "out.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["gender", *[f"m{j}" for j in range(6)]])
        for i in range(20):
            w.writerow(["F" if i % 2 else ("M" if i % 3 else ""), *[f"{v:.1f}" for v in rng.normal(50, 9, 6)]])
    assert main(["fill", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "emgui-cli: warning: More number columns than 20 rows can fit: 4 of them are used" in err
    assert "'m0', 'm1', 'm2', 'm3'" in err and "--features" in err
    # Named with --features, the columns are the person's choice: no warning.
    assert main(["fill", str(path), "-o", str(out), "--features", "m0,m1,m2,m3,m4,m5"]) == 0
    assert "warning" not in capsys.readouterr().err
