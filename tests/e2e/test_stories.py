"""Stories through the running pipeline (``newsflow up``): every event's story, the story
stream and ``newsflow stories``; the same stories after a SIGKILL of the stories worker
mid-stream, and after a replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.stories.state import StoriesState
from shared.schemas import EnrichedEvent
from shared.story_schemas import StoryUpdate
from tests.e2e.harness import Pipeline, newsflow, run_cli
from tests.helpers import sync_payloads
from tests.story_fixtures import STREAM

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

#: The articles of each story in STREAM (a fire, an earthquake, a budget vote).
GOLD = [{"a1", "a3", "a6"}, {"a2", "a5"}, {"a4", "a7"}]


def _push(pipeline: Pipeline, ids: set[str]) -> None:
    for item in STREAM:
        if item.meta.id in ids:
            published = item.meta.published_at
            assert published is not None
            pipeline.xadd_article(
                {
                    "id": item.meta.id,
                    "title": item.meta.title,
                    "text": item.text,
                    "published_at": published.isoformat(),
                }
            )


def _stories_of(events: list[EnrichedEvent]) -> dict[str, set[str]]:
    """Each article's story ids over all its events (revisions included)."""
    found: dict[str, set[str]] = {}
    for event in events:
        assert event.story is not None, event.id
        found.setdefault(event.id, set()).add(event.story.id)
    return found


def _check_partition(stories: dict[str, set[str]]) -> None:
    assert all(len(ids) == 1 for ids in stories.values()), stories  # one story an article
    story = {article: next(iter(ids)) for article, ids in stories.items()}
    for members in GOLD:
        assert len({story[a] for a in members}) == 1, (members, story)
    assert len({story[next(iter(m))] for m in GOLD}) == len(GOLD), story


def _cli(redis_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": prefix}
    done = run_cli(newsflow(*args), env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _updates(pipeline: Pipeline) -> list[StoryUpdate]:
    payloads = sync_payloads(pipeline.redis, pipeline.keys.stories)
    return [StoryUpdate.model_validate_json(p) for p in payloads]


def _wait_for_snapshot(pipeline: Pipeline, seq: int) -> StoriesState:
    """The stories snapshot, once one covers ``seq`` assignments and its log is trimmed."""
    deadline = time.monotonic() + 60
    while True:
        blob: Any = pipeline.redis.get(pipeline.keys.story_state("snapshot"))
        trimmed = pipeline.redis.xlen(pipeline.keys.story_state("log")) == 0
        if blob is not None and trimmed:
            saved = StoriesState.restore(blob)
            if saved.seq == seq:
                return saved
        assert time.monotonic() < deadline, pipeline.logs()
        time.sleep(0.2)


@pytest.fixture
def pipeline(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Pipeline]:
    # A snapshot every three articles, so that a take-over loads one and replays the log
    # after it (the harness gives the stories lease 3 s: a successor takes over soon).
    running = Pipeline(
        redis_url,
        prefix,
        tmp_path / "state",
        extra_env={"NEWSFLOW_STORIES_SNAPSHOT_EVERY": "3", "NEWSFLOW_STORIES_SNAPSHOT_MIN_S": "0"},
    )
    yield running
    running.stop()


def test_events_carry_their_story_and_the_story_stream_follows(
    pipeline: Pipeline, redis_url: str, prefix: str
) -> None:
    _push(pipeline, {item.meta.id for item in STREAM})
    events = pipeline.wait_events(len(STREAM), timeout=240)
    pipeline.wait_drained(timeout=60)
    stories = _stories_of(pipeline.events())
    assert set(stories) == {item.meta.id for item in STREAM}
    _check_partition(stories)
    by_id = {e.id: e for e in events}
    assert by_id["a1"].story is not None and by_id["a1"].story.is_new
    assert by_id["a6"].story is not None and by_id["a6"].story.size == 3

    updates = _updates(pipeline)
    assert sorted(u.article_id for u in updates) == sorted(stories)
    assert sum(u.kind == "created" for u in updates) == len(GOLD)
    fire = next(iter(stories["a1"]))
    last = [u for u in updates if u.story.id == fire][-1]
    assert last.story.articles == 3 and last.story.label.startswith("fire report")
    assert last.story.focus is not None and last.story.focus.name == "Lyon"

    listed = _cli(redis_url, prefix, "stories", "--json")
    cards = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {card["id"]: card["articles"] for card in cards}[fire] == 3
    assert len(cards) == len(GOLD)

    followed = _cli(
        redis_url, prefix, "tail", "--from", "begin", "--story", fire, "--count", "3", "--json"
    )
    shown = [json.loads(line)["id"] for line in followed.stdout.splitlines()]
    assert sorted(shown) == ["a1", "a3", "a6"]


def test_a_sigkilled_stories_worker_and_a_replay_leave_every_story_unchanged(
    pipeline: Pipeline, redis_url: str, prefix: str
) -> None:
    pipeline.wait_ready()
    first = {"a1", "a2", "a3", "a4"}
    _push(pipeline, first)
    deadline = time.monotonic() + 240
    while pipeline.redis.xlen(pipeline.keys.assigned) < len(first):
        assert time.monotonic() < deadline, pipeline.logs()
        time.sleep(0.2)
    (worker,) = pipeline.workers("stories")
    worker.send_signal(signal.SIGKILL)
    _push(pipeline, {item.meta.id for item in STREAM} - first)
    pipeline.wait_events(len(STREAM), timeout=240)
    pipeline.wait_drained(timeout=60)
    assert pipeline.workers("stories") and pipeline.workers("stories")[0].pid != worker.pid
    stories = _stories_of(pipeline.events())
    _check_partition(stories)
    # Each article assigned once, in order: the snapshot and the log after it hold every
    # assignment exactly once.
    # (Every three articles a snapshot is due: the last one covers all seven, and then the
    # log it covers is trimmed.)
    saved = _wait_for_snapshot(pipeline, len(STREAM))
    assert set(saved.assignments) == set(stories)

    # A replay: new revisions, the same stories, and no story changes.
    before = len(_updates(pipeline))
    _cli(redis_url, prefix, "replay", "--wait", "--timeout", "120")
    pipeline.wait_drained(timeout=60)
    again = _stories_of(pipeline.events())
    assert again == stories
    assert max(e.article.revision for e in pipeline.events()) == 2
    assert len(_updates(pipeline)) == before
