"""Tests for emgui.core.fileio: reading, writing, round trips and hostile files."""

from __future__ import annotations

import builtins
import codecs
import datetime as dt
import os
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emgui.core import fileio
from emgui.core.fileio import (
    SUPPORTED_READ,
    SUPPORTED_WRITE,
    Dialect,
    FileFormatError,
    ReadCancelled,
    Table,
    read_table,
    write_table,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def col(*values) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def as_lists(table: Table) -> list[list]:
    return [list(c) for c in table.cells]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def xlsx_bytes(rows: list[list], title: str = "Sheet1") -> bytes:
    """A small workbook made by openpyxl (not by the code under test)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = title
    for row in rows:
        ws.append(row)
    path = Path(tempfile.mkdtemp()) / "w.xlsx"
    book.save(path)
    data = path.read_bytes()
    path.unlink()
    path.parent.rmdir()
    return data


def replace_member(data: bytes, member: str, content: bytes) -> bytes:
    """Rebuild a zip with one member's content swapped."""
    src = Path(tempfile.mkdtemp())
    a, b = src / "a.zip", src / "b.zip"
    a.write_bytes(data)
    with zipfile.ZipFile(a) as zin, zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, content if info.filename == member else zin.read(info))
    out = b.read_bytes()
    a.unlink()
    b.unlink()
    src.rmdir()
    return out


def shared_strings_xlsx(tmp_path: Path) -> bytes:
    """A workbook whose text lives in xl/sharedStrings.xml (xlsxwriter's default)."""
    import xlsxwriter

    path = tmp_path / "shared.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet()
    ws.write_string(0, 0, "name")
    ws.write_string(1, 0, "Ana")
    book.close()
    return path.read_bytes()


# --------------------------------------------------------------------------
# The bundled sample files


def test_reads_messy_class_csv():
    t = read_table(DATA / "messy_class.csv")
    assert t.columns == ["name", "gender", "height", "notes"]
    assert t.n_rows == 40
    assert t.meta["format"] == "csv" and t.meta["delimiter"] == ","
    names = list(t.cells[0])
    heights = list(t.cells[2])
    genders = list(t.cells[1])
    # Nothing typed is changed: quotes, apostrophes, decimal commas, accents.
    assert heights[names.index("Ben Okafor")] == "5'11\""
    assert heights[names.index("Greta Berg")] == "1,65"
    assert "Chloé Martin" in names and "Zoe Müller" in names
    assert heights[names.index("Tom Becker")] == "17O"
    assert genders[names.index("Eve Novak")] is None
    assert genders[names.index("Eli Levi")] == "N/A"
    assert heights[names.index("Liam O'Brien")] is None
    assert all(v is None or (isinstance(v, str) and v) for c in t.cells for v in c)


def test_reads_students_csv():
    t = read_table(DATA / "students_speed_gender_height.csv")
    assert t.columns == ["speed", "gender", "height"]
    assert t.n_rows == 1325
    assert list(t.cells[0][:2]) == ["85.0", "40.0"]  # "85.0" is not turned into "85"
    assert set(t.cells[1]) <= {"male", "female", None}
    assert all(c.dtype == object and len(c) == t.n_rows for c in t.cells)


# --------------------------------------------------------------------------
# CSV reading


def test_text_is_kept_exactly(tmp_path):
    p = write_bytes(tmp_path / "a.csv", b"id,code,flag,empty\n007,NA,null,\n1e5, x ,#N/A,\n")
    t = read_table(p)
    assert as_lists(t) == [["007", "1e5"], ["NA", " x "], ["null", "#N/A"], [None, None]]


def test_header_only_gives_zero_rows(tmp_path):
    t = read_table(write_bytes(tmp_path / "h.csv", b"name,gender,height\n"))
    assert t.columns == ["name", "gender", "height"]
    assert t.n_rows == 0 and all(len(c) == 0 for c in t.cells)


@pytest.mark.parametrize(
    "content", [b"", b"\n\n\r\n", b"   \n \n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE]
)
def test_empty_file_is_refused(tmp_path, content):
    p = write_bytes(tmp_path / "x.csv", content)
    with pytest.raises(FileFormatError, match=r"^'x\.csv' is empty\.$"):
        read_table(p)


def test_ragged_rows_keep_all_data(tmp_path):
    p = write_bytes(tmp_path / "r.csv", b"a,b,c\n1,2\n3,4,5,6,7\n8\n")
    t = read_table(p)
    assert t.columns == ["a", "b", "c", "", ""]
    assert as_lists(t) == [
        ["1", "3", "8"],
        ["2", "4", None],
        [None, "5", None],
        [None, "6", None],
        [None, "7", None],
    ]


def test_unterminated_quote_keeps_the_rest(tmp_path):
    p = write_bytes(tmp_path / "q.csv", b'a,b\n1,"open\n2,3\n')
    t = read_table(p)
    assert t.columns == ["a", "b"]
    assert t.cells[0][0] == "1" and t.cells[1][0].startswith("open\n2,3")


def test_quoted_newlines_delimiters_and_quotes(tmp_path):
    p = write_bytes(
        tmp_path / "q.csv",
        b'name,note\n"Smith, Ann","line one\nline two"\n"say ""hi""",\'single\'\n',
    )
    t = read_table(p)
    assert as_lists(t) == [["Smith, Ann", 'say "hi"'], ["line one\nline two", "'single'"]]


@pytest.mark.parametrize("arrow", [False, True])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a,b\n\n1,2\n,\n3,\n,\n,\n", [["1", None, "3"], ["2", None, None]]),
        (b"a,b\n1,2\n,\n,4\n", [["1", None, None], ["2", None, "4"]]),  # the last row has a cell: all kept
        (b"a,b\n,\n,\n", [[], []]),
    ],
)
def test_blank_lines_skipped_and_trailing_empty_rows_dropped(tmp_path, arrow, data, expected):
    # arrow=True: the command line's Arrow columns, which end at the last row with a cell too.
    p = write_bytes(tmp_path / "b.csv", data)
    t = read_table(p, arrow=arrow)
    assert [[None if v is None else str(v) for v in c.to_pylist()] if arrow else list(c) for c in t.cells] == expected


def test_duplicate_and_blank_column_names_kept(tmp_path):
    p = write_bytes(tmp_path / "d.csv", b"x,,x,\n1,2,3,4\n")
    t = read_table(p)
    assert t.columns == ["x", "", "x", ""]
    assert as_lists(t) == [["1"], ["2"], ["3"], ["4"]]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("'=SUM(A1)", "=SUM(A1)"),
        ("''=x", "'=x"),
        ("'-", "-"),
        ("'+44 20", "+44 20"),
        ("'@me", "@me"),
        ("'\t", "\t"),
        ("'abc", "'abc"),  # not ours: a quote before ordinary text stays
        ("'5", "'5"),
        ("'", "'"),
        ("-5", "-5"),
    ],
)
def test_formula_escape_removed_on_read(tmp_path, raw, expected):
    p = tmp_path / "f.csv"
    p.write_text(f'h\n"{raw}"\n', encoding="utf-8")
    assert read_table(p).cells[0][0] == expected


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("name,Größe\nChloé,170\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "name,Größe\nChloé,170\n".encode(), "utf-8-sig"),
        ("name,Größe\nChloé,170\n".encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + "name,Größe\nChloé,170\n".encode("utf-16-be"), "utf-16"),
        ("name,Größe\nChloé,170\n".encode("utf-16-le"), "utf-16-le"),
        ("name,Größe\nChloé,170\n".encode("utf-16-be"), "utf-16-be"),
        ("name,Größe\nChloé,170\n".encode("utf-32"), "utf-32"),
        ("name,Größe\nChloé,170\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_detected(tmp_path, data, encoding):
    t = read_table(write_bytes(tmp_path / "e.csv", data))
    assert t.columns == ["name", "Größe"]
    assert as_lists(t) == [["Chloé"], ["170"]]
    assert t.meta["encoding"] == encoding


def test_latin1_detected_even_when_accent_comes_late(tmp_path):
    body = "name,h\n" + "Ann,160\n" * 50_000 + "Chloé,170\n"
    t = read_table(write_bytes(tmp_path / "late.csv", body.encode("cp1252")))
    assert t.cells[0][-1] == "Chloé" and t.meta["encoding"] == "cp1252"
    # 0x81 is undefined in cp1252; Latin-1 still reads it.
    t = read_table(write_bytes(tmp_path / "l1.csv", b"a,b\nx\x81,\xe9\n"))
    assert t.meta["encoding"] == "latin-1" and as_lists(t) == [["x\x81"], ["é"]]
    # Nothing tells that guess from another: the user is told it is one.
    assert len(t.warnings) == 1 and "Latin-1, a guess" in t.warnings[0]


def test_truncated_utf8_tail_is_tolerated(tmp_path):
    data = "name,h\nZoë,1\nChloé,2\n".encode()
    data = data[: data.rindex("é".encode()) + 1]  # cut inside the two-byte "é"
    t = read_table(write_bytes(tmp_path / "cut.csv", data))
    assert t.meta["encoding"] == "utf-8"
    assert t.cells[0][0] == "Zoë" and t.cells[0][1].startswith("Chlo")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("name;height;note\nAna;1,65;a, b\nBen;1,80;c\n", ";"),
        ("name\theight\tnote\nAna\t1,65\ta, b\nBen\t1,80\tc\n", "\t"),
        ("name|height\nAna|1,65\nBen|1,80\n", "|"),
        ('name,height\n"Ana; Lee",165\n"Ben; Ng",180\n', ","),
        ("name,height\nAna,165\n", ","),
    ],
)
def test_delimiter_detected(tmp_path, text, delimiter):
    t = read_table(write_bytes(tmp_path / "d.csv", text.encode()))
    assert t.meta["delimiter"] == delimiter
    assert t.columns[:2] == ["name", "height"]
    assert t.cells[0][0] in ("Ana", "Ana; Lee")


def test_single_column_file(tmp_path):
    t = read_table(write_bytes(tmp_path / "one.csv", b"height\n170\n165\n"))
    assert t.columns == ["height"] and as_lists(t) == [["170", "165"]]


def test_tsv_extension_forces_tab(tmp_path):
    t = read_table(write_bytes(tmp_path / "t.tsv", b"a,b\tc\n1,2\t3\n"))
    assert t.columns == ["a,b", "c"] and t.meta == {
        "format": "tsv",
        "delimiter": "\t",
        "encoding": "utf-8",
        "dialect": Dialect(delimiter="\t", decimal=",", encoding="utf-8"),
    }


def test_txt_is_sniffed(tmp_path):
    t = read_table(write_bytes(tmp_path / "t.txt", b"a\tb\n1\t2\n"))
    assert t.columns == ["a", "b"] and t.meta["delimiter"] == "\t"


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 8,
        b"\x89PNG\r\n\x1a\n" + bytes(1000),
        b"name,h\nAna,1\x00\x00\x00\n",
        bytes(np.random.default_rng(1).integers(1, 256, 4000, dtype=np.uint8)),
    ],
)
def test_binary_junk_refused(tmp_path, data):
    with pytest.raises(FileFormatError, match=r"^'junk\.csv' does not look like a text table"):
        read_table(write_bytes(tmp_path / "junk.csv", data))


def test_workbook_renamed_to_csv_refused(tmp_path):
    with pytest.raises(FileFormatError, match="does not look like a text table"):
        read_table(write_bytes(tmp_path / "book.csv", xlsx_bytes([["a"], [1]])))


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match=r"^'nope\.csv' does not exist\.$"):
        read_table(tmp_path / "nope.csv")


def test_directory(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(FileFormatError, match=r"^'dir\.csv' is a folder, not a file\.$"):
        read_table(tmp_path / "dir.csv")


def test_permission_denied(tmp_path, monkeypatch):
    p = write_bytes(tmp_path / "locked.csv", b"a\n1\n")
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if os.fspath(file) == str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(fileio, "open", fake_open, raising=False)
    with pytest.raises(
        FileFormatError, match=r"^'locked\.csv' cannot be opened: permission denied\.$"
    ):
        read_table(p)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied_for_real(tmp_path):
    p = write_bytes(tmp_path / "locked.csv", b"a\n1\n")
    p.chmod(0)
    try:
        with pytest.raises(FileFormatError, match="permission denied"):
            read_table(p)
    finally:
        p.chmod(0o600)


@pytest.mark.parametrize("name", ["data.json", "data", "book.xls", "x.numbers"])
def test_unknown_extension(tmp_path, name):
    p = write_bytes(tmp_path / name, b"a,b\n1,2\n")
    with pytest.raises(
        FileFormatError, match="supported types are .csv, .tsv, .txt, .xlsx, .xlsm, .ods"
    ):
        read_table(p)


def test_extension_is_case_insensitive(tmp_path):
    assert read_table(write_bytes(tmp_path / "UP.CSV", b"a\n1\n")).columns == ["a"]


# --------------------------------------------------------------------------
# XLSX / ODS reading


def test_xlsx_values_become_shortest_text(tmp_path):
    rows = [
        ["int", "float", "whole", "big", "noise", "neg0", "bool", "date", "datetime", "time", "text", "id"],
        [170, 170.5, 170.0, 1e20, 0.1 + 0.2, -0.0, True, dt.date(2024, 1, 2),
         dt.datetime(2024, 1, 2, 3, 4, 5), dt.time(12, 30), "007", 1234567890123456.0],
        [None, None, None, None, None, None, False, None, dt.datetime(2024, 1, 2), None, "=1+1",
         9007199254740993.0],
    ]  # fmt: skip
    p = write_bytes(tmp_path / "v.xlsx", xlsx_bytes(rows))
    t = read_table(p)
    assert t.columns == rows[0]
    got = dict(zip(t.columns, as_lists(t), strict=True))
    assert got["int"] == ["170", None]
    assert got["float"] == ["170.5", None]
    assert got["whole"] == ["170", None]
    assert got["big"] == ["1e+20", None]
    assert got["id"] == ["1234567890123456", "9007199254740993"[:-1] + "2"]
    assert got["noise"] == ["0.3", None]
    assert got["neg0"] == ["0", None]
    assert got["bool"] == ["TRUE", "FALSE"]
    assert got["date"] == ["2024-01-02", None]
    assert got["datetime"] == ["2024-01-02 03:04:05", "2024-01-02"]
    assert got["time"] == ["12:30:00", None]
    # A formula reads as its cached value; openpyxl stores none, so its text
    # stands in (a blank would look like a gap to fill).
    assert got["text"] == ["007", "=1+1"]
    assert t.meta == {"format": "xlsx", "sheet": "Sheet1", "sheets": ["Sheet1"]}


def test_xlsx_error_cells_keep_their_text(tmp_path):
    rows = [["name", "height"], ["Ana", "#N/A"], ["Ben", "#DIV/0!"], ["Cy", 170], ["Di", "_x0041_"]]
    p = write_bytes(tmp_path / "err.xlsx", xlsx_bytes(rows))
    ws = openpyxl.load_workbook(p).active
    assert ws["B2"].data_type == "e"  # the fixture really holds error cells
    t = read_table(p)
    # openpyxl wrote "_x0041_" unescaped, so Excel (and calamine) read "A": so do we.
    assert as_lists(t) == [["Ana", "Ben", "Cy", "Di"], ["#N/A", "#DIV/0!", "170", "A"]]


def test_xlsx_error_cells_path_can_be_cancelled(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["name", "height"])
    for i in range(5000):
        ws.append([f"p{i}", "#N/A" if i == 7 else i])
    p = tmp_path / "err.xlsx"
    book.save(p)
    seen: list[float] = []
    with pytest.raises(ReadCancelled):
        read_table(p, progress=seen.append, cancel=lambda: bool(seen) and seen[-1] >= 0.35)
    assert read_table(p).cells[1][7] == "#N/A"


def test_xlsx_leading_empty_rows_and_columns_skipped(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws["C3"], ws["D3"], ws["C4"], ws["D5"] = "name", "height", "Ana", 162
    p = tmp_path / "offset.xlsx"
    book.save(p)
    t = read_table(p)
    assert t.columns == ["name", "height"]
    assert as_lists(t) == [["Ana", None], [None, "162"]]


def test_xlsx_sheet_choice(tmp_path):
    book = openpyxl.Workbook()
    hidden = book.active
    hidden.title = "Hidden"
    hidden.append(["secret"])
    hidden.sheet_state = "hidden"
    data = book.create_sheet("Data")
    data.append(["name"])
    data.append(["Ana"])
    notes = book.create_sheet("Notes")
    notes.append(["note"])
    p = tmp_path / "sheets.xlsx"
    book.save(p)
    t = read_table(p)
    assert t.meta["sheet"] == "Data" and t.columns == ["name"]
    assert t.meta["sheets"] == ["Hidden", "Data", "Notes"]
    assert read_table(p, sheet="Notes").columns == ["note"]
    assert read_table(p, sheet="Hidden").columns == ["secret"]
    with pytest.raises(
        FileFormatError,
        match=r"has no sheet named 'Nope'; its sheets are 'Hidden', 'Data', 'Notes'\.$",
    ):
        read_table(p, sheet="Nope")


def test_xlsx_empty_sheet(tmp_path):
    p = write_bytes(tmp_path / "blank.xlsx", xlsx_bytes([]))
    with pytest.raises(FileFormatError, match=r"^'blank\.xlsx' is empty"):
        read_table(p)


def test_xlsx_header_only(tmp_path):
    t = read_table(write_bytes(tmp_path / "h.xlsx", xlsx_bytes([["a", "b"]])))
    assert t.columns == ["a", "b"] and t.n_rows == 0


def test_xlsm_reads_like_xlsx(tmp_path):
    t = read_table(write_bytes(tmp_path / "m.xlsm", xlsx_bytes([["a"], ["x"]])))
    assert t.columns == ["a"] and as_lists(t) == [["x"]]


def test_not_a_zip(tmp_path):
    p = write_bytes(tmp_path / "class.xlsx", b"name,height\nAna,160\n")
    with pytest.raises(
        FileFormatError,
        match=r"^'class\.xlsx' is not an Excel workbook \(it is not a zip archive\)\.$",
    ):
        read_table(p)


def test_ole_magic_means_xls_or_password(tmp_path):
    p = write_bytes(tmp_path / "old.xlsx", bytes.fromhex("D0CF11E0A1B11AE1") + bytes(600))
    with pytest.raises(FileFormatError, match="password-protected or an old .xls workbook"):
        read_table(p)


def test_empty_xlsx_file(tmp_path):
    with pytest.raises(FileFormatError, match=r"^'e\.xlsx' is empty\.$"):
        read_table(write_bytes(tmp_path / "e.xlsx", b""))


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_xlsx(tmp_path, cut):
    data = xlsx_bytes([["a", "b"], *[[f"row {i}", i] for i in range(200)]])
    p = write_bytes(tmp_path / "cut.xlsx", data[: int(len(data) * cut)])
    with pytest.raises(FileFormatError, match=r"^'cut\.xlsx' "):
        read_table(p)


def test_corrupt_member_crc(tmp_path):
    data = bytearray(xlsx_bytes([["a"], *[[f"row {i}"] for i in range(50)]]))
    with zipfile.ZipFile(write_bytes(tmp_path / "ok.xlsx", bytes(data))) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    # Flip a byte inside the member's compressed data.
    name_len, extra_len = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    with pytest.raises(FileFormatError, match=r"^'bad\.xlsx' is damaged"):
        read_table(write_bytes(tmp_path / "bad.xlsx", bytes(data)))


def _set_central_sizes(data: bytes, member: str, size: int) -> bytes:
    """Rewrite a member's uncompressed size in the central directory only."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack("<H", out[pos + 28 : pos + 30])[0]
        if out[pos + 46 : pos + 46 + name_len].decode() == member:
            out[pos + 24 : pos + 28] = struct.pack("<I", size)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def test_zip_declaring_huge_sizes_refused(tmp_path):
    data = _set_central_sizes(xlsx_bytes([["a"], ["b"]]), "xl/worksheets/sheet1.xml", 0xFFFF0000)
    with pytest.raises(FileFormatError, match="would expand to .* GiB"):
        read_table(write_bytes(tmp_path / "huge.xlsx", data))


def test_zip_understating_sizes_refused(tmp_path):
    # A member that claims 10 bytes but inflates to much more: Python stops at
    # the claim and the CRC then fails, before calamine sees the file.
    data = _set_central_sizes(
        xlsx_bytes([["a"], *[["x" * 50] for _ in range(100)]]), "xl/worksheets/sheet1.xml", 10
    )
    with pytest.raises(FileFormatError, match="is damaged"):
        read_table(write_bytes(tmp_path / "liar.xlsx", data))


def test_zip_bomb_ratio_refused(tmp_path, monkeypatch):
    # A real high-ratio member: 8 MiB of zeros is about 8 KiB compressed.  The
    # thresholds are lowered so that the test stays fast; the rule is the same.
    monkeypatch.setattr(fileio, "MAX_MEMBER_FOR_RATIO", 1 << 20)
    data = xlsx_bytes([["a"], ["b"]])
    bomb = replace_member(data, "xl/worksheets/sheet1.xml", bytes(8 << 20))
    with zipfile.ZipFile(write_bytes(tmp_path / "bomb.xlsx", bomb)) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        assert info.file_size / info.compress_size > 200
    with pytest.raises(FileFormatError, match=r"^'bomb\.xlsx' looks like a zip bomb"):
        read_table(tmp_path / "bomb.xlsx")


def test_zip_with_too_many_members_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "MAX_ZIP_MEMBERS", 5)
    p = write_bytes(tmp_path / "many.xlsx", xlsx_bytes([["a"]]))
    with pytest.raises(FileFormatError, match="too many"):
        read_table(p)


_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE sst [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">
<si><t>name</t></si><si><t>&lol9;</t></si></sst>"""


def _external_entity(secret: Path) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file://{secret}">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">
<si><t>name</t></si><si><t>&xxe;</t></si></sst>""".encode()


def _assert_safe(path: Path, secret: str | None = None) -> None:
    """Reading may fail cleanly or give harmless text: never expand, never read files."""
    try:
        t = read_table(path)
    except FileFormatError:
        return
    cells = [v for c in t.cells for v in c if v is not None] + t.columns
    assert all(len(v) < 1000 for v in cells)
    if secret is not None:
        assert not any(secret in v for v in cells)


def test_billion_laughs_refused(tmp_path):
    data = replace_member(shared_strings_xlsx(tmp_path), "xl/sharedStrings.xml", _LAUGHS)
    p = write_bytes(tmp_path / "laughs.xlsx", data)
    with pytest.raises(
        FileFormatError, match=r"^'laughs\.xlsx' contains an XML document type declaration"
    ):
        read_table(p)
    _assert_safe(p)


def test_billion_laughs_not_expanded_even_without_the_check(tmp_path, monkeypatch):
    # Defence in depth: calamine itself must not expand entities.
    monkeypatch.setattr(fileio, "_DOCTYPE_MARKS", ())
    data = replace_member(shared_strings_xlsx(tmp_path), "xl/sharedStrings.xml", _LAUGHS)
    _assert_safe(write_bytes(tmp_path / "laughs.xlsx", data))


@pytest.mark.parametrize("check", [True, False])
def test_external_entity_not_read(tmp_path, monkeypatch, check):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    if not check:
        monkeypatch.setattr(fileio, "_DOCTYPE_MARKS", ())
    data = replace_member(
        shared_strings_xlsx(tmp_path), "xl/sharedStrings.xml", _external_entity(secret)
    )
    p = write_bytes(tmp_path / "xxe.xlsx", data)
    if check:
        with pytest.raises(FileFormatError, match="document type declaration"):
            read_table(p)
    _assert_safe(p, "TOP-SECRET-42")


def test_doctype_in_any_member_refused(tmp_path):
    # A part's name does not decide whether a parser reads it: the
    # relationships do.  So an odd name is checked too.
    data = xlsx_bytes([["a"], ["b"]])
    src = tmp_path / "src"
    src.mkdir()
    (src / "in.zip").write_bytes(data)
    with (
        zipfile.ZipFile(src / "in.zip") as zin,
        zipfile.ZipFile(tmp_path / "odd.xlsx", "w") as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr("xl/custom/part.dat", _LAUGHS)
    with pytest.raises(FileFormatError, match="document type declaration"):
        read_table(tmp_path / "odd.xlsx")


def test_doctype_in_sheet_with_error_cells_refused(tmp_path):
    # The openpyxl path (used for error cells) is guarded by the same check.
    data = xlsx_bytes([["a"], ["#N/A"]])
    with zipfile.ZipFile(write_bytes(tmp_path / "e.xlsx", data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    hostile = sheet.replace(b"<worksheet", b'<!DOCTYPE worksheet [<!ENTITY a "b">]><worksheet', 1)
    p = write_bytes(
        tmp_path / "dtd.xlsx", replace_member(data, "xl/worksheets/sheet1.xml", hostile)
    )
    with pytest.raises(FileFormatError, match="document type declaration"):
        read_table(p)


def _ods_bytes(rows_xml: str) -> bytes:
    content = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="Class">{rows_xml}</table:table>
</office:spreadsheet></office:body></office:document-content>"""
    manifest = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
    path = Path(tempfile.mkdtemp()) / "x.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    data = path.read_bytes()
    path.unlink()
    path.parent.rmdir()
    return data


def _s(text: str) -> str:
    return (
        f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
    )


def _f(value: str) -> str:
    return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'


def test_ods_read(tmp_path):
    rows = (
        f"<table:table-row>{_s('name')}{_s('height')}</table:table-row>"
        f"<table:table-row>{_s('Chloé')}{_f('162')}</table:table-row>"
        f"<table:table-row>{_s('Ben')}{_f('170.5')}</table:table-row>"
    )
    t = read_table(write_bytes(tmp_path / "class.ods", _ods_bytes(rows)))
    assert t.columns == ["name", "height"]
    assert as_lists(t) == [["Chloé", "Ben"], ["162", "170.5"]]
    assert t.meta["format"] == "ods" and t.meta["sheet"] == "Class"


def test_ods_not_a_zip(tmp_path):
    with pytest.raises(
        FileFormatError, match=r"is not an OpenDocument spreadsheet \(it is not a zip archive\)"
    ):
        read_table(write_bytes(tmp_path / "x.ods", b"a,b\n"))


# --------------------------------------------------------------------------
# Writing and round trips

SPECIAL = [
    "=SUM(A1)",
    "-",
    "'=x",
    "''+y",
    "+44 20",
    "-5",
    "+3.2",
    "-1e3",
    "@home",
    "\tindented",
    "\rcr",
    "a\rb",
    "a\r\nb",
    "line\nbreak",
    "007",
    "1.50",
    "170",
    "170.5",
    "NA",
    "#N/A",
    "_x0041_",
    " padded ",
    "   ",
    "x" * 10_000,
    "Größe ✓ 日本語 😀",
    'say "hi", ok; a|b\tc',
    "'",
    "'abc",
]


def special_table():
    n = len(SPECIAL)
    columns = ["name", "=cmd", "", "name", "-", "Größe"]
    cells = [
        col(*SPECIAL),
        col(*reversed(SPECIAL)),
        col(*([None] * (n - 1) + ["last"])),
        col(*[f"row {i}" for i in range(n)]),
        col(*[None if i % 3 else s for i, s in enumerate(SPECIAL)]),
        col(*[str(150 + i) for i in range(n)]),
    ]
    return columns, cells


@pytest.mark.parametrize("ext", SUPPORTED_WRITE)
def test_round_trip_special_values(tmp_path, ext):
    columns, cells = special_table()
    p = tmp_path / f"out{ext}"
    write_table(p, columns, cells)
    t = read_table(p)
    assert t.columns == columns
    if ext == ".xlsx":
        # Number cells come back as their values ("1.50" -> "1.5", "-1e3" -> "-1000").
        assert as_lists(t) == [[xlsx_reads_as(v) for v in c] for c in cells]
    else:
        assert as_lists(t) == [list(c) for c in cells]
    # load -> save -> load gives the same again
    p2 = tmp_path / f"again{ext}"
    write_table(p2, t.columns, t.cells)
    t2 = read_table(p2)
    assert t2.columns == t.columns and as_lists(t2) == as_lists(t)


def xlsx_reads_as(text):
    """What reading back an XLSX cell written from ``text`` gives."""
    from emgui.core.fileio import _format_number, _xlsx_number

    number = None if text is None else _xlsx_number(text)
    return text if number is None else _format_number(number[0])


def test_csv_output_is_formula_safe(tmp_path):
    p = tmp_path / "safe.csv"
    write_table(p, ["=h", "n"], [col("=SUM(A1)", "-", "+44 20", "@x", "'=x", "-5", "+3.2", "-1,5", "plain"),
                                  col(*"abcdefghi")])  # fmt: skip
    lines = p.read_bytes().decode("utf-8").split("\n")
    assert lines[0] == "'=h,n"
    firsts = [line.split(",")[0] for line in lines[1:-1]]
    assert firsts == ["'=SUM(A1)", "'-", "'+44 20", "'@x", "''=x", "-5", "+3.2", '"-1', "plain"]
    assert lines[8] == '"-1,5",h'  # a decimal-comma number stays a number (quoted, not escaped)
    assert p.read_bytes().endswith(b"\n") and b"\r" not in p.read_bytes()


def test_csv_quotes_rows_with_carriage_returns(tmp_path):
    p = tmp_path / "cr.csv"
    write_table(p, ["a", "b"], [col("x\ry", "plain"), col("1", "2")])
    assert p.read_bytes() == b'a,b\n"x\ry","1"\nplain,2\n'
    assert as_lists(read_table(p)) == [["x\ry", "plain"], ["1", "2"]]


def test_csv_nul_replaced(tmp_path):
    p = tmp_path / "nul.csv"
    write_table(p, ["a"], [col("x\x00y")])
    assert read_table(p).cells[0][0] == "x\ufffdy"


def test_csv_one_column_with_blank_cells(tmp_path):
    p = tmp_path / "one.csv"
    write_table(p, ["h"], [col("a", None, "  ", "b")])
    assert as_lists(read_table(p)) == [["a", None, "  ", "b"]]


def test_csv_header_starting_with_bom_character(tmp_path):
    p = tmp_path / "bom.csv"
    write_table(p, ["\ufeffname", "b"], [col("x"), col("y")])
    t = read_table(p)
    assert t.columns == ["\ufeffname", "b"] and as_lists(t) == [["x"], ["y"]]


def test_csv_other_delimiters_in_cells_do_not_fool_detection(tmp_path):
    p = tmp_path / "semi.csv"
    write_table(p, ["", ";;"], [col("a;b", "c|d"), col("e\tf", ";")])
    assert p.read_bytes().startswith(b'"",";;"\n')
    t = read_table(p)
    assert t.meta["delimiter"] == "," and t.columns == ["", ";;"]
    assert as_lists(t) == [["a;b", "c|d"], ["e\tf", ";"]]


def test_tsv_with_blank_header_names(tmp_path):
    p = tmp_path / "blank.tsv"
    write_table(p, ["", ""], [col(), col()])
    assert p.read_bytes() == b"\t\n"
    t = read_table(p)
    assert t.columns == ["", ""] and t.n_rows == 0


def test_tsv_written_with_tabs(tmp_path):
    p = tmp_path / "out.tsv"
    write_table(p, ["a", "b"], [col("1, 2", None), col("x", "y")])
    assert p.read_bytes() == b"a\tb\n1, 2\tx\n\ty\n"


def test_xlsx_cell_types_and_styles(tmp_path):
    p = tmp_path / "typed.xlsx"
    fills = {1: col(None, "#FFCC00", None, None)}
    notes = {1: col(None, "p = 0.87", None, None)}
    write_table(
        p,
        ["name", "height"],
        [col("=SUM(A1)", "#N/A", "007", "-"), col("-5", "170.5", "1.50", "+3")],
        fill_colors=fills,
        comments=notes,
    )
    ws = openpyxl.load_workbook(p).active
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.b and ws["B1"].font.b
    assert (ws["A2"].value, ws["A2"].data_type) == ("=SUM(A1)", "s")
    assert (ws["A3"].value, ws["A3"].data_type) == ("#N/A", "s")
    assert (ws["A4"].value, ws["A4"].data_type) == ("007", "s")
    assert (ws["B2"].value, ws["B2"].data_type) == (-5, "n")
    assert (ws["B3"].value, ws["B3"].data_type) == (170.5, "n")
    # Every number a number cell, its typed decimals kept by a number format.
    assert (ws["B4"].value, ws["B4"].data_type, ws["B4"].number_format) == (1.5, "n", "0.00")
    assert (ws["B5"].value, ws["B5"].data_type) == ("+3", "s")
    assert ws["B3"].fill.fill_type == "solid" and ws["B3"].fill.fgColor.rgb.endswith("FFCC00")
    assert ws["B2"].fill.fill_type is None
    # The author's line first, as Excel shows a note.
    assert ws["B3"].comment is not None and ws["B3"].comment.text == "EM Gap Filler:\np = 0.87"
    assert ws["B3"].comment.author == "EM Gap Filler"
    assert ws["B2"].comment is None
    # and calamine (our reader) sees text, not formulas or errors
    t = read_table(p)
    assert as_lists(t) == [["=SUM(A1)", "#N/A", "007", "-"], ["-5", "170.5", "1.5", "+3"]]


def test_xlsx_number_cells_typed_a_column_at_a_time():
    from emgui.core.fileio import _xlsx_numbers

    cells = col("170", "160.0", "183,7", ".5", "-0", "1e3", "1.50E-2", "007", "1,234", "1,",
                "+3", "1234567890123456", "123456789012345", "1e999", "12a", "", None, "0.0")  # fmt: skip
    is_number, values, formats = _xlsx_numbers(cells)
    got = [(float(v), f) if n else None for n, v, f in zip(is_number, values, formats, strict=True)]
    assert got == [
        (170.0, None), (160.0, "0.0"), (183.7, "0.0"), (0.5, "0.0"), (-0.0, None), (1000.0, "0E+0"),
        (0.015, "0.00E+0"), None, None, None,  # leading zero, maybe thousands, "1," kept as typed
        None, None, (123456789012345.0, None), None,  # "+3", 16 digits, 15 digits, overflow
        None, None, None, (0.0, "0.0"),
    ]  # fmt: skip


def test_xlsx_fill_on_empty_cell(tmp_path):
    p = tmp_path / "blank.xlsx"
    write_table(
        p, ["a", "b"], [col("x", "y"), col(None, "1")], fill_colors={1: col("#00FF00", None)}
    )
    ws = openpyxl.load_workbook(p).active
    assert ws["B2"].value is None and ws["B2"].fill.fgColor.rgb.endswith("00FF00")
    assert as_lists(read_table(p)) == [["x", "y"], [None, "1"]]


def test_xlsx_noncharacters_become_replacement_character(tmp_path):
    p = tmp_path / "nc.xlsx"
    write_table(p, ["a\ufffe"], [col("x\uffffy", "\x01ctl\r")])
    t = read_table(p)
    assert t.columns == ["a\ufffd"] and as_lists(t) == [["x\ufffdy", "\x01ctl\r"]]


def test_xlsx_too_long_cell_refused(tmp_path):
    p = tmp_path / "long.xlsx"
    with pytest.raises(FileFormatError, match=r"row 3, column 1 .* 32,768 characters"):
        write_table(p, ["a"], [col("ok", "x" * 32_768)])
    assert not p.exists() and os.listdir(tmp_path) == []
    # Excel counts UTF-16 units: 20,000 emoji are 40,000 of them.
    with pytest.raises(FileFormatError, match="40,000 characters"):
        write_table(p, ["a"], [col("😀" * 20_000)])
    write_table(p, ["a"], [col("x" * 32_767)])
    assert read_table(p).cells[0][0] == "x" * 32_767


def test_xlsx_overlong_comment_is_shortened(tmp_path):
    p = tmp_path / "note.xlsx"
    write_table(p, ["a"], [col("x")], comments={0: col("😀" * 20_000)})
    note = openpyxl.load_workbook(p).active["A2"].comment.text
    assert note.endswith("\u2026") and note.startswith("EM Gap Filler:\n😀")
    assert len(note.encode("utf-16-le")) // 2 <= 32_767


def test_write_validates_arguments(tmp_path):
    p = tmp_path / "v.csv"
    with pytest.raises(ValueError, match="2 column names but 1"):
        write_table(p, ["a", "b"], [col("1")])
    with pytest.raises(ValueError, match="different lengths"):
        write_table(p, ["a", "b"], [col("1"), col("1", "2")])
    with pytest.raises(ValueError, match="'red'"):
        write_table(tmp_path / "v.xlsx", ["a"], [col("1")], fill_colors={0: col("red")})
    with pytest.raises(ValueError, match="column index 3"):
        write_table(tmp_path / "v.xlsx", ["a"], [col("1")], comments={3: col("c")})
    with pytest.raises(FileFormatError, match="supported types are .csv, .tsv, .xlsx"):
        write_table(tmp_path / "v.ods", ["a"], [col("1")])
    assert os.listdir(tmp_path) == []


def test_write_accepts_lists_and_non_text(tmp_path):
    p = tmp_path / "mixed.csv"
    write_table(
        p, ["a", "b", "c"], [["x", None, "y"], np.array([170.0, np.nan, 0.5]), col(3, "", None)]
    )
    assert as_lists(read_table(p)) == [["x", None, "y"], ["170", None, "0.5"], ["3", None, None]]


# --------------------------------------------------------------------------
# Atomic writes, progress and cancel


@pytest.mark.parametrize("ext", SUPPORTED_WRITE)
def test_failed_replace_keeps_old_file(tmp_path, monkeypatch, ext):
    p = tmp_path / f"keep{ext}"
    p.write_bytes(b"old content")

    def boom(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.os, "replace", boom)
    with pytest.raises(
        PermissionError, match=rf"^Could not save 'keep\{ext}': permission denied\.$"
    ):
        write_table(p, ["a"], [col("new")])
    assert p.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == [p.name]


@pytest.mark.parametrize("ext", SUPPORTED_WRITE)
def test_cancelled_write_keeps_old_file(tmp_path, monkeypatch, ext):
    scratch = tmp_path / "systmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the XLSX writer's own temp files
    out = tmp_path / "out"
    out.mkdir()
    p = out / f"keep{ext}"
    p.write_bytes(b"old content")
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    n = 10_000
    with pytest.raises(ReadCancelled):
        write_table(p, ["a", "b"], [col(*map(str, range(n))), col(*["x"] * n)], cancel=cancel)
    assert p.read_bytes() == b"old content"
    assert os.listdir(out) == [p.name]
    assert os.listdir(scratch) == []


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"^Could not save 'x\.csv': its folder does not exist\.$"
    ):
        write_table(tmp_path / "no" / "x.csv", ["a"], [col("1")])


def test_write_onto_a_folder(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(OSError, match=r"^Could not save 'dir\.csv'"):
        write_table(tmp_path / "dir.csv", ["a"], [col("1")])
    assert os.listdir(tmp_path) == ["dir.csv"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_write_into_read_only_folder(tmp_path):
    p = tmp_path / "keep.csv"
    p.write_bytes(b"old")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="Could not save 'keep.csv'"):
            write_table(p, ["a"], [col("1")])
    finally:
        tmp_path.chmod(0o700)
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["keep.csv"]


def test_replaced_file_keeps_its_permissions(tmp_path):
    p = tmp_path / "perm.csv"
    p.write_bytes(b"old")
    p.chmod(0o640)
    write_table(p, ["a"], [col("1")])
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.csv"
    write_table(fresh, ["a"], [col("1")])
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not the temp file's 0600


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    n = 150_000
    p = tmp_path_factory.mktemp("big") / "big.csv"
    rng = np.random.default_rng(0)
    heights = col(*(f"{h:.1f}" for h in rng.normal(170, 10, n)))
    genders = np.array(["male", "female", None], dtype=object)[rng.integers(0, 3, n)]
    write_table(p, ["gender", "height"], [genders, heights])
    return p, genders, heights


def test_large_csv_reads_in_chunks_with_progress(big_csv):
    p, genders, heights = big_csv
    seen: list[float] = []
    t = read_table(p, progress=seen.append)
    assert t.n_rows == len(heights)
    assert list(t.cells[0]) == list(genders) and list(t.cells[1]) == list(heights)
    assert len(seen) >= 4 and seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen == sorted(seen)


def test_read_cancel(big_csv, tmp_path):
    p = big_csv[0]
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(ReadCancelled):
        read_table(p, cancel=cancel)
    x = tmp_path / "c.xlsx"
    write_table(x, ["a"], [col(*map(str, range(10_000)))])
    with pytest.raises(ReadCancelled):
        read_table(x, cancel=lambda: True)


def test_write_progress(tmp_path):
    for ext in SUPPORTED_WRITE:
        seen: list[float] = []
        write_table(
            tmp_path / f"p{ext}", ["a"], [col(*map(str, range(20_000)))], progress=seen.append
        )
        assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 3


# --------------------------------------------------------------------------
# Properties

# Printable text plus tab, newline and CR: a file dominated by other control
# characters is taken for binary data, which is the point of that check.
_csv_alphabet = st.characters(
    blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r\ufeff\x85\u2028"
)
# XML cannot carry U+FFFE/U+FFFF; they are written as U+FFFD (tested above).
_xlsx_alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff")
# Pieces that met bugs or are meant to: formula starts, delimiters, quotes,
# OOXML escapes, number look-alikes, a byte-order mark.
_tokens = st.sampled_from(
    ["=", "-", "+", "@", "'", "\t", "\r", "\n", ",", ";", "|", '"', " ", "1", "0", ".", "e",
     "_x0041_", "_x005F_", "#N/A", "\ufeff"]
)  # fmt: skip


def _text(alphabet):
    return st.one_of(
        st.text(alphabet, min_size=1, max_size=12),
        st.lists(_tokens, min_size=1, max_size=6).map("".join),
    )


_csv_cell = st.one_of(st.none(), _text(_csv_alphabet))
_xlsx_cell = st.one_of(st.none(), _text(_xlsx_alphabet))


@st.composite
def tables(draw, cell, name):
    n_cols = draw(st.integers(1, 4))
    n_rows = draw(st.integers(0, 6))
    columns = [draw(name) for _ in range(n_cols)]
    cells = [col(*(draw(cell) for _ in range(n_rows))) for _ in range(n_cols)]
    return columns, cells


def _trim_rows(cells):
    n = len(cells[0])
    while n and all(c[n - 1] is None for c in cells):
        n -= 1
    return [list(c[:n]) for c in cells]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tables(_csv_cell, st.one_of(st.just(""), _text(_csv_alphabet))),
    st.sampled_from([".csv", ".tsv"]),
)
def test_property_csv_round_trip(table, ext):
    columns, cells = table
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"t{ext}"
        write_table(p, columns, cells)
        t = read_table(p)
    assert t.columns == columns
    assert as_lists(t) == _trim_rows(cells)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(_xlsx_cell, st.one_of(st.just(""), _text(_xlsx_alphabet))))
def test_property_xlsx_round_trip(table):
    columns, cells = table
    columns[0] = columns[0] or "first"  # a sheet's header row cannot be all blank
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.xlsx"
        write_table(p, columns, cells)
        t = read_table(p)
    rows = _trim_rows(cells)
    # A sheet ends at its last value: trailing columns with no header and no
    # value at all are not there to read back.
    keep = len(columns)
    while keep > 1 and columns[keep - 1] == "" and all(v is None for v in rows[keep - 1]):
        keep -= 1
    assert t.columns == columns[:keep]
    # Number cells come back as their values ("0." -> "0").
    assert as_lists(t) == [[xlsx_reads_as(v) for v in c] for c in rows[:keep]]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(SUPPORTED_READ))
def test_property_random_bytes_never_crash(data, ext):
    with tempfile.TemporaryDirectory() as d:
        p = write_bytes(Path(d) / f"r{ext}", data)
        try:
            t = read_table(p)
        except FileFormatError as exc:
            assert str(exc).startswith("'r" + ext + "'")
        else:
            assert isinstance(t, Table) and all(len(c) == t.n_rows for c in t.cells)


_SAMPLE_XLSX = xlsx_bytes([["name", "h"], *[[f"p{i}", 150 + i] for i in range(30)]])
_SAMPLE_CSV = "name,Größe\n" + "".join(f'"p, {i}",{150 + i}\n' for i in range(30))


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(["xlsx", "csv-utf8", "csv-utf16"]),
    st.floats(0, 1),
    st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(1, 255))),
)
def test_property_truncated_or_flipped_files_never_crash(kind, cut, flip):
    data = {
        "xlsx": _SAMPLE_XLSX,
        "csv-utf8": _SAMPLE_CSV.encode(),
        "csv-utf16": _SAMPLE_CSV.encode("utf-16"),
    }[kind]
    data = bytearray(data[: int(len(data) * cut)])
    if flip is not None and data:
        data[int(flip[0] * (len(data) - 1))] ^= flip[1]
    ext = ".xlsx" if kind == "xlsx" else ".csv"
    with tempfile.TemporaryDirectory() as d:
        p = write_bytes(Path(d) / f"t{ext}", bytes(data))
        try:
            t = read_table(p)
        except FileFormatError:
            return
        assert all(len(c) == t.n_rows for c in t.cells)


@pytest.mark.parametrize("name", ["blocks.csv", "blocks.xlsx", "blocks.parquet"])
def test_a_column_made_in_blocks_writes_as_the_whole_column(tmp_path, monkeypatch, name):
    # fileio.ColumnBlocks: the recovery copy's marks, made as the CSV is
    # written (issue 14 item 3); every other format takes the whole column.
    monkeypatch.setattr(fileio, "_CSV_CHUNK_ROWS", 4)
    texts = np.array([f"{i / 10:.1f}" if i % 3 else None for i in range(11)], dtype=object)
    asked: list[tuple[int, int]] = []

    def make(start: int, stop: int) -> np.ndarray:
        asked.append((start, stop))
        return texts[start:stop]

    blocks = fileio.ColumnBlocks(len(texts), make)
    whole = tmp_path / ("whole" + os.path.splitext(name)[1])
    fileio.write_table(tmp_path / name, ["id", "x"], [texts, blocks])
    fileio.write_table(whole, ["id", "x"], [texts, texts.copy()])
    if name.endswith(".csv"):
        assert (tmp_path / name).read_bytes() == whole.read_bytes()
    assert asked[:3] == [(0, 4), (4, 8), (8, 11)]
    back = fileio.read_table(tmp_path / name)
    assert [list(c) for c in back.cells] == [list(c) for c in fileio.read_table(whole).cells]
    assert fileio.object_cells(blocks).tolist() == texts.tolist()
    if name.endswith(".csv"):
        # Fewer rows at a time (the recovery copy's): the same bytes.
        for rows in (1, 3, 11, 50):
            asked.clear()
            fileio.write_table(tmp_path / "fewer.csv", ["id", "x"], [texts, blocks], block_rows=rows)
            assert (tmp_path / "fewer.csv").read_bytes() == whole.read_bytes()
            assert asked[0] == (0, min(rows, 11)) and len(asked) == -(-11 // rows)


# UTF-8 checked without making the text (fileio._non_ascii_runs): the same
# answer as decoding every block, whatever the bytes and wherever the blocks end.
_PIECES = st.one_of(
    # Single bytes, lead and continuation bytes among ASCII: characters cut
    # by block ends and by ASCII bytes, often.
    st.sampled_from([b"a", b"\n", b"\xc3", b"\xa9", b"\xe4", b"\xb8", b"\xad", b"\xf0", b"\x9f"]),
    st.text(alphabet="abc,;1.\n\"", max_size=8).map(lambda t: t.encode()),
    st.sampled_from(["é", "ß", "中", "😀", "Ω"]).map(lambda t: t.encode()),
    st.binary(min_size=1, max_size=3).filter(lambda b: b"\x00" not in b),  # stray or cut bytes
    st.sampled_from([b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]),
)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PIECES, max_size=40), st.integers(1, 9), st.sampled_from(["utf-8", "utf-8-sig"]), st.booleans())
@example([b"\xc3", b"a", b"\xa9"], 1, "utf-8", False)  # a character cut by the block's end, then ASCII
@example([b"\xc3", b"a", b"\xa9"], 2, "utf-8", False)  # ... by an ASCII byte ending the block
@example([b"\xc3", b"a", b"\xa9"], 9, "utf-8", False)  # ... by an ASCII byte inside the block
def test_utf8_check_is_decoding_every_block(pieces, block, encoding, bom):
    data = (codecs.BOM_UTF8 if bom else b"") + b"".join(pieces)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for i in range(0, len(data), block):
            decoder.decode(data[i : i + block])
        expected = True
    except UnicodeDecodeError:
        expected = False
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        mp.setattr(fileio, "_IO_BLOCK", block)
        path = os.path.join(folder, "t.csv")
        with open(path, "wb") as f:
            f.write(data)
        assert fileio._validates(path, encoding, max(len(data), 1), fileio._Reporter(None, None)) == expected
