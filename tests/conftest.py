"""Test set-up: a real Redis for every test that needs one.

``NEWSFLOW_REDIS_URL`` names the server to use (a test that needs it and cannot reach it
fails); without it the session starts its own embedded Valkey. Every test gets its own
stream prefix, so tests never see each other's keys.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from shared.embedded import EmbeddedRedis
from shared.settings import Settings, load_settings
from tests.servers import OwnServer

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "samples" / "000_94083e9d46d5205f.txt"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a real Redis-compatible server for this test session."""
    url = os.environ.get("NEWSFLOW_REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.ConnectionError as exc:
            pytest.fail(f"NEWSFLOW_REDIS_URL={url} is not reachable: {exc}")
        finally:
            client.close()
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="nf-", dir="/tmp") as tmp:
        server = EmbeddedRedis(Path(tmp))
        yield server.start()
        server.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A stream prefix of this test's own; its keys are deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def settings(redis_url: str, prefix: str) -> Settings:
    """Settings for this test: its prefix, quick claims and a short merge deadline."""
    return load_settings(
        redis_url=redis_url,
        stream_prefix=prefix,
        claim_idle_ms=200,
        poll_ms=20,
        merge_deadline_s=5.0,
        merge_sweep_s=0.2,
        max_deliveries=3,
        consumer_name=f"test-{uuid.uuid4().hex[:6]}",
    )


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aredis.Redis]:
    """An asyncio client on the test server."""
    connection = aredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI`` set, as ``.ci/run`` runs) a skipped test fails: CI installs every tool
    the suite needs, so a skip there is a missing install step, not a pass."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"


#: The password of :func:`locked_server`; tests check it never shows in any output.
LOCKED_PASSWORD = "pw-never-shown-4711"


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[OwnServer]:
    """A private server that asks for :data:`LOCKED_PASSWORD`."""
    server = OwnServer(tmp_path / "redis", extra=["--requirepass", LOCKED_PASSWORD])
    server.start()
    yield server
    server.stop()
