"""Settings: one frozen, validated object, built at start-up from ``NEWSFLOW_*`` variables."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_consumer_name() -> str:
    """A consumer name unique to this process: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Every tunable of newsflow. Read once, at start-up, via :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", frozen=True, extra="ignore")

    redis_url: str | None = Field(
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

    # Merging
    merge_deadline_s: float = Field(default=60.0, gt=0, description="Then emit as partial.")
    merge_sweep_s: float = Field(default=1.0, gt=0)

    # Retention and back-pressure
    backlog_limit: int = Field(default=10_000, ge=1, description="Ingest pushes back above it.")
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
    summary_sentences: int = Field(default=3, ge=1, le=20)
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
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
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

    def http_body_limit(self) -> int:
        """The largest request body ingest's HTTP API reads (a batch of payloads)."""
        return self.max_payload_bytes * 10

    def require_redis_url(self) -> str:
        """The Redis URL, for services that cannot run without one."""
        if not self.redis_url:
            raise RuntimeError("NEWSFLOW_REDIS_URL is not set (newsflow up sets it for services)")
        return self.redis_url


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
