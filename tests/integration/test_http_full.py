"""Redis full at POST (a private server at its maxmemory, noeviction): the 503 tells per
article what was stored, in readable words, so a retry sends only the rest."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from services.ingest.app import create_http_app
from shared.settings import load_settings
from shared.streams import Keys
from tests.helpers import sync_payloads
from tests.servers import OwnServer

pytestmark = [pytest.mark.redis]

ARTICLES = 30


def _article(n: int) -> dict[str, str]:
    # Random text: the stored (compressed) article stays about as large as sent.
    words = base64.b64encode(os.urandom(30_000)).decode()
    return {"id": f"full-{n}", "text": " ".join(words[i : i + 8] for i in range(0, len(words), 8))}


def test_a_batch_redis_refuses_in_part_says_what_was_stored(tmp_path: Path) -> None:
    server = OwnServer(tmp_path / "redis", extra=["--maxmemory-policy", "noeviction"])
    server.start()
    control = redis.Redis.from_url(server.url)
    try:
        settings = load_settings(redis_url=server.url, stream_prefix="full", poll_ms=20)
        batch = [_article(n) for n in range(ARTICLES)]
        with TestClient(create_http_app(settings)) as http:
            assert http.post("/articles", json={"text": "first", "id": "f0"}).status_code == 202
            used = int(control.info("memory")["used_memory"])
            # Room for about a third of the batch (its request buffers count too).
            control.config_set("maxmemory", used + 400_000)
            refused = http.post("/articles", json=batch)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            body = refused.json()
            statuses = [a["status"] for a in body["articles"]]
            assert [a["id"] for a in body["articles"]] == [a["id"] for a in batch]
            assert "accepted" in statuses and "not_stored" in statuses, statuses
            assert set(statuses) <= {"accepted", "not_stored"}
            error = body["error"]
            assert error.startswith("Redis is out of memory (maxmemory reached)")
            assert f"{statuses.count('not_stored')} of {ARTICLES} articles were not stored" in error
            assert "EVALSHA" not in error and "\\x" not in error and "full:" not in error
            # What the 503 calls accepted is exactly what the stream holds.
            stored = sync_payloads(control, Keys("full").accepted)
            assert len(stored) == 1 + statuses.count("accepted")
            # With room again, retrying what was not stored stores it, once.
            control.config_set("maxmemory", 0)
            rest = [a for a, s in zip(batch, statuses, strict=True) if s == "not_stored"]
            retried = http.post("/articles", json=rest)
            assert retried.status_code == 202
            assert {a["status"] for a in retried.json()["articles"]} == {"accepted"}
            assert control.xlen(Keys("full").accepted) == 1 + ARTICLES
    finally:
        control.close()
        server.stop()
