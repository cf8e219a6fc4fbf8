"""Settings come from NEWSFLOW_ variables and are validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import load_settings
from shared.streams import Keys


def test_environment_sets_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_STREAM_PREFIX", "{eu}")
    monkeypatch.setenv("NEWSFLOW_MAX_DELIVERIES", "7")
    settings = load_settings()
    assert settings.max_deliveries == 7
    assert Keys(settings.stream_prefix).articles == "{eu}:articles"


def test_bad_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        load_settings(redis_url="http://localhost")
    with pytest.raises(ValidationError):
        load_settings(backlog_limit=0)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.max_deliveries = 2  # type: ignore[misc]


def test_every_stream_has_a_distinct_key() -> None:
    keys = Keys("p")
    names = [
        keys.articles,
        keys.accepted,
        keys.entities,
        keys.places,
        keys.summaries,
        keys.enriched,
        keys.dead,
        keys.merge_deadlines,
    ]
    assert len(set(names)) == len(names)
    assert all(name.startswith("p:") for name in names)
