"""Aggregator: merges the stage results per article and emits enriched events.

It also flushes articles past their deadline as partial events, and exports the
pipeline-wide gauges (stream lengths, group lag and pending).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.client import Pipeline

from services.aggregator.merge import Fragment, Merger, StageResult, fragment_of, parse_results
from services.aggregator.monitor import PeakRate, entries_added, update_gauges
from shared.liveness import stages_down
from shared.metrics import (
    END_TO_END,
    ENRICHED,
    LATE_RESULTS,
    STAGE_DURATION,
    STAGE_UP,
    set_build_info,
)
from shared.pipeline import PIPELINE, Stage, StreamDef
from shared.redis_client import trim_acknowledged
from shared.schemas import utc_now
from shared.service import Loop, Service, Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.worker import StageSpec

log = logging.getLogger("newsflow.aggregator")

AGGREGATOR = PIPELINE[Stage.AGGREGATOR]


def _record(status: str, missing: int, fragment: Fragment) -> None:
    if status in ("stored", "emitted"):
        STAGE_DURATION.labels(fragment.stage, fragment.status).observe(fragment.duration_s)
    if status == "emitted":
        ENRICHED.labels("partial" if missing else "complete").inc()
        END_TO_END.observe((utc_now() - fragment.article.ingested_at).total_seconds())
    elif status == "completed":
        ENRICHED.labels("completed").inc()
    elif status == "late":
        LATE_RESULTS.labels(fragment.stage).inc()


def merge_stage(
    settings: Settings, merger: Merger, stream: StreamDef
) -> StageSpec[StageResult, Fragment]:
    """The aggregator's stage on one result stream (a merged stage's output): a batch's
    fragments merged in one script call."""
    producer = PIPELINE.writer(stream)
    if producer is None or not producer.merged:
        raise ValueError(f"{stream.name} is no merged stage's output")
    stage = producer.name
    parse: Callable[[bytes], StageResult] = stream.parse  # type: ignore[assignment]

    def commit(pipe: Pipeline, fragments: list[Fragment]) -> None:
        merger.queue_add(pipe, fragments, utc_now())

    def observe(fragments: list[Fragment], replies: list[Any]) -> None:
        (reply,) = replies
        for (status, missing), fragment in zip(parse_results(reply), fragments, strict=True):
            _record(status, missing, fragment)

    return StageSpec(
        name=AGGREGATOR.name,
        stream=merger.keys.stream(stream),
        group=AGGREGATOR.name,
        parse=parse,
        work=lambda results: [
            fragment_of(r, stage, event_text=settings.event_text) for r in results
        ],
        commit=commit,
        article_id=lambda result: result.meta.id,
        observe=observe,
    )


#: Overdue articles looked at per page, and per sweep at most (a sweep stays short, so the
#: merges of arriving results are not held up behind it).
SWEEP_PAGE = 200
SWEEP_MOST = 5000


async def sweep_overdue(merger: Merger) -> int:
    """Emit as partial every article past its deadline that misses a stage which is down;
    articles that wait only for stages that are up (busy) keep waiting. Returns how many
    were emitted."""
    now = utc_now()
    down = await stages_down(merger.client, merger.keys, [s.name for s in merger.stages])
    for stage in merger.stages:
        STAGE_UP.labels(stage.name).set(0 if stage.name in down else 1)
    if not down:
        return 0
    emitted = looked = offset = 0
    while looked < SWEEP_MOST:
        overdue = await merger.overdue(now, offset=offset, limit=SWEEP_PAGE)
        for key in overdue:
            status, _missing = await merger.flush(key, now, down)
            if status == "emitted":
                emitted += 1
                ENRICHED.labels("partial").inc()
            elif status == "waiting":
                offset += 1  # stays in the set: the next page starts after it
        looked += len(overdue)
        if len(overdue) < SWEEP_PAGE:
            break
    return emitted


async def measure_rate(client: aredis.Redis, keys: Keys, meter: PeakRate) -> None:
    """Publish the pipeline's recent peak throughput for ingest's back-pressure."""
    total = await entries_added(client, keys.enriched)
    if total is None:
        return
    peak = meter.observe(time.monotonic(), total)
    if peak is not None:
        await client.set(keys.rate, f"{peak:.3f}", ex=int(meter.memory_s))


def build_service(settings: Settings) -> Service:
    """The aggregator service, with its deadline sweep and housekeeping loops."""
    keys = Keys(settings.stream_prefix)

    async def make_specs(client: aredis.Redis) -> Stages:
        merger = Merger(client, settings)
        set_build_info(AGGREGATOR.name)
        meter = PeakRate()

        async def sweep() -> None:
            await sweep_overdue(merger)

        async def housekeeping() -> None:
            await update_gauges(client, keys)
            await measure_rate(client, keys, meter)
            await trim_acknowledged(
                client, keys, keep_s={keys.accepted: settings.replay_retention_s}
            )

        return Stages(
            [merge_stage(settings, merger, stream) for stream in AGGREGATOR.reads],
            loops=[
                Loop("deadline sweep", settings.merge_sweep_s, sweep),
                Loop("gauges or trimming", settings.housekeeping_s, housekeeping),
            ],
        )

    return Service(AGGREGATOR.name, settings, keys.inputs(AGGREGATOR), make_specs)


def main(settings: Settings | None = None) -> None:
    """Run the aggregator."""
    asyncio.run(build_service(settings or load_settings()).run())
