"""A worker facing a full Redis keeps its batch and backs off: no spin, no duplicate, no
misleading dead letter, one readable log line per stretch of failures."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis
from prometheus_client import REGISTRY

from shared.liveness import say_alive
from shared.redis_client import describe_redis_error, ensure_groups, is_transient
from shared.service import Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from tests.helpers import payloads, running, stream_len, wait_until
from tests.integration.test_delivery import GROUP, _probe_service, _settled
from tests.servers import OwnServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

ARTICLES = 20


@pytest.fixture
def full_server(tmp_path: Path) -> Iterator[OwnServer]:
    server = OwnServer(tmp_path / "full")
    server.start()
    yield server
    server.stop(hard=True)


def _fill(url: str) -> None:
    """Put 2 MB of ballast in, then cap the server's memory below what it holds: every
    write that needs memory is refused (noeviction) until the ballast goes."""
    client = redis.Redis.from_url(url)
    try:
        for n in range(20):
            client.set(f"ballast:{n}", b"x" * 100_000)
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", used - 1_000_000)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("one-more", "x")
    finally:
        client.close()


def _retries(stage: str) -> float:
    return REGISTRY.get_sample_value("newsflow_commit_retries_total", {"stage": stage}) or 0.0


async def test_worker_keeps_its_batch_while_redis_is_full_then_commits_it_once(
    full_server: OwnServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Claims after 200 ms: without the hold, claimers would take the held entries over
    # many times during the outage and count deliveries until they looked poisonous.
    settings: Settings = load_settings(
        redis_url=full_server.url,
        stream_prefix="full",
        claim_idle_ms=200,
        poll_ms=20,
        max_deliveries=3,
        consumer_name="full-test",
    )
    client = aredis.Redis.from_url(full_server.url)
    source, output, dead = "full:probe-in", "full:probe-out", Keys("full").dead
    await client.xgroup_create(source, GROUP, id="0", mkstream=True)
    await ensure_groups(client, Keys("full"))
    for n in range(ARTICLES):
        await client.xadd(source, {"data": f"a{n}"})
    calls: list[str] = []
    before = _retries("probe")
    caplog.set_level(logging.WARNING, logger="newsflow.worker")
    service = _probe_service(settings, calls, fail=set())
    (spec_maker,) = [service.make_specs]

    async def filling_specs(connection: aredis.Redis) -> Stages:
        # Redis fills up while the first batch is worked on: its commit is refused.
        (spec,) = (await spec_maker(connection)).specs

        def work(items: list[str]) -> list[str]:
            if not calls:
                _fill(full_server.url)
            return list(spec.work(items))

        return Stages([dataclasses.replace(spec, work=work)])

    service.make_specs = filling_specs
    started = time.monotonic()
    try:
        async with running(service):
            # Five failed attempts: 0.25 + 0.5 + 1 + 2 s of back-off between them.
            await wait_until(lambda: _at_least(before + 5), timeout=20)
            outage_s = time.monotonic() - started
            assert await stream_len(client, output) == 0
            await client.delete(*[f"ballast:{n}" for n in range(20)])
            await wait_until(lambda: _settled(client, source, dead, 0), timeout=30)
        attempts = _retries("probe") - before
    finally:
        await client.aclose()

    out = sorted(p.decode() for p in await payloads(aredis.Redis.from_url(full_server.url), output))
    assert out == sorted(f"A{n}" for n in range(ARTICLES))  # each once, none dead
    # A spin would have tried thousands of times; back-off tries a few times.
    assert outage_s > 3.5 and attempts <= 8, (outage_s, attempts)
    lines = [r.getMessage() for r in caplog.records if "committing a batch" in r.getMessage()]
    # One line when it starts, one on recovery (repeats within 30 s are only counted).
    assert len(lines) == 2, lines
    assert "out of memory" in lines[0] and "EVALSHA" not in lines[0]
    assert "recovered" in lines[1]


async def _at_least(value: float) -> bool:
    return _retries("probe") >= value


def test_redis_errors_read_as_one_line_without_the_command_or_its_arguments() -> None:
    # As redis-py raises it: its own class, the reply's code dropped from the message.
    piped = redis.exceptions.OutOfMemoryError(
        "Command # 1 (EVALSHA 1f2e3d 2 k:seen k:accepted b'x\\x9c\\xab\\xcd' 604800 data) of "
        "pipeline caused error: command not allowed when used memory > 'maxmemory'."
    )
    assert is_transient(piped)
    assert describe_redis_error(piped) == "Redis is out of memory (maxmemory reached)"
    aborted = redis.exceptions.ExecAbortError(
        "Transaction discarded because of previous errors. OOM command not allowed"
    )
    assert is_transient(aborted)
    wrong = redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    assert not is_transient(wrong)
    assert describe_redis_error(wrong) == "a key holds the wrong type of value"
    down = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
    assert is_transient(down)
    assert describe_redis_error(down) == "Redis unreachable"


async def test_liveness_survives_a_full_redis(full_server: OwnServer) -> None:
    settings = load_settings(redis_url=full_server.url, stream_prefix="live", consumer_name="c")
    client = aredis.Redis.from_url(full_server.url)
    try:
        await say_alive(client, settings, ["entities"])
        _fill(full_server.url)
        # SET would be refused now; the refresh still goes through, so a busy stage whose
        # processes are alive never looks down because Redis was full for a while.
        await say_alive(client, settings, ["entities"])
        assert await client.pttl(Keys("live").alive("entities")) > 25_000
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            await say_alive(client, settings, ["geocoder"])  # a new marker needs memory
    finally:
        await client.aclose()
