"""The delivery contract of every stage: ack after publish, retries, claims, dead letters."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis

from shared.schemas import DeadLetter
from shared.service import Service
from shared.settings import Settings
from shared.streams import Keys
from tests.helpers import payloads, probe_service, running, stream_len, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

GROUP = "probe"


def _probe_service(settings: Settings, calls: list[str], *, fail: set[str]) -> Service:
    """A stage that upper-cases payloads and raises on the ones in ``fail``."""

    def work(items: list[str]) -> list[str]:
        calls.extend(items)
        for item in items:
            if item in fail:
                raise RuntimeError(f"cannot handle {item}")
        return [item.upper() for item in items]

    def parse(payload: bytes) -> str:
        text = payload.decode()
        if text.startswith("!"):
            raise ValueError("payload starts with '!'")
        return text

    return probe_service(settings, work, parse=parse, failed=lambda item, _r: f"FAILED:{item}")


async def _setup(client: aredis.Redis, settings: Settings) -> tuple[str, str]:
    prefix = settings.stream_prefix
    source, output = f"{prefix}:probe-in", f"{prefix}:probe-out"
    await client.xgroup_create(source, GROUP, id="0", mkstream=True)
    return source, output


async def test_failing_item_is_retried_then_dead_lettered_and_others_flow(
    client: aredis.Redis, settings: Settings
) -> None:
    source, output = await _setup(client, settings)
    keys = Keys(settings.stream_prefix)
    calls: list[str] = []
    for item in ("a", "boom", "b", "!bad"):
        await client.xadd(source, {"data": item})
    async with running(_probe_service(settings, calls, fail={"boom"})):
        await wait_until(lambda: _settled(client, source, keys.dead, 2), timeout=20)

    out = sorted(p.decode() for p in await payloads(client, output))
    assert out == ["A", "B", "FAILED:boom"]
    # Tried exactly max_deliveries times (the first in a batch, then alone on each retry).
    assert calls.count("boom") == settings.max_deliveries + 1
    letters = {
        DeadLetter.model_validate_json(p).payload: DeadLetter.model_validate_json(p)
        for p in await payloads(client, keys.dead)
    }
    assert letters["boom"].error_type == "RuntimeError"
    assert "cannot handle boom" in letters["boom"].reason
    assert letters["boom"].deliveries == settings.max_deliveries
    # Invalid input is dead at once, never retried.
    assert letters["!bad"].error_type == "invalid_input" and letters["!bad"].deliveries == 1
    assert "!bad" not in calls


async def test_entries_of_a_dead_consumer_are_claimed_and_processed(
    client: aredis.Redis, settings: Settings
) -> None:
    source, output = await _setup(client, settings)
    for item in ("x", "y", "z"):
        await client.xadd(source, {"data": item})
    # A consumer reads the entries and dies before acknowledging them.
    await client.xreadgroup(GROUP, "ghost", {source: ">"}, count=10)
    calls: list[str] = []
    async with running(_probe_service(settings, calls, fail=set())):
        await wait_until(lambda: _settled(client, source, Keys(settings.stream_prefix).dead, 0))
    assert sorted(p.decode() for p in await payloads(client, output)) == ["X", "Y", "Z"]


async def test_entry_that_keeps_killing_its_worker_is_dead_lettered(
    client: aredis.Redis, settings: Settings
) -> None:
    source, output = await _setup(client, settings)
    keys = Keys(settings.stream_prefix)
    entry_id = await client.xadd(source, {"data": "poison"})
    # Delivered max_deliveries times, each consumer dying before the ack.
    await client.xreadgroup(GROUP, "ghost-0", {source: ">"}, count=1)
    for n in range(1, settings.max_deliveries):
        await client.xclaim(source, GROUP, f"ghost-{n}", 0, [entry_id])
    calls: list[str] = []
    async with running(_probe_service(settings, calls, fail=set())):
        await wait_until(lambda: _settled(client, source, keys.dead, 1))
    (letter,) = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert letter.error_type == "worker_died"
    assert letter.deliveries == settings.max_deliveries + 1
    assert calls == []
    assert await stream_len(client, output) == 0


async def _settled(client: aredis.Redis, source: str, dead: str, dead_count: int) -> bool:
    pending = await client.xpending(source, GROUP)
    info = await client.xinfo_groups(source)
    lag = int(info[0].get("lag") or 0)
    return pending["pending"] == 0 and lag == 0 and await stream_len(client, dead) == dead_count
