"""Article id rules: the given id, else the normalised URL, else the text.

Ids are stable: the same article pushed twice, by any path, gets the same id, which is
what makes dedupe and idempotent handlers work.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that say how a reader arrived, not which article it is.
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|ref|ref_src|cmpid|ocid|"
    r"_ga|yclid|spm|share|smid|s_cid)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WHITESPACE = re.compile(r"\s+")

#: An id is one run of characters other than whitespace, braces and ``#`` (the revision
#: mark of merge keys): it is written into Redis keys and log lines as it is.
ID_PATTERN = r"^[^\s{}#]+$"
#: Unicode categories no identifier (id, url, source, language, metadata key) may hold:
#: controls (Cc: NUL, BEL, ...), format characters (Cf: bidi overrides such as U+202E,
#: marks U+200E/F, isolates U+2066-2069, zero-width characters), lone surrogates (Cs) and
#: line/paragraph separators. They are invisible or reorder what is shown, so two ids
#: that print the same could differ, and a log line or a terminal could be rewritten.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def code_point(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: a character named without printing it."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def unsafe_character(value: str) -> str | None:
    """The first control, format, surrogate or separator character in ``value``, named
    with :func:`code_point`; None when there is none."""
    for char in value:
        if (char < " " or char > "~") and unicodedata.category(char) in UNSAFE_CATEGORIES:
            return code_point(char)
    return None


def escape_unsafe(value: str) -> str:
    """``value`` with its unsafe characters (see :data:`UNSAFE_CATEGORIES`) written as
    escapes (``\\u202e``), for reasons shown in terminals, logs and JSON replies."""
    if unsafe_character(value) is None:
        return value
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in UNSAFE_CATEGORIES
        else char
        for char in value
    )


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot name an article (an unsafe character, or a port or host that
    :func:`normalise_url` cannot read); None when it can."""
    unsafe = unsafe_character(url)
    if unsafe is not None:
        return f"url contains the control or format character {unsafe}"
    try:
        normalise_url(url)
    except ValueError as exc:
        return f"url cannot be read: {exc}"
    return None


def normalise_url(url: str) -> str:
    """Canonical form of a URL for identity: https, lower-case host without www,
    no default port, fragment or tracking parameters, sorted query, no trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "http":
        # The same article is served on both; identity must not depend on it.
        scheme = "https"
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(parts.scheme.lower())) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k)
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def normalise_text(text: str) -> str:
    """Text identity: Unicode NFC, whitespace runs folded, trimmed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]


#: Separates an article id from its revision in merge keys; never part of an id.
REVISION_MARK = "#"


def revision_key(article_id: str, revision: int = 1) -> str:
    """The key of one enrichment of an article: the id for the first, ``id#n`` after."""
    return article_id if revision <= 1 else f"{article_id}{REVISION_MARK}{revision}"


def parse_revision_key(key: str) -> tuple[str, int]:
    """``(article id, revision)`` of a :func:`revision_key`."""
    article, mark, revision = key.rpartition(REVISION_MARK)
    if mark and revision.isdigit():
        return article, int(revision)
    return key, 1


def article_id(given_id: str | None, url: str | None, text: str) -> str:
    """The article's id: ``given_id`` as is, else ``url-<hash>``, else ``txt-<hash>``."""
    if given_id is not None and given_id.strip():
        return given_id.strip()
    if url is not None and url.strip():
        return f"url-{_digest(normalise_url(url))}"
    return f"txt-{_digest(normalise_text(text))}"


# --------------------------------------------------------------------------- stream entry ids

_ENTRY_ID = re.compile(r"^(\d+)(?:-(\d+))?$")


def entry_id_key(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id (``1700000000000-5``; a bare ``1700000000000`` is ``-0``) as a
    pair that sorts as Redis orders the entries. Raises ValueError for anything else."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    match = _ENTRY_ID.match(text)
    if match is None:
        raise ValueError(f"not a stream entry id: {escape_unsafe(text[:40])!r}")
    return int(match[1]), int(match[2] or 0)


def is_entry_id(value: str) -> bool:
    """Whether ``value`` is a stream entry id (or its milliseconds alone)."""
    return _ENTRY_ID.match(value) is not None


def entry_age_s(entry_id: bytes | str, now_s: float) -> float:
    """Seconds since a stream entry id's time (ids begin with milliseconds since the epoch)."""
    millis, _seq = entry_id_key(entry_id)
    return max(0.0, now_s - millis / 1000.0)
