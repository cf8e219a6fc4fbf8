"""Which stages are up: every consuming process says it is alive, the aggregator asks.

A process refreshes one marker per consumer group it reads (``Keys.alive``), with an
expiry of ``stage_down_after_s``, from its event loop. The loop is the right witness: it
is blocked while a batch is worked on, so a process that is stuck on one batch longer
than that, stopped (SIGSTOP) or dead lets its marker expire, while a process that is
merely busy on a backlog refreshes it between batches. A stage is down when no process
of its group refreshed the marker within that time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis.asyncio as aredis

from shared.settings import Settings
from shared.streams import Keys


async def say_alive(client: aredis.Redis, settings: Settings, groups: Iterable[str]) -> None:
    """Refresh this process's liveness markers for ``groups``."""
    keys = Keys(settings.stream_prefix)
    ttl_ms = max(1, int(settings.stage_down_after_s * 1000))
    names = [keys.alive(group) for group in groups]
    # PEXPIRE first: unlike SET it needs no memory, so a full Redis (noeviction) still
    # takes it, and a stage whose processes are alive does not look down after an outage.
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.pexpire(name, ttl_ms)
    refreshed = await pipe.execute()
    missing = [name for name, done in zip(names, refreshed, strict=True) if not done]
    if missing:
        pipe = client.pipeline(transaction=False)
        for name in missing:
            pipe.set(name, settings.consumer_name, px=ttl_ms)
        await pipe.execute()


async def stages_down(client: aredis.Redis, keys: Keys, stages: Sequence[str]) -> list[str]:
    """The stages (by name) none of whose processes was heard from lately (each stage's
    consumer group is named after it, ``shared.pipeline``)."""
    pipe = client.pipeline(transaction=False)
    for stage in stages:
        pipe.exists(keys.alive(stage))
    alive = await pipe.execute()
    return [stage for stage, up in zip(stages, alive, strict=True) if not up]
