"""The merge script on a real Redis: exactly one event per article, partial after deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aredis

from services.aggregator.app import sweep_overdue
from services.aggregator.merge import Merger, fragment_of, parse_result
from shared.schemas import EnrichedEvent, utc_now
from shared.settings import Settings
from shared.streams import Keys
from tests.factories import entities_result, places_result, summary_result
from tests.helpers import payloads

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def _events(client: aredis.Redis, keys: Keys) -> list[EnrichedEvent]:
    return [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.enriched)]


async def _add(merger: Merger, client: aredis.Redis, result: object) -> tuple[str, int]:
    pipe = client.pipeline(transaction=True)
    merger.queue_add(pipe, fragment_of(result), utc_now())  # type: ignore[arg-type]
    (reply,) = await pipe.execute()
    return parse_result(reply)


async def test_complete_article_emitted_once_with_every_stage(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    assert await _add(merger, client, entities_result()) == ("stored", 0)
    assert await _add(merger, client, summary_result()) == ("stored", 0)
    assert await _add(merger, client, places_result()) == ("emitted", 0)
    # A redelivered result after emission is late, never a second event.
    assert await _add(merger, client, summary_result()) == ("late", 0)

    (event,) = await _events(client, keys)
    assert event.id == "a1"
    assert not event.partial and event.missing_stages == []
    assert [e.name for e in event.entities] == ["Mosul"]
    assert event.focus is not None and event.focus.country_code == "IQ"
    assert event.summary is not None and event.summary.text == "Mosul is a city."
    assert set(event.stages) == {"entities", "geocoder", "summarizer"}
    assert all(info.status == "ok" for info in event.stages.values())
    # Merge state is gone once emitted; only the done marker stays.
    assert not await client.exists(keys.merge("a1"))
    assert await client.exists(keys.done("a1"))
    assert await client.zcard(keys.merge_deadlines) == 0


async def test_duplicate_stage_result_keeps_the_first(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    first = entities_result()
    await _add(merger, client, first)
    await _add(merger, client, entities_result())
    await _add(merger, client, places_result())
    await _add(merger, client, summary_result())
    (event,) = await _events(client, Keys(settings.stream_prefix))
    assert event.entities == first.entities


async def test_overdue_article_emitted_as_partial_naming_missing_stages(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    await _add(merger, client, summary_result("p1"))
    assert await merger.overdue(utc_now()) == []
    later = utc_now() + timedelta(seconds=settings.merge_deadline_s + 1)
    assert await merger.overdue(later) == ["p1"]
    assert await merger.flush("p1", later) == ("emitted", 2)
    # Flushing again, or a late stage result, never emits twice.
    assert await merger.flush("p1", later) == ("late", 0)
    assert await _add(merger, client, entities_result("p1")) == ("late", 0)

    (event,) = await _events(client, keys)
    assert event.partial
    assert event.missing_stages == ["entities", "geocoder"]
    assert event.stages["entities"].status == "timeout"
    assert event.stages["summarizer"].status == "ok"
    assert event.entities == [] and event.places == [] and event.summary is not None


async def test_sweeper_flushes_only_overdue_articles(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    await _add(merger, client, summary_result("fresh"))
    assert await sweep_overdue(merger) == 0
    await client.zadd(Keys(settings.stream_prefix).merge_deadlines, {"fresh": 0})
    assert await sweep_overdue(merger) == 1


async def test_two_aggregators_racing_emit_each_article_once(
    client: aredis.Redis, redis_url: str, settings: Settings
) -> None:
    other = aredis.Redis.from_url(redis_url)
    try:
        mergers = [Merger(client, settings), Merger(other, settings)]
        for n in range(20):
            article = f"r{n}"
            for result in (
                entities_result(article),
                places_result(article),
                summary_result(article),
            ):
                for merger, connection in zip(mergers, (client, other), strict=True):
                    await _add(merger, connection, result)
        events = await _events(client, Keys(settings.stream_prefix))
        assert sorted(e.id for e in events) == sorted(f"r{n}" for n in range(20))
    finally:
        await other.aclose()
