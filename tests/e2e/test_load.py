"""A burst far above capacity: ingest pushes back, trimming never removes unread entries."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import SAMPLE
from tests.e2e.harness import Pipeline, newsflow, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

LIMITS = {
    "NEWSFLOW_BACKLOG_LIMIT": "40",
    "NEWSFLOW_HOUSEKEEPING_S": "0.5",
    "NEWSFLOW_OUTPUT_MAXLEN": "100000",
    "NEWSFLOW_REPLAY_RETENTION_S": "0",  # trim as soon as every group is done
}


def test_burst_ten_times_the_backlog_limit_is_absorbed_without_loss(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    total = 400  # 10x the backlog limit, pushed at once: seconds of work, pushed in one
    paragraphs = SAMPLE.read_text().splitlines()
    burst = tmp_path / "burst.jsonl"
    burst.write_text(
        "\n".join(
            json.dumps({"id": f"b-{n:04d}", "text": "\n".join(paragraphs[n % 20 :])})
            for n in range(total)
        )
    )
    pipeline = Pipeline(redis_url, prefix, tmp_path / "state", extra_env=LIMITS)
    largest = {"length": 0, "backlog": 0}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            stream = pipeline.keys.accepted
            try:
                groups: Any = pipeline.redis.xinfo_groups(stream)
            except redis.ResponseError:
                time.sleep(0.05)
                continue  # not created yet
            backlog = max((int(g["lag"] or 0) + int(g["pending"]) for g in groups), default=0)
            largest["backlog"] = max(largest["backlog"], backlog)
            largest["length"] = max(largest["length"], int(pipeline.redis.xlen(stream)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        pipeline.wait_started()
        watcher.start()
        env = {
            **os.environ,
            **LIMITS,
            "NEWSFLOW_REDIS_URL": redis_url,
            "NEWSFLOW_STREAM_PREFIX": prefix,
        }
        started = time.monotonic()
        pushed = run_cli(newsflow("push", str(burst)), env, timeout=600)
        push_seconds = time.monotonic() - started
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.count("accepted ") == total
        events = pipeline.wait_events(total, timeout=600)
        ids = [e.id for e in events]
        assert sorted(ids) == [f"b-{n:04d}" for n in range(total)]
        # The CLI waited for the workers instead of flooding Redis ...
        assert push_seconds > 1.0
        # ... the backlog stayed within the limit plus one admission ...
        assert 40 <= largest["backlog"] <= 2 * 40, largest
        # ... and acknowledged entries were trimmed as the work went on.
        assert largest["length"] < total // 2, largest
        assert pipeline.redis.xlen(pipeline.keys.accepted) < total // 2
        assert pipeline.redis.xlen(pipeline.keys.dead) == 0
    finally:
        done.set()
        pipeline.stop()
