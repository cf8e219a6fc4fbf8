"""The merge script on a real Redis: exactly one event per article revision; partial only
when a missing stage is down, completed as the next revision when its results come."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
import redis.asyncio as aredis

from services.aggregator.app import sweep_overdue
from services.aggregator.merge import Fragment, Merger, StageResult, parse_results
from shared.liveness import say_alive, stages_down
from shared.pipeline import ENRICHING, PIPELINE, Stage, StageDef, StreamDef, pipeline_of
from shared.schemas import EnrichedEvent, PlacesResult, utc_now
from shared.settings import Settings
from shared.streams import Keys
from tests.factories import (
    entities_result,
    fragment,
    places_result,
    story_result,
    summary_result,
)
from tests.helpers import payloads, wait_until

#: The stages an event waits for, by name.
MERGED = [stage.name for stage in PIPELINE.merged]

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def _events(client: aredis.Redis, keys: Keys) -> list[EnrichedEvent]:
    return [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.enriched)]


async def _add(merger: Merger, client: aredis.Redis, result: object) -> tuple[str, int]:
    pipe = client.pipeline(transaction=True)
    merger.queue_add(pipe, [fragment(result)], utc_now())  # type: ignore[arg-type]
    (reply,) = await pipe.execute()
    (merged,) = parse_results(reply)
    return merged


async def test_complete_article_emitted_once_with_every_stage(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    assert await _add(merger, client, entities_result()) == ("stored", 0)
    assert await _add(merger, client, summary_result()) == ("stored", 0)
    assert await payloads(client, keys.drafts) == []
    # The last stage before the stories: the draft goes out, once, for the stories stage.
    assert await _add(merger, client, places_result()) == ("stored", 0)
    assert await _add(merger, client, places_result()) == ("stored", 0)
    (draft,) = [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.drafts)]
    assert draft.id == "a1" and draft.missing_stages == ["stories"] and draft.story is None
    assert [e.name for e in draft.entities] == ["Mosul"] and draft.summary is not None
    assert await _events(client, keys) == []
    assert await _add(merger, client, story_result()) == ("emitted", 0)
    # A redelivered result after emission is late, never a second event.
    assert await _add(merger, client, summary_result()) == ("late", 0)

    (event,) = await _events(client, keys)
    assert event.id == "a1"
    assert not event.partial and event.missing_stages == []
    assert [e.name for e in event.entities] == ["Mosul"]
    assert event.focus is not None and event.focus.country_code == "IQ"
    assert event.summary is not None and event.summary.text == "Mosul is a city."
    assert set(event.stages) == {"entities", "geocoder", "summarizer", "stories"}
    assert event.story is not None and event.story.id == "st-0123456789abcdef"
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
    # A second result for the same article that names another city: it must be ignored.
    other = first.entities[0].model_copy(update={"name": "Nineveh"})
    second = first.model_copy(update={"entities": [other]})
    await _add(merger, client, first)
    await _add(merger, client, second)
    await _add(merger, client, places_result())
    await _add(merger, client, summary_result())
    await _add(merger, client, story_result())
    (event,) = await _events(client, Keys(settings.stream_prefix))
    assert [e.name for e in event.entities] == ["Mosul"]
    (draft,) = await payloads(client, Keys(settings.stream_prefix).drafts)
    assert [e.name for e in EnrichedEvent.model_validate_json(draft).entities] == ["Mosul"]


async def test_overdue_article_missing_a_down_stage_is_partial_then_completed_as_revision_2(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    await _add(merger, client, summary_result("p1"))
    assert await merger.overdue(utc_now()) == []
    later = utc_now() + timedelta(seconds=settings.merge_deadline_s + 1)
    assert await merger.overdue(later) == ["p1"]
    assert await merger.flush("p1", later, [Stage.ENTITIES]) == ("emitted", 3)
    # Flushing again never emits twice.
    assert await merger.flush("p1", later, [Stage.ENTITIES]) == ("late", 0)

    (event,) = await _events(client, keys)
    assert event.partial and event.article.revision == 1
    assert event.missing_stages == ["entities", "geocoder", "stories"]
    assert event.stages["entities"].status == "timeout"
    assert event.stages["summarizer"].status == "ok"
    assert event.entities == [] and event.places == [] and event.summary is not None

    # The missing results arrive after all: the complete event follows as revision 2,
    # once, whatever is delivered twice.
    assert await _add(merger, client, entities_result("p1")) == ("stored", 0)
    assert await _add(merger, client, entities_result("p1")) == ("late", 0)
    assert await payloads(client, keys.drafts) == []
    assert await _add(merger, client, places_result("p1")) == ("stored", 0)
    # The stories stage gets its draft now, of the revision the results belong to.
    (draft,) = [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.drafts)]
    assert draft.id == "p1" and draft.article.revision == 1
    assert await _add(merger, client, story_result("p1")) == ("completed", 0)
    assert await _add(merger, client, places_result("p1")) == ("late", 0)
    assert await _add(merger, client, summary_result("p1")) == ("late", 0)
    partial, complete = await _events(client, keys)
    assert complete.id == "p1" and complete.article.revision == 2
    assert not complete.partial and complete.missing_stages == []
    assert [e.name for e in complete.entities] == ["Mosul"]
    assert complete.summary == partial.summary
    assert {info.status for info in complete.stages.values()} == {"ok"}
    assert not await client.exists(keys.merge("p1"))


async def test_late_completion_takes_the_next_revision_number_after_replays(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    await _add(merger, client, summary_result("q1"))
    later = utc_now() + timedelta(seconds=settings.merge_deadline_s + 1)
    assert await merger.flush("q1", later, [Stage.GEOCODER]) == ("emitted", 3)
    # Two replays took revisions 2 and 3 meanwhile (newsflow replay counts in this hash).
    await client.hincrby(keys.revisions, "q1", 2)
    await _add(merger, client, entities_result("q1"))
    await _add(merger, client, places_result("q1"))
    assert await _add(merger, client, story_result("q1")) == ("completed", 0)
    _partial, complete = await _events(client, keys)
    assert complete.article.revision == 4


async def test_overdue_article_waits_while_the_stages_it_misses_are_up(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    await _add(merger, client, summary_result("w1"))
    later = utc_now() + timedelta(seconds=settings.merge_deadline_s + 1)
    # Busy, not down: the summarizer (present) is down, entities and geocoder are up.
    assert await merger.flush("w1", later, [Stage.SUMMARIZER]) == ("waiting", 3)
    assert await merger.flush("w1", later, []) == ("waiting", 3)
    assert await _events(client, Keys(settings.stream_prefix)) == []
    assert await merger.overdue(later) == ["w1"]


async def test_sweeper_flushes_only_overdue_articles_missing_a_down_stage(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    await _add(merger, client, summary_result("fresh"))
    await _add(merger, client, summary_result("old"))
    await _add(merger, client, entities_result("old"))
    await client.zadd(keys.merge_deadlines, {"old": 0})
    every_group = list(MERGED)
    await say_alive(client, settings, every_group)
    # Every stage up: nothing is partial, however overdue.
    assert await sweep_overdue(merger) == 0
    # The geocoder goes quiet: "old" (which misses it) goes out partial, "fresh" (not
    # overdue) waits.
    await client.delete(keys.alive(Stage.GEOCODER))
    assert await sweep_overdue(merger) == 1
    (event,) = await _events(client, keys)
    assert event.id == "old" and event.missing_stages == ["geocoder", "stories"]
    assert await merger.overdue(utc_now() + timedelta(days=1)) == ["fresh"]


async def test_liveness_markers_expire_when_no_process_refreshes_them(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    quick = settings.model_copy(update={"stage_down_after_s": 0.3})
    await say_alive(client, quick, MERGED)
    assert await stages_down(client, keys, MERGED) == []
    await say_alive(client, settings, ["summarizer"])  # refreshed with the long expiry
    expected: list[str] = [Stage.ENTITIES, Stage.GEOCODER, Stage.STORIES]
    await wait_until(lambda: _down_is(client, keys, expected), timeout=5.0)


async def _down_is(client: aredis.Redis, keys: Keys, expected: list[str]) -> bool:
    return await stages_down(client, keys, MERGED) == expected


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
                story_result(article),
            ):
                for merger, connection in zip(mergers, (client, other), strict=True):
                    await _add(merger, connection, result)
        events = await _events(client, Keys(settings.stream_prefix))
        assert sorted(e.id for e in events) == sorted(f"r{n}" for n in range(20))
    finally:
        await other.aclose()


async def test_a_declared_fourth_stage_is_waited_for_and_merged(
    client: aredis.Redis, settings: Settings
) -> None:
    probes = StreamDef("probes", PlacesResult, "A probe stage's results.")
    probe = StageDef("probe", (PIPELINE[Stage.GEOCODER].writes,), probes, {"probe": "null"})
    merger = Merger(client, settings, stages=pipeline_of((*ENRICHING, probe)).merged)
    keys = Keys(settings.stream_prefix)
    for result in (entities_result(), places_result(), summary_result()):
        assert await _add(merger, client, result) == ("stored", 0)
    summary = fragment(summary_result())
    probed = Fragment(summary.article, "probe", '"probe":7', summary.info, "ok", 0.0)
    pipe = client.pipeline(transaction=True)
    merger.queue_add(pipe, [probed], utc_now())
    (reply,) = await pipe.execute()
    # The probe comes before the stories stage: its member is in the draft too.
    assert parse_results(reply) == [("stored", 0)]
    (draft,) = await payloads(client, keys.drafts)
    assert json.loads(draft)["probe"] == 7
    assert await _add(merger, client, story_result()) == ("emitted", 0)
    (raw,) = await payloads(client, keys.enriched)
    assert json.loads(raw)["probe"] == 7
    assert set(json.loads(raw)["stages"]) == {
        "entities",
        "geocoder",
        "summarizer",
        "probe",
        "stories",
    }


async def test_a_batch_in_one_call_merges_as_its_results_would_one_by_one(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    await _add(merger, client, entities_result("b1"))
    await _add(merger, client, places_result("b1"))
    await _add(merger, client, summary_result("b1"))
    batch: list[StageResult] = [
        story_result("b1"),  # completes b1
        story_result("b1"),  # its duplicate, in the same call: late
        summary_result("b2"),  # the first result of b2
        entities_result("b2"),
        places_result("b2"),  # b2's draft goes out
    ]
    pipe = client.pipeline(transaction=True)
    merger.queue_add(pipe, [fragment(r) for r in batch], utc_now())
    (reply,) = await pipe.execute()
    assert parse_results(reply) == [("emitted", 0), ("late", 0)] + [("stored", 0)] * 3
    assert len(await payloads(client, keys.drafts)) == 2
    assert await _add(merger, client, story_result("b2")) == ("emitted", 0)
    assert sorted(e.id for e in await _events(client, keys)) == ["b1", "b2"]
    assert await client.zcard(keys.merge_deadlines) == 0


async def test_a_later_stage_may_revise_an_earlier_ones_members_in_event_and_draft(
    client: aredis.Redis, settings: Settings
) -> None:
    merger = Merger(client, settings)
    keys = Keys(settings.stream_prefix)
    entities = entities_result("v1")
    # The entity stage called Toulon an organisation; the geocoder resolved it as a city.
    wrong = entities.entities[0].model_copy(update={"name": "Toulon", "label": "ORG"})
    await _add(merger, client, entities.model_copy(update={"entities": [wrong]}))
    right = wrong.model_copy(update={"label": "GPE"})
    places = fragment(places_result("v1"))
    revised = dataclasses.replace(
        places,
        revises="entities",
        revision='"entities":' + json.dumps([right.model_dump(mode="json")]),
    )
    pipe = client.pipeline(transaction=True)
    merger.queue_add(pipe, [revised], utc_now())
    await pipe.execute()
    await _add(merger, client, summary_result("v1"))
    (draft,) = [EnrichedEvent.model_validate_json(p) for p in await payloads(client, keys.drafts)]
    assert [(e.name, e.label) for e in draft.entities] == [("Toulon", "GPE")]
    assert await _add(merger, client, story_result("v1")) == ("emitted", 0)
    (event,) = await _events(client, keys)
    assert [(e.name, e.label) for e in event.entities] == [("Toulon", "GPE")]
