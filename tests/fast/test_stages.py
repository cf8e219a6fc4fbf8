"""Each service's stages through the real delivery code, on an in-memory Redis.

Every expected value is written here by hand (names in a text, a city's coordinates, a
pydantic message), never computed by the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import redis.asyncio as aredis

from shared.schemas import (
    Article,
    DeadLetter,
    EnrichedEvent,
    EntitiesResult,
    PlacesResult,
    SummaryResult,
    utc_now,
)
from shared.settings import Settings
from shared.story_schemas import StoryResult, StoryUpdate
from shared.streams import Keys
from tests.factories import entities_result, meta, places_result, story_result, summary_result
from tests.fast.memory import MemoryStage, dead_letters, outputs
from tests.story_fixtures import STREAM, draft

pytestmark = pytest.mark.anyio

TEXT = (
    "Heavy rain flooded Lyon, France, on Tuesday. Firefighters rescued dozens of residents "
    "from homes near the river. The mayor of Lyon said the city would need weeks to recover."
)
#: Lyon's city centre, and how far from it the geocoder may place the city.
LYON = (45.764, 4.835, 15.0)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _article(article_id: str, text: str = TEXT, **meta_fields: object) -> Article:
    article_meta = meta(article_id).model_copy(update={"text_chars": len(text), **meta_fields})
    return Article(meta=article_meta, text=text)


def _keys(settings: Settings) -> Keys:
    return Keys(settings.stream_prefix)


async def _only_letter(
    memory: aredis.Redis, settings: Settings, entry_id: str, stage: str
) -> DeadLetter:
    """The one dead letter there is: ``entry_id``'s, from ``stage``, for invalid input."""
    (letter,) = await dead_letters(memory, settings)
    assert (letter.source_entry_id, letter.stage, letter.error_type) == (
        entry_id,
        stage,
        "invalid_input",
    )
    return letter


# --- ingest ---------------------------------------------------------------------------


async def test_ingest_accepts_an_article_and_dead_letters_its_bad_batch_mates(
    ingest: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    good = json.dumps({"id": "in-1", "title": "Floods", "text": TEXT}).encode()
    bad_ids = await ingest.feed(b"{not json", good, b'{"title": "no text"}', {b"other": b"x"})
    assert await ingest.deliver() == 4

    (accepted,) = [
        Article.model_validate_json(p) for p in await outputs(memory, _keys(fast_settings).accepted)
    ]
    assert (accepted.meta.id, accepted.meta.title, accepted.text) == ("in-1", "Floods", TEXT)
    letters = {d.source_entry_id: d for d in await dead_letters(memory, fast_settings)}
    expected = {
        bad_ids[0]: "invalid JSON",
        bad_ids[2]: "text or html is required",
        bad_ids[3]: "entry has no 'data' field",
    }
    assert set(letters) == set(expected)
    for entry_id, fragment in expected.items():
        letter = letters[entry_id]
        assert (letter.stage, letter.error_type) == ("ingest", "invalid_input")
        assert letter.deliveries == 1
        assert fragment in letter.reason, letter.reason
        assert letter.source_stream == _keys(fast_settings).articles
    assert await ingest.pending() == 0


async def test_ingest_stores_a_repeated_id_once_and_acknowledges_both(
    ingest: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    await ingest.feed(
        json.dumps({"id": "dup", "text": TEXT}).encode(),
        json.dumps({"id": "dup", "text": TEXT + " Again."}).encode(),
    )
    await ingest.deliver(count=1)
    await ingest.deliver(count=1)
    (accepted,) = await outputs(memory, _keys(fast_settings).accepted)
    assert Article.model_validate_json(accepted).text == TEXT
    assert await dead_letters(memory, fast_settings) == []
    assert await ingest.pending() == 0


# --- entities -------------------------------------------------------------------------


async def test_entities_names_the_places_of_an_article(
    entities: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    await entities.feed(_article("e-1"))
    await entities.deliver()

    (payload,) = await outputs(memory, _keys(fast_settings).entities)
    result = EntitiesResult.model_validate_json(payload)
    assert result.meta.id == "e-1" and result.info.status == "ok"
    found = {entity.name: entity for entity in result.entities}
    assert {"Lyon", "France"} <= set(found)
    assert found["France"].label == "GPE"
    first = TEXT.index("Lyon")
    second = TEXT.index("Lyon", first + 1)
    assert [(m.start, m.end) for m in found["Lyon"].mentions] == [
        (first, first + 4),
        (second, second + 4),
    ]
    assert {c.text for c in result.place_candidates()} >= {"Lyon", "France"}
    assert result.text == TEXT  # carried on: the stories stage reads the drafts
    assert await entities.pending() == 0


async def test_entities_dead_letters_a_malformed_article_and_works_on_its_batch_mates(
    entities: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    broken_meta = b'{"meta": {"title": "no id"}, "text": "Rain in Lyon."}'
    ids = await entities.feed(_article("e-before"), broken_meta, b"[1, 2]", _article("e-after"))
    await entities.deliver()

    results = [
        EntitiesResult.model_validate_json(p)
        for p in await outputs(memory, _keys(fast_settings).entities)
    ]
    assert [r.meta.id for r in results] == ["e-before", "e-after"]
    letters = await dead_letters(memory, fast_settings)
    assert [(d.source_entry_id, d.stage, d.error_type) for d in letters] == [
        (ids[1], "entities", "invalid_input"),
        (ids[2], "entities", "invalid_input"),
    ]
    assert "meta.id: Field required" in letters[0].reason
    assert "meta.ingested_at: Field required" in letters[0].reason
    # The dead letter keeps the payload readable (inflated), whatever it was.
    assert letters[0].payload == broken_meta.decode()
    assert "(root): Input should be an object" in letters[1].reason
    assert await entities.pending() == 0


async def test_entities_passes_on_an_article_in_a_language_it_cannot_read(
    entities: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    await entities.feed(_article("e-fr", "Il pleut à Lyon.", language="fr"))
    await entities.deliver()
    (payload,) = await outputs(memory, _keys(fast_settings).entities)
    result = EntitiesResult.model_validate_json(payload)
    assert (result.entities, result.info.status) == ([], "skipped")
    assert result.info.error == "no entity model for language 'fr'"
    assert await entities.pending() == 0


async def test_work_that_keeps_failing_is_dead_lettered_with_a_failure_result_the_geocoder_skips(
    entities: MemoryStage, geocoder: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    def explode(_articles: list[Article]) -> list[EntitiesResult]:
        raise RuntimeError("model crashed")

    failing = MemoryStage(dataclasses.replace(entities.spec, work=explode), memory, fast_settings)
    (entry_id,) = await failing.feed(_article("e-boom"))
    await failing.deliver()
    assert await failing.pending() == 1  # left for a retry, nothing published
    assert await outputs(memory, _keys(fast_settings).entities) == []
    assert await failing.redeliver() == 1  # second delivery
    assert await failing.pending() == 1
    assert await failing.redeliver() == 1  # third: the last one
    assert await failing.pending() == 0

    (letter,) = await dead_letters(memory, fast_settings)
    assert (letter.source_entry_id, letter.error_type, letter.deliveries) == (
        entry_id,
        "RuntimeError",
        3,
    )
    assert (letter.article_id, letter.reason) == ("e-boom", "RuntimeError: model crashed")
    (payload,) = await outputs(memory, _keys(fast_settings).entities)
    failure = EntitiesResult.model_validate_json(payload)
    assert (failure.info.status, failure.info.error) == ("error", "RuntimeError: model crashed")

    await geocoder.deliver()
    (places_payload,) = await outputs(memory, _keys(fast_settings).places)
    places = PlacesResult.model_validate_json(places_payload)
    assert (places.meta.id, places.places, places.info.status) == ("e-boom", [], "skipped")
    assert places.info.error == "entity stage error: RuntimeError: model crashed"


# --- geocoder -------------------------------------------------------------------------


async def test_entities_feed_the_geocoder_which_places_the_article_in_lyon(
    entities: MemoryStage, geocoder: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    await entities.feed(_article("g-1"))
    await entities.deliver()
    # The geocoder's group reads the entity stage's output stream: nothing to feed by hand.
    assert await geocoder.deliver() == 1

    (payload,) = await outputs(memory, _keys(fast_settings).places)
    result = PlacesResult.model_validate_json(payload)
    assert result.meta.id == "g-1" and result.info.status == "ok"
    lyon = next(p for p in result.places if p.name == "Lyon")
    assert lyon.country_code == "FR" and lyon.focus
    assert _km(lyon.latitude, lyon.longitude, LYON[0], LYON[1]) <= LYON[2]
    assert {m.text for m in lyon.mentions} == {"Lyon"}
    assert any(p.name == "France" and p.country_code == "FR" for p in result.places)
    assert await geocoder.pending() == 0


async def test_the_geocoder_says_which_mentions_are_places(
    entities: MemoryStage, geocoder: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    # The small model reads "Rafah" here as a person; whatever it says, the entity list
    # the geocoder hands on (or the entity stage's, when it needs no change) calls each
    # resolved place mention a place.
    text = "Aid trucks entered Rafah on Monday, officials in Gaza said, as talks in Cairo resumed."
    await entities.feed(_article("g-agree", text))
    await entities.deliver()
    assert await geocoder.deliver() == 1
    keys = _keys(fast_settings)
    (entities_payload,) = await outputs(memory, keys.entities)
    (places_payload,) = await outputs(memory, keys.places)
    places = PlacesResult.model_validate_json(places_payload)
    found = places.entities
    if found is None:
        found = EntitiesResult.model_validate_json(entities_payload).entities
    label = {m.text: e.label for e in found for m in e.mentions}
    assert {p.name for p in places.places} >= {"Gaza", "Cairo"}
    assert any(m.text == "Rafah" for p in places.places for m in p.mentions)
    assert label["Rafah"] == "GPE"
    assert label["Gaza"] == "GPE" and label["Cairo"] == "GPE"


async def test_geocoder_dead_letters_a_result_that_is_not_one(
    geocoder: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    ids = await geocoder.feed(b'{"meta": 7}', entities_result("g-ok"))
    await geocoder.deliver()
    letter = await _only_letter(memory, fast_settings, ids[0], "geocoder")
    assert "meta: Input should be an object" in letter.reason
    (payload,) = await outputs(memory, _keys(fast_settings).places)
    assert PlacesResult.model_validate_json(payload).meta.id == "g-ok"
    assert await geocoder.pending() == 0


# --- summarizer -----------------------------------------------------------------------


async def test_summarizer_summarizes_with_sentences_of_the_text(
    summarizer: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    short = "Heavy rain flooded Lyon on Tuesday."
    await summarizer.feed(_article("s-1"), _article("s-short", short))
    await summarizer.deliver()

    results = {
        r.meta.id: r
        for r in (
            SummaryResult.model_validate_json(p)
            for p in await outputs(memory, _keys(fast_settings).summaries)
        )
    }
    assert set(results) == {"s-1", "s-short"}
    long_summary = results["s-1"].summary
    assert long_summary is not None and long_summary.sentences
    assert len(long_summary.sentences) <= fast_settings.summary_sentences
    for sentence in long_summary.sentences:
        assert TEXT[sentence.start : sentence.end] == sentence.text
    # A one-sentence article is its own summary.
    short_summary = results["s-short"].summary
    assert short_summary is not None and short_summary.text == short
    # The entity stage carries the text to the drafts; the summarizer runs ahead of it.
    assert results["s-1"].text is None
    assert await summarizer.pending() == 0


async def test_summarizer_dead_letters_an_article_without_text(
    summarizer: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    no_text = _article("s-bad").model_dump(mode="json")
    del no_text["text"]
    ids = await summarizer.feed(json.dumps(no_text).encode(), _article("s-good"))
    await summarizer.deliver()
    (letter,) = await dead_letters(memory, fast_settings)
    assert (letter.source_entry_id, letter.stage) == (ids[0], "summarizer")
    assert "text: Field required" in letter.reason
    (payload,) = await outputs(memory, _keys(fast_settings).summaries)
    assert SummaryResult.model_validate_json(payload).meta.id == "s-good"
    assert await summarizer.pending() == 0


# --- aggregator -----------------------------------------------------------------------


async def test_aggregator_merges_the_four_results_into_one_event(
    aggregator: list[MemoryStage], memory: aredis.Redis, fast_settings: Settings
) -> None:
    on_entities, on_places, on_summaries, on_stories = aggregator
    enriched, drafts = _keys(fast_settings).enriched, _keys(fast_settings).drafts
    await on_entities.feed(entities_result("m-1"))
    await on_places.feed(places_result("m-1"))
    await on_entities.deliver()
    await on_places.deliver()
    assert await outputs(memory, drafts) == []  # the summary is still missing

    await on_summaries.feed(summary_result("m-1"))
    await on_summaries.deliver()
    # The stories stage's input: the merge so far, once.
    (draft,) = [EnrichedEvent.model_validate_json(p) for p in await outputs(memory, drafts)]
    assert (draft.id, draft.missing_stages) == ("m-1", ["stories"])
    assert await outputs(memory, enriched) == []

    await on_stories.feed(story_result("m-1"))
    await on_stories.deliver()
    (payload,) = await outputs(memory, enriched)
    event = EnrichedEvent.model_validate_json(payload)
    assert (event.id, event.article.revision, event.partial, event.missing_stages) == (
        "m-1",
        1,
        False,
        [],
    )
    assert [e.name for e in event.entities] == ["Mosul"]
    assert [p.geonameid for p in event.places] == [99072]
    assert event.focus is not None and event.focus.geonameid == 99072
    assert event.summary is not None and event.summary.text == "Mosul is a city."
    assert {name: info.status for name, info in event.stages.items()} == {
        "entities": "ok",
        "geocoder": "ok",
        "summarizer": "ok",
        "stories": "ok",
    }
    assert event.story is not None and event.story.id == "st-0123456789abcdef"
    for stage in aggregator:
        assert await stage.pending() == 0


async def test_aggregator_emits_an_article_once_however_often_a_result_comes(
    aggregator: list[MemoryStage], memory: aredis.Redis, fast_settings: Settings
) -> None:
    on_entities, on_places, on_summaries, on_stories = aggregator
    await on_entities.feed(entities_result("m-2"))
    await on_places.feed(places_result("m-2"))
    await on_summaries.feed(summary_result("m-2"), summary_result("m-2"))
    await on_stories.feed(story_result("m-2"))
    for stage in aggregator:
        await stage.deliver(count=1)
    await on_entities.feed(entities_result("m-2"))  # a redelivered result, after the event
    await on_entities.deliver()
    events = await outputs(memory, _keys(fast_settings).enriched)
    assert [EnrichedEvent.model_validate_json(p).id for p in events] == ["m-2"]
    assert await dead_letters(memory, fast_settings) == []
    for stage in aggregator:
        assert await stage.pending() == 0


async def test_aggregator_dead_letters_a_result_of_the_wrong_kind(
    aggregator: list[MemoryStage], memory: aredis.Redis, fast_settings: Settings
) -> None:
    _on_entities, on_places, _on_summaries, _on_stories = aggregator
    (entry_id,) = await on_places.feed(b'{"meta": {"id": "x"}, "places": "Lyon"}')
    await on_places.deliver()
    letter = await _only_letter(memory, fast_settings, entry_id, "aggregator")
    assert "places: Input should be a valid array" in letter.reason
    assert await on_places.pending() == 0


# --- stories --------------------------------------------------------------------------


async def test_stories_places_articles_in_stories_once_and_publishes_their_updates(
    stories: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    keys = _keys(fast_settings)
    first, second, other = STREAM[0], STREAM[2], STREAM[1]  # fire, fire again, earthquake
    await stories.feed(draft(first), draft(second), draft(other))
    assert await stories.deliver() == 3
    results = [StoryResult.model_validate_json(p) for p in await outputs(memory, keys.assigned)]
    fire, again, quake = (r.story for r in results)
    assert fire is not None and again is not None and quake is not None
    assert fire.is_new and again.id == fire.id and not again.is_new and again.size == 2
    assert quake.id != fire.id and quake.is_new
    updates = [StoryUpdate.model_validate_json(p) for p in await outputs(memory, keys.stories)]
    assert [(u.kind, u.article_id) for u in updates] == [
        ("created", "a1"),
        ("added", "a3"),
        ("created", "a2"),
    ]
    assert updates[1].story.articles == 2 and updates[1].story.focus is not None
    assert await memory.hlen(keys.story_state("cards")) == 2
    assert await memory.xlen(keys.story_state("log")) == 3

    # A second delivery of an article: the story it has, and no update.
    await stories.feed(draft(second))
    await stories.deliver()
    repeated = StoryResult.model_validate_json((await outputs(memory, keys.assigned))[-1])
    assert repeated.story == again
    assert len(await outputs(memory, keys.stories)) == 3
    assert await memory.xlen(keys.story_state("log")) == 3
    assert await stories.pending() == 0


async def test_stories_dead_letters_a_draft_that_is_no_event(
    stories: MemoryStage, memory: aredis.Redis, fast_settings: Settings
) -> None:
    (entry_id,) = await stories.feed(b'{"id": "x", "article": 3}')
    await stories.deliver()
    letter = await _only_letter(memory, fast_settings, entry_id, "stories")
    assert "article" in letter.reason
    assert await outputs(memory, _keys(fast_settings).assigned) == []


# --- the whole flow -------------------------------------------------------------------


async def _through(flow: list[MemoryStage], article: dict[str, str]) -> None:
    """One raw article through every stage in turn: each reads its own group, once."""
    await flow[0].feed(json.dumps(article).encode())
    for stage in flow:
        assert await stage.deliver() == 1, stage.spec.name


async def test_an_article_goes_from_the_public_stream_to_an_enriched_event(
    flow: list[MemoryStage], memory: aredis.Redis, fast_settings: Settings
) -> None:
    started = utc_now()
    await _through(flow, {"id": "flow-1", "title": "Floods", "text": TEXT})

    (payload,) = await outputs(memory, _keys(fast_settings).enriched)
    event = EnrichedEvent.model_validate_json(payload)
    assert (event.id, event.article.title, event.partial) == ("flow-1", "Floods", False)
    assert event.enriched_at >= started
    assert event.focus is not None and event.focus.name == "Lyon"
    assert event.summary is not None
    assert all(TEXT[s.start : s.end] == s.text for s in event.summary.sentences)
    assert event.story is not None and event.story.is_new and event.story.size == 1
    (update,) = [
        StoryUpdate.model_validate_json(p)
        for p in await outputs(memory, _keys(fast_settings).stories)
    ]
    assert (update.kind, update.article_id, update.story.id) == (
        "created",
        "flow-1",
        event.story.id,
    )
    assert update.story.label == "Floods" and update.story.articles == 1
    assert update.story.focus is not None and update.story.focus.name == "Lyon"
    assert await dead_letters(memory, fast_settings) == []
    for stage in flow:
        assert await stage.pending() == 0, stage.spec.name


async def test_the_event_says_place_wherever_the_geocoder_resolved_one(
    flow: list[MemoryStage], memory: aredis.Redis, fast_settings: Settings
) -> None:
    # The small model reads "Rafah" as a person: the event follows the geocoder.
    text = "Aid trucks entered Rafah on Monday, officials in Gaza said, as talks in Cairo resumed."
    await _through(flow, {"id": "one-truth", "text": text})
    (payload,) = await outputs(memory, _keys(fast_settings).enriched)
    event = EnrichedEvent.model_validate_json(payload)
    label = {m.text: e.label for e in event.entities for m in e.mentions}
    placed = {m.text for p in event.places for m in p.mentions}
    assert "Rafah" in placed and label["Rafah"] == "GPE"
    assert all(label.get(name) in ("GPE", "LOC", "FAC") for name in placed), label
    assert not [e for e in event.entities if e.label == "PERSON" and e.name == "Rafah"]
