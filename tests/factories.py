"""Small builders of schema objects for tests."""

from __future__ import annotations

import re

from services.aggregator.merge import Fragment, StageResult, fragment_of, head_of
from shared import __version__
from shared.schemas import (
    ArticleMeta,
    EntitiesResult,
    Entity,
    Mention,
    Place,
    PlaceCandidate,
    PlacesResult,
    StageInfo,
    StageStatus,
    StoryRef,
    Summary,
    SummaryResult,
    SummarySentence,
    utc_now,
)
from shared.story_schemas import StoryResult


def meta(article_id: str = "a1") -> ArticleMeta:
    return ArticleMeta(id=article_id, title="Title", ingested_at=utc_now(), text_chars=40)


def info(stage: str, status: StageStatus = "ok") -> StageInfo:
    return StageInfo(stage=stage, status=status, duration_s=0.01, service_version=__version__)


def entities_result(article_id: str = "a1") -> EntitiesResult:
    mention = Mention(text="Mosul", start=0, end=5)
    entity = Entity(name="Mosul", label="GPE", mentions=[mention], count=1, salience=1.0)
    return EntitiesResult(
        meta=meta(article_id), entities=[entity], candidates=[], info=info("entities")
    )


def places_result(article_id: str = "a1") -> PlacesResult:
    place = Place(
        name="Mosul",
        geonameid=99072,
        latitude=36.335,
        longitude=43.11889,
        country_code="IQ",
        admin1="15",
        feature_class="P",
        feature_code="PPLA",
        population=1683000,
        confidence=0.9,
        focus=True,
        mentions=[Mention(text="Mosul", start=0, end=5)],
    )
    return PlacesResult(meta=meta(article_id), places=[place], info=info("geocoder"))


def summary_result(article_id: str = "a1") -> SummaryResult:
    sentence = SummarySentence(text="Mosul is a city.", start=0, end=16, score=1.0)
    return SummaryResult(
        meta=meta(article_id),
        summary=Summary(sentences=[sentence], text=sentence.text),
        info=info("summarizer"),
    )


def story_result(article_id: str = "a1", story_id: str = "st-0123456789abcdef") -> StoryResult:
    story = StoryRef(id=story_id, is_new=True, size=1, duplicate_of=None, score=0.0)
    return StoryResult(meta=meta(article_id), story=story, info=info("stories"))


def fragment(result: StageResult) -> Fragment:
    """The fragment of a result, as the aggregator makes it on its stage's stream."""
    return fragment_of(result, result.info.stage)


def enriched_event_json(
    article_id: str, country: str, story_id: str = "st-0123456789abcdef"
) -> bytes:
    """An enriched event as the merge script writes it, with one place in ``country``, in
    the story ``story_id``."""
    places = places_result(article_id)
    place = places.places[0].model_copy(update={"country_code": country})
    places = places.model_copy(update={"places": [place]})
    results = (
        entities_result(article_id),
        places,
        summary_result(article_id),
        story_result(article_id, story_id),
    )
    parts = [fragment(r) for r in results]
    stages = ",".join(f'"{f.stage}":{f.info}' for f in parts)
    return (
        "{"
        + head_of(parts[0].article)
        + ","
        + ",".join(f.members for f in parts)
        + ',"stages":{'
        + stages
        + '},"partial":false,"missing_stages":[],'
        + '"enriched_at":"2026-01-01T00:00:00Z"}'
    ).encode()


def place_candidates(text: str, spans: list[tuple[str, str]]) -> list[PlaceCandidate]:
    """Place candidates for each (span text, label), in text order, with their sentence,
    as the entity stage sends them: each span is found after the one before it."""
    sentences = [(m.start(), m.group()) for m in re.finditer(r"[^.!?]+(?:[.!?]+|$)", text)]
    out = []
    cursor = 0
    for span, label in spans:
        start = text.index(span, cursor)
        cursor = start + len(span)
        sent_start, sentence = next((s, t) for s, t in sentences if s <= start < s + len(t))
        out.append(
            PlaceCandidate(
                text=span,
                start=start,
                end=start + len(span),
                label=label,
                sentence=sentence,
                sentence_start=sent_start,
            )
        )
    return out
