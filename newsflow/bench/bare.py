"""The bare cost: the functions the services call, without Redis, alone and side by side.

Alone (:func:`measure_bare`), one process runs every stage's functions on every text: the
cost of the language work and nothing else. Side by side (:func:`measure_bare_parallel`),
as many such processes as ``newsflow up`` starts entities workers each run their share of
the texts at the same time: what the language work costs when processes share the
machine's cores and memory bandwidth, as the pipeline's do (two NER processes side by
side each take more CPU per article than one alone). Neither is an assumption: both are
measured on the run's own texts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import TYPE_CHECKING, Any

from newsflow.bench.texts import BenchText, make_article
from shared import __version__
from shared.pipeline import PIPELINE
from shared.schemas import (
    ArticleMeta,
    EnrichedEvent,
    EntitiesResult,
    PlacesResult,
    StageInfo,
    SummaryResult,
    utc_now,
)
from shared.settings import Settings
from shared.story_schemas import StoryInput, StoryResult
from shared.wire import encode, pack

if TYPE_CHECKING:  # the geocoder loads with the stages, inside the functions that run them
    from services.geocoder.article import Geocoded

#: The stages whose bare cost is measured, in pipeline order.
STAGES = tuple(stage.name for stage in PIPELINE.merged)
#: The streams an article's messages pass through before the merge.
WIRE_STREAMS = tuple(stream.name for stream in PIPELINE.streams() if not stream.public)
#: Start-up (models load in every process at once) and per-phase waiting limits.
STARTUP_TIMEOUT_S = 180.0
MIN_PHASE_TIMEOUT_S = 120.0
#: Texts each process runs first, unmeasured, as the pipeline's warm-up articles.
WARM_UP_TEXTS = 8

#: Per-article figures of a bare run: ``cpu_s`` and ``wall_s`` by stage, ``wire_bytes``
#: by message (alone only).
BareFigures = dict[str, dict[str, float]]


class _BareStages:
    """The stages' functions, loaded, and the seconds (and message bytes) they took."""

    def __init__(self, settings: Settings, *, wire: bool) -> None:
        from services.entities.extract import load_nlp
        from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
        from services.stories.state import StoriesState

        self.settings = settings
        self.nlp = load_nlp()
        # The stories stage's state grows with the run's articles, as the owner's does.
        self.stories = StoriesState()
        self._articles = 0
        self.gazetteer = Gazetteer.open(ensure_gazetteer(settings.gazetteer_path))
        self.wire: dict[str, float] | None = (
            dict.fromkeys(("text", *WIRE_STREAMS), 0.0) if wire else None
        )
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.count = 0

    def _article_id(self) -> str:
        # A new id for every article: the stories stage gives a known id the story it had.
        self._articles += 1
        return f"bench-{self._articles:06d}"

    def run(self, batch: Sequence[BenchText], *, measured: bool) -> None:
        """One batch through every stage; its seconds count if ``measured``."""
        from services.entities.extract import extract_entities
        from services.geocoder.article import geocode
        from services.summarizer.rank import summarize

        clocks = (time.process_time(), time.perf_counter())
        extractions = extract_entities(
            self.nlp,
            [t.text for t in batch],
            is_place=self.gazetteer.knows,
            batch_size=self.settings.batch_size,
        )
        clocks = self._add("entities", clocks, measured)
        # The geocoder reads the entity stage's message: built (and timed) as messaging.
        articles = [make_article(item, self._article_id(), self.settings) for item in batch]
        results = [
            EntitiesResult.of(
                a.meta, e.entities, e.candidates, bench_stage_info("entities"), a.text
            )
            for a, e in zip(articles, extractions, strict=True)
        ]
        clocks = (time.process_time(), time.perf_counter())
        geocoded = [geocode(result, self.gazetteer) for result in results]
        clocks = self._add("geocoder", clocks, measured)
        summaries = [
            summarize(t.text, title=t.title, max_sentences=self.settings.summary_sentences)
            for t in batch
        ]
        clocks = self._add("summarizer", clocks, measured)
        inputs = [
            story_input_of(article.meta, article.text, result, found)
            for article, result, found in zip(articles, results, geocoded, strict=True)
        ]
        clocks = (time.process_time(), time.perf_counter())
        stories = [self.stories.assign(story_input) for story_input in inputs]
        self._add("stories", clocks, measured)
        if not measured:
            return
        self.count += len(batch)
        if self.wire is None:
            return
        for item, article, result, found, summary, story, story_input in zip(
            batch, articles, results, geocoded, summaries, stories, inputs, strict=True
        ):
            messages = {
                "accepted": article,
                "entities": result,
                "places": PlacesResult(
                    meta=article.meta,
                    places=found.places,
                    entities=found.entities,
                    info=bench_stage_info("geocoder"),
                ),
                "summaries": SummaryResult(
                    meta=article.meta,
                    summary=summary,
                    info=bench_stage_info("summarizer"),
                ),
                "drafts": EnrichedEvent(
                    id=article.meta.id,
                    article=article.meta,
                    entities=story_input.entities,
                    places=found.places,
                    summary=summary,
                    text=article.text,
                    stages={},
                    partial=True,
                    missing_stages=["stories"],
                    enriched_at=utc_now(),
                ),
                "assigned": StoryResult(
                    meta=article.meta, story=story.ref, info=bench_stage_info("stories")
                ),
            }
            self.wire["text"] += len(item.text.encode("utf-8"))
            for stream, message in messages.items():
                sent = pack(message) if stream == "accepted" else encode(message)
                self.wire[stream] += len(sent)

    def run_all(self, texts: Sequence[BenchText]) -> None:
        """Every text, in batches of ``settings.batch_size`` as the entities worker reads."""
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            self.run(texts[start : start + size], measured=True)

    def _add(self, stage: str, since: tuple[float, float], measured: bool) -> tuple[float, float]:
        now = (time.process_time(), time.perf_counter())
        if measured:
            self.cpu[stage] += now[0] - since[0]
            self.wall[stage] += now[1] - since[1]
        return now

    def close(self) -> None:
        self.gazetteer.close()


def story_input_of(
    meta: ArticleMeta, text: str, result: EntitiesResult, found: Geocoded
) -> StoryInput:
    """The stories stage's input for an article, as the merge drafts it: the geocoder's
    entities where it revised the entity stage's, else the entity stage's own."""
    entities = found.entities if found.entities is not None else result.entities
    return StoryInput(meta=meta, text=text, entities=entities, places=found.places)


def bench_stage_info(stage: str) -> StageInfo:
    """A stage's info on a message the bench builds (no service made it)."""
    return StageInfo(stage=stage, status="ok", duration_s=0.0, service_version=__version__)


def _per_article(cpu: dict[str, float], wall: dict[str, float], count: int) -> BareFigures:
    # A stage declared in the pipeline but not run would make the ideal a lie.
    unmeasured = [stage for stage in STAGES if count and not cpu[stage]]
    if unmeasured:
        raise RuntimeError(f"the bare run does not measure {', '.join(unmeasured)}")
    count = max(1, count)
    return {
        "cpu_s": {stage: cpu[stage] / count for stage in STAGES},
        "wall_s": {stage: wall[stage] / count for stage in STAGES},
    }


def measure_bare(texts: Sequence[BenchText], settings: Settings) -> BareFigures:
    """CPU and wall seconds per article of each stage's functions, in this process, and the
    mean size of each stage's message on the wire (as the stages send them: the accepted
    article compressed, the stage results plain).

    The entity stage runs as its worker runs it: batches of ``settings.batch_size`` through
    one ``nlp.pipe``, with the gazetteer predicate. A few texts go through first, unmeasured,
    as the pipeline's warm-up articles do. Messages are encoded outside the timed spans.
    """
    stages = _BareStages(settings, wire=True)
    try:
        stages.run(texts[:WARM_UP_TEXTS], measured=False)
        stages.run_all(texts)
    finally:
        stages.close()
    figures = _per_article(stages.cpu, stages.wall, stages.count)
    assert stages.wire is not None
    figures["wire_bytes"] = {k: v / max(1, stages.count) for k, v in stages.wire.items()}
    return figures


@dataclass(frozen=True)
class Share:
    """What one side-by-side process is given, and how it reports back."""

    index: int
    texts: list[BenchText]
    settings: Settings
    #: Every process waits here, loaded and warmed up, before its measured run.
    barrier: Barrier
    #: Takes one ``(index, error, figures)`` per process.
    results: Any

    def report(
        self, cpu: dict[str, float], wall: dict[str, float], started: float, count: int
    ) -> None:
        """The seconds by stage of ``count`` texts, measured from ``started`` until now."""
        figures = {
            "cpu_s": cpu,
            "wall_s": wall,
            "span": {"started": started, "finished": time.monotonic()},
            "count": {"texts": float(count)},
        }
        self.results.put((self.index, None, figures))

    def fail(self, error: str) -> None:
        """Say why this process measures nothing; no other process waits for it."""
        self.barrier.abort()
        self.results.put((self.index, error, None))


#: Runs one side-by-side process (:func:`measure_share`, or a stand-in in tests).
ShareRunner = Callable[[Share], None]


def measure_share(share: Share) -> None:
    """One side-by-side process: load, warm up, wait for the others, run its share."""
    try:
        stages = _BareStages(share.settings, wire=False)
        stages.run(share.texts[:WARM_UP_TEXTS], measured=False)
        share.barrier.wait()
        started = time.monotonic()
        stages.run_all(share.texts)
        stages.close()
        share.report(stages.cpu, stages.wall, started, stages.count)
    except BaseException:
        share.fail(traceback.format_exc(limit=5))


def measure_bare_parallel(
    texts: Sequence[BenchText],
    settings: Settings,
    processes: int,
    *,
    runner: ShareRunner = measure_share,
) -> BareFigures:
    """CPU and wall seconds per article of each stage's functions with ``processes`` bare
    processes side by side, each on its share of ``texts`` (every ``processes``-th), their
    measured runs started together; plus ``seconds``, from the first start to the last
    finish. The CPU is summed over the processes and divided by all the texts.
    """
    if processes < 1:
        raise ValueError("run at least one process")
    # spawn: a fresh interpreter per process, as each service is (no model shared by fork).
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes, timeout=STARTUP_TIMEOUT_S)
    results: Any = context.Queue()
    shares = [list(texts[n::processes]) for n in range(processes)]
    children = [
        context.Process(
            target=runner, args=(Share(n, shares[n], settings, barrier, results),), daemon=True
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    reports: dict[int, dict[str, dict[str, float]]] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT_S + max(MIN_PHASE_TIMEOUT_S, len(texts))
    try:
        while len(reports) < processes:
            try:
                index, error, figures = results.get(timeout=1.0)
            except queue.Empty:
                gone = [n for n, c in enumerate(children) if not c.is_alive() and n not in reports]
                if gone or time.monotonic() > deadline:
                    raise RuntimeError(f"bare processes {gone or 'all'} did not report") from None
                continue
            if error is not None:
                raise RuntimeError(f"bare process {index} failed:\n{error}")
            reports[index] = figures
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
        with contextlib.suppress(OSError, ValueError):
            results.close()
    cpu = {s: sum(r["cpu_s"][s] for r in reports.values()) for s in STAGES}
    wall = {s: sum(r["wall_s"][s] for r in reports.values()) for s in STAGES}
    count = int(sum(r["count"]["texts"] for r in reports.values()))
    figures = _per_article(cpu, wall, count)
    started = min(r["span"]["started"] for r in reports.values())
    finished = max(r["span"]["finished"] for r in reports.values())
    figures["run"] = {"seconds": finished - started, "texts": float(count)}
    return figures
