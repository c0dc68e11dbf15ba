"""The work the command line runs on a second core gives what one thread gives.

``emgui.core._parallel`` decides how many cores a read or write without
progress uses (two inside ``second_core``, as the command line runs them).
With two, a CSV is read whole in Arrow's threads and the chunks of a CSV
being written are made into bytes in other threads; with one, outside
``second_core`` (the window, recovery copies, Dask) or when progress is
reported, both run as before.  Each test sets the number of
cores, so they mean the same on a one-core machine.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from cellarrays import obj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgui.core import _arrowtext as at
from emgui.core import _parallel, fileio

DATA = Path(__file__).resolve().parents[1] / "data"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _cores(mp: pytest.MonkeyPatch, n: int) -> None:
    mp.setattr(_parallel, "cores", lambda: n)


# --------------------------------------------------------------------------
# cores() and ordered_map


def test_cores_follow_the_affinity_mask(monkeypatch):
    with _parallel.second_core():
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # taskset -c 0
        assert _parallel.cores() == 1
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)))
        assert _parallel.cores() == _parallel.MAX_THREADS


def test_one_core_unless_the_command_line_asks_for_a_second(monkeypatch, tmp_path):
    # The window fits in the same code: it leaves the other core to its GUI thread.
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert _parallel.cores() == 1
    with _parallel.second_core():
        assert _parallel.cores() == 2
    assert _parallel.cores() == 1
    # The fill command runs inside it (two features: the Whitened sweep asks for its parts).
    from emgui.cli import main

    seen = []
    real = _parallel.spans
    monkeypatch.setattr(_parallel, "spans", lambda *a, **k: seen.append(_parallel.cores()) or real(*a, **k))
    src = tmp_path / "in.csv"
    rows = ["gender,height,weight"] + [
        f"{'FM'[i % 2] if i % 3 else ''},{160 + (i % 2) * 12 + i % 7},{55 + (i % 2) * 10 + i % 5}" for i in range(60)
    ]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["fill", str(src), "-o", str(tmp_path / "out.csv")]) == 0
    assert seen and set(seen) == {2}
    assert _parallel.cores() == 1


@pytest.mark.parametrize("n", [1, 2])
def test_ordered_map_keeps_the_order_of_the_items(monkeypatch, n):
    _cores(monkeypatch, n)

    def slow_square(i: int) -> int:
        time.sleep(0.002 * ((7 * i) % 5))  # later items often finish first
        return i * i

    assert list(_parallel.ordered_map(slow_square, range(40))) == [i * i for i in range(40)]


def test_ordered_map_runs_off_the_calling_thread_only_with_two_cores(monkeypatch):
    def where(_i: int) -> int:
        return threading.get_ident()

    _cores(monkeypatch, 1)
    assert set(_parallel.ordered_map(where, range(5))) == {threading.get_ident()}
    _cores(monkeypatch, 2)
    assert threading.get_ident() not in set(_parallel.ordered_map(where, range(5)))


def test_ordered_map_works_only_a_few_items_ahead(monkeypatch):
    _cores(monkeypatch, 2)
    started: list[int] = []
    results = _parallel.ordered_map(lambda i: started.append(i) or i, range(100))
    assert next(results) == 0
    time.sleep(0.05)  # the pool may run ahead as far as it is allowed
    assert len(started) <= 2 * 2 + 1
    assert list(results) == list(range(1, 100))


@pytest.mark.parametrize("n", [1, 2])
def test_ordered_map_raises_where_the_failing_item_is_consumed(monkeypatch, n):
    _cores(monkeypatch, n)

    def boom(i: int) -> int:
        if i == 3:
            raise ValueError("item 3")
        return i

    got = []
    with pytest.raises(ValueError, match="item 3"):
        for v in _parallel.ordered_map(boom, range(50)):
            got.append(v)
    assert got == [0, 1, 2]


@pytest.mark.parametrize("n", [1, 2])
def test_meanwhile_runs_both_and_returns_the_work(monkeypatch, n):
    _cores(monkeypatch, n)
    seen: list[tuple[str, int]] = []

    def work() -> int:
        time.sleep(0.01)
        seen.append(("work", threading.get_ident()))
        return 42

    assert _parallel.meanwhile(work, lambda: seen.append(("other", threading.get_ident()))) == 42
    assert sorted(k for k, _ in seen) == ["other", "work"]
    threads = {k: t for k, t in seen}
    assert threads["other"] == threading.get_ident()
    assert (threads["work"] == threading.get_ident()) == (n == 1)


@pytest.mark.parametrize("n", [1, 2])
def test_meanwhile_raises_either_failure_after_both_end(monkeypatch, n):
    _cores(monkeypatch, n)
    ended: list[str] = []

    def bad_work() -> None:
        time.sleep(0.01)
        ended.append("work")
        raise OSError("read failed")

    with pytest.raises(OSError, match="read failed"):
        _parallel.meanwhile(bad_work, lambda: ended.append("other"))
    assert sorted(ended) == ["other", "work"]

    def bad_other() -> None:
        raise ImportError("no module")

    with pytest.raises(ImportError, match="no module"):
        _parallel.meanwhile(lambda: ended.append("work2"), bad_other)
    assert ("work2" in ended) == (n == 2)  # one core: the other part runs first, and fails


# --------------------------------------------------------------------------
# Reading: the whole file in Arrow's threads against the batch reader

_TOKENS = st.sampled_from(
    ['"\r\n"', "a", "b", "1", " ", ",", ";", '"', "'", "\n", "\r", "\r\n", "=", "-", '""', "é",
     "\ufeff", "'=", ",,", '"x"', "\n\n", " \n", '"a,b"', '"\n"', '"a\rb"', "x,y\n", "1,2\n"]
)  # fmt: skip


def _read_both(path: Path, mp: pytest.MonkeyPatch) -> tuple:
    """(parallel read, batch read, whether the whole-file read ran), with arrow=True both."""
    calls: list[int] = []
    real = pacsv.read_csv
    with mp.context() as m:
        _cores(m, 2)
        m.setattr(pacsv, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
        try:
            whole = fileio.read_table(path, arrow=True)
        except fileio.FileFormatError as exc:
            whole = exc
    try:
        # Progress reported (as the window does): the batch reader, as before.
        batches = fileio.read_table(path, arrow=True, progress=lambda f: None)
    except fileio.FileFormatError as exc:
        batches = exc
    return whole, batches, bool(calls)


def _same(a, b) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return (
        a.columns == b.columns
        and a.meta == b.meta
        and [type(c) for c in a.cells] == [type(c) for c in b.cells]
        and all(x.equals(y) for x, y in zip(a.cells, b.cells, strict=True) if isinstance(x, pa.Array))
        and [list(fileio.object_cells(c)) for c in a.cells] == [list(fileio.object_cells(c)) for c in b.cells]
    )


@PROPS
@given(
    st.lists(_TOKENS, min_size=1, max_size=40).map("".join),
    st.sampled_from([16, 1 << 20]),
    st.sampled_from([1, 65_536]),
)
def test_whole_file_read_reads_what_the_batch_reader_reads(text, block, side_by_side_rows):
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as d:
        mp.setattr(fileio, "_IO_BLOCK", block)  # tiny blocks: rows straddle them
        # 1: every column cleaned beside the next, as a long file's are.
        mp.setattr(fileio, "_CSV_CHUNK_ROWS", side_by_side_rows)
        path = Path(d) / "t.csv"
        path.write_bytes(text.encode("utf-8"))
        whole, batches, _ = _read_both(path, mp)
        assert _same(whole, batches)


def test_a_plain_file_is_read_whole_with_two_cores_only(tmp_path, monkeypatch):
    path = tmp_path / "class.csv"
    path.write_text(
        "name,gender,height\n"
        + "".join(f"P{i},{'FM'[i % 2] if i % 3 else ''},{150 + i % 40}.5\n" for i in range(5000))
        + '"Ann, B",F,"160"\n\'=1,,\n'
    )
    monkeypatch.setattr(fileio, "_IO_BLOCK", 4096)  # many blocks
    monkeypatch.setattr(fileio, "_CSV_CHUNK_ROWS", 1000)  # columns this long are cleaned side by side
    whole, batches, used = _read_both(path, monkeypatch)
    assert used and _same(whole, batches)
    assert whole.n_rows == 5002 and fileio.object_cells(whole.cells[0])[-1] == "=1"
    calls: list[int] = []
    real = pacsv.read_csv
    monkeypatch.setattr(pacsv, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = fileio.read_table(path, arrow=True)  # not asked to: one thread, as the window's reads
    assert not calls and _same(plain, whole)
    _cores(monkeypatch, 1)
    one = fileio.read_table(path, arrow=True)
    assert not calls and _same(one, whole)


def test_a_wide_file_keeps_the_batch_reader(tmp_path, monkeypatch):
    # Arrow's table reader converts each column of a block as a task: for
    # thousands of columns that costs more than the threads save.
    path = tmp_path / "wide.csv"
    path.write_text("".join(",".join(f"{r}.{j}" for j in range(12)) + "\n" for r in range(30)))
    monkeypatch.setattr(fileio, "_WIDE_COLUMNS", 10)
    whole, batches, used = _read_both(path, monkeypatch)
    assert not used and _same(whole, batches)
    monkeypatch.setattr(fileio, "_WIDE_COLUMNS", 12)
    whole, batches, used = _read_both(path, monkeypatch)
    assert used and _same(whole, batches)


def test_a_line_break_in_a_quoted_field_keeps_the_batch_reader(tmp_path, monkeypatch):
    path = tmp_path / "notes.csv"
    path.write_text('name,note\n' + "".join(f'P{i},"line one\nline {i}"\n' for i in range(300)))
    monkeypatch.setattr(fileio, "_IO_BLOCK", 256)
    assert fileio._arrow_scan(str(path), ",", 2) == 300
    whole, batches, used = _read_both(path, monkeypatch)
    assert not used and _same(whole, batches)
    assert fileio.object_cells(whole.cells[1])[299] == "line one\nline 299"


@pytest.mark.parametrize(
    ("data", "breaks"),
    [
        (b"a,b\n1,2\n", 0),
        (b'a,b\n"x, y",2\n', 0),
        (b'a,b\n"x\ny",2\n"z",3\n', 1),
        (b'a,b\n"x\ry",2\n"p\nq",""\n', 2),
        (b'a,b\nx"\ny",2\n', 0),  # a quote inside a field opens nothing
        (b'a,b\n"x\r\ny",2\n', None),  # a quoted CRLF: Arrow may drop its LF
        (b'a,b\n"open,2\n', None),  # still open at the end
    ],
)
def test_the_scan_counts_quoted_fields_holding_a_line_break(tmp_path, data, breaks):
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    assert fileio._arrow_scan(str(path), ",", 2) == breaks


@pytest.mark.parametrize("name", ["students_speed_gender_height.csv", "messy_class.csv", "penguins.csv"])
def test_the_test_data_reads_alike_both_ways(monkeypatch, name):
    whole, batches, used = _read_both(DATA / name, monkeypatch)
    assert used and _same(whole, batches)


# --------------------------------------------------------------------------
# Writing: chunks made into bytes in other threads, written in order

_CELL = st.one_of(
    st.none(),
    st.lists(
        st.sampled_from(["a", "Ana", "1", "-5", "=x", "@", "'", ",", ";", "\t", '"', "\n", "\r", " ", "é", "\x00"]),
        min_size=1,
        max_size=3,
    ).map("".join),
)


def _write(path: Path, columns, cells, mp: pytest.MonkeyPatch, n: int, **kw) -> bytes:
    with mp.context() as m:
        _cores(m, n)
        fileio.write_table(path, columns, cells, **kw)
    return path.read_bytes()


@PROPS
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(st.just(k), st.lists(st.lists(_CELL, min_size=k, max_size=k), max_size=12))
    ),
    st.sampled_from([1, 2, 5]),
    st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_threaded_write_gives_the_same_bytes(table, chunk, as_arrow):
    k, rows = table
    columns = [f"c{j}" for j in range(k)]
    cells = [obj([r[j] for r in rows]) for j in range(k)]
    mixed = [at.from_cells(c) if as_arrow[j] else c for j, c in enumerate(cells)]
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as d:
        mp.setattr(fileio, "_CSV_CHUNK_ROWS", chunk)  # many chunks, some needing quoting
        two = _write(Path(d) / "two.csv", columns, mixed, mp, 2)
        one = _write(Path(d) / "one.csv", columns, mixed, mp, 1)
        shown = _write(Path(d) / "shown.csv", columns, mixed, mp, 2, progress=lambda f: None)
        plain = _write(Path(d) / "plain.csv", columns, cells, mp, 1)
    assert two == one == shown == plain


def test_a_large_threaded_write_is_the_one_thread_write(tmp_path, monkeypatch):
    n = 200_000  # several of the real chunks
    rng = np.random.default_rng(0)
    names = pa.array([f"P{i}" for i in range(n)])
    heights = pa.array([f"{v:.1f}" for v in rng.normal(170, 9, n)])
    gender = obj(rng.choice(["F", "M", None], n))
    gender[123_456] = "=risky"  # one chunk takes the object path
    cells = [names, gender, heights]
    seen: list[float] = []
    two = _write(tmp_path / "two.csv", ["name", "gender", "height"], cells, monkeypatch, 2)
    one = _write(tmp_path / "one.csv", ["name", "gender", "height"], cells, monkeypatch, 1, progress=seen.append)
    assert two == one
    assert b"'=risky" in two and len(seen) > 3


def test_a_failed_threaded_write_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    real = fileio._csv_bytes_arrow
    calls = []

    def fail_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk gone")
        return real(*a, **k)

    monkeypatch.setattr(fileio, "_csv_bytes_arrow", fail_third)
    monkeypatch.setattr(fileio, "_CSV_CHUNK_ROWS", 10)
    _cores(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="disk gone"):
        fileio.write_table(
            target, ["a", "b"], [pa.array([str(i) for i in range(100)]), obj(["x"] * 100)]
        )
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_writes_outside_second_core_stay_on_the_calling_thread(tmp_path, monkeypatch):
    # The window's saves and recovery copies (from a background thread) are
    # not inside ``second_core``: no thread of ours is started for them.
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(fileio, "_CSV_CHUNK_ROWS", 10)
    where: set[int] = set()
    real = fileio._csv_bytes_arrow
    monkeypatch.setattr(fileio, "_csv_bytes_arrow", lambda *a, **k: where.add(threading.get_ident()) or real(*a, **k))
    cells = [pa.array([str(i) for i in range(100)]), obj(["x"] * 100)]
    fileio.write_table(tmp_path / "w.csv", ["a", "b"], cells)
    assert where == {threading.get_ident()}
    where.clear()
    with _parallel.second_core():
        fileio.write_table(tmp_path / "p.csv", ["a", "b"], cells)
    assert threading.get_ident() not in where
    assert (tmp_path / "w.csv").read_bytes() == (tmp_path / "p.csv").read_bytes()


def test_a_sheets_features_parsed_two_at_a_time_are_parsed_as_on_one_core(monkeypatch):
    """Sheet.set_roles parses its feature columns and reads its label side by side with a second
    core: the same values, marks, counts and blank labels as one at a time, messy cells and a
    height column included."""
    import pyarrow as pa

    from emgui.core.sheet import Roles, Sheet

    rng = np.random.default_rng(4)
    n = 3000
    heights = [f"{v:.1f}" for v in rng.normal(170, 9, n)]
    heights[5], heights[9] = "5'9\"", "1,75 m"
    weights = [f"{v:.1f}" for v in rng.normal(65, 9, n)]
    weights[7], weights[8] = "n/a", "sixty"
    feet = [f"{v:.1f}" for v in rng.normal(25, 2, n)]
    label = [None if i % 3 else "FM"[i % 2] for i in range(n)]
    label[4] = "n/a"  # a missing marker: blank too
    columns = ["gender", "height", "weight", "foot"]
    cells = [pa.array(c, pa.string()) for c in (label, heights, weights, feet)]
    roles = Roles(label=0, features=(1, 2, 3), units={1: "cm"})
    sheets = {}
    for n_cores in (1, 2):
        monkeypatch.setattr(_parallel, "cores", lambda n_cores=n_cores: n_cores)
        sheets[n_cores] = Sheet(columns, list(cells), roles)
    one, two = sheets[1], sheets[2]
    for f in (1, 2, 3):
        assert one.values(f).view(np.int64).tolist() == two.values(f).view(np.int64).tolist()
        assert one.converted(f).tolist() == two.converted(f).tolist()
        assert [one.issue(i, f) for i in range(12)] == [two.issue(i, f) for i in range(12)]
    assert one.issue(8, 2) is not None and np.isnan(one.values(2)[8])  # "sixty" kept as typed, marked
    # The label read as Arrow text becomes str objects (fills write into it) beside the parse.
    assert one.label_missing().tolist() == two.label_missing().tolist()
    assert two.label_missing()[[1, 2, 4, 5]].all() and not two.label_missing()[[0, 3, 6]].any()
    assert two._cells[0].dtype == object and two._cells[0].tolist() == one._cells[0].tolist()
