"""`emgui-cli fill` keeps its promise on bad arguments, odd paths and signals:
exit 2, one line, nothing written (DESIGN.md, "Contracts")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from hostile_files import run_limited, wide_csv

from emgui.cli import main
from emgui.core import _guards
from emgui.core import fill as fill_module

CLASS = "name,gender,height\nAna,F,162\nBen,M,181\nCai,,170\nDee,F,158\nEli,,185\n"


@pytest.fixture
def class_csv(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(CLASS, encoding="utf-8")
    return path


@pytest.fixture
def no_fit(monkeypatch):
    """The fit fails the test if it starts: the refusals below come before it."""

    def fail(*args, **kwargs):
        raise AssertionError("the fit ran before the refusal")

    monkeypatch.setattr(fill_module, "fill_sheet", fail)


def refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("emgui-cli: error: "), err
    return err


def test_report_naming_the_input_is_refused_and_the_input_kept(class_csv, tmp_path, capsys, no_fit):
    out = tmp_path / "out.csv"
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out), "--report", str(class_csv)])
    assert "--report and INPUT must be different files" in err
    assert class_csv.read_text(encoding="utf-8") == CLASS
    assert not out.exists()


def test_report_naming_the_output_through_a_link_is_refused(class_csv, tmp_path, capsys, no_fit):
    out = tmp_path / "out.csv"
    out.write_text("old", encoding="utf-8")
    link = tmp_path / "same.json"
    link.symlink_to(out)
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out), "--report", str(link)])
    assert "--report and OUTPUT must be different files" in err
    assert out.read_text(encoding="utf-8") == "old"


def test_a_report_folder_that_does_not_exist_is_refused_before_anything_is_written(
    class_csv, tmp_path, capsys, no_fit
):
    out = tmp_path / "out.csv"
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out), "--report", str(tmp_path / "no" / "r.json")])
    assert "cannot write --report 'r.json': its folder does not exist" in err
    assert sorted(os.listdir(tmp_path)) == ["class.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_report_folder_that_cannot_be_written_is_refused(class_csv, tmp_path, capsys, no_fit):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        err = refused(
            capsys, ["fill", str(class_csv), "-o", str(tmp_path / "out.csv"), "--report", str(locked / "r.json")]
        )
    finally:
        locked.chmod(0o700)
    assert "its folder is not writable" in err
    assert not (tmp_path / "out.csv").exists()


def test_an_xlsx_cell_too_long_is_refused_before_the_fit(tmp_path, capsys, no_fit):
    src = tmp_path / "long.csv"
    src.write_text(CLASS + "Fay,F," + "x" * 40_000 + "\n", encoding="utf-8")
    out = tmp_path / "out.xlsx"
    err = refused(capsys, ["fill", str(src), "-o", str(out)])
    assert "'out.xlsx' cannot hold row 7, column 3 ('height'): it has 40,000 characters" in err
    assert not out.exists()


def test_xlsx_row_and_column_limits_are_checked_before_the_fit(class_csv, tmp_path, capsys, no_fit, monkeypatch):
    out = tmp_path / "out.xlsx"
    monkeypatch.setattr(_guards, "XLSX_MAX_ROWS", 5)  # the header and 4 rows
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out)])
    assert "cannot hold 5 rows: an Excel sheet holds at most 4 rows below the header" in err
    monkeypatch.setattr(_guards, "XLSX_MAX_ROWS", 1_048_576)
    monkeypatch.setattr(_guards, "XLSX_MAX_COLS", 6)  # 3 columns + up to 4 added
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out)])
    assert "would need 7 columns: an Excel sheet holds at most 6" in err
    assert not out.exists()


def test_components_above_the_usable_rows_are_refused_before_the_fit(class_csv, tmp_path, capsys, no_fit):
    out = tmp_path / "out.csv"
    err = refused(capsys, ["fill", str(class_csv), "-o", str(out), "--components", "6"])
    assert "--components 6 is more than the 5 rows with readable numbers" in err
    assert not out.exists()


def test_a_billion_components_are_refused_at_once_in_bounded_memory(class_csv, tmp_path):
    code = f"""
from emgui.cli import main
result = main(["fill", {str(class_csv)!r}, "-o", {str(tmp_path / "out.csv")!r}, "--components", "1000000000"])
"""
    rc, result, peak_mb, stderr = run_limited(code, timeout=60)
    assert rc == 0 and result == 2, stderr[-2000:]
    assert "more than the 5 rows" in stderr and peak_mb < 500


def test_control_characters_in_names_are_escaped_in_every_message(tmp_path, capsys):
    src = tmp_path / "esc.csv"
    src.write_text("name,\x1b[31mgender\x1b[0m,height\n" + CLASS.split("\n", 1)[1], encoding="utf-8")
    out = tmp_path / "out.csv"
    err = refused(capsys, ["fill", str(src), "-o", str(out), "--label", "nope"])
    assert "\x1b" not in err and "\\x1b[31mgender\\x1b[0m" in err
    # The closing line too (the label's name comes from the file).
    assert main(["fill", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "'\\x1b[31mgender\\x1b[0m' cells" in err
    # And a file name.
    odd = tmp_path / "a\x1b]0;x\x07.csv"
    odd.write_text("", encoding="utf-8")
    err = refused(capsys, ["fill", str(odd), "-o", str(out)])
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;x\\x07.csv" in err


def test_argparse_errors_are_escaped_too(class_csv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fill", str(class_csv), "-o", "out.csv", "--bogus\x1b[2J"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "--bogus\\x1b[2J" in err


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "emgui.cli", *map(str, args)], capture_output=True, text=True, **kwargs
    )


def test_a_fifo_as_input_is_refused_at_once(tmp_path):
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    proc = _cli("fill", fifo, "-o", tmp_path / "out.csv", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "emgui-cli: error: 'in.csv' is a pipe, not a file; save the table to a file first.\n"


def test_a_folder_as_input_is_refused(tmp_path, capsys):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert "'dir.csv' is a folder, not a file." in refused(capsys, ["fill", str(folder), "-o", str(tmp_path / "o.csv")])


def test_an_output_name_of_the_file_systems_full_length_works(class_csv, tmp_path, capsys):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    for ext in (".csv", ".xlsx"):
        out = tmp_path / ("n" * (limit - len(ext)) + ext)
        assert main(["fill", str(class_csv), "-o", str(out)]) == 0
        assert out.exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_an_output_that_is_a_symlink_is_written_through_to_its_target(class_csv, tmp_path):
    target = tmp_path / "results" / "filled.csv"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    assert main(["fill", str(class_csv), "-o", str(link)]) == 0
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8").startswith("name,gender,height,gender_imputed")


def test_a_million_empty_columns_are_refused_in_bounded_memory(tmp_path):
    src = wide_csv(tmp_path / "wide.csv")
    code = f"""
from emgui.cli import main
result = main(["fill", {str(src)!r}, "-o", {str(tmp_path / "out.csv")!r}])
"""
    rc, result, peak_mb, stderr = run_limited(code, timeout=60)
    assert rc == 0 and result == 2, stderr[-2000:]
    assert "'wide.csv' has 1,000,000 columns; at most 50,000 can be read." in stderr
    assert peak_mb < 500
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_during_the_write_leaves_the_old_file_and_no_temporary_files(tmp_path, sig):
    """The real command, killed while it writes a 60,000-row XLSX (a few seconds)."""
    src = tmp_path / "big.csv"
    lines = [f"P{i},{'' if i % 3 == 0 else 'FM'[i % 2]},{150 + (i * 7) % 50}" for i in range(60_000)]
    src.write_text("name,gender,height\n" + "\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"old")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emgui.cli", "fill", str(src), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        deadline = time.monotonic() + 60
        while not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]:
            assert proc.poll() is None, "the command ended before its write was seen"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)  # well inside the write
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -getattr(signal, sig), err
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["big.csv", "out.xlsx", "scratch"]
    assert os.listdir(scratch) == []

