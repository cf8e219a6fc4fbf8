"""What a benchmark watches while the pipeline runs: the enriched events of the run, the
service processes (CPU, RSS, restarts) and Redis' memory held for articles in flight."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
import redis.asyncio as aredis

from newsflow.bench.bare import STARTUP_TIMEOUT_S
from newsflow.supervisor import SERVICES, Supervisor
from shared.redis_client import read_after
from shared.streams import DATA_FIELD, Keys
from shared.worker import stop_if_cancelled

#: How often service memory and Redis memory are sampled.
SAMPLE_INTERVAL_S = 0.2


class BenchError(RuntimeError):
    """The pipeline did not deliver what the benchmark pushed (with the logs' tails)."""


@dataclass
class _Seen:
    """An enriched event of this run: when it was seen, and its own timestamps."""

    observed: float
    ingested_at: float
    enriched_at: float
    partial: bool


def _stamp(value: object) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass
class EnrichedEvents:
    """Follows the enriched stream and keeps this run's events by article id."""

    client: aredis.Redis
    keys: Keys
    id_prefix: str
    seen: dict[str, _Seen] = field(default_factory=dict)
    #: Why following stopped, if it did: waiting on then fails at once, with the reason,
    #: instead of waiting out its timeout for events this no longer reads.
    error: Exception | None = None

    async def follow(self) -> None:
        """Until cancelled: record this run's enriched events as they come."""
        try:
            await self._follow()
        except Exception as exc:  # not CancelledError: cancelling is how it ends
            self.error = exc
            raise

    async def _follow(self) -> None:
        last = "0-0"
        while True:
            try:
                entries = await read_after(
                    self.client, self.keys.enriched, last, count=100, block_ms=100
                )
            except (aredis.ConnectionError, aredis.TimeoutError) as exc:
                # redis-py can turn the task's cancellation into a connection error (or
                # swallow it): reading again would never end, and the bench would hang.
                stop_if_cancelled(exc)
                # A busy machine can starve a read past its socket timeout: read again.
                await asyncio.sleep(0.2)
                continue
            stop_if_cancelled()
            observed = time.time()
            for entry_id, fields in entries:
                last = entry_id.decode()
                payload = fields.get(DATA_FIELD)
                event: Any = json.loads(payload) if payload else None
                if not isinstance(event, dict):
                    continue
                article_id = str(event.get("id"))
                if not article_id.startswith(self.id_prefix):
                    continue
                self.seen[article_id] = _Seen(
                    observed=observed,
                    ingested_at=_stamp(event["article"]["ingested_at"]),
                    enriched_at=_stamp(event["enriched_at"]),
                    partial=bool(event.get("partial")),
                )

    def count(self, ids: Iterable[str]) -> int:
        return sum(1 for article_id in ids if article_id in self.seen)

    async def wait_for(self, ids: Sequence[str], timeout: float, pipeline: ServiceProbe) -> None:
        deadline = time.monotonic() + timeout
        while self.count(ids) < len(ids):
            if self.error is not None:
                raise BenchError(f"the bench stopped reading the enriched events: {self.error!r}")
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{len(ids) - self.count(ids)} of {len(ids)} articles not enriched after "
                    f"{timeout:.0f}s\n{pipeline.log_tails()}"
                )
            await asyncio.sleep(0.1)


@dataclass
class ServiceProbe:
    """The services under test, and what is sampled from them while they run."""

    supervisor: Supervisor
    client: aredis.Redis
    rss: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    used_memory_peak: int = 0

    def processes(self) -> list[tuple[str, psutil.Process]]:
        found = []
        for child in self.supervisor.children:
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(psutil.Error):
                    found.append((child.service, psutil.Process(child.process.pid)))
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far, summed per service."""
        total = dict.fromkeys(SERVICES, 0.0)
        for service, process in self.processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total[service] += times.user + times.system
        return total

    async def redis_cpu_seconds(self) -> float:
        info: Any = await self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def used_memory(self) -> int:
        info: Any = await self.client.info("memory")
        return int(info["used_memory"])

    async def sample(self) -> None:
        """Largest RSS per service, Redis' peak; restarts crashed children (and counts them)."""
        while True:
            for service, process in self.processes():
                with contextlib.suppress(psutil.Error):
                    self.rss[service] = max(self.rss.get(service, 0), process.memory_info().rss)
            self.used_memory_peak = max(self.used_memory_peak, await self.used_memory())
            self.restarts += len(self.supervisor.check())
            stop_if_cancelled()
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def log_tails(self, chars: int = 1500) -> str:
        parts = []
        for path in sorted(self.supervisor.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    async def wait_ready(self, keys: Keys, counts: Mapping[str, int]) -> None:
        """Until every process has started reading (its models loaded). Each service logs
        "running as consumer" once its subscribers run; group membership cannot tell, as
        Redis 7.0 adds a consumer to a group only when it is first given an entry."""
        del keys  # the logs name the processes; kept for the call sites
        expected = sum(counts.values())
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            logs = sorted(self.supervisor.log_dir.glob("*.log"))
            ready = [p for p in logs if "running as consumer" in p.read_text(errors="replace")]
            if len(ready) >= expected:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"services not ready after {STARTUP_TIMEOUT_S:.0f}s\n{self.log_tails()}"
                )
            await asyncio.sleep(0.2)


def idle_seconds(before: Any, after: Any) -> float:
    """Seconds no process used, summed over the cores, between two ``psutil.cpu_times()``."""
    waiting = getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0)
    return float(after.idle - before.idle + waiting)


@dataclass
class InFlightMemory:
    """Redis memory held for articles in flight, sampled while a burst goes through.

    The output streams (enriched events, story updates, dead letters) are retained by
    length, whatever is in flight, and the stories stage's own state (its log since the
    last snapshot, the snapshot, the live stories' cards) grows with the articles it has
    seen: both are left out of the working bytes, and the story state is sampled apart.
    """

    client: aredis.Redis
    keys: Keys
    events: EnrichedEvents
    ids: Sequence[str]
    used_before: int = 0
    output_before: int = 0
    added_before: int = 0
    total_before: int = 0
    #: (dataset bytes held for work, all used bytes held for work, articles in flight)
    samples: list[tuple[int, int, int]] = field(default_factory=list)
    #: Beside each sample: the bytes each work stream held over its size before the burst
    #: (the rest of the working bytes is merge state and per-article markers).
    by_stream: list[dict[str, int]] = field(default_factory=list)
    streams_before: dict[str, int] = field(default_factory=dict)
    #: The largest the story state grew, and how many articles its log held then.
    story_state_peak: int = 0
    story_log_entries: int = 0

    async def _key_bytes(self, keys: Iterable[str]) -> int:
        total = 0
        for key in keys:
            total += int(await self.client.memory_usage(key, samples=0) or 0)
        return total

    async def _output_bytes(self) -> int:
        return await self._key_bytes((self.keys.enriched, self.keys.stories, self.keys.dead))

    async def _state_bytes(self) -> int:
        return await self._key_bytes(self.keys.story_state_keys())

    async def _stream_bytes(self) -> dict[str, int]:
        """Each work stream's bytes, by stream name (without the key prefix)."""
        prefix = len(self.keys.prefix) + 1
        return {stream[prefix:]: await self._key_bytes((stream,)) for stream in self.keys.groups()}

    async def _added(self) -> int:
        try:
            info: Any = await self.client.xinfo_stream(self.keys.accepted)
        except aredis.ResponseError:
            return 0
        return int(info["entries-added"])

    async def start(self) -> None:
        """Take the baseline: memory, output streams and admissions before the burst."""
        info: Any = await self.client.info("memory")
        self.used_before = int(info["used_memory_dataset"])
        self.total_before = int(info["used_memory"])
        self.output_before = await self._output_bytes() + await self._state_bytes()
        self.streams_before = await self._stream_bytes()
        self.added_before = await self._added()

    async def sample(self) -> None:
        """Until cancelled: (bytes held for work in flight, articles in flight)."""
        while True:
            info: Any = await self.client.info("memory")
            state = await self._state_bytes()
            output = await self._output_bytes() + state - self.output_before
            in_flight = await self._added() - self.added_before - self.events.count(self.ids)
            working = int(info["used_memory_dataset"]) - self.used_before - output
            total = int(info["used_memory"]) - self.total_before - output
            if in_flight > 0:
                streams = await self._stream_bytes()
                self.samples.append((working, total, in_flight))
                self.by_stream.append(
                    {s: b - self.streams_before.get(s, 0) for s, b in streams.items()}
                )
            if state > self.story_state_peak:
                self.story_state_peak = state
                self.story_log_entries = int(await self.client.xlen(self.keys.story_state("log")))
            stop_if_cancelled()
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def bytes_per_article(self, *, overheads: bool = False) -> float:
        """The largest ratio of working bytes to articles in flight while at least half of
        the burst was in flight. Later, the few articles left share what every processed
        article keeps for a week (its dedupe and merge markers, about 150 bytes each) and
        what trimming has not yet reached, and the ratio says little about an article.
        ``overheads`` counts Redis' own too (client buffers of the burst's pipelines)."""
        at = self._largest_ratio(overheads=overheads)
        if at is None:
            return 0.0
        working, total, count = self.samples[at]
        return (total if overheads else working) / count

    def _largest_ratio(self, *, overheads: bool) -> int | None:
        """The sample :meth:`bytes_per_article` reads: the largest ratio of bytes to
        articles in flight among those with at least half the peak in flight."""
        most = self.peak()
        chosen = [
            ((t if overheads else b) / n, i)
            for i, (b, t, n) in enumerate(self.samples)
            if n * 2 >= most
        ]
        return max(chosen)[1] if chosen else None

    def breakdown(self) -> dict[str, float]:
        """Where the bytes per in-flight article of :meth:`bytes_per_article` were, in the
        sample it comes from: each work stream's share, and the rest (merge state, markers
        and Redis' own per-key overhead) as ``other``."""
        at = self._largest_ratio(overheads=False)
        if at is None or len(self.by_stream) != len(self.samples):
            return {}
        working, _, count = self.samples[at]
        shares = {s: b / count for s, b in self.by_stream[at].items()}
        shares["other"] = working / count - sum(shares.values())
        return {s: round(v) for s, v in shares.items()}

    def peak(self) -> int:
        """The most articles in flight at once."""
        return max((n for _, _, n in self.samples), default=0)
