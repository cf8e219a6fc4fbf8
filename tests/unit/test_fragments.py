"""Stage results become event fragments that assemble into a valid EnrichedEvent."""

from __future__ import annotations

import json

from services.aggregator.merge import (
    StageResult,
    empty_fragment,
    fragment_of,
    head_of,
    missing_info,
)
from shared.pipeline import PIPELINE, Stage
from shared.schemas import EnrichedEvent, utc_now
from tests.factories import (
    entities_result,
    fragment,
    places_result,
    story_result,
    summary_result,
)


def _assemble(members: list[str], stages: dict[str, str], missing: list[str]) -> EnrichedEvent:
    # The same concatenation merge.lua does.
    document = (
        "{"
        + ",".join(members)
        + ',"stages":{'
        + ",".join(f'"{k}":{v}' for k, v in stages.items())
        + '},"partial":'
        + ("true" if missing else "false")
        + ',"missing_stages":'
        + json.dumps(missing)
        + ',"enriched_at":'
        + json.dumps(utc_now().isoformat())
        + "}"
    )
    return EnrichedEvent.model_validate_json(document)


def test_fragments_of_every_stage_assemble_into_an_event() -> None:
    results: list[StageResult] = [
        entities_result(),
        places_result(),
        summary_result(),
        story_result(),
    ]
    fragments = [fragment(r) for r in results]
    assert [f.stage for f in fragments] == [stage.name for stage in PIPELINE.merged]
    event = _assemble(
        [head_of(fragments[0].article)] + [f.members for f in fragments],
        {f.stage: f.info for f in fragments},
        [],
    )
    assert event.id == "a1"
    assert event.focus is not None and event.focus.name == "Mosul"
    assert event.places[0].focus
    assert event.story is not None and event.story.id == "st-0123456789abcdef"


def test_missing_stage_defaults_assemble_into_a_partial_event() -> None:
    summary = fragment(summary_result())
    event = _assemble(
        [
            head_of(summary.article),
            empty_fragment(PIPELINE[Stage.ENTITIES]),
            empty_fragment(PIPELINE[Stage.GEOCODER]),
            summary.members,
        ],
        {
            "entities": missing_info(PIPELINE[Stage.ENTITIES]),
            "geocoder": missing_info(PIPELINE[Stage.GEOCODER]),
            "summarizer": summary.info,
        },
        ["entities", "geocoder"],
    )
    assert event.partial and event.entities == [] and event.focus is None
    assert event.stages["geocoder"].status == "timeout"


def test_head_escapes_ids() -> None:
    meta = entities_result('we"ird').meta
    assert json.loads("{" + head_of(meta) + "}")["id"] == 'we"ird'


def test_the_text_goes_to_the_drafts_and_to_the_event_only_when_asked() -> None:
    text = "Lyon, « inondée » mardi. \U0001f30a"
    entities = entities_result().model_copy(update={"text": text})
    results: list[StageResult] = [entities, places_result(), summary_result()]
    asked = [fragment_of(r, r.info.stage, event_text=True) for r in results]
    members = [head_of(asked[0].article)] + [f.members for f in asked]
    event = _assemble(members, {f.stage: f.info for f in asked}, [])
    assert event.text == text
    plain = [fragment(r) for r in results]
    without = _assemble(
        [head_of(plain[0].article)] + [f.members for f in plain],
        {f.stage: f.info for f in plain},
        [],
    )
    assert without.text is None
    assert "text" not in json.loads("{" + plain[0].members + "}")
    # The drafts get it either way: the stories stage reads the words.
    assert json.loads("{" + plain[0].draft + "}") == {"text": text}
    assert asked[0].draft == "" and plain[2].draft == ""
