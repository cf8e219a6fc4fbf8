"""Helpers for tests that run services in-process against a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aredis

from shared.redis_client import entries_between
from shared.streams import DATA_FIELD
from shared.wire import unpack
from shared.worker import Service


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
