"""Hostile files refused before they cost anything; odd paths and signals during a write.

Each hostile file is made here (see ``tests/hostile_files.py``) and read in
a child process with a 1.5 GB address-space limit and a timeout, so that a
regression fails the test instead of taking the machine down.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from hostile_files import (
    _base_rows,
    far_cell_xlsx,
    formatted_range_xlsx,
    ods,
    ods_repeat_bomb,
    ods_trailing_repeats,
    run_limited,
    shared_string_bomb_xlsx,
    wide_csv,
    xlsx,
)

from emgui.core import _guards, fileio

HOSTILE = {
    "far-cell.xlsx": far_cell_xlsx,
    "shared-strings.xlsx": shared_string_bomb_xlsx,
    "repeats.ods": ods_repeat_bomb,
    "wide.csv": wide_csv,
}
EXPECTED = {
    "far-cell.xlsx": "1,048,576 rows and 16,384 columns",
    "shared-strings.xlsx": "more than 400 MB of text",
    "repeats.ods": "10,002 rows and 9,999 columns",
    "wide.csv": "1,000,000 columns",
}

_READ = """
from emgui.core import fileio
try:
    table = fileio.read_table({path!r})
    result = {{"read": [table.columns, table.n_rows]}}
except fileio.FileFormatError as exc:
    result = {{"refused": str(exc)}}
"""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_in_one_line_within_bounded_memory(tmp_path, name):
    path = HOSTILE[name](tmp_path / name)
    rc, result, peak_mb, stderr = run_limited(_READ.format(path=str(path)), timeout=60)
    assert rc == 0, stderr[-2000:]
    message = result["refused"]
    assert message.startswith(f"'{name}' ") and "\n" not in message
    assert EXPECTED[name] in message
    assert peak_mb < 500


@pytest.mark.parametrize("name", ["far-cell.xlsx", "repeats.ods", "shared-strings.xlsx"])
def test_without_the_guard_the_reader_dies_on_these_files(tmp_path, name):
    """The made-up files really are hostile: with the guard off, the reader aborts
    the process (no Python exception) or exhausts the child's memory."""
    path = HOSTILE[name](tmp_path / name)
    code = (
        "from emgui.core import _guards\n"
        "_guards.check_workbook = lambda *a, **k: None\n" + _READ.format(path=str(path))
    )
    rc, result, _peak, _stderr = run_limited(code, timeout=120)
    assert rc != 0 or (result and "refused" in result), result


@pytest.mark.parametrize(
    "make", [formatted_range_xlsx, ods_trailing_repeats], ids=["formatted-xlsx", "trailing-ods"]
)
def test_a_sheet_big_only_by_formatting_is_read(tmp_path, make):
    """The declared range and the empty cells out to the limits are not counted:
    the reader skips them (this is the choice; see emgui/core/_guards.py)."""
    path = make(tmp_path / ("f.xlsx" if make is formatted_range_xlsx else "f.ods"))
    rc, result, peak_mb, stderr = run_limited(_READ.format(path=str(path)), timeout=60)
    assert rc == 0, stderr[-2000:]
    assert result["read"] == [["name", "gender", "height"], 2]
    assert peak_mb < 500


def test_cells_without_references_and_prefixed_tags_are_walked_in_order(tmp_path):
    plain = xlsx(tmp_path / "norefs.xlsx", _base_rows(refs=False))
    table = fileio.read_table(plain)
    assert table.columns == ["name", "gender", "height"]
    assert list(table.cells[1]) == ["F", None]
    # The same far cell written with an "x:" prefix is refused too.
    far = '<x:row r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>'
    prefixed = xlsx(tmp_path / "prefixed.xlsx", _base_rows(prefix="x:") + far, prefix="x:")
    with pytest.raises(fileio.FileFormatError, match="16,384 columns"):
        fileio.read_table(prefixed)
    # And a far cell without a reference, after a row that jumps far.
    jump = '<row r="1048576"><c/><c/><c><v>1</v></c></row>'
    # (1,048,576 x 3 cells is within the limit: a lowered one shows they count.)
    with pytest.MonkeyPatch.context() as mp, pytest.raises(fileio.FileFormatError, match="1,048,576 rows"):
        mp.setattr(_guards, "MAX_SHEET_CELLS", 3_000_000)
        fileio.read_table(xlsx(tmp_path / "jump.xlsx", _base_rows() + jump))


def test_shared_strings_within_limits_are_read(tmp_path, monkeypatch):
    rows = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>{i % 2}</v></c></row>' for i in range(1, 6))
    path = xlsx(tmp_path / "s.xlsx", rows, shared=["name", "z" * 1000])
    assert fileio.read_table(path).n_rows == 4
    # Five cells of ~1 KB: over a lowered limit, counted cell by cell.
    monkeypatch.setattr(_guards, "MAX_SHEET_TEXT", 2500)
    with pytest.raises(fileio.FileFormatError, match="of text"):
        fileio.read_table(path)


def test_ods_value_cells_after_empty_repeats_count(tmp_path, monkeypatch):
    gap = (
        '<table:table-row table:number-rows-repeated="5000">'
        '<table:table-cell table:number-columns-repeated="300"/></table:table-row>'
        '<table:table-row><table:table-cell table:number-columns-repeated="300"/>'
        '<table:table-cell office:value-type="string"><text:p>z</text:p></table:table-cell>'
        "</table:table-row>"
    )
    path = ods(tmp_path / "gap.ods", gap)
    monkeypatch.setattr(_guards, "MAX_SHEET_CELLS", 1_000_000)
    with pytest.raises(fileio.FileFormatError, match="5,001 rows and 301 columns"):
        fileio.read_table(path)


def test_wide_rows_after_a_narrow_header_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_guards, "MAX_COLUMNS", 100)
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n" + "x," * 500 + "\n", encoding="utf-8")
    with pytest.raises(fileio.FileFormatError, match="row of 501 fields"):
        fileio.read_table(path)
    # Quoted delimiters in the header do not count as columns.
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"' + "," * 300 + '",b\n1,2\n', encoding="utf-8")
    assert fileio.read_table(quoted).columns == ["," * 300, "b"]


# -- odd paths -----------------------------------------------------------------------


def test_fifo_device_and_folder_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    device = tmp_path / "zero.csv"
    device.symlink_to("/dev/zero")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    code = f"""
from emgui.core import fileio
result = []
for p in {[str(fifo), str(device), str(folder)]!r}:
    try:
        fileio.read_table(p)
        result.append("read")
    except fileio.FileFormatError as exc:
        result.append(str(exc))
"""
    rc, result, _peak, stderr = run_limited(code, timeout=30)
    assert rc == 0, stderr
    assert result == [
        "'pipe.csv' is a pipe, not a file; save the table to a file first.",
        "'zero.csv' is a device, not a file.",
        "'folder.csv' is a folder, not a file.",
    ]


def test_output_names_up_to_the_limit_are_written(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    for ext in (".csv", ".xlsx"):
        name = "n" * (limit - len(ext)) + ext
        fileio.write_table(tmp_path / name, ["a"], [np.array(["1"], dtype=object)])
        assert fileio.read_table(tmp_path / name).columns == ["a"]
    # Multi-byte characters are cut whole.
    name = "é" * ((limit - 4) // 2) + ".csv"
    fileio.write_table(tmp_path / name, ["a"], [np.array(["1"], dtype=object)])
    assert fileio.read_table(tmp_path / name).columns == ["a"]
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_an_output_that_is_a_symlink_is_written_through(tmp_path):
    target = tmp_path / "real" / "data.csv"
    target.parent.mkdir()
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fileio.write_table(link, ["a", "b"], [np.array(["new"], dtype=object)] * 2)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8") == "a,b\nnew,new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_printable_escapes_control_and_bidi_characters():
    assert _guards.printable("a\x1b[31mb\x07\n\u202ec\udcff") == "a\\x1b[31mb\\x07\\n\\u202ec\\udcff"
    assert _guards.printable("Größe – ok") == "Größe – ok"


def test_messages_escape_control_characters_in_file_names(tmp_path):
    path = tmp_path / "a\x1b]0;pwned\x07.csv"
    path.write_bytes(b"")
    with pytest.raises(fileio.FileFormatError) as info:
        fileio.read_table(path)
    assert "\x1b" not in str(info.value) and "\\x1b]0;pwned\\x07" in str(info.value)


# -- signals during a write ------------------------------------------------------------

_WRITE_AND_SIGNAL = """
import os, signal
import numpy as np
from emgui.core import _guards, fileio
_guards.install_signal_cleanup()
n = 200_000
cells = [np.array([f"p{{i}}" for i in range(n)], dtype=object),
         np.array([str(150 + i % 50) for i in range(n)], dtype=object)]
sent = []

def progress(fraction):
    if fraction > 0.3 and not sent:
        sent.append(1)
        os.kill(os.getpid(), {sig})

fileio.write_table({path!r}, ["name", "height"], cells, progress=progress)
result = "the signal did not stop the write"
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_a_signal_during_a_write_removes_the_temporary_files_and_keeps_the_old_file(
    tmp_path, sig, ext
):
    out = tmp_path / f"out{ext}"
    out.write_bytes(b"old")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    code = _WRITE_AND_SIGNAL.format(sig=f"signal.{sig}", path=str(out))
    rc, result, _peak, stderr = run_limited(code, timeout=120, env={"TMPDIR": str(scratch)})
    assert rc == -getattr(signal, sig), (rc, result, stderr[-2000:])
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["out" + ext, "tmp"]
    assert os.listdir(scratch) == []  # the XLSX writer's row data went with it


def test_signal_cleanup_is_installed_only_over_default_handlers():
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("signal handlers can only be set from the main thread")
    custom = lambda *a: None  # noqa: E731
    old = {s: signal.getsignal(s) for s in _guards.CLEANUP_SIGNALS}
    try:
        signal.signal(signal.SIGHUP, custom)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _guards.install_signal_cleanup()
        assert signal.getsignal(signal.SIGHUP) is custom
        assert signal.getsignal(signal.SIGTERM) is _guards._on_signal
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def test_tracked_paths_are_forgotten_after_the_write(tmp_path):
    fileio.write_table(tmp_path / "a.xlsx", ["a"], [np.array(["1"], dtype=object)])
    assert not _guards._TRACKED
    assert Path(tmp_path / "a.xlsx").exists()
