"""One reader of the enriched stream shared by every Server-Sent Events client.

Each ``GET /events`` client used to hold a connection of the producers' pool for its
blocking XREAD: a few hundred idle browsers locked producers out. Now one task reads the
stream on a connection pool of its own and hands each entry to every client's bounded
queue (each client's filter applied there). A client starting from an id in the past
reads the stream itself, through the same small pool, until it is level with the shared
reader, then joins it; a client whose queue fills up is detached and catches up the same
way, so nothing is skipped and nothing grows without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis

from shared.filters import EventFilter
from shared.ids import entry_id_key
from shared.redis_client import connect, describe_redis_error, read_after
from shared.streams import DATA_FIELD
from shared.wire import decode_event

log = logging.getLogger("newsflow.ingest.events")

#: Entries read per XREAD/XRANGE.
READ_COUNT = 500
#: Pause after a failed read of the shared reader.
RETRY_S = 1.0
#: How long a new client waits for the shared reader to find the stream's end.
READY_TIMEOUT_S = 10.0

#: An entry of the enriched stream: its id, its event, and the event's JSON as stored.
EventItem = tuple[str, dict[str, Any], bytes]


class TooManyClients(Exception):
    """The cap of concurrent subscribers is reached."""


@dataclass(eq=False)
class _Subscriber:
    wanted: EventFilter
    queue: asyncio.Queue[EventItem]
    #: The last entry the reader considered for this subscriber (queued or filtered out).
    last: str
    detached: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class EventHub:
    """The shared reader and its subscribers. :meth:`start` before use, :meth:`stop` after.

    ``client`` must not be the producers' client: the reader blocks one of its
    connections and catching-up subscribers use the others.
    """

    def __init__(
        self,
        client: aredis.Redis,
        stream: str,
        *,
        max_clients: int,
        queue_events: int,
        block_ms: int = 1000,
    ) -> None:
        self.client = client
        self.stream = stream
        self.max_clients = max_clients
        self.queue_events = queue_events
        self.block_ms = block_ms
        self.clients = 0
        #: The newest entry the shared reader has handed out.
        self.last = "0-0"
        self._live: set[_Subscriber] = set()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the shared reader (it finds the stream's end first, retrying)."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the reader and close the readers' connections."""
        self._stopping = True
        if self._task is not None:
            # The reader ends after its current read (block_ms at most): a cancellation
            # in the middle of a blocking XREAD could leave the pool's connection hung.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.block_ms / 1000 + 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.client.aclose()

    async def _run(self) -> None:
        while not self._ready.is_set() and not self._stopping:
            try:
                newest: Any = await self.client.xrevrange(self.stream, count=1)
            except aredis.RedisError as exc:
                log.warning("events: cannot read %s: %s", self.stream, describe_redis_error(exc))
                await asyncio.sleep(RETRY_S)
                continue
            self.last = newest[0][0].decode() if newest else "0-0"
            self._ready.set()
        while not self._stopping:
            try:
                entries = await read_after(
                    self.client, self.stream, self.last, count=READ_COUNT, block_ms=self.block_ms
                )
            except aredis.RedisError as exc:
                log.warning("events: reading failed: %s", describe_redis_error(exc))
                await asyncio.sleep(RETRY_S)
                continue
            for raw_id, fields in entries:
                self._dispatch(raw_id.decode(), decode_event(fields), fields.get(DATA_FIELD, b""))

    def _dispatch(self, entry_id: str, event: dict[str, Any] | None, raw: bytes) -> None:
        self.last = entry_id
        for sub in list(self._live):
            if entry_id_key(entry_id) <= entry_id_key(sub.last):
                continue  # the subscriber had read this far on its own
            if event is not None and sub.wanted.matches(event):
                try:
                    sub.queue.put_nowait((entry_id, event, raw))
                except asyncio.QueueFull:
                    # Too slow for the shared pace: it reads on from sub.last by itself.
                    sub.detached = True
                    self._live.discard(sub)
                    sub.wake.set()
                    continue
                sub.wake.set()
            sub.last = entry_id

    def admit(self) -> None:
        """Count a new client in; raises :class:`TooManyClients` at the cap."""
        if self.clients >= self.max_clients:
            raise TooManyClients
        self.clients += 1

    def release(self) -> None:
        """Count a client out."""
        self.clients -= 1

    async def resolve(self, start: str) -> str:
        """``$`` (only new events) as the id the shared reader stands at."""
        try:
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            # Redis has been unreachable since start-up: the client retries later.
            raise aredis.ConnectionError("the events reader has not reached Redis") from None
        return self.last if start == "$" else start

    async def events(
        self, start: str, wanted: EventFilter, *, keepalive_s: float
    ) -> AsyncIterator[EventItem | None]:
        """Events after ``start`` (an id, or ``$``) matching ``wanted``, for ever; None
        when nothing came for ``keepalive_s`` (time for a keep-alive)."""
        position = await self.resolve(start)
        while True:
            # Catch up on its own until level with the shared reader ...
            while entry_id_key(position) < entry_id_key(self.last):
                target = self.last
                reply: Any = await self.client.xrange(
                    self.stream, f"({position}", target, count=READ_COUNT
                )
                for raw_id, fields in reply:
                    event = decode_event(fields)
                    position = raw_id.decode()
                    if event is not None and wanted.matches(event):
                        yield position, event, fields[DATA_FIELD]
                if not reply or len(reply) < READ_COUNT:
                    # Up to target everything is read (or was trimmed away meanwhile).
                    position = max(position, target, key=entry_id_key)
            # ... then join it; no await since the check, so no entry falls in between.
            sub = _Subscriber(wanted, asyncio.Queue(self.queue_events), position)
            self._live.add(sub)
            try:
                while True:
                    if sub.queue.empty():
                        if sub.detached:
                            break
                        sub.wake.clear()
                        try:
                            await asyncio.wait_for(sub.wake.wait(), keepalive_s)
                        except TimeoutError:
                            yield None
                        continue
                    yield sub.queue.get_nowait()
            finally:
                self._live.discard(sub)
            position = sub.last


def readers_client(url: str, *, cluster: bool, connections: int) -> aredis.Redis:
    """A client of its own for the event readers, with at most ``connections``
    connections: a subscriber waits for a free one rather than opening more."""
    if cluster:
        return connect(url, cluster=True, max_connections=connections)
    pool = aredis.BlockingConnectionPool.from_url(
        url, max_connections=connections, timeout=10, health_check_interval=15
    )
    return aredis.Redis.from_pool(pool)
