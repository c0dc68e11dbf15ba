"""Files keep their kind: CSV dialects, XLSX cell types, encodings, and what a workbook holds.

Round trips read -> fill -> write -> read in CSV, TSV, XLSX and ODS-in/XLSX-out
give the same cells and types; exported files are opened in LibreOffice
(headless) when it is installed.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from emgui.core import fileio
from emgui.core.dialect import Dialect
from emgui.core.fileio import read_table, write_table
from emgui.core.fill import export_table, fill_sheet
from emgui.core.sheet import Sheet


def col(*values) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def cells_of(t) -> list[list]:
    return [list(fileio.object_cells(c)) for c in t.cells]


# -- CSV dialects -----------------------------------------------------------


def test_european_file_written_back_in_its_dialect(tmp_path):
    src = tmp_path / "eu.csv"
    src.write_bytes(
        "name;gender;height\r\nChloé;F;160,5\r\nJürgen;M;181,2\r\nZoë;;165\r\n".encode("cp1252")
    )
    t = read_table(src)
    assert t.meta["dialect"] == Dialect(";", ",", False, "\r\n", "cp1252")
    out = tmp_path / "out.csv"
    said = write_table(
        out, [*t.columns, "gender_confidence"], [*t.cells, col(None, None, "0.987654")],
        dialect=t.meta["dialect"], computed=[3],
    )
    assert said == []
    assert out.read_bytes() == (
        "name;gender;height;gender_confidence\r\nChloé;F;160,5;\r\nJürgen;M;181,2;\r\nZoë;;165;0,987654\r\n"
    ).encode("cp1252")


def test_bom_quoting_and_line_endings_are_kept(tmp_path):
    src = tmp_path / "q.csv"
    src.write_bytes('\ufeff"name","h"\r\n"Ana","160"\r\n"Bo",""\r\n'.encode())
    t = read_table(src)
    assert t.meta["dialect"] == Dialect(",", ".", True, "\r\n", "utf-8-sig")
    out = tmp_path / "o.csv"
    write_table(out, t.columns, t.cells, dialect=t.meta["dialect"])
    assert out.read_bytes() == src.read_bytes()


def test_encoding_that_cannot_hold_a_cell_falls_back_to_utf8_with_bom_and_says_so(tmp_path):
    out = tmp_path / "o.csv"
    said = write_table(out, ["name"], [col("Zoë", "山田")], dialect=Dialect(encoding="cp1252"))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_table(out).cells[0].tolist() == ["Zoë", "山田"]
    assert len(said) == 1 and "UTF-8" in said[0] and "Windows-1252" in said[0] and "row 3" in said[0]


_dialects = st.builds(
    Dialect,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    decimal=st.sampled_from([".", ","]),
    quote_all=st.booleans(),
    line_ending=st.sampled_from(["\n", "\r\n"]),
    # CJK encodings are checked on longer text by test_legacy_encodings_read_right: a
    # few short random names cannot tell GBK from Korean cp949.
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
# Real names: an encoding is told from real text, never from random letters.
_NAMES = {
    "latin": ["Chloé Martin", "Jürgen Groß", "Zoë Brontë", "Peña Núñez", "François Dupré", "Ana Lima",
              "Søren Kierkegård", "Inês Araújo", "Björn Öberg", "Hélène Gaëlle", "Ben Okafor"],
    "cp932": ["山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲", "田中健太", "伊藤さくら"],
    "gb18030": ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊"],
}  # fmt: skip
_heights = st.floats(140, 200).map(lambda x: f"{x:.1f}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(_dialects, st.data())
def test_property_dialect_round_trip_through_a_fill(dialect, data):
    """read -> fill -> write -> read: the same cells, and the file in the same dialect."""
    names = st.sampled_from(_NAMES.get(dialect.encoding, _NAMES["latin"]))
    rows = data.draw(st.lists(st.tuples(names, st.sampled_from(["F", "M", None]), _heights), min_size=6, max_size=20))
    rows = [("Ana", "F", "150.0"), ("Bo", "M", "190.0"), ("Cy", None, "170.0"), *rows]
    sep, dec = dialect.delimiter, dialect.decimal
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=dialect.line_ending,
                   quoting=csv.QUOTE_ALL if dialect.quote_all else csv.QUOTE_MINIMAL)
    w.writerow(["name", "gender", "height"])
    for name, g, h in rows:
        w.writerow([name, g or "", h.replace(".", dec)])
    with tempfile.TemporaryDirectory() as d:
        ext = ".tsv" if sep == "\t" else ".csv"
        src = Path(d) / f"in{ext}"
        try:
            src.write_bytes(buf.getvalue().encode(dialect.encoding))
        except UnicodeEncodeError:
            return  # a name the encoding cannot hold: not a file of that encoding
        t = read_table(src)
        got = t.meta["dialect"]
        assert (got.delimiter, got.decimal, got.line_ending) == (sep, dec, dialect.line_ending)
        assert got.quote_all == dialect.quote_all
        sheet = Sheet.from_table(t.columns, t.cells)
        sheet.dialect = got
        fill_sheet(sheet)
        columns, cells = export_table(sheet)
        out = Path(d) / f"out{ext}"
        assert write_table(out, columns, cells, dialect=got, computed=range(3, len(columns))) == []
        back = read_table(out)
        assert back.meta["dialect"].delimiter == sep and back.meta["dialect"].line_ending == dialect.line_ending
        assert back.meta["encoding"] == t.meta["encoding"]
        assert back.columns == columns
        assert cells_of(back)[:3] == [list(c) for c in cells[:3]]
        # The confidence is written with the file's decimal mark.
        conf = [v for v in cells_of(back)[4] if v is not None]
        assert conf and all(("." not in v) if dec == "," else ("," not in v) for v in conf)
        # User cells unchanged: names, typed genders and heights as in the input.
        assert cells_of(back)[0] == [r[0] for r in rows]
        assert cells_of(back)[2] == [r[2].replace(".", dec) for r in rows]


# -- XLSX types ---------------------------------------------------------------


def test_xlsx_numbers_booleans_ids_as_a_spreadsheet_writes_them(tmp_path):
    p = tmp_path / "t.xlsx"
    write_table(
        p,
        ["h", "id", "flag", "gender_imputed", "gender_confidence"],
        [col("160.0", "170.50", "183,7"), col("1234567890123456", "123", "007"),
         col("TRUE", "true", "yes"), col("true", "false", None), col("0.999836", "1", None)],
        computed=[3, 4],
    )  # fmt: skip
    ws = openpyxl.load_workbook(p).active
    typed = [[(c.value, c.data_type, c.number_format) for c in row] for row in ws.iter_rows(min_row=2)]
    assert [r[0] for r in typed] == [(160, "n", "0.0"), (170.5, "n", "0.00"), (183.7, "n", "0.0")]
    assert [r[1][:2] for r in typed] == [("1234567890123456", "s"), (123, "n"), ("007", "s")]
    # A user's "true" stays text (read back it would be "TRUE"); the program's marks are booleans.
    assert [r[2][:2] for r in typed] == [(True, "b"), ("true", "s"), ("yes", "s")]
    assert [r[3][:2] for r in typed[:2]] == [(True, "b"), (False, "b")]
    assert typed[0][4][:2] == (0.999836, "n") and typed[1][4][:2] == (1, "n")


def _ods_bytes(rows) -> bytes:
    """A minimal ODS spreadsheet of strings and floats (what LibreOffice writes, trimmed)."""

    def cell(v):
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, float | int):
            return f'<table:table-cell office:value-type="float" office:value="{v!r}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Sheet1">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


_ids = st.integers(10**15, 9 * 10**15)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([".xlsx", ".ods"]),
    st.lists(st.tuples(_ids, st.sampled_from(["F", "M", None]), st.floats(140, 200).map(lambda x: round(x, 1))),
             min_size=6, max_size=20, unique_by=lambda r: r[0]),
)  # fmt: skip
def test_property_workbook_round_trip_through_a_fill(ext, rows):
    """XLSX or ODS in, XLSX out, XLSX read again: the same cells and types; ids exact."""
    rows = [(10**15 + 1, "F", 150.0), (10**15 + 2, "M", 190.0), *[r for r in rows if r[0] > 10**15 + 2]]
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / f"in{ext}"
        table = [["id", "gender", "height"], *[[float(i), g, h] for i, g, h in rows]]
        if ext == ".xlsx":
            wb = openpyxl.Workbook()
            for r in table:
                wb.active.append(r)
            wb.save(src)
        else:
            src.write_bytes(_ods_bytes(table))
        t = read_table(src)
        assert cells_of(t)[0] == [str(i) for i, _, _ in rows]  # 16-digit ids exact
        sheet = Sheet.from_table(t.columns, t.cells)
        fill_sheet(sheet)
        columns, cells = export_table(sheet)
        out = Path(d) / "out.xlsx"
        write_table(out, columns, cells, computed=range(3, len(columns)))
        back = read_table(out)
        assert back.columns == columns
        # Marks come back as booleans ("TRUE"/"FALSE"), every other cell as written.
        flags = {"true": "TRUE", "false": "FALSE"}
        expected = [list(c) for c in cells]
        expected[3] = [flags.get(v, v) for v in expected[3]]
        assert cells_of(back) == expected
        book = openpyxl.load_workbook(out, read_only=True)
        types = [[c.data_type for c in r] for r in book.active.iter_rows(min_row=2, max_col=4)]
        book.close()
        assert all(r[0] == "s" and r[2] == "n" and r[3] == "b" for r in types)  # ids text, heights numbers


# -- what the workbook holds ----------------------------------------------------


def test_formula_without_cached_value_keeps_its_text_and_label_formula_is_typed(tmp_path):
    p = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (["name", "gender", "height"], ["Ana", "F", 160], ["Ben", '=IF(C3>170,"M","F")', 180],
              ["Cy", None, "=C2+5"], ["Di", "M", 178], ["Ed", None, 175]):  # fmt: skip
        ws.append(r)
    wb.save(p)  # openpyxl stores formulas without a cached value
    t = read_table(p)
    assert cells_of(t)[1] == ["F", '=IF(C3>170,"M","F")', None, "M", None]
    assert cells_of(t)[2] == ["160", "180", "=C2+5", "178", "175"]
    sheet = Sheet.from_table(t.columns, t.cells)
    assert not sheet.label_missing()[1]  # a typed value: never filled over


def test_marker_texts_name_what_was_typed_before_a_fill():
    sheet = Sheet(["gender", "h"], [col("F", "unknown", "NA", None, "M", "?"),
                                    col("160", "170", "180", "165", "175", "171")])  # fmt: skip
    assert sheet.marker_texts().tolist() == [None, "unknown", "NA", None, None, "?"]
    fill_sheet(sheet)
    assert sheet.column_cells(0)[1] in ("F", "M")
    assert sheet.marker_texts().tolist() == [None, "unknown", "NA", None, None, "?"]


# -- encodings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("shift_jis", "name,gender,height\n山田太郎,男,170\n佐藤花子,女,158\n鈴木一郎,,172\n高橋美咲,女,160\n"),
        ("gbk", "name,gender,height\n王伟,男,175\n李娜,女,162\n张敏,,160\n刘洋,男,178\n"),
        ("cp1252", "name;gender\nChloé Martin;female\nJürgen Groß;male\nPeña Núñez;\nFrançois “Frank”;male\n"),
    ],
)
def test_legacy_encodings_read_right(tmp_path, encoding, text):
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode(encoding))
    t = read_table(p)
    rows = list(csv.reader(io.StringIO(text), delimiter=t.meta["delimiter"]))
    assert t.columns == rows[0]
    assert cells_of(t)[0] == [r[0] for r in rows[1:]]
    assert text.encode(encoding).decode(t.meta["encoding"]) == text


def test_utf8_file_with_a_latin1_line_keeps_utf8_and_names_the_line(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes("name,h\nChloé,160\nJosé,170\n".encode() + "Renée,165\n".encode("latin-1") + "Zoë,166\n".encode())
    t = read_table(p)
    assert cells_of(t)[0] == ["Chloé", "José", "Renée", "Zoë"]
    assert t.meta["encoding"] == "utf-8"
    assert len(t.warnings) == 1 and "line 4" in t.warnings[0]


# -- LibreOffice opens what we export ---------------------------------------------


def _soffice_csv(path: Path, outdir: Path, infilter: str | None = None) -> list[list[str]]:
    """The file as LibreOffice reads it, converted back to CSV (UTF-8, commas)."""
    profile = outdir / "profile"
    extra = [f"--infilter={infilter}"] if infilter else []
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", *extra, "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(outdir), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    text = (outdir / (path.stem + ".csv")).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_exported_xlsx_and_csv_as_written(tmp_path):
    src = tmp_path / "eu.csv"
    src.write_bytes(
        "name;gender;height;id\r\nChloé;F;160,5;1234567890123456\r\nJürgen;M;181,0;2\r\n"
        "Zoë;;165,25;3\r\nAna;F;158,0;4\r\nBen;M;179,5;5\r\nCy;;183,7;6\r\n".encode("cp1252")
    )
    t = read_table(src)
    sheet = Sheet.from_table(t.columns, t.cells)
    sheet.dialect = t.meta["dialect"]
    fill_sheet(sheet)
    columns, cells = export_table(sheet)
    computed = range(sheet.n_cols, len(columns))
    xlsx = tmp_path / "out.xlsx"
    write_table(xlsx, columns, cells, computed=computed)
    got = _soffice_csv(xlsx, tmp_path / "x")
    assert got[0] == columns
    # Numbers are numbers showing their typed decimals; the id keeps every digit;
    # the marks are booleans.
    assert [r[2] for r in got[1:]] == ["160.5", "181.0", "165.25", "158.0", "179.5", "183.7"]
    assert got[1][3] == "1234567890123456"
    assert {r[4] for r in got[1:]} == {"TRUE", "FALSE"}
    assert [r[1] for r in got[1:]] == list(sheet.column_cells(1))
    # The CSV in the file's dialect: LibreOffice told "semicolons, decimal comma, Windows-1252" reads it back.
    out = tmp_path / "out.csv"
    write_table(out, columns, cells, dialect=sheet.dialect, computed=computed)
    # LibreOffice's CSV import options: semicolon (59), quote (34), Windows-1252, from line 1.
    lo = _soffice_csv(out, tmp_path / "c", "CSV:59,34,1252,1")
    assert lo[0] == columns
    assert [r[0] for r in lo[1:]] == ["Chloé", "Jürgen", "Zoë", "Ana", "Ben", "Cy"]
    assert [r[2] for r in lo[1:]] == [r[2] for r in csv.reader(io.StringIO(out.read_text("cp1252")), delimiter=";")][1:]
