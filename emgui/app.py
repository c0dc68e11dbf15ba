"""``emgui [FILE]``: start the EM Gap Filler window.

Also ``emgui --version``, ``emgui --self-check`` (a headless end-to-end check
used by the standalone build's CI) and ``emgui --install-desktop`` /
``--uninstall-desktop`` (see :mod:`emgui.desktop`).

Start-up time matters: this module imports only the standard library at
import time; PySide6 follows in :func:`main`, and numpy, pandas and
pyqtgraph only after the window has been shown (see
:meth:`emgui.ui.window.MainWindow.finish_startup`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from emgui import __version__

__all__ = ["main", "self_check"]

APP_NAME = "EM Gap Filler"
ORG_NAME = "emgui"

_USAGE = """usage: emgui [FILE]
       emgui --version | --self-check | --install-desktop | --uninstall-desktop

Opens FILE (CSV, TSV, XLSX or ODS) in the EM Gap Filler window.
For filling without a window, see: emgui-cli fill --help
"""


def _headless() -> bool:
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith(
        "linux"
    )


def _configure_app(app) -> None:
    from emgui.ui.window import app_icon

    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("emgui")
    app.setWindowIcon(app_icon())


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if "--version" in args:
        print(f"emgui {__version__}")
        return 0
    if "-h" in args or "--help" in args:
        print(_USAGE, end="")
        return 0
    from emgui.desktop import main_desktop_args

    status = main_desktop_args(args)
    if status is not None:
        return status
    if "--self-check" in args:
        return self_check()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    _configure_app(app)
    from emgui.core._guards import install_signal_cleanup

    # SIGTERM, SIGHUP and SIGINT during a save remove its temporary files
    # (Python runs the handler at the next Python slot: timers run often).
    install_signal_cleanup()
    # Qt removed the options it understood (-platform, -style, ...).
    rest = [a for a in app.arguments()[1:] if a in args]
    files = [a for a in rest if not a.startswith("-")]

    from emgui.ui.errors import install_excepthook
    from emgui.ui.recovery import keep_recovery
    from emgui.ui.window import MainWindow

    window = MainWindow(defer=True)
    window.show()
    # Offers a crashed run's work first, then opens the command line's file.
    keeper = keep_recovery(window, open_after=files[0] if files else None)
    handler = install_excepthook(lambda: window, keeper=keeper)
    status = app.exec()
    keeper.discard()  # a clean exit leaves no recovery copy behind
    handler.uninstall()
    return status


def self_check() -> int:
    """Open the bundled sample, fill it in the (hidden) window, export and verify.

    Prints ``self-check ok`` and returns 0, or prints what failed and returns 1.
    """
    if _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        problem = _run_self_check()
    except Exception as exc:  # report anything, the caller is a CI script
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(f"self-check failed: {problem}", file=sys.stderr)
        return 1
    print("self-check ok")
    return 0


def _run_self_check() -> str | None:
    import numpy as np
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from emgui.core import fileio, parsing
    from emgui.core.sheet import Sheet
    from emgui.ui.window import SAMPLE_PATH, MainWindow

    original = fileio.read_table(SAMPLE_PATH)
    reference = Sheet.from_table(original.columns, original.cells)
    label = reference.roles.label
    if label is None or not reference.roles.features:
        return "the sample's label and height columns were not recognised"
    blank = reference.label_missing()
    readable = np.all([np.isfinite(reference.values(f)) for f in reference.roles.features], axis=0)

    with tempfile.TemporaryDirectory(prefix="emgui-self-check-") as tmp:
        app = QApplication.instance() or QApplication([sys.argv[0]])
        _configure_app(app)
        # Keep the user's settings (recent files, geometry) out of it.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        window = MainWindow()
        try:
            if not window.open_path(SAMPLE_PATH, ask=False):
                return "the window could not open the sample"
            loop = QEventLoop()
            outcome: list[str] = []
            window.fill_applied.connect(lambda _plan: (outcome.append("filled"), loop.quit()))
            window.controller.fit_failed.connect(lambda msg: (outcome.append(f"fit failed: {msg}"), loop.quit()))
            QTimer.singleShot(60_000, loop.quit)
            window.fill_gaps()
            if not outcome:
                loop.exec()
            if outcome != ["filled"]:
                return outcome[0] if outcome else "the fit did not finish within 60 s"
            out = Path(tmp) / "filled.csv"
            if not window.export_to(out):
                return "the export failed"
            # XLSX too: its writer and reader are compiled libraries a bundle must carry.
            workbook = Path(tmp) / "filled.xlsx"
            if not window.export_to(workbook):
                return "the XLSX export failed"
        finally:
            window.controller.wait(10_000)
            window.undo_stack.setClean()
            window.close()
            window.deleteLater()

        back = fileio.read_table(out)
        book = fileio.read_table(workbook)
    name = original.columns[label]
    if book.columns != back.columns or list(book.cells[label]) != list(back.cells[label]):
        return "the XLSX export differs from the CSV export"
    if back.columns[: len(original.columns)] != original.columns:
        return "the exported columns differ from the sample's"
    for extra in (f"{name}_imputed", f"{name}_confidence"):
        if extra not in back.columns:
            return f"the export has no '{extra}' column"
    if back.n_rows != original.n_rows:
        return f"the export has {back.n_rows} rows, the sample {original.n_rows}"
    imputed = back.cells[back.columns.index(f"{name}_imputed")]
    labels_out = back.cells[label]
    for row in range(original.n_rows):
        if blank[row] and readable[row]:
            if parsing.is_missing(labels_out[row]) or str(imputed[row]).lower() != "true":
                return f"row {row + 2}: the blank label was not filled"
        elif not blank[row] and labels_out[row] != original.cells[label][row]:
            return f"row {row + 2}: a typed label changed"
    for col in range(len(original.columns)):
        if col == label or col in reference.roles.features:
            continue
        if list(back.cells[col]) != list(original.cells[col]):
            return f"column '{original.columns[col]}' changed"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
