"""Admission of articles: validation, limits, ids, dedupe and back-pressure.

Every door calls these functions: the HTTP API (:func:`read_json` on the body, then
:func:`admit_document` on each article), the ingest group on ``{prefix}:articles`` and
``newsflow push`` (:func:`admit_payload` on each entry, JSON line or file) and the Python
client (:func:`admit_document`). So every door refuses the same articles with the same
reasons; the rules themselves live in the input schema (:class:`ArticleIn`) and here.

An article's size is measured one way at every door: the UTF-8 bytes of its JSON written
compactly (:func:`document_size`), whatever spacing or escapes it was sent with, alone or
as one item of an HTTP list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from services.ingest.extract import detect_language, extract_page
from shared.ids import article_id, unsafe_character, url_problem
from shared.redis_client import queue_script
from shared.schemas import (
    NO_VISIBLE_TEXT,
    Article,
    ArticleIn,
    ArticleMeta,
    utc_now,
)
from shared.settings import Settings
from shared.streams import DATA_FIELD, Keys
from shared.text_checks import has_visible_character, published_in_utc
from shared.wire import pack
from shared.worker import InvalidInput, describe_error, field_errors

_ADMIT_LUA = (Path(__file__).with_name("admit.lua")).read_text()

#: How many articles' worth of bytes one request (an HTTP body, an XADD payload, a JSON
#: line) may carry before it is read at all. Within it, each article's own size decides.
REQUEST_ARTICLES = 10


def request_limit(settings: Settings) -> int:
    """The most bytes read as one request: a batch limit, not the per-article one."""
    return settings.max_payload_bytes * REQUEST_ARTICLES


def utf8_text(data: bytes) -> str:
    """``data`` decoded as UTF-8; :class:`InvalidInput` when it is not (never replaced:
    an article whose bytes were guessed at would be stored wrong without anyone knowing)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text: {exc}") from exc


def read_json(payload: bytes | str, settings: Settings) -> object:
    """The JSON document in ``payload`` (UTF-8 bytes or text). Raises :class:`InvalidInput`
    for a payload over :func:`request_limit`, not UTF-8 or not JSON (nesting too deep too)."""
    size = len(payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload)
    limit = request_limit(settings)
    if size > limit:
        raise InvalidInput(
            f"article is over {limit} bytes of JSON; the limit is {settings.max_payload_bytes}"
        )
    try:
        return json.loads(utf8_text(payload) if isinstance(payload, bytes) else payload)
    except RecursionError as exc:
        raise InvalidInput("invalid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise InvalidInput(f"invalid JSON: {exc}") from exc


def document_size(document: object) -> int:
    """The size of an article as every door measures it: the UTF-8 bytes of its JSON
    written compactly (no spaces between tokens, no ``\\u`` escapes but for controls)."""
    compact = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate is refused later, by the schema, with its field's name.
    return len(compact.encode("utf-8", "surrogatepass"))


def validate_document(document: object, settings: Settings) -> ArticleIn:
    """Hold one parsed JSON article to the size limit and the input schema.

    Raises :class:`InvalidInput` or pydantic's ``ValidationError`` with the reason.
    """
    if not isinstance(document, dict):
        raise InvalidInput("an article must be a JSON object")
    try:
        size = document_size(document)
    except RecursionError as exc:
        raise InvalidInput("invalid JSON: nested too deeply") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"article is not JSON: {exc}") from exc
    if size > settings.max_payload_bytes:
        raise InvalidInput(
            f"article is {size} bytes of JSON; the limit is {settings.max_payload_bytes}"
        )
    return check_limits(ArticleIn.model_validate(document), settings)


def parse_article_in(payload: bytes | str, settings: Settings) -> ArticleIn:
    """Validate one producer payload (JSON text) against the input schema and the limits.

    Raises :class:`InvalidInput` or pydantic's ``ValidationError`` with the reason.
    """
    return validate_document(read_json(payload, settings), settings)


def _check_text(text: str, max_text_chars: int) -> str:
    if len(text) > max_text_chars:
        raise InvalidInput(f"text is {len(text)} characters; the limit is {max_text_chars}")
    return text


def check_limits(article: ArticleIn, settings: Settings) -> ArticleIn:
    """Enforce the text size limit on an already validated article."""
    if article.text is not None:
        _check_text(article.text, settings.max_text_chars)
    return article


def _page_time(value: datetime | None) -> datetime | None:
    # A page's own date is a hint, not the producer's word: one out of range is dropped.
    if value is None:
        return None
    try:
        published_in_utc(value)
    except ValueError:
        return None
    return value


def to_article(
    article: ArticleIn, *, now: datetime | None = None, max_text_chars: int = 1_000_000
) -> Article:
    """The accepted form of an input article: its text (extracted from ``html`` when that
    is what was sent), id, language, UTC times and metadata. Values taken from the page
    (title, date, site, URL) fill only what was not given, and only when they pass the
    rules the given ones must pass."""
    text = article.text
    title, published, source, url = article.title, article.published_at, article.source, article.url
    metadata = dict(article.metadata)
    if text is None:
        try:
            page = extract_page(article.html or "")
        except Exception as exc:  # any parser failure is this input's fault, not a crash
            raise InvalidInput(f"cannot extract text from the HTML: {exc}") from exc
        if not page.text:
            raise InvalidInput("no article text found in the HTML")
        if not has_visible_character(page.text):
            raise InvalidInput(f"no article text found in the HTML ({NO_VISIBLE_TEXT})")
        text = page.text
        title, published = title or page.title, published or _page_time(page.published_at)
        if source is None and page.sitename and unsafe_character(page.sitename) is None:
            source = page.sitename
        if url is None and page.url and url_problem(page.url) is None:
            url = page.url
        if page.author:
            metadata.setdefault("author", page.author)
    _check_text(text, max_text_chars)
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    meta = ArticleMeta(
        id=article_id(article.id, url, text),
        url=url,
        title=title,
        source=source,
        published_at=published_in_utc(published) if published else None,
        published_at_local=published,
        language=article.language or detect_language(text),
        ingested_at=now or utc_now(),
        metadata=metadata,
        text_chars=len(text),
    )
    return Article(meta=meta, text=text)


def accept(article: ArticleIn, settings: Settings, *, now: datetime | None = None) -> Article:
    """A validated input article, within the limits, as it will be stored."""
    return to_article(
        check_limits(article, settings), now=now, max_text_chars=settings.max_text_chars
    )


def admit_payload(payload: bytes | str, settings: Settings) -> Article:
    """Validate a raw payload and turn it into an accepted article (not yet stored)."""
    return accept(parse_article_in(payload, settings), settings)


def admit_document(document: object, settings: Settings) -> Article:
    """Validate one parsed JSON article (an HTTP list item, say) and turn it into an
    accepted article (not yet stored): the rules and reasons of :func:`admit_payload`."""
    return accept(validate_document(document, settings), settings)


def document_of(article: ArticleIn | Mapping[str, Any]) -> object:
    """The JSON document of an article given in Python, as the client would send it:
    datetimes become ISO 8601 strings; an ``ArticleIn`` gives the fields it was given."""
    try:
        if isinstance(article, ArticleIn):
            return article.model_dump(mode="json", exclude_unset=True)
        # Through JSON text and back, as it travels: json.dumps escapes what pydantic's
        # serialiser cannot encode (a lone surrogate in a key), and the schema names it.
        return json.loads(json.dumps(dict(article), default=to_jsonable_python))
    except (PydanticSerializationError, TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"article is not JSON: {describe_error(exc)}") from exc


def validation_errors(exc: ValueError) -> list[dict[str, str]]:
    """Field errors as ``[{"field": ..., "error": ...}]`` for API responses: the reasons
    :func:`describe_error` gives the other doors."""
    if not isinstance(exc, ValidationError):
        return [{"field": "(payload)", "error": describe_error(exc)}]
    return [{"field": field, "error": error} for field, error in field_errors(exc)]


@dataclass(frozen=True)
class Admission:
    """What became of one article: accepted (new) or a duplicate of an earlier one; when
    Redis failed, ``not_stored`` (refused) or ``unknown`` (the connection was lost)."""

    id: str
    status: str  # "accepted" | "duplicate" | "not_stored" | "unknown"


class Admitter:
    """Stores accepted articles: dedupe marker and stream entry in one atomic script."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.stream_prefix)
        self._script = client.register_script(_ADMIT_LUA)
        self._backlog_cache: tuple[float, int] = (0.0, 0)
        self._rate: float | None = None

    def queue(self, pipe: aredis.client.Pipeline, article: Article) -> None:
        """Add the admission of ``article`` to a pipeline (its result: entry id or None)."""
        article_key = article.meta.id
        queue_script(
            pipe,
            self._script,
            [self.keys.seen(article_key), self.keys.accepted],
            [pack(article), self.settings.dedupe_ttl_s, DATA_FIELD],
        )

    async def admit(self, articles: list[Article]) -> list[Admission]:
        """Store articles; duplicates of already accepted ids are reported, not stored."""
        if not articles:
            return []
        pipe = self.client.pipeline(transaction=False)
        for article in articles:
            self.queue(pipe, article)
        results = await pipe.execute()
        return [
            Admission(article.meta.id, "accepted" if result else "duplicate")
            for article, result in zip(articles, results, strict=True)
        ]

    async def admit_each(
        self, articles: list[Article]
    ) -> tuple[list[Admission], aredis.RedisError | None]:
        """Store articles, reporting each one even when Redis fails part-way (out of
        memory, say), with the first error, so that a producer retries only the rest."""
        pipe = self.client.pipeline(transaction=False)
        for article in articles:
            self.queue(pipe, article)
        try:
            results = await pipe.execute(raise_on_error=False)
        except aredis.RedisError as exc:
            # The connection failed: which commands Redis ran before is unknown. Dedupe
            # makes a retry of all of them safe.
            return [Admission(a.meta.id, "unknown") for a in articles], exc
        admissions: list[Admission] = []
        first: aredis.RedisError | None = None
        for article, result in zip(articles, results, strict=True):
            if isinstance(result, aredis.RedisError):
                first = first or result
                admissions.append(Admission(article.meta.id, "not_stored"))
            else:
                admissions.append(Admission(article.meta.id, "accepted" if result else "duplicate"))
        return admissions, first

    async def backlog(self, *, max_age_s: float = 0.5) -> int:
        """The largest backlog (undelivered + unacknowledged) of any group, cached briefly."""
        stamp, value = self._backlog_cache
        if time.monotonic() - stamp < max_age_s:
            return value
        value = await group_backlog(self.client, self.keys)
        rate = await self.client.get(self.keys.rate)
        self._rate = float(rate) if rate else None
        self._backlog_cache = (time.monotonic(), value)
        return value

    async def over_limit(self, *, max_age_s: float = 0.5) -> bool:
        """True when ingest must push back (backlog figure at most ``max_age_s`` old)."""
        backlog = await self.backlog(max_age_s=max_age_s)
        return backlog >= backlog_allowance(self._rate, self.settings)


def backlog_allowance(rate: float | None, settings: Settings) -> int:
    """The backlog ingest admits before it pushes back: what the pipeline finishes within
    ``backlog_max_s`` at its measured peak ``rate`` (events per second), at least
    ``backlog_floor`` (the rate is unknown before the first events), and never more than
    ``backlog_limit`` (what Redis memory is sized for)."""
    finishes = int(rate * settings.backlog_max_s) if rate else 0
    return min(settings.backlog_limit, max(settings.backlog_floor, finishes))


async def group_backlog(client: aredis.Redis, keys: Keys) -> int:
    """Max over every consumer group of lag plus pending (entries not yet done)."""
    worst = 0
    for stream in keys.groups():
        try:
            groups = await client.xinfo_groups(stream)
        except aredis.ResponseError:
            continue  # stream not created yet
        for info in groups:
            lag = info.get("lag")
            if lag is None:
                # Redis cannot tell the lag after deletions; count the whole stream.
                lag = await client.xlen(stream)
            worst = max(worst, int(lag) + int(info.get("pending", 0)))
    return worst
