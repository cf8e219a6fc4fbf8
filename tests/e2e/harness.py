"""A running ``newsflow up`` that tests feed, watch and damage."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil
import redis

from shared.pipeline import PIPELINE
from shared.schemas import EnrichedEvent
from shared.streams import Keys
from tests.conftest import REPO
from tests.helpers import as_text, sync_payloads

SERVICES = PIPELINE.names


def newsflow(*args: str) -> list[str]:
    """The command line of ``newsflow ARGS`` with this interpreter."""
    return [sys.executable, "-m", "newsflow", *args]


def up_command(state: Path, *extra: str) -> list[str]:
    """``newsflow up`` in ``state`` with ports that never collide with another run's."""
    return newsflow(
        "up",
        "--state-dir",
        str(state),
        "--http-port",
        "0",
        "--metrics-port",
        str(random.randint(20000, 40000)),
        *extra,
    )


def run_cli(
    command: list[str], env: Mapping[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository with ``env``, its output captured as text; the
    caller checks the return code (and shows the output when it is wrong)."""
    return subprocess.run(
        command,
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Pipeline:
    """A running ``newsflow up`` on the test server, under its own prefix."""

    def __init__(
        self, redis_url: str, prefix: str, state: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        cluster = (extra_env or {}).get("NEWSFLOW_REDIS_CLUSTER") == "true"
        self.redis: redis.Redis = (
            redis.RedisCluster.from_url(redis_url) if cluster else redis.Redis.from_url(redis_url)  # type: ignore[assignment]
        )
        self.prefix = prefix
        self.keys = Keys(prefix)
        env = dict(os.environ)
        env.update(
            NEWSFLOW_REDIS_URL=redis_url,
            NEWSFLOW_STREAM_PREFIX=prefix,
            NEWSFLOW_CLAIM_IDLE_MS="1500",
            NEWSFLOW_MERGE_DEADLINE_S="120",
            # A successor of a killed stories owner waits for its lease to expire.
            NEWSFLOW_STORIES_LEASE_S="3",
        )
        env.update(extra_env or {})
        state.mkdir(parents=True, exist_ok=True)
        self._up_log = state / "up.log"
        up_log = self._up_log.open("wb")
        self.process = subprocess.Popen(
            up_command(state),
            cwd=REPO,
            env=env,
            # A file, not a pipe nobody reads: a full pipe would block the supervisor.
            stdout=up_log,
            stderr=subprocess.STDOUT,
        )
        up_log.close()
        self.state = state

    def xadd_article(self, article: dict[str, object]) -> None:
        self.redis.xadd(self.keys.articles, {"data": json.dumps(article)})

    def events(self) -> list[EnrichedEvent]:
        payloads = sync_payloads(self.redis, self.keys.enriched)
        return [EnrichedEvent.model_validate_json(p) for p in payloads]

    def enriched_count(self) -> int:
        return int(self.redis.xlen(self.keys.enriched))

    def wait_events(self, count: int, timeout: float) -> list[EnrichedEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.enriched_count() >= count:
                return self.events()
            assert self.process.poll() is None, self.logs()
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} events after {timeout}s\n{self.logs()}")

    def undrained(self) -> list[str]:
        """The groups that still have work: entries not yet read, or read and not yet
        acknowledged, on any stream of the pipeline (a missing stream or group counts)."""
        busy: list[str] = []
        for stream, groups in self.keys.groups().items():
            try:
                last: Any = self.redis.xinfo_stream(stream)["last-generated-id"]
                infos: Any = self.redis.xinfo_groups(stream)
            except redis.ResponseError:
                busy.extend(f"{stream}/{group} (no stream)" for group in groups)
                continue
            found = {as_text(info["name"]): info for info in infos}
            for group in groups:
                info = found.get(str(group))
                if info is None:
                    busy.append(f"{stream}/{group} (no group)")
                elif int(info["pending"]) or as_text(info["last-delivered-id"]) != as_text(last):
                    busy.append(f"{stream}/{group}")
        return busy

    def wait_drained(self, timeout: float) -> None:
        """Wait until every group has read and acknowledged everything on every stream.

        A stage publishes its result and acknowledges its input in one transaction, so
        then no result is in flight anywhere: nothing more will be emitted (barring new
        input, or a stage down past the merge deadline). This, not a pause, is what proves
        that an event that has not come (a duplicate, say) will not come.
        """
        deadline = time.monotonic() + timeout
        while busy := self.undrained():
            if time.monotonic() > deadline:
                raise AssertionError(f"{busy} still busy after {timeout}s\n{self.logs()}")
            assert self.process.poll() is None, self.logs()
            time.sleep(0.2)

    def workers(self, service: str) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.process.pid).children():
            try:
                if child.status() != psutil.STATUS_ZOMBIE and child.cmdline()[-2:] == [
                    "service",
                    service,
                ]:
                    found.append(child)
            except psutil.Error:
                continue  # exited while we looked
        return found

    def wait_workers(self, service: str, timeout: float) -> list[psutil.Process]:
        """The running processes of ``service``, waiting up to ``timeout`` for one."""
        deadline = time.monotonic() + timeout
        while not (found := self.workers(service)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {service} process after {timeout}s\n{self.logs()}")
            time.sleep(0.1)
        return found

    def wait_started(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.workers(service) for service in SERVICES):
                return
            time.sleep(0.1)
        raise AssertionError(f"services not started after {timeout}s\n{self.logs()}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every service process has finished starting (models loaded, reading)."""
        self.wait_started()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = sorted((self.state / "logs").glob("*.log"))
            if logs and all("running as consumer" in p.read_text(errors="replace") for p in logs):
                return
            time.sleep(0.2)
        raise AssertionError(f"services not ready after {timeout}s\n{self.logs()}")

    def wait_logged(self, text: str, timeout: float) -> None:
        """Wait until the log of every service process says ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            logs = sorted((self.state / "logs").glob("*.log"))
            silent = [p.name for p in logs if text not in p.read_text(errors="replace")]
            if len(logs) >= len(SERVICES) and not silent:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{silent} never logged {text!r}\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        parts = [f"--- up.log\n{self._up_log.read_text(errors='replace')[-3000:]}"]
        for path in sorted((self.state / "logs").glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.redis.close()
