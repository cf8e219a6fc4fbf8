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

Each entry of a batch ends with exactly one :class:`Outcome`, counted by status on
``newsflow_stage_messages_total`` once its transaction went through.

The stage itself is a :class:`StageSpec` of pure functions; this module runs it on
batches (:class:`StageRunner`), and :mod:`shared.service` assembles a service around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis
from pydantic import BaseModel, ValidationError
from redis.asyncio.client import Pipeline

from shared import __version__
from shared.budget import BudgetExceeded, time_budget
from shared.ids import escape_unsafe
from shared.logs import RecurringFailure
from shared.metrics import (
    BATCH_DURATION,
    BATCH_SIZE,
    COMMIT_RETRIES,
    DEAD_LETTERS,
    STAGE_MESSAGES,
)
from shared.redis_client import (
    describe_redis_error,
    is_transient,
    output_trim,
)
from shared.schemas import DeadLetter, StageInfo, StageStatus
from shared.settings import Settings
from shared.streams import Keys
from shared.wire import Entry, dead_letter, fields_of, unpack

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
    that publish a batch's results to its transaction (all at once, so that a stage can
    merge them in one command), ``failed`` makes the result published when an input is
    dead-lettered after its retries (None: publish nothing), ``observe`` sees the
    published results with the replies of their commands once the transaction ran.
    """

    name: str
    stream: str
    group: str
    parse: Callable[[bytes], In]
    work: Callable[[list[In]], list[Out]]
    commit: Callable[[Pipeline, list[Out]], None]
    failed: Callable[[In, str], Out] | None = None
    article_id: Callable[[In], str | None] = field(default=lambda _item: None)
    observe: Callable[[list[Out], list[Any]], None] | None = None


def publish_to(stream: str) -> Callable[[Pipeline, Sequence[BaseModel]], None]:
    """The usual ``commit``: append each result to ``stream`` (inside the transaction), as
    plain JSON (see :mod:`shared.wire`)."""

    def commit(pipe: Pipeline, results: Sequence[BaseModel]) -> None:
        for result in results:
            pipe.xadd(stream, fields_of(result))

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


class Outcome(StrEnum):
    """What became of one entry of a batch: each entry gets exactly one, decided in
    :meth:`StageRunner._judge` or :meth:`StageRunner._triage`, and counted as the
    ``status`` of ``newsflow_stage_messages_total``."""

    #: Worked; its result published, the entry acknowledged.
    OK = "ok"
    #: Its work failed before the last delivery: left pending, the claimer retries it.
    RETRY = "retry"
    #: Its work failed on the last delivery: dead-lettered, its failure result published.
    FAILED = "failed"
    #: Its work alone overran the time budget: the same as failed, at once (another try
    #: would hold the stage as long again).
    BUDGET_EXCEEDED = "budget_exceeded"
    #: It failed validation (or has no payload): dead-lettered at once.
    INVALID_INPUT = "invalid_input"
    #: Delivered more than ``max_deliveries`` times without an ack (the worker died or
    #: timed out on it each time): dead-lettered.
    WORKER_DIED = "worker_died"
    #: Claimed, but acknowledged by its first consumer since: nothing left to do.
    SKIPPED = "skipped"


#: The outcomes that send the entry to the dead-letter stream.
DEAD_OUTCOMES = frozenset(
    {Outcome.FAILED, Outcome.BUDGET_EXCEEDED, Outcome.INVALID_INPUT, Outcome.WORKER_DIED}
)
#: The outcomes that leave the entry unacknowledged by this batch.
UNACKED_OUTCOMES = frozenset({Outcome.RETRY, Outcome.SKIPPED})


@dataclass(frozen=True)
class _Item(Generic[In]):
    """An entry that passed triage: its input, to be worked on."""

    entry: Entry
    value: In
    deliveries: int


@dataclass(frozen=True)
class _Verdict(Generic[Out]):
    """The outcome of one entry and what its commit needs: the result to publish (an
    output, a failure result, or None), and for a dead letter its reason and type."""

    entry: Entry
    outcome: Outcome
    deliveries: int
    result: Out | None = None
    reason: str = ""
    error_type: str = ""
    article_id: str | None = None


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
        """One outcome per entry (triage, then work for those that pass), then one commit."""
        BATCH_SIZE.labels(self.spec.name).observe(len(entries))
        deliveries = await self._deliveries(entries) if claimed else None
        triaged = [self._triage(entry, deliveries) for entry in entries]
        items = [t for t in triaged if isinstance(t, _Item)]
        judged = iter(
            [
                self._judge(item, result)
                for item, result in zip(items, self._work(items), strict=True)
            ]
        )
        verdicts = [next(judged) if isinstance(t, _Item) else t for t in triaged]
        await self._commit(verdicts)
        self._record(verdicts)

    def _triage(self, entry: Entry, deliveries: dict[str, int] | None) -> _Item[In] | _Verdict[Out]:
        """The entry's input, or its outcome when it cannot be worked on. ``deliveries``
        holds the counts of a claimed batch's entries that are still pending (None for
        entries read for the first time)."""
        count = 1 if deliveries is None else deliveries.get(entry.entry_id, 0)
        if count == 0:
            return _Verdict(entry, Outcome.SKIPPED, count)
        if count > self.settings.max_deliveries:
            reason = (
                f"delivered {count} times without being acknowledged "
                "(the worker processing it died or timed out each time)"
            )
            return _Verdict(entry, Outcome.WORKER_DIED, count, reason=reason)
        payload = entry.payload
        if payload is None:
            return _Verdict(entry, Outcome.INVALID_INPUT, count, reason="entry has no 'data' field")
        try:
            value = self.spec.parse(unpack(payload))
        except Exception as exc:  # whatever one entry raises, it alone is invalid
            return _Verdict(entry, Outcome.INVALID_INPUT, count, reason=describe_error(exc))
        return _Item(entry, value, count)

    def _judge(self, item: _Item[In], result: Out | BaseException) -> _Verdict[Out]:
        """The outcome of an entry that was worked on."""
        if not isinstance(result, BaseException):
            return _Verdict(item.entry, Outcome.OK, item.deliveries, result)
        reason = describe_error(result)
        if isinstance(result, BudgetExceeded):
            outcome, error_type = Outcome.BUDGET_EXCEEDED, Outcome.BUDGET_EXCEEDED.value
        elif item.deliveries < self.settings.max_deliveries:
            return _Verdict(item.entry, Outcome.RETRY, item.deliveries, reason=reason)
        else:
            outcome, error_type = Outcome.FAILED, type(result).__name__
        failed = self.spec.failed
        return _Verdict(
            item.entry,
            outcome,
            item.deliveries,
            failed(item.value, reason) if failed is not None else None,
            reason=reason,
            error_type=error_type,
            article_id=self.spec.article_id(item.value),
        )

    async def _commit(self, verdicts: list[_Verdict[Out]]) -> None:
        """Dead letters, results and acks of the batch, in one transaction."""
        spec = self.spec
        pipe = self.client.pipeline(transaction=True)
        for verdict in verdicts:
            if verdict.outcome in DEAD_OUTCOMES:
                pipe.xadd(
                    self.keys.dead, fields_of(self._letter(verdict)), **output_trim(self.settings)
                )
        results = [v.result for v in verdicts if v.result is not None]
        start = len(pipe)
        if results:
            spec.commit(pipe, results)
        end = len(pipe)
        acks = [v.entry.entry_id for v in verdicts if v.outcome not in UNACKED_OUTCOMES]
        if not acks:
            return
        pipe.xack(spec.stream, spec.group, *acks)
        replies = await pipe.execute()
        if spec.observe is not None and results:
            spec.observe(results, replies[start:end])

    def _letter(self, verdict: _Verdict[Out]) -> DeadLetter:
        return dead_letter(
            verdict.entry,
            stage=self.spec.name,
            stream=self.spec.stream,
            reason=verdict.reason,
            error_type=verdict.error_type or verdict.outcome.value,
            deliveries=verdict.deliveries,
            article_id=verdict.article_id,
        )

    def _record(self, verdicts: list[_Verdict[Out]]) -> None:
        """Count each outcome (once the commit went through) and log the unhappy ones."""
        name = self.spec.name
        counts = Counter(verdict.outcome for verdict in verdicts)
        for outcome, count in counts.items():
            STAGE_MESSAGES.labels(name, outcome.value).inc(count)
            if outcome in DEAD_OUTCOMES:
                DEAD_LETTERS.labels(name).inc(count)
        for verdict in verdicts:
            if verdict.outcome is Outcome.RETRY:
                log.warning(
                    "%s failed on %s (delivery %d), will retry: %s",
                    name,
                    verdict.entry.entry_id,
                    verdict.deliveries,
                    verdict.reason,
                )
            elif verdict.outcome in DEAD_OUTCOMES:
                log.warning(
                    "dead letter from %s: %s (%s)", name, verdict.entry.entry_id, verdict.reason
                )

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
            return [self._work_one(value, budget) for value in values]
        BATCH_DURATION.labels(self.spec.name).observe(time.perf_counter() - started)
        return results

    def _work_one(self, value: In, budget: float) -> Out | BaseException:
        try:
            with time_budget(budget):
                (result,) = self.spec.work([value])
        except Exception as exc:
            return exc
        return result

    async def _deliveries(self, entries: Sequence[Entry]) -> dict[str, int]:
        """Delivery counts (XPENDING) of claimed entries that are still pending, in one
        round trip."""
        pipe = self.client.pipeline(transaction=False)
        for entry in entries:
            pipe.xpending_range(
                self.spec.stream, self.spec.group, min=entry.entry_id, max=entry.entry_id, count=1
            )
        replies = await pipe.execute()
        return {
            entry.entry_id: int(pending[0]["times_delivered"])
            for entry, pending in zip(entries, replies, strict=True)
            if pending
        }
