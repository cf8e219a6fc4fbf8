"""The pipeline's shape, declared once.

Every stream and every stage is declared here: what a stage reads and writes, and what
its result gives the enriched event. The rest derives from this module: the consumer
groups (:meth:`shared.streams.Keys.groups`), each service's inputs, the processes
``newsflow up`` runs, the stages ``newsflow bench`` measures, the contract documents
(``docs/api/``) and the merge's tables (the stages an event waits for, and what a missing
one contributes).

Adding a stage is a declaration here (its output stream and :class:`StageDef`) plus its
service folder ``services/{name}/app.py``; ``tests/unit/test_pipeline.py`` checks that
every declared stage has one, and that a new enriching stage reaches the merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from shared.schemas import (
    Article,
    ArticleIn,
    DeadLetter,
    EnrichedEvent,
    EntitiesResult,
    PlacesResult,
    SummaryResult,
    read_entities_result,
)
from shared.story_schemas import StoryResult, StoryUpdate


class Stage(StrEnum):
    """newsflow's stages. Each is a service (``services/{value}/``), one consumer group
    per stream it reads, and the ``stage`` label of its metrics and dead letters."""

    INGEST = "ingest"
    ENTITIES = "entities"
    GEOCODER = "geocoder"
    SUMMARIZER = "summarizer"
    STORIES = "stories"
    AGGREGATOR = "aggregator"


@dataclass(frozen=True)
class StreamDef:
    """A stream: its key is ``{prefix}:{name}``; every entry holds one ``model`` as JSON."""

    name: str
    model: type[BaseModel]
    description: str
    #: Public streams hold plain JSON any Redis client reads; internal ones are packed
    #: (``shared.wire.pack``).
    public: bool = False
    #: How an entry's JSON is read, when not by ``model`` alone (older versions too).
    reader: Callable[[bytes], BaseModel] | None = None

    def parse(self, payload: bytes) -> BaseModel:
        """An entry's payload as its model; raises ValidationError for anything else."""
        if self.reader is not None:
            return self.reader(payload)
        return self.model.model_validate_json(payload)


@dataclass(frozen=True)
class StageDef:
    """A stage: the streams it reads, the stream it writes, and, for the stages whose
    results the aggregator merges, the members of the enriched event it fills, each with
    its JSON when the stage's result is missing (a partial event)."""

    #: A :class:`Stage` (a plain name in tests that declare a stage of their own).
    stage: str
    reads: tuple[StreamDef, ...]
    writes: StreamDef
    fills: Mapping[str, str] = field(default_factory=dict)
    #: Streams it writes beside its result (the stories stage's public story updates).
    also_writes: tuple[StreamDef, ...] = ()
    #: One process decides at a time (it holds a lease); more processes are standbys,
    #: so a deployment keeps two and does not scale it on lag.
    single_owner: bool = False
    #: Processes ``newsflow up`` starts: one, or one per core for the stage that does
    #: most of the work (NER), so it gets every core the machine has.
    scale: Literal["one", "per_core"] = "one"
    #: Scheduling priority under ``newsflow up``: the per-core entities workers yield, so
    #: that the cheap stages after them still run as soon as a result is there (bench:
    #: Redis held 4 kB per in-flight article with the geocoder keeping up, up to 9 kB
    #: when it fell behind).
    nice: int = 0

    @property
    def name(self) -> str:
        """The stage's name: its service, consumer group and metric label."""
        return str(self.stage)

    @property
    def merged(self) -> bool:
        """Whether the enriched event waits for (and merges) this stage's result."""
        return bool(self.fills)

    @property
    def drafted(self) -> bool:
        """Whether the stage reads the drafts: the event merged from the other stages."""
        return DRAFTS in self.reads


# --------------------------------------------------------------------------- streams

ARTICLES = StreamDef(
    "articles", ArticleIn, "Public input: raw article JSON from any producer.", public=True
)
ACCEPTED = StreamDef("accepted", Article, "Validated, deduplicated articles with their ids.")
ENTITIES = StreamDef(
    "entities",
    EntitiesResult,
    "Entity results and place candidates.",
    reader=read_entities_result,
)
PLACES = StreamDef("places", PlacesResult, "Resolved places and the article's focus.")
SUMMARIES = StreamDef("summaries", SummaryResult, "Extractive summaries (and the text).")
DRAFTS = StreamDef(
    "drafts",
    EnrichedEvent,
    "Events merged from every stage that does not read them, for the stages that do "
    "(stories): what they need is the whole enrichment. They carry the text.",
)
ASSIGNED = StreamDef("assigned", StoryResult, "Each article's story.")
STORIES = StreamDef(
    "stories",
    StoryUpdate,
    "Public: story updates (a story created, an article added), each with the story's card.",
    public=True,
)
ENRICHED = StreamDef(
    "enriched", EnrichedEvent, "Public output: one enriched event per article.", public=True
)
DEAD = StreamDef(
    "dead",
    DeadLetter,
    "Dead letters of every stage, with the reason and the original payload.",
    public=True,
)

# --------------------------------------------------------------------------- stages

#: The stages whose results make the enriched event, in the order of its members.
ENRICHING = (
    StageDef(Stage.ENTITIES, (ACCEPTED,), ENTITIES, {"entities": "[]"}, scale="per_core", nice=5),
    StageDef(Stage.GEOCODER, (ENTITIES,), PLACES, {"places": "[]", "focus": "null"}),
    StageDef(Stage.SUMMARIZER, (ACCEPTED,), SUMMARIES, {"summary": "null"}),
    StageDef(
        Stage.STORIES,
        (DRAFTS,),
        ASSIGNED,
        {"story": "null"},
        also_writes=(STORIES,),
        single_owner=True,
    ),
)


@dataclass(frozen=True)
class Pipeline:
    """The stages in order, from the one producers feed to the one subscribers read."""

    stages: tuple[StageDef, ...]
    #: Streams no stage reads or writes as its main output (dead letters).
    extra_streams: tuple[StreamDef, ...] = ()

    def __iter__(self) -> Iterator[StageDef]:
        return iter(self.stages)

    def __getitem__(self, stage: str) -> StageDef:
        for declared in self.stages:
            if declared.name == stage:
                return declared
        raise KeyError(stage)

    @property
    def names(self) -> tuple[str, ...]:
        """Every stage's name, in pipeline order (the services ``newsflow up`` runs)."""
        return tuple(s.name for s in self.stages)

    @property
    def merged(self) -> tuple[StageDef, ...]:
        """The stages the enriched event waits for, in the order of its members."""
        return tuple(s for s in self.stages if s.merged)

    @property
    def drafted(self) -> tuple[StageDef, ...]:
        """The merged stages that read the drafts (they come last in :attr:`merged`)."""
        return tuple(s for s in self.merged if s.drafted)

    def streams(self) -> tuple[StreamDef, ...]:
        """Every stream, in the order data flows through them, each once."""
        seen: dict[str, StreamDef] = {}
        for declared in self.stages:
            for stream in (*declared.reads, declared.writes, *declared.also_writes):
                seen.setdefault(stream.name, stream)
        for stream in self.extra_streams:
            seen.setdefault(stream.name, stream)
        return tuple(seen.values())

    def readers(self, stream: StreamDef) -> tuple[str, ...]:
        """The stages (one consumer group each) that read ``stream``."""
        return tuple(s.name for s in self.stages if stream in s.reads)

    def writer(self, stream: StreamDef) -> StageDef | None:
        """The stage whose output ``stream`` is (None for the public input and extras)."""
        return next((s for s in self.stages if s.writes == stream), None)


def pipeline_of(enriching: tuple[StageDef, ...]) -> Pipeline:
    """The pipeline around some enriching stages: ingest feeds them, and the aggregator
    reads the outputs of those the event waits for. (A test builds one with an extra stage
    to show what a new stage changes.)"""
    # The stages that read the drafts come last: the merge sends an article's draft once
    # every stage before them is in.
    enriching = (*(s for s in enriching if not s.drafted), *(s for s in enriching if s.drafted))
    merged = [s for s in enriching if s.merged]
    ingest = StageDef(Stage.INGEST, (ARTICLES,), ACCEPTED)
    drafts = (DRAFTS,) if any(s.drafted for s in merged) else ()
    aggregator = StageDef(
        Stage.AGGREGATOR, tuple(s.writes for s in merged), ENRICHED, also_writes=drafts
    )
    return Pipeline((ingest, *enriching, aggregator), extra_streams=(DEAD,))


#: newsflow's pipeline.
PIPELINE = pipeline_of(ENRICHING)
