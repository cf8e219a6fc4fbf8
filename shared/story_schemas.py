"""The stories stage's messages: its result (internal), its story updates (public) and the
record of each assignment it keeps so that its state can be rebuilt (internal).

The article's own member, :class:`~shared.schemas.StoryRef`, lives with the enriched
event in :mod:`shared.schemas`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.schemas import (
    SCHEMA_VERSION,
    ArticleMeta,
    Entity,
    Place,
    StageInfo,
    StoryRef,
    _Model,
    utc_now,
)


class StoryResult(_Model):
    """Stories stage output: the article's story (None when the stage failed on it)."""

    schema_version: int = SCHEMA_VERSION
    meta: ArticleMeta
    story: StoryRef | None
    info: StageInfo


class StoryEntity(_Model):
    """One of the people, organisations or places a story is most about."""

    name: str
    label: str
    weight: float = Field(ge=0.0, description="Its share of the story's entity weight.")


class StoryFocus(_Model):
    """The place most of a story's articles are about."""

    name: str
    geonameid: int
    latitude: float
    longitude: float
    country_code: str | None
    admin1: str | None
    articles: int = Field(ge=1, description="Articles of the story with this focus.")


class StoryCard(_Model):
    """A live story as readers see it (``newsflow stories``, the story stream)."""

    id: str
    label: str = Field(
        description="The headline (or first sentence) of the article most like the story."
    )
    articles: int = Field(ge=1)
    first_seen: AwareDatetime = Field(description="Its first article's publication time.")
    last_seen: AwareDatetime = Field(description="Its latest article's publication time.")
    entities: list[StoryEntity] = Field(default_factory=list)
    focus: StoryFocus | None = None


class StoryUpdate(_Model):
    """One change to a story, on the public ``{prefix}:stories`` stream."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["created", "added"] = Field(
        description="created: an article started the story; added: one joined it."
    )
    article_id: str
    duplicate_of: str | None = None
    story: StoryCard
    at: AwareDatetime = Field(default_factory=utc_now)


class StoryInput(_Model):
    """What the stories stage read of an article: the whole input of its assignment.

    It is recorded with each assignment (``{prefix}:stories:log``), so that replaying the
    records after the latest snapshot rebuilds the stage's state exactly.
    """

    meta: ArticleMeta
    text: str
    entities: list[Entity] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
