"""`emgui-cli fill` writes the same bytes on one core and on two.

The command line's fill runs inside ``_parallel.second_core``: the CSV
read whole in Arrow's threads, the output's chunks made into text in
another thread.  ``core/_parallel.cores`` is set to 1 and to 2 here, so the
test means the same on any machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emgui import cli
from emgui.core import _parallel, fileio

DATA = Path(__file__).resolve().parents[1] / "data"


def _fill(monkeypatch, n: int, src: Path, out: Path, *options: str) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(_parallel, "cores", lambda: n)
        assert cli.main(["fill", str(src), "-o", str(out), "--report", str(out) + ".json", *options]) == 0
    return out.read_bytes() + Path(str(out) + ".json").read_bytes()


@pytest.fixture
def class_csv(tmp_path) -> Path:
    """140,000 rows (several write chunks), a third of the genders blank, a few odd cells."""
    rng = np.random.default_rng(5)
    n = 140_000
    male = rng.random(n) < 0.5
    height = np.where(male, rng.normal(178, 7, n), rng.normal(165, 6.5, n))
    gender = np.where(male, "M", "F").astype(object)
    gender[rng.random(n) < 0.33] = ""
    lines = [f"P{i},{g},{h:.1f}" for i, (g, h) in enumerate(zip(gender, height, strict=True))]
    lines[7] = '"Smith, Ann",F,161.0'
    lines[70_001] = "=cmd,,170.2"  # a formula-like name: written with its apostrophe
    lines[99_999] = "P99999,M,unknown"  # an unreadable height keeps its text
    path = tmp_path / "class.csv"
    path.write_text("name,gender,height\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_fill_writes_the_same_on_one_core_and_two(tmp_path, monkeypatch, class_csv):
    one = _fill(monkeypatch, 1, class_csv, tmp_path / "one.csv")
    two = _fill(monkeypatch, 2, class_csv, tmp_path / "two.csv")
    assert one == two
    back = fileio.read_table(tmp_path / "two.csv")
    assert back.n_rows == 140_000 and back.cells[0][70_001] == "=cmd"


@pytest.mark.parametrize("name", ["students_speed_gender_height.csv", "penguins.csv", "messy_class.csv"])
def test_the_test_data_fills_the_same_on_one_core_and_two(tmp_path, monkeypatch, name):
    assert _fill(monkeypatch, 1, DATA / name, tmp_path / "one.csv") == _fill(
        monkeypatch, 2, DATA / name, tmp_path / "two.csv"
    )
