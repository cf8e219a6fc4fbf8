"""Generated garbage through ingest and every worker: each entry is accepted or dead-lettered
with a reason, nothing crashes, nothing is left pending."""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from typing import Any

import pytest
import redis.asyncio as aredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.aggregator.app import merge_stage
from services.aggregator.merge import Merger
from services.geocoder.app import geocoder_stage
from services.ingest.admit import Admitter, admit_payload
from services.ingest.app import stream_stage
from services.summarizer.app import summarizer_stage
from shared.redis_client import ensure_groups
from shared.schemas import DeadLetter, PlacesResult, SummaryResult, read_entities_result
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.wire import Entry, unpack
from shared.worker import InvalidInput, StageRunner, StageSpec
from tests.helpers import payloads

pytestmark = [pytest.mark.redis]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
article_like = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=300), st.integers(), st.none())},
    optional={
        "id": st.one_of(st.text(max_size=30), st.integers()),
        "url": st.one_of(st.text(max_size=50), st.just("https://example.org/a")),
        "title": st.text(max_size=30),
        "published_at": st.one_of(st.text(max_size=25), st.just("2016-10-19T14:05:00+03:00")),
        "schema_version": st.integers(min_value=-2, max_value=3),
        "metadata": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        "language": st.text(max_size=20),
    },
)
payload_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    article_like.map(lambda v: json.dumps(v).encode()),
    # Compressed payloads, as stages exchange them: valid, corrupt or truncated.
    article_like.map(lambda v: zlib.compress(json.dumps(v).encode())),
    st.binary(max_size=200).map(lambda b: b"x\x9c" + b),
    article_like.map(lambda v: zlib.compress(json.dumps(v).encode())[:-3]),
)
SETTINGS = load_settings(max_text_chars=5000, max_payload_bytes=20_000)


@given(payload_bytes)
@settings(max_examples=2000, deadline=None)
def test_admission_accepts_or_explains_every_payload(payload: bytes) -> None:
    try:
        article = admit_payload(payload, SETTINGS)
    except (ValidationError, InvalidInput):
        return
    assert article.text.strip()
    assert article.meta.id


def _specs(settings: Settings, client: aredis.Redis) -> list[StageSpec[Any, Any]]:
    keys = Keys(settings.stream_prefix)
    merger = Merger(client, settings)

    class _NoGazetteer:
        version = "none"

        def lookup(self, _name: str) -> list[Any]:
            return []

    return [
        stream_stage(settings, Admitter(client, settings)),
        summarizer_stage(settings),
        geocoder_stage(settings, _NoGazetteer()),  # type: ignore[arg-type]
        merge_stage(settings, merger, keys.entities, read_entities_result),
        merge_stage(settings, merger, keys.places, PlacesResult.model_validate_json),
        merge_stage(settings, merger, keys.summaries, SummaryResult.model_validate_json),
    ]


async def _run_garbage(redis_url: str, batch: list[bytes]) -> None:
    prefix = f"pz{uuid.uuid4().hex[:8]}"
    settings = load_settings(redis_url=redis_url, stream_prefix=prefix, max_payload_bytes=20_000)
    client = aredis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    try:
        await ensure_groups(client, keys)
        expected_dead = 0
        for spec in _specs(settings, client):
            for payload in batch:
                await client.xadd(spec.stream, {"data": payload})
            runner = StageRunner(spec, client, settings)
            while True:
                reply: Any = await client.xreadgroup(spec.group, "c", {spec.stream: ">"}, count=100)
                entries = [Entry(i.decode(), f) for _s, items in reply for i, f in items]
                if not entries:
                    break
                expected_dead += sum(not _parses(spec, e.fields[b"data"]) for e in entries)
                await runner.handle(entries, claimed=False)
            pending = await client.xpending(spec.stream, spec.group)
            assert pending["pending"] == 0, spec.name
        letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
        assert all(letter.reason and letter.source_entry_id for letter in letters)
        assert len(letters) == expected_dead
    finally:
        keys_left = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys_left:
            await client.delete(*keys_left)
        await client.aclose()


def _parses(spec: StageSpec[Any, Any], payload: bytes) -> bool:
    try:
        spec.parse(unpack(payload))
    except (ValueError, RecursionError):
        return False
    return True


@given(st.lists(payload_bytes, min_size=20, max_size=60))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_stage_dead_letters_garbage_and_keeps_running(
    redis_url: str, batch: list[bytes]
) -> None:
    asyncio.run(_run_garbage(redis_url, batch))
