"""Producers that XADD straight to {prefix}:articles get what HTTP callers get."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aredis

from services.ingest.app import build_service
from shared.schemas import Article, DeadLetter
from shared.settings import Settings
from shared.streams import Keys
from tests.helpers import payloads, running, stream_len, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_raw_xadd_is_validated_named_deduped_and_dead_lettered(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    service = build_service(settings)
    good = {"text": "Flooding hit Mosul on Monday.", "url": "https://Example.com/a?utm_source=x"}
    # Published before any worker ran: the group must still see it (created from id 0).
    await client.xadd(keys.articles, {"data": json.dumps(good)})
    async with running(service):
        await client.xadd(keys.articles, {"data": json.dumps(good)})  # duplicate
        await client.xadd(keys.articles, {"data": "{not json"})
        await client.xadd(keys.articles, {"data": b"\xff\xfe binary"})
        await client.xadd(keys.articles, {"data": json.dumps({"text": "   "})})
        await client.xadd(keys.articles, {"other": "no data field"})
        await wait_until(lambda: _done(client, keys, expected_dead=4))

    (accepted,) = [Article.model_validate_json(p) for p in await payloads(client, keys.accepted)]
    assert accepted.text == good["text"]
    assert accepted.meta.id.startswith("url-")
    assert accepted.meta.url == good["url"]

    letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert {letter.stage for letter in letters} == {"ingest"}
    reasons = " | ".join(letter.reason for letter in letters)
    assert "invalid JSON" in reasons
    assert "not UTF-8" in reasons
    assert "text has no visible characters" in reasons
    assert "no 'data' field" in reasons
    assert any(letter.payload == "{not json" for letter in letters)
    assert all(letter.source_stream == keys.articles for letter in letters)


async def _done(client: aredis.Redis, keys: Keys, expected_dead: int) -> bool:
    pending = await client.xpending(keys.articles, "ingest")
    return (
        await stream_len(client, keys.dead) == expected_dead
        and await stream_len(client, keys.accepted) == 1
        and pending["pending"] == 0
    )
