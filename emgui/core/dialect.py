"""How a text table was written, so that it can be written back the same way.

A :class:`Dialect` records what :func:`emgui.core.fileio.read_table` found in
a CSV or TSV file: the delimiter, the decimal mark its numbers use, whether
every field was quoted, the line ending and the encoding (with or without a
byte-order mark).  The sheet keeps it, and saving or exporting writes the
file in it again, so a European semicolon file with decimal commas stays
one and a Windows-1252 file is not silently turned into UTF-8.

It lives in its own small module because three parts use it and none owns
it: the reader detects it, the sheet carries it, the writer honours it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["DELIMITERS", "DEFAULT", "Dialect", "LINE_ENDINGS", "detect_decimal", "detect_line_ending", "detect_quoting"]

#: The delimiters a file is read and written with, in the order detection tries them.
DELIMITERS = (",", ";", "\t", "|")
#: The line endings :func:`detect_line_ending` finds.
LINE_ENDINGS = ("\n", "\r\n", "\r")


@dataclass(frozen=True)
class Dialect:
    """The written form of a CSV/TSV file.

    Attributes
    ----------
    delimiter : str
        ``","``, ``";"``, ``"\\t"`` or ``"|"``.
    decimal : str
        ``"."`` or ``","``: the mark of the file's own numbers, used for the
        numbers the program adds (confidences).  The user's cells are always
        written as they are.
    quote_all : bool
        Every field was quoted (``"Ana";"F";"162"``); otherwise fields are
        quoted only when they must be.
    line_ending : str
        ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``.
    encoding : str
        A Python codec name; ``"utf-8-sig"`` is UTF-8 with a byte-order mark.
    """

    delimiter: str = ","
    decimal: str = "."
    quote_all: bool = False
    line_ending: str = "\n"
    encoding: str = "utf-8"

    def for_extension(self, ext: str) -> Dialect:
        """This dialect for a file named ``*.ext``: a ``.tsv`` is tab-separated,
        a ``.csv`` written from a TSV's dialect gets a comma (or a semicolon
        when the decimal mark is a comma, as spreadsheets do)."""
        ext = ext.lower()
        if ext == ".tsv":
            return replace(self, delimiter="\t")
        if ext == ".csv" and self.delimiter == "\t":
            return replace(self, delimiter=";" if self.decimal == "," else ",")
        return self

    @classmethod
    def from_dict(cls, data) -> Dialect | None:
        """The dialect ``dataclasses.asdict`` gave, or None when ``data`` is not one we read and write."""
        import codecs

        if not isinstance(data, dict):
            return None
        try:
            dialect = cls(**data)
            codecs.lookup(dialect.encoding)
        except (TypeError, LookupError):
            return None
        ok = (
            dialect.delimiter in DELIMITERS
            and dialect.decimal in (".", ",")
            and isinstance(dialect.quote_all, bool)
            and dialect.line_ending in LINE_ENDINGS
        )
        return dialect if ok else None

    def describe(self) -> str:
        """A short description for a person: ``"semicolons, decimal commas, Windows-1252"``."""
        names = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}
        parts = [names.get(self.delimiter, repr(self.delimiter))]
        if self.decimal == ",":
            parts.append("decimal commas")
        enc = self.encoding.lower().replace("_", "-")
        parts.append("UTF-8 with BOM" if enc == "utf-8-sig" else "UTF-8" if enc in ("utf-8", "utf8") else enc)
        return ", ".join(parts)


#: What a file of our own making uses: commas, decimal points, UTF-8, LF.
DEFAULT = Dialect()

_COMMA_DECIMAL = re.compile(r"[+-]?[0-9]+,[0-9]+")
_POINT_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")


def detect_decimal(rows: list[list[str]]) -> str:
    """``","`` when more cells of ``rows`` read as decimal-comma numbers than as decimal-point ones.

    ``"1,500"`` counts as a decimal comma: in a file that writes thousands
    that way, the program's added numbers are rare enough to tolerate the
    doubt, and a plain ``"1500"`` is never affected.
    """
    commas = points = 0
    for row in rows[1:]:
        for cell in row:
            cell = cell.strip()
            if _COMMA_DECIMAL.fullmatch(cell):
                commas += 1
            elif _POINT_DECIMAL.fullmatch(cell):
                points += 1
    return "," if commas > points else "."


def detect_quoting(sample: str, delimiter: str) -> bool:
    """Whether every field of the sample's complete lines is quoted (QUOTE_ALL).

    Looks at the first 50 lines; a quoted field may hold delimiters and
    doubled quotes.  A line break inside a quoted field makes the answer
    False (rare, and minimal quoting is the safe default).
    """
    lines = [ln for ln in sample.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:50] if ln]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may have cut the last one short
    if not lines:
        return False
    field = r'"(?:[^"]|"")*"'
    line_re = re.compile(f"{field}(?:{re.escape(delimiter)}{field})*")
    return all(line_re.fullmatch(line) for line in lines)


def detect_line_ending(head: bytes) -> str:
    """The line ending of the first line break in ``head`` (``"\\n"`` when none).

    ``head`` is the start of the file in an ASCII-compatible encoding, or
    UTF-16/32 bytes (the NULs are ignored).
    """
    raw = head.replace(b"\x00", b"")
    i = raw.find(b"\n")
    j = raw.find(b"\r")
    if j >= 0 and (i < 0 or j < i):
        return "\r\n" if raw[j + 1 : j + 2] == b"\n" else "\r"
    return "\n"
