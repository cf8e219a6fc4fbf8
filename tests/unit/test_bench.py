"""The benchmark's pure parts: percentiles, ideal throughput, efficiency, texts."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest
import redis.asyncio

from newsflow.bench import (
    BenchText,
    describe_report,
    efficiency,
    ideal_rate,
    interleave,
    latency_summary,
    load_texts,
    make_articles,
    measure_bare_parallel,
    percentile,
    texts_of_file,
)
from newsflow.bench import texts as bench_texts
from newsflow.bench.bare import STAGES, Share
from newsflow.bench.watch import BenchError, EnrichedEvents, InFlightMemory
from shared.settings import load_settings
from shared.streams import Keys


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of the input does not matter
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_nothing_is_nan_and_out_of_range_is_an_error() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    stats = latency_summary([0.1, 0.2, 0.3, 0.4])
    assert stats["p50"] == pytest.approx(0.25)
    assert stats["mean"] == pytest.approx(0.25)
    assert stats["max"] == 0.4
    assert stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]


def test_ideal_rate_is_cores_over_the_summed_cpu_cost() -> None:
    cost = {"entities": 0.035, "geocoder": 0.003, "summarizer": 0.002}
    assert ideal_rate(cost, 1) == pytest.approx(25.0)
    assert ideal_rate(cost, 2) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        ideal_rate(cost, 0)
    with pytest.raises(ValueError):
        ideal_rate({"entities": 0.0}, 2)


def test_efficiency_is_throughput_over_ideal() -> None:
    assert efficiency(45.0, 50.0) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        efficiency(1.0, 0.0)


def test_interleave_mixes_sources_round_robin() -> None:
    a = [BenchText("a1"), BenchText("a2"), BenchText("a3")]
    b = [BenchText("b1")]
    assert [t.text for t in interleave([a, b])] == ["a1", "b1", "a2", "a3"]
    assert interleave([]) == []


def test_texts_of_jsonl_json_conll_and_plain_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text(
        "\n".join(
            [
                json.dumps({"id": "1", "text": "Rain fell on Lyon.", "title": "Rain"}),
                "",
                "not json",
                json.dumps({"text": "<html><body>a page</body></html>"}),  # ingest rejects it
                json.dumps({"text": "   "}),
                json.dumps({"summary": "no text field"}),
            ]
        )
    )
    assert texts_of_file(jsonl) == [BenchText("Rain fell on Lyon.", "Rain")]

    many = tmp_path / "list.json"
    many.write_text(json.dumps([{"text": "One."}, {"text": "Two.", "title": ""}]))
    assert texts_of_file(many) == [BenchText("One."), BenchText("Two.")]

    conll = tmp_path / "dev.txt"
    conll.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n. . O O\n\n"
        "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
    )
    assert [t.text for t in texts_of_file(conll)] == ["EU rejects.", "Peter Blackburn"]

    plain = tmp_path / "story.txt"
    plain.write_text("Heavy rain flooded Lyon, France, on Tuesday.")
    assert texts_of_file(plain) == [BenchText("Heavy rain flooded Lyon, France, on Tuesday.")]


def test_load_texts_reads_a_given_folder_and_mixes_its_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        "\n".join(json.dumps({"text": f"A story {n}."}) for n in range(3))
    )
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "B story."}))
    (tmp_path / "notes.md").write_text("ignored")
    texts, source = load_texts(tmp_path)
    assert source == tmp_path
    assert [t.text for t in texts] == ["A story 0.", "B story.", "A story 1.", "A story 2."]


def test_load_texts_falls_back_to_the_repository_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_texts, "EVAL_DIR", tmp_path / "missing")
    texts, source = load_texts(None)
    assert source == bench_texts.SAMPLES_DIR
    assert texts
    assert "Mosul" in texts[0].text


def test_load_texts_without_any_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_texts(tmp_path)


def test_make_articles_cycles_texts_with_ids_of_the_run() -> None:
    texts = [BenchText("First story about Paris.", "Paris"), BenchText("Second story.")]
    articles = make_articles(texts, 5, "run1", load_settings())
    assert [a.meta.id for a in articles] == [f"run1-{n:06d}" for n in range(5)]
    assert [a.text for a in articles] == [texts[n % 2].text for n in range(5)]
    assert articles[0].meta.title == "Paris"
    assert articles[0].meta.text_chars == len(texts[0].text)


def test_describe_report_names_the_headline_figures() -> None:
    report = {
        "articles": 10,
        "texts": "data/samples",
        "cores": 2,
        "processes": {"entities": 2},
        "load_average_1m": [0.5, 0.7],
        "bare_cpu_s_per_article": {"entities": 0.035, "total": 0.038},
        "bare_articles_per_s": 26.3,
        "ideal_articles_per_s": 52.6,
        "throughput_articles_per_s": 47.0,
        "efficiency": 0.89,
        "efficiency_on_cores_obtained": 0.9,
        "cpu_efficiency": 0.91,
        "pipeline_cores_busy": 1.9,
        "machine_idle_cores": 0.05,
        "pipeline_cpu_s_per_article": {"entities": 0.036, "redis": 0.0006},
        "latency_offered_articles_per_s": 23.5,
        "latency_p50_s": 0.1,
        "latency_p95_s": 0.3,
        "latency_p99_s": 0.5,
        "latency_phase_machine_idle_cores": 0.4,
        "rss_mb": {"entities": 240.0},
        "redis_bytes_per_inflight_article": 2600.0,
        "redis_memory_ratio_to_text": 1.25,
        "redis_story_state_peak_mb": 1.5,
        "redis_story_log_entries_at_peak": 700,
        "redis_bytes_per_inflight_article_by_key": {"drafts": 900, "other": 400},
        "wire_bytes_per_article": {"text": 2100, "entities": 11000},
        "bare_parallel_processes": 2,
        "bare_parallel_cpu_s_per_article": {"entities": 0.04, "total": 0.0425},
        "bare_parallel_cpu_over_alone": 1.118,
        "ideal_parallel_articles_per_s": 47.1,
        "efficiency_vs_parallel_bare": 0.998,
        "cpu_efficiency_vs_parallel_bare": 0.99,
    }
    text = describe_report(report)
    assert "bare side by side (2 processes): 42.5 ms per article (1.118x alone)" in text
    assert "ideal 47.1/s; pipeline efficiency 1.00 against it" in text
    assert "47.00 articles/s, efficiency 0.89" in text
    assert "p99 0.500s" in text
    assert "entities 240.0" in text
    assert "1.25x the mean text" in text
    assert "story state at most 1.5 MB (700 inputs logged since the snapshot)" in text
    assert "of which (bytes per in-flight article): drafts 900, other 400" in text


def test_inflight_memory_ignores_the_tail_of_the_burst() -> None:
    probe = InFlightMemory(client=None, keys=Keys("p"), events=None, ids=[])  # type: ignore[arg-type]
    # (dataset bytes, used bytes, articles in flight): 3 kB then 3.5 kB per article while
    # most of the burst is in flight; at the end markers make the few left look costly.
    probe.samples = [(300_000, 320_000, 100), (175_000, 180_000, 50), (60_000, 61_000, 4)]
    assert probe.peak() == 100
    assert probe.bytes_per_article() == 3500.0
    assert probe.bytes_per_article(overheads=True) == 3600.0


def test_inflight_memory_breaks_the_peak_down_by_stream() -> None:
    probe = InFlightMemory(client=None, keys=Keys("p"), events=None, ids=[])  # type: ignore[arg-type]
    probe.samples = [(300_000, 320_000, 100), (175_000, 180_000, 50), (60_000, 61_000, 4)]
    probe.by_stream = [
        {"accepted": 200_000, "drafts": 50_000},
        {"accepted": 50_000, "drafts": 100_000},  # the sample the figure comes from
        {"accepted": 0, "drafts": 0},
    ]
    assert probe.breakdown() == {"accepted": 1000, "drafts": 2000, "other": 500}
    # Samples taken without the streams' sizes: no breakdown rather than a wrong one.
    probe.by_stream = []
    assert probe.breakdown() == {}


def _fake_share(share: Share) -> None:
    """A side-by-side process without the models: process ``index`` takes ``index + 1`` ms
    of CPU per text in each stage and 2 ms of wall, over half a second after the barrier."""
    share.barrier.wait()
    started = time.monotonic() - 0.5
    count = len(share.texts)
    cpu = {stage: 0.001 * (share.index + 1) * count for stage in STAGES}
    wall = {stage: 0.002 * count for stage in STAGES}
    share.report(cpu, wall, started, count)


def _failing_share(share: Share) -> None:
    """Process 1 fails before the barrier (a model that does not load), and says so."""
    if share.index == 1:
        share.fail("OSError: no model")
        return
    _fake_share(share)


def test_side_by_side_processes_share_the_texts_and_their_cpu_is_summed() -> None:
    texts = [BenchText(f"Story {n}.") for n in range(5)]
    figures = measure_bare_parallel(texts, load_settings(), 2, runner=_fake_share)
    # Shares of 3 and 2 texts (every second one): (1 ms x 3 + 2 ms x 2) / 5 texts.
    assert figures["cpu_s"] == {stage: pytest.approx(0.0014) for stage in STAGES}
    assert figures["wall_s"] == {stage: pytest.approx(0.002) for stage in STAGES}
    assert figures["run"]["texts"] == 5
    # From the earliest start to the latest finish: each says it ran 0.5 s from the same
    # barrier, so the run took 0.5 s and a little, not the sum of the two.
    assert 0.5 <= figures["run"]["seconds"] < 0.9


def test_a_side_by_side_process_that_fails_stops_the_measurement() -> None:
    texts = [BenchText(f"Story {n}.") for n in range(4)]
    with pytest.raises(RuntimeError, match="no model"):
        measure_bare_parallel(texts, load_settings(), 2, runner=_failing_share)


def test_the_story_window_bench_fills_the_window_and_reads_its_snapshot_back() -> None:
    from newsflow.bench.stories import describe_story_window, measure_story_window

    texts, _ = bench_texts.load_texts(bench_texts.SAMPLES_DIR)
    report = measure_story_window(texts, window=40, articles=2, settings=load_settings())
    # Every filler starts a story of its own (names and places of its own), so the window
    # is filled by exactly as many.
    assert report["stories_live"] == report["filler_articles"] == 40
    # The snapshot holds every story, the measured articles' own included.
    assert report["restored_stories"] > 40
    assert report["articles"] == 1  # the repository has one sample text
    assert report["assign_cpu_s_per_article"] > 0
    assert report["assign_cpu_s_per_article_empty"] > 0
    assert report["snapshot_mb"] >= 0 and report["snapshot_read_s"] > 0
    assert report["snapshot_read_cpu_s"] > 0 and report["snapshot_write_cpu_s"] > 0
    assert "state_kb_per_story" in report  # RSS moves by pages: 40 stories may show none
    described = describe_story_window(report)
    assert "stories live: 40 (40 filler articles" in described and "per live story" in described


class _BrokenStream:
    """A client whose stream reads fail: once as a busy server's timeout, then for good."""

    def __init__(self) -> None:
        self.reads = 0

    async def xread(self, *_: object, **__: object) -> object:
        self.reads += 1
        if self.reads == 1:
            raise redis.asyncio.TimeoutError("busy")
        raise ValueError("not a stream reply")


def test_waiting_fails_at_once_when_following_the_events_stopped() -> None:
    async def run() -> tuple[EnrichedEvents, float]:
        events = EnrichedEvents(_BrokenStream(), Keys("p"), "run")  # type: ignore[arg-type]
        follower = asyncio.create_task(events.follow())
        started = time.monotonic()
        with pytest.raises(BenchError, match="stopped reading the enriched events"):
            await events.wait_for(["run-1"], timeout=60, pipeline=None)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await follower
        return events, time.monotonic() - started

    events, waited = asyncio.run(run())
    # The timeout was read again, the lasting error was not: no minute-long wait for it.
    assert events.client.reads == 2  # type: ignore[attr-defined]
    assert waited < 10


class _CancelIntoConnectionError:
    """A client whose blocking read turns its task's cancellation into a connection
    error, as redis-py can: a follower that reads again on it would never stop."""

    def __init__(self) -> None:
        self.reads = 0
        self.cancelled = False

    async def xread(self, *_args: object, **_kwargs: object) -> list[object]:
        if self.cancelled:  # a follower that went on reading: end it, and the test fails
            raise RuntimeError("read again after its task was cancelled")
        self.reads += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.cancelled = True
            raise redis.asyncio.ConnectionError("Connection closed by server.") from None
        return []


def test_the_event_follower_stops_when_cancelled_even_if_the_read_hides_it() -> None:
    async def run() -> EnrichedEvents:
        events = EnrichedEvents(_CancelIntoConnectionError(), Keys("p"), "run")  # type: ignore[arg-type]
        follower = asyncio.create_task(events.follow())
        await asyncio.sleep(0.2)
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(follower, timeout=5)
        return events

    events = asyncio.run(run())
    assert events.client.reads >= 2  # type: ignore[attr-defined]
    assert events.error is None  # cancelling is how it ends, not an error
