"""Work streams are trimmed only below what every group has acknowledged."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from shared.redis_client import ensure_groups, trim_acknowledged
from shared.settings import Settings
from shared.streams import Group, Keys

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def _read_ack(
    client: aredis.Redis, stream: str, group: str, count: int, *, ack: bool
) -> list[bytes]:
    reply: Any = await client.xreadgroup(group, "c", {stream: ">"}, count=count)
    ids = [entry_id for _s, entries in reply for entry_id, _f in entries]
    if ack and ids:
        await client.xack(stream, group, *ids)
    return ids


async def test_trimming_keeps_everything_some_group_still_needs(
    client: aredis.Redis, settings: Settings
) -> None:
    keys = Keys(settings.stream_prefix)
    await ensure_groups(client, keys)
    stream = keys.accepted
    ids = [await client.xadd(stream, {"data": str(n)}) for n in range(1000)]
    # entities read and acknowledged 800; summarizer read 600, acknowledged 500.
    await _read_ack(client, stream, Group.ENTITIES, 800, ack=True)
    await _read_ack(client, stream, Group.SUMMARIZER, 500, ack=True)
    pending = await _read_ack(client, stream, Group.SUMMARIZER, 100, ack=False)
    assert pending[0] == ids[500]

    removed = await trim_acknowledged(client, keys)
    remaining: Any = await client.xrange(stream)
    remaining_ids = [entry_id for entry_id, _f in remaining]
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
    await client.xgroup_destroy(keys.accepted, Group.SUMMARIZER)
    for n in range(300):
        await client.xadd(keys.accepted, {"data": str(n)})
    await _read_ack(client, keys.accepted, Group.ENTITIES, 300, ack=True)
    removed = await trim_acknowledged(client, keys)
    assert keys.accepted not in removed
    assert await client.xlen(keys.accepted) == 300
