"""Stories worker: places each article in its story as it arrives, and publishes the
stories' updates.

It reads the drafts (each article's event merged from the other stages: text,
entities, places), assigns the story (:mod:`services.stories.state`), and in one
transaction publishes the article's :class:`~shared.story_schemas.StoryResult` for the
aggregator, the story's update on the public ``{prefix}:stories`` stream and its card,
and records the assignment for recovery (:mod:`services.stories.owner`).

One process owns the story state at a time (the lease); its batches run one after the
other, so the state changes in the order the log records.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.client import Pipeline

from services.stories.cards import card_view
from services.stories.owner import LeaseLost, Owner
from services.stories.state import StoriesState
from shared.metrics import (
    STORIES_EVICTED,
    STORIES_LIVE,
    STORY_ASSIGNMENTS,
    STORY_STATE_LOADS,
    set_build_info,
)
from shared.pipeline import PIPELINE, STORIES, Stage
from shared.redis_client import output_trim
from shared.schemas import EnrichedEvent
from shared.service import Loop, Service, Stages
from shared.settings import Settings, load_settings
from shared.story_schemas import StoryInput, StoryResult, StoryUpdate
from shared.streams import Keys
from shared.wire import fields_of
from shared.worker import StageRunner, StageSpec, stage_info

log = logging.getLogger("newsflow.stories")

#: This service's stage, as the pipeline declares it (streams, group).
STAGE = PIPELINE[Stage.STORIES]
METHOD = "newsflow-stories"


class StateReloading(RuntimeError):
    """The story state is being reloaded after a failure: try again shortly."""


def story_input(event: EnrichedEvent) -> StoryInput:
    """What assignment reads of a draft: its mentions left out.

    Assignment reads names, labels, counts, salience and places, never where a name was
    mentioned; the mentions are most of an entity list's bytes, and this input is logged
    for every article until the next snapshot (half the log's size without them). Live
    assignment and a replay read the same input, so they agree.
    """
    return StoryInput(
        meta=event.article,
        text=event.text or "",
        entities=[e.model_copy(update={"mentions": []}) for e in event.entities],
        places=[p.model_copy(update={"mentions": []}) for p in event.places],
    )


@dataclass(frozen=True)
class Done:
    """An article's assignment, as its batch's transaction publishes it."""

    result: StoryResult
    #: The story update and the input to log; None for an article assigned before.
    update: StoryUpdate | None = None
    record: StoryInput | None = None
    seq: int = 0
    evicted: tuple[str, ...] = ()


@dataclass
class StoriesStage:
    """The stage's work and commit around the owner's state."""

    owner: Owner
    state: StoriesState
    settings: Settings
    keys: Keys = field(init=False)
    #: Set when an assignment failed half-way: the state is reloaded before any other.
    corrupt: bool = False
    #: Articles whose assignment failed: run alone from then on, so that they cannot
    #: spoil the state for their batch-mates again.
    suspects: set[str] = field(default_factory=set)
    #: Assignments made but not yet committed, by article id: a batch worked again (its
    #: commit failed) gets the same ones, with their log records.
    uncommitted: dict[str, Done] = field(default_factory=dict)
    #: The sequence number of the latest written snapshot, and when it was started.
    saved_seq: int = 0
    saved_at: float = field(default_factory=time.monotonic)
    #: The child writing a snapshot (pid, the sequence number it covers), if any.
    saving: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.stream_prefix)
        self.saved_seq = self.state.seq

    def info(self, status: Any, duration: float, error: str | None = None) -> Any:
        """This stage's info for a result."""
        return stage_info(STAGE.name, status, duration, error, model=METHOD)

    def work(self, events: list[EnrichedEvent]) -> list[Done]:
        """Assign each draft's article, in order."""
        if not self.owner.holds():
            raise LeaseLost("this process does not hold the stories lease")
        if self.corrupt:
            raise StateReloading("the story state is being reloaded")
        if len(events) > 1 and any(e.id in self.suspects for e in events):
            raise StateReloading("a batch with an article that failed before: run alone")
        return [self._one(event) for event in events]

    def _one(self, event: EnrichedEvent) -> Done:
        started = time.perf_counter()
        done = self.uncommitted.get(event.id)
        if done is not None:
            return done
        article = story_input(event)
        seq_before = self.state.seq
        try:
            assigned = self.state.assign(article)
        except Exception:
            self.corrupt = True
            self.suspects.add(event.id)
            raise
        result = StoryResult(
            meta=event.article,
            story=assigned.ref,
            info=self.info("ok", time.perf_counter() - started),
        )
        if assigned.card is None:  # assigned before: the same story, nothing changes
            STORY_ASSIGNMENTS.labels("repeat").inc()
            return Done(result)
        kind = "created" if assigned.created else "added"
        update = StoryUpdate(
            kind=kind,
            article_id=event.id,
            duplicate_of=assigned.ref.duplicate_of,
            story=card_view(assigned.card),
        )
        done = Done(result, update, article, self.state.seq, assigned.evicted)
        assert self.state.seq == seq_before + 1
        self.uncommitted[event.id] = done
        return done

    def failed(self, event: EnrichedEvent, reason: str) -> StoryResult:
        """The result of an article the stage gave up on: no story."""
        return StoryResult(meta=event.article, story=None, info=self.info("error", 0.0, reason))

    def commit(self, pipe: Pipeline, results: list[Any]) -> None:
        """Results, story updates, cards and log records of a batch, in its transaction."""
        trim = output_trim(self.settings)
        cards, live = self.keys.story_state("cards"), self.keys.story_state("live")
        for item in results:
            done = item if isinstance(item, Done) else Done(item)
            pipe.xadd(self.keys.stream(STAGE.writes), fields_of(done.result))
            if done.update is not None and done.record is not None:
                card = done.update.story
                pipe.xadd(self.keys.stream(STORIES), fields_of(done.update), **trim)
                pipe.hset(cards, card.id, card.model_dump_json())
                pipe.zadd(live, {card.id: card.last_seen.timestamp()})
                self.owner.record(pipe, done.record, done.seq)
            if done.evicted:
                pipe.hdel(cards, *done.evicted)
                pipe.zrem(live, *done.evicted)

    def observe(self, results: list[Any], _replies: list[Any]) -> None:
        """After the commit went through: the assignments are durable."""
        for item in results:
            if isinstance(item, Done):
                self.uncommitted.pop(item.result.meta.id, None)
                if item.update is not None:
                    kind = "duplicate" if item.update.duplicate_of else "new"
                    if item.update.kind == "added" and not item.update.duplicate_of:
                        kind = "joined"
                    STORY_ASSIGNMENTS.labels(kind).inc()
                STORIES_EVICTED.inc(len(item.evicted))
        STORIES_LIVE.set(len(self.state.cards))

    def snapshot_due(self) -> bool:
        """Whether to start a snapshot: enough articles and time since the last one (or
        Redis lost its data and has no state at all), and the state the committed one."""
        settings = self.settings
        if self.saving is not None or self.corrupt or self.uncommitted:
            return False
        if self.owner.regained:
            return True
        return (
            self.state.seq - self.saved_seq >= settings.stories_snapshot_every
            and time.monotonic() - self.saved_at >= settings.stories_snapshot_min_s
        )

    def start_snapshot(self) -> None:
        """Fork the child that writes the snapshot (between batches)."""
        self.owner.regained = False
        self.saving = (self.owner.save_in_background(self.state), self.state.seq)
        self.saved_at = time.monotonic()

    async def finish_snapshot(self) -> None:
        """Once the child wrote its snapshot: trim the log it covers (between batches)."""
        if self.saving is None:
            return
        pid, seq = self.saving
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            return
        self.saving = None
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.warning("stories: writing a snapshot failed (exit %d); the log is kept", code)
            return
        self.saved_seq = seq
        await self.owner.trim_log(self.state.seq - seq)
        log.info("stories: snapshot of %d assignments written", seq)

    async def reload(self) -> None:
        """Load the committed state again (after a failure left it half-changed)."""
        if not self.corrupt:
            return
        self.state = await self.owner.load(self.state.tuning)
        STORY_STATE_LOADS.inc()
        self.uncommitted.clear()
        self.saved_seq = self.state.seq
        self.corrupt = False

    def spec(self) -> StageSpec[EnrichedEvent, Any]:
        """The stage's spec for the runner."""
        return StageSpec(
            name=STAGE.name,
            stream=self.keys.stream(STAGE.reads[0]),
            group=STAGE.name,
            parse=EnrichedEvent.model_validate_json,
            work=self.work,
            commit=self.commit,
            failed=self.failed,
            article_id=lambda event: event.id,
            observe=self.observe,
        )


@dataclass
class StoriesService(Service):
    """The stories service: batches one at a time (the state changes in log order), and
    the lease given up at shutdown."""

    stage: StoriesStage | None = field(init=False, default=None)
    _serial: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    async def _handle(self, index: int, entries: list[Any], claimed: bool) -> None:
        async with self._serial:
            if self.stage is not None:
                await self.stage.owner.confirm()
            try:
                await super()._handle(index, entries, claimed)
            except Exception:
                # The commit failed for good: what the batch changed is not durable.
                if self.stage is not None:
                    self.stage.corrupt = True
                raise

    async def reload(self) -> None:
        """Reload the state if a failure left it half-changed (between batches)."""
        if self.stage is not None and self.stage.corrupt:
            async with self._serial:
                await self.stage.reload()

    async def snapshots(self) -> None:
        """Finish a snapshot whose child is done, or start one that is due (between
        batches: the forked state is then the committed one)."""
        stage = self.stage
        if stage is None:
            return
        async with self._serial:
            await stage.finish_snapshot()
            if stage.snapshot_due():
                stage.start_snapshot()

    async def stop(self) -> None:
        """Drain as every service does, then give the lease up."""
        await self._loops.stop()
        await self.broker.stop()
        if self.client is not None:
            if self.stage is not None:
                await self.stage.owner.release()
            await self.client.aclose()


def build_service(settings: Settings) -> StoriesService:
    """The stories service."""
    keys = Keys(settings.stream_prefix)
    service: StoriesService

    async def make_specs(client: aredis.Redis) -> Stages:
        owner = Owner(client, settings)
        await owner.acquire()
        state = await owner.load()
        STORY_STATE_LOADS.inc()
        stage = service.stage = StoriesStage(owner, state, settings)
        STORIES_LIVE.set(len(state.cards))
        set_build_info(STAGE.name, model=METHOD)
        spec = stage.spec()
        # What the last owner left pending goes first, in stream order, before any new
        # entry: the assignments follow the order the articles came in.
        runner = StageRunner(spec, client, settings)
        left = await owner.pending(spec.stream, spec.group)
        for start in range(0, len(left), settings.batch_size):
            await runner.handle(left[start : start + settings.batch_size], claimed=True)
        if left:
            log.info("stories: took over %d entries left pending", len(left))

        async def renew() -> None:
            try:
                await owner.renew()
            except LeaseLost:
                log.error("stories: lost the lease to another process; stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                raise

        return Stages(
            [spec],
            loops=[
                Loop("stories: renewing the lease", settings.stories_lease_s / 6, renew),
                Loop("stories: reloading the state", 1.0, service.reload),
                Loop("stories: snapshots", 1.0, service.snapshots),
            ],
        )

    service = StoriesService(STAGE.name, settings, keys.inputs(STAGE), make_specs)
    return service


def main(settings: Settings | None = None) -> None:
    """Run the stories worker."""
    asyncio.run(build_service(settings or load_settings()).run())
