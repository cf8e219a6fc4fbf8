"""Replays: accepted articles enriched again, each as its next revision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aredis

from newsflow.replay import replay, stream_position
from services.aggregator.merge import Merger, parse_results
from shared.schemas import Article, ArticleMeta, EnrichedEvent, utc_now
from shared.settings import Settings
from shared.streams import Keys
from shared.wire import encode
from tests.factories import entities_result, fragment, places_result, story_result, summary_result
from tests.helpers import payloads

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def _article(article_id: str, revision: int = 1) -> Article:
    meta = ArticleMeta(id=article_id, ingested_at=utc_now(), text_chars=4, revision=revision)
    return Article(meta=meta, text="Lyon")


def test_stream_positions_from_ids_and_times() -> None:
    assert stream_position("-") == "-"
    assert stream_position("1700000000000-5") == "1700000000000-5"
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert stream_position("2026-01-01T00:00:00Z") == str(int(moment.timestamp() * 1000))
    assert stream_position("2026-01-01T00:00:00") == str(int(moment.timestamp() * 1000))


async def test_replay_sends_each_article_once_as_its_next_revision(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    for article in (_article("a"), _article("b"), _article("a")):
        await client.xadd(keys.accepted, {"data": encode(article)})
    first = await replay(client, keys)
    assert sorted((r.id, r.revision) for r in first) == [("a", 2), ("b", 2)]
    second = await replay(client, keys, start=first[0].entry_id)
    assert sorted((r.id, r.revision) for r in second) == [("a", 3), ("b", 3)]
    stored = [Article.model_validate_json(p) for p in await payloads(client, keys.accepted)]
    assert [(a.meta.id, a.meta.revision) for a in stored[3:]] == [
        ("a", 2),
        ("b", 2),
        ("a", 3),
        ("b", 3),
    ]
    assert await replay(client, keys, start="+") == []


async def test_each_revision_is_merged_and_emitted_on_its_own(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    merger = Merger(client, settings)

    async def add(result: object, revision: int) -> tuple[str, int]:
        meta = result.meta.model_copy(update={"revision": revision})  # type: ignore[attr-defined]
        revised = result.model_copy(update={"meta": meta})  # type: ignore[attr-defined]
        pipe = client.pipeline(transaction=True)
        merger.queue_add(pipe, [fragment(revised)], utc_now())
        (reply,) = await pipe.execute()
        (result,) = parse_results(reply)
        return result

    for revision in (1, 2):
        for make in (entities_result, places_result, summary_result, story_result):
            await add(make("r1"), revision)
    assert await add(summary_result("r1"), 2) == ("late", 0)
    events = [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.enriched)]
    assert [(e.id, e.article.revision) for e in events] == [("r1", 1), ("r1", 2)]
    assert await client.exists(keys.done("r1"), keys.done("r1#2")) == 2
