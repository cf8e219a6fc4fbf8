"""Partial means down, not busy: bursts far beyond what the pipeline finishes within the
merge deadline come out complete; a stage that stops makes articles partial, and its
results complete them as their next revision once it resumes."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from shared.schemas import EnrichedEvent
from shared.streams import Keys
from tests.conftest import SAMPLE
from tests.e2e.harness import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.slow]

#: The harness shortens claims and lengthens the deadline for other tests; here every
#: setting but the one a test names is the default.
DEFAULTS = {"NEWSFLOW_CLAIM_IDLE_MS": "30000", "NEWSFLOW_MERGE_DEADLINE_S": "60"}


def _articles(count: int, tag: str) -> list[dict[str, str]]:
    """Distinct real-sized articles: the sample from a rotating paragraph on."""
    paragraphs = SAMPLE.read_text().splitlines()
    return [
        {"id": f"{tag}-{n:05d}", "text": "\n".join(paragraphs[n % 20 :] + paragraphs[: n % 20])}
        for n in range(count)
    ]


def _xadd_all(client: redis.Redis, keys: Keys, articles: list[dict[str, str]]) -> None:
    """A producer's burst straight onto the input stream: no back-pressure at all."""
    pipe = client.pipeline(transaction=False)
    for article in articles:
        pipe.xadd(keys.articles, {"data": json.dumps(article)})
    pipe.execute()


def _report(events: list[EnrichedEvent], ids: list[str]) -> dict[str, int]:
    newest: dict[str, EnrichedEvent] = {}
    for event in events:
        if event.id not in newest or event.article.revision > newest[event.id].article.revision:
            newest[event.id] = event
    per_revision = Counter((e.id, e.article.revision) for e in events)
    return {
        "events": len(events),
        "partial": sum(1 for e in newest.values() if e.partial),
        "lost": len(set(ids) - set(newest)),
        "duplicated": sum(n - 1 for n in per_revision.values()),
    }


def _burst(pipeline: Pipeline, total: int, tag: str) -> tuple[dict[str, int], float]:
    """XADD ``total`` articles at once into a ready pipeline; the outcome, and the seconds
    until every article had an event."""
    articles = _articles(total, tag)
    started = time.monotonic()
    _xadd_all(pipeline.redis, pipeline.keys, articles)
    pipeline.wait_events(total, timeout=1200)
    elapsed = time.monotonic() - started
    # Nothing left in flight: a duplicate, if any, is among the events by now.
    pipeline.wait_drained(timeout=120)
    return _report(pipeline.events(), [a["id"] for a in articles]), elapsed


def test_burst_of_ten_times_what_finishes_within_the_deadline_has_no_partial(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    deadline_s = 2.0
    total = 1200
    env = {**DEFAULTS, "NEWSFLOW_MERGE_DEADLINE_S": str(deadline_s)}
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state", extra_env=env)
    try:
        pipeline.wait_ready()
        report, elapsed = _burst(pipeline, total, "burst")
        within_deadline = total / elapsed * deadline_s
        print(
            f"burst-report: articles={total} seconds={elapsed:.1f} "
            f"finished_within_deadline={within_deadline:.0f} "
            f"ratio={total / within_deadline:.1f} {report}"
        )
        assert total >= 10 * within_deadline, (elapsed, within_deadline)
        assert report == {"events": total, "partial": 0, "lost": 0, "duplicated": 0}
        assert pipeline.redis.xlen(pipeline.keys.dead) == 0
    finally:
        pipeline.stop()


def test_burst_of_3000_with_default_settings_has_no_partial(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    total = 3000
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state", extra_env=DEFAULTS)
    try:
        pipeline.wait_ready()
        report, elapsed = _burst(pipeline, total, "big")
        print(f"burst-report: articles={total} seconds={elapsed:.1f} {report}")
        assert report == {"events": total, "partial": 0, "lost": 0, "duplicated": 0}
    finally:
        pipeline.stop()


def test_a_paused_aggregator_makes_nothing_partial_and_a_paused_stage_is_completed_later(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # Down after 6 s: a busy entities worker beats between batches, and on a loaded machine
    # a batch of NER can take a few seconds (its loop is busy, not down).
    # Claims after 1.5 s (the harness's): a process stopped for longer than the Redis
    # client's 5 s socket timeout loses the read it had in flight, and its entries come
    # back to it only by a claim; after the default 30 s, the test would wait for that.
    env = {
        **DEFAULTS,
        "NEWSFLOW_MERGE_DEADLINE_S": "2",
        "NEWSFLOW_STAGE_DOWN_AFTER_S": "6",
        "NEWSFLOW_CLAIM_IDLE_MS": "1500",
    }
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state", extra_env=env)
    keys = Keys(prefix)
    try:
        pipeline.wait_ready()
        # The aggregator stops while every stage works: its results wait in Redis.
        (aggregator,) = pipeline.workers("aggregator")
        aggregator.send_signal(signal.SIGSTOP)
        first = _articles(50, "agg")
        _xadd_all(pipeline.redis, keys, first)
        time.sleep(9)  # the damage: longer than the deadline and the down-time together
        aggregator.send_signal(signal.SIGCONT)
        events = pipeline.wait_events(50, timeout=300)
        assert _report(events, [a["id"] for a in first]) == {
            "events": 50,
            "partial": 0,
            "lost": 0,
            "duplicated": 0,
        }

        # The geocoder stops: once it is down past the deadline, articles go out partial;
        # when it comes back its results complete them as revision 2.
        (geocoder,) = pipeline.workers("geocoder")
        geocoder.send_signal(signal.SIGSTOP)
        second = _articles(30, "geo")
        _xadd_all(pipeline.redis, keys, second)
        events = pipeline.wait_events(80, timeout=300)
        partial = [e for e in events if e.id.startswith("geo-")]
        assert len(partial) == 30 and all(e.partial for e in partial)
        # The stories stage reads the draft, which waits for the geocoder: it misses too.
        assert all(e.missing_stages == ["geocoder", "stories"] for e in partial)
        geocoder.send_signal(signal.SIGCONT)
        pipeline.wait_events(110, timeout=300)
        pipeline.wait_drained(timeout=120)
        events = pipeline.events()
        completed = [e for e in events if e.id.startswith("geo-") and e.article.revision == 2]
        assert len(completed) == 30
        assert all(not e.partial and e.stages["geocoder"].status == "ok" for e in completed)
        assert all(e.story is not None for e in completed)
        assert all(e.focus is not None and e.focus.country_code == "IQ" for e in completed)
        report = _report(events, [a["id"] for a in first + second])
        assert report == {"events": 110, "partial": 0, "lost": 0, "duplicated": 0}
    finally:
        for process in pipeline.workers("geocoder") + pipeline.workers("aggregator"):
            process.send_signal(signal.SIGCONT)
        pipeline.stop()
