"""Every Redis key, stream and consumer-group name newsflow uses, in one place.

Keys share the ``{prefix}`` so that on Redis Cluster a prefix written as a hash tag
(``{newsflow}``) keeps the whole pipeline in one slot, and partitioning is a setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """The enrichment stages whose results the aggregator merges."""

    ENTITIES = "entities"
    GEOCODER = "geocoder"
    SUMMARIZER = "summarizer"


#: The stages an enriched event needs, in the order they appear in it.
REQUIRED_STAGES: tuple[Stage, ...] = (Stage.ENTITIES, Stage.GEOCODER, Stage.SUMMARIZER)


class Group(StrEnum):
    """Consumer groups: one per worker type."""

    INGEST = "ingest"
    ENTITIES = "entities"
    GEOCODER = "geocoder"
    SUMMARIZER = "summarizer"
    AGGREGATOR = "aggregator"


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "newsflow"

    @property
    def articles(self) -> str:
        """Public input: raw article JSON from any producer (HTTP, CLI, redis-cli)."""
        return f"{self.prefix}:articles"

    @property
    def accepted(self) -> str:
        """Validated, deduplicated articles with their ids: what the workers read."""
        return f"{self.prefix}:accepted"

    @property
    def entities(self) -> str:
        """Entity results (read by the geocoder and the aggregator)."""
        return f"{self.prefix}:entities"

    @property
    def places(self) -> str:
        """Geocoder results."""
        return f"{self.prefix}:places"

    @property
    def summaries(self) -> str:
        """Summarizer results."""
        return f"{self.prefix}:summaries"

    @property
    def enriched(self) -> str:
        """Public output: one enriched event per article."""
        return f"{self.prefix}:enriched"

    @property
    def dead(self) -> str:
        """Dead letters from any stage."""
        return f"{self.prefix}:dead"

    @property
    def merge_deadlines(self) -> str:
        """Sorted set: article revision key -> time by which its merge must complete."""
        return f"{self.prefix}:merge-deadlines"

    def seen(self, article_id: str) -> str:
        """Dedupe marker of an accepted article id."""
        return f"{self.prefix}:seen:{article_id}"

    def merge(self, key: str) -> str:
        """Hash of the stage results received so far for an article revision
        (``shared.ids.revision_key``)."""
        return f"{self.prefix}:merge:{key}"

    def done(self, key: str) -> str:
        """Marker of an article revision already emitted to the enriched stream."""
        return f"{self.prefix}:done:{key}"

    def alive(self, group: str) -> str:
        """Marker that some process of a group was heard from lately (expires when none is:
        the group's stage is then down)."""
        return f"{self.prefix}:alive:{group}"

    @property
    def rate(self) -> str:
        """The pipeline's recent peak throughput in events per second (the aggregator
        measures it; ingest sizes its back-pressure by it)."""
        return f"{self.prefix}:rate"

    @property
    def revisions(self) -> str:
        """Hash: article id -> how many times it was replayed."""
        return f"{self.prefix}:revisions"

    def groups(self) -> dict[str, tuple[Group, ...]]:
        """Every stream that is read, with the groups that read it."""
        return {
            self.articles: (Group.INGEST,),
            self.accepted: (Group.ENTITIES, Group.SUMMARIZER),
            self.entities: (Group.GEOCODER, Group.AGGREGATOR),
            self.places: (Group.AGGREGATOR,),
            self.summaries: (Group.AGGREGATOR,),
        }


#: The field of a stream entry that holds the JSON payload.
DATA_FIELD = b"data"
