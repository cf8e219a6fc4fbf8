"""The Python client against a real Redis: push, and resumable filtered subscriptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import redis.asyncio as aredis
from pydantic import ValidationError

from newsflow.client import NewsflowClient
from shared.filters import EventFilter
from shared.schemas import Article
from shared.settings import Settings
from shared.streams import Keys
from tests.factories import enriched_event_json
from tests.helpers import payloads

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_push_validates_names_and_dedupes(settings: Settings, client: aredis.Redis) -> None:
    async with NewsflowClient(settings.require_redis_url(), settings=settings) as nf:
        first = await nf.push({"text": "Floods hit Lyon, France.", "id": "c1"})
        again = await nf.push_many(
            [
                {"text": "Floods hit Lyon, France.", "id": "c1"},
                {"text": "Snow in Oslo.", "url": "https://example.org/o"},
            ]
        )
        with pytest.raises(ValidationError):
            await nf.push({"title": "no text"})
    assert (first.id, first.status) == ("c1", "accepted")
    assert [a.status for a in again] == ["duplicate", "accepted"]
    stored = [
        Article.model_validate_json(p)
        for p in await payloads(client, Keys(settings.stream_prefix).accepted)
    ]
    assert [a.meta.id for a in stored] == ["c1", again[1].id]


async def test_subscription_filters_and_resumes_where_it_stopped(
    settings: Settings, client: aredis.Redis
) -> None:
    stream = Keys(settings.stream_prefix).enriched
    for article_id, country in (("e1", "IQ"), ("e2", "FR"), ("e3", "FR"), ("e4", "DE")):
        await client.xadd(stream, {"data": enriched_event_json(article_id, country)})
    url = settings.require_redis_url()
    only_france = EventFilter.of(countries=["fr"])
    async with NewsflowClient(url, settings=settings) as nf:
        async for event in nf.subscribe(group="app", filter=only_france, start="0"):
            assert event.id == "e2"
            break  # stopped before asking for the next: e2 is not acknowledged
    async with NewsflowClient(url, settings=settings) as nf:
        seen = []
        async for event in nf.subscribe(group="app", filter=only_france, start="0"):
            seen.append(event.id)
            if event.id == "e3":
                break
    assert seen == ["e2", "e3"]  # e2 again (never acknowledged), then e3; IQ/DE filtered out
    pending: Any = await client.xpending_range(stream, "app", min="-", max="+", count=10)
    # e3 was handed out last and e4 read ahead in the same batch: both come back on resume.
    assert len(pending) == 2
    # A second group sees everything from the start, independently.
    async with NewsflowClient(url, settings=settings) as nf:
        ids = []
        async for event in nf.subscribe(group="audit", start="0"):
            ids.append(event.id)
            if len(ids) == 4:
                break
    assert ids == ["e1", "e2", "e3", "e4"]
    assert json.loads(enriched_event_json("x", "FR"))["places"][0]["country_code"] == "FR"


async def test_tail_applies_the_same_filters(settings: Settings, client: aredis.Redis) -> None:
    stream = Keys(settings.stream_prefix).enriched
    for article_id, country in (("t1", "IQ"), ("t2", "FR"), ("t3", "DE")):
        await client.xadd(stream, {"data": enriched_event_json(article_id, country)})
    env = {
        **os.environ,
        "NEWSFLOW_REDIS_URL": settings.require_redis_url(),
        "NEWSFLOW_STREAM_PREFIX": settings.stream_prefix,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsflow",
            "tail",
            "--from",
            "begin",
            "--count",
            "1",
            "--country",
            "de",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["id"] == "t3"
