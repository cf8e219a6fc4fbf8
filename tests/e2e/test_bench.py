"""``newsflow bench`` end to end: a tiny run against the session's server."""

from __future__ import annotations

import json
import math

import pytest
import redis

from newsflow.bench import run_bench

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

ARTICLES = 20


def test_bench_reports_every_figure_and_leaves_no_keys(redis_url: str) -> None:
    # One entities worker keeps the run short on small machines; the figures stay sane.
    report = run_bench(ARTICLES, data=None, redis_url=redis_url, workers=1)

    assert report["articles"] == ARTICLES
    assert isinstance(report["cores"], int)
    assert report["cores"] >= 1
    assert report["redis"] == "given"
    for key in (
        "bare_articles_per_s",
        "ideal_articles_per_s",
        "throughput_articles_per_s",
        "efficiency",
        "cpu_efficiency",
        "ideal_parallel_articles_per_s",
        "efficiency_vs_parallel_bare",
        "cpu_efficiency_vs_parallel_bare",
        "bare_parallel_wall_articles_per_s",
        "latency_p50_s",
        "latency_p95_s",
        "latency_p99_s",
        "redis_bytes_per_inflight_article",
        "redis_memory_ratio_to_text",
    ):
        value = report[key]
        assert isinstance(value, float), key
        assert math.isfinite(value), key
        assert value > 0, key
    assert isinstance(report["efficiency"], float)
    assert report["efficiency"] < 1.5  # the bare ideal is an upper bound, within noise
    # One entities worker: the bare run alone is the pipeline's arrangement, not run twice.
    assert report["bare_parallel_processes"] == 1
    assert report["bare_parallel_cpu_over_alone"] == 1.0
    assert report["efficiency_vs_parallel_bare"] == report["efficiency"]
    assert isinstance(report["latency_p50_s"], float)
    assert isinstance(report["latency_p99_s"], float)
    assert report["latency_p50_s"] <= report["latency_p99_s"] < 60
    rss = report["rss_mb"]
    assert isinstance(rss, dict)
    assert set(rss) == {"ingest", "entities", "geocoder", "summarizer", "stories", "aggregator"}
    assert all(20 < mb < 2000 for mb in rss.values())
    assert report["partial_events"] == 0
    assert report["dead_letters"] == 0
    # Every article of the run passed through the stories stage, which logged its input.
    state_mb = report["redis_story_state_peak_mb"]
    logged = report["redis_story_log_entries_at_peak"]
    assert isinstance(state_mb, float) and state_mb > 0
    assert isinstance(logged, int) and logged > 0
    assert report["restarts"] == 0
    json.dumps(report)  # the --json line is one JSON object

    client = redis.Redis.from_url(redis_url)
    try:
        assert not list(client.scan_iter(match="bench-*", count=1000))
    finally:
        client.close()
