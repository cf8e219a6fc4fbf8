"""Hostile input through every door on a real Redis: the HTTP API, XADD to the articles
stream with the ingest group running, ``newsflow push`` and the Python client refuse each
value of :mod:`tests.hostile` with the same reason, and its batch-mates go through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.client import Pipeline
from starlette.testclient import TestClient

from newsflow.client import NewsflowClient
from services.ingest.app import build_service, create_http_app
from shared.redis_client import ensure_groups
from shared.schemas import Article, DeadLetter
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.wire import Entry
from shared.worker import StageRunner, StageSpec, describe_error
from tests.conftest import REPO
from tests.helpers import payloads, running, stream_len, sync_payloads, wait_until
from tests.hostile import DOCUMENTS, GOOD_TEXT, HOSTILE, Hostile, ids

pytestmark = [pytest.mark.redis]

#: Articles that share an XADD burst (and so an ingest batch) with each hostile one.
BATCH_MATES = 15


def _good(name: str, n: int) -> dict[str, Any]:
    return {"text": f"{GOOD_TEXT} Report {n}.", "id": f"{name}-ok-{n}"}


def _http_reason(reply: Any, index: int) -> str:
    body = reply.json()
    if "details" not in body:
        return str(body["error"])  # the whole body was unreadable
    (detail,) = [d for d in body["details"] if d["index"] == index]
    return "; ".join(f"{e['field']}: {e['error']}" for e in detail["errors"])


@pytest.mark.parametrize("case", HOSTILE, ids=ids(HOSTILE))
def test_http_refuses_with_the_reason_and_stores_nothing(settings: Settings, case: Hostile) -> None:
    with TestClient(create_http_app(settings)) as http:
        if case.document is None:  # bytes that are no JSON document: the body itself
            reply = http.post(
                "/articles", content=case.raw, headers={"content-type": "application/json"}
            )
        else:  # one item of a list, held to the same per-article rules as a lone one
            body = json.dumps([_good(case.name, 0), case.document]).encode("ascii")
            reply = http.post(
                "/articles", content=body, headers={"content-type": "application/json"}
            )
        assert reply.status_code == 422, reply.text
        assert case.reason in _http_reason(reply, index=1)
    client = redis.Redis.from_url(settings.require_redis_url())
    try:
        assert client.xlen(Keys(settings.stream_prefix).accepted) == 0
    finally:
        client.close()


@pytest.mark.anyio
async def test_xadd_dead_letters_each_at_once_and_its_batch_mates_go_on(
    redis_url: str, prefix: str, client: aredis.Redis
) -> None:
    # A claim would take 30 s: everything done in a few seconds means no entry waited.
    settings = load_settings(
        redis_url=redis_url,
        stream_prefix=prefix,
        claim_idle_ms=30_000,
        poll_ms=20,
        batch_size=BATCH_MATES + 1,
        consumer_name=f"test-{uuid.uuid4().hex[:6]}",
    )
    keys = Keys(prefix)
    await ensure_groups(client, keys)
    expected: dict[str, Hostile] = {}
    for case in HOSTILE:
        # Written before the group reads: each burst of 16 is read as one batch.
        pipe = client.pipeline(transaction=True)
        for n in range(BATCH_MATES):
            pipe.xadd(keys.articles, {"data": json.dumps(_good(case.name, n))})
            if n == BATCH_MATES // 2:
                pipe.xadd(keys.articles, {"data": case.raw})
        entry_ids = await pipe.execute()
        expected[entry_ids[BATCH_MATES // 2 + 1].decode()] = case
    service = build_service(settings)
    started = time.monotonic()
    async with running(service):
        await wait_until(lambda: _all_done(client, keys, len(HOSTILE)), timeout=20.0)
    assert time.monotonic() - started < 15.0  # well under claim_idle_ms

    accepted = [Article.model_validate_json(p) for p in await payloads(client, keys.accepted)]
    assert len(accepted) == BATCH_MATES * len(HOSTILE)
    letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert sorted(letter.source_entry_id for letter in letters) == sorted(expected)
    for letter in letters:
        case = expected[letter.source_entry_id]
        assert letter.error_type == "invalid_input", case.name
        assert letter.deliveries == 1, case.name
        assert case.reason in letter.reason, (case.name, letter.reason)


async def _all_done(client: aredis.Redis, keys: Keys, dead: int) -> bool:
    pending = await client.xpending(keys.articles, "ingest")
    return (
        await stream_len(client, keys.dead) == dead
        and await stream_len(client, keys.accepted) == BATCH_MATES * dead
        and pending["pending"] == 0
    )


def _push(prefix: str, redis_url: str, *targets: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "push", *targets],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_push_rejects_each_bad_article_and_pushes_the_good(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    lines = []
    for case in DOCUMENTS:
        lines += [json.dumps(_good(case.name, 0)), case.raw.decode("ascii")]
    mixed.write_text("\n".join(lines) + "\n")
    files = {}
    for case in HOSTILE:
        if case.document is None:
            files[case.name] = tmp_path / f"{case.name}.json"
            files[case.name].write_bytes(case.raw)
    done = _push(prefix, redis_url, str(mixed), *map(str, files.values()))

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    rejected = dict(
        line.removeprefix("rejected ").split(": ", 1) for line in done.stderr.splitlines()
    )
    for number, case in enumerate(DOCUMENTS):
        assert case.reason in rejected.pop(f"{mixed}:{2 * number + 2}"), case.name
    for name, path in files.items():
        case = next(c for c in HOSTILE if c.name == name)
        assert case.reason in rejected.pop(str(path)), name
    assert rejected == {}
    assert sorted(done.stdout.split()) == sorted(
        word for case in DOCUMENTS for word in ("accepted", f"{case.name}-ok-0")
    )
    client = redis.Redis.from_url(redis_url)
    try:
        stored = sync_payloads(client, Keys(prefix).accepted)
    finally:
        client.close()
    assert len(stored) == len(DOCUMENTS)


def test_cli_push_names_a_missing_file_in_one_line(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "good.txt").write_text(GOOD_TEXT)
    done = _push(prefix, redis_url, str(tmp_path / "good.txt"), "nowhere.jsonl")
    assert done.returncode == 2
    assert done.stderr == (
        "newsflow push: argument inputs: no such file or folder: nowhere.jsonl "
        "(see newsflow push --help)\n"
    )
    assert done.stdout == ""


@pytest.mark.anyio
@pytest.mark.parametrize("case", DOCUMENTS, ids=ids(DOCUMENTS))
async def test_client_raises_a_value_error_with_the_reason(
    settings: Settings, client: aredis.Redis, case: Hostile
) -> None:
    async with NewsflowClient(settings=settings) as nf:
        with pytest.raises(ValueError) as caught:
            await nf.push_many([_good(case.name, 0), case.document or {}])
    assert case.reason in describe_error(caught.value)
    assert await stream_len(client, Keys(settings.stream_prefix).accepted) == 0


@pytest.mark.anyio
async def test_any_exception_in_parse_dead_letters_that_entry_only(
    settings: Settings, client: aredis.Redis
) -> None:
    keys = Keys(settings.stream_prefix)
    await ensure_groups(client, keys)

    def parse(payload: bytes) -> str:
        if payload == b"overflow":
            raise OverflowError("date value out of range")
        if payload == b"type":
            raise TypeError("'int' object is not iterable")
        return payload.decode()

    def commit(pipe: Pipeline, results: list[str]) -> None:
        for result in results:
            pipe.xadd(keys.accepted, {"data": result})

    spec: StageSpec[str, str] = StageSpec(
        name="probe",
        stream=keys.articles,
        group="ingest",
        parse=parse,
        work=lambda values: values,
        commit=commit,
    )
    for payload in (b"one", b"overflow", b"two", b"type", b"three"):
        await client.xadd(keys.articles, {"data": payload})
    reply: Any = await client.xreadgroup("ingest", "c", {keys.articles: ">"}, count=10)
    entries = [Entry(i.decode(), f) for _s, items in reply for i, f in items]
    await StageRunner(spec, client, settings).handle(entries, claimed=False)

    assert await payloads(client, keys.accepted) == [b"one", b"two", b"three"]
    letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert [(d.error_type, d.reason) for d in letters] == [
        ("invalid_input", "OverflowError: date value out of range"),
        ("invalid_input", "TypeError: 'int' object is not iterable"),
    ]
    assert (await client.xpending(keys.articles, "ingest"))["pending"] == 0
