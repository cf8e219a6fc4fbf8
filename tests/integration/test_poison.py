"""Garbage through ingest and every worker: each entry is accepted or dead-lettered with a
reason, nothing crashes, nothing is left pending.

Generated garbage is checked against what must hold whatever the payload (one outcome per
entry); the named cases against outcomes and reasons written by hand.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.aggregator.app import AGGREGATOR, merge_stage
from services.aggregator.merge import Merger
from services.geocoder.app import geocoder_stage
from services.ingest.admit import Admitter, admit_payload
from services.ingest.app import stream_stage
from services.stories.app import StoriesStage
from services.stories.owner import Owner
from services.stories.state import StoriesState
from services.summarizer.app import summarizer_stage
from shared.redis_client import ensure_groups
from shared.schemas import DeadLetter
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.wire import Entry
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


async def _specs(settings: Settings, client: aredis.Redis) -> list[StageSpec[Any, Any]]:
    merger = Merger(client, settings)
    owner = Owner(client, settings)
    await owner.acquire()  # the stories stage works only while it holds the lease

    class _NoGazetteer:
        version = "none"

        def lookup(self, _name: str) -> list[Any]:
            return []

    return [
        stream_stage(settings, Admitter(client, settings)),
        summarizer_stage(settings),
        geocoder_stage(settings, _NoGazetteer()),  # type: ignore[arg-type]
        StoriesStage(owner, StoriesState(), settings).spec(),
        *(merge_stage(settings, merger, stream) for stream in AGGREGATOR.reads),
    ]


async def _xadd(client: aredis.Redis, stream: str, payload: bytes) -> str:
    entry_id: Any = await client.xadd(stream, {"data": payload})
    return str(entry_id.decode())


async def _deliver_all(client: aredis.Redis, runner: StageRunner[Any, Any]) -> list[str]:
    """Read and handle everything new in the runner's group; the entry ids it read."""
    spec = runner.spec
    read: list[str] = []
    while True:
        reply: Any = await client.xreadgroup(spec.group, "c", {spec.stream: ">"}, count=100)
        entries = [Entry(i.decode(), f) for _s, items in reply for i, f in items]
        if not entries:
            return read
        read.extend(e.entry_id for e in entries)
        await runner.handle(entries, claimed=False)


async def _garbage_through(redis_url: str, index: int, batch: list[bytes]) -> None:
    """The batch through the ``index``-th of :func:`_specs`, alone under a prefix of its own."""
    prefix = f"pz{uuid.uuid4().hex[:8]}"
    settings = load_settings(redis_url=redis_url, stream_prefix=prefix, max_payload_bytes=20_000)
    client = aredis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    try:
        await ensure_groups(client, keys)
        specs = await _specs(settings, client)
        assert len(specs) == STAGE_COUNT
        spec = specs[index]
        fed = {await _xadd(client, spec.stream, payload) for payload in batch}
        read = await _deliver_all(client, StageRunner(spec, client, settings))
        assert sorted(read) == sorted(fed), spec.name
        pending = await client.xpending(spec.stream, spec.group)
        assert pending["pending"] == 0, spec.name
        letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
        dead = [letter.source_entry_id for letter in letters]
        # Each dead letter is one input's, once, from this stage, and says why.
        assert len(dead) == len(set(dead)) and set(dead) <= fed, spec.name
        assert all(
            (letter.stage, letter.source_stream, letter.error_type)
            == (spec.name, spec.stream, "invalid_input")
            and letter.reason
            for letter in letters
        )
        output = ONE_RESULT_EACH.get(spec.name)
        if output is not None:
            # Every input ends as one result or one dead letter (at ingest, or a duplicate).
            produced = int(await client.xlen(getattr(keys, output)))
            if spec.name == "ingest":
                assert produced + len(dead) <= len(fed)
            else:
                assert produced + len(dead) == len(fed), spec.name
    finally:
        # COUNT 1000: the server may hold many other keys, and SCAN's default reads ten
        # per round trip.
        keys_left = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys_left:
            await client.delete(*keys_left)
        await client.aclose()


async def _run_garbage(redis_url: str, batch: list[bytes]) -> None:
    for index in range(STAGE_COUNT):
        await _garbage_through(redis_url, index, batch)


#: How many stages :func:`_specs` returns.
STAGE_COUNT = 8
#: The stream each stage publishes exactly one result to per valid input (the aggregator
#: merges instead: its results are not one per input).
ONE_RESULT_EACH = {
    "ingest": "accepted",
    "summarizer": "summaries",
    "geocoder": "places",
    "stories": "assigned",
}


@given(st.lists(payload_bytes, min_size=20, max_size=60))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_stage_dead_letters_garbage_and_keeps_running(
    redis_url: str, batch: list[bytes]
) -> None:
    asyncio.run(_run_garbage(redis_url, batch))


# --- Named poison, with the outcome written by hand ---------------------------------------


@dataclass(frozen=True)
class Poison:
    """One payload on one stream, and what every stage reading that stream must do with it:
    dead-letter it as ``invalid_input`` with ``reason`` in its reason, or (``reason`` None)
    accept it."""

    name: str
    stream: str  # the Keys attribute
    payload: bytes
    reason: str | None


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


_GOOD_TEXT = "Heavy rain flooded Lyon, France, on Tuesday."
_META = {"id": "p1", "ingested_at": "2026-01-01T00:00:00Z", "text_chars": len(_GOOD_TEXT)}
_INFO = {"stage": "x", "status": "ok", "duration_s": 0.1, "service_version": "0"}
_DRAFT = {
    "id": "p1",
    "article": _META,
    "text": _GOOD_TEXT,
    "stages": {},
    "partial": True,
    "missing_stages": ["stories"],
    "enriched_at": "2026-01-01T00:00:01Z",
}
_STORY = {"id": "st-0123456789abcdef", "is_new": True, "size": 1, "score": 0.0}
#: 17 MiB of spaces: 17 kB compressed, past the 16 MiB any stage inflates.
_BOMB = zlib.compress(b" " * (17 * 2**20))

POISON = [
    Poison("ingest-good", "articles", _json({"id": "p1", "text": _GOOD_TEXT}), None),
    Poison("ingest-good-compressed", "articles", zlib.compress(_json({"text": _GOOD_TEXT})), None),
    Poison("ingest-not-json", "articles", b"{nope", "invalid JSON"),
    Poison("ingest-empty", "articles", b"", "invalid JSON"),
    Poison("ingest-not-utf8", "articles", b'{"text": "Caf\xe9"}', "not UTF-8 text"),
    Poison("ingest-array", "articles", b"[1, 2]", "an article must be a JSON object"),
    Poison("ingest-no-text", "articles", _json({"title": "x"}), "text or html is required"),
    Poison("ingest-blank-text", "articles", _json({"text": " \n "}), "text has no visible"),
    Poison("ingest-corrupt-compressed", "articles", b"x\x9c" + b"\x00" * 20, "corrupt compressed"),
    Poison(
        "ingest-truncated-compressed",
        "articles",
        zlib.compress(_json({"text": _GOOD_TEXT}))[:-3],
        "truncated compressed payload",
    ),
    Poison("ingest-zip-bomb", "articles", _BOMB, "inflates beyond 16777216 bytes"),
    Poison(
        "ingest-too-big",
        "articles",
        _json({"text": "x" * 30_000}),
        "the limit is 20000",
    ),
    Poison("accepted-good", "accepted", _json({"meta": _META, "text": _GOOD_TEXT}), None),
    Poison("accepted-empty-object", "accepted", b"{}", "meta: Field required"),
    Poison("accepted-null", "accepted", b"null", "(root): Input should be an object"),
    Poison(
        "accepted-text-not-string",
        "accepted",
        _json({"meta": _META, "text": 5}),
        "text: Input should be a valid string",
    ),
    Poison(
        "accepted-meta-without-id",
        "accepted",
        _json({"meta": {**_META, "id": None}, "text": _GOOD_TEXT}),
        "meta.id: Input should be a valid string",
    ),
    Poison("accepted-zip-bomb", "accepted", _BOMB, "inflates beyond 16777216 bytes"),
    Poison(
        "entities-good",
        "entities",
        _json({"meta": _META, "entities": [], "candidates": [], "info": _INFO}),
        None,
    ),
    Poison("entities-meta-not-object", "entities", _json({"meta": 7}), "meta: Input should be"),
    Poison(
        "entities-bad-status",
        "entities",
        _json({"meta": _META, "entities": [], "info": {**_INFO, "status": "fine"}}),
        "info.status: Input should be",
    ),
    Poison(
        "places-not-a-list",
        "places",
        _json({"meta": _META, "places": "Lyon", "info": _INFO}),
        "places: Input should be a valid array",
    ),
    Poison("places-good", "places", _json({"meta": _META, "places": [], "info": _INFO}), None),
    Poison(
        "summaries-summary-not-object",
        "summaries",
        _json({"meta": _META, "summary": 5, "info": _INFO}),
        "summary: Input should be",
    ),
    Poison(
        "summaries-negative-duration",
        "summaries",
        _json({"meta": _META, "summary": None, "info": {**_INFO, "duration_s": -1}}),
        "info.duration_s: Input should be greater than or equal to 0",
    ),
    Poison("drafts-good", "drafts", _json(_DRAFT), None),
    Poison("drafts-empty-object", "drafts", b"{}", "id: Field required"),
    Poison(
        "drafts-entities-not-a-list",
        "drafts",
        _json({**_DRAFT, "entities": "Lyon"}),
        "entities: Input should be a valid array",
    ),
    Poison("drafts-zip-bomb", "drafts", _BOMB, "inflates beyond 16777216 bytes"),
    Poison("assigned-good", "assigned", _json({"meta": _META, "story": None, "info": _INFO}), None),
    Poison(
        "assigned-score-not-a-number",
        "assigned",
        _json({"meta": _META, "story": {**_STORY, "score": "high"}, "info": _INFO}),
        "story.score: Input should be a valid number",
    ),
    Poison(
        "assigned-size-zero",
        "assigned",
        _json({"meta": _META, "story": {**_STORY, "size": 0}, "info": _INFO}),
        "story.size: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("case", POISON, ids=[case.name for case in POISON])
async def test_named_poison_is_dead_lettered_with_its_reason(
    case: Poison, redis_url: str, prefix: str, client: aredis.Redis
) -> None:
    limits = load_settings(redis_url=redis_url, stream_prefix=prefix, max_payload_bytes=20_000)
    keys = Keys(prefix)
    await ensure_groups(client, keys)
    stream = getattr(keys, case.stream)
    entry_id = await _xadd(client, stream, case.payload)
    readers = [spec for spec in await _specs(limits, client) if spec.stream == stream]
    assert readers, f"no stage reads {stream}"
    for spec in readers:
        assert await _deliver_all(client, StageRunner(spec, client, limits)) == [entry_id]
        assert (await client.xpending(stream, spec.group))["pending"] == 0

    letters = [DeadLetter.model_validate_json(p) for p in await payloads(client, keys.dead)]
    if case.reason is None:
        assert letters == []
        for spec in readers:
            output = ONE_RESULT_EACH.get(spec.name)
            if output is not None:
                assert await client.xlen(getattr(keys, output)) == 1, spec.name
        return
    assert sorted((d.stage, d.error_type, d.source_entry_id) for d in letters) == sorted(
        (spec.name, "invalid_input", entry_id) for spec in readers
    )
    for letter in letters:
        assert case.reason in letter.reason, letter.reason
