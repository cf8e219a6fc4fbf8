"""Real-world input: HTML pages reduced to their main text and metadata, the language of
a text, and publication times with their offsets."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.text_checks import parse_datetime

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

#: Below this share of probability the language is reported as unknown (None), so that
#: short or mixed texts are never sent down a path for the wrong language.
MIN_LANGUAGE_CONFIDENCE = 0.9
MIN_LANGUAGE_LETTERS = 20

_PUBLISHED_META = re.compile(
    r"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|og:published_time|
    datePublished|pubdate|publishdate|date|dc\.date|DC\.date\.issued)["'][^>]*>""",
    re.IGNORECASE | re.VERBOSE,
)
_CONTENT = re.compile(r"""content\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')
_TIME_TAG = re.compile(r"""<time[^>]+datetime\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_CANONICAL = re.compile(
    r"""<link[^>]+rel\s*=\s*["']canonical["'][^>]*href\s*=\s*["']([^"']+)["']""", re.IGNORECASE
)


@dataclass(frozen=True)
class ExtractedPage:
    """What an HTML page says about its article."""

    text: str
    title: str | None
    published_at: datetime | None
    author: str | None
    sitename: str | None
    url: str | None


def _published_in(html: str) -> datetime | None:
    candidates: list[str] = []
    for tag in _PUBLISHED_META.findall(html):
        found = _CONTENT.search(tag)
        if found:
            candidates.append(found.group(1))
    candidates += _JSON_LD_DATE.findall(html) + _TIME_TAG.findall(html)
    # The first full timestamp with an offset wins; a bare date only if nothing better.
    parsed = [p for p in (parse_datetime(c) for c in candidates) if p is not None]
    with_offset = [p for p in parsed if p.tzinfo is not None]
    best = with_offset or parsed
    return best[0] if best else None


def extract_page(html: str) -> ExtractedPage:
    """The main text and metadata of an HTML article page (trafilatura), with the
    publication time taken from the page's metadata so that its offset survives."""
    # Imported on first use: trafilatura loads numpy, which must not load before
    # `newsflow` has set its thread counts (newsflow/cli.py), and takes half a second.
    import trafilatura

    document: Any = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False
    )
    if document is None:
        return ExtractedPage("", None, _published_in(html), None, None, None)
    data: dict[str, Any] = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    canonical = _CANONICAL.search(html)
    return ExtractedPage(
        text=(data.get("text") or "").strip(),
        title=data.get("title") or None,
        published_at=_published_in(html) or parse_datetime(data.get("date") or ""),
        author=data.get("author") or None,
        sitename=data.get("sitename") or data.get("hostname") or None,
        url=data.get("url") or (canonical.group(1) if canonical else None),
    )


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loaded once per process, on first use: about a second (imported here for the same
    # reason as trafilatura above).
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when unsure (short or mixed text)."""
    sample = text[:5000]
    if sum(ch.isalpha() for ch in sample) < MIN_LANGUAGE_LETTERS:
        return None
    language, probability = _identifier().classify(sample)
    return str(language) if probability >= MIN_LANGUAGE_CONFIDENCE else None
