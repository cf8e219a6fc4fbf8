"""Checks of the text and fields of incoming articles: HTML or not, times, surrogates,
visible characters and identifiers. :class:`shared.schemas.ArticleIn` validates with
them; ingest's HTML extraction reads times with :func:`parse_datetime`."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from datetime import UTC, datetime

from shared.ids import escape_unsafe, unsafe_character

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]{0,300})?/?>")


def looks_like_html(text: str) -> bool:
    """True for an HTML page or fragment: a doctype or ``<html>`` start, or so many tags
    that they make up a tenth of the text. A stray ``<b>`` in prose passes."""
    head = text.lstrip()[:100].lower()
    if head.startswith(("<!doctype html", "<html")):
        return True
    sample = text[:50_000]
    tags = _TAG.findall(sample)
    return len(tags) >= 10 and sum(len(t) for t in tags) > 0.1 * len(sample)


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 or RFC 2822 time (as in RSS), its offset kept; None when it is neither."""
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # e.g. an offset of 10**20
        return None


#: Publication times are accepted from 1800 (digitised archives) to the end of 2199, in
#: UTC. Outside that no news article was or will be published, and near the ends of
#: Python's range (years 1 and 9999) a time cannot even be converted to UTC.
PUBLISHED_FROM = datetime(1800, 1, 1, tzinfo=UTC)
PUBLISHED_UNTIL = datetime(2200, 1, 1, tzinfo=UTC)


def published_in_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is taken as UTC). Raises ValueError, naming
    ``published_at``, for a time outside the accepted years or not representable in UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not PUBLISHED_FROM <= utc < PUBLISHED_UNTIL:
        raise ValueError(
            f"published_at {value.isoformat()} is out of range: it must fall in the years "
            f"{PUBLISHED_FROM.year} to {PUBLISHED_UNTIL.year - 1}, in UTC"
        )
    return utc


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: str) -> str | None:
    """The first lone surrogate (``U+D800``) in ``value``: JSON can spell one (``"\\ud800"``)
    but it is not a character and no UTF-8 encoder writes it; None when there is none."""
    found = _LONE_SURROGATE.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def surrogate_problem(field: str, value: object) -> str | None:
    """Why ``value`` (a JSON value given for ``field``) is not Unicode text: a string in
    it, key or value at any depth, holding a lone surrogate; None when there is none."""
    stack: list[tuple[str, object]] = [(field, value)]
    while stack:  # a loop, not recursion: input nests as deep as its producer likes
        where, item = stack.pop()
        if isinstance(item, str):
            found = lone_surrogate(item)
            if found is not None:
                return f"{where} contains a lone surrogate ({found}), which is not text"
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((f"{where} key", key))
                stack.append((f"{where}.{escape_unsafe(str(key))}", child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return None


#: Characters that are not Cf or whitespace yet show nothing: the combining grapheme
#: joiner, Hangul fillers, Khmer inherent vowels, Mongolian and other variation selectors
#: and the braille blank, all used to make "empty" text look non-empty.
_BLANK_CHARACTERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def has_visible_character(text: str) -> bool:
    """True when ``text`` shows something: a character that is not whitespace, a control,
    a format character (zero-width space U+200B, joiners U+200C/D, word joiner U+2060, BOM
    U+FEFF, bidi marks ...) or another blank (see ``_BLANK_CHARACTERS``)."""
    return any(
        not char.isspace()
        and char not in _BLANK_CHARACTERS
        and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )


def check_identifier(field: str, value: str | None) -> str | None:
    if value is not None:
        unsafe = unsafe_character(value)
        if unsafe is not None:
            raise ValueError(f"{field} contains the control or format character {unsafe}")
    return value
