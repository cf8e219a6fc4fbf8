"""``newsflow up``: every service as a supervised process, on an embedded server if needed."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from shared.embedded import EmbeddedRedis
from shared.pipeline import PIPELINE

log = logging.getLogger("newsflow.up")

#: The services ``up`` runs, in pipeline order (one process type per declared stage).
SERVICES = PIPELINE.names


def default_counts(cores: int | None = None) -> dict[str, int]:
    """Processes per service: one, or one per core for a stage declared ``per_core``."""
    cores = cores or os.cpu_count() or 1
    return {s.name: max(1, cores) if s.scale == "per_core" else 1 for s in PIPELINE}


@dataclass
class Child:
    """One supervised service process."""

    service: str
    index: int
    # Out of the repr: the environment holds the Redis URL, password included.
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    @property
    def name(self) -> str:
        """``service-index``, also the consumer-name suffix."""
        return f"{self.service}-{self.index}"

    def start(self, log_dir: Path) -> None:
        """Start (or restart) the process, logging to ``log_dir/<name>.log``."""
        out = (log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "newsflow", "service", self.service],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        if niceness := PIPELINE[self.service].nice:
            with contextlib.suppress(psutil.Error):
                psutil.Process(self.process.pid).nice(niceness)
        self.started_at = time.monotonic()


@dataclass
class Supervisor:
    """Starts the services and restarts any that dies, with a short back-off."""

    # The URL and the environment may hold a password: out of the repr.
    redis_url: str = field(repr=False)
    log_dir: Path
    counts: Mapping[str, int]
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    metrics_base_port: int | None = None
    http_host: str | None = None
    http_port: int | None = None
    children: list[Child] = field(default_factory=list)

    def start(self) -> None:
        """Start every service process."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        port = self.metrics_base_port
        for service in SERVICES:
            for index in range(self.counts.get(service, 1)):
                env = dict(self.base_env)
                env["NEWSFLOW_REDIS_URL"] = self.redis_url
                if port is not None:
                    env["NEWSFLOW_METRICS_PORT"] = str(port)
                    port += 1
                if service == "ingest" and self.http_host is not None:
                    env["NEWSFLOW_HTTP_HOST"] = self.http_host
                if service == "ingest" and self.http_port is not None:
                    env["NEWSFLOW_HTTP_PORT"] = str(self.http_port)
                child = Child(service, index, env)
                child.start(self.log_dir)
                self.children.append(child)

    def check(self) -> list[str]:
        """Restart children that exited; returns the names restarted."""
        restarted = []
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                # Back off a crash loop: at most one restart per second per child.
                if time.monotonic() - child.started_at < 1.0:
                    continue
                log.warning("%s exited with %s; restarting", child.name, child.process.returncode)
                child.restarts += 1
                child.start(self.log_dir)
                restarted.append(child.name)
        return restarted

    def pids(self) -> dict[str, int]:
        """Process ids by child name."""
        return {c.name: c.process.pid for c in self.children if c.process is not None}

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every child (they drain in-flight work), SIGKILL after ``timeout``."""
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def start_redis(redis_url: str | None, data_dir: Path) -> tuple[str, EmbeddedRedis | None]:
    """The URL to use, starting the embedded server when none is given."""
    if redis_url:
        return redis_url, None
    server = EmbeddedRedis(data_dir / "redis")
    return server.start(), server
