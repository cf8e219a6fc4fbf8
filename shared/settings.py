"""Settings: one frozen, validated object, built at start-up from ``NEWSFLOW_*`` variables."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.redact import redact_url

#: The URL schemes newsflow connects with.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def default_consumer_name() -> str:
    """A consumer name unique to this process: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


def check_redis_url(url: str) -> str:
    """``url`` if it names a Redis server newsflow can connect to; ValueError otherwise
    (the message never repeats the URL, which may hold a password)."""
    if not url.startswith(REDIS_SCHEMES):
        raise ValueError(f"must start with {', '.join(REDIS_SCHEMES[:-1])} or {REDIS_SCHEMES[-1]}")
    return url


class RedisUrl(SecretStr):
    """A Redis URL that shows itself (repr, str, JSON) with its password as ``***``, so
    that no log, traceback or dump of the settings reveals it; ``get_secret_value()`` is
    the URL to connect with."""

    def _display(self) -> str:
        return redact_url(self.get_secret_value())


class Settings(BaseSettings):
    """Every tunable of newsflow. Read once, at start-up, via :func:`load_settings`."""

    # Validation errors never quote the value given: it may be a URL with a password.
    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    redis_url: RedisUrl | None = Field(
        default=None,
        description="redis://, rediss:// or unix:// URL. Unset: `newsflow up` embeds a server.",
    )
    stream_prefix: str = Field(default="newsflow", pattern=r"^[A-Za-z0-9_.:{}-]{1,64}$")
    redis_cluster: bool = Field(
        default=False, description="The URL names a node of a Redis Cluster."
    )

    # Delivery
    max_deliveries: int = Field(default=5, ge=1, description="Deliveries before a dead letter.")
    claim_idle_ms: int = Field(default=30_000, ge=100, description="Idle time before a claim.")
    batch_size: int = Field(default=16, ge=1, le=1000)
    # A blocking read returns as soon as an entry arrives: the block time bounds only the
    # idle wake-ups (docs/performance.md), not the latency.
    poll_ms: int = Field(default=1000, ge=1, description="XREADGROUP block time.")
    consumer_name: str = Field(default_factory=default_consumer_name)

    # Merging. An article is emitted partial only when it has waited merge_deadline_s AND
    # a stage it still misses is down (none of its processes heard from for
    # stage_down_after_s): a stage that is busy, or slow on one article, never makes other
    # articles partial. Results that arrive after a partial emission complete the article
    # as its next revision, while its merge state is kept (late_results_retention_s).
    merge_deadline_s: float = Field(
        default=60.0, gt=0, description="Least wait before an article may be emitted partial."
    )
    merge_sweep_s: float = Field(default=1.0, gt=0)
    stage_down_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A stage none of whose processes was heard from for this long is down.",
    )
    heartbeat_s: float = Field(
        default=1.0, gt=0, description="How often each process says it is alive."
    )
    late_results_retention_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long a partial article waits for its missing results.",
    )

    # Retention and back-pressure
    backlog_limit: int = Field(
        default=10_000, ge=1, description="Ingest pushes back above it, whatever the rate."
    )
    backlog_max_s: float = Field(
        default=30.0,
        gt=0,
        description="Ingest pushes back when the backlog would take longer than this to "
        "finish at the pipeline's measured rate.",
    )
    backlog_floor: int = Field(
        default=200,
        ge=1,
        description="Below this backlog ingest never pushes back (and before a rate is known).",
    )
    event_text: bool = Field(
        default=False,
        description="Carry the article's text in its enriched event (the enriched stream "
        "then holds every retained article's text: output_maxlen x mean text size).",
    )
    output_maxlen: int = Field(
        default=100_000, ge=100, description="Approximate cap of the enriched and dead streams."
    )
    dedupe_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    replay_retention_s: float = Field(
        default=3600.0, ge=0, description="Accepted articles kept this long for `newsflow replay`."
    )
    housekeeping_s: float = Field(
        default=1.0,
        gt=0,
        description="How often gauges refresh and acknowledged entries are trimmed.",
    )

    # Input limits
    max_text_chars: int = Field(default=200_000, ge=1)
    max_payload_bytes: int = Field(default=1_000_000, ge=1024)

    # Work
    stage_budget_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest one article may hold a stage; then it fails with budget_exceeded.",
    )
    summary_sentences: int = Field(default=3, ge=1, le=20)
    stories_lease_s: float = Field(
        default=30.0,
        ge=1.0,
        description="The stories owner's lease: a successor waits this long after a crash.",
    )
    stories_snapshot_every: int = Field(
        default=1000,
        ge=1,
        description="Articles between two snapshots of the story state (a take-over replays "
        "the articles since the last one).",
    )
    stories_snapshot_min_s: float = Field(
        default=300.0,
        ge=0.0,
        description="Least time between two snapshots: a snapshot of a full window (100,000 "
        "stories) takes a core for seconds, in a child process.",
    )
    gazetteer_path: Path | None = Field(default=None, description="Gazetteer index file.")

    # HTTP (ingest API) and metrics
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # HTTP access control and TLS (services/ingest/auth.py; README "HTTP API")
    api_keys: SecretStr | None = Field(
        default=None,
        description="Server keys: name:scope+scope:secret, comma-separated (scopes: "
        "push, read, metrics). Unset with no file: the API is open.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="The same, one key a line (e.g. a mounted Kubernetes secret)."
    )
    metrics_auth: bool = Field(default=False, description="/metrics needs the metrics scope.")
    api_key: SecretStr | None = Field(
        default=None, description="The key `newsflow push --http` sends."
    )
    http_ssl_certfile: Path | None = Field(default=None, description="Serve HTTPS with this.")
    http_ssl_keyfile: Path | None = None

    # Server-Sent Events (services/ingest/fanout.py)
    sse_max_clients: int = Field(default=1000, ge=1, description="Then GET /events gets 503.")
    sse_queue_events: int = Field(
        default=256, ge=1, description="Events buffered per client before it reads on its own."
    )
    sse_keepalive_s: float = Field(default=15.0, gt=0, description="Comment sent when idle.")
    sse_send_timeout_s: float = Field(
        default=30.0, gt=0, description="A client that takes nothing this long is dropped."
    )
    sse_redis_connections: int = Field(
        default=4, ge=2, le=64, description="The readers' own pool (never the producers')."
    )

    # HTML extraction, in worker processes off the event loop
    html_workers: int = Field(default=1, ge=1, le=16)
    html_timeout_s: float = Field(default=30.0, gt=0, description="Per page, then 422.")

    @field_validator("redis_url")
    @classmethod
    def _known_scheme(cls, value: RedisUrl | None) -> RedisUrl | None:
        if value is not None:
            check_redis_url(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _one_slot_per_pipeline(self) -> Settings:
        # Transactions and scripts touch several keys: on a cluster they must share a slot.
        if self.redis_cluster and not re.fullmatch(r"\{[^{}]+\}", self.stream_prefix):
            raise ValueError(
                "on Redis Cluster the stream prefix must be a hash tag, e.g. {newsflow}; "
                "run one pipeline per tag to spread the load over the slots"
            )
        return self

    def redis_url_value(self) -> str | None:
        """The Redis URL to connect with (password included), or None when unset."""
        return self.redis_url.get_secret_value() if self.redis_url else None

    def require_redis_url(self) -> str:
        """The Redis URL, for services that cannot run without one."""
        url = self.redis_url_value()
        if not url:
            raise RuntimeError("NEWSFLOW_REDIS_URL is not set (newsflow up sets it for services)")
        return url


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
