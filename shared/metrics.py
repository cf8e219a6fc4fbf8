"""Every Prometheus metric newsflow exports, defined once.

Base units, ``_total`` counters, histograms for durations, and only bounded labels
(stage, status, stream, group, service): never an article id, URL or entity string.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

from shared import __version__

# Stage work: from a millisecond (a cache hit) to tens of seconds (a huge article).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Push to enriched event: sub-second when idle, minutes under a backlog.
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

ARTICLES_INGESTED = Counter(
    "newsflow_articles_ingested_total",
    "Articles offered to ingest, by path (http, stream) and outcome "
    "(accepted, duplicate, invalid, throttled, not_stored, unknown).",
    ["path", "status"],
)
STAGE_MESSAGES = Counter(
    "newsflow_stage_messages_total",
    "Entries handled per stage, by outcome (shared.worker.Outcome): ok, retry, failed, "
    "budget_exceeded, invalid_input, worker_died (the four dead-letter outcomes), skipped.",
    ["stage", "status"],
)
STAGE_DURATION = Histogram(
    "newsflow_stage_duration_seconds",
    "Time a stage spent on one article, as reported in its result (observed once per "
    "article and stage by the aggregator, whatever the number of workers).",
    ["stage", "status"],
    buckets=STAGE_BUCKETS,
)
BATCH_DURATION = Histogram(
    "newsflow_stage_batch_duration_seconds",
    "Time a worker process spent on one batch.",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
BATCH_SIZE = Histogram(
    "newsflow_stage_batch_size",
    "Entries read per batch.",
    ["stage"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
DEAD_LETTERS = Counter(
    "newsflow_dead_letters_total",
    "Entries sent to the dead-letter stream, by stage.",
    ["stage"],
)
COMMIT_RETRIES = Counter(
    "newsflow_commit_retries_total",
    "Batches whose commit Redis could not take (unreachable, full, loading), kept and "
    "tried again after a back-off.",
    ["stage"],
)
ENRICHED = Counter(
    "newsflow_enriched_total",
    "Enriched events emitted: complete, partial (a stage was down), or completed (the "
    "complete next revision of a partial article, once its missing results came).",
    ["status"],
)
STAGE_UP = Gauge(
    "newsflow_stage_up",
    "1 while some process of the stage was heard from within stage_down_after_s, else 0.",
    ["stage"],
)
LATE_RESULTS = Counter(
    "newsflow_late_results_total",
    "Stage results that arrived after their article was emitted (duplicates or too late).",
    ["stage"],
)
END_TO_END = Histogram(
    "newsflow_end_to_end_latency_seconds",
    "From ingest to the enriched event.",
    buckets=E2E_BUCKETS,
)
STREAM_LENGTH = Gauge("newsflow_stream_length", "Entries in a stream.", ["stream"])
GROUP_LAG = Gauge(
    "newsflow_group_lag", "Entries not yet delivered to a consumer group.", ["stream", "group"]
)
GROUP_PENDING = Gauge(
    "newsflow_group_pending",
    "Entries delivered to a group and not yet acknowledged.",
    ["stream", "group"],
)
GROUP_OLDEST_PENDING_AGE = Gauge(
    "newsflow_group_oldest_pending_age_seconds",
    "Age of the oldest unacknowledged entry of a group (0 when none).",
    ["stream", "group"],
)
GROUP_RECOVERIES = Counter(
    "newsflow_group_recoveries_total",
    "Times a service re-created lost consumer groups and restarted its subscribers.",
    ["service"],
)
SSE_CLIENTS = Gauge("newsflow_sse_clients", "Clients connected to ingest's GET /events.")
SSE_DROPPED = Counter(
    "newsflow_sse_dropped_total",
    "GET /events clients turned away or dropped, by reason (full, slow).",
    ["reason"],
)
HTTP_DENIED = Counter(
    "newsflow_http_denied_total",
    "Requests refused for their API key, by endpoint and status (401, 403).",
    ["endpoint", "status"],
)
MERGES_OPEN = Gauge("newsflow_merges_open", "Articles waiting for stage results.")
STORIES_LIVE = Gauge(
    "newsflow_stories_live", "Stories in the stories stage's window (its owner's count)."
)
STORY_ASSIGNMENTS = Counter(
    "newsflow_story_assignments_total",
    "Articles placed in a story: kind is new (started one), joined, duplicate (a near-copy "
    "of an earlier article) or repeat (a second delivery or a replay: the story it had).",
    ["kind"],
)
STORIES_EVICTED = Counter(
    "newsflow_stories_evicted_total", "Stories that went quiet (or beyond capacity) and left."
)
STORY_STATE_LOADS = Counter(
    "newsflow_story_state_loads_total",
    "Times a stories process loaded the story state (start-up, take-over, or after a failure).",
)
BUILD_INFO = Info("newsflow_build", "Versions of the service, model and gazetteer.")


def set_build_info(service: str, *, model: str = "", gazetteer: str = "") -> None:
    """Publish the versions that produce this process's results."""
    BUILD_INFO.info(
        {"service": service, "version": __version__, "model": model, "gazetteer": gazetteer}
    )


def serve_metrics(host: str, port: int | None) -> None:
    """Serve ``/metrics`` on ``host:port`` in a background thread; no-op when port is None."""
    if port is not None:
        start_http_server(port, addr=host)
