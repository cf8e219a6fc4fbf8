"""Stream and group gauges: length, lag, pending and oldest pending age.

newsflow exports these itself: the exporters packaged for Debian predate group lag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aredis

from shared.ids import entry_age_s
from shared.metrics import (
    GROUP_LAG,
    GROUP_OLDEST_PENDING_AGE,
    GROUP_PENDING,
    MERGES_OPEN,
    STREAM_LENGTH,
)
from shared.streams import Keys


@dataclass(frozen=True)
class GroupRow:
    """One consumer group of one stream: the stream's length, the group's lag (entries
    not yet delivered to it), pending (delivered, not acknowledged) and the age of its
    oldest pending entry (0 when none)."""

    stream: str
    group: str
    length: int
    lag: int
    pending: int
    oldest_pending_age_s: float


async def group_stats(client: aredis.Redis, keys: Keys) -> list[GroupRow]:
    """One row per (stream, group) of every work stream."""
    rows: list[GroupRow] = []
    now = time.time()
    for stream, _groups in keys.groups().items():
        length = int(await client.xlen(stream))
        try:
            infos = await client.xinfo_groups(stream)
        except aredis.ResponseError:
            infos = []
        for info in infos:
            group = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            pending = int(info.get("pending", 0))
            oldest = 0.0
            if pending:
                summary = await client.xpending(stream, group)
                if summary.get("min"):
                    oldest = entry_age_s(summary["min"], now)
            lag = info.get("lag")
            rows.append(
                GroupRow(
                    stream=stream,
                    group=group,
                    length=length,
                    lag=int(lag) if lag is not None else length,
                    pending=pending,
                    oldest_pending_age_s=oldest,
                )
            )
    return rows


async def update_gauges(client: aredis.Redis, keys: Keys) -> list[GroupRow]:
    """Refresh the stream gauges from Redis and return the rows (for ``newsflow status``)."""
    rows = await group_stats(client, keys)
    for row in rows:
        GROUP_LAG.labels(row.stream, row.group).set(row.lag)
        GROUP_PENDING.labels(row.stream, row.group).set(row.pending)
        GROUP_OLDEST_PENDING_AGE.labels(row.stream, row.group).set(row.oldest_pending_age_s)
    for stream in (*keys.groups(), keys.enriched, keys.dead):
        STREAM_LENGTH.labels(stream).set(await client.xlen(stream))
    MERGES_OPEN.set(await client.zcard(keys.merge_deadlines))
    return rows


class PeakRate:
    """The pipeline's recent peak throughput, in enriched events per second.

    Rates are measured over ``window_s`` from a running total (the enriched stream's
    entries-added counter); the peak is the highest window of the last ``memory_s``. The
    peak, not the latest window, is what the pipeline *can* finish: right after a quiet
    spell the latest window reads zero although the workers are idle, not slow.
    """

    def __init__(self, window_s: float = 10.0, memory_s: float = 600.0) -> None:
        self.window_s = window_s
        self.memory_s = memory_s
        self._totals: list[tuple[float, int]] = []
        self._rates: list[tuple[float, float]] = []

    def observe(self, now_s: float, total: int) -> float | None:
        """Record the running total at ``now_s``; returns the peak rate (None until one
        full window was seen)."""
        self._totals.append((now_s, total))
        while len(self._totals) > 1 and self._totals[1][0] <= now_s - self.window_s:
            self._totals.pop(0)
        first_s, first_total = self._totals[0]
        if now_s - first_s >= self.window_s:
            self._rates.append((now_s, (total - first_total) / (now_s - first_s)))
        self._rates = [(t, r) for t, r in self._rates if t > now_s - self.memory_s]
        return max((r for _t, r in self._rates), default=None)


async def entries_added(client: aredis.Redis, stream: str) -> int | None:
    """How many entries a stream ever received (Redis 7+; None before, or no stream)."""
    try:
        info = await client.xinfo_stream(stream)
    except aredis.ResponseError:
        return None
    added = info.get("entries-added")
    return int(added) if added is not None else None
