"""Listing and requeueing dead letters."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aredis

from newsflow.dead import list_dead, requeue
from services.ingest.app import build_service
from shared.schemas import Article
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.wire import Entry, dead_letter, fields_of
from tests.helpers import payloads, running, stream_len, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_rejected_input_is_listed_and_requeued_through_ingest_again(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    strict = load_settings(**{**settings.model_dump(), "max_text_chars": 10})
    text = "A long enough article text."
    await client.xadd(keys.articles, {"data": json.dumps({"text": text, "id": "d1"})})
    service = build_service(strict)
    async with running(service):
        await wait_until(lambda: _has(client, keys.dead, 1))
    (stored,) = await list_dead(client, keys)
    assert stored.letter.stage == "ingest" and "limit is 10" in stored.letter.reason
    assert await list_dead(client, keys, stage="entities") == []

    await requeue(client, keys, stored)
    assert await list_dead(client, keys) == []
    service = build_service(settings)  # the limit was raised
    async with running(service):
        await wait_until(lambda: _has(client, keys.accepted, 1))
    (payload,) = await payloads(client, keys.accepted)
    assert Article.model_validate_json(payload).text == text


async def test_requeued_article_is_enriched_again(client: aredis.Redis, settings: Settings) -> None:
    keys = Keys(settings.stream_prefix)
    article_json = json.dumps(
        {
            "meta": {"id": "d2", "ingested_at": "2026-01-01T00:00:00Z", "text_chars": 4},
            "text": "Lyon",
        }
    ).encode()
    letter = dead_letter(
        Entry("1-1", {b"data": article_json}),
        stage="entities",
        stream=keys.accepted,
        reason="RuntimeError: boom",
        error_type="RuntimeError",
        deliveries=5,
        article_id="d2",
    )
    await client.xadd(keys.dead, fields_of(letter))
    await client.set(keys.done("d2"), "complete")  # emitted with the stage's error
    (stored,) = await list_dead(client, keys)
    await requeue(client, keys, stored)
    # Enriched again as revision 2: revision 1's event stays the only one of its revision.
    assert await client.get(keys.done("d2")) == b"complete"
    (payload,) = await payloads(client, keys.accepted)
    requeued = Article.model_validate_json(payload)
    assert requeued.meta.revision == 2 and requeued.text == "Lyon"
    assert await stream_len(client, keys.dead) == 0


async def test_letters_from_unknown_streams_are_not_requeued(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    letter = dead_letter(
        Entry("1-1", {b"data": b"x"}),
        stage="x",
        stream="elsewhere",
        reason="r",
        error_type="e",
        deliveries=1,
    )
    await client.xadd(keys.dead, fields_of(letter))
    (stored,) = await list_dead(client, keys)
    with pytest.raises(ValueError, match="unknown source stream"):
        await requeue(client, keys, stored)
    assert await stream_len(client, keys.dead) == 1


async def _has(client: aredis.Redis, stream: str, count: int) -> bool:
    return await stream_len(client, stream) == count
