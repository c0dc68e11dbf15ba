"""The desktop integration: icons, sample sheet, launcher install/uninstall, build spec."""

from __future__ import annotations

import configparser
import csv
import importlib.util
import os
import runpy
import shutil
import struct
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emgui.desktop import install_desktop, main_desktop_args, uninstall_desktop

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
ICONS = RESOURCES / "icons"
SIZES = (16, 32, 48, 64, 128, 256, 512)
VALIDATE = shutil.which("desktop-file-validate")
needs_validator = pytest.mark.skipif(
    VALIDATE is None,
    reason="desktop-file-validate not installed (Debian/Ubuntu: apt-get install desktop-file-utils)",
)


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_header(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def _read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # desktop entry keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _exec_argv(value: str) -> list[str]:
    """Split an Exec value as the Desktop Entry Specification says; drop the %f."""
    assert value.endswith(" %f")
    # String-level escapes come first; only "\\" is produced for Exec.
    value = value[: -len(" %f")].replace("\\\\", "\\").replace("%%", "%")
    args, current, quoted, i = [], "", False, 0
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\" and value[i + 1] in '"`$\\':
            current, i = current + value[i + 1], i + 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            args.append(current)
            current = ""
        else:
            current += ch
        i += 1
    assert not quoted
    return [*args, current]


def _validate(path: Path) -> None:
    result = subprocess.run([VALIDATE, str(path)], capture_output=True, text=True, timeout=30)
    report = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and report == "", report


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg data"  # a space on purpose: paths must survive quoting
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def _expected_files(home: Path) -> set[Path]:
    hicolor = home / "icons" / "hicolor"
    return {
        home / "applications" / "emgui.desktop",
        hicolor / "scalable" / "apps" / "emgui.svg",
        *(hicolor / f"{s}x{s}" / "apps" / "emgui.png" for s in SIZES),
    }


# --- icon ---------------------------------------------------------------------------


def test_svg_icon_is_well_formed_and_uses_the_class_colours():
    for name in ("emgui.svg", "emgui-small.svg"):
        text = (ICONS / name).read_text(encoding="utf-8")
        root = ET.fromstring(text)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.get("viewBox") == "0 0 256 256"
        assert "#E69F00" in text and "#56B4E9" in text


@pytest.mark.parametrize("size", SIZES)
def test_png_icons_have_their_size_and_an_alpha_channel(size):
    width, height, colour = _png_header((ICONS / f"emgui-{size}.png").read_bytes())
    assert (width, height) == (size, size)
    assert colour == 6  # RGBA: transparent corners around the rounded card


def test_committed_pngs_match_the_svg(qapp, tmp_path):
    """Fails when the SVG was edited without running packaging/render_icons.py."""
    import numpy as np
    from PySide6.QtGui import QImage

    render_icons = _load(ROOT / "packaging" / "render_icons.py", "render_icons")
    fresh = render_icons.render(out_dir=tmp_path)
    assert [p.name for p in fresh] == [f"emgui-{s}.png" for s in SIZES]

    def pixels(path):
        image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGBA8888)
        return np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).astype(int)

    for path in fresh:
        committed, rendered = pixels(ICONS / path.name), pixels(path)
        assert committed.shape == rendered.shape
        # A different Qt version may antialias edges a little differently.
        assert np.abs(committed - rendered).mean() < 1.0, path.name


def test_ico_and_icns_hold_the_committed_pngs():
    render_icons = _load(ROOT / "packaging" / "render_icons.py", "render_icons")
    pngs = {s: (ICONS / f"emgui-{s}.png").read_bytes() for s in SIZES}

    ico = (ICONS / "emgui.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    found = {}
    for i in range(count):
        w, h, _c, _r, planes, bits, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * i : 22 + 16 * i]
        )
        size = w or 256
        assert (w, planes, bits) == (h, 1, 32)
        found[size] = ico[offset : offset + length]
    assert found == {s: pngs[s] for s in render_icons.ICO_SIZES}

    icns = (ICONS / "emgui.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    pos, types_found = 8, {}
    while pos < len(icns):
        kind, length = icns[pos : pos + 4], struct.unpack(">I", icns[pos + 4 : pos + 8])[0]
        types_found[kind] = icns[pos + 8 : pos + length]
        pos += length
    assert types_found == {t: pngs[s] for s, t in render_icons.ICNS_TYPES.items()}


# --- sample sheet -------------------------------------------------------------------


def test_sample_sheet_is_a_class_with_gaps_and_typing_slips():
    with open(RESOURCES / "sample_class.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["name", "gender", "height", "notes"]
    assert 35 <= len(rows) <= 45
    assert len({r["name"] for r in rows}) == len(rows)
    assert 8 <= sum(r["gender"] == "" for r in rows) <= 12
    assert {"F", "M", "female", "Male"} <= {r["gender"] for r in rows}
    heights = {r["height"] for r in rows}
    assert {"5'7\"", "1,62", "171 cm", "17O", "tall"} <= heights

    def mean_height(initial):
        values = [
            float(r["height"])
            for r in rows
            if r["gender"][:1].lower() == initial and r["height"].isdigit()
        ]
        assert len(values) >= 8
        return sum(values) / len(values)

    assert 158 <= mean_height("f") <= 168
    assert 171 <= mean_height("m") <= 181
    assert all(140 <= int(h) <= 200 for h in heights if h.isdigit())


# --- launcher -----------------------------------------------------------------------


@needs_validator
def test_template_desktop_file_is_valid():
    _validate(RESOURCES / "emgui.desktop")


def test_install_writes_launcher_and_icons_into_xdg_data_home(data_home):
    written = install_desktop()
    assert written[0] == data_home / "applications" / "emgui.desktop"
    assert set(written) == _expected_files(data_home)

    entry = _read_entry(written[0])
    assert entry["Type"] == "Application"
    assert entry["Name"] == "EM Gap Filler"
    assert entry["Icon"] == "emgui"
    assert entry["Terminal"] == "false"
    assert entry["StartupWMClass"] == "emgui"
    assert "text/csv" in entry["MimeType"].split(";")
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in entry[
        "MimeType"
    ].split(";")
    argv = _exec_argv(entry["Exec"])
    program = Path(argv[0])
    assert program.is_absolute() and program.is_file() and os.access(program, os.X_OK)
    assert argv[1:] in ([], ["-m", "emgui"])

    hicolor = data_home / "icons" / "hicolor"
    for size in SIZES:
        png = (hicolor / f"{size}x{size}" / "apps" / "emgui.png").read_bytes()
        assert png == (ICONS / f"emgui-{size}.png").read_bytes()
    assert (hicolor / "scalable" / "apps" / "emgui.svg").read_bytes() == (
        ICONS / "emgui.svg"
    ).read_bytes()


@needs_validator
def test_installed_desktop_file_is_valid(data_home):
    _validate(install_desktop()[0])


def test_install_refreshes_the_mime_cache_and_uninstall_removes_everything(data_home):
    install_desktop()
    cache = data_home / "applications" / "mimeinfo.cache"
    if shutil.which("update-desktop-database"):
        assert "text/csv=emgui.desktop;" in cache.read_text(encoding="utf-8")

    removed = uninstall_desktop()
    assert set(removed) == _expected_files(data_home)
    assert not any(p.exists() for p in _expected_files(data_home))
    if cache.exists():
        assert "emgui" not in cache.read_text(encoding="utf-8")
    assert uninstall_desktop() == []


def test_install_twice_replaces_files_in_place(data_home):
    first = install_desktop()
    launcher = first[0]
    launcher.write_text("stale", encoding="utf-8")
    assert install_desktop() == first
    assert _read_entry(launcher)["Name"] == "EM Gap Filler"
    leftovers = [p for p in launcher.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_default_data_home_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    written = install_desktop()
    assert written[0] == tmp_path / ".local" / "share" / "applications" / "emgui.desktop"
    # A relative XDG_DATA_HOME is invalid by the XDG spec and ignored as well.
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert set(uninstall_desktop()) == set(written)


def test_explicit_prefix_wins_over_the_environment(data_home, tmp_path):
    prefix = tmp_path / "elsewhere"
    written = install_desktop(prefix)
    assert set(written) == _expected_files(prefix)
    assert not data_home.exists()
    assert set(uninstall_desktop(prefix)) == set(written)


def test_frozen_build_launches_itself_and_odd_paths_are_quoted(data_home, monkeypatch, tmp_path):
    odd = tmp_path / "My Apps" / 'em"gui $HOME `x` 100%' / "emgui"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(odd))
    launcher = install_desktop()[0]
    assert _exec_argv(_read_entry(launcher)["Exec"]) == [str(odd.resolve())]
    if VALIDATE:
        _validate(launcher)


# --- command-line flags -------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["class.csv"], ["--version"]])
def test_flags_absent_returns_none(argv, data_home):
    assert main_desktop_args(argv) is None
    assert not data_home.exists()


def test_install_and_uninstall_flags(data_home, capsys):
    assert main_desktop_args(["--install-desktop"]) == 0
    out = capsys.readouterr().out
    assert str(data_home / "applications" / "emgui.desktop") in out
    assert all(p.is_file() for p in _expected_files(data_home))

    assert main_desktop_args(["--uninstall-desktop"]) == 0
    assert "Removed" in capsys.readouterr().out
    assert not any(p.exists() for p in _expected_files(data_home))

    assert main_desktop_args(["--uninstall-desktop"]) == 0
    assert "nothing removed" in capsys.readouterr().out


def test_both_flags_is_a_usage_error(data_home, capsys):
    assert main_desktop_args(["--install-desktop", "--uninstall-desktop"]) == 2
    assert "not both" in capsys.readouterr().err
    assert not data_home.exists()


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_flags_refused_where_there_are_no_desktop_files(platform, data_home, monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", platform)
    assert main_desktop_args(["--install-desktop"]) == 2
    assert "Linux" in capsys.readouterr().err
    assert not data_home.exists()


def test_unwritable_target_reports_and_returns_1(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "share"))
    assert main_desktop_args(["--install-desktop"]) == 1
    assert capsys.readouterr().err.startswith("emgui: ")


def test_python_m_emgui_runs_app_main(monkeypatch):
    calls = []
    fake = types.ModuleType("emgui.app")
    fake.main = lambda: calls.append(sys.argv[1:]) or 7
    monkeypatch.setitem(sys.modules, "emgui.app", fake)
    monkeypatch.setattr(sys, "argv", ["emgui", "class.csv"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("emgui", run_name="__main__")
    assert exc.value.code == 7
    assert calls == [["class.csv"]]


def test_real_app_handles_install_flag(tmp_path):
    """The lead's emgui.app.main must call main_desktop_args before starting Qt."""
    if importlib.util.find_spec("emgui.app") is None:
        pytest.skip("emgui/app.py not written yet")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "emgui", "--install-desktop"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "applications" / "emgui.desktop").is_file()


# --- PyInstaller spec ---------------------------------------------------------------


class _Recorder:
    """Stands in for PyInstaller's build classes so the spec runs in milliseconds."""

    calls: dict[str, tuple] = {}

    def __init__(self, *args, **kwargs):
        _Recorder.calls[type(self).__name__] = (args, kwargs)


def test_spec_collects_resources_excludes_dev_libraries_and_filters_gtk(monkeypatch):
    _Recorder.calls.clear()
    names = ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")
    classes = {n: type(n, (_Recorder,), {}) for n in names}
    fake_binaries = [
        ("PySide6/Qt/lib/libQt6Core.so.6", "/x/libQt6Core.so.6", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
        ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", "/x/p.so", "BINARY"),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "/x/libqsqlite.so", "BINARY"),
        ("libgio-2.0.so.0", "/usr/lib/libgio-2.0.so.0", "BINARY"),
        ("libglib-2.0.so.0", "/usr/lib/libglib-2.0.so.0", "BINARY"),
        ("numpy.libs/libscipy_openblas64_.so", "/x/openblas.so", "BINARY"),
    ]
    fake_datas = [
        ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
        ("emgui/resources/sample_class.csv", "/x/sample_class.csv", "DATA"),
    ]

    def analysis(*args, **kwargs):
        obj = classes["Analysis"](*args, **kwargs)
        obj.binaries, obj.datas, obj.pure, obj.scripts = (
            list(fake_binaries),
            list(fake_datas),
            [],
            [],
        )
        return obj

    namespace = {n: classes[n] for n in names} | {
        "Analysis": analysis,
        "SPECPATH": str(ROOT / "packaging"),
        "__name__": "__main__",
    }
    monkeypatch.setattr(sys, "platform", "linux")
    spec = ROOT / "packaging" / "emgui.spec"
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), namespace)

    (scripts,), kwargs = _Recorder.calls["Analysis"]
    assert [Path(s) for s in scripts] == [ROOT / "packaging" / "emgui_main.py"]
    assert Path(scripts[0]).is_file()
    assert "from emgui.app import main" in Path(scripts[0]).read_text(encoding="utf-8")
    assert kwargs["datas"] == [(str(RESOURCES), "emgui/resources")]
    for excluded in ("sklearn", "pytest", "hypothesis", "matplotlib", "tkinter"):
        assert excluded in kwargs["excludes"]
    assert "pyarrow" not in kwargs["excludes"]  # a runtime dependency: backs the text columns
    assert {"pyarrow.csv", "pyarrow.compute"} <= set(kwargs["hiddenimports"])
    assert not any(m in kwargs["excludes"] for m in ("PySide6.QtOpenGL", "PySide6.QtSvg"))

    kept = {dest for dest, *_ in namespace["a"].binaries}
    assert kept == {
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
        "libglib-2.0.so.0",
        "numpy.libs/libscipy_openblas64_.so",
    }
    assert [d for d, *_ in namespace["a"].datas] == ["emgui/resources/sample_class.csv"]

    exe_kwargs = _Recorder.calls["EXE"][1]
    assert exe_kwargs["name"] == "emgui" and exe_kwargs["console"] is False
    assert _Recorder.calls["COLLECT"][1]["name"] == "emgui"
    assert "BUNDLE" not in _Recorder.calls  # macOS only


def test_build_script_is_valid_bash():
    script = ROOT / "packaging" / "build_app.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
