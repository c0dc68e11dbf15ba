"""Parts of a computation on a second core (``_parallel``), and the Whitened sweep split into parts.

The threaded sweep must give the same bits as the same parts run one after
the other on the calling thread (one core), and the parts must add up to the
sweep of all rows: for no rows, fewer rows than a block, and parts of
unequal size.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_whitened import _assert_sweep, _data, _plain_sweep, _random_gaussians

from emgui.core import _mixture_fast as fast
from emgui.core import _parallel
from emgui.core.mixture import EMFit


@pytest.fixture
def two_cores(monkeypatch):
    """As on the project's 2-core machine, whatever this one has."""
    monkeypatch.setattr(_parallel, "cores", lambda: 2)


@pytest.fixture
def one_core(monkeypatch):
    monkeypatch.setattr(_parallel, "cores", lambda: 1)


def test_spans_are_fixed_by_n_alone():
    assert _parallel.spans(0) == []
    assert _parallel.spans(1) == [(0, 1)]
    assert _parallel.spans(2) == [(0, 1), (1, 2)]
    assert _parallel.spans(5) == [(0, 2), (2, 5)]
    assert _parallel.spans(7, 3) == [(0, 2), (2, 4), (4, 7)]


def test_run_uses_both_threads_and_keeps_the_items_order(two_cores):
    # Each of the first two items waits for the other: this passes only if two threads run them at once.
    meet = threading.Barrier(2, timeout=20)
    names = {}

    def work(i):
        if i < 2:
            meet.wait()
        names[i] = threading.current_thread().name
        return i * i

    assert _parallel.run(work, range(6)) == [0, 1, 4, 9, 16, 25]
    assert len({names[0], names[1]}) == 2


def test_run_on_one_core_stays_on_the_calling_thread(one_core):
    me = threading.current_thread().name
    assert _parallel.run(lambda i: (i, threading.current_thread().name), range(3)) == [(i, me) for i in range(3)]


def test_a_part_that_splits_again_runs_its_parts_itself(two_cores):
    """The pool's thread never waits on the pool (one thread: that would wait forever)."""
    def outer(i):
        return _parallel.run(lambda j: (i, j, threading.current_thread().name), range(2))

    out = _parallel.run(outer, range(2))
    for i, inner in enumerate(out):
        assert [r[:2] for r in inner] == [(i, 0), (i, 1)]
        if inner[0][2].startswith("emgui-part"):
            assert inner[1][2] == inner[0][2]


def test_run_raises_the_first_items_error_after_every_item(two_cores):
    done = []

    def work(i):
        if i in (1, 3):
            raise ValueError(f"item {i}")
        done.append(i)
        return i

    with pytest.raises(ValueError, match="item 1"):
        _parallel.run(work, range(5))
    assert sorted(done) == [0, 2, 4]


def _same_bits(a, b):
    assert a.ll == b.ll
    for name in ("s0", "s1", "scatter"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("n", [0, 1, 6, 7, 8, 14, 20, 21, 22, 50])
@pytest.mark.parametrize(("d", "k"), [(2, 2), (5, 3), (8, 5)])
def test_threaded_sweep_equals_the_sequential_one_bit_for_bit(monkeypatch, n, d, k):
    rng = np.random.default_rng(n * 100 + d * 10 + k)
    x = rng.normal(size=(n, d)) * 2.0
    g = _random_gaussians(rng, k, d)
    engine = fast.Whitened(x, k)
    engine.block = 7  # n = 0; fewer rows than a block; 2 and 3 blocks (uneven parts); a partial last block
    blocks = -(-n // 7)
    spans = engine.parts()
    assert len(spans) == min(blocks, 2)
    assert [a for a, _ in spans[1:]] == [b for _, b in spans[:-1]] and all(a % 7 == 0 for a, _ in spans)
    assert [(a, b) for a, b in spans if a < b] == spans and sum(b - a for a, b in spans) == n
    monkeypatch.setattr(_parallel, "cores", lambda: 1)
    alone = engine.sweep(g)
    monkeypatch.setattr(_parallel, "cores", lambda: 2)
    _same_bits(engine.sweep(g), alone)
    _same_bits(engine.sweep(g), alone)  # the parts' scratch buffers reused
    if n:
        _assert_sweep(alone, _plain_sweep(x, g))
    else:
        assert alone.ll == 0.0 and not alone.s0.any()


def test_parts_of_a_large_sweep_add_up_to_the_plain_sums(two_cores):
    """Blocks of the engine's own size, two parts of many blocks each."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60_000, 6)) * 2.0
    g = _random_gaussians(rng, 4, 6)
    engine = fast.Whitened(x, 4)
    assert len(engine.parts()) == 2
    _assert_sweep(engine.sweep(g), _plain_sweep(x, g))


def test_a_fit_is_the_same_on_one_core_and_two(monkeypatch):
    x, labels = _data(3000, 5, 3, seed=2, hidden=0.7)

    def fit(n_cores):
        monkeypatch.setattr(_parallel, "cores", lambda: n_cores)
        em = EMFit(x, labels, 3, tol=0.0, max_iter=8, n_init=1)
        em._fast = None
        em._exact = fast.Whitened(em._xu, 3)
        em._exact.block = 100  # many blocks: two parts
        return list(em)

    for a, b in zip(fit(1), fit(2), strict=True):
        assert a.log_likelihood == b.log_likelihood
        for name in ("weights", "means", "covariances"):
            assert np.array_equal(getattr(a, name), getattr(b, name))


def test_later_is_made_on_the_pool_or_when_asked(monkeypatch):
    calls = []

    def f(a, b):
        calls.append(threading.current_thread().name)
        return a + b

    monkeypatch.setattr(_parallel, "cores", lambda: 1)
    later = _parallel.Later(f, 2, 3)
    assert calls == []  # one core: nothing runs before it is asked for
    assert later.result() == 5 and calls == [threading.current_thread().name]
    monkeypatch.setattr(_parallel, "cores", lambda: 2)
    assert _parallel.Later(f, 1, 1).result() == 2
    _parallel.Later(f, 0, 0).drop()  # not needed: no error, whether it ran or not


def test_a_fit_given_its_rows_sorted_beforehand_is_the_same_fit():
    from emgui.core import mixture

    x, labels = _data(3000, 5, 3, seed=4, hidden=0.7)
    x = np.round(x, 1)
    sorted_rows = mixture.sort_rows(x, labels)
    assert sorted_rows is not None
    kwargs = dict(tol=0.0, max_iter=5, n_init=2)
    ref = list(EMFit(x, labels, 3, **kwargs))
    got = list(EMFit(x, labels, 3, sorted_rows=sorted_rows, **kwargs))
    other = x.copy()  # the same values, another array: its sorted rows are not taken
    ignored = list(EMFit(other, labels, 3, sorted_rows=mixture.sort_rows(x[::-1].copy(), labels[::-1].copy()),
                         **kwargs))
    for snaps in (got, ignored):
        assert len(snaps) == len(ref)
        for a, b in zip(snaps, ref, strict=True):
            assert a.log_likelihood == b.log_likelihood
            assert np.array_equal(a.covariances, b.covariances)
    blank = x.copy()
    blank[5, 2] = np.nan
    assert mixture.sort_rows(blank, labels) is None  # blanks: EMFit's own way
    assert mixture.sort_rows(x[:, :1], labels) is None  # one feature: its own sort


@pytest.mark.parametrize("n_cores", [1, 2])
def test_a_fill_sorts_all_rows_while_it_chooses_the_model(monkeypatch, n_cores):
    from emgui.core import fill, mixture, trust
    from emgui.core.sheet import Roles, Sheet

    monkeypatch.setattr(_parallel, "cores", lambda: n_cores)
    monkeypatch.setattr(trust, "CHOICE_ROWS", 800)  # the model chosen on a sample of the 3000 rows
    x, labels = _data(3000, 3, 2, seed=6, hidden=0.6)
    cells = [np.array([None if c < 0 else "FM"[c] for c in labels], dtype=object)]
    cells += [np.array([f"{v:.1f}" for v in x[:, f]], dtype=object) for f in range(3)]
    sheet = Sheet(["gender", "a", "b", "c"], cells, Roles(label=0, features=(1, 2, 3)))
    sorts = []
    real = mixture.sort_rows
    monkeypatch.setattr(mixture, "sort_rows", lambda *a: sorts.append(1) or real(*a))

    def run(presort):
        job = fill.FillJob(fill.prepare_fit(sheet), check=False)
        job.prepare()
        if not presort:
            job._sorted.drop()
            job._sorted = None
        em = job.em()
        snaps = list(em)
        return snaps, job

    got, job = run(True)
    assert job.keep.all() and sorts  # nothing set aside: the rows sorted beforehand were taken
    ref, _ = run(False)
    assert [s.log_likelihood for s in got] == [s.log_likelihood for s in ref]
    assert np.array_equal(got[-1].means, ref[-1].means)


def test_rows_sorted_beforehand_keep_emfits_own_checks():
    from emgui.core import mixture

    x = np.tile([[1.5, 2.5], [3.5, 4.5]], (600, 1))  # two distinct rows
    labels = np.full(1200, -1)
    presorted = mixture.sort_rows(x, labels)
    assert presorted is not None
    with pytest.raises(mixture.MixtureError, match="Only 2 distinct rows for 3 classes"):
        EMFit(x, labels, 3, sorted_rows=presorted)
    far = np.column_stack([np.arange(1200) * 1e149, np.arange(1200.0)])
    assert mixture.sort_rows(far, labels) is None  # too far apart: EMFit says so itself


def test_a_fits_unlabelled_and_typed_rows_are_summed_side_by_side_to_the_same_bits(monkeypatch):
    """EMFit's set-up on rows sorted on the grid: the unlabelled rows and the typed classes' sums
    made on two threads are those made on one."""
    from emgui.core import mixture

    x, labels = _data(40_000, 5, 3, seed=9, hidden=0.4)
    x = np.round(x, 1)
    made = {}
    real = mixture._fast.reach_of
    for n_cores in (1, 2):
        monkeypatch.setattr(_parallel, "cores", lambda n=n_cores: n)
        threads = set()
        monkeypatch.setattr(mixture._fast, "reach_of",
                            lambda xu, seen=threads: seen.add(threading.current_thread().name) or real(xu))
        em = EMFit(x, labels, 3, n_init=1)
        made[n_cores] = (em._xu, em._n_lab, em._mean_lab, em._scatter_lab, em._scale, em._radius, threads)
    for a, b in zip(made[1][:6], made[2][:6], strict=True):
        assert np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))
    assert made[1][6] == {threading.current_thread().name}
