"""Helpers for tests that run services in-process against a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.client import Pipeline

from shared.redis_client import entries_between
from shared.service import Service, Stages
from shared.settings import Settings
from shared.streams import DATA_FIELD
from shared.wire import unpack
from shared.worker import StageSpec


@asynccontextmanager
async def running(service: Service) -> AsyncIterator[Service]:
    """Start a service's start-up hooks and broker; stop both afterwards."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 15.0, interval: float = 0.05
) -> None:
    """Poll ``check`` until it is true; fail the test at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def payloads(client: aredis.Redis, stream: str) -> list[bytes]:
    """The data fields of every entry of a stream."""
    return [unpack(fields[DATA_FIELD]) for _id, fields in await entries_between(client, stream)]


async def stream_len(client: aredis.Redis, stream: str) -> int:
    """XLEN as an int."""
    return int(await client.xlen(stream))


def as_text(value: Any) -> str:
    """bytes or str as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def sync_payloads(client: redis.Redis, stream: str) -> list[bytes]:
    """The data fields of every entry of a stream, with a synchronous client."""
    entries: Any = client.xrange(stream)
    return [unpack(fields[DATA_FIELD]) for _id, fields in entries]


def probe_service(
    settings: Settings,
    work: Callable[[list[str]], list[str]],
    *,
    parse: Callable[[bytes], str] = bytes.decode,
    failed: Callable[[str, str], str] | None = None,
) -> Service:
    """A one-stage service of the tests' own on ``{prefix}:probe-in`` (group ``probe``):
    ``work`` maps the decoded payloads, each result goes to ``{prefix}:probe-out``."""
    prefix = settings.stream_prefix
    source, output = f"{prefix}:probe-in", f"{prefix}:probe-out"

    def commit(pipe: Pipeline, results: list[str]) -> None:
        for result in results:
            pipe.xadd(output, {"data": result})

    async def make_specs(_client: aredis.Redis) -> Stages:
        spec = StageSpec(
            name="probe", stream=source, group="probe", parse=parse, work=work, commit=commit
        )
        return Stages([spec if failed is None else replace(spec, failed=failed)])

    return Service("probe", settings, [(source, "probe")], make_specs)
