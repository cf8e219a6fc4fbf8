"""Work streams are trimmed only below what every group has acknowledged."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from shared.pipeline import Stage
from shared.redis_client import ensure_groups, trim_acknowledged
from shared.settings import Settings
from shared.streams import Keys

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def _read_ack(
    client: aredis.Redis, stream: str, group: str, count: int, *, ack: bool
) -> list[bytes]:
    reply: Any = await client.xreadgroup(group, "c", {stream: ">"}, count=count)
    ids = [entry_id for _s, entries in reply for entry_id, _f in entries]
    if ack and ids:
        await client.xack(stream, group, *ids)
    return ids


async def _accepted_entries(
    client: aredis.Redis, settings: Settings, count: int
) -> tuple[Keys, str, list[Any]]:
    """The pipeline's groups, and ``count`` entries in the accepted stream."""
    keys = Keys(settings.stream_prefix)
    await ensure_groups(client, keys)
    stream = keys.accepted
    ids = [await client.xadd(stream, {"data": str(n)}) for n in range(count)]
    return keys, stream, ids


async def _remaining(client: aredis.Redis, stream: str) -> list[bytes]:
    remaining: Any = await client.xrange(stream)
    return [entry_id for entry_id, _f in remaining]


async def test_trimming_keeps_everything_some_group_still_needs(
    client: aredis.Redis, settings: Settings
) -> None:
    keys, stream, ids = await _accepted_entries(client, settings, 1000)
    # entities read and acknowledged 800; summarizer read 600, acknowledged 500.
    await _read_ack(client, stream, Stage.ENTITIES, 800, ack=True)
    await _read_ack(client, stream, Stage.SUMMARIZER, 500, ack=True)
    pending = await _read_ack(client, stream, Stage.SUMMARIZER, 100, ack=False)
    assert pending[0] == ids[500]

    removed = await trim_acknowledged(client, keys)
    remaining_ids = await _remaining(client, stream)
    # Nothing at or after the oldest pending entry is gone ...
    assert remaining_ids[-500:] == ids[500:]
    # ... and (approximate trimming works in whole nodes) most of what is done is.
    assert removed[stream] >= 300
    assert len(remaining_ids) == 1000 - removed[stream]


async def test_stream_missing_a_group_is_not_trimmed(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    await ensure_groups(client, keys)
    await client.xgroup_destroy(keys.accepted, Stage.SUMMARIZER)
    for n in range(300):
        await client.xadd(keys.accepted, {"data": str(n)})
    await _read_ack(client, keys.accepted, Stage.ENTITIES, 300, ack=True)
    removed = await trim_acknowledged(client, keys)
    assert keys.accepted not in removed
    assert await client.xlen(keys.accepted) == 300


class _AcksBeforeXpending:
    """A client whose consumers acknowledge everything between XINFO and XPENDING."""

    def __init__(self, client: aredis.Redis) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def xpending(self, stream: str, group: str) -> Any:
        entries = await self._client.xpending_range(stream, group, min="-", max="+", count=10_000)
        if entries:
            await self._client.xack(stream, group, *[e["message_id"] for e in entries])
        return await self._client.xpending(stream, group)


async def test_entries_acknowledged_while_trimming_do_not_stop_it(
    client: aredis.Redis, settings: Settings
) -> None:
    # The race that once killed the aggregator's housekeeping for good: XINFO says an
    # entry is pending, and by XPENDING it is not (no oldest pending entry at all).
    keys, stream, ids = await _accepted_entries(client, settings, 1000)
    await _read_ack(client, stream, Stage.ENTITIES, 1000, ack=True)
    await _read_ack(client, stream, Stage.SUMMARIZER, 900, ack=False)

    removed = await trim_acknowledged(_AcksBeforeXpending(client), keys)  # type: ignore[arg-type]
    remaining_ids = await _remaining(client, stream)
    assert remaining_ids[-100:] == ids[900:]
    assert removed[stream] >= 600
