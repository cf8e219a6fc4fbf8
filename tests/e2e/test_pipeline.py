"""The whole pipeline as processes (``newsflow up``), fed by plain Redis clients."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.schemas import EnrichedEvent
from tests.conftest import REPO, SAMPLE
from tests.e2e.harness import Pipeline, newsflow, run_cli, up_command
from tests.helpers import sync_payloads

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SIX_PEOPLE = ("Baghdadi", "Abadi", "Volesky", "Abu Saif", "Tawfiq", "Obama")
PLACES_IN_SAMPLE = (
    "Mosul",
    "Qaraqosh",
    "Qayyarah",
    "Nineveh",
    "Arbil",
    "Hamdaniya",
    "Iraq",
    "Syria",
)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


@pytest.fixture
def pipeline(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(redis_url, prefix, tmp_path / "state")
    yield running
    running.stop()


def test_sample_article_pushed_with_plain_xadd_is_enriched(pipeline: Pipeline) -> None:
    pipeline.xadd_article(
        {
            "id": "sample-mosul",
            "text": SAMPLE.read_text(),
            "url": "https://www.example.org/news/mosul-offensive",
            "title": "Militant leaders fleeing Mosul, says US general",
            "source": "AFP",
            "published_at": "2016-10-19T14:05:00+03:00",
        }
    )
    (event,) = pipeline.wait_events(1, timeout=180)
    assert event.id == "sample-mosul"
    assert not event.partial, event.stages
    assert all(info.status == "ok" for info in event.stages.values())
    assert event.article.published_at is not None
    assert event.article.published_at.utcoffset() is not None
    assert event.article.published_at.hour == 11  # 14:05+03:00 in UTC

    people = [e for e in event.entities if e.label == "PERSON"]
    names = " | ".join(e.name for e in people)
    for person in SIX_PEOPLE:
        assert any(person in e.name for e in people), f"{person} missing from {names}"
    for entity in people:
        assert not any(place in entity.name for place in PLACES_IN_SAMPLE), entity
        assert "Related" not in entity.name and "Story" not in entity.name
    assert not any("Related Story" in e.name for e in event.entities)
    volesky = next(e for e in people if "Volesky" in e.name)
    assert volesky.count == 2 and volesky.name == "Gary Volesky"

    mosul = next(p for p in event.places if p.name == "Mosul")
    assert mosul.country_code == "IQ"
    assert _km(mosul.latitude, mosul.longitude, 36.34, 43.13) <= 50
    assert event.focus is not None and event.focus.name == "Mosul"
    assert event.focus.country_code == "IQ"
    # Every place the user's sample names, by the text it is written with.
    truth = {
        "Mosul": (36.34, 43.13, 50),
        "Qaraqosh": (36.27, 43.38, 50),
        "Arbil": (36.19, 44.01, 50),
        "Qayyarah": (35.80, 43.29, 50),
        "Hamdaniya": (36.27, 43.38, 50),
        "Nineveh": (36.23, 43.12, 161),
    }
    for written, (lat, lon, within_km) in truth.items():
        place = next((p for p in event.places if any(m.text == written for m in p.mentions)), None)
        assert place is not None, f"{written} not resolved"
        assert place.country_code == "IQ", place
        assert _km(place.latitude, place.longitude, lat, lon) <= within_km, place

    assert event.summary is not None and event.summary.text
    text = SAMPLE.read_text()
    for sentence in event.summary.sentences:
        assert text[sentence.start : sentence.end] == sentence.text


def test_killed_workers_lose_and_double_nothing(pipeline: Pipeline) -> None:
    paragraphs = SAMPLE.read_text().splitlines()
    total = 300
    rng = random.Random(7)
    for n in range(total):
        # Different texts of realistic length: a rotation of the sample's paragraphs.
        shift = n % len(paragraphs)
        pipeline.xadd_article(
            {"id": f"kill-{n:03d}", "text": "\n".join(paragraphs[shift:] + paragraphs[:shift])}
        )
    pipeline.wait_started()
    kills_in_flight = 0
    for service in ("entities", "geocoder", "aggregator", "summarizer", "ingest", "entities"):
        time.sleep(rng.uniform(0.3, 0.8))
        # A process the supervisor is restarting is missing for a moment: wait for it.
        victims = pipeline.wait_workers(service, timeout=15.0)
        rng.choice(victims).send_signal(signal.SIGKILL)
        if pipeline.enriched_count() < total:
            kills_in_flight += 1
    # Every kind of worker died while articles were still in the pipeline.
    assert kills_in_flight >= 5

    pipeline.wait_events(total, timeout=300)
    # Nothing left in flight anywhere: a duplicate, if any, has been emitted by now.
    pipeline.wait_drained(timeout=120)
    ids = [e.id for e in pipeline.events()]
    assert len(ids) == len(set(ids)), "an article was emitted twice"
    assert sorted(ids) == [f"kill-{n:03d}" for n in range(total)], pipeline.logs()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_round_trip(pipeline: Pipeline, redis_url: str) -> None:
    stream = pipeline.keys.articles
    target = (
        ["-s", redis_url.removeprefix("unix://")]
        if redis_url.startswith("unix://")
        else ["-u", redis_url]
    )
    article = json.dumps({"text": "Heavy rain flooded Lyon, France, on Tuesday.", "id": "cli-1"})
    subprocess.run(
        ["redis-cli", *target, "XADD", stream, "*", "data", article],
        check=True,
        capture_output=True,
    )
    pipeline.wait_events(1, timeout=120)
    out = subprocess.run(
        ["redis-cli", *target, "--raw", "XRANGE", pipeline.keys.enriched, "-", "+"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    payload = next(line for line in out.splitlines() if line.startswith("{"))
    event = json.loads(payload)
    assert event["id"] == "cli-1"
    assert any(p["country_code"] == "FR" for p in event["places"])


def test_up_once_on_the_embedded_server_prints_the_sample_event(tmp_path: Path) -> None:
    """What ``make run`` does: no Redis URL, so ``up`` starts its own Valkey (AOF, socket)."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_REDIS_URL"}
    state = tmp_path / "state"
    done = run_cli(up_command(state, "--push", str(SAMPLE), "--once"), env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(embedded)" in done.stdout
    assert (state / "redis" / "appendonlydir").is_dir()
    payload = done.stdout[done.stdout.index("\n{") + 1 : done.stdout.rindex("\n}") + 2]
    event = EnrichedEvent.model_validate_json(payload)
    assert not event.partial
    assert event.focus is not None and event.focus.country_code == "IQ"
    assert "people: " in done.stdout and "Gary Volesky" in done.stdout


def test_bad_and_foreign_inputs_never_stop_the_pipeline(pipeline: Pipeline) -> None:
    good = {
        "de": "Die Bundesregierung in Berlin hat am Montag neue Hilfen für Hamburg beschlossen.",
        "ar": "أعلنت الحكومة العراقية يوم الاثنين بدء عملية استعادة الموصل.",
        "zh": "北京时间周一，政府宣布了新的措施。",
        "emoji": "Fans in Madrid celebrated 🎉🎉 after the final whistle on Sunday.",
    }
    for key, text in good.items():
        pipeline.xadd_article({"id": f"lang-{key}", "text": text})
    bad = [
        b"{not json",
        b"\x00\xff\xfe",
        json.dumps({"text": "<!DOCTYPE html><html><body>page</body></html>"}).encode(),
        json.dumps({"text": "x" * 300_000}).encode(),
        json.dumps({"title": "no text"}).encode(),
        json.dumps({"text": "fine", "schema_version": 7}).encode(),
    ]
    for payload in bad:
        pipeline.redis.xadd(pipeline.keys.articles, {"data": payload})
    pipeline.wait_events(len(good), timeout=120)
    pipeline.wait_drained(timeout=60)  # every entry has had its outcome
    events = pipeline.events()
    assert sorted(e.id for e in events) == sorted(f"lang-{k}" for k in good)
    assert all(not e.partial for e in events)
    dead = sync_payloads(pipeline.redis, pipeline.keys.dead)
    assert len(dead) == len(bad)
    reasons = " ".join(json.loads(p)["reason"] for p in dead)
    for expected in (
        "invalid JSON",
        "not UTF-8",
        "looks like HTML",
        "limit is",
        "text or html",
        "unsupported schema_version",
    ):
        assert expected in reasons


def test_readme_client_example_works_as_written(pipeline: Pipeline, redis_url: str) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- client-example -->")
    block = readme[start : readme.index("<!-- /client-example -->")]
    code = block[block.index("```python") + len("```python") : block.rindex("```")]
    env = {**os.environ, "NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": pipeline.prefix}
    done = run_cli([sys.executable, "-c", code], env, timeout=180)
    assert done.returncode == 0, done.stderr + pipeline.logs()
    assert done.stdout.startswith("lyon-1 [('Lyon', 'FR'"), done.stdout


def test_replay_re_enriches_as_a_new_revision(pipeline: Pipeline, redis_url: str) -> None:
    pipeline.xadd_article(
        {"id": "replay-me", "text": "Heavy rain flooded Lyon, France, on Tuesday."}
    )
    (first,) = pipeline.wait_events(1, timeout=120)
    env = {**os.environ, "NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": pipeline.prefix}
    done = run_cli(newsflow("replay", "--wait", "--timeout", "120"), env, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed replay-me as revision 2" in done.stdout
    events = pipeline.wait_events(2, timeout=60)
    assert [(e.id, e.article.revision) for e in events] == [("replay-me", 1), ("replay-me", 2)]
    assert events[1].places and events[1].places[0].country_code == "FR"
    assert first.article.revision == 1
