"""``newsflow bench --stories-window N``: the stories stage's cost with N stories live.

The pipeline bench measures the stage on a state as large as its run makes it (a few
hundred stories). What a stream of months leaves in the window is measured here: the
state is filled with ``N`` stories first, then real news articles (enriched by the same
entity and geocoder functions the services run) are assigned, and the CPU per article
is compared with the same articles assigned on an empty state, in the same run. A
snapshot of the full state is written and read back, as a take-over does.

The filler articles are made of the real texts' own words (each distinct word equally
likely), with names and places of their own: each starts a story of its own, as the many
small stories of a long stream do. They go through the whole state the service keeps (index,
near-copy index, cards, recent assignments), so its memory and snapshot are measured too;
``newsflow eval stories``' ``--window-stories`` instead puts lighter synthetic stories in
the index alone, for the retrieval cost on the evaluation stream.
"""

from __future__ import annotations

import random
import resource
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from newsflow.bench.texts import BenchText, make_article
from services.stories.features import content_terms
from services.stories.state import StoriesState
from services.stories.tuning import DEFAULT_TUNING
from shared.schemas import ArticleMeta, Entity, Mention, Place
from shared.settings import Settings
from shared.story_schemas import StoryInput

#: Words, people and places of one filler article (a short wire item).
FILLER_WORDS, FILLER_PEOPLE, FILLER_PLACES = 80, 3, 2
#: The day the measured articles are published; fillers spread over the window before it.
DAY = datetime(2026, 6, 1, 12, tzinfo=UTC)
#: A fixed seed: two runs fill the same state.
SEED = 20_261_201


def _entity(name: str, label: str, salience: float) -> Entity:
    return Entity(
        name=name,
        label=label,
        mentions=[Mention(text=name, start=0, end=len(name))],
        count=1,
        salience=salience,
    )


def _place(rng: random.Random, number: int, *, focus: bool) -> Place:
    name = f"Town {number}"
    return Place(
        name=name,
        geonameid=10_000_000 + number,
        latitude=rng.uniform(-60.0, 70.0),
        longitude=rng.uniform(-180.0, 180.0),
        country_code=f"{chr(65 + number % 26)}{chr(65 + number // 26 % 26)}",
        admin1=None,
        feature_class="P",
        feature_code="PPL",
        population=rng.randint(1_000, 500_000),
        confidence=0.9,
        focus=focus,
        mentions=[Mention(text=name, start=0, end=len(name))],
    )


class Fillers:
    """Filler articles made of the real texts' words, with names and places of their own."""

    def __init__(self, texts: Sequence[BenchText], settings: Settings) -> None:
        # Each distinct word once: fillers drawn by the words' counts are made of the same
        # few common words and cost three times as much to file (1.8 against 6.3 ms each),
        # which makes a window of 100,000 a quarter of an hour to fill.
        self._words = sorted(set(w for t in texts for w in content_terms(t.text)))
        self._rng = random.Random(SEED)  # noqa: S311 (filler words, not secrets)
        self._meta: ArticleMeta = make_article(texts[0], "filler", settings).meta
        self._count = 0

    def next(self, window_days: float) -> StoryInput:
        """One filler article, dated somewhere in the window before :data:`DAY`."""
        rng, n = self._rng, self._count
        self._count += 1
        words = rng.choices(self._words, k=FILLER_WORDS)
        people = [f"Person{n}x{k} Filler" for k in range(FILLER_PEOPLE)]
        published = DAY - timedelta(days=rng.uniform(0.0, window_days * 0.95))
        meta = self._meta.model_copy(
            update={
                "id": f"filler-{n:07d}",
                "title": " ".join(words[:8]),
                "published_at": published,
            }
        )
        return StoryInput(
            meta=meta,
            text=" ".join(words) + ".",
            entities=[_entity(p, "PERSON", 0.5) for p in people],
            places=[_place(rng, n * FILLER_PLACES + k, focus=k == 0) for k in range(FILLER_PLACES)],
        )


def enrich(texts: Sequence[BenchText], settings: Settings) -> list[StoryInput]:
    """The stories stage's input for each text: the entity and geocoder functions' output."""
    from newsflow.bench.bare import bench_stage_info, story_input_of
    from services.entities.extract import extract_entities, load_nlp
    from services.geocoder.article import geocode
    from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
    from shared.schemas import EntitiesResult

    nlp = load_nlp()
    gazetteer = Gazetteer.open(ensure_gazetteer(settings.gazetteer_path))
    info = bench_stage_info("entities")
    try:
        extractions = extract_entities(
            nlp, [t.text for t in texts], is_place=gazetteer.knows, batch_size=settings.batch_size
        )
        inputs: list[StoryInput] = []
        for n, (text, extraction) in enumerate(zip(texts, extractions, strict=True)):
            article = make_article(text, f"measured-{n:05d}", settings)
            meta = article.meta.model_copy(update={"published_at": DAY})
            result = EntitiesResult.of(meta, extraction.entities, extraction.candidates, info)
            inputs.append(story_input_of(meta, article.text, result, geocode(result, gazetteer)))
        return inputs
    finally:
        gazetteer.close()


def _assign_cpu_s(state: StoriesState, inputs: Sequence[StoryInput]) -> float:
    started = time.process_time()
    for item in inputs:
        state.assign(item)
    return (time.process_time() - started) / max(len(inputs), 1)


def measure_story_window(
    texts: Sequence[BenchText], window: int, articles: int, settings: Settings
) -> dict[str, Any]:
    """CPU per article of story assignment with ``window`` stories live, beside the same
    articles on an empty state; the size and the write and read times of a snapshot."""
    measured = enrich(texts[:articles], settings)
    empty_s = _assign_cpu_s(StoriesState(), measured)

    state = StoriesState()
    fillers = Fillers(texts, settings)
    rss_empty = psutil.Process().memory_info().rss
    fill_started = time.process_time()
    # Fillers that join a story (few do) leave the count short: add until it is reached,
    # within a bound so that a tuning that merges them all cannot loop for ever.
    added = 0
    while len(state.cards) < window and added < 3 * window:
        state.assign(fillers.next(DEFAULT_TUNING.window_days))
        added += 1
    fill_s = time.process_time() - fill_started
    live_before = len(state.cards)
    # The resident memory the filled state added (the models and the gazetteer were
    # loaded before): what a live story costs the stage, ids, cards and near-copy included.
    state_bytes = psutil.Process().memory_info().rss - rss_empty
    full_s = _assign_cpu_s(state, measured)

    # Wall and CPU time both: a busy machine stretches the first, not the second.
    started, started_cpu = time.perf_counter(), time.process_time()
    blob = state.snapshot()
    snapshot_s, snapshot_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    started, started_cpu = time.perf_counter(), time.process_time()
    restored = StoriesState.restore(blob)
    restore_s, restore_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    return {
        "stories_window": window,
        "stories_live": live_before,
        "filler_articles": added,
        "fill_cpu_s_per_article": fill_s / max(added, 1),
        "articles": len(measured),
        "assign_cpu_s_per_article": full_s,
        "assign_cpu_s_per_article_empty": empty_s,
        "assign_full_over_empty": full_s / empty_s if empty_s else 0.0,
        "snapshot_mb": round(len(blob) / 2**20, 2),
        "snapshot_write_s": snapshot_s,
        "snapshot_read_s": restore_s,
        "snapshot_write_cpu_s": snapshot_cpu_s,
        "snapshot_read_cpu_s": restore_cpu_s,
        "state_kb_per_story": round(state_bytes / 1024 / max(live_before, 1), 2),
        "restored_stories": len(restored.cards),
        # The largest this process grew (Linux reports KiB), the filled state included.
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def describe_story_window(report: dict[str, Any]) -> str:
    """The story-window figures in a few lines."""
    return "\n".join(
        [
            f"stories live: {report['stories_live']} ({report['filler_articles']} filler "
            f"articles, {report['fill_cpu_s_per_article'] * 1000:.2f} ms each)",
            f"assignment CPU per article ({report['articles']} news articles): "
            f"{report['assign_cpu_s_per_article'] * 1000:.2f} ms with the window full, "
            f"{report['assign_cpu_s_per_article_empty'] * 1000:.2f} ms on an empty state "
            f"({report['assign_full_over_empty']:.2f}x)",
            f"snapshot: {report['snapshot_mb']} MB, written in {report['snapshot_write_s']:.2f}s"
            f" ({report['snapshot_write_cpu_s']:.2f}s CPU), read in "
            f"{report['snapshot_read_s']:.2f}s ({report['snapshot_read_cpu_s']:.2f}s CPU)",
            f"memory: {report['state_kb_per_story']} kB per live story (resident, the filled "
            f"state's); max RSS {report['max_rss_mb']} MB",
        ]
    )
