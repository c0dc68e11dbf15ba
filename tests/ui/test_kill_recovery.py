"""Kill -9 the real app after an edit; the next start offers the edit back.

Both runs are ``emgui.app.main`` in a fresh process (offscreen), started by
a small driver script written by this test.  The driver only does what a
person would: in the first run it types one cell through the table model
(``setData``, as the cell editor does: an undoable edit); in the second it
answers the recovery question "Restore" (the question function is replaced,
the rest is the real start-up) and reports what the window shows.  Nothing
in the app knows it is being tested.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DRIVER = r'''
import json, sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

mode, out_path = sys.argv[1], sys.argv[2]
files = sys.argv[3:]
# As emgui.app.main would make it: it reads the file names back from the app's arguments.
app = QApplication([sys.argv[0], *files])

from emgui import app as emgui_app
from emgui.ui import dialogs, recovery
from emgui.ui.window import MainWindow


def report(**data):
    with open(out_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(data) + "\n")


def window():
    return next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)


def name_column(model):
    return next(c for c in range(model.columnCount())
                if model.headerData(c, Qt.Orientation.Horizontal) == "Name")


if mode == "edit":
    def edit():
        w = window()
        if w is None or w.path is None:  # the file is not open yet
            QTimer.singleShot(50, edit)
            return
        model = w.model
        ok = model.setData(model.index(0, name_column(model)), "Zed (edited)", Qt.ItemDataRole.EditRole)
        report(edited=bool(ok), undo_steps=w.undo_stack.count(), modified=w.isWindowModified())

    QTimer.singleShot(0, edit)
else:
    asked = []

    def ask(parent, info):
        asked.append({"file": info.file_name, "source": info.source_path, "pid": info.pid})
        return "restore"

    recovery.ask_restore = ask
    dialogs.ask_unsaved_changes = lambda parent, name: "discard"

    def check():
        w = window()
        if w is None or not asked or w.path is None:
            QTimer.singleShot(50, check)
            return
        model = w.model
        cells = [model.data(model.index(r, name_column(model))) for r in range(w.sheet.n_rows)]
        report(asked=asked, path=w.path, modified=w.isWindowModified(), names=cells,
               title=w.windowTitle())
        QTimer.singleShot(100, w.close)  # a clean close (unsaved changes: "discard")

    QTimer.singleShot(0, check)

sys.exit(emgui_app.main(files))
'''

CSV = "Name,Gender,Height (cm)\nAnn,F,162\nBob,M,181\nCy,,170\n"


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        EMGUI_RECOVERY_DIR=str(tmp / "recovery"),
        XDG_CONFIG_HOME=str(tmp / "config"),  # QSettings: recent files, geometry
        XDG_DATA_HOME=str(tmp / "data"),  # the log
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def _start(tmp: Path, mode: str, *files: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, log = tmp / f"{mode}.jsonl", tmp / f"{mode}.log"
    driver = tmp / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    with open(log, "w") as stream:
        proc = subprocess.Popen(
            [sys.executable, str(driver), mode, str(out), *map(str, files)],
            env=_env(tmp),
            cwd=tmp,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    return proc, out, log


def _wait_for(what, predicate, proc, log: Path, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the app exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()}")
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"timed out waiting for {what}; app output:\n{log.read_text()}")


def _reports(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sidecars(tmp: Path) -> list[Path]:
    folder = tmp / "recovery"
    return sorted(folder.glob("session-*.json")) if folder.exists() else []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9 (POSIX)")
def test_kill_9_after_an_edit_then_restart_restores_it(tmp_path):
    data = tmp_path / "class.csv"
    data.write_text(CSV, encoding="utf-8")

    # First run: open the file, type one cell, wait for the copy, kill -9.
    proc, out, log = _start(tmp_path, "edit", data)
    try:
        (edit,) = _wait_for("the edit", lambda: _reports(out), proc, log)
        assert edit == {"edited": True, "undo_steps": 1, "modified": True}
        (sidecar,) = _wait_for("the recovery copy", lambda: _sidecars(tmp_path), proc, log, timeout=30)
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        assert meta["pid"] == proc.pid and meta["source_path"] == str(data)
        assert "Zed (edited)" in (sidecar.parent / meta["table"]).read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert data.read_text(encoding="utf-8") == CSV  # the edit was never saved
    assert len(_sidecars(tmp_path)) == 1  # the killed run's copy is still there

    # Second run: no file on the command line; the offer restores the edit.
    proc, out, log = _start(tmp_path, "restore")
    try:
        (state,) = _wait_for("the restored window", lambda: _reports(out), proc, log)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert state["asked"] == [{"file": "class.csv", "source": str(data), "pid": meta["pid"]}]
    assert state["path"] == str(data)
    assert state["names"] == ["Zed (edited)", "Bob", "Cy"]
    assert state["modified"] is True  # restored work is unsaved work
    assert state["title"].startswith("class.csv")
    # The second run closed cleanly (discarding the unsaved work): no copy is left.
    assert _sidecars(tmp_path) == []
    assert data.read_text(encoding="utf-8") == CSV
