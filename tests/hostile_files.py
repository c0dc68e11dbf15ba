"""Hostile and odd spreadsheet files, made with zipfile in a test's tmp_path; and a
way to run a read in a child process that cannot take the machine down.

The files are the issue's cases (no binary fixtures): a ~2 KB XLSX with one
cell at XFD1048576 (python-calamine asked for 512 GiB and aborted), a
~0.7 MB shared-string bomb (one 30,000-character string referred to by
130,000 cells: 3.9 GB), a ~1 KB ODS of 99,990,000 repeated value cells
(8 GB, then an abort), and for contrast sheets that only *look* big (a
formatted cell or trailing repeats out at the sheet's limits), which must
be read.

Importable from every test folder: ``tests/`` is on ``sys.path`` because
its ``conftest.py`` is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

#: A header and two rows every made-up sheet starts with: name, gender, height.
HEADER_ROWS = [("name", "gender", "height"), ("Ana", "F", "162"), ("Ben", "", "181")]


def _inline(ref: str, text: str, prefix: str = "") -> str:
    return f'<{prefix}c r="{ref}" t="inlineStr"><{prefix}is><{prefix}t>{text}</{prefix}t></{prefix}is></{prefix}c>'


def _base_rows(prefix: str = "", refs: bool = True) -> str:
    out = []
    for i, row in enumerate(HEADER_ROWS, start=1):
        cells = []
        for j, text in enumerate(row):
            if not text:
                continue
            ref = f"{'ABC'[j]}{i}"
            if i > 1 and j == 2:
                cell = f'<{prefix}c r="{ref}"><{prefix}v>{text}</{prefix}v></{prefix}c>'
            else:
                cell = _inline(ref, text, prefix)
            if not refs:
                cell = cell.replace(f' r="{ref}"', "")
            cells.append(cell)
        if not refs and i == 3:
            # Without references, a blank gender cell must still take its place.
            cells.insert(1, f"<{prefix}c/>")
        out.append(f'<{prefix}row r="{i}">{"".join(cells)}</{prefix}row>')
    return "".join(out)


def xlsx(path: Path, rows_xml: str, *, dimension: str = "A1:C3", shared: list[str] | None = None,
         prefix: str = "") -> Path:
    """A minimal workbook of one sheet whose ``<sheetData>`` is ``rows_xml``."""
    ns = f'xmlns:{prefix[:-1]}="{_MAIN_NS}"' if prefix else f'xmlns="{_MAIN_NS}"'
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<{prefix}worksheet {ns}><{prefix}dimension ref=\"{dimension}\"/>"
        f"<{prefix}sheetData>{rows_xml}</{prefix}sheetData></{prefix}worksheet>"
    )
    strings = "".join(f"<si><t>{s}</t></si>" for s in (shared or ["x"]))
    sst = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="{_MAIN_NS}">{strings}</sst>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", sst)
    return path


def far_cell_xlsx(path: Path) -> Path:
    """~2 KB: the class and one value at XFD1048576, the sheet's last cell."""
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return xlsx(path, _base_rows() + far, dimension="A1:XFD1048576")


def formatted_range_xlsx(path: Path) -> Path:
    """The class, a declared range to XFD1048576 and a formatted empty cell there:
    big only because of formatting, so it must be read."""
    far = '<row r="1048576"><c r="XFD1048576" s="0"/></row>'
    return xlsx(path, _base_rows() + far, dimension="A1:XFD1048576")


def shared_string_bomb_xlsx(path: Path, cells: int = 130_000, length: int = 30_000) -> Path:
    """~0.7 MB: one 30,000-character shared string in 130,000 cells (3.9 GB as read)."""
    rows = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>0</v></c></row>' for i in range(1, cells + 1))
    return xlsx(path, rows, dimension=f"A1:A{cells}", shared=["y" * length])


_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def ods(path: Path, rows_xml: str) -> Path:
    """A minimal OpenDocument spreadsheet of one table whose rows are ``rows_xml``."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        '<table:table-column table:number-columns-repeated="3"/>'
        f"{rows_xml}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", _ODS_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _ods_cell(text: str) -> str:
    if not text:
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'


def _ods_base() -> str:
    return "".join(
        f"<table:table-row>{''.join(_ods_cell(t) for t in row)}</table:table-row>" for row in HEADER_ROWS
    )


def ods_repeat_bomb(path: Path) -> Path:
    """~1 KB: a row of 9,999 value cells repeated 9,999 times (~99.98M cells; the
    reader's own limit is 100M)."""
    bomb = (
        '<table:table-row table:number-rows-repeated="9999">'
        '<table:table-cell table:number-columns-repeated="9999" office:value-type="float" '
        'office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>'
    )
    return ods(path, _ods_base() + bomb)


def ods_trailing_repeats(path: Path) -> Path:
    """The class, then empty cells and rows repeated to the sheet's limits, as
    LibreOffice writes them: big only in appearance, so it must be read."""
    tail = (
        '<table:table-row><table:table-cell table:number-columns-repeated="16381"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048572">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    return ods(path, _ods_base() + tail)


def wide_csv(path: Path, columns: int = 1_000_000, rows: int = 20) -> Path:
    """~21 MB: a height column and ``columns - 1`` empty ones."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("height" + "," * (columns - 1) + "\n")
        for i in range(rows):
            f.write(str(150 + i) + "," * (columns - 1) + "\n")
    return path


#: The address space a child gets: a regression asks for far more and fails
#: at once instead of taking the test machine down.
CHILD_MEMORY = 1536 * 1024**2


def run_limited(code: str, *, memory: int = CHILD_MEMORY, timeout: float = 120, env=None):
    """Run Python ``code`` in a child with an address-space limit and a timeout.

    The code may set ``result`` (anything JSON can hold); the child prints it
    with its peak resident memory.  Returns ``(returncode, result, peak_mb,
    stderr)``; ``result`` and ``peak_mb`` are None if the child died.
    """
    prologue = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
        result = None
        """
    )
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of
    # a 600 MB test process would report at least 600 MB whatever it did.
    epilogue = textwrap.dedent(
        """
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) / 1024
        except OSError:
            pass
        print("@@" + json.dumps({"result": result, "peak_mb": peak}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code) + epilogue],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    marks = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    if not marks:
        return proc.returncode, None, None, proc.stderr
    out = json.loads(marks[-1][2:])
    return proc.returncode, out["result"], out["peak_mb"], proc.stderr
