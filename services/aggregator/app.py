"""Aggregator: merges the stage results per article and emits enriched events.

It also flushes articles past their deadline as partial events, and exports the
pipeline-wide gauges (stream lengths, group lag and pending).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.client import Pipeline

from services.aggregator.merge import Fragment, Merger, StageResult, fragment_of
from services.aggregator.monitor import update_gauges
from shared.metrics import END_TO_END, ENRICHED, LATE_RESULTS, STAGE_DURATION, set_build_info
from shared.redis_client import trim_acknowledged
from shared.schemas import EntitiesResult, PlacesResult, SummaryResult, utc_now
from shared.settings import Settings, load_settings
from shared.streams import Group, Keys
from shared.worker import Service, StageSpec, every

log = logging.getLogger("newsflow.aggregator")


def _record(status: str, missing: int, fragment: Fragment) -> None:
    if status in ("stored", "emitted"):
        STAGE_DURATION.labels(fragment.stage.value, fragment.status).observe(fragment.duration_s)
    if status == "emitted":
        ENRICHED.labels("partial" if missing else "complete").inc()
        END_TO_END.observe((utc_now() - fragment.article.ingested_at).total_seconds())
    elif status == "late":
        LATE_RESULTS.labels(fragment.stage.value).inc()


def merge_stage(
    settings: Settings, merger: Merger, stream: str, model: type[StageResult]
) -> StageSpec[StageResult, Fragment]:
    """The aggregator's stage on one result stream."""

    def commit(pipe: Pipeline, _result: StageResult, fragment: Fragment) -> None:
        merger.queue_add(pipe, fragment, utc_now())

    def observe(_result: StageResult, fragment: Fragment, replies: list[Any]) -> None:
        reply = replies[0]
        status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        _record(status, int(reply[1]), fragment)

    return StageSpec(
        name="aggregator",
        stream=stream,
        group=Group.AGGREGATOR,
        parse=model.model_validate_json,
        work=lambda results: [fragment_of(r) for r in results],
        commit=commit,
        article_id=lambda result: result.meta.id,
        observe=observe,
    )


async def sweep_overdue(merger: Merger) -> int:
    """Flush every article past its deadline; returns how many were emitted."""
    emitted = 0
    now = utc_now()
    for key in await merger.overdue(now):
        status, _missing = await merger.flush(key, now)
        if status == "emitted":
            emitted += 1
            ENRICHED.labels("partial").inc()
    return emitted


def build_service(settings: Settings) -> Service:
    """The aggregator service, with its sweeper and gauge tasks."""
    keys = Keys(settings.stream_prefix)
    tasks: list[asyncio.Task[None]] = []
    merger_holder: list[Merger] = []

    async def make_specs(client: aredis.Redis) -> list[StageSpec[Any, Any]]:
        merger = Merger(client, settings)
        merger_holder.append(merger)
        set_build_info("aggregator")
        return [
            merge_stage(settings, merger, keys.entities, EntitiesResult),
            merge_stage(settings, merger, keys.places, PlacesResult),
            merge_stage(settings, merger, keys.summaries, SummaryResult),
        ]

    async def background(client: aredis.Redis) -> None:
        async def sweep() -> None:
            await sweep_overdue(merger_holder[0])

        async def housekeeping() -> None:
            await update_gauges(client, keys)
            await trim_acknowledged(
                client, keys, keep_s={keys.accepted: settings.replay_retention_s}
            )

        tasks.extend(
            [
                asyncio.create_task(every(settings.merge_sweep_s, "deadline sweep", sweep)),
                asyncio.create_task(
                    every(settings.housekeeping_s, "gauges or trimming", housekeeping)
                ),
            ]
        )

    async def stop_background() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    inputs = [
        (keys.entities, Group.AGGREGATOR),
        (keys.places, Group.AGGREGATOR),
        (keys.summaries, Group.AGGREGATOR),
    ]
    return Service(
        "aggregator",
        settings,
        inputs,
        make_specs,
        extra_startup=[background],
        extra_shutdown=[stop_background],
    )


def main(settings: Settings | None = None) -> None:
    """Run the aggregator."""
    asyncio.run(build_service(settings or load_settings()).run())
