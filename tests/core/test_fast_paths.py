"""The fast paths of the core give exactly what the simple paths give.

Each fast path added for a million rows (issue 6) has a simple reference it
must agree with: the CSV writer's joined lines and the csv module, Arrow's
CSV reader and pandas' (or the csv module's), Arrow conversions and
``pa.array``/``to_numpy``, factorizing by identity and ``pd.factorize``, the
all-numbers shortcut and the per-cell readers, the probability formatter and
``np.char``.  Chunk boundaries, one row and fewer rows than a chunk are
covered by shrinking the chunk sizes.
"""

from __future__ import annotations

import codecs
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from cellarrays import obj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import _arrowtext as at
from emgui.core import fileio, parsing
from emgui.core.fill import export_table, fill_sheet, prepare_fit
from emgui.core.sheet import Sheet, _format_probabilities

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------
# Writing CSV: joined lines against the csv module

# Pieces that matter to quoting and formula safety, and some plain text.
_CELL = st.one_of(
    st.none(),
    st.lists(
        st.sampled_from(
            ["a", "Ana", "1", "-5", "+3.2", "=", "=SUM(A1)", "@", "'", "-", "+", ",", ";", "\t",
             "|", '"', "\n", "\r", "\r\n", " ", "é", "\ufeff", "\x00", "''=x", "1e3"]
        ),
        min_size=1,
        max_size=4,
    ).map("".join),
)  # fmt: skip


def _write_both(tmp: Path, ext: str, columns, cells, monkeypatch) -> tuple[bytes, bytes]:
    fast, slow = tmp / f"fast{ext}", tmp / f"slow{ext}"
    fileio.write_table(fast, columns, cells)
    with monkeypatch.context() as m:
        m.setattr(fileio, "_csv_lines", lambda *a, **k: None)
        fileio.write_table(slow, columns, cells)
    return fast.read_bytes(), slow.read_bytes()


@PROPS
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(st.just(k), st.lists(st.lists(_CELL, min_size=k, max_size=k), max_size=9))
    ),
    st.sampled_from([".csv", ".tsv"]),
    st.sampled_from([1, 2, 3, 65_536]),
)
def test_csv_fast_writer_writes_what_the_csv_module_writes(table, ext, chunk):
    k, rows = table
    columns = [f"c{j}" for j in range(k)]
    cells = [obj([r[j] for r in rows]) for j in range(k)]
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as d:
        mp.setattr(fileio, "_CSV_CHUNK_ROWS", chunk)  # chunk boundaries anywhere
        fast, slow = _write_both(Path(d), ext, columns, cells, mp)
    assert fast == slow


def test_csv_fast_writer_takes_its_path_on_plain_rows(tmp_path, monkeypatch):
    calls = []
    real = fileio._csv_lines
    monkeypatch.setattr(fileio, "_csv_lines", lambda *a: calls.append(1) or real(*a))
    n = 10
    cells = [obj(f"n{i}" for i in range(n)), obj(["F", None] * (n // 2)), obj(["-5", "=1"] * (n // 2))]
    fast, slow = _write_both(tmp_path, ".csv", ["name", "g", "h"], cells, monkeypatch)
    assert fast == slow and calls
    assert b"'=1" in fast and b"\n-5" not in fast and ",-5\n" in fast.decode()


def test_csv_fast_writer_one_row_and_non_text_items(tmp_path, monkeypatch):
    for cells in ([obj(["x"]), obj([None])], [obj([0]), obj([1.5])], [obj(["a,b"]), obj(['"'])]):
        fast, slow = _write_both(tmp_path, ".csv", ["a", "b"], cells, monkeypatch)
        assert fast == slow


# --------------------------------------------------------------------------
# Reading CSV: Arrow against pandas and the csv module

_TOKENS = st.sampled_from(
    ['"\r\n"', "\r\n\r\n", "a", "b", "1", " ", ",", ";", "\t", "|", '"', "'", "\n", "\r", "\r\n",
     "=", "-", '""', "é", "\ufeff", "\x85", "\u2028", "'=", ",,", '"x"', "\n\n", " \n", "\x0c",
     "  ", "\t\n", '"a,b"', '"\n"']
)  # fmt: skip


def _read(path: Path, fast: bool):
    try:
        if fast:
            t = fileio.read_table(path)
        else:
            with pytest.MonkeyPatch.context() as m:
                m.setattr(fileio, "_read_csv_arrow", lambda *a, **k: None)
                t = fileio.read_table(path)
    except fileio.FileFormatError as exc:
        return ("error", str(exc))
    return (t.columns, [list(c) for c in t.cells], t.meta)


@PROPS
@given(
    st.lists(_TOKENS, min_size=1, max_size=40).map("".join),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    st.sampled_from([".csv", ".tsv"]),
    st.sampled_from([16, 1 << 20]),
)
def test_arrow_reader_reads_what_pandas_and_the_csv_module_read(text, encoding, ext, block):
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as d:
        mp.setattr(fileio, "_IO_BLOCK", block)  # tiny blocks: every row straddles one
        path = Path(d) / f"t{ext}"
        path.write_bytes(data)
        assert _read(path, True) == _read(path, False)


def test_arrow_reader_is_used_for_a_plain_file_and_reads_it_in_blocks(tmp_path, monkeypatch):
    path = tmp_path / "class.csv"
    path.write_text("name,gender,height\n" + "".join(f"P{i},{'FM'[i % 2]},{150 + i % 40}.5\n" for i in range(5000)))
    monkeypatch.setattr(fileio, "_IO_BLOCK", 4096)
    used = []
    real = fileio._read_csv_arrow
    monkeypatch.setattr(fileio, "_read_csv_arrow", lambda *a, **k: used.append(r := real(*a, **k)) or r)
    seen: list[float] = []
    t = fileio.read_table(path, progress=seen.append)
    assert used and used[0] is not None
    assert t.n_rows == 5000 and t.cells[2][4999] == f"{150 + 4999 % 40}.5"
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == 1.0
    assert _read(path, True) == _read(path, False)
    # Low-cardinality columns share one str object per distinct value.
    assert len({id(v) for v in t.cells[1]}) == 2


def test_quoted_crlf_is_left_to_pandas(tmp_path, monkeypatch):
    # Arrow drops the LF of a quoted CRLF that straddles two of its blocks.
    path = tmp_path / "q.csv"
    path.write_bytes(b"a,b\r\n" + b"".join(b'"v%04d\r\nz",%d\r\n' % (i, i) for i in range(300)))
    monkeypatch.setattr(fileio, "_IO_BLOCK", 64)
    t = fileio.read_table(path)
    assert all(v == f"v{i:04d}\r\nz" for i, v in enumerate(t.cells[0]))


@pytest.mark.parametrize(
    ("data", "arrow"),
    [
        (b"a,b\n1,2\n", True),
        (b'a,b\n"x, y",2\n', True),
        (b'a,b\n1,"open\n2,3\n', False),  # a quoted field open at the end
        (b"a\n \n1\n", False),  # a blank-looking line in a one-column file
        (b"\r,\n1,2\n", False),  # CR before a delimiter
        (codecs.BOM_UTF8 + codecs.BOM_UTF8 + b"a,b\n1,2\n", False),  # a second BOM
    ],
)
def test_arrow_declines_what_it_would_read_differently(tmp_path, data, arrow):
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    sample = fileio._text_sample(str(path), "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8")
    got = fileio._read_csv_arrow(str(path), "utf-8", ",", len(data), sample, fileio._Reporter(None, None))
    assert (got is not None) == arrow
    assert _read(path, True) == _read(path, False)


# --------------------------------------------------------------------------
# Arrow conversions without pandas

_TEXTS = st.lists(st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["", "\x00", "a\x00b"])), max_size=30)


@PROPS
@given(_TEXTS, st.integers(0, 5))
def test_arrow_conversions_match_pyarrow(cells, cut):
    arr = obj(cells)
    got = at.from_cells(arr)
    assert got.equals(pa.array(cells, type=pa.string()))
    part = got.slice(min(cut, len(cells)))  # an offset into the buffers
    assert list(at.to_cells(part)) == cells[min(cut, len(cells)) :]
    mask = np.array([c is None for c in cells], dtype=bool)
    assert list(at.to_bools(at.from_bools(mask).slice(min(cut, len(cells))))) == list(mask[min(cut, len(cells)) :])
    ints = np.arange(len(cells), dtype=np.int64) * 7 - 3
    assert list(at.to_numbers(at.from_ints(ints).slice(min(cut, len(cells))), np.int64)) == list(ints[min(cut, len(cells)) :])
    with_nulls = pa.array([None if c is None else 1.5 for c in cells], type=pa.float64())
    expect = [-1.0 if c is None else 1.5 for c in cells]
    assert list(at.to_numbers(with_nulls, np.float64, null=-1.0)) == expect


def test_from_cells_refuses_non_text():
    with pytest.raises(TypeError):
        at.from_cells(obj(["a", 1]))


# --------------------------------------------------------------------------
# Factorizing without pandas


@st.composite
def _shared_objects(draw):
    """Cells drawn from a few str objects, plus equal strings that are new objects."""
    pool = draw(st.lists(st.sampled_from(["F", "M", "female", "x", ""]), min_size=1, max_size=4))
    picks = draw(st.lists(st.integers(-1, len(pool) + 1), max_size=60))
    out = []
    for p in picks:
        if p < 0:
            out.append(None)
        elif p < len(pool):
            out.append(pool[p])
        else:
            out.append("".join(list(pool[p % len(pool)])))  # equal, another object
    return obj(out)


@PROPS
@given(st.one_of(_shared_objects(), _TEXTS.map(obj)))
def test_text_factorize_matches_pandas(arr):
    ref_codes, ref_uniques = pd.factorize(arr, use_na_sentinel=True)
    codes, uniques = parsing._factorize_text(arr)
    assert list(codes) == list(ref_codes) and list(uniques) == list(ref_uniques)
    ident = parsing._factorize_identity(arr)
    if ident is not None:
        assert list(ident[0]) == list(ref_codes) and list(ident[1]) == list(ref_uniques)


def test_factorize_by_identity_declines_many_objects_and_non_text():
    assert parsing._factorize_identity(obj([f"n{i}" for i in range(100)])) is None
    assert parsing._factorize_identity(obj(["a", 1.0])) is None
    codes, uniques = parsing._factorize_identity(obj([]))
    assert len(codes) == 0 and len(uniques) == 0


@PROPS
@given(st.lists(st.integers(0, 11), min_size=1, max_size=80))
def test_tally_matches_unique(values):
    values = np.array(values, dtype=np.int64)
    for got, ref in zip(parsing._tally(values, 12), np.unique(values, return_index=True, return_counts=True), strict=True):
        assert list(got) == list(ref)


# --------------------------------------------------------------------------
# Parsing: the all-numbers shortcut, and plain readings of height cells

_FAST_NUM = re.compile(parsing._FAST_NUM)


@PROPS
@given(st.text(alphabet="0123456789+-.eE_ xinfaINFA,", max_size=8))
def test_arrow_float_parser_accepts_no_finite_number_fast_num_refuses(text):
    # The shortcut in _vector_pass relies on it.
    try:
        value = parsing._to_float(at.from_cells(obj([text])))[0]
    except pa.ArrowInvalid:
        return
    if math.isfinite(value):
        assert _FAST_NUM.fullmatch(text)
        assert value == float(text)


_NUMBER_TEXT = st.one_of(
    st.floats(40, 260, allow_nan=False).map(lambda x: f"{x:.1f}"),
    st.integers(40, 260).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["1e3", ".5", "5.", "+7", " 170 ", "\t180\n", "0170", "1e999"]),
)


@PROPS
@given(st.lists(_NUMBER_TEXT, min_size=1, max_size=30), st.sampled_from(["cm", "in", "m"]))
def test_columns_of_plain_numbers_read_as_the_cell_readers_read(texts, unit):
    heights = parsing.parse_height_column(texts, unit)
    numbers = parsing.parse_number_column(texts)
    for i, text in enumerate(texts):
        value, issue, missing = parsing._number_cell(text)
        assert numbers.issues[i] == issue and numbers.missing[i] == missing
        assert numbers.values[i] == value or (math.isnan(value) and math.isnan(numbers.values[i]))
        try:
            one = parsing.parse_height(text, unit)
        except ValueError as err:
            assert heights.issues[i] == str(err)
        else:
            assert one == heights.values[i] or (math.isnan(one) and heights.missing[i])


@PROPS
@given(
    st.lists(
        st.one_of(st.none(), _NUMBER_TEXT, st.sampled_from(["5'9\"", "1,68 m", "1,65", "175,500", "n/a", "tall", "1,234"])),
        max_size=25,
    ),
    st.sampled_from(["cm", "in", "m"]),
)
def test_height_columns_carry_their_plain_number_reading(texts, unit):
    parsed = parsing.parse_height_column(texts, unit)
    plain = parsing.parse_number_column(texts).values
    assert np.array_equal(parsed.plain, plain, equal_nan=True)


def test_sheet_keeps_which_cells_were_converted_through_edits():
    cells = ["170", "5'9\"", None, "1,65", "180"]
    sheet = Sheet(["name", "gender", "height"], [obj(["a"] * 5), obj(["F"] * 5), obj(cells)])
    h = sheet.roles.features[0]

    def expected():
        raw = sheet.column_cells(h)
        vals = sheet.values(h)
        plain = parsing.parse_number_column(raw).values
        return np.isfinite(vals) & ~(np.abs(plain - vals) <= 1e-9)

    assert list(sheet.converted(h)) == list(expected()) == [False, True, False, True, False]
    sheet.set_cell(0, h, "2 m")
    sheet.insert_rows(1, 2)
    sheet.set_block(1, h, [["6 ft"], ["150"]])
    removed = sheet.remove_rows([0, 3])
    assert list(sheet.converted(h)) == list(expected())
    sheet.restore_rows(removed)
    assert list(sheet.converted(h)) == list(expected())
    assert sheet.converted(0).dtype == bool and not sheet.converted(0).any()


# --------------------------------------------------------------------------
# Output


@PROPS
@given(st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 5e-7, 1 - 5e-7, 0.9999995, 1.5e-6])), max_size=40))
def test_probability_text_matches_np_char(values):
    p = np.array(values, dtype=np.float64)
    ref = np.char.rstrip(np.char.rstrip(np.char.mod("%.6f", np.round(p, 6)), "0"), ".")
    assert list(_format_probabilities(p)) == list(ref)


def test_probability_text_of_every_millionth():
    # Every number of trailing zeros, and both ends: "0", "0.1", ..., "0.999999", "1".
    p = np.arange(0, 1_000_001, 7, dtype=np.float64) / 1e6
    p = np.concatenate([p, np.arange(0, 1_000_001, 1000) / 1e6, [1.0]])
    ref = np.char.rstrip(np.char.rstrip(np.char.mod("%.6f", np.round(p, 6)), "0"), ".")
    assert list(_format_probabilities(p)) == list(ref)


def test_probability_text_outside_zero_one_takes_the_general_path():
    assert list(_format_probabilities(np.array([1.5, -0.25, np.nan]))) == ["1.5", "-0.25", "nan"]
    # Wider than the 8 characters of a probability: not cut (the Arrow text was).
    assert list(_format_probabilities(np.array([12345678.25, -1e10]))) == ["12345678.25", "-10000000000"]


def test_fit_input_is_kept_until_the_sheet_changes():
    sheet = Sheet(
        ["name", "gender", "height"],
        [obj("abcdef"), obj(["F", "M", None, "F", None, "M"]), obj(["160", "180", "165", "158", "182", "179"])],
    )
    first = prepare_fit(sheet)
    assert prepare_fit(sheet) is first
    assert prepare_fit(sheet, 3) is not first
    sheet.set_cell(0, 2, "161")
    again = prepare_fit(sheet)
    assert again is not first and again.X[0, 0] == 161


def test_export_of_a_filled_sheet_reads_back(tmp_path):
    n = 3000
    rng = np.random.default_rng(1)
    genders = obj(np.where(rng.random(n) < 0.3, None, np.where(rng.random(n) < 0.5, "F", "M")))
    heights = obj([f"{h:.1f}" for h in rng.normal(170, 9, n)])
    heights[5] = "5'9\""
    sheet = Sheet(["name", "gender", "height"], [obj(f"p{i}" for i in range(n)), genders, heights])
    fill_sheet(sheet)
    columns, cells = export_table(sheet)
    assert cells[2][5] == "175.26"  # converted to the column's unit
    path = tmp_path / "out.csv"
    fileio.write_table(path, columns, cells)
    back = fileio.read_table(path)
    assert back.columns == columns
    assert all(list(a) == list(b) for a, b in zip(back.cells, cells, strict=True))


@pytest.mark.parametrize(
    ("out", "large", "named"), [("o.csv", False, ()), ("o.csv", True, ()), ("o.xlsx", False, ()), ("o.csv", True, ("--features", "height"))]
)
def test_the_command_line_never_imports_pandas(tmp_path, out, large, named):
    src = tmp_path / "c.csv"
    src.write_text("name,gender,height\nAna,F,160\nBen,M,181\nCy,,172\nDi,F,158.5\nEd,,185\n")
    if large:
        # Past the model choice's subsample, as a large file is filled.
        rng = np.random.default_rng(0)
        rows = [f"p{i},{'' if rng.random() < 0.3 else 'FM'[i % 2]},{rng.normal(170, 9):.1f}" for i in range(20_000)]
        src.write_text("name,gender,height\n" + "\n".join(rows) + "\n")
    code = (
        "import sys\n"
        "from emgui import cli\n"
        f"rc = cli.main(['fill', {str(src)!r}, '-o', {str(tmp_path / out)!r}, *{list(named)!r}])\n"
        "print(rc, 'pandas' in sys.modules, 'numpy.ma' in sys.modules)\n"
    )
    out_ = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    rc, pandas, numpy_ma = out_.stdout.split()
    assert (rc, pandas) == ("0", "False")
    if out == "o.csv":
        # Nor numpy.ma (~7 ms to import), which numpy's plain unique and setdiff1d import.
        assert numpy_ma == "False"


# --------------------------------------------------------------------------
# Arrow columns written as they are, and the command line that reads and
# writes them without a Python str for columns it does not fill


@PROPS
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(st.just(k), st.lists(st.lists(_CELL, min_size=k, max_size=k), max_size=9))
    ),
    st.sampled_from([".csv", ".tsv"]),
    st.sampled_from([1, 3, 65_536]),
    st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_arrow_columns_are_written_as_object_columns_are(table, ext, chunk, as_arrow):
    k, rows = table
    columns = [f"c{j}" for j in range(k)]
    cells = [obj([r[j] for r in rows]) for j in range(k)]
    mixed = [at.from_cells(c) if as_arrow[j] else c for j, c in enumerate(cells)]
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as d:
        mp.setattr(fileio, "_CSV_CHUNK_ROWS", chunk)
        fileio.write_table(Path(d) / f"a{ext}", columns, mixed)
        fileio.write_table(Path(d) / f"o{ext}", columns, cells)
        assert (Path(d) / f"a{ext}").read_bytes() == (Path(d) / f"o{ext}").read_bytes()


def test_arrow_read_gives_the_object_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('name,note,h\n"O\'Brien","\'=1",170\nAna,,\n,,\n"x, y",\'\'=z,180\n,,\n')
    lazy = fileio.read_table(path, arrow=True)
    plain = fileio.read_table(path)
    assert lazy.columns == plain.columns and lazy.n_rows == plain.n_rows == 4  # trailing blanks dropped
    assert [list(fileio.object_cells(c)) for c in lazy.cells] == [list(c) for c in plain.cells]


def _reference_fill(src: Path, out: Path, *options: str) -> None:
    """The command line as it was: every column read into Python, one whole sheet."""
    from emgui import cli
    from emgui.core.fill import export_styles

    args = cli._build_parser().parse_args(["fill", str(src), "-o", str(out), *options])
    table = fileio.read_table(src)
    roles = cli._resolve_roles(args, table.columns, table.cells)
    sheet = Sheet.from_table(table.columns, table.cells, roles)
    fill_sheet(sheet, n_components=args.components, min_confidence=args.min_confidence, seed=args.seed)
    columns, cells = export_table(sheet)
    styles = {}
    if out.suffix == ".xlsx":
        colors, comments = export_styles(sheet)
        styles = {"fill_colors": colors, "comments": comments}
    fileio.write_table(
        out, columns, cells, dialect=table.meta.get("dialect"),
        computed=range(len(table.columns), len(columns)), **styles,
    )


DATA = Path(__file__).resolve().parents[1] / "data"


def _messy_with_marks(tmp_path: Path) -> Path:
    """A file saved after a fill (marks columns), with extra columns around them."""
    path = tmp_path / "saved.csv"
    path.write_text(
        "id,name,gender,notes,height,gender_imputed,gender_confidence,extra\n"
        '1,Ana,F,"a, b",162,false,,=x\n'
        "2,Ben,M,,181,true,0.91,\n"
        "3,Cy,,,170,false,,-\n"
        "4,Di,F,'=SUM(A1),158,false,,\n"
        "5,Ed,M,\"q\"\"\",185,false,,\n"
        "6,Flo,,,5'4\",false,,\n"
    )
    return path


@pytest.mark.parametrize(
    ("source", "options"),
    [
        ("messy", ()),
        ("students", ()),
        ("students", ("--min-confidence", "0.9", "--seed", "3")),
        ("marks", ()),
        ("unlabelled", ("--components", "3")),
        ("duplicates", ("--features", "height")),
    ],
)
@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_command_line_output_is_what_the_whole_sheet_gives(tmp_path, source, options, ext):
    from emgui import cli

    if source == "messy":
        src = DATA / "messy_class.csv"
    elif source == "students":
        src = DATA / "students_speed_gender_height.csv"
    elif source == "marks":
        src = _messy_with_marks(tmp_path)
    elif source == "unlabelled":
        src = tmp_path / "u.csv"
        src.write_text("name,height,city\n" + "".join(f"p{i},{150 + (i * 7) % 45},c{i % 3}\n" for i in range(60)))
    else:
        src = tmp_path / "d.csv"
        src.write_text("x,gender,height,x\n" + "".join(f"a{i},{'FM'[i % 2] if i % 3 else ''},{155 + i % 30},b{i}\n" for i in range(40)))
    ours, ref = tmp_path / f"ours{ext}", tmp_path / f"ref{ext}"
    assert cli.main(["fill", str(src), "-o", str(ours), *options]) == 0
    _reference_fill(src, ref, *options)
    if ext == ".csv":
        assert ours.read_bytes() == ref.read_bytes()
    else:
        a, b = fileio.read_table(ours), fileio.read_table(ref)
        assert a.columns == b.columns and [list(c) for c in a.cells] == [list(c) for c in b.cells]
        import openpyxl

        def marks(path):
            ws = openpyxl.load_workbook(path).active
            return [
                (c.coordinate, c.fill.fgColor.rgb, c.comment.text if c.comment else None)
                for row in ws.iter_rows()
                for c in row
                if c.comment is not None or c.fill.fill_type
            ]

        assert marks(ours) == marks(ref)


# --------------------------------------------------------------------------
# Fill marks as Arrow text (the recovery copy) against the object cells


@PROPS
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2]),
            st.one_of(
                st.floats(0, 1),
                st.sampled_from([0.0, 1.0, 0.5, 0.9999995, 4e-7, 1.5, -0.25, float("nan"), 12345678.25, -1e10]),
            ),
        ),
        max_size=40,
    )
)
def test_mark_cells_as_arrow_text_are_the_object_cells(marks):
    from emgui.core.sheet import mark_cells

    prov = np.array([m[0] for m in marks], dtype=np.int8)
    conf = np.array([m[1] for m in marks], dtype=np.float64)
    imputed, confidence = mark_cells(prov, conf)
    a_imputed, a_confidence = mark_cells(prov, conf, arrow=True)
    assert fileio.object_cells(a_imputed).tolist() == imputed.tolist()
    assert fileio.object_cells(a_confidence).tolist() == confidence.tolist()


def test_arrow_mark_text_of_many_rows_keeps_its_offsets():
    # Offsets past 2**8 and 2**16 bytes: the lengths are small integers, the sums are not.
    from emgui.core.sheet import FILLED, USER, mark_cells

    rng = np.random.default_rng(3)
    n = 70_000
    prov = np.where(rng.random(n) < 0.4, FILLED, USER).astype(np.int8)
    conf = rng.random(n)
    imputed, confidence = mark_cells(prov, conf)
    a_imputed, a_confidence = mark_cells(prov, conf, arrow=True)
    assert fileio.object_cells(a_imputed).tolist() == imputed.tolist()
    assert fileio.object_cells(a_confidence).tolist() == confidence.tolist()


@given(
    st.integers(1, 5),
    st.lists(st.floats(-800, 50, allow_nan=False) | st.just(-math.inf), min_size=1, max_size=60),
)
@PROPS
def test_posteriors_normalised_in_place_are_the_plain_normalisation(k, values):
    from emgui.core import mixture

    n = max(1, len(values) // k)
    logp = np.resize(np.array(values, dtype=np.float64), (n, k))
    with np.errstate(invalid="ignore"):  # 0/0 for a row that is -inf throughout, both ways
        _, expected = mixture._log_normalise(logp.copy())
        out = mixture._normalise_in_place(logp)
    assert out is logp
    np.testing.assert_array_equal(out, expected)  # NaN where a row is all -inf, as before


def test_a_fits_posteriors_are_labels_for_labelled_rows_and_the_reference_for_the_others():
    from emgui.core import mixture

    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(160, 6, 500), rng.normal(178, 7, 500)][:, None]
    labels = np.full(1000, -1, dtype=np.int8)
    labels[:40], labels[500:540] = 0, 1
    labels.flags.writeable = False
    fit = mixture.EMFit(x, labels, 2, n_init=1)
    assert fit._labels.dtype == np.int8  # read-only codes are not widened
    res = fit.result()
    np.testing.assert_array_equal(res.posteriors[labels >= 0], np.eye(2)[labels[labels >= 0]])
    reference = mixture.predict_proba(x[labels < 0], res.weights, res.means, res.covariances)
    np.testing.assert_allclose(res.posteriors[labels < 0], reference, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("labelled", [True, False])
def test_posteriors_of_some_rows_are_those_rows_of_the_whole_array(labelled):
    """Filling uses the unlabelled rows' posteriors only; the (n, K) array is made on demand."""
    from emgui.core import mixture

    rng = np.random.default_rng(11)
    x = np.r_[rng.normal(160, 6, 700), rng.normal(178, 7, 500), rng.normal(195, 4, 300)][:, None]
    labels = np.full(len(x), -1)
    if labelled:
        labels[:30], labels[700:730], labels[1200:1230] = 0, 1, 2
    res = mixture.EMFit(x, labels, 3, n_init=2).result()
    rows = np.r_[rng.integers(0, len(x), 200), [0, len(x) - 1, 5, 5]]
    some = res.posteriors_of(rows)
    assert "all" not in res._made  # nothing of the whole sheet's size yet
    np.testing.assert_array_equal(some, res.posteriors[rows])
    assert res.posteriors is res.posteriors and not res.posteriors.flags.writeable
    blanks = np.flatnonzero(labels < 0)  # what a fill asks for
    np.testing.assert_array_equal(res.posteriors_of(blanks), res.posteriors[blanks])
    res2 = mixture.EMFit(x, labels, 3, n_init=2).result()
    np.testing.assert_array_equal(res2.posteriors_of(blanks), res.posteriors[blanks])  # computed alone
    np.testing.assert_array_equal(res.posteriors_of(rows), some)  # from the whole array now
    np.testing.assert_allclose(res.posteriors.sum(axis=1), 1.0, rtol=1e-12)
    reference = mixture.predict_proba(x, res.weights, res.means, res.covariances)
    unl = labels < 0
    np.testing.assert_allclose(res.posteriors[unl], reference[unl], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "cells", "expected"),
    [
        ("flag", ["0", "1", "", "1", "0"] * 4, "holds only 2 distinct values (0, 1): it is a code"),
        ("flag", ["7"] * 12 + [None, "n/a"], "holds only 1 distinct value (7): it is a code"),
        ("row", [str(i) for i in range(1, 31)], "distinct whole numbers that only increase"),
        ("student id", [str(i) for i in range(100, 160, 3)], "distinct whole numbers that only increase"),
        ("score", [str(i) for i in range(100, 160, 3)], None),  # steps of 3, not named as an id
        ("weight", ["61.5", "70", "58,5", "70", "", "-0", "0", "1e2"], None),
        ("weight", [], None),
        ("row", [str(i) for i in range(1, 9)], "distinct whole numbers that only increase"),  # 1..n
        ("row", ["1", "2", "4", "5", "7", "8", "9", "12"], None),  # fewer than 10, with gaps: may be a measurement
        ("row", [str(i) for i in range(1, 31)][::-1], None),  # counting down
    ],
)
def test_no_measurement_is_the_same_for_arrow_text_and_objects(name, cells, expected):
    """A named feature refused as a code or an identifier: the same reason from the command line's Arrow text."""
    from emgui.core.sheet import no_measurement

    as_objects = no_measurement(name, np.array(cells, dtype=object))
    as_arrow = no_measurement(name, pa.array(cells, type=pa.string()))
    assert as_objects == as_arrow
    if expected is None:
        assert as_objects is None
    else:
        assert expected in as_objects and f"column '{name}'" in as_objects


@pytest.mark.parametrize("uncertain", [False, True])
def test_mark_columns_made_block_by_block_are_the_whole_columns(tmp_path, monkeypatch, uncertain):
    # The command line's CSV output: its mark columns made as each block is
    # written (in the writer's threads); an uncertain row anywhere shows every
    # block's blank guesses too, as the whole column does.
    from emgui.core.sheet import FILLED, UNCERTAIN, USER, Roles, Sheet

    monkeypatch.setattr(fileio, "_CSV_CHUNK_ROWS", 64)  # many blocks, one partly past the end
    rng = np.random.default_rng(5)
    n = 1000
    labels = np.where(rng.random(n) < 0.6, rng.choice(["F", "M"], n), None).astype(object)
    sheet = Sheet(["gender", "height"], [labels, np.array([f"{v:.1f}" for v in rng.normal(170, 9, n)], dtype=object)],
                  Roles(0, (1,), {1: "cm"}))
    prov = np.where(labels == None, FILLED, USER).astype(np.int8)  # noqa: E711 - elementwise
    if uncertain:
        prov[np.flatnonzero(prov == FILLED)[-1]] = UNCERTAIN  # in the last block only
    sheet.provenance, sheet.confidence = prov, np.where(prov != USER, rng.random(n), np.nan)
    whole_cols, whole = export_table(sheet, arrow=True)
    block_cols, blocks = export_table(sheet, arrow=True, mark_blocks=True)
    assert block_cols == whole_cols
    assert any(isinstance(c, fileio.ColumnBlocks) for c in blocks)
    for a, b in zip(whole, blocks, strict=True):
        assert fileio.object_cells(b).tolist() == fileio.object_cells(a).tolist()
    for name, cells in (("whole.csv", whole), ("blocks.csv", blocks)):
        fileio.write_table(tmp_path / name, whole_cols, cells)
    assert (tmp_path / "blocks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
