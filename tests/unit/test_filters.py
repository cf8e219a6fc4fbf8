"""Event filters: alternatives within a kind, all kinds must hold."""

from __future__ import annotations

from typing import Any

from shared.filters import EventFilter

EVENT: dict[str, Any] = {
    "article": {"source": "AFP"},
    "entities": [
        {"name": "Gary Volesky", "label": "PERSON", "mentions": [{"text": "Volesky"}]},
        {"name": "Islamic State", "label": "ORG", "mentions": [{"text": "IS"}]},
    ],
    "places": [
        {"name": "Mosul", "country_code": "IQ", "mentions": [{"text": "Mosul"}]},
        {"name": "Erbil", "country_code": "IQ", "mentions": [{"text": "Arbil"}]},
    ],
    "story": {"id": "st-8fa52fdfa2036a00", "is_new": True, "size": 1},
}


def test_empty_filter_passes_everything() -> None:
    assert EventFilter().is_empty()
    assert EventFilter().matches(EVENT)
    assert EventFilter().matches({})


def test_each_kind_matches_and_rejects() -> None:
    assert EventFilter.of(countries=["iq"]).matches(EVENT)
    assert not EventFilter.of(countries=["FR"]).matches(EVENT)
    assert EventFilter.of(places=["arbil"]).matches(EVENT)  # a mention's text counts
    assert EventFilter.of(places=["Erbil"]).matches(EVENT)
    assert not EventFilter.of(places=["Paris"]).matches(EVENT)
    assert EventFilter.of(entities=["volesky"]).matches(EVENT)
    assert EventFilter.of(entities=["Islamic State"]).matches(EVENT)
    assert not EventFilter.of(entities=["Obama"]).matches(EVENT)
    assert EventFilter.of(labels=["person"]).matches(EVENT)
    assert not EventFilter.of(labels=["GPE"]).matches(EVENT)
    assert EventFilter.of(sources=[" afp "]).matches(EVENT)
    assert not EventFilter.of(sources=["Reuters"]).matches(EVENT)
    assert EventFilter.of(stories=["ST-8fa52fdfa2036a00"]).matches(EVENT)
    assert not EventFilter.of(stories=["st-0000000000000000"]).matches(EVENT)
    # An event without a story (the stories stage was down) is in no story.
    assert not EventFilter.of(stories=["st-8fa52fdfa2036a00"]).matches({"story": None})
    assert not EventFilter.of(stories=["st-8fa52fdfa2036a00"]).is_empty()


def test_alternatives_within_a_kind_and_conjunction_across_kinds() -> None:
    assert EventFilter.of(countries=["FR", "IQ"]).matches(EVENT)
    assert EventFilter.of(countries=["IQ"], labels=["ORG"]).matches(EVENT)
    assert not EventFilter.of(countries=["IQ"], sources=["Reuters"]).matches(EVENT)
