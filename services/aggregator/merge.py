"""Merging stage results into enriched events.

Each stage result becomes a *fragment*: the JSON members it contributes to the
:class:`~shared.schemas.EnrichedEvent` (``"summary":{...}``). The merge script
(``merge.lua``) stores fragments per article inside Redis and, atomically, emits the
event once all stages are in, or as partial once the deadline has passed and a stage it
misses is down; results that arrive after that complete it as its next revision.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from pydantic import TypeAdapter
from redis.asyncio.client import Pipeline

from shared import __version__
from shared.ids import parse_revision_key, revision_key
from shared.pipeline import PIPELINE, Stage, StageDef
from shared.redis_client import output_trim, queue_script
from shared.schemas import (
    SCHEMA_VERSION,
    ArticleMeta,
    EntitiesResult,
    Entity,
    Place,
    PlacesResult,
    StageInfo,
    StoryRef,
    Summary,
    SummaryResult,
)
from shared.settings import Settings
from shared.story_schemas import StoryResult
from shared.streams import DATA_FIELD, Keys

_MERGE_LUA = Path(__file__).with_name("merge.lua").read_text()

_ENTITIES = TypeAdapter(list[Entity])
_PLACES = TypeAdapter(list[Place])
_PLACE = TypeAdapter(Place | None)
_SUMMARY = TypeAdapter(Summary | None)
_STORY = TypeAdapter(StoryRef | None)

StageResult = EntitiesResult | PlacesResult | SummaryResult | StoryResult


@dataclass(frozen=True)
class Fragment:
    """One stage's contribution to an enriched event."""

    article: ArticleMeta
    stage: str
    members: str
    info: str
    status: str
    duration_s: float
    #: Members for the drafts only (what the stages reading them need beside the event).
    draft: str = ""
    #: An earlier stage whose members this result revises (or ""), and the revised ones.
    revises: str = ""
    revision: str = ""


def _members(**parts: bytes) -> str:
    return ",".join(f'"{name}":{value.decode()}' for name, value in parts.items())


def _entities(result: EntitiesResult) -> str:
    return _members(entities=_ENTITIES.dump_json(result.entities))


def _places(result: PlacesResult) -> str:
    focus = next((p for p in result.places if p.focus), None)
    return _members(places=_PLACES.dump_json(result.places), focus=_PLACE.dump_json(focus))


def _summary(result: SummaryResult) -> str:
    return _members(summary=_SUMMARY.dump_json(result.summary))


def _story(result: StoryResult) -> str:
    return _members(story=_STORY.dump_json(result.story))


def _text(result: EntitiesResult) -> str:
    if result.text is None:
        return ""
    return f'"text":{json.dumps(result.text, ensure_ascii=False)}'


#: How each merged stage's result becomes the event members it fills (the members are
#: declared in ``shared.pipeline``; a test checks each builder gives exactly those).
CONTRIBUTIONS: dict[str, Callable[[Any], str]] = {
    Stage.ENTITIES: _entities,
    Stage.GEOCODER: _places,
    Stage.SUMMARIZER: _summary,
    Stage.STORIES: _story,
}

#: Members a stage's result gives the drafts only: the stories stage reads the text, which
#: the event carries only with NEWSFLOW_EVENT_TEXT (the entity stage carries it on).
DRAFT_MEMBERS: dict[str, Callable[[Any], str]] = {Stage.ENTITIES: _text}


#: How a stage's result revises an earlier stage's members: (that stage, its members), or
#: None when it does not. The entity list comes from the geocoder when its labels had to
#: agree with the places it resolved (one truth per mention).
def _agreed_entities(result: PlacesResult) -> tuple[str, str] | None:
    if result.entities is None:
        return None
    return Stage.ENTITIES, _members(entities=_ENTITIES.dump_json(result.entities))


REVISIONS: dict[str, Callable[[Any], tuple[str, str] | None]] = {
    Stage.GEOCODER: _agreed_entities,
}


def fragment_of(result: StageResult, stage: str, *, event_text: bool = False) -> Fragment:
    """The fragment a stage's result contributes; with ``event_text`` the members it gives
    the drafts go in the event too."""
    info = result.info
    members = CONTRIBUTIONS[stage](result)
    draft = DRAFT_MEMBERS[stage](result) if stage in DRAFT_MEMBERS else ""
    if event_text and draft:
        members, draft = f"{members},{draft}", ""
    revised = REVISIONS[stage](result) if stage in REVISIONS else None
    return Fragment(
        result.meta,
        stage,
        members,
        info.model_dump_json(),
        info.status,
        info.duration_s,
        draft,
        *(revised or ("", "")),
    )


def empty_fragment(stage: StageDef) -> str:
    """What a missing stage contributes to a partial event."""
    return ",".join(f'"{name}":{value}' for name, value in stage.fills.items())


def missing_info(stage: StageDef) -> str:
    """The stage info of a stage whose result did not arrive before the deadline."""
    return StageInfo(
        stage=stage.name, status="timeout", duration_s=0.0, service_version=__version__
    ).model_dump_json()


def head_prefix(meta: ArticleMeta) -> str:
    """The members every event starts with (version, id, article metadata), up to the
    article's revision number: the merge script appends the revision it emits."""
    article = meta.model_dump_json(exclude={"revision"})
    return (
        f'"schema_version":{SCHEMA_VERSION},"id":{json.dumps(meta.id)},'
        f'"article":{article[:-1]},"revision":'
    )


def head_of(meta: ArticleMeta) -> str:
    """The members every event starts with: version, id, article metadata."""
    return f"{head_prefix(meta)}{meta.revision}}}"


class Merger:
    """Runs the merge script; one instance per aggregator process."""

    def __init__(
        self,
        client: aredis.Redis,
        settings: Settings,
        stages: Sequence[StageDef] = PIPELINE.merged,
    ) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.stream_prefix)
        self.stages = tuple(stages)
        self._script = client.register_script(_MERGE_LUA)
        self._stage_args = [
            sum(1 for s in self.stages if not s.drafted),
            len(self.stages),
            *[s.name for s in self.stages],
            *[empty_fragment(s) for s in self.stages],
            *[missing_info(s) for s in self.stages],
        ]

    def _call(
        self, mode: str, now: datetime, items: Sequence[tuple[str, Fragment | None]], down: str
    ) -> tuple[list[str], list[Any]]:
        """The script's keys and arguments for ``items``: (revision key, fragment to add,
        or None to flush)."""
        settings = self.settings
        keys = [
            self.keys.enriched,
            self.keys.merge_deadlines,
            self.keys.revisions,
            self.keys.drafts,
        ]
        args: list[Any] = [
            mode,
            settings.dedupe_ttl_s,
            settings.late_results_retention_s,
            output_trim(settings)["maxlen"],
            json.dumps(now.isoformat()),
            DATA_FIELD,
            down,
            now.timestamp() + settings.merge_deadline_s,
            *self._stage_args,
        ]
        for key, fragment in items:
            keys += [self.keys.merge(key), self.keys.done(key)]
            article, revision = parse_revision_key(key)
            if fragment is None:
                args += [key, article, revision, "", "", "", "", "", "", ""]
            else:
                args += [
                    key,
                    article,
                    revision,
                    fragment.stage,
                    fragment.members,
                    fragment.info,
                    head_prefix(fragment.article),
                    fragment.draft,
                    fragment.revises,
                    fragment.revision,
                ]
        return keys, args

    def queue_add(self, pipe: Pipeline, fragments: Sequence[Fragment], now: datetime) -> None:
        """Add the merge of a batch of fragments to a transaction (its acks go in the
        same one), as one script call; its reply is read by :func:`parse_results`."""
        items = [(revision_key(f.article.id, f.article.revision), f) for f in fragments]
        keys, args = self._call("add", now, items, "")
        queue_script(pipe, self._script, keys, args)

    async def flush(self, key: str, now: datetime, down: Sequence[str]) -> tuple[str, int]:
        """Emit an article revision (``revision_key``) past its deadline as partial if a
        stage it misses is in ``down``; a no-op if it was emitted already, ``waiting`` if
        every stage it misses is up."""
        listed = "," + "".join(f"{stage}," for stage in down)
        keys, args = self._call("flush", now, [(key, None)], listed)
        (result,) = parse_results(await self._script(keys=keys, args=args))
        return result

    async def overdue(self, now: datetime, *, offset: int = 0, limit: int = 100) -> list[str]:
        """Revision keys whose merge deadline has passed, oldest first, from ``offset``."""
        ids = await self.client.zrangebyscore(
            self.keys.merge_deadlines, "-inf", now.timestamp(), start=offset, num=limit
        )
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


def parse_results(reply: object) -> list[tuple[str, int]]:
    """The merge script's reply: (status, missing stage count) per item."""
    if not isinstance(reply, list | tuple):
        raise ValueError(f"unexpected merge script reply: {reply!r}")
    results = []
    for result in reply:
        if not isinstance(result, list | tuple) or len(result) != 2:
            raise ValueError(f"unexpected merge script reply: {reply!r}")
        status = result[0].decode() if isinstance(result[0], bytes) else str(result[0])
        results.append((status, int(result[1])))
    return results
