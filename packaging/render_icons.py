"""Render the app icon's PNG sizes from the SVGs in ``emgui/resources/icons``.

``emgui.svg`` is the icon; ``emgui-small.svg`` is a simplified drawing (no
grid, thicker lines) for sizes up to ``SMALL_MAX`` px, where the full drawing
blurs into a pale smudge.

Run from the repository root after editing the SVG::

    .venv/bin/python packaging/render_icons.py

The PNGs are committed build output: desktop launchers, PyInstaller and the
window icon use them without needing an SVG renderer at run time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256, 512)
SMALL_MAX = 32
ICONS = Path(__file__).resolve().parent.parent / "emgui" / "resources" / "icons"


def render(
    svg: Path = ICONS / "emgui.svg",
    small_svg: Path | None = ICONS / "emgui-small.svg",
    out_dir: Path = ICONS,
    sizes=SIZES,
) -> list[Path]:
    """Render the icon to ``emgui-<size>.png`` files in ``out_dir``.

    Parameters
    ----------
    svg : Path
        Source SVG.
    small_svg : Path or None
        Source SVG for sizes up to ``SMALL_MAX``; None uses ``svg`` for all.
    out_dir : Path
        Destination folder; existing PNGs are overwritten.
    sizes : iterable of int
        Square edge lengths in pixels.

    Returns
    -------
    list of Path
        The written PNG files, in the order of ``sizes``.
    """
    # No screen is needed: rendering goes into a QImage.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderers = {}
    for key, path in (("full", svg), ("small", small_svg or svg)):
        renderers[key] = QSvgRenderer(str(path))
        if not renderers[key].isValid():
            raise ValueError(f"{path} is not a valid SVG")
    written = []
    for size in sizes:
        renderer = renderers["small" if size <= SMALL_MAX else "full"]
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"emgui-{size}.png"
        if not image.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in render():
        print(p)
