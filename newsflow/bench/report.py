"""The run and its report: the bare cost alone and side by side, then the pipeline, and
every figure derived from them."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from newsflow.bench.bare import measure_bare, measure_bare_parallel
from newsflow.bench.figures import efficiency, ideal_rate
from newsflow.bench.pipeline import measure_pipeline
from newsflow.bench.texts import load_texts
from newsflow.supervisor import default_counts, start_redis
from shared.embedded import EmbeddedRedis
from shared.settings import load_settings

log = logging.getLogger("newsflow.bench")


def run_bench(
    articles: int,
    *,
    data: Path | None,
    redis_url: str | None,
    workers: int | None,
    counts: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """Measure the bare cost of the stages, then the pipeline on the same texts.

    ``articles`` is N, the articles pushed for throughput (and again for latency);
    ``data`` where the texts come from (see :func:`load_texts`); ``redis_url`` a server to
    use under a prefix of the run's own (its keys are deleted afterwards), else a fresh
    embedded one in a temporary folder; ``workers`` the entities processes (default: one
    per core); ``counts`` processes per service, for experiments. Returns the report.
    """
    if articles < 1:
        raise ValueError("benchmark at least one article")
    settings = load_settings()
    cores = os.cpu_count() or 1
    processes = dict(default_counts(cores))
    processes.update(counts or {})
    if workers:
        processes["entities"] = workers
    texts, source = load_texts(data)
    chosen = [texts[n % len(texts)] for n in range(articles)]
    load_start = os.getloadavg()[0]
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")

    log.info("bare cost on %d texts from %s", articles, source)
    bare = measure_bare(chosen, settings)
    cpu_total = sum(bare["cpu_s"].values())
    ideal = ideal_rate(bare["cpu_s"], cores)
    side_by_side = processes["entities"]
    if side_by_side > 1:
        log.info("bare cost with %d processes side by side", side_by_side)
        parallel = measure_bare_parallel(chosen, settings, side_by_side)
        parallel_rate = parallel["run"]["texts"] / parallel["run"]["seconds"]
    else:
        # One entities worker: one bare process alone is the pipeline's arrangement.
        parallel = bare
        parallel_rate = 1.0 / sum(bare["wall_s"].values())
    parallel_total = sum(parallel["cpu_s"].values())
    ideal_parallel = ideal_rate(parallel["cpu_s"], cores)

    # The bare phase's model stays loaded: keep it out of this process' collections, as
    # the services do with theirs, so the benchmark takes little CPU from the pipeline.
    gc.collect()
    gc.freeze()
    log.info("pipeline with %s", processes)
    with tempfile.TemporaryDirectory(prefix="nf-bench-", dir="/tmp") as tmp:
        url, embedded = start_redis(redis_url, Path(tmp))
        try:
            measured = asyncio.run(
                measure_pipeline(
                    chosen, articles, redis_url=url, counts=processes, state_dir=Path(tmp)
                )
            )
        finally:
            if isinstance(embedded, EmbeddedRedis):
                embedded.stop()

    throughput = float(measured["throughput_articles_per_s"])
    pipeline_cpu = measured["pipeline_cpu_s_per_article"]
    # The cores the pipeline had: those it kept busy plus those nobody used. On an idle
    # machine that is every core (less the benchmark's own share), and this is `efficiency`.
    obtained = float(measured["pipeline_cores_busy"]) + float(measured["machine_idle_cores"])
    return {
        "started_at": started_at,
        "articles": articles,
        "cores": cores,
        "processes": processes,
        "batch_size": settings.batch_size,
        "texts": str(source),
        "redis": "given" if redis_url else "embedded",
        "load_average_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "bare_cpu_s_per_article": {**bare["cpu_s"], "total": cpu_total},
        "bare_wall_s_per_article": {**bare["wall_s"], "total": sum(bare["wall_s"].values())},
        "bare_articles_per_s": 1.0 / cpu_total,
        # Mean bytes of each message an article makes, next to its text's: what Redis holds
        # for an article between its stages, until the work streams are trimmed.
        "wire_bytes_per_article": {k: round(v) for k, v in bare["wire_bytes"].items()},
        "ideal_articles_per_s": ideal,
        **measured,
        "efficiency": efficiency(throughput, ideal),
        "efficiency_on_cores_obtained": throughput * cpu_total / obtained,
        "cpu_efficiency": cpu_total / sum(pipeline_cpu.values()),
        # The second ideal: the bare functions in as many processes side by side as the
        # pipeline has entities workers, each on its share (see docs/performance.md).
        "bare_parallel_processes": side_by_side,
        "bare_parallel_cpu_s_per_article": {**parallel["cpu_s"], "total": parallel_total},
        "bare_parallel_cpu_over_alone": parallel_total / cpu_total,
        "bare_parallel_wall_articles_per_s": parallel_rate,
        "ideal_parallel_articles_per_s": ideal_parallel,
        "efficiency_vs_parallel_bare": efficiency(throughput, ideal_parallel),
        "cpu_efficiency_vs_parallel_bare": parallel_total / sum(pipeline_cpu.values()),
    }


def describe_report(report: Mapping[str, Any]) -> str:
    """The report as a few readable lines."""
    bare = report["bare_cpu_s_per_article"]
    lines = [
        f"{report['articles']} articles from {report['texts']}, {report['cores']} cores, "
        f"processes {report['processes']}, load {report['load_average_1m']}",
        "bare CPU per article: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in bare.items())
        + f" -> {report['bare_articles_per_s']:.1f}/s per core, "
        f"ideal {report['ideal_articles_per_s']:.1f}/s",
        f"pipeline: {report['throughput_articles_per_s']:.2f} articles/s, "
        f"efficiency {report['efficiency']:.2f} "
        f"({report['efficiency_on_cores_obtained']:.2f} on the cores it got, "
        f"CPU efficiency {report['cpu_efficiency']:.2f}); "
        f"cores busy {report['pipeline_cores_busy']:.2f}, idle {report['machine_idle_cores']:.2f}",
        f"bare side by side ({report['bare_parallel_processes']} processes): "
        f"{report['bare_parallel_cpu_s_per_article']['total'] * 1000:.1f} ms per article "
        f"({report['bare_parallel_cpu_over_alone']:.3f}x alone), "
        f"ideal {report['ideal_parallel_articles_per_s']:.1f}/s; pipeline "
        f"efficiency {report['efficiency_vs_parallel_bare']:.2f} against it "
        f"(CPU efficiency {report['cpu_efficiency_vs_parallel_bare']:.2f})",
        "pipeline CPU per article: "
        + ", ".join(
            f"{k} {v * 1000:.1f} ms" for k, v in report["pipeline_cpu_s_per_article"].items()
        ),
        f"latency at {report['latency_offered_articles_per_s']:.2f}/s: "
        f"p50 {report['latency_p50_s']:.3f}s p95 {report['latency_p95_s']:.3f}s "
        f"p99 {report['latency_p99_s']:.3f}s (idle cores meanwhile "
        f"{report['latency_phase_machine_idle_cores']:.2f})",
        "RSS (MB): " + ", ".join(f"{k} {v}" for k, v in report["rss_mb"].items()),
        f"Redis per in-flight article: {report['redis_bytes_per_inflight_article']:.0f} bytes "
        f"({report['redis_memory_ratio_to_text']:.2f}x the mean text); story state at most "
        f"{report['redis_story_state_peak_mb']} MB ({report['redis_story_log_entries_at_peak']} "
        "inputs logged since the snapshot)",
        "of which (bytes per in-flight article): "
        + ", ".join(
            f"{k} {v}" for k, v in report.get("redis_bytes_per_inflight_article_by_key", {}).items()
        ),
        "message bytes per article: "
        + ", ".join(f"{k} {v}" for k, v in report["wire_bytes_per_article"].items()),
    ]
    return "\n".join(lines)
