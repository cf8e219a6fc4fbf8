"""The whole pipeline as processes (``newsflow up``), fed by plain Redis clients."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from shared.schemas import EnrichedEvent
from tests.conftest import REPO, SAMPLE
from tests.helpers import sync_payloads

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SIX_PEOPLE = ("Baghdadi", "Abadi", "Volesky", "Abu Saif", "Tawfiq", "Obama")
PLACES_IN_SAMPLE = (
    "Mosul",
    "Qaraqosh",
    "Qayyarah",
    "Nineveh",
    "Arbil",
    "Hamdaniya",
    "Iraq",
    "Syria",
)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


class Pipeline:
    """A running ``newsflow up`` on the test server, under its own prefix."""

    def __init__(self, redis_url: str, prefix: str, state: Path) -> None:
        self.redis = redis.Redis.from_url(redis_url)
        self.prefix = prefix
        env = dict(os.environ)
        env.update(
            NEWSFLOW_REDIS_URL=redis_url,
            NEWSFLOW_STREAM_PREFIX=prefix,
            NEWSFLOW_CLAIM_IDLE_MS="1500",
            NEWSFLOW_MERGE_DEADLINE_S="120",
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services",
                "up",
                "--state-dir",
                str(state),
                "--http-port",
                "0",
                "--metrics-port",
                str(random.randint(20000, 40000)),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.state = state

    def xadd_article(self, article: dict[str, object]) -> None:
        self.redis.xadd(f"{self.prefix}:articles", {"data": json.dumps(article)})

    def events(self) -> list[EnrichedEvent]:
        payloads = sync_payloads(self.redis, f"{self.prefix}:enriched")
        return [EnrichedEvent.model_validate_json(p) for p in payloads]

    def wait_events(self, count: int, timeout: float) -> list[EnrichedEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.redis.xlen(f"{self.prefix}:enriched") >= count:
                return self.events()
            assert self.process.poll() is None, self.logs()
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} events after {timeout}s\n{self.logs()}")

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

    def wait_started(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        services = ("ingest", "entities", "geocoder", "summarizer", "aggregator")
        while time.monotonic() < deadline:
            if all(self.workers(service) for service in services):
                return
            time.sleep(0.1)
        raise AssertionError(f"services not started after {timeout}s\n{self.logs()}")

    def logs(self) -> str:
        parts = []
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


@pytest.fixture
def pipeline(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(redis_url, prefix, tmp_path / "state")
    yield running
    running.stop()


def test_sample_article_pushed_with_plain_xadd_is_enriched(pipeline: Pipeline) -> None:
    pipeline.xadd_article(
        {
            "id": "sample-mosul",
            "text": SAMPLE.read_text(),
            "url": "https://www.example.org/news/mosul-offensive",
            "title": "Militant leaders fleeing Mosul, says US general",
            "source": "AFP",
            "published_at": "2016-10-19T14:05:00+03:00",
        }
    )
    (event,) = pipeline.wait_events(1, timeout=180)
    assert event.id == "sample-mosul"
    assert not event.partial, event.stages
    assert all(info.status == "ok" for info in event.stages.values())
    assert event.article.published_at is not None
    assert event.article.published_at.utcoffset() is not None
    assert event.article.published_at.hour == 11  # 14:05+03:00 in UTC

    people = [e for e in event.entities if e.label == "PERSON"]
    names = " | ".join(e.name for e in people)
    for person in SIX_PEOPLE:
        assert any(person in e.name for e in people), f"{person} missing from {names}"
    for entity in people:
        assert not any(place in entity.name for place in PLACES_IN_SAMPLE), entity
        assert "Related" not in entity.name and "Story" not in entity.name
    assert not any("Related Story" in e.name for e in event.entities)
    volesky = next(e for e in people if "Volesky" in e.name)
    assert volesky.count == 2 and volesky.name == "Gary Volesky"

    mosul = next(p for p in event.places if p.name == "Mosul")
    assert mosul.country_code == "IQ"
    assert _km(mosul.latitude, mosul.longitude, 36.34, 43.13) <= 50
    assert event.focus is not None and event.focus.name == "Mosul"

    assert event.summary is not None and event.summary.text
    text = SAMPLE.read_text()
    for sentence in event.summary.sentences:
        assert text[sentence.start : sentence.end] == sentence.text


def test_killed_workers_lose_and_double_nothing(pipeline: Pipeline) -> None:
    paragraphs = SAMPLE.read_text().splitlines()
    total = 300
    rng = random.Random(7)
    for n in range(total):
        # Different texts of realistic length: a rotation of the sample's paragraphs.
        shift = n % len(paragraphs)
        pipeline.xadd_article(
            {"id": f"kill-{n:03d}", "text": "\n".join(paragraphs[shift:] + paragraphs[:shift])}
        )
    enriched = f"{pipeline.prefix}:enriched"
    pipeline.wait_started()
    kills_in_flight = 0
    for service in ("entities", "geocoder", "aggregator", "summarizer", "ingest", "entities"):
        time.sleep(rng.uniform(0.3, 0.8))
        victims = pipeline.workers(service)
        assert victims, f"no {service} process to kill"
        rng.choice(victims).send_signal(signal.SIGKILL)
        if pipeline.redis.xlen(enriched) < total:
            kills_in_flight += 1
    # Every kind of worker died while articles were still in the pipeline.
    assert kills_in_flight >= 5

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and pipeline.redis.xlen(enriched) < total:
        time.sleep(0.5)
    time.sleep(3)  # a duplicate, if any, would arrive now
    ids = [e.id for e in pipeline.events()]
    assert len(ids) == len(set(ids)), "an article was emitted twice"
    assert sorted(ids) == [f"kill-{n:03d}" for n in range(total)], pipeline.logs()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_round_trip(pipeline: Pipeline, redis_url: str) -> None:
    stream = f"{pipeline.prefix}:articles"
    target = (
        ["-s", redis_url.removeprefix("unix://")]
        if redis_url.startswith("unix://")
        else ["-u", redis_url]
    )
    article = json.dumps({"text": "Heavy rain flooded Lyon, France, on Tuesday.", "id": "cli-1"})
    subprocess.run(
        ["redis-cli", *target, "XADD", stream, "*", "data", article],
        check=True,
        capture_output=True,
    )
    pipeline.wait_events(1, timeout=120)
    out = subprocess.run(
        ["redis-cli", *target, "--raw", "XRANGE", f"{pipeline.prefix}:enriched", "-", "+"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    payload = next(line for line in out.splitlines() if line.startswith("{"))
    event = json.loads(payload)
    assert event["id"] == "cli-1"
    assert any(p["country_code"] == "FR" for p in event["places"])


def test_up_once_on_the_embedded_server_prints_the_sample_event(tmp_path: Path) -> None:
    """What ``make run`` does: no Redis URL, so ``up`` starts its own Valkey (AOF, socket)."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_REDIS_URL"}
    state = tmp_path / "state"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services",
            "up",
            "--push",
            str(SAMPLE),
            "--once",
            "--state-dir",
            str(state),
            "--http-port",
            "0",
            "--metrics-port",
            str(random.randint(20000, 40000)),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(embedded)" in done.stdout
    assert (state / "redis" / "appendonlydir").is_dir()
    payload = done.stdout[done.stdout.index("\n{") + 1 : done.stdout.rindex("\n}") + 2]
    event = EnrichedEvent.model_validate_json(payload)
    assert not event.partial
    assert event.focus is not None and event.focus.country_code == "IQ"
    assert "people: " in done.stdout and "Gary Volesky" in done.stdout
