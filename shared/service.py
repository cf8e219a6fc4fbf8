"""A consuming service, assembled from small parts: its broker and subscribers (a reader
and a claimer per input), the stage runners (:mod:`shared.worker`), the heartbeat, the
watchdog that restarts stopped subscribers, and start-up and shutdown.

``make_specs`` runs once connected (models load then, never at import time) and returns
the :class:`Stages`: the stage specs in the order of the inputs, and background loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis
from faststream import AckPolicy
from faststream.redis import RedisBroker, RedisClusterBroker, StreamSub

from shared.liveness import say_alive
from shared.logs import RecurringFailure
from shared.metrics import (
    GROUP_RECOVERIES,
    serve_metrics,
)
from shared.redis_client import (
    connect,
    describe_redis_error,
    ensure_groups,
    is_transient,
)
from shared.settings import Settings
from shared.streams import Keys
from shared.wire import Entry, decode_entries, parse_entries
from shared.worker import (
    COMMIT_BACKOFF_S,
    WATCHDOG_INTERVAL_S,
    StageRunner,
    StageSpec,
    every,
    stop_if_cancelled,
)

log = logging.getLogger("newsflow.service")

#: How long a service drains its in-flight batches after SIGTERM (FastStream's
#: graceful_timeout); the deploy manifests give it longer than this to stop.
GRACEFUL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Loop:
    """A background step a service runs every ``interval_s`` while it runs (see
    :func:`every`); ``what`` names it in the log when it fails."""

    what: str
    interval_s: float
    step: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Stages:
    """What a service builds at start-up, once connected (models load then, never at
    import time): its stage specs, in the order of its inputs, and the background loops
    it runs beside them."""

    specs: list[StageSpec[Any, Any]]
    loops: list[Loop] = field(default_factory=list)


def make_broker(settings: Settings) -> RedisBroker:
    """The FastStream broker of a service (a cluster one on Redis Cluster)."""
    broker_class = RedisClusterBroker if settings.redis_cluster else RedisBroker
    # Per-message logging costs more CPU than the messaging itself: log at DEBUG only.
    return broker_class(
        settings.require_redis_url(), log_level=logging.DEBUG, graceful_timeout=GRACEFUL_TIMEOUT_S
    )


def subscribe(
    broker: RedisBroker,
    title: str,
    *,
    settings: Settings,
    stream: str,
    group: str,
    handle: Callable[[list[Entry], bool], Awaitable[None]],
) -> None:
    """Subscribe ``handle(entries, claimed)`` to a group: a reader of new entries and a
    claimer of abandoned ones. FastStream's min_idle_time subscriber only claims
    (XAUTOCLAIM), never reads new entries: each group runs both."""
    # Both read the same group as the same consumer, in batches.
    of_group = functools.partial(
        StreamSub, stream, group=group, consumer=settings.consumer_name, batch=True
    )
    reader = of_group(max_records=settings.batch_size, polling_interval=settings.poll_ms)
    claimer = of_group(
        min_idle_time=settings.claim_idle_ms,
        # Nothing younger than claim_idle_ms can be claimed: polling ten times per
        # idle period delays a recovery by at most 10 % and costs little CPU.
        polling_interval=max(settings.poll_ms, 500, settings.claim_idle_ms // 10),
    )

    async def read(entries: list[Entry]) -> None:
        await handle(entries, False)

    async def claim(entries: list[Entry]) -> None:
        await handle(entries, True)

    options: dict[str, Any] = {
        "ack_policy": AckPolicy.MANUAL,
        "parser": parse_entries,
        "decoder": decode_entries,
    }
    broker.subscriber(stream=reader, title=f"{title}:read", **options)(read)
    broker.subscriber(stream=claimer, title=f"{title}:claim", **options)(claim)


async def start_broker(broker: RedisBroker, name: str) -> None:
    """Start the subscribers. Should Redis fill up (or go away) between their starts,
    those that did not start are left to :func:`restart_stopped`."""
    try:
        await broker.start()
    except aredis.RedisError as exc:
        if not is_transient(exc):
            raise
        broker.running = True
        log.warning(
            "%s: not every subscriber could start (%s); retrying in the background",
            name,
            describe_redis_error(exc),
        )


async def restart_stopped(broker: RedisBroker, client: aredis.Redis, keys: Keys, name: str) -> None:
    """Restart subscribers that stopped: FastStream stops one for good when its group is
    gone (NOGROUP: the server lost its data). Re-creates the groups first."""
    stopped = [sub for sub in broker.subscribers if not sub.running]
    if not stopped:
        return
    await ensure_groups(client, keys)
    for sub in stopped:
        await sub.start()
    GROUP_RECOVERIES.labels(name).inc()
    log.warning("%s: re-created consumer groups, restarted %d subscribers", name, len(stopped))


async def retry_while_transient(what: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` until it passes, backing off while Redis fails transiently (a process
    restarted while Redis is unreachable or loading would otherwise crash in a loop)."""
    failures = RecurringFailure(log, what)
    delay = COMMIT_BACKOFF_S[0]
    while True:
        try:
            await step()
        except aredis.RedisError as exc:
            stop_if_cancelled(exc)
            if not is_transient(exc):
                raise
            failures.failed(f"{describe_redis_error(exc)}; waiting {delay:g} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, COMMIT_BACKOFF_S[1])
            continue
        failures.succeeded()
        return


def freeze_heap() -> None:
    """Move what start-up loaded (models, gazetteer: it lives as long as the process) out
    of the collector's sight, so that full collections no longer walk it."""
    gc.collect()
    gc.freeze()


async def until_signalled() -> None:
    """Return on SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()


class Loops:
    """Background :class:`Loop` tasks, started together and cancelled together."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, loops: Sequence[Loop]) -> None:
        """Start each loop as a task."""
        self._tasks += [
            asyncio.create_task(every(loop.interval_s, loop.what, loop.step)) for loop in loops
        ]

    async def stop(self) -> None:
        """Cancel every task and wait for it to end."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


@dataclass
class Service:
    """A consuming service: a :class:`StageRunner` per input ``(stream, group)``, behind
    FastStream subscribers, with a heartbeat and a watchdog.

    ``make_specs`` runs at start-up, once connected, and returns the :class:`Stages`:
    the specs in the order of ``inputs``, and the service's own background loops.
    """

    name: str
    settings: Settings
    inputs: Sequence[tuple[str, str]]
    make_specs: Callable[[aredis.Redis], Awaitable[Stages]]
    broker: RedisBroker = field(init=False)
    client: aredis.Redis | None = field(init=False, default=None)
    runners: list[StageRunner[Any, Any]] = field(init=False, default_factory=list)
    _loops: Loops = field(init=False, default_factory=Loops)

    def __post_init__(self) -> None:
        self.broker = make_broker(self.settings)
        for index, (stream, group) in enumerate(self.inputs):
            subscribe(
                self.broker,
                f"{self.name}:{stream}",
                settings=self.settings,
                stream=stream,
                group=group,
                handle=functools.partial(self._handle, index),
            )

    async def _handle(self, index: int, entries: list[Entry], claimed: bool) -> None:
        await self.runners[index].handle(entries, claimed=claimed)

    async def start(self) -> None:
        """Connect, build the stages, then start the subscribers and background loops."""
        settings = self.settings
        client = connect(settings.require_redis_url(), cluster=settings.redis_cluster)
        self.client = client
        keys = Keys(settings.stream_prefix)
        await ensure_groups(client, keys)
        stages = await self.make_specs(client)
        self.runners = [StageRunner(spec, client, settings) for spec in stages.specs]
        freeze_heap()
        serve_metrics(settings.metrics_host, settings.metrics_port)
        # The heartbeat needs no memory when its marker exists, so a full Redis may pass
        # it: subscribers that then fail to start are restarted by the watchdog.
        await retry_while_transient(f"{self.name}: starting", self._beat)
        await start_broker(self.broker, self.name)
        self._loops.start(
            [
                Loop(
                    f"{self.name}: recovering subscribers",
                    WATCHDOG_INTERVAL_S,
                    functools.partial(restart_stopped, self.broker, client, keys, self.name),
                ),
                Loop(f"{self.name}: heartbeat", settings.heartbeat_s, self._beat),
                *stages.loops,
            ]
        )
        log.info("%s running as consumer %s", self.name, settings.consumer_name)

    async def stop(self) -> None:
        """Stop the loops and the reading, let in-flight batches finish (graceful
        timeout), then close the connection."""
        await self._loops.stop()
        await self.broker.stop()
        if self.client is not None:
            await self.client.aclose()

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then drain and stop."""
        await self.start()
        await until_signalled()
        log.info("%s stopping", self.name)
        await self.stop()

    async def _beat(self) -> None:
        """Say this process is alive for each group it reads (``shared.liveness``)."""
        if self.client is not None:
            await say_alive(self.client, self.settings, {group for _s, group in self.inputs})
