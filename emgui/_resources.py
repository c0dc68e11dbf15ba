"""Where the icons, the desktop template and the sample class are, however the program was installed.

The project keeps them in a top-level ``resources/`` folder, shipped as the
package ``emgui.resources``:

- a wheel (``pip install``) and the PyInstaller build put it at
  ``emgui/resources`` beside this module;
- an editable install (``pip install -e``) maps ``emgui.resources`` to the
  top-level folder through setuptools' import finder;
- a source checkout run without installing (``python main.py``) has it
  beside the ``emgui`` folder.

Standard library only: the window asks for its icon before the core loads.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

__all__ = ["resource_dir"]

#: A folder is ours when it holds these (a site-packages/resources of another program is not).
_MARKERS = ("sample_class.csv", "emgui.desktop")


def _ours(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _MARKERS)


@cache
def resource_dir() -> Path:
    """The folder holding ``icons/``, ``emgui.desktop`` and ``sample_class.csv``.

    Raises
    ------
    FileNotFoundError
        No layout above has it (a broken installation), naming where it looked.
    """
    here = Path(__file__).resolve().parent
    looked = [here / "resources"]
    try:
        spec = importlib.util.find_spec("emgui.resources")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        looked += [Path(p) for p in spec.submodule_search_locations]
    looked.append(here.parent / "resources")
    for folder in looked:
        if _ours(folder):
            return folder
    raise FileNotFoundError("EM Gap Filler's resources are missing; looked in " + ", ".join(map(str, looked)))
