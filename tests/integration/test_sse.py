"""The HTTP stream of enriched events (Server-Sent Events), on a real server and Redis."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
import uvicorn

from services.ingest.app import create_http_app
from shared.settings import Settings
from shared.streams import Keys
from tests.factories import enriched_event_json
from tests.servers import free_port

pytestmark = [pytest.mark.redis]


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_http_app(settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def _read_events(
    url: str, count: int, headers: dict[str, str] | None = None
) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        entry_id = ""
        for line in response.iter_lines():
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("data: "):
                found.append((entry_id, json.loads(line[6:])))
                if len(found) == count:
                    break
    return found


def test_sse_streams_filtered_events_and_resumes_after_last_event_id(
    base_url: str, settings: Settings, redis_url: str
) -> None:
    stream = Keys(settings.stream_prefix).enriched
    with redis.Redis.from_url(redis_url) as client:
        for article_id, country in (("s1", "FR"), ("s2", "IQ"), ("s3", "FR"), ("s4", "FR")):
            client.xadd(stream, {"data": enriched_event_json(article_id, country)})
    first = _read_events(f"{base_url}/events?from=begin&country=fr", 2)
    assert [event["id"] for _id, event in first] == ["s1", "s3"]
    resumed = _read_events(
        f"{base_url}/events?country=FR", 1, headers={"Last-Event-ID": first[-1][0]}
    )
    assert [event["id"] for _id, event in resumed] == ["s4"]


def test_sse_follows_one_story(base_url: str, settings: Settings, redis_url: str) -> None:
    stream = Keys(settings.stream_prefix).enriched
    flood, fire = "st-00000000000000f1", "st-00000000000000f2"
    with redis.Redis.from_url(redis_url) as client:
        for article_id, story in (("f1", flood), ("f2", fire), ("f3", flood)):
            client.xadd(stream, {"data": enriched_event_json(article_id, "FR", story)})
    found = _read_events(f"{base_url}/events?from=begin&story={flood}", 2)
    assert [event["id"] for _id, event in found] == ["f1", "f3"]


def test_sse_rejects_a_bad_start(base_url: str) -> None:
    response = httpx.get(f"{base_url}/events?from=yesterday", timeout=10)
    assert response.status_code == 422
