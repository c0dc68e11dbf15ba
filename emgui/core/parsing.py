"""Turn what people type into numbers and class keys, without losing the text.

Three kinds of cell are read here:

* **Labels** (gender, class): :func:`label_key` maps every spelling of a class
  to one canonical key ("F", " female", "Frau" -> ``"female"``).
* **Heights** (:func:`parse_height_column`, :func:`parse_height`): numbers in
  the column's unit, or with an explicit unit (``175 cm``, ``1,75 m``,
  ``5'9"``, ``5 ft 9 in``, ``69 in``), converted to the column's unit and
  checked against the plausible human range of 40-260 cm.
* **Plain numbers** (:func:`parse_number_column`): any other feature, read
  with decimal commas and thousands separators, no unit and no range.

A cell is always exactly one of: a value, *missing* (blank or a marker such as
``N/A``; see :data:`MISSING_TOKENS`), or an *issue*: a short reason that quotes
the cell's text, so the text is never silently lost.

Rules for the ambiguous cases (simple and predictable rather than clever):

* A number without a unit is in the column's unit, with one exception: a
  number that is a plausible height only in metres (0.4-2.6) is read in
  metres, since nobody is 1.75 cm or 1.75 in tall (``1,65`` in a cm column
  is 165 cm).  Any other implausible number is an issue with a hint ("...
  did you mean 1800 mm?"), never guessed.
* In a height column a single ``,`` or ``.`` is always the decimal separator
  (``1,75`` = 1.75): no plausible height needs a thousands separator. The one
  exception is millimetres, where ``1,750 mm`` and ``1.750 mm`` are 1750 mm.
* A decimal number of feet is decimal: ``5.9 ft`` is 5.9 feet, not 5'9".
* ``''`` (two single quotes) is an inch mark, so ``5''`` is 5 inches.
* In a plain-number column, when ``.`` and ``,`` both occur the last one is the
  decimal separator (``1,234.5`` and ``1.234,5`` are both 1234.5). A lone
  comma followed by exactly three digits, after one to three digits that do
  not start with 0, is a thousands separator (``1,234`` = 1234); any other
  lone comma is a decimal comma (``12,5`` = 12.5, ``0,125`` = 0.125). A lone
  dot is always a decimal point (``1.234`` = 1.234). Spaces may group
  thousands (``1 234,5``). Thousands groups must have exactly three digits.
* Excel's ``#N/A`` is missing; its other errors (``#VALUE!``, ``#REF!``,
  ``#DIV/0!`` ...) are issues. Infinite values are issues.

Speed: a column is parsed with vectorised numpy and Arrow string kernels for
the common cells (numbers, numbers as text, decimal commas, missing markers);
only the rest -- units, feet and inches, typos -- is read one cell at a time.
The per-cell readers are the reference: the fast paths accept a strict
subset of what they accept and produce the same result.  A column of text
(``str`` and None, as files and typing give) never needs pandas; it is
imported only for other cells (numbers, dates, ``pd.NA``), since importing
it costs half a second.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import math
import numbers
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HEIGHT_UNITS",
    "MISSING_TOKENS",
    "ParsedColumn",
    "encode_labels",
    "encode_labels_and_spellings",
    "format_height",
    "format_number",
    "is_height_column",
    "is_missing",
    "label_key",
    "parse_height",
    "parse_height_column",
    "parse_number_column",
    "preferred_spellings",
    "unit_from_name",
]

MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "?", "-", "--", "unknown", "missing", "#n/a"}
)
"""Cell texts (trimmed, casefolded) that mean "no value"."""

HEIGHT_UNITS = ("cm", "in", "m")
"""Units a height column can be kept in."""

# Exact decimal sizes, so that "1.68 m" becomes 168 cm, not 168.00000000000003.
_CM_PER = {
    "mm": decimal.Decimal("0.1"),
    "cm": decimal.Decimal(1),
    "m": decimal.Decimal(100),
    "in": decimal.Decimal("2.54"),
    "ft": decimal.Decimal("30.48"),
}
_MIN_CM, _MAX_CM = 40.0, 260.0
# Slack for values converted from another unit that land on a bound.
_RANGE_SLACK = 1e-9

# ---------------------------------------------------------------------------
# Missing markers and labels
# ---------------------------------------------------------------------------


def _canon(text: str) -> str:
    """Trimmed, casefolded, NFKC-normalised text with single spaces.

    Repeated until stable: NFKC and casefold do not commute for a few
    characters, and :func:`label_key` must be idempotent.
    """
    for _ in range(4):
        out = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
        if out == text:
            break
        text = out
    return out


def is_missing(text: object) -> bool:
    """Whether a cell holds no value.

    Parameters
    ----------
    text : object
        A cell: str, None, float, int, datetime, ...

    Returns
    -------
    bool
        True for None, NaN (float, numpy, ``pd.NA``, ``NaT``) and for text
        whose trimmed, casefolded form is in :data:`MISSING_TOKENS`.
    """
    if text is None:
        return True
    if isinstance(text, str):
        if text.isascii():  # _canon only lowercases and collapses spaces here
            return text.strip().lower() in MISSING_TOKENS
        return _canon(text) in MISSING_TOKENS
    if isinstance(text, (float, np.floating)):
        return bool(np.isnan(text))
    if isinstance(text, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(text))
    if isinstance(text, decimal.Decimal):
        return text.is_nan()
    # pd.NA and pd.NaT can only exist once pandas is imported.
    pd = sys.modules.get("pandas")
    return pd is not None and (text is pd.NA or text is pd.NaT)


_FEMALE = ("f", "female", "females", "woman", "women", "girl", "girls", "w", "frau", "weiblich")
_MALE = ("m", "male", "males", "man", "men", "boy", "boys", "mann", "männlich", "maennlich")
_SYNONYMS = {**dict.fromkeys(_FEMALE, "female"), **dict.fromkeys(_MALE, "male")}


def _cell_text(value: object) -> str:
    """The text a non-missing cell shows (numbers without a trailing ".0")."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format_number(float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def label_key(text: object) -> str | None:
    """Canonical class key of a label cell.

    Parameters
    ----------
    text : object
        A label cell.

    Returns
    -------
    str or None
        ``"female"`` for f/female/woman/girl/w/frau/weiblich (and plurals),
        ``"male"`` for m/male/man/boy/mann/männlich, otherwise the trimmed,
        casefolded text with single spaces (``" Non-Binary "`` ->
        ``"non-binary"``); None when the cell is missing. Numbers use their
        shortest text (``1.0`` -> ``"1"``). ``label_key(label_key(x)) ==
        label_key(x)``.
    """
    if is_missing(text):
        return None
    key = _canon(_cell_text(text))
    if key in MISSING_TOKENS:
        return None
    return _SYNONYMS.get(key, key)


def _class_order(key: str) -> tuple[int, str]:
    return ({"female": 0, "male": 1}.get(key, 2), key)


def _pandas():
    import pandas as pd

    return pd


def _is_text(arr: np.ndarray) -> bool:
    """Whether every item of an object array is a ``str`` or None (one C pass)."""
    return set(map(type, arr)) <= _TEXT_TYPES


_TEXT_TYPES = frozenset({str, type(None)})


_DICT_SAMPLE = 4096
# A column holding at most this many distinct objects (a label column read
# from a file holds one object per distinct spelling) is factorized by
# identity: a few vectorised passes over the pointers, no Python per cell.
_MAX_IDENTITIES = 32  # at most 255: the groups are counted in a uint8


def _addresses(arr: np.ndarray) -> np.ndarray:
    """The object addresses an object array holds, ``(n,)`` intp (a copy).

    numpy will not view an object array as integers, so its buffer is read
    through ctypes; the objects themselves are not touched.

    Kept for issue 14's target "``emgui-cli fill`` at most 0.8x the time of
    the lean polars + numpy script at 1M rows" (``bench_cli.py``; 1.64x
    when this was measured, 0.77x in session 19, where 0.2 s more would
    miss it): with :func:`_is_none` and :func:`_factorize_identity` plain
    (``np.equal(arr, None)``, a dict or Arrow pass) the label helpers of a
    1M-row fill take 0.54 s instead of 0.22 s (medians of 7, AMD EPYC
    family 25, 2 cores shared; ``python benchmarks/bench_label_tricks.py``).
    """
    import ctypes

    if arr.dtype != object:  # the buffer would not hold pointers (nor be 8 bytes a cell)
        raise TypeError(f"expected an object array, got {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    if not len(arr):
        return np.zeros(0, dtype=np.intp)
    raw = (ctypes.c_ssize_t * len(arr)).from_address(arr.ctypes.data)
    return np.frombuffer(raw, dtype=np.intp).copy()  # before ``arr`` can go


def _is_none(arr: np.ndarray) -> np.ndarray:
    """``arr == None`` for an object array, ``(n,)`` bool, ~15x faster than ``np.equal``.

    None is one object, so comparing addresses tells; no item is touched.
    """
    return _addresses(arr) == id(None)


def _factorize_identity(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize`` of an object array of ``str``/None holding few distinct objects.

    The cells are grouped by the object they point to (the array's pointers,
    compared as integers), then groups holding equal strings are merged, so
    the result is the same as factorizing by value: codes ``(n,)`` int64 in
    order of first appearance, -1 for None; uniques ``(u,)`` object.  None
    when the array holds more than ``_MAX_IDENTITIES`` distinct objects or
    an item that is not a ``str`` or None.
    """
    n = len(arr)
    if arr.dtype != object:
        return None
    if not n:
        return np.zeros(0, dtype=np.int64), np.empty(0, dtype=object)
    ptr = _addresses(arr)
    # A set, not np.unique: numpy's plain unique imports numpy.ma (~7 ms of a command-line run).
    if len(set(ptr[:_DICT_SAMPLE].tolist())) > _MAX_IDENTITIES:
        return None  # many objects (names, or cells read one by one): not worth a try
    # group[i]: 1 + the index of the object cell i holds, 0 while unknown.
    # Arithmetic, not masked assignment: about four times faster.
    group = np.zeros(n, dtype=np.uint8)
    firsts: list[int] = []
    first = 0
    while True:
        if len(firsts) == _MAX_IDENTITIES:
            return None
        firsts.append(first)
        same = np.equal(ptr, ptr[first]).view(np.uint8)
        np.add(group, same * np.uint8(len(firsts)), out=group)
        rest = group[first + 1 :] == 0
        step = int(rest.argmax()) if len(rest) else 0
        if not len(rest) or not rest[step]:
            break
        first += 1 + step
    objects = [arr[i] for i in firsts]  # in order of first appearance
    if not set(map(type, objects)) <= _TEXT_TYPES:
        return None
    value_code: dict[str, int] = {}
    merge = np.zeros(len(objects) + 1, dtype=np.int64)
    for g, obj in enumerate(objects, start=1):
        merge[g] = -1 if obj is None else value_code.setdefault(obj, len(value_code))
    uniques = np.empty(len(value_code), dtype=object)
    uniques[:] = list(value_code)
    return merge.take(group), uniques


def _factorize_text(arr: np.ndarray, *, tried: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of an array of ``str``/None, without pandas.

    Same result: codes ``(n,)`` int64 in order of first appearance, -1 for
    None; uniques ``(u,)`` object.  By identity when the array holds few
    objects (unless ``tried`` says that failed already), a dict when it holds
    few values, Arrow's dictionary encoding otherwise.
    """
    fact = None if tried else _factorize_identity(arr)
    if fact is not None:
        return fact
    if len(set(arr[:_DICT_SAMPLE])) <= _DICT_SAMPLE // 8:
        # Few distinct values (a label column): a dict pass is twice as fast.
        index = dict.fromkeys(arr)
        index.pop(None, None)
        lookup = {k: i for i, k in enumerate(index)}
        lookup[None] = -1
        codes = np.fromiter(map(lookup.__getitem__, arr), dtype=np.int64, count=len(arr))
        uniques = np.empty(len(index), dtype=object)
        uniques[:] = list(index)
        return codes, uniques
    from . import _arrowtext as at

    encoded = at.from_cells(arr).dictionary_encode()
    width = encoded.indices.type.bit_width
    codes = at.to_numbers(encoded.indices, f"int{width}", null=-1).astype(np.int64)
    return codes, at.to_cells(encoded.dictionary)


def _factorize(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize`` when it keeps distinct texts apart, else None.

    factorize treats ``1``, ``1.0`` and ``True`` as one value; that is only
    harmless when the column does not mix such types.
    """
    if arr.dtype == object:
        fact = _factorize_identity(arr)
        if fact is not None:
            return fact
        if _is_text(arr):
            return _factorize_text(arr, tried=True)
    pd = _pandas()
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind not in ("string", "empty", "integer", "floating", "mixed-integer-float"):
        return None
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # unhashable cells
        return None
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _keys(arr: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per-row index into a list of keys, computing each distinct key once."""
    fact = _factorize(arr)
    if fact is None:
        keys = np.empty(len(arr), dtype=object)
        keys[:] = [label_key(v) for v in arr]
        codes, uniques = _factorize_text(keys)
        return codes, list(uniques)
    codes, uniques = fact
    return codes, [label_key(u) for u in uniques]


def encode_labels(raw: Sequence) -> tuple[np.ndarray, list[str]]:
    """Integer class codes for a label column.

    Parameters
    ----------
    raw : sequence, length n
        Label cells.

    Returns
    -------
    codes : ndarray of int64, shape (n,)
        Index into ``classes``; -1 where the cell is missing.
    classes : list of str
        The distinct :func:`label_key` keys, ``"female"`` first, ``"male"``
        second, then the others sorted alphabetically (by code point).
    """
    arr = _object_array(raw)
    codes, keys = _keys(arr)
    classes, lut = _classes_of(keys)
    return lut[codes], classes  # code -1 picks the trailing -1


def _classes_of(keys: list[str | None]) -> tuple[list[str], np.ndarray]:
    """The classes of distinct label keys in :func:`encode_labels`' order, and each key's
    class index (-1 for None) with a trailing -1, so ``lut[codes]`` maps code -1 to -1."""
    classes = sorted({k for k in keys if k is not None}, key=_class_order)
    index = {k: i for i, k in enumerate(classes)}
    lut = np.array([-1 if k is None else index[k] for k in keys] + [-1], dtype=np.int64)
    return classes, lut


def _most_used(tally: dict[int, dict[str, list[int]]], classes: list[str]) -> dict[str, str]:
    """Each class's spelling from ``{class: {spelling: [count, first seen]}}``:
    the most used, ties to the first seen; the class key itself when it has none."""
    out = {c: c for c in classes}
    for c, options in tally.items():
        out[classes[c]] = min(options.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]
    return out


def encode_labels_and_spellings(raw: Sequence) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """:func:`encode_labels` and :func:`preferred_spellings` of a label column, factorized once.

    The same three results as ``codes, classes = encode_labels(raw)`` then
    ``preferred_spellings(raw, codes, classes)``; a column of a few distinct
    texts (the usual label column) is grouped only once, and its spellings
    are tallied over its distinct values instead of over its rows.
    """
    arr = _object_array(raw)
    fact = _factorize(arr)
    if fact is None:  # mixed cells: keys and spellings each take their own pass
        codes, classes = encode_labels(arr)
        return codes, classes, preferred_spellings(arr, codes, classes)
    value_codes, uniques = fact
    keys = [label_key(u) for u in uniques]
    classes, lut = _classes_of(keys)
    codes = lut[value_codes]  # value code -1 picks the trailing -1
    # Uniques come in order of first appearance, so a lower index is an
    # earlier first row: the tie-break of :func:`preferred_spellings`.
    counts = np.bincount(value_codes + 1, minlength=len(uniques) + 1)[1:]
    tally: dict[int, dict[str, list[int]]] = {}
    for u, (value, key) in enumerate(zip(uniques, keys, strict=True)):
        spelt = None if key is None else _spelling(value)
        if spelt is None or not counts[u]:
            continue
        entry = tally.setdefault(int(lut[u]), {}).setdefault(spelt, [0, u])
        entry[0] += int(counts[u])
    return codes, classes, _most_used(tally, classes)


def preferred_spellings(raw: Sequence, codes: np.ndarray, classes: list[str]) -> dict[str, str]:
    """The spelling a column uses most for each class.

    Parameters
    ----------
    raw : sequence, length n
        Label cells as typed.
    codes : ndarray of int, shape (n,)
        Class index per row (-1 for none), e.g. from :func:`encode_labels`.
    classes : list of str
        Class keys.

    Returns
    -------
    dict of str to str
        For each class key, the trimmed text of the non-missing cells coded as
        that class that occurs most often (ties: the first seen); the key
        itself when no such cell exists.
    """
    arr = _object_array(raw)
    codes = np.asarray(codes, dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)
    if not len(rows):
        return {c: c for c in classes}
    fact = _factorize(arr[rows])
    if fact is None:
        spelt = np.empty(len(rows), dtype=object)
        spelt[:] = [_spelling(v) for v in arr[rows]]
        fcodes, uniques = _factorize_text(spelt)
    else:
        fcodes, uniques = fact
    spelling = [_spelling(u) for u in uniques]
    ok = (fcodes >= 0) & (codes[rows] < len(classes))
    rows, fcodes = rows[ok], fcodes[ok]
    # One pass over (distinct raw value, class) pairs; ``first`` keeps row order.
    pair = fcodes * len(classes) + codes[rows]
    uniq, first, counts = _tally(pair, len(uniques) * len(classes))
    tally: dict[int, dict[str, list[int]]] = {}
    for p, f, n in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True):
        u, c = divmod(p, len(classes))
        s = spelling[u]
        if s is None:
            continue
        entry = tally.setdefault(c, {}).setdefault(s, [0, f])
        entry[0] += n
        entry[1] = min(entry[1], f)
    return _most_used(tally, classes)


def _tally(values: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(values, return_index=True, return_counts=True)`` for ints in ``[0, bound)``.

    Counting into ``bound`` bins and finding each present value's first
    position with one pass per value beats sorting when ``bound`` is small
    (a label column's spellings times its classes).
    """
    if bound > _MAX_IDENTITIES * 4:
        return np.unique(values, return_index=True, return_counts=True)
    counts = np.bincount(values, minlength=bound)
    uniq = np.flatnonzero(counts)
    first = np.array([int(np.argmax(values == v)) for v in uniq], dtype=np.intp)
    return uniq, first, counts[uniq]


def _spelling(value: object) -> str | None:
    if is_missing(value):
        return None
    return _cell_text(value).strip()


# ---------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------

_HEIGHT_SUBSTRINGS = ("height", "stature", "körpergr", "koerpergr", "身長", "身高")
_HEIGHT_WORDS = frozenset(
    {
        "tall", "grösse", "groesse", "taille", "altura", "altezza", "lengte", "längd",
        "lengde", "højde", "pituus", "wzrost", "estatura", "statura", "рост", "ht", "키",
    }
)  # fmt: skip
_UNIT_WORDS = {
    "cm": "cm", "cms": "cm", "centimeter": "cm", "centimeters": "cm", "centimetre": "cm",
    "centimetres": "cm", "zentimeter": "cm",
    "in": "in", "inch": "in", "inches": "in", "ins": "in",
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
}  # fmt: skip


def _name_words(name: str) -> list[str]:
    # Split camelCase before casefolding so "heightCm" reads as "height cm".
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name))
    return re.findall(r"[^\W\d_]+", _canon(name))


def is_height_column(name: str) -> bool:
    """Whether a column name says it holds heights.

    Parameters
    ----------
    name : str
        Column header, e.g. ``"Height (cm)"``, ``"Größe"``, ``"stature_in"``.

    Returns
    -------
    bool
        True for names containing height/stature (any case, any decoration)
        or the words tall, Größe/Groesse, taille, altura, altezza, lengte and
        a few other languages' words for a person's height.
    """
    if not name:
        return False
    folded = _canon(str(name))
    if any(s in folded for s in _HEIGHT_SUBSTRINGS):
        return True
    return any(w in _HEIGHT_WORDS for w in _name_words(name))


def unit_from_name(name: str) -> str | None:
    """The height unit a column name declares.

    Parameters
    ----------
    name : str
        Column header.

    Returns
    -------
    str or None
        ``"cm"``, ``"in"`` or ``"m"``: the unit in brackets if any
        (``"height [m]"``), otherwise the last unit word (``"height_in"``,
        ``"Height in inches"``); None when the name gives no unit.
    """
    if not name:
        return None
    bracketed = re.findall(r"[(\[{]\s*([^\W\d_]+)\.?\s*[)\]}]", _canon(str(name)))
    for word in reversed(bracketed):
        if word in _UNIT_WORDS:
            return _UNIT_WORDS[word]
    words = _name_words(name)
    # The first word names the column ("m" alone is not a height in metres).
    for word in reversed(words[1:]):
        if word in _UNIT_WORDS:
            return _UNIT_WORDS[word]
    return None


# ---------------------------------------------------------------------------
# Numbers as text
# ---------------------------------------------------------------------------

_WS = " \t\n\r\f\v"
# Fast paths: ASCII only, so that they accept a strict subset of the readers below.
_FAST_NUM = r"[ \t\n\r\f\v]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r\f\v]*"
_FAST_COMMA = r"[ \t\n\r\f\v]*[+-]?(?:[0-9]+,[0-9]*|,[0-9]+)[ \t\n\r\f\v]*"
_FAST_THOUSANDS_LIKE = r"[ \t\n\r\f\v]*[+-]?[1-9][0-9]{0,2},[0-9]{3}[ \t\n\r\f\v]*"
_FAST_THOUSANDS = r"[ \t\n\r\f\v]*[+-]?[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]*)?[ \t\n\r\f\v]*"

_HEIGHT_NUMBER = re.compile(r"([+-]?)((?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?)")
_NUMBER = re.compile(r"([+-]?)([0-9., ]*)((?:[eE][+-]?[0-9]+)?)")
_THOUSANDS_LIKE = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")
_EXCEL_ERROR = re.compile(r"#[a-z0-9/_]+[!?]|#n/a", re.IGNORECASE)
_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})


def _norm_number_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_MINUS).strip()


def _read_height_number(text: str) -> float | None:
    """A unitless number in a height cell (one ``.`` or ``,`` as the decimal point)."""
    t = _norm_number_text(text)
    m = _HEIGHT_NUMBER.fullmatch(t)
    if m is None:
        return None
    return float(m.group(1) + m.group(2).replace(",", "."))


def _read_number(text: str) -> float | None:
    """A plain number with decimal commas or thousands separators (module rules)."""
    m = _NUMBER.fullmatch(_norm_number_text(text))
    if m is None:
        return None
    sign, body, exp = m.groups()
    if not any(ch.isdigit() for ch in body) or body != body.strip():
        return None
    nd, nc = body.count("."), body.count(",")
    if " " in body:
        thou = " "
        if nd + nc > 1:
            return None
        dec = "." if nd else "," if nc else None
    elif nd and nc:
        dec = "." if body.rfind(".") > body.rfind(",") else ","
        thou = "," if dec == "." else "."
        if body.count(dec) > 1:
            return None
    elif nc:
        if nc > 1 or _THOUSANDS_LIKE.fullmatch(body):
            thou, dec = ",", None
        else:
            thou, dec = None, ","
    elif nd > 1:
        thou, dec = ".", None
    else:
        thou, dec = None, "." if nd else None
    ip, fp = body.rsplit(dec, 1) if dec else (body, "")
    if not fp.isdigit() and fp:
        return None
    if thou is not None:
        groups = ip.split(thou)
        if (
            len(groups) < 2
            or not re.fullmatch(r"[1-9][0-9]{0,2}", groups[0])
            or not all(re.fullmatch(r"[0-9]{3}", g) for g in groups[1:])
        ):
            return None
        ip = "".join(groups)
    elif ip and not ip.isdigit():
        return None
    if not ip and not fp:
        return None
    return float(f"{sign}{ip or '0'}.{fp or '0'}{exp}")


def format_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value``.

    Parameters
    ----------
    value : float

    Returns
    -------
    str
        ``"170"``, ``"170.5"``, ``"1e-07"``; ``""`` for NaN; ``"inf"`` and
        ``"-inf"`` for infinities.
    """
    value = float(value)
    if math.isnan(value):
        return ""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _date_text(cell: object) -> str:
    if isinstance(cell, np.datetime64):
        return str(cell)
    if isinstance(cell, _dt.datetime) and cell.time() == _dt.time() and cell.tzinfo is None:
        return cell.date().isoformat()
    return cell.isoformat(sep=" ") if isinstance(cell, _dt.datetime) else cell.isoformat()


def _quote(text: str) -> str:
    text = text.strip()
    if len(text) > 60:
        text = text[:57] + "…"
    return f"'{text}'"


# ---------------------------------------------------------------------------
# Heights
# ---------------------------------------------------------------------------

_QUOTES = str.maketrans(
    {
        "\u2019": "'", "\u2018": "'", "\u2032": "'", "`": "'", "\u00b4": "'", "\u201b": "'",
        "\u201d": '"', "\u201c": '"', "\u2033": '"', "\u201f": '"',
        "\u2212": "-", "\u2013": "-", "\u2012": "-",
    }
)  # fmt: skip
_VULGAR = str.maketrans(
    {"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅛": " 1/8", "⅜": " 3/8", "⅝": " 5/8", "⅞": " 7/8"}
)
_N = r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)"
_FRAC = r"(?:[ -]?(?P<fn>[0-9]+)/(?P<fd>[0-9]+))?"
_FT = r"(?:'|ft\.?|feet|foot)"
_IN = r'(?:"|in\.?|inch(?:es)?|ins)'
_FEET_INCHES = re.compile(
    rf"(?P<ft>{_N}) ?{_FT} ?(?:(?:,|and|-) ?)?(?:(?P<inch>{_N}){_FRAC} ?{_IN}?)?"
)
_INCHES = re.compile(rf"(?P<inch>{_N}){_FRAC} ?{_IN}")
_METRIC = re.compile(
    rf"(?P<num>{_N}) ?(?P<unit>mm|millimet(?:er|re)s?|cms?|centimet(?:er|re)s?|m|met(?:er|re)s?)"
)
_M_CM = re.compile(r"(?P<m>[0-9]+) ?m ?(?P<cm>[0-9]{2})(?: ?cm)?")


def _dec(number: str) -> decimal.Decimal:
    return decimal.Decimal(number.replace(",", "."))


def _to_unit(amount: decimal.Decimal, src: str, unit: str) -> float:
    if src == unit:
        return float(amount)
    return float(amount * _CM_PER[src] / _CM_PER[unit])


def _norm_height_text(text: str) -> str:
    t = unicodedata.normalize("NFKC", text.translate(_VULGAR)).casefold().translate(_QUOTES)
    t = t.replace("''", '"').replace("\u2044", "/")
    return " ".join(t.split())


def _read_height_with_unit(text: str, unit: str) -> tuple[float, bool] | None:
    """Value in ``unit`` of a height written with a unit, and whether it is negative.

    Returns None when the text is not in any known height format.
    """
    t = _norm_height_text(text)
    m = _FEET_INCHES.fullmatch(t)
    if m is not None:
        feet = _dec(m["ft"])
        inches = decimal.Decimal(0)
        if m["inch"] is not None:
            inches = _dec(m["inch"])
            if m["fd"] is not None:
                if int(m["fd"]) == 0:
                    return None
                inches += decimal.Decimal(int(m["fn"])) / decimal.Decimal(int(m["fd"]))
            # "5'9" means whole feet plus inches below a foot; "5.5'9" or "5'13" are typos.
            if inches.is_signed() or inches >= 12 or feet != feet.to_integral_value():
                return None
        total = feet * 12 + (-inches if feet.is_signed() else inches)
        return _to_unit(total, "in", unit), feet.is_signed()
    m = _INCHES.fullmatch(t)
    if m is not None:
        inches = _dec(m["inch"])
        if m["fd"] is not None:
            if int(m["fd"]) == 0:
                return None
            frac = decimal.Decimal(int(m["fn"])) / decimal.Decimal(int(m["fd"]))
            inches += -frac if inches.is_signed() else frac
        return _to_unit(inches, "in", unit), inches.is_signed()
    m = _METRIC.fullmatch(t)
    if m is not None:
        word = m["unit"]
        src = "mm" if word[:2] in ("mm", "mi") else "cm" if word[0] == "c" else "m"
        num = m["num"]
        if src == "mm" and re.fullmatch(r"[+-]?[0-9]{1,2}[.,][0-9]{3}", num):
            num = num.replace(",", "").replace(".", "")  # thousands: "1,750 mm"
        amount = _dec(num)
        return _to_unit(amount, src, unit), amount.is_signed()
    m = _M_CM.fullmatch(t)
    if m is not None:
        amount = decimal.Decimal(int(m["m"])) + decimal.Decimal(int(m["cm"])) / 100
        return _to_unit(amount, "m", unit), False
    return None


def _range_text(unit: str) -> str:
    lo, hi = _bounds(unit)
    digits = 1 if unit == "in" else 2
    return f"{format_number(round(lo, digits))}–{format_number(round(hi, digits))} {unit}"


def _bounds(unit: str) -> tuple[float, float]:
    factor = float(_CM_PER[unit])
    return _MIN_CM / factor, _MAX_CM / factor


def _plausible(value: float, unit: str) -> bool:
    lo, hi = _bounds(unit)
    return lo * (1 - _RANGE_SLACK) <= value <= hi * (1 + _RANGE_SLACK)


def _hint(value: float, text: str, unit: str) -> str:
    """The "; did you mean ..." tail for a unitless number that fits another unit."""
    for other in ("m", "cm", "mm", "in"):
        if other != unit and _plausible(value * float(_CM_PER[other]), "cm"):
            return f"; did you mean {format_number(value)} {other}?"
    m = re.fullmatch(r"([3-8])[.,]([0-9]{1,2})", _norm_number_text(text))
    if m is not None and int(m[2]) < 12:
        return f"; did you mean {m[1]}'{int(m[2])}\"?"
    if _plausible(value * float(_CM_PER["ft"]), "cm"):
        return f"; did you mean {format_number(value)} ft?"
    return ""


def _check_height(
    value: float, negative: bool, text: str, unit: str, unitless: bool
) -> tuple[float, str | None]:
    """(value, None) when plausible, else (NaN, reason)."""
    shown = text.strip()
    if not math.isfinite(value):
        return math.nan, f"not a height: {_quote(shown)}"
    if negative or value < 0:
        return math.nan, f"a height cannot be negative: {_quote(shown)}"
    if _plausible(value, unit):
        return value, None
    if unitless and unit != "m" and _plausible(value, "m"):
        # Nobody is 1.75 cm or 1.75 in tall: a unitless number that is only
        # plausible in metres was typed in metres ("1,65" in a cm column).
        return float(_to_unit(_dec(_norm_number_text(format_number(value))), "m", unit)), None
    reading = f"{format_number(value)} {unit}"
    prefix = "" if shown == format_number(value) else f"{_quote(shown)} = "
    hint = _hint(value, shown, unit) if unitless else ""
    return math.nan, (
        f"{prefix}{reading} is outside the plausible height range ({_range_text(unit)}){hint}"
    )


def _typed_cell_issue(cell: object, what: str) -> str | None:
    """The issue of a boolean, date or time cell in a column of ``what``s; None for others."""
    if isinstance(cell, (bool, np.bool_)):
        return f"not a {what}: {_quote(str(bool(cell)))}"
    if isinstance(cell, (_dt.date, np.datetime64)):
        return f"a date, not a {what}: {_quote(_date_text(cell))}"
    if isinstance(cell, _dt.time):
        return f"a time of day, not a {what}: {_quote(cell.isoformat())}"
    return None


def _real_value(cell: object) -> float | None:
    """A number cell (from XLSX, or a numeric array) as float, inf if too large; None for text."""
    if isinstance(cell, (numbers.Real, decimal.Decimal)) and not isinstance(cell, str):
        try:
            return float(cell)
        except (OverflowError, ValueError):
            return math.inf
    return None


def _height_cell(cell: object, unit: str) -> tuple[float, str | None, bool]:
    """Reference reader of one height cell: (value in unit, issue, missing)."""
    if is_missing(cell):
        return math.nan, None, True
    issue = _typed_cell_issue(cell, "height")
    if issue is not None:
        return math.nan, issue, False
    value = _real_value(cell)
    if value is not None:
        value, issue = _check_height(value, False, _cell_text(cell), unit, True)
        return value, issue, False
    text = cell if isinstance(cell, str) else str(cell)
    shown = text.strip()
    if _EXCEL_ERROR.fullmatch(shown):
        return math.nan, f"a spreadsheet error, not a height: {_quote(shown)}", False
    plain = _read_height_number(text)
    if plain is not None:
        value, issue = _check_height(plain, False, text, unit, True)
        return value, issue, False
    try:
        read = _read_height_with_unit(text, unit)
    except (decimal.InvalidOperation, OverflowError, ValueError):
        read = None
    if read is None:
        return math.nan, f"not a height: {_quote(shown)}", False
    value, issue = _check_height(read[0], read[1], text, unit, False)
    return value, issue, False


def _check_unit(unit: str) -> None:
    if unit not in HEIGHT_UNITS:
        raise ValueError(f"unknown height unit {unit!r}; use one of {', '.join(HEIGHT_UNITS)}")


def parse_height(text: str, unit: str) -> float:
    """Read one height cell.

    Parameters
    ----------
    text : str
        The cell (numbers, None and datetimes are accepted too).
    unit : {"cm", "in", "m"}
        The column's unit: unitless numbers are in it, and the result is.

    Returns
    -------
    float
        The height in ``unit``; NaN when the cell is missing (blank, ``N/A``...).

    Raises
    ------
    ValueError
        With a short reason quoting the text, when the cell cannot be read as
        a plausible height (or ``unit`` is unknown).
    """
    _check_unit(unit)
    value, issue, _ = _height_cell(text, unit)
    if issue is not None:
        raise ValueError(issue)
    return value


_STYLES = ("plain", "cm", "m", "m_comma", "mm", "in", "inches", "in_mark", "ft_in", "ft_in_space",
           "ft_in_words", "ft_in_long", "ft_in_typographic", "ft_in_doubled")  # fmt: skip


def format_height(value: float, unit: str, style: str) -> str:
    """Write a height the way people type it (the inverse of :func:`parse_height`).

    Parameters
    ----------
    value : float
        Height in ``unit``.
    unit : {"cm", "in", "m"}
    style : str
        ``"plain"`` (number in ``unit``), ``"cm"`` (175.5 cm), ``"m"`` (1.755 m),
        ``"m_comma"`` (1,755 m), ``"mm"``, ``"in"`` (69 in), ``"inches"``
        (69 inches), ``"in_mark"`` (69"), ``"ft_in"`` (5'9"), ``"ft_in_space"``
        (5' 9"), ``"ft_in_words"`` (5 ft 9 in), ``"ft_in_long"`` (5 feet 9
        inches), ``"ft_in_typographic"`` (5′9″), ``"ft_in_doubled"`` (5'9'').

    Returns
    -------
    str
    """
    _check_unit(unit)
    if style == "plain":
        return format_number(value)
    amount = decimal.Decimal(repr(float(value)))

    def conv(dst: str) -> str:
        return format_number(_to_unit(amount, unit, dst))

    if style in ("cm", "m", "mm", "in"):
        return f"{conv(style)} {style}"
    if style == "m_comma":
        return f"{conv('m').replace('.', ',')} m"
    if style == "inches":
        return f"{conv('in')} inches"
    if style == "in_mark":
        return f'{conv("in")}"'
    if style.startswith("ft_in"):
        total = _to_unit(amount, unit, "in")
        inches = math.fmod(total, 12.0)  # exact, so feet*12 + inches == total
        feet = format_number(round((total - inches) / 12))
        inch = format_number(inches)
        forms = {
            "ft_in": f"{feet}'{inch}\"",
            "ft_in_space": f"{feet}' {inch}\"",
            "ft_in_words": f"{feet} ft {inch} in",
            "ft_in_long": f"{feet} feet {inch} inches",
            "ft_in_typographic": f"{feet}\u2032{inch}\u2033",
            "ft_in_doubled": f"{feet}'{inch}''",
        }
        if style in forms:
            return forms[style]
    raise ValueError(f"unknown height style {style!r}; use one of {', '.join(_STYLES)}")


# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedColumn:
    """A column of cells read as numbers.

    Attributes
    ----------
    values : ndarray of float64, shape (n,)
        The value in ``unit``; NaN where missing or unreadable.
    found : dict
        Row -> reason, for the cells with an issue only (see ``issues``).
    missing : ndarray of bool, shape (n,)
        The cell is blank or a missing marker (not an issue).
    unit : str or None
        ``"cm"``, ``"in"`` or ``"m"`` for height columns, None for plain numbers.
    plain : ndarray of float64, shape (n,), or None
        Height columns only: each cell read as a plain number, exactly as
        :func:`parse_number_column` reads it (NaN where it is not one), so a
        writer can tell which cells a unit conversion changed.  None for a
        plain-number column, whose ``values`` are that already.
    """

    values: np.ndarray
    found: dict[int, str]
    missing: np.ndarray
    unit: str | None
    plain: np.ndarray | None = None

    @functools.cached_property
    def issues(self) -> np.ndarray:
        """``(n,)`` object: None, or a short reason (quoting the text) for a
        cell that has text but could not be read as a plausible value."""
        out = np.full(len(self.values), None, dtype=object)
        if self.found:
            out[np.fromiter(self.found, dtype=np.intp, count=len(self.found))] = list(self.found.values())
        return out

    def issues_if_any(self) -> np.ndarray | None:
        """``issues``, or None when no cell has one: five million readable
        cells need no array of None (40 MB, made with the interpreter lock
        held ~90 ms while a window reads in the background)."""
        return self.issues if self.found else None


def _object_array(raw: Sequence) -> np.ndarray:
    """``raw`` as a 1-d array: float64 when numeric, else object."""
    pd = sys.modules.get("pandas")  # a pandas object exists only if pandas is imported
    if pd is not None and isinstance(raw, (pd.Series, pd.Index)):
        if raw.dtype.kind in "fiu" and isinstance(raw.dtype, np.dtype):
            return raw.to_numpy(dtype=np.float64)
        return raw.to_numpy(dtype=object, na_value=None)
    if pd is not None and isinstance(raw, pd.api.extensions.ExtensionArray):
        return raw.to_numpy(dtype=object, na_value=None)
    if isinstance(raw, np.ndarray):
        if raw.ndim != 1:
            raise ValueError(f"expected a 1-d column, got shape {raw.shape}")
        if raw.dtype.kind in "fiu":
            return raw.astype(np.float64, copy=False)
        if raw.dtype.kind in "mM":  # astype(object) would give integer nanoseconds
            return _pandas().Series(raw).to_numpy(dtype=object, na_value=None)
        return raw if raw.dtype == object else raw.astype(object)
    if not isinstance(raw, Sequence):
        raw = list(raw)
    return np.fromiter(raw, dtype=object, count=len(raw))


def _kind(cell: object) -> int:
    if isinstance(cell, str):
        return 0
    if isinstance(cell, numbers.Real) and not isinstance(cell, (bool, np.bool_)):
        return 1
    return 2


_STRING, _NUMERIC, _OTHER = 0, 1, 2
_TYPE_KIND = {
    str: _STRING,
    float: _NUMERIC,
    int: _NUMERIC,
    np.float64: _NUMERIC,
    np.int64: _NUMERIC,
}


def _classify(arr: np.ndarray, na: np.ndarray) -> np.ndarray:
    """Per-cell kind, ``(n,)`` int8: 0 text, 1 number, 2 other (dates, bools...)."""
    kind = _pandas().api.types.infer_dtype(arr, skipna=True)
    if kind in ("string", "empty"):
        return np.zeros(len(arr), dtype=np.int8)
    if kind in ("floating", "integer", "mixed-integer-float"):
        return np.ones(len(arr), dtype=np.int8)
    # Mixed cells (as from XLSX): exact-type tests in C for the usual types,
    # isinstance only for the rest.
    types = np.frompyfunc(type, 1, 1)(arr)
    out = np.frompyfunc(_TYPE_KIND.get, 2, 1)(types, _OTHER).astype(np.int8)
    idx = np.flatnonzero((out == _OTHER) & ~na)
    if len(idx):
        out[idx] = np.frompyfunc(_kind, 1, 1)(arr[idx]).astype(np.int8)
    return out


def _fullmatch(texts, pattern: str) -> np.ndarray:
    """``(n,)`` bool: which of the Arrow strings ``texts`` match ``pattern`` entirely.

    The patterns are ASCII classes and repeats, which RE2 (Arrow's regex
    engine) and Python's ``re`` read alike.
    """
    import pyarrow.compute as pc

    from . import _arrowtext as at

    return at.to_bools(pc.match_substring_regex(texts, f"^(?:{pattern})$"))


def _to_float(texts) -> np.ndarray:
    """Floats of Arrow strings already matched by a fast pattern, ``(len(texts),)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _arrowtext as at

    # Arrow's parser rounds correctly, like float(), and is several times
    # faster.  It takes no surrounding blanks, so text without any is cast
    # as it is (the usual case: no trimmed copy of a whole column).
    try:
        floats = pc.cast(texts, pa.float64())
    except pa.ArrowInvalid:
        floats = pc.cast(pc.utf8_trim(texts, characters=_WS), pa.float64())
    return at.to_numbers(floats, np.float64)


class _Stage:
    """What the vectorised pass learnt about a column.

    ``plain`` holds unitless numbers (NaN elsewhere), ``missing`` blank
    cells, and ``slow`` the cells left for the per-cell reader.  ``fast``
    marks the numbers read the same way by every reader (finite numbers,
    and text matching ``_FAST_NUM``).
    """

    def __init__(self, n: int, plain: np.ndarray | None = None) -> None:
        self.plain = np.full(n, np.nan) if plain is None else plain
        self.missing = np.zeros(n, dtype=bool)
        self.slow = np.zeros(n, dtype=bool)
        self.fast = np.zeros(n, dtype=bool) if plain is None else np.ones(n, dtype=bool)


def _vector_pass(arr: np.ndarray, numbers_column: bool) -> _Stage:
    n = len(arr)
    st = _Stage(n)
    if not n:
        return st  # an empty sheet need not load Arrow (~50 MB)
    if arr.dtype != object:
        st.missing = np.isnan(arr)
        finite = np.isfinite(arr)
        st.plain[finite] = arr[finite]
        st.fast = finite
        st.slow = ~finite & ~st.missing
        return st
    from . import _arrowtext as at

    # Files and typing give only str and None: taken as such (no pandas), and
    # the conversion to Arrow, which refuses anything else, checks it.
    na = _is_none(arr)
    idx = np.flatnonzero(~na) if na.any() else np.arange(n)
    try:
        texts = at.from_cells(arr[idx])
    except TypeError:
        texts = None
        na = np.asarray(_pandas().isna(arr), dtype=bool)
        kinds = _classify(arr, na)
    else:
        kinds = np.zeros(n, dtype=np.int8)
    st.missing |= na
    kinds[na] = -1

    num_idx = np.flatnonzero(kinds == _NUMERIC)
    if len(num_idx):
        try:
            vals = arr[num_idx].astype(np.float64)
        except (OverflowError, TypeError, ValueError):
            vals = np.full(len(num_idx), np.inf)  # the per-cell reader explains
        ok = np.isfinite(vals)
        st.plain[num_idx[ok]] = vals[ok]
        st.fast[num_idx[ok]] = True
        st.slow[num_idx[~ok]] = True
    st.slow[kinds == _OTHER] = True

    if texts is None:
        idx = np.flatnonzero(kinds == _STRING)
        texts = at.from_cells(arr[idx])
    return _text_stage(st, idx, texts, numbers_column)


def _vector_pass_arrow(column, numbers_column: bool) -> _Stage:
    """:func:`_vector_pass` of an Arrow string array (null = blank): no Python str per cell."""
    from . import _arrowtext as at

    n = len(column)
    if not n:
        return _Stage(n)
    na = at._valid(at._plain(column))
    if na is None:
        # No blank: a column of nothing but plain numbers (the usual case)
        # is read at once, without an index or a NaN array per row first.
        vals = _all_plain_numbers(column)
        if vals is not None:
            return _Stage(n, plain=vals)
        return _text_stage(_Stage(n), np.arange(n), column, numbers_column, plain_tried=True)
    st = _Stage(n)
    na = ~na
    st.missing |= na
    keep = ~na
    return _text_stage(st, np.flatnonzero(keep), column.filter(at.from_bools(keep)), numbers_column)


def _text_stage(st: _Stage, idx: np.ndarray, texts, numbers_column: bool, *, plain_tried: bool = False) -> _Stage:
    """The vectorised readers over the text cells ``texts`` (Arrow) at rows ``idx``.

    ``plain_tried``: the caller found already that not all of them are plain numbers.
    """
    from . import _arrowtext as at

    if not len(idx):
        return st
    import pyarrow.compute as pc

    # A column of nothing but plain numbers (the usual case) needs no regex:
    # Arrow's float parser accepts, among finite numbers, only what
    # _FAST_NUM matches (tests/core/test_fast_paths.py holds it to that).
    vals = None if plain_tried else _all_plain_numbers(texts)
    if vals is not None:
        if len(idx) == len(st.plain):  # every row (idx is 0..n-1): the floats as they are, no copy
            st.plain = vals
        else:
            st.plain[idx] = vals
        st.fast[idx] = True
        return st
    # Each fast reader takes what it can; the remaining cells shrink as they go.
    for pattern, prep in _fast_readers(numbers_column):
        hit = _fullmatch(texts, pattern)
        if numbers_column and pattern is _FAST_COMMA:
            hit &= ~_fullmatch(texts, _FAST_THOUSANDS_LIKE)
        if hit.any():
            vals = _to_float(prep(texts.filter(at.from_bools(hit))))
            finite = np.isfinite(vals)  # "1e999" overflows: the per-cell reader explains
            st.plain[idx[hit][finite]] = vals[finite]
            if pattern is _FAST_NUM:
                st.fast[idx[hit][finite]] = True
            st.slow[idx[hit][~finite]] = True
            idx, texts = idx[~hit], texts.filter(at.from_bools(~hit))
        if not len(idx):
            return st
    folded = pc.utf8_lower(pc.utf8_trim(texts, characters=_WS))
    tokens = np.array(sorted(MISSING_TOKENS), dtype=object)
    blank = at.to_bools(pc.is_in(folded, value_set=at.from_cells(tokens)))
    st.missing[idx[blank]] = True
    st.slow[idx[~blank]] = True
    return st


def _all_plain_numbers(texts) -> np.ndarray | None:
    """The floats of Arrow strings that are all finite plain numbers, else None."""
    import pyarrow as pa

    try:
        vals = _to_float(texts)
    except pa.ArrowInvalid:
        return None
    return vals if np.isfinite(vals).all() else None


def _fast_readers(numbers_column: bool):
    """(pattern, text preparation) pairs tried in order by the vectorised pass."""
    import pyarrow.compute as pc

    yield _FAST_NUM, lambda t: t
    yield _FAST_COMMA, lambda t: pc.replace_substring(t, ",", ".")
    if numbers_column:
        yield _FAST_THOUSANDS, lambda t: pc.replace_substring(t, ",", "")


def _detect_unit(plain: np.ndarray) -> str:
    positive = plain[plain > 0]
    if not len(positive):
        return "cm"
    # np.median's own value, without its first call importing numpy.ma (~20 ms).
    half = len(positive) // 2
    part = np.partition(positive, [half - 1, half] if len(positive) % 2 == 0 else [half])
    median = float(part[half]) if len(positive) % 2 else float((part[half - 1] + part[half]) / 2)
    return "m" if median < 3 else "in" if median < 100 else "cm"


def parse_height_column(raw: Sequence, unit: str | None = None) -> ParsedColumn:
    """Read a column of heights.

    Parameters
    ----------
    raw : sequence, length n
        Cells: str, None, NaN, numbers, datetimes (a date is an issue); or an
        Arrow string array (null = blank), read without a ``str`` per cell.
    unit : {"cm", "in", "m"} or None
        The column's unit. None detects it from the median of the positive
        unitless numbers: below 3 -> ``"m"``, below 100 -> ``"in"``, otherwise
        (or when there are none) ``"cm"``.

    Returns
    -------
    ParsedColumn
        Values in ``unit``; cells with an explicit unit are converted, and
        values outside 40-260 cm (in ``unit``) or negative are issues.
    """
    if unit is not None:
        _check_unit(unit)
    st, cells, n = _first_pass(raw, numbers_column=False)
    slow_idx = np.flatnonzero(st.slow)
    if unit is None:
        plain = st.plain.copy()
        for i, cell in zip(slow_idx, cells(slow_idx), strict=True):
            if isinstance(cell, str):
                v = _read_height_number(cell)
                if v is not None and math.isfinite(v):
                    plain[i] = v
        unit = _detect_unit(plain)
    lo, hi = _bounds(unit)
    good = (st.plain >= lo * (1 - _RANGE_SLACK)) & (st.plain <= hi * (1 + _RANGE_SLACK))
    values = np.where(good, st.plain, np.nan)  # no temporary copy of the good values
    found: dict[int, str] = {}
    missing = st.missing
    redo = np.flatnonzero(st.slow | (~np.isnan(st.plain) & ~good))
    for i, cell in zip(redo.tolist(), cells(redo), strict=True):
        values[i], issue, missing[i] = _height_cell(cell, unit)
        if issue is not None:
            found[i] = issue
    # Cells read as plain numbers already read the same in a number column;
    # only the rest (units, commas, blanks: few, typically) are read again.
    # Every cell a plain number (the usual case): st.plain itself, no copy.
    plain = st.plain if st.fast.all() else np.where(st.fast, st.plain, np.nan)
    rest = np.flatnonzero(~st.fast)
    if len(rest):
        plain[rest] = parse_number_column(cells(rest)).values
    return ParsedColumn(values, found, missing, unit, plain)


def _number_cell(cell: object) -> tuple[float, str | None, bool]:
    """Reference reader of one plain-number cell: (value, issue, missing)."""
    if is_missing(cell):
        return math.nan, None, True
    issue = _typed_cell_issue(cell, "number")
    if issue is not None:
        return math.nan, issue, False
    value = _real_value(cell)
    if value is not None:
        if math.isfinite(value):
            return value, None, False
        return math.nan, f"not a finite number: {_quote(_cell_text(cell))}", False
    text = cell if isinstance(cell, str) else str(cell)
    shown = text.strip()
    if _EXCEL_ERROR.fullmatch(shown):
        return math.nan, f"a spreadsheet error, not a number: {_quote(shown)}", False
    value = _read_number(text)
    if value is None:
        return math.nan, f"not a number: {_quote(shown)}", False
    if not math.isfinite(value):
        return math.nan, f"not a finite number: {_quote(shown)}", False
    return value, None, False


def parse_number_column(raw: Sequence) -> ParsedColumn:
    """Read a column of plain numbers (any feature that is not a height).

    Parameters
    ----------
    raw : sequence, length n
        Cells: str, None, NaN, numbers, datetimes (a date is an issue); or an
        Arrow string array (null = blank), read without a ``str`` per cell.

    Returns
    -------
    ParsedColumn
        Values as read (decimal commas and thousands separators per the module
        rules, negative and scientific notation fine, no range); ``unit`` None.
    """
    st, cells, n = _first_pass(raw, numbers_column=True)
    # The stage's numbers are this call's own (a fresh array, never a view
    # of the caller's cells): written into as they are, no copy of a
    # million-row column.
    values = st.plain
    found: dict[int, str] = {}
    missing = st.missing
    slow = np.flatnonzero(st.slow)
    for i, cell in zip(slow.tolist(), cells(slow), strict=True):
        values[i], issue, missing[i] = _number_cell(cell)
        if issue is not None:
            found[i] = issue
    return ParsedColumn(values, found, missing, None)


def mostly_numbers(raw: Sequence, share: float) -> bool:
    """Whether at least ``share`` of the non-missing cells read as numbers, as :func:`parse_number_column` reads them.

    The same answer as ``finite / present >= share`` over that function's
    result (False when no cell is present), but the per-cell reader stops
    as soon as the answer is known: the first 5,000 cells of a column of
    names are told from numbers after about 1,000 of them (role detection,
    issue 14: ~30 ms of a command-line fill).
    """
    st, cells, n = _first_pass(raw, numbers_column=True)
    settled = ~st.slow & ~st.missing
    good = int(np.count_nonzero(settled & np.isfinite(st.plain)))
    bad = int(np.count_nonzero(settled)) - good
    slow = np.flatnonzero(st.slow)
    rest = len(slow)
    for start in range(0, len(slow), _CELL_BLOCK):
        for cell in cells(slow[start : start + _CELL_BLOCK]):
            value, _issue, missing = _number_cell(cell)
            rest -= 1
            if missing:
                continue
            if math.isfinite(value):
                good += 1
            else:
                bad += 1
            # Every cell still to read a number, or every one not: is the answer known?
            if (good + rest) / (good + rest + bad) < share:
                return False
            if good / (good + bad + rest) >= share:
                return True
    present = good + bad
    return present > 0 and good / present >= share


#: Cells :func:`mostly_numbers` turns into Python objects at a time.
_CELL_BLOCK = 256


def _first_pass(raw, *, numbers_column: bool):
    """The vectorised pass over a column, and a way to get the cells the per-cell readers need.

    Returns ``(stage, cells, n)``: ``cells(idx)`` gives the cells of rows
    ``idx`` as an object array.  An Arrow string array (a packed column of
    a sheet) is read as Arrow text: only those few cells become ``str``.
    """
    if type(raw).__module__.startswith("pyarrow"):
        from . import _arrowtext as at

        column = at._plain(raw)

        def cells(idx: np.ndarray) -> np.ndarray:
            if not len(idx):
                return np.empty(0, dtype=object)
            return at.to_cells(column.take(at.from_ints(idx)))

        return _vector_pass_arrow(column, numbers_column), cells, len(column)
    arr = _object_array(raw)
    return _vector_pass(arr, numbers_column), arr.__getitem__, len(arr)
