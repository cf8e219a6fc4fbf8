"""Message versions: the entity result's compact wire form and its adapter for version 1."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.schemas import (
    ENTITIES_SCHEMA_VERSION,
    EntitiesResult,
    PlaceCandidate,
    read_entities_result,
)
from tests.factories import entities_result, info, meta

SENTENCE = "Fighting raged in Mosul and Erbil, Iraq."


def _candidates() -> list[PlaceCandidate]:
    return [
        PlaceCandidate(
            text=name,
            start=SENTENCE.index(name),
            end=SENTENCE.index(name) + len(name),
            label=label,
            sentence=SENTENCE,
            sentence_start=0,
        )
        for name, label in (("Mosul", "GPE"), ("Erbil", "PERSON"), ("Iraq", "GPE"))
    ] + [
        PlaceCandidate(
            text="Lyon", start=50, end=54, label="GPE", sentence="In Lyon.", sentence_start=47
        )
    ]


def test_each_sentence_is_sent_once_and_candidates_come_back_whole() -> None:
    result = EntitiesResult.of(meta(), [], _candidates(), info("entities"))
    assert result.schema_version == ENTITIES_SCHEMA_VERSION == 2
    assert [s.text for s in result.sentences] == [SENTENCE, "In Lyon."]
    wire = result.model_dump_json()
    assert wire.count(SENTENCE) == 1
    parsed = EntitiesResult.model_validate_json(wire)
    assert parsed.place_candidates() == _candidates()


def test_version_1_messages_are_still_read() -> None:
    old = json.loads(entities_result().model_dump_json())
    old["schema_version"] = 1
    del old["sentences"], old["text"]  # version 1 had neither
    old["candidates"] = [c.model_dump() for c in _candidates()]
    parsed = read_entities_result(json.dumps(old))
    assert parsed.schema_version == 2
    assert parsed.place_candidates() == _candidates()


def test_with_the_text_carried_sentences_are_spans_of_it() -> None:
    # The first sentence is the text's own; the second, "In Lyon.", is not where its
    # start says (as if the model had been given other characters there): sent as a copy.
    text = SENTENCE + " Later: in Lyon!"
    result = EntitiesResult.of(meta(), [], _candidates(), info("entities"), text)
    wire = result.model_dump_json()
    assert wire.count(SENTENCE) == 1  # in the text only
    parsed = EntitiesResult.model_validate_json(wire)
    assert [(s.text, s.end) for s in parsed.sentences] == [("", len(SENTENCE)), ("In Lyon.", None)]
    assert parsed.place_candidates() == _candidates()
    assert parsed.sentence_texts() == [(0, SENTENCE), (47, "In Lyon.")]


def test_a_sentence_span_outside_the_text_is_refused_with_the_reason() -> None:
    data = json.loads(
        EntitiesResult.of(meta(), [], _candidates(), info("entities"), SENTENCE).model_dump_json()
    )
    data["text"] = "Too short."
    with pytest.raises(ValidationError, match="sentence span 0-40 is not in the text"):
        EntitiesResult.model_validate_json(json.dumps(data))
    data["text"] = None
    with pytest.raises(ValidationError, match="none carried"):
        EntitiesResult.model_validate_json(json.dumps(data))
