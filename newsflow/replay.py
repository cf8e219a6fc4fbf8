"""Replay: enrich a range of already accepted articles again, with the current versions of
every stage (after a model or gazetteer upgrade, say). Each replayed article gets the next
revision number; its new event carries it, so subscribers can tell it replaces the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aredis
from pydantic import ValidationError

from shared.ids import is_entry_id
from shared.redis_client import entries_between
from shared.schemas import Article, utc_now
from shared.streams import DATA_FIELD, Keys
from shared.wire import pack, unpack


@dataclass(frozen=True)
class Replayed:
    """One article sent through the pipeline again."""

    id: str
    revision: int
    entry_id: str


def stream_position(value: str) -> str:
    """A stream id for XRANGE from an entry id (``1700000000000-0``), ``-``/``+``, or an
    ISO 8601 time (entry ids begin with milliseconds since the epoch)."""
    if value in ("-", "+"):
        return value
    if is_entry_id(value):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


async def replay(
    client: aredis.Redis,
    keys: Keys,
    *,
    start: str = "-",
    end: str = "+",
    limit: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> list[Replayed]:
    """Send every article accepted between ``start`` and ``end`` (ids or times) through the
    pipeline again, once per article id, as its next revision. Only what the accepted
    stream still retains can be replayed (``NEWSFLOW_REPLAY_RETENTION_S``)."""
    entries = await entries_between(
        client, keys.accepted, stream_position(start), stream_position(end), count=limit
    )
    latest: dict[str, Article] = {}
    for _entry_id, fields in entries:
        try:
            article = Article.model_validate_json(unpack(fields.get(DATA_FIELD, b"")))
        except (ValidationError, ValueError):
            continue  # not an article (the ingest stage dead-letters those)
        latest[article.meta.id] = article  # a later revision of the same article wins
    replayed: list[Replayed] = []
    for article_id, article in latest.items():
        # Replays counted per id, atomically: two replays never share a revision number.
        count = int(await client.hincrby(keys.revisions, article_id, 1))
        revision = count + 1
        meta = article.meta.model_copy(update={"revision": revision, "ingested_at": utc_now()})
        new_id: Any = await client.xadd(
            keys.accepted, {DATA_FIELD: pack(Article(meta=meta, text=article.text))}
        )
        replayed.append(Replayed(article_id, revision, new_id.decode()))
        if progress is not None and (len(replayed) % 100 == 0 or len(replayed) == len(latest)):
            progress(len(replayed), len(latest))
    return replayed
