"""The real window under Xvfb, driven with xdotool: open a file, F5, Ctrl+E, type a path.

Skipped when Xvfb or xdotool is missing, unless ``EMGUI_REQUIRE_XVFB=1``
(CI sets it after installing them), in which case a missing tool fails.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SAMPLE = DATA / "messy_class.csv"

pytestmark = [pytest.mark.xvfb, pytest.mark.timeout(180)]


def _require_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed (apt-get install xvfb xdotool)"
    if os.environ.get("EMGUI_REQUIRE_XVFB") == "1":
        pytest.fail(f"EMGUI_REQUIRE_XVFB=1 but {reason}")
    pytest.skip(reason)


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks one and reports it through a pipe)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    return proc, f":{number}"


def _xdotool(display: str, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=30,
        check=check,
    )


def _wait_for(what: str, predicate, timeout: float, app: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if app.poll() is not None:
            pytest.fail(f"the app exited ({app.returncode}) while waiting for {what}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; app output:\n{log.read_text()}")


def _find_window(display: str, name: str) -> str | None:
    out = _xdotool(display, "search", "--onlyvisible", "--name", name).stdout.split()
    return out[0] if out else None


def test_fill_and_export_in_the_real_window(tmp_path):
    _require_tools()
    xvfb, display = _start_xvfb()
    log = tmp_path / "app.log"
    out = tmp_path / "exported.csv"
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        # Keep settings and recent files out of the real home.
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("WAYLAND_DISPLAY", None)
    with log.open("w") as log_file:
        app = subprocess.Popen(
            [sys.executable, "-m", "emgui", str(SAMPLE)], cwd=ROOT, env=env, stdout=log_file, stderr=log_file
        )
    try:
        wid = _wait_for(
            "the window", lambda: _find_window(display, "messy_class.csv.* — EM Gap Filler"), 60, app, log
        )
        _xdotool(display, "windowfocus", "--sync", wid)
        time.sleep(0.5)

        _xdotool(display, "key", "F5")
        # The fill is one undo step that marks the document modified ("*" in the title).
        _wait_for(
            "the fill",
            lambda: "messy_class.csv*" in _xdotool(display, "getwindowname", wid).stdout,
            60,
            app,
            log,
        )

        _xdotool(display, "key", "ctrl+e")
        dialog = _wait_for("the export dialog", lambda: _find_window(display, "^Export$"), 30, app, log)
        _xdotool(display, "windowfocus", "--sync", dialog)
        time.sleep(0.5)
        # The file-name field has the focus and holds a suggested name: replace it.
        _xdotool(display, "key", "ctrl+a")
        _xdotool(display, "type", "--delay", "15", str(out))
        time.sleep(0.3)
        _xdotool(display, "key", "Return")
        deadline = time.monotonic() + 20
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
            if time.monotonic() > deadline - 15 and _find_window(display, "^Export$"):
                _xdotool(display, "key", "Return")  # a completer popup took the first Return
        assert out.exists(), f"no export was written; app output:\n{log.read_text()}"
    finally:
        app.kill()
        app.wait(10)
        xvfb.kill()
        xvfb.wait(10)

    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        original = list(csv.reader(fh))
    header = rows[0]
    assert header[: len(original[0])] == original[0]
    assert "gender_imputed" in header and "gender_confidence" in header
    assert len(rows) == len(original)
    imputed = header.index("gender_imputed")
    filled = [r for r in rows[1:] if r[imputed] == "true"]
    assert len(filled) >= 5
    assert all(r[1] in ("F", "M") for r in filled)
    # Rows keep their order and typed labels.
    assert [r[0] for r in rows[1:]] == [r[0] for r in original[1:]]
    for new, old in zip(rows[1:], original[1:], strict=True):
        if new[imputed] != "true":
            assert new[1] == old[1]
