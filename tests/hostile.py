"""Hostile input, one table for every door: the HTTP API, XADD to ``{prefix}:articles``,
``newsflow push`` and the Python client must all refuse each value with the same reason.

The reasons are written by hand, for the default limits (``max_payload_bytes`` 1 000 000,
``max_text_chars`` 200 000).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GOOD_TEXT = "Heavy rain flooded Lyon, France, on Tuesday, officials said."


@dataclass(frozen=True)
class Hostile:
    """One hostile article and the reason every door must give for refusing it.

    ``document`` is the article as JSON (``None`` when it cannot be one: ``raw`` bytes
    that are not UTF-8 or nest too deeply, which only the byte doors can carry).
    """

    name: str
    reason: str
    document: dict[str, Any] | None = None
    raw_bytes: bytes | None = None

    @property
    def raw(self) -> bytes:
        """The bytes a producer sends: ``json.dumps`` of the document (ASCII, ``\\ud800``
        escapes and all), or the raw bytes."""
        if self.raw_bytes is not None:
            return self.raw_bytes
        return json.dumps(self.document).encode("ascii")


def _article(**fields: Any) -> dict[str, Any]:
    return {"text": GOOD_TEXT, **fields}


BIG_TEXT = "x" * 1_100_000
# {"text":"<1 100 000 x>"} written compactly: 9 + 1 100 000 + 2 bytes.
BIG_TEXT_SIZE = 1_100_011
# A 1.1 MB page whose article is short: scripts and markup make up its size.
BIG_PAGE = (
    "<html><head><script>var junk = '" + "j" * 1_100_000 + "';</script></head><body>"
    "<article><p>" + GOOD_TEXT + "</p></article></body></html>"
)
DEEP = b'{"text": "x", "metadata": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"

HOSTILE: list[Hostile] = [
    Hostile(
        "date-overflows-late",
        "published_at 9999-12-31T23:00:00-05:00 is out of range",
        _article(published_at="9999-12-31T23:00:00-05:00"),
    ),
    Hostile(
        "date-overflows-early",
        "published_at 0001-01-01T00:30:00+01:00 is out of range",
        _article(published_at="0001-01-01T00:30:00+01:00"),
    ),
    Hostile(
        "date-before-1800",
        "published_at 1700-06-01T00:00:00+00:00 is out of range",
        _article(published_at="1700-06-01T00:00:00Z"),
    ),
    Hostile(
        "date-rfc2822-offset-overflows",
        "published_at: Input should be a valid datetime",
        _article(published_at="Tue, 18 Oct 2016 14:05:00 +99999999999999999999"),
    ),
    Hostile(
        "surrogate-in-text",
        "text contains a lone surrogate (U+D800)",
        {"text": "Rain in \ud800 Lyon."},
    ),
    Hostile(
        "surrogate-in-title",
        "title contains a lone surrogate (U+DC00)",
        _article(title="Floods \udc00"),
    ),
    Hostile("surrogate-in-id", "id contains a lone surrogate (U+DFFF)", _article(id="a\udfffb")),
    Hostile(
        "surrogate-in-metadata-value",
        "metadata.section contains a lone surrogate (U+D800)",
        _article(metadata={"section": "world\ud800"}),
    ),
    Hostile(
        "surrogate-in-metadata-key",
        "metadata key contains a lone surrogate (U+D83D)",
        _article(metadata={"sec\ud83d": 1}),
    ),
    Hostile(
        "nul-in-id", "id contains the control or format character U+0000", _article(id="a\x00b")
    ),
    Hostile(
        "rtl-override-in-id",
        "id contains the control or format character U+202E RIGHT-TO-LEFT OVERRIDE",
        _article(id="invoice\u202etxt.exe"),
    ),
    Hostile(
        "bell-in-id", "id contains the control or format character U+0007", _article(id="a\x07")
    ),
    Hostile(
        "isolate-in-source",
        "source contains the control or format character U+2066 LEFT-TO-RIGHT ISOLATE",
        _article(source="AFP\u2066"),
    ),
    Hostile(
        "zero-width-only-text",
        "text has no visible characters",
        {"text": "\u200b\u200c\u200d\u2060\ufeff\u200b"},
    ),
    Hostile("whitespace-only-text", "text has no visible characters", {"text": " \n\t\u3000 "}),
    Hostile(
        "url-port-out-of-range",
        "url cannot be read: Port out of range 0-65535",
        _article(url="https://example.org:99999/a"),
    ),
    Hostile(
        "text-of-1.1-MB",
        f"article is {BIG_TEXT_SIZE} bytes of JSON; the limit is 1000000",
        {"text": BIG_TEXT},
    ),
    Hostile("page-of-1.1-MB", "bytes of JSON; the limit is 1000000", {"html": BIG_PAGE}),
    Hostile(
        "invalid-utf8",
        "not UTF-8 text",
        raw_bytes=b'{"text": "Caf\xe9 in Lyon, France."}',
    ),
    Hostile("deep-nesting", "invalid JSON: nested too deeply", raw_bytes=DEEP),
]

#: The values a Python caller can hand the client (a dict; not bytes).
DOCUMENTS = [case for case in HOSTILE if case.document is not None]


def ids(cases: list[Hostile]) -> list[str]:
    """Test ids for a parametrisation over ``cases``."""
    return [case.name for case in cases]
