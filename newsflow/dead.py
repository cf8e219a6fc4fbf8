"""Dead letters: list them, and send them back to the stream they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from shared.redis_client import entries_between
from shared.schemas import Article, DeadLetter
from shared.streams import DATA_FIELD, Keys
from shared.wire import pack


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter and its entry id in the dead-letter stream."""

    entry_id: str
    letter: DeadLetter


async def list_dead(
    client: aredis.Redis, keys: Keys, *, stage: str | None = None, limit: int = 1000
) -> list[StoredLetter]:
    """Dead letters, oldest first, optionally of one stage only."""
    found: list[StoredLetter] = []
    for entry_id, fields in await entries_between(client, keys.dead, count=limit):
        payload = fields.get(DATA_FIELD)
        if payload is None:
            continue
        letter = DeadLetter.model_validate_json(payload)
        if stage is None or letter.stage == stage:
            found.append(StoredLetter(entry_id.decode(), letter))
    return found


async def requeue(client: aredis.Redis, keys: Keys, stored: StoredLetter) -> str:
    """Send a dead letter's payload back to its source stream and drop the letter, in one
    transaction. An accepted article sent back is enriched again from the start as its
    next revision (numbered with replays), so its new event never repeats a revision that
    was emitted already. Returns the new entry id."""
    letter = stored.letter
    if letter.source_stream not in keys.groups():
        raise ValueError(f"{stored.entry_id}: unknown source stream {letter.source_stream!r}")
    payload = letter.payload.encode("utf-8")
    if letter.article_id and letter.source_stream == keys.accepted:
        try:
            article = Article.model_validate_json(letter.payload)
        except ValueError:
            article = None  # not an article after all: it goes back as it was
        if article is not None:
            revision = int(await client.hincrby(keys.revisions, article.meta.id, 1)) + 1
            meta = article.meta.model_copy(update={"revision": revision})
            payload = pack(Article(meta=meta, text=article.text))
    pipe = client.pipeline(transaction=True)
    pipe.xadd(letter.source_stream, {DATA_FIELD: payload})
    pipe.xdel(keys.dead, stored.entry_id)
    results: list[Any] = await pipe.execute()
    new_id = results[0]
    return new_id.decode() if isinstance(new_id, bytes) else str(new_id)
