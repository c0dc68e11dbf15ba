"""The top-level resources/ folder is found in every layout the program runs from (issue 12, item 11).

The icons, the launcher's template and the sample class live in
``resources/`` beside ``emgui/`` and are installed as ``emgui.resources``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import emgui
from emgui._resources import resource_dir

ROOT = Path(__file__).resolve().parent.parent
FILES = ["sample_class.csv", "emgui.desktop", "icons/emgui.svg", "icons/emgui-256.png", "icons/emgui.ico"]


def _resource_dir_in(path: Path) -> str:
    """resource_dir() as a bare interpreter sees it with only ``path`` importable (no site-packages)."""
    code = f"import sys; sys.path.insert(0, {str(path)!r}); from emgui._resources import resource_dir; print(resource_dir())"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_resources_are_a_top_level_folder():
    assert not (ROOT / "emgui" / "resources").exists()
    for name in FILES:
        assert (ROOT / "resources" / name).is_file(), name


def test_this_checkout_finds_them_in_resources():
    if Path(emgui.__file__).resolve().parent != ROOT / "emgui":
        pytest.skip("emgui is imported from an installation, not from this checkout")
    assert resource_dir() == ROOT / "resources"


def test_an_editable_install_maps_emgui_resources_to_the_folder():
    """`pip install -e .` (make setup): the package emgui.resources is the top-level folder."""
    import importlib.util

    if Path(emgui.__file__).resolve().parent != ROOT / "emgui":
        pytest.skip("emgui is imported from an installation, not from this checkout")
    spec = importlib.util.find_spec("emgui.resources")
    assert spec is not None, "run `make setup`: the editable install predates the resources/ mapping"
    assert [Path(p).resolve() for p in spec.submodule_search_locations] == [ROOT / "resources"]


def test_a_source_checkout_without_installing_finds_them():
    """`python main.py` from a checkout (the launcher without pip): no finder, the folder beside emgui/."""
    assert Path(_resource_dir_in(ROOT)) == ROOT / "resources"


def test_the_installed_layout_finds_them_beside_the_module(tmp_path):
    """A wheel's (and the PyInstaller build's) layout: emgui/resources next to emgui/_resources.py."""
    (tmp_path / "emgui" / "resources").mkdir(parents=True)
    shutil.copy(ROOT / "emgui" / "_resources.py", tmp_path / "emgui" / "_resources.py")
    (tmp_path / "emgui" / "__init__.py").write_text("", encoding="utf-8")
    for name in ("sample_class.csv", "emgui.desktop"):
        shutil.copy(ROOT / "resources" / name, tmp_path / "emgui" / "resources" / name)
    assert Path(_resource_dir_in(tmp_path)) == tmp_path / "emgui" / "resources"


def test_a_broken_installation_says_where_it_looked(tmp_path):
    (tmp_path / "emgui").mkdir()
    shutil.copy(ROOT / "emgui" / "_resources.py", tmp_path / "emgui" / "_resources.py")
    (tmp_path / "emgui" / "__init__.py").write_text("", encoding="utf-8")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from emgui._resources import resource_dir; resource_dir()"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "resources are missing; looked in" in out.stderr


@pytest.mark.slow
def test_pip_builds_a_wheel_with_the_resources_as_emgui_resources(tmp_path):
    """What `pip install` installs: every module of emgui and the resources under emgui/resources."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "emgui", src / "emgui", ignore=ignore)
    shutil.copytree(ROOT / "resources", src / "resources", ignore=ignore)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0 and ("No matching distribution" in out.stderr or "Could not find" in out.stderr):
        pytest.skip(f"setuptools cannot be fetched to build the wheel here: {out.stderr.strip()[-200:]}")
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("emgui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in FILES:
        assert f"emgui/resources/{name}" in names, name
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "emgui").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
