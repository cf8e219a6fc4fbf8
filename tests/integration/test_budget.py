"""The per-article time budget on real Redis: a slow article fails alone, at once, and the
others of its batch are published without waiting for it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import redis.asyncio as aredis

from services.entities.app import entities_stage
from services.entities.extract import load_nlp
from shared.schemas import Article, ArticleMeta, DeadLetter, EntitiesResult, utc_now
from shared.service import Service, Stages
from shared.settings import Settings
from shared.streams import DATA_FIELD, Keys
from shared.wire import pack
from tests.helpers import payloads, probe_service, running, stream_len, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
GROUP = "probe"
BUDGET_S = 1.0


def _spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def _probe_service(settings: Settings, calls: list[str]) -> Service:
    """A stage that upper-cases payloads and spins for a minute on "slow"."""

    def work(items: list[str]) -> list[str]:
        calls.extend(items)
        if "slow" in items:
            _spin(60.0)
        return [item.upper() for item in items]

    return probe_service(settings, work, failed=lambda item, reason: f"FAILED:{item}:{reason}")


async def _settled(client: aredis.Redis, stream: str, group: str) -> bool:
    pending = await client.xpending(stream, group)
    info = await client.xinfo_groups(stream)
    ours = next(g for g in info if g["name"] in (group, group.encode()))
    lag = int(ours.get("lag") or 0)
    return pending["pending"] == 0 and lag == 0


async def test_slow_article_is_dead_lettered_at_once_and_the_others_flow(
    client: aredis.Redis, settings: Settings
) -> None:
    # Claims wait well past the budget, as in production (docs/CHOICES.md): a batch that
    # runs longer than the claim time is taken over by a claimer while it runs.
    settings = settings.model_copy(update={"stage_budget_s": BUDGET_S, "claim_idle_ms": 10_000})
    keys = Keys(settings.stream_prefix)
    source, output = f"{keys.prefix}:probe-in", f"{keys.prefix}:probe-out"
    await client.xgroup_create(source, GROUP, id="0", mkstream=True)
    for item in ("a", "slow", "b", "c"):
        await client.xadd(source, {"data": item})
    calls: list[str] = []
    started = time.monotonic()
    async with running(_probe_service(settings, calls)):
        await wait_until(lambda: _settled(client, source, GROUP), timeout=20)
        await wait_until(lambda: _has(client, keys.dead, 1))
    elapsed = time.monotonic() - started

    out = sorted(p.decode() for p in await payloads(client, output))
    assert out == ["A", "B", "C", f"FAILED:slow:took more than {BUDGET_S:g} s"]
    # One budget for the batch, one for the slow article alone: not a minute, and not
    # max_deliveries budgets either.
    assert elapsed < 2 * BUDGET_S + 4.0
    assert calls.count("slow") == 2
    (letter,) = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert letter.error_type == "budget_exceeded"
    assert letter.reason == f"took more than {BUDGET_S:g} s"
    assert letter.deliveries == 1
    assert letter.payload == "slow"


async def _has(client: aredis.Redis, stream: str, count: int) -> bool:
    return await stream_len(client, stream) >= count


def _article(text: str) -> Article:
    meta = ArticleMeta(id=uuid.uuid4().hex, ingested_at=utc_now(), text_chars=len(text))
    return Article(meta=meta, text=text)


async def test_entities_stage_gives_up_on_a_long_junk_text_within_the_budget(
    client: aredis.Redis, settings: Settings
) -> None:
    """spaCy on 200,000 characters of junk takes seconds: past the budget the entity
    stage marks that article failed and publishes the others of the batch."""
    # Claims wait well past the budget, as in production (docs/CHOICES.md): a batch that
    # runs longer than the claim time is taken over by a claimer while it runs.
    settings = settings.model_copy(update={"stage_budget_s": BUDGET_S, "claim_idle_ms": 10_000})
    keys = Keys(settings.stream_prefix)
    nlp = load_nlp()
    spec = entities_stage(settings, nlp, None)
    await client.xgroup_create(spec.stream, spec.group, id="0", mkstream=True)
    junk = _article(("A. " * 70_000)[:200_000])
    news = [_article(f"Troops entered Mosul on Monday, {n} officials said.") for n in range(3)]
    for article in (news[0], junk, *news[1:]):
        await client.xadd(spec.stream, {DATA_FIELD: pack(article)})

    async def make_specs(_client: aredis.Redis) -> Stages:
        return Stages([spec])

    service = Service("entities", settings, [(spec.stream, spec.group)], make_specs)
    started = time.monotonic()
    async with running(service):
        await wait_until(lambda: _settled(client, spec.stream, spec.group), timeout=30)
        await wait_until(lambda: _has(client, keys.dead, 1))
    elapsed = time.monotonic() - started

    results = [EntitiesResult.model_validate_json(p) for p in await payloads(client, keys.entities)]
    status = {r.meta.id: r.info.status for r in results}
    assert status == {junk.meta.id: "error", **{a.meta.id: "ok" for a in news}}
    failed = next(r for r in results if r.meta.id == junk.meta.id)
    assert failed.info.error == f"took more than {BUDGET_S:g} s"
    assert all(any(e.name == "Mosul" for e in r.entities) for r in results if r.info.status == "ok")
    (letter,) = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    assert letter.error_type == "budget_exceeded"
    assert letter.article_id == junk.meta.id
    # Model loading aside, the stage spent about two budgets on the junk.
    assert elapsed < 2 * BUDGET_S + 6.0


async def test_entities_worker_stays_under_400_mb_on_junk(
    client: aredis.Redis, settings: Settings, redis_url: str
) -> None:
    """A real entities worker (its own process: model, gazetteer, broker) fed a batch of
    the worst 200,000-character texts; its RSS, sampled with psutil, stays under 400 MB."""
    keys = Keys(settings.stream_prefix)
    env = {
        **os.environ,
        "NEWSFLOW_REDIS_URL": redis_url,
        "NEWSFLOW_STREAM_PREFIX": settings.stream_prefix,
        "NEWSFLOW_STAGE_BUDGET_S": "60",
    }
    units = ("Paris, London, Berlin, ", "1996-08-30 12,345.67 3 2 0 1 7 4 6 ", "A. ")
    junk = [_article((unit * (200_000 // len(unit) + 1))[:200_000]) for unit in units]
    worker = subprocess.Popen(
        [sys.executable, "-c", "from services.entities.app import main; main()"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process = psutil.Process(worker.pid)
    peak_mb = 0

    async def done() -> bool:
        nonlocal peak_mb
        with contextlib.suppress(psutil.Error):
            peak_mb = max(peak_mb, process.memory_info().rss // 2**20)
        return await stream_len(client, keys.entities) >= len(junk)

    try:
        for article in junk:
            await client.xadd(keys.accepted, {DATA_FIELD: pack(article)})
        await wait_until(done, timeout=120, interval=0.02)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    results = [EntitiesResult.model_validate_json(p) for p in await payloads(client, keys.entities)]
    assert {r.info.status for r in results} == {"ok"}
    assert 0 < peak_mb <= 400, peak_mb
