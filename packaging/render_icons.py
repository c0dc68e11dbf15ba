"""Render the app icon's PNG sizes from the SVGs in ``resources/icons``.

``emgui.svg`` is the icon; ``emgui-small.svg`` is a simplified drawing (no
grid, thicker lines) for sizes up to ``SMALL_MAX`` px, where the full drawing
blurs into a pale smudge.

Run from the repository root after editing the SVG::

    .venv/bin/python packaging/render_icons.py

The PNGs are committed build output: desktop launchers, PyInstaller and the
window icon use them without needing an SVG renderer at run time.  The same
PNGs are also packed, unchanged, into ``emgui.ico`` (Windows executables)
and ``emgui.icns`` (macOS bundles); both containers accept PNG entries, so no
image library beyond Qt is needed.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256, 512)
SMALL_MAX = 32
ICO_SIZES = (16, 32, 48, 64, 128, 256)
# Apple's PNG-payload icon types by edge length.
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


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


def pack_ico(pngs: dict[int, bytes], dest: Path) -> Path:
    """Write a Windows ``.ico`` holding the PNG images ``{size: png_bytes}`` (Vista+ format)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for size in sizes:
        data = pngs[size]
        # A width/height byte of 0 means 256.
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
        payload += data
        offset += len(data)
    dest.write_bytes(header + entries + payload)
    return dest


def pack_icns(pngs: dict[int, bytes], dest: Path) -> Path:
    """Write a macOS ``.icns`` holding the PNG images ``{size: png_bytes}``."""
    body = b"".join(
        ICNS_TYPES[size] + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
        for size in sorted(pngs)
        if size in ICNS_TYPES
    )
    dest.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)
    return dest


def main() -> None:
    pngs = render()
    data = {int(p.stem.rsplit("-", 1)[1]): p.read_bytes() for p in pngs}
    written = [
        *pngs,
        pack_ico({s: data[s] for s in ICO_SIZES}, ICONS / "emgui.ico"),
        pack_icns(data, ICONS / "emgui.icns"),
    ]
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
