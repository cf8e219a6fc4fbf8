"""The ingest HTTP API on a real Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from services.ingest.app import create_http_app
from shared.schemas import Article
from shared.settings import Settings, load_settings
from shared.streams import Keys
from tests.helpers import sync_payloads
from tests.servers import OwnServer

pytestmark = [pytest.mark.redis]


@pytest.fixture
def http(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_http_app(settings)) as client:
        yield client


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_post_accepts_reports_duplicates_and_stores_once(
    http: TestClient, settings: Settings, sync_redis: redis.Redis
) -> None:
    article = {"text": "Rain flooded Lyon.", "id": "h1", "title": "Floods"}
    first = http.post("/articles", json=article)
    assert first.status_code == 202
    assert first.json() == {"articles": [{"id": "h1", "status": "accepted"}]}
    again = http.post("/articles", json=[article, {"text": "Second one", "id": "h2"}])
    assert again.status_code == 202
    assert again.json()["articles"] == [
        {"id": "h1", "status": "duplicate"},
        {"id": "h2", "status": "accepted"},
    ]
    payloads = sync_payloads(sync_redis, Keys(settings.stream_prefix).accepted)
    stored = [Article.model_validate_json(p) for p in payloads]
    assert [a.meta.id for a in stored] == ["h1", "h2"]
    assert stored[0].meta.title == "Floods"


def test_invalid_articles_get_422_with_field_errors_and_nothing_is_stored(
    http: TestClient, settings: Settings, sync_redis: redis.Redis
) -> None:
    response = http.post("/articles", json=[{"text": "fine"}, {"text": 5}, {"title": "x"}])
    assert response.status_code == 422
    details = response.json()["details"]
    assert [d["index"] for d in details] == [1, 2]
    assert details[0]["errors"][0]["field"] == "text"
    assert "text or html is required" in details[1]["errors"][0]["error"]
    assert sync_redis.xlen(Keys(settings.stream_prefix).accepted) == 0

    broken = http.post("/articles", content=b"{nope", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "invalid JSON" in broken.json()["error"]
    assert http.post("/articles", json=[]).status_code == 422


def test_oversized_body_gets_413(http: TestClient, settings: Settings) -> None:
    huge = "x" * (settings.max_payload_bytes * 10 + 1)
    response = http.post("/articles", content=huge.encode())
    assert response.status_code == 413


def test_backlog_over_the_limit_gets_503_with_retry_after(redis_url: str, prefix: str) -> None:
    settings = load_settings(redis_url=redis_url, stream_prefix=prefix, backlog_limit=2)
    with TestClient(create_http_app(settings)) as http:
        for n in range(2):
            assert http.post("/articles", json={"text": f"n{n}", "id": f"b{n}"}).status_code == 202
        time.sleep(0.6)  # the backlog figure is cached for half a second
        throttled = http.post("/articles", json={"text": "more", "id": "b9"})
        assert throttled.status_code == 503
        assert throttled.headers["Retry-After"] == "1"


def test_health_and_metrics(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    http.post("/articles", json={"text": "Counting", "id": "m1"})
    metrics = http.get("/metrics").text
    assert 'newsflow_articles_ingested_total{path="http",status="accepted"}' in metrics
    assert "newsflow_build_info" in metrics


def test_redis_refusing_writes_gets_503_not_500(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    server = OwnServer(tmp_path / "redis")
    server.start()
    try:
        settings = load_settings(redis_url=server.url, stream_prefix=prefix)
        with TestClient(create_http_app(settings)) as http:
            assert http.post("/articles", json={"text": "ok", "id": "f1"}).status_code == 202
            control = redis.Redis.from_url(server.url)
            control.config_set("maxmemory", 1)  # full: noeviction refuses every write
            response = http.post("/articles", json={"text": "more", "id": "f2"})
            control.config_set("maxmemory", 0)
            control.close()
            assert response.status_code == 503
            assert "maxmemory" in response.json()["error"]
            assert response.headers["Retry-After"] == "1"
    finally:
        server.stop()


def test_html_page_posted_is_accepted_as_its_text(
    http: TestClient, settings: Settings, sync_redis: redis.Redis
) -> None:
    page = (
        "<html><head><title>Storm</title></head><body><nav>Home</nav><article>"
        "<p>A storm hit Marseille, France, on Monday, cutting power to thousands of homes.</p>"
        "<p>Firefighters said the wind reached 120 km/h near the port overnight.</p>"
        "</article></body></html>"
    )
    response = http.post("/articles", json={"html": page, "id": "html-1"})
    assert response.status_code == 202
    (payload,) = sync_payloads(sync_redis, Keys(settings.stream_prefix).accepted)
    stored = Article.model_validate_json(payload)
    assert "storm hit Marseille" in stored.text and "<p>" not in stored.text
    assert stored.meta.title == "Storm" and stored.meta.language == "en"


def test_unreachable_redis_is_said_plainly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "newsflow", "status", "--redis-url", "redis://127.0.0.1:1/0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in done.stderr
