"""Add EM Gap Filler to the current user's application menu (freedesktop.org desktops).

``emgui --install-desktop`` writes, under ``$XDG_DATA_HOME`` (default
``~/.local/share``)::

    applications/emgui.desktop
    icons/hicolor/<size>x<size>/apps/emgui.png      (16 ... 512)
    icons/hicolor/scalable/apps/emgui.svg

and refreshes the desktop and icon caches when the tools for that are
installed.  ``emgui --uninstall-desktop`` removes exactly those files.
Nothing here needs Qt, and nothing needs administrator rights.

The launcher declares the spreadsheet MIME types it opens, so the file
manager lists EM Gap Filler under "Open With"; it deliberately does not make
itself the default program for CSV files, which is the user's choice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from emgui._resources import resource_dir

__all__ = ["install_desktop", "main_desktop_args", "uninstall_desktop"]

APP_ID = "emgui"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
RESOURCES = resource_dir()

# Cache refreshers: optional, each given the folder it indexes.  A missing
# tool or a failure only means a menu shows the launcher after the next login.
_REFRESH_TIMEOUT_S = 20


def _data_home(prefix: str | os.PathLike | None) -> Path:
    if prefix is not None:
        return Path(prefix).expanduser()
    env = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if env and os.path.isabs(env):
        return Path(env)
    return Path.home() / ".local" / "share"


def _targets(data_home: Path) -> list[tuple[Path, Path | None]]:
    """(destination, source) pairs; the .desktop file's source is None (it is generated)."""
    icons = RESOURCES / "icons"
    hicolor = data_home / "icons" / "hicolor"
    pairs: list[tuple[Path, Path | None]] = [
        (data_home / "applications" / f"{APP_ID}.desktop", None)
    ]
    for size in ICON_SIZES:
        pairs.append(
            (hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png", icons / f"emgui-{size}.png")
        )
    pairs.append((hicolor / "scalable" / "apps" / f"{APP_ID}.svg", icons / "emgui.svg"))
    return pairs


def _launch_command() -> list[str]:
    """The program a launcher should start, as an argument list.

    A frozen build (PyInstaller) is its own launcher.  Otherwise the
    ``emgui`` script installed next to the running interpreter wins over one
    found on ``PATH``: a menu entry must start the installation that wrote
    it, and a virtualenv's ``bin`` is often not on the desktop's ``PATH``.
    """
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    script_dir = Path(sys.executable).parent
    for name in ("emgui", "emgui.exe"):
        candidate = script_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate.absolute())]
    found = shutil.which(APP_ID)
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", APP_ID]


def _exec_quote(arg: str) -> str:
    """Quote one argument for a desktop entry's ``Exec`` key.

    Follows the Desktop Entry Specification, "The Exec key": an argument
    with reserved characters goes in double quotes with ``"`` `` ` `` ``$``
    ``\\`` backslash-escaped; ``%`` is doubled.  The result is then a string
    value, whose own escaping doubles every backslash.
    """
    arg = arg.replace("%", "%%")
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if any(ch in reserved for ch in arg):
        for ch in ("\\", '"', "`", "$"):
            arg = arg.replace(ch, "\\" + ch)
        arg = f'"{arg}"'
    return arg.replace("\\", "\\\\")


def _desktop_entry(command: Sequence[str]) -> str:
    """The template with its ``Exec`` line pointing at ``command``."""
    template = (RESOURCES / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    exec_value = " ".join(_exec_quote(a) for a in command) + " %f"
    lines = [
        f"Exec={exec_value}" if line.startswith("Exec=") else line for line in template.splitlines()
    ]
    return "\n".join(lines) + "\n"


def _refresh_caches(data_home: Path) -> None:
    tools = (
        ("update-desktop-database", ["-q", str(data_home / "applications")]),
        # -t: the user's hicolor folder usually lacks index.theme.
        ("gtk-update-icon-cache", ["-q", "-f", "-t", str(data_home / "icons" / "hicolor")]),
    )
    for tool, args in tools:
        exe = shutil.which(tool)
        if exe is None:
            continue
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [exe, *args],
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_REFRESH_TIMEOUT_S,
            )


def _write_atomic(dest: Path, data: bytes, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def install_desktop(prefix: str | os.PathLike | None = None) -> list[Path]:
    """Install the launcher and icons for the current user.

    Parameters
    ----------
    prefix : path-like, optional
        Data folder to install into; default ``$XDG_DATA_HOME`` or
        ``~/.local/share``.  Files already there are replaced, so running it
        again after moving the program repairs the launcher.

    Returns
    -------
    list of Path
        The files written: the ``.desktop`` file first, then the icons.

    Raises
    ------
    OSError
        If a file cannot be written.
    """
    data_home = _data_home(prefix)
    written = []
    for dest, source in _targets(data_home):
        if source is None:
            # A launcher must be executable for some file managers to trust it.
            _write_atomic(dest, _desktop_entry(_launch_command()).encode("utf-8"), 0o755)
        else:
            _write_atomic(dest, source.read_bytes())
        written.append(dest)
    _refresh_caches(data_home)
    return written


def uninstall_desktop(prefix: str | os.PathLike | None = None) -> list[Path]:
    """Remove what :func:`install_desktop` wrote; missing files are skipped.

    Parameters
    ----------
    prefix : path-like, optional
        The same data folder given to :func:`install_desktop`.

    Returns
    -------
    list of Path
        The files that were removed.
    """
    data_home = _data_home(prefix)
    removed = []
    for dest, _source in _targets(data_home):
        if dest.is_file() or dest.is_symlink():
            dest.unlink()
            removed.append(dest)
    if removed:
        _refresh_caches(data_home)
    return removed


def main_desktop_args(argv: Sequence[str]) -> int | None:
    """Handle ``--install-desktop`` / ``--uninstall-desktop`` if present.

    Called first by :func:`emgui.app.main`, before any Qt object exists.

    Parameters
    ----------
    argv : sequence of str
        Command-line arguments without the program name.

    Returns
    -------
    int or None
        None when neither flag is present (the caller carries on);
        otherwise the exit status: 0 done, 1 a file could not be written or
        removed, 2 both flags given or not a freedesktop.org system.
    """
    install = "--install-desktop" in argv
    uninstall = "--uninstall-desktop" in argv
    if not (install or uninstall):
        return None
    if install and uninstall:
        print("emgui: give --install-desktop or --uninstall-desktop, not both", file=sys.stderr)
        return 2
    if sys.platform in ("win32", "darwin"):
        # Start menus there are made by an installer, not by .desktop files.
        print("emgui: --install-desktop is for Linux and BSD desktops", file=sys.stderr)
        return 2
    try:
        if install:
            paths = install_desktop()
            print("Added EM Gap Filler to the application menu:")
            for p in paths:
                print(f"  {p}")
            print("It may appear after the menu refreshes or the next login.")
        else:
            paths = uninstall_desktop()
            if paths:
                print("Removed EM Gap Filler from the application menu:")
                for p in paths:
                    print(f"  {p}")
            else:
                print("EM Gap Filler was not in the application menu; nothing removed.")
    except OSError as exc:
        print(f"emgui: {exc}", file=sys.stderr)
        return 1
    return 0
