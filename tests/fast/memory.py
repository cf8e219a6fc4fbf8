"""A stage's real delivery code on an in-memory Redis: the fast layer's source and sink.

:class:`MemoryStage` feeds entries to a stage's input stream, reads them in the stage's
consumer group as its subscriber does (XREADGROUP, or XAUTOCLAIM for a retry) and hands
them to :meth:`StageRunner.handle`. The server is fakeredis (streams, MULTI/EXEC and Lua
scripts through lupa), one per test: no Redis server, no polling, no sleeps. The delivery
rules against a real server stay proven by ``tests/integration/test_delivery.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fakeredis
import redis.asyncio as aredis
from pydantic import BaseModel

from shared.schemas import DeadLetter
from shared.settings import Settings, load_settings
from shared.streams import DATA_FIELD, Keys
from shared.wire import Entry, fields_of, unpack
from shared.worker import StageRunner, StageSpec

#: A URL no test may reach: the services are built with it (their brokers need one) and
#: never connect, so a test that dialled out by mistake would fail at once.
UNREACHABLE_URL = "redis://127.0.0.1:1/0"
CONSUMER = "fast-1"


def memory_settings(**overrides: Any) -> Settings:
    """Settings for the in-memory tests: their own prefix, three deliveries at most."""
    values: dict[str, Any] = {
        "redis_url": UNREACHABLE_URL,
        "stream_prefix": "fast",
        "max_deliveries": 3,
        "consumer_name": CONSUMER,
        **overrides,
    }
    return load_settings(**values)


def memory_redis() -> aredis.Redis:
    """A client of a new, empty in-memory server (bytes responses, like ``connect``)."""
    client: aredis.Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    return client


@dataclass
class MemoryStage:
    """One stage's input stream and consumer group, driven by hand."""

    spec: StageSpec[Any, Any]
    client: aredis.Redis
    settings: Settings

    @property
    def runner(self) -> StageRunner[Any, Any]:
        return StageRunner(self.spec, self.client, self.settings)

    async def feed(self, *payloads: bytes | BaseModel | dict[bytes, bytes]) -> list[str]:
        """XADD entries to the stage's input: raw payload bytes, a schema object (as
        stages exchange them) or a whole field map. Returns their entry ids."""
        ids = []
        for payload in payloads:
            if isinstance(payload, BaseModel):
                fields = fields_of(payload)
            elif isinstance(payload, bytes):
                fields = {DATA_FIELD: payload}
            else:
                fields = payload
            entry_id: Any = await self.client.xadd(self.spec.stream, fields)
            ids.append(entry_id.decode())
        return ids

    async def deliver(self, *, count: int = 100) -> int:
        """Read what the group has not seen yet, in batches of ``count``, and handle each
        batch as the stage's reading subscriber does. Returns how many entries were read."""
        read = 0
        while True:
            reply: Any = await self.client.xreadgroup(
                self.spec.group, CONSUMER, {self.spec.stream: ">"}, count=count
            )
            entries = [Entry(i.decode(), f) for _s, items in reply or [] for i, f in items]
            if not entries:
                return read
            read += len(entries)
            await self.runner.handle(entries, claimed=False)

    async def redeliver(self) -> int:
        """Claim every pending entry (XAUTOCLAIM, as the claiming subscriber does, without
        waiting for them to idle) and handle them as claimed. Returns how many."""
        reply: Any = await self.client.xautoclaim(
            self.spec.stream, self.spec.group, CONSUMER, min_idle_time=0, start_id="0-0"
        )
        entries = [Entry(i.decode(), f) for i, f in reply[1]]
        if entries:
            await self.runner.handle(entries, claimed=True)
        return len(entries)

    async def pending(self) -> int:
        """Entries of the group delivered and not acknowledged."""
        summary: Any = await self.client.xpending(self.spec.stream, self.spec.group)
        return int(summary["pending"])


async def outputs(client: aredis.Redis, stream: str) -> list[bytes]:
    """The JSON payloads of every entry of ``stream``, inflated."""
    entries: Any = await client.xrange(stream)
    return [unpack(fields[DATA_FIELD]) for _id, fields in entries]


async def dead_letters(client: aredis.Redis, settings: Settings) -> list[DeadLetter]:
    """Every dead letter written so far."""
    stream = Keys(settings.stream_prefix).dead
    return [DeadLetter.model_validate_json(p) for p in await outputs(client, stream)]
