"""The pipeline run: every service as a process on a server of the run's own, N articles
at once for throughput, N more at a steady half of it for latency, memory sampled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aredis

from newsflow.bench.bare import MIN_PHASE_TIMEOUT_S
from newsflow.bench.figures import latency_summary, percentile
from newsflow.bench.texts import BenchText, make_article, make_articles
from newsflow.bench.watch import EnrichedEvents, InFlightMemory, ServiceProbe, idle_seconds
from newsflow.client import push_articles
from newsflow.supervisor import SERVICES, Supervisor
from services.ingest.admit import Admitter
from shared.redis_client import connect, ensure_groups
from shared.settings import load_settings
from shared.streams import Keys

log = logging.getLogger("newsflow.bench")


def _service_env(prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_METRICS_PORT"}
    env["NEWSFLOW_STREAM_PREFIX"] = prefix
    # Accepted articles kept for replays are not in flight: see newsflow.bench's docstring.
    env["NEWSFLOW_REPLAY_RETENTION_S"] = "0"
    return env


async def _delete_prefix(client: aredis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            await client.delete(*batch)
            batch = []
    if batch:
        await client.delete(*batch)


async def measure_pipeline(
    texts: Sequence[BenchText],
    count: int,
    *,
    redis_url: str,
    counts: Mapping[str, int],
    state_dir: Path,
) -> dict[str, Any]:
    """Throughput, latency at half of it, RSS and Redis memory of a running pipeline."""
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}"
    id_prefix = f"bench{run}"
    settings = load_settings(redis_url=redis_url, stream_prefix=prefix)
    keys = Keys(prefix)
    client = connect(redis_url)
    await ensure_groups(client, keys)
    supervisor = Supervisor(
        redis_url=redis_url,
        log_dir=state_dir / "logs",
        counts=counts,
        base_env=_service_env(prefix),
        http_port=0,
    )
    pipeline = ServiceProbe(supervisor, client)
    events = EnrichedEvents(connect(redis_url), keys, id_prefix)
    tasks = [asyncio.create_task(pipeline.sample()), asyncio.create_task(events.follow())]
    phase_timeout = max(MIN_PHASE_TIMEOUT_S, 2.0 * count)
    try:
        supervisor.start()
        started = time.monotonic()
        await pipeline.wait_ready(keys, counts)
        log.info("services ready in %.1fs", time.monotonic() - started)

        # Warm-up: every entities worker gets a batch, so no model or cache is cold below.
        warm = make_articles(texts, 4 * counts["entities"], f"{id_prefix}-warm", settings)
        await push_articles(client, settings, warm)
        await events.wait_for([a.meta.id for a in warm], phase_timeout, pipeline)

        # Throughput: everything at once, through the CLI's admission path.
        # Articles are made (validated, language detected) before the clocks start.
        burst = make_articles(texts, count, f"{id_prefix}-tput", settings)
        burst_ids = [a.meta.id for a in burst]
        memory = InFlightMemory(client, keys, events, burst_ids)
        await memory.start()
        sampler = asyncio.create_task(memory.sample())
        tasks.append(sampler)
        cpu_before = pipeline.cpu_seconds()
        redis_cpu_before = await pipeline.redis_cpu_seconds()
        machine_before = psutil.cpu_times()
        own_before = time.process_time()
        first_push = time.time()
        await push_articles(client, settings, burst)
        log.info("pushed %d articles in %.2fs", count, time.time() - first_push)
        await events.wait_for(burst_ids, phase_timeout, pipeline)
        sampler.cancel()
        last_event = max(events.seen[i].enriched_at for i in burst_ids)
        cpu_after = pipeline.cpu_seconds()
        redis_cpu = await pipeline.redis_cpu_seconds() - redis_cpu_before
        machine_after = psutil.cpu_times()
        own_cpu = time.process_time() - own_before
        elapsed = max(last_event - first_push, 1e-6)
        throughput = count / elapsed
        log.info("throughput %.2f articles/s (%d in %.2fs)", throughput, count, elapsed)

        # Latency at a steady half load: one article at a time, evenly spaced.
        rate = throughput / 2
        admitter = Admitter(client, settings)
        steady_machine = psutil.cpu_times()
        steady_cpu = pipeline.cpu_seconds()
        steady_started = time.monotonic()
        steady: list[str] = []
        start = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            article = make_article(texts[n % len(texts)], f"{id_prefix}-lat-{n:06d}", settings)
            await admitter.admit([article])
            steady.append(article.meta.id)
        await events.wait_for(steady, phase_timeout, pipeline)
        steady_s = time.monotonic() - steady_started
        steady_busy = sum(pipeline.cpu_seconds().values()) - sum(steady_cpu.values())
        steady_idle = idle_seconds(steady_machine, psutil.cpu_times())
        latencies = [events.seen[i].enriched_at - events.seen[i].ingested_at for i in steady]
        observed = [events.seen[i].observed - events.seen[i].ingested_at for i in steady]

        text_bytes = [len(a.text.encode("utf-8")) for a in burst]
        mean_text = sum(text_bytes) / len(text_bytes)
        per_inflight = memory.bytes_per_article()
        cpu_used = {s: (cpu_after[s] - cpu_before.get(s, 0.0)) / count for s in SERVICES}
        cpu_used["redis"] = redis_cpu / count
        idle = idle_seconds(machine_before, machine_after)
        stats = latency_summary(latencies)
        return {
            "throughput_articles_per_s": throughput,
            "throughput_seconds": elapsed,
            "pipeline_cpu_s_per_article": cpu_used,
            # Cores the pipeline kept busy, and cores nobody used, while it ran: with idle
            # cores the pipeline stalls; with none, it shared the machine.
            "pipeline_cores_busy": sum(cpu_used.values()) * count / elapsed,
            "machine_idle_cores": idle / elapsed,
            "bench_cores_busy": own_cpu / elapsed,
            "latency_offered_articles_per_s": rate,
            "latency_p50_s": stats["p50"],
            "latency_p95_s": stats["p95"],
            "latency_p99_s": stats["p99"],
            "latency_mean_s": stats["mean"],
            "latency_max_s": stats["max"],
            "latency_observed_p99_s": percentile(observed, 99),
            # Latency holds only if the machine still gives the pipeline the CPU it had
            # for the throughput phase: other work starting meanwhile shows up here.
            "latency_phase_services_cores_busy": steady_busy / steady_s,
            "latency_phase_machine_idle_cores": steady_idle / steady_s,
            "rss_mb": {s: round(b / 2**20, 1) for s, b in sorted(pipeline.rss.items())},
            "redis_used_memory_peak_mb": round(pipeline.used_memory_peak / 2**20, 2),
            "redis_inflight_articles_peak": memory.peak(),
            "redis_working_memory_peak_mb": round(
                max((b for b, _, _ in memory.samples), default=0) / 2**20, 2
            ),
            "redis_memory_samples": len(memory.samples),
            "redis_used_memory_per_inflight_article": memory.bytes_per_article(overheads=True),
            "redis_bytes_per_inflight_article": per_inflight,
            "text_bytes_mean": mean_text,
            "redis_memory_ratio_to_text": per_inflight / mean_text,
            "redis_bytes_per_inflight_article_by_key": memory.breakdown(),
            # The stories stage's state, apart: it grows with the articles seen (the log
            # until the next snapshot, a card per live story), not with those in flight.
            "redis_story_state_peak_mb": round(memory.story_state_peak / 2**20, 2),
            "redis_story_log_entries_at_peak": memory.story_log_entries,
            "partial_events": sum(1 for s in events.seen.values() if s.partial),
            "dead_letters": int(await client.xlen(keys.dead)),
            "restarts": pipeline.restarts,
        }
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(supervisor.stop)
        with contextlib.suppress(aredis.RedisError, OSError):
            await _delete_prefix(client, prefix)
        await events.client.aclose()
        await client.aclose()
