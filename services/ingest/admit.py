"""Admission of articles: validation, ids, dedupe and back-pressure.

The HTTP API, the CLI and the ingest group on ``{prefix}:articles`` (producers that
XADD directly) all call these functions, so every path validates, names and dedupes
articles the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aredis
from pydantic import ValidationError

from services.ingest.extract import detect_language, extract_page
from shared.ids import article_id
from shared.redis_client import queue_script
from shared.schemas import Article, ArticleIn, ArticleMeta, utc_now
from shared.settings import Settings
from shared.streams import DATA_FIELD, Keys
from shared.wire import pack
from shared.worker import InvalidInput

_ADMIT_LUA = (Path(__file__).with_name("admit.lua")).read_text()


def parse_article_in(payload: bytes | str, settings: Settings) -> ArticleIn:
    """Validate one producer payload (JSON text) against the input schema and the limits.

    Raises :class:`InvalidInput` or pydantic's ``ValidationError`` with the reason.
    """
    size = len(payload)
    if size > settings.max_payload_bytes:
        raise InvalidInput(f"payload is {size} bytes; the limit is {settings.max_payload_bytes}")
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"payload is not UTF-8 text: {exc}") from exc
    article = ArticleIn.model_validate_json(payload)
    return check_limits(article, settings)


def _check_text(text: str, max_text_chars: int) -> str:
    if len(text) > max_text_chars:
        raise InvalidInput(f"text is {len(text)} characters; the limit is {max_text_chars}")
    return text


def check_limits(article: ArticleIn, settings: Settings) -> ArticleIn:
    """Enforce the text size limit on an already validated article."""
    if article.text is not None:
        _check_text(article.text, settings.max_text_chars)
    return article


def to_article(
    article: ArticleIn, *, now: datetime | None = None, max_text_chars: int = 1_000_000
) -> Article:
    """The accepted form of an input article: its text (extracted from ``html`` when that
    is what was sent), id, language, UTC times and metadata."""
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
        text = page.text
        title, published = title or page.title, published or page.published_at
        source, url = source or page.sitename, url or page.url
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
        published_at=published.astimezone(UTC) if published else None,
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


def validation_errors(exc: ValidationError | InvalidInput) -> list[dict[str, str]]:
    """Field errors as ``[{"field": ..., "error": ...}]`` for API responses."""
    if isinstance(exc, InvalidInput):
        return [{"field": "(payload)", "error": str(exc)}]
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "error": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


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
        self._backlog_cache = (time.monotonic(), value)
        return value

    async def over_limit(self, *, max_age_s: float = 0.5) -> bool:
        """True when ingest must push back (backlog figure at most ``max_age_s`` old)."""
        return await self.backlog(max_age_s=max_age_s) >= self.settings.backlog_limit


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
