"""Every Redis key, stream and consumer-group name newsflow uses, in one place.

Keys share the ``{prefix}`` so that on Redis Cluster a prefix written as a hash tag
(``{newsflow}``) keeps the whole pipeline in one slot, and partitioning is a setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.pipeline import (
    ACCEPTED,
    ARTICLES,
    ASSIGNED,
    DEAD,
    DRAFTS,
    ENRICHED,
    ENTITIES,
    PIPELINE,
    PLACES,
    STORIES,
    SUMMARIES,
    Pipeline,
    StageDef,
    StreamDef,
)

#: The stories stage's own keys: ``lease`` (its owner's token), ``log`` (a stream of the
#: inputs assigned since the snapshot), ``snapshot`` (the whole state, compressed),
#: ``cards`` (hash: story id -> card) and ``live`` (sorted set: story id by last seen).
STORY_STATE = ("lease", "log", "snapshot", "cards", "live")


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "newsflow"

    def stream(self, stream: StreamDef) -> str:
        """The key of a declared stream (``shared.pipeline``)."""
        return f"{self.prefix}:{stream.name}"

    @property
    def articles(self) -> str:
        """The ``articles`` stream (``shared.pipeline.ARTICLES``)."""
        return self.stream(ARTICLES)

    @property
    def accepted(self) -> str:
        """The ``accepted`` stream (``shared.pipeline.ACCEPTED``)."""
        return self.stream(ACCEPTED)

    @property
    def entities(self) -> str:
        """The ``entities`` stream (``shared.pipeline.ENTITIES``)."""
        return self.stream(ENTITIES)

    @property
    def places(self) -> str:
        """The ``places`` stream (``shared.pipeline.PLACES``)."""
        return self.stream(PLACES)

    @property
    def summaries(self) -> str:
        """The ``summaries`` stream (``shared.pipeline.SUMMARIES``)."""
        return self.stream(SUMMARIES)

    @property
    def enriched(self) -> str:
        """The ``enriched`` stream (``shared.pipeline.ENRICHED``)."""
        return self.stream(ENRICHED)

    @property
    def drafts(self) -> str:
        """The ``drafts`` stream (``shared.pipeline.DRAFTS``)."""
        return self.stream(DRAFTS)

    @property
    def assigned(self) -> str:
        """The ``assigned`` stream (``shared.pipeline.ASSIGNED``)."""
        return self.stream(ASSIGNED)

    @property
    def stories(self) -> str:
        """The public ``stories`` stream of story updates (``shared.pipeline.STORIES``)."""
        return self.stream(STORIES)

    def story_state(self, name: str) -> str:
        """A key of the stories stage's own state (one of :data:`STORY_STATE`)."""
        return f"{self.prefix}:stories:{name}"

    def story_state_keys(self) -> tuple[str, ...]:
        """Every key of the stories stage's own state."""
        return tuple(self.story_state(name) for name in STORY_STATE)

    @property
    def dead(self) -> str:
        """The ``dead`` stream (``shared.pipeline.DEAD``)."""
        return self.stream(DEAD)

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

    def inputs(self, stage: StageDef) -> list[tuple[str, str]]:
        """The streams a stage reads, each with the stage's consumer group on it."""
        return [(self.stream(stream), stage.name) for stream in stage.reads]

    def groups(self, pipeline: Pipeline = PIPELINE) -> dict[str, tuple[str, ...]]:
        """Every stream that is read, with the groups (one per stage) that read it."""
        return {
            self.stream(stream): readers
            for stream in pipeline.streams()
            if (readers := pipeline.readers(stream))
        }


#: The field of a stream entry that holds the JSON payload.
DATA_FIELD = b"data"
