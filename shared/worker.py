"""The delivery machinery every consuming service shares.

A stage reads batches from its input stream in its consumer group, validates each entry,
does its work, then publishes the results and acknowledges the inputs in one MULTI/EXEC
transaction, so an input is acknowledged exactly when its result is published.

- Input that fails validation (``parse`` raises anything) goes to the dead-letter stream
  at once, as ``invalid_input`` with its reason; its batch-mates go on.
- Work that fails is left pending; the group's claimer (XAUTOCLAIM) retries it after
  ``claim_idle_ms``. At ``max_deliveries`` it is dead-lettered, and the stage publishes
  its failure result (status ``error``) so the article is still emitted, as partial.
- Entries left pending by a dead or stopped consumer are claimed the same way.

The stage itself is a :class:`StageSpec` of pure functions; this module is the wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis
from faststream import AckPolicy
from faststream.redis import RedisBroker, RedisClusterBroker, StreamSub
from pydantic import BaseModel, ValidationError
from redis.asyncio.client import Pipeline

from shared import __version__
from shared.budget import BudgetExceeded, time_budget
from shared.ids import escape_unsafe
from shared.liveness import say_alive
from shared.logs import RecurringFailure
from shared.metrics import (
    BATCH_DURATION,
    BATCH_SIZE,
    COMMIT_RETRIES,
    DEAD_LETTERS,
    GROUP_RECOVERIES,
    STAGE_MESSAGES,
    serve_metrics,
)
from shared.redis_client import (
    connect,
    describe_redis_error,
    ensure_groups,
    is_transient,
    output_trim,
)
from shared.schemas import StageInfo, StageStatus
from shared.settings import Settings
from shared.streams import Keys
from shared.wire import Entry, dead_letter, decode_entries, fields_of, parse_entries, unpack

log = logging.getLogger("newsflow.worker")

#: How often a service checks that its subscribers still run.
WATCHDOG_INTERVAL_S = 1.0
#: Back-off between attempts to commit a batch while Redis cannot take it: doubling from
#: the first to the last, so a long outage costs a few attempts a minute, not a spin.
COMMIT_BACKOFF_S = (0.25, 15.0)

In = TypeVar("In")
Out = TypeVar("Out")


class InvalidInput(ValueError):
    """Input that no retry can fix: it is dead-lettered at once."""


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` of each validation error, control and format characters (and
    lone surrogates) of hostile input escaped so that any terminal, log or JSON shows them."""
    return [
        (escape_unsafe(".".join(str(p) for p in err["loc"])) or "(root)", escape_unsafe(err["msg"]))
        for err in exc.errors(include_url=False)
    ]


def describe_error(exc: BaseException) -> str:
    """A one-line, human-readable reason for a dead letter or an HTTP error."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{field}: {message}" for field, message in field_errors(exc)[:10])
    plain = isinstance(exc, InvalidInput | BudgetExceeded)
    return escape_unsafe(str(exc) if plain else f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class StageSpec(Generic[In, Out]):
    """What a stage does, as functions; the runner does the delivery.

    ``parse`` turns an entry's payload into the input (raising for invalid input),
    ``work`` maps a batch of inputs to results in order, ``commit`` adds the commands
    that publish one result to a transaction, ``failed`` makes the result published
    when an input is dead-lettered after its retries (None: publish nothing).
    """

    name: str
    stream: str
    group: str
    parse: Callable[[bytes], In]
    work: Callable[[list[In]], list[Out]]
    commit: Callable[[Pipeline, In, Out], None]
    failed: Callable[[In, str], Out] | None = None
    article_id: Callable[[In], str | None] = field(default=lambda _item: None)
    observe: Callable[[In, Out, list[Any]], None] | None = None


def publish_to(stream: str) -> Callable[[Pipeline, object, BaseModel], None]:
    """The usual ``commit``: append the result to ``stream`` (inside the transaction)."""

    def commit(pipe: Pipeline, _input: object, result: BaseModel) -> None:
        pipe.xadd(stream, fields_of(result, packed=True))

    return commit


def stop_if_cancelled(exc: BaseException | None = None) -> None:
    """Raise CancelledError if the current task is being cancelled. redis-py can swallow
    the cancellation of a command (or turn it into a connection error); a loop that went
    on as if nothing happened would never stop, and its service's shutdown would hang."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


async def every(interval_s: float, what: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` now and then every ``interval_s`` seconds until cancelled. A step that
    fails is logged (``what`` names it; repeats are summarised) and tried again next time:
    a background loop that died would stop its work for the rest of the process' life."""
    failures = RecurringFailure(log, what)
    while True:
        try:
            await step()
        except aredis.RedisError as exc:
            stop_if_cancelled(exc)
            failures.failed(describe_redis_error(exc))
        except Exception as exc:
            failures.failed(f"{type(exc).__name__}: {exc}", exc_info=failures.failures == 0)
        else:
            failures.succeeded()
        stop_if_cancelled()
        await asyncio.sleep(interval_s)


def stage_info(
    stage: str,
    status: StageStatus,
    duration_s: float,
    error: str | None = None,
    *,
    model: str | None = None,
    gazetteer: str | None = None,
) -> StageInfo:
    """How a stage went, stamped with this service's version."""
    return StageInfo(
        stage=stage,
        status=status,
        duration_s=duration_s,
        service_version=__version__,
        model=model,
        gazetteer=gazetteer,
        error=error,
    )


@dataclass
class _Item(Generic[In]):
    entry: Entry
    value: In
    deliveries: int


class StageRunner(Generic[In, Out]):
    """Runs one :class:`StageSpec` on batches of entries from its group."""

    def __init__(self, spec: StageSpec[In, Out], client: aredis.Redis, settings: Settings) -> None:
        self.spec = spec
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.stream_prefix)
        self._failures = RecurringFailure(log, f"{spec.name}: committing a batch")

    async def handle(self, entries: Sequence[Entry], *, claimed: bool) -> None:
        """Process a batch: publish results and acknowledge in one transaction.

        While Redis cannot take the transaction (unreachable, out of memory, loading), the
        batch is kept and tried again with a growing back-off instead of reading more: the
        entries stay this consumer's (XCLAIM JUSTID keeps them from looking abandoned, and
        does not count a delivery), so an outage neither spins the worker nor turns good
        articles into dead letters.
        """
        delay = COMMIT_BACKOFF_S[0]
        while True:
            try:
                await self._handle_once(entries, claimed=claimed)
            except aredis.RedisError as exc:
                stop_if_cancelled(exc)
                if not is_transient(exc):
                    raise
                COMMIT_RETRIES.labels(self.spec.name).inc()
                self._failures.failed(
                    f"{describe_redis_error(exc)}; keeping {len(entries)} entries, "
                    f"next attempt in {delay:g} s"
                )
                await self._hold(entries, delay)
                delay = min(delay * 2, COMMIT_BACKOFF_S[1])
                continue
            self._failures.succeeded()
            return

    async def _hold(self, entries: Sequence[Entry], delay_s: float) -> None:
        """Wait ``delay_s`` while keeping the entries this consumer's: their idle time is
        reset at least three times per claim period, so no claimer takes them over (and
        counts a delivery) while their commit waits for Redis."""
        step = min(delay_s, self.settings.claim_idle_ms / 3000)
        waited = 0.0
        while waited < delay_s:
            await asyncio.sleep(step)
            waited += step
            await self._keep(entries)
            stop_if_cancelled()

    async def _keep(self, entries: Sequence[Entry]) -> None:
        with contextlib.suppress(aredis.RedisError):
            await self.client.xclaim(
                self.spec.stream,
                self.spec.group,
                self.settings.consumer_name,
                min_idle_time=0,
                message_ids=[entry.entry_id for entry in entries],
                justid=True,
            )

    async def _handle_once(self, entries: Sequence[Entry], *, claimed: bool) -> None:
        spec = self.spec
        BATCH_SIZE.labels(spec.name).observe(len(entries))
        deliveries = await self._deliveries(entries) if claimed else {}
        pipe = self.client.pipeline(transaction=True)
        acks: list[str] = []
        items: list[_Item[In]] = []
        for entry in entries:
            count = deliveries.get(entry.entry_id, 1) if claimed else 1
            if claimed and entry.entry_id not in deliveries:
                continue  # acknowledged by its first consumer since it was claimed
            if count > self.settings.max_deliveries:
                self._dead(
                    pipe,
                    entry,
                    count,
                    "worker_died",
                    f"delivered {count} times without being acknowledged "
                    "(the worker processing it died or timed out each time)",
                )
                acks.append(entry.entry_id)
                continue
            payload = entry.payload
            if payload is None:
                self._dead(pipe, entry, count, "invalid_input", "entry has no 'data' field")
                acks.append(entry.entry_id)
                continue
            try:
                value = spec.parse(unpack(payload))
            except Exception as exc:  # whatever one entry raises, it alone is invalid
                self._dead(pipe, entry, count, "invalid_input", describe_error(exc))
                acks.append(entry.entry_id)
                continue
            items.append(_Item(entry, value, count))

        committed: list[tuple[In, Out, int, int]] = []
        for item, result in zip(items, self._work(items), strict=True):
            if isinstance(result, BaseException):
                reason = describe_error(result)
                # Another try would hold the stage as long again: dead at once.
                final = isinstance(result, BudgetExceeded)
                if item.deliveries < self.settings.max_deliveries and not final:
                    STAGE_MESSAGES.labels(spec.name, "retry").inc()
                    log.warning(
                        "%s failed on %s (delivery %d), will retry: %s",
                        spec.name,
                        item.entry.entry_id,
                        item.deliveries,
                        reason,
                    )
                    continue
                self._dead(
                    pipe,
                    item.entry,
                    item.deliveries,
                    "budget_exceeded" if final else type(result).__name__,
                    reason,
                    article_id=spec.article_id(item.value),
                )
                if spec.failed is not None:
                    failure = spec.failed(item.value, reason)
                    start = len(pipe)
                    spec.commit(pipe, item.value, failure)
                    committed.append((item.value, failure, start, len(pipe)))
            else:
                STAGE_MESSAGES.labels(spec.name, "ok").inc()
                start = len(pipe)
                spec.commit(pipe, item.value, result)
                committed.append((item.value, result, start, len(pipe)))
            acks.append(item.entry.entry_id)

        if not acks:
            return
        pipe.xack(spec.stream, spec.group, *acks)
        results = await pipe.execute()
        if spec.observe is not None:
            for value, result, start, end in committed:
                spec.observe(value, result, results[start:end])

    def _work(self, items: list[_Item[In]]) -> list[Out | BaseException]:
        """Run the batch; if it fails, run each input alone to isolate the bad one.

        The whole batch has one article's time budget (``stage_budget_s``, see
        :mod:`shared.budget`), and so has each input run alone: one slow article holds
        the stage for at most two budgets, not one per article of its batch. An input
        that exceeds the budget alone gets :class:`BudgetExceeded` as its result.
        """
        if not items:
            return []
        values = [item.value for item in items]
        budget = self.settings.stage_budget_s
        started = time.perf_counter()
        try:
            with time_budget(budget):
                results: list[Out | BaseException] = list(self.spec.work(values))
        except Exception as exc:
            if len(values) == 1:
                return [exc]
            isolated: list[Out | BaseException] = []
            for value in values:
                isolated.append(self._work_one(value, budget))
            return isolated
        BATCH_DURATION.labels(self.spec.name).observe(time.perf_counter() - started)
        return results

    def _work_one(self, value: In, budget: float) -> Out | BaseException:
        try:
            with time_budget(budget):
                (result,) = self.spec.work([value])
        except Exception as exc:
            return exc
        return result

    def _dead(
        self,
        pipe: Pipeline,
        entry: Entry,
        deliveries: int,
        error_type: str,
        reason: str,
        *,
        article_id: str | None = None,
    ) -> None:
        STAGE_MESSAGES.labels(self.spec.name, "dead").inc()
        DEAD_LETTERS.labels(self.spec.name).inc()
        letter = dead_letter(
            entry,
            stage=self.spec.name,
            stream=self.spec.stream,
            reason=reason,
            error_type=error_type,
            deliveries=deliveries,
            article_id=article_id,
        )
        log.warning("dead letter from %s: %s (%s)", self.spec.name, entry.entry_id, reason)
        pipe.xadd(self.keys.dead, fields_of(letter), **output_trim(self.settings))

    async def _deliveries(self, entries: Sequence[Entry]) -> dict[str, int]:
        """Delivery counts (XPENDING) of claimed entries that are still pending."""
        counts: dict[str, int] = {}
        for entry in entries:
            pending = await self.client.xpending_range(
                self.spec.stream, self.spec.group, min=entry.entry_id, max=entry.entry_id, count=1
            )
            if pending:
                counts[entry.entry_id] = int(pending[0]["times_delivered"])
        return counts


@dataclass
class Service:
    """A consuming service: its broker, its stages, and its start-up and shutdown hooks.

    ``make_specs`` runs at start-up (models load then, never at import time) and
    returns the stage specs in the order of ``inputs``.
    """

    name: str
    settings: Settings
    inputs: Sequence[tuple[str, str]]
    make_specs: Callable[[aredis.Redis], Awaitable[list[StageSpec[Any, Any]]]]
    broker: RedisBroker = field(init=False)
    client: aredis.Redis | None = field(init=False, default=None)
    runners: list[StageRunner[Any, Any]] = field(init=False, default_factory=list)
    extra_startup: list[Callable[[aredis.Redis], Awaitable[None]]] = field(default_factory=list)
    extra_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _loops: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        settings = self.settings
        # Per-message logging costs more CPU than the messaging itself: log at DEBUG only.
        broker_class = RedisClusterBroker if settings.redis_cluster else RedisBroker
        self.broker = broker_class(
            settings.require_redis_url(), log_level=logging.DEBUG, graceful_timeout=30.0
        )
        for index, (stream, group) in enumerate(self.inputs):
            self._subscribe(index, stream, group)

    def _subscribe(self, index: int, stream: str, group: str) -> None:
        settings = self.settings
        reader = StreamSub(
            stream,
            group=group,
            consumer=settings.consumer_name,
            batch=True,
            max_records=settings.batch_size,
            polling_interval=settings.poll_ms,
        )
        # FastStream's min_idle_time subscriber only claims (XAUTOCLAIM), never reads
        # new entries: each group runs both.
        claimer = StreamSub(
            stream,
            group=group,
            consumer=settings.consumer_name,
            batch=True,
            min_idle_time=settings.claim_idle_ms,
            # Nothing younger than claim_idle_ms can be claimed: polling ten times per
            # idle period delays a recovery by at most 10 % and costs little CPU.
            polling_interval=max(settings.poll_ms, 500, settings.claim_idle_ms // 10),
        )

        async def read(entries: list[Entry]) -> None:
            await self.runners[index].handle(entries, claimed=False)

        async def claim(entries: list[Entry]) -> None:
            await self.runners[index].handle(entries, claimed=True)

        options: dict[str, Any] = {
            "ack_policy": AckPolicy.MANUAL,
            "parser": parse_entries,
            "decoder": decode_entries,
        }
        self.broker.subscriber(stream=reader, title=f"{self.name}:{stream}:read", **options)(read)
        self.broker.subscriber(stream=claimer, title=f"{self.name}:{stream}:claim", **options)(
            claim
        )

    async def startup(self) -> None:
        """Create the groups, build the stages, serve metrics."""
        client = connect(self.settings.require_redis_url(), cluster=self.settings.redis_cluster)
        self.client = client
        await ensure_groups(client, Keys(self.settings.stream_prefix))
        specs = await self.make_specs(client)
        self.runners = [StageRunner(spec, client, self.settings) for spec in specs]
        # The models and gazetteer loaded above live as long as the process: moved out of
        # the collector's sight, full collections no longer walk them (cheaper messages).
        gc.collect()
        gc.freeze()
        serve_metrics(self.settings.metrics_host, self.settings.metrics_port)
        for hook in self.extra_startup:
            await hook(client)

    async def shutdown(self) -> None:
        """Stop background tasks and close the connection."""
        for hook in self.extra_shutdown:
            await hook()
        if self.client is not None:
            await self.client.aclose()

    async def start(self) -> None:
        """Start-up hooks, then the subscribers, then the watchdog."""
        await self.startup()
        await self._until_writable()
        try:
            await self.broker.start()
        except aredis.RedisError as exc:
            # Redis filled up (or went away) between the subscribers' starts: those that
            # did not start are started by the watchdog once it takes writes again.
            if not is_transient(exc):
                raise
            self.broker.running = True
            log.warning(
                "%s: not every subscriber could start (%s); retrying in the background",
                self.name,
                describe_redis_error(exc),
            )
        self._loops = [
            asyncio.create_task(self._watch()),
            asyncio.create_task(
                every(self.settings.heartbeat_s, f"{self.name}: heartbeat", self._beat)
            ),
        ]
        log.info("%s running as consumer %s", self.name, self.settings.consumer_name)

    async def stop(self) -> None:
        """Stop reading, let in-flight batches finish (graceful timeout), then close."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.broker.stop()
        await self.shutdown()

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then drain and stop."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        await stopping.wait()
        log.info("%s stopping", self.name)
        await self.stop()

    async def _until_writable(self) -> None:
        """Wait, backing off, until Redis answers the heartbeat: a process restarted while
        Redis is unreachable or loading would otherwise crash in a loop. (The heartbeat
        needs no memory when its marker exists, so a full Redis may pass it: subscribers
        that then fail to start are started by the watchdog, see :meth:`start`.)"""
        failures = RecurringFailure(log, f"{self.name}: starting")
        delay = COMMIT_BACKOFF_S[0]
        while True:
            try:
                await self._beat()
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

    async def _beat(self) -> None:
        """Say this process is alive for each group it reads (``shared.liveness``)."""
        if self.client is not None:
            await say_alive(self.client, self.settings, {group for _s, group in self.inputs})

    async def _watch(self) -> None:
        """Restart subscribers that stopped: FastStream stops one for good when its group
        is gone (NOGROUP: the server lost its data). Re-create the groups and go on."""

        async def recover() -> None:
            stopped = [sub for sub in self.broker.subscribers if not sub.running]
            if not stopped or self.client is None:
                return
            await ensure_groups(self.client, Keys(self.settings.stream_prefix))
            for sub in stopped:
                await sub.start()
            GROUP_RECOVERIES.labels(self.name).inc()
            log.warning(
                "%s: re-created consumer groups, restarted %d subscribers",
                self.name,
                len(stopped),
            )

        await every(WATCHDOG_INTERVAL_S, f"{self.name}: recovering subscribers", recover)
