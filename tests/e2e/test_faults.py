"""Faults production brings: a Redis that crashes, a Redis that loses its data."""

from __future__ import annotations

import json
import random
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE
from tests.e2e.harness import SERVICES, Pipeline
from tests.servers import OwnServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

EVAL_SUMMARY = REPO.parent / "shared" / "data" / "eval" / "summary"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OwnServer]:
    own = OwnServer(tmp_path / "redis")
    own.start()
    yield own
    own.stop()


def _push(pipeline: Pipeline, ids: list[str]) -> None:
    paragraphs = SAMPLE.read_text().splitlines()
    for n, article_id in enumerate(ids):
        shift = n % len(paragraphs)
        text = "\n".join(paragraphs[shift:] + paragraphs[:shift])
        pipeline.xadd_article({"id": article_id, "text": text})


def _wait_for_ids(pipeline: Pipeline, expected: list[str], timeout: float) -> list[str]:
    """The ids of every event once all of ``expected`` are out and nothing is in flight
    (so a duplicate, if there is one, is among them)."""
    deadline = time.monotonic() + timeout
    while not set(expected) <= {e.id for e in pipeline.events()}:
        if time.monotonic() > deadline:
            break  # the caller's comparison shows what is missing
        time.sleep(0.5)
    else:
        pipeline.wait_drained(timeout=max(10.0, deadline - time.monotonic()))
    return [e.id for e in pipeline.events()]


def test_redis_killed_and_restarted_mid_run_loses_nothing(
    server: OwnServer, prefix: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(server.url, prefix, tmp_path / "state")
    try:
        pipeline.wait_started()
        expected = [f"r-{n:03d}" for n in range(150)]
        _push(pipeline, expected)
        deadline = time.monotonic() + 60
        while pipeline.enriched_count() < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pipeline.enriched_count() < len(expected), "too late to crash"
        # SIGKILL: only the AOF (fsync on every write) keeps what was acknowledged.
        server.restart(hard=True, down_s=2.0)
        ids = _wait_for_ids(pipeline, expected, timeout=240)
        assert len(ids) == len(set(ids)), "an article was emitted twice"
        assert sorted(ids) == expected, pipeline.logs()
    finally:
        pipeline.stop()


def test_lost_data_is_recovered_by_recreating_groups_without_restarts(
    server: OwnServer, prefix: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(server.url, prefix, tmp_path / "state")
    try:
        # Every process reading first: one still loading its model when the data goes
        # would create its groups afresh and have nothing to recover.
        pipeline.wait_ready()
        _push(pipeline, ["before-1", "before-2"])
        assert sorted(_wait_for_ids(pipeline, ["before-1", "before-2"], 120)) == [
            "before-1",
            "before-2",
        ]
        pids = {service: {p.pid for p in pipeline.workers(service)} for service in SERVICES}
        pipeline.redis.flushall()  # the server lost everything: streams, groups, state
        # Every process finds its groups gone and makes them again, before any new input.
        pipeline.wait_logged("re-created consumer groups", timeout=60)
        expected = [f"after-{n}" for n in range(10)]
        _push(pipeline, expected)
        assert sorted(_wait_for_ids(pipeline, expected, 120)) == expected, pipeline.logs()
        # Recovered inside the running processes, not by crashing and restarting them.
        assert {s: {p.pid for p in pipeline.workers(s)} for s in SERVICES} == pids
    finally:
        pipeline.stop()


def _real_texts(count: int) -> list[str]:
    """News texts from the handbook's evaluation data when present (read, never copied),
    else rotations of the repository's own sample."""
    texts: list[str] = []
    for name in ("bbc_dev.jsonl", "cnndm_dev.jsonl"):
        path = EVAL_SUMMARY / name
        if path.is_file():
            with path.open() as lines:
                texts.extend(json.loads(line)["text"] for line in lines if line.strip())
    if not texts:
        paragraphs = SAMPLE.read_text().splitlines()
        texts = ["\n".join(paragraphs[n:] + paragraphs[:n]) for n in range(len(paragraphs))]
    return [texts[n % len(texts)] for n in range(count)]


@pytest.mark.slow
def test_thousand_articles_survive_random_sigkills_of_every_service(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    total, rounds = 1000, 3
    rng = random.Random(2016)
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state")
    try:
        pipeline.wait_started()
        expected = [f"k-{n:04d}" for n in range(total)]
        for article_id, text in zip(expected, _real_texts(total), strict=True):
            pipeline.xadd_article({"id": article_id, "text": text})
        killed: dict[str, int] = dict.fromkeys(SERVICES, 0)
        for _round in range(rounds):
            for service in rng.sample(SERVICES, len(SERVICES)):
                time.sleep(rng.uniform(0.5, 2.0))
                victims = pipeline.workers(service)
                if victims and pipeline.enriched_count() < total:
                    rng.choice(victims).send_signal(signal.SIGKILL)
                    killed[service] += 1
        assert all(count >= 2 for count in killed.values()), killed
        ids = _wait_for_ids(pipeline, expected, timeout=900)
        assert len(ids) == len(set(ids)), "an article was emitted twice"
        assert sorted(ids) == expected, pipeline.logs()
        # The figures the README's reliability section quotes (pytest -s shows them).
        print(f"fault-report: articles={total} killed={killed} lost=0 duplicated=0")
    finally:
        pipeline.stop()


def test_sigterm_drains_in_flight_work_and_nothing_is_lost(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state")
    try:
        pipeline.wait_ready()  # SIGTERM during start-up (imports) simply ends a process
        expected = [f"t-{n:03d}" for n in range(200)]
        _push(pipeline, expected)
        deadline = time.monotonic() + 60
        while pipeline.enriched_count() < 5 and time.monotonic() < deadline:
            time.sleep(0.1)  # every service is past start-up and busy
        stopped = []
        for service in ("entities", "geocoder", "aggregator"):
            victim = pipeline.workers(service)[0]
            victim.send_signal(signal.SIGTERM)
            stopped.append(victim)
        for victim in stopped:
            victim.wait(timeout=60)
        ids = _wait_for_ids(pipeline, expected, timeout=300)
        assert len(ids) == len(set(ids))
        assert sorted(ids) == expected, pipeline.logs()
        logs = pipeline.logs()
        for service in ("entities", "geocoder", "aggregator"):
            # A clean exit after draining (the supervisor then starts a new one).
            assert re.search(rf"{service}-\d+ exited with 0;", logs), logs
    finally:
        pipeline.stop()
