"""API keys on every endpoint of the HTTP API, on a real Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from services.ingest.app import create_http_app
from shared.settings import Settings
from tests.http_server import serving

pytestmark = [pytest.mark.redis]

PUSH_KEY = "push-only-key-0123456789"
READ_KEY = "read-only-key-0123456789"
OPS_KEY = "metrics-key-0123456789ab"
KEYS = f"feeds:push:{PUSH_KEY},web:read:{READ_KEY},prometheus:metrics:{OPS_KEY}"
SECRETS = (PUSH_KEY, READ_KEY, OPS_KEY)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def locked(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_keys": KEYS, "metrics_auth": True})


@pytest.fixture
def http(locked: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[TestClient]:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_http_app(load(locked))) as client:
        yield client


def load(settings: Settings) -> Settings:
    """Settings as the environment would give them (the keys as a SecretStr)."""
    return type(settings).model_validate({**settings.model_dump(), "api_keys": settings.api_keys})


def test_push_needs_a_key_with_the_push_scope(http: TestClient) -> None:
    article = {"text": "Rain in Lyon.", "id": "a1"}
    missing = http.post("/articles", json=article)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        http.post("/articles", json=article, headers=_bearer("not-a-key-at-all-000")).status_code
        == 401
    )
    wrong_scope = http.post("/articles", json=article, headers=_bearer(READ_KEY))
    assert wrong_scope.status_code == 403 and "'push'" in wrong_scope.json()["error"]
    assert http.post("/articles", json=article, headers=_bearer(PUSH_KEY)).status_code == 202
    again = http.post("/articles", json=article, headers={"X-API-Key": PUSH_KEY})
    assert again.status_code == 202 and again.json()["articles"][0]["status"] == "duplicate"


def test_events_need_the_read_scope(http: TestClient) -> None:
    assert http.get("/events").status_code == 401
    assert http.get("/events", headers=_bearer(PUSH_KEY)).status_code == 403


def test_health_is_open_and_metrics_need_their_scope(http: TestClient) -> None:
    assert http.get("/healthz").status_code == 200
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers=_bearer(READ_KEY)).status_code == 403
    metrics = http.get("/metrics", headers=_bearer(OPS_KEY))
    assert metrics.status_code == 200
    assert 'newsflow_http_denied_total{endpoint="metrics",status="401"}' in metrics.text


def test_metrics_are_open_by_default(settings: Settings) -> None:
    keyed = load(settings.model_copy(update={"api_keys": KEYS}))
    with TestClient(create_http_app(keyed)) as http:
        assert http.get("/metrics").status_code == 200
        assert http.post("/articles", json={"text": "x"}).status_code == 401


def test_a_read_key_streams_events_on_a_real_server(locked: Settings) -> None:
    with serving(load(locked)) as base_url:
        with httpx.stream(
            "GET", f"{base_url}/events", headers=_bearer(READ_KEY), timeout=10
        ) as sse:
            assert sse.status_code == 200
            assert next(sse.iter_lines()).startswith(": newsflow")
        assert httpx.get(f"{base_url}/events", timeout=10).status_code == 401


def test_keys_from_a_file(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "api-keys"
    path.write_text(f"# one key a line\nfeeds:push:{PUSH_KEY}\n")
    with TestClient(create_http_app(settings.model_copy(update={"api_keys_file": path}))) as http:
        assert http.post("/articles", json={"text": "x", "id": "f1"}).status_code == 401
        pushed = http.post("/articles", json={"text": "x", "id": "f1"}, headers=_bearer(PUSH_KEY))
        assert pushed.status_code == 202


def test_no_key_ever_shows_in_logs_or_answers(
    http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [
        http.post("/articles", json={"text": "x", "id": "l1"}, headers=_bearer(key))
        for key in (*SECRETS, "guess-guess-guess-guess")
    ]
    answers.append(http.get("/metrics", headers=_bearer(OPS_KEY)))
    answers.append(http.get("/events", headers=_bearer(PUSH_KEY)))
    seen = caplog.text + "".join(a.text + str(a.headers) for a in answers)
    for secret in SECRETS:
        assert secret not in seen


def test_an_open_api_on_every_interface_is_warned_about(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="newsflow.ingest")
    exposed = settings.model_copy(update={"http_host": "0.0.0.0"})
    with TestClient(create_http_app(exposed)):
        pass
    assert any(
        r.levelno == logging.WARNING and "NO authentication" in r.getMessage()
        for r in caplog.records
    )
    caplog.clear()
    with TestClient(create_http_app(load(exposed.model_copy(update={"api_keys": KEYS})))):
        pass
    with TestClient(create_http_app(settings)):
        pass
    assert not [r for r in caplog.records if "NO authentication" in r.getMessage()]
