"""Geoparsing quality on annotated news: recognition and resolution, as published.

Reads the JSONL format of the LGL and TR-News sets (one article a line, gold toponyms
with character offsets and coordinates), runs the entity stage's own
:func:`~services.entities.extract.extract_entities` for the candidate spans (with the
gazetteer as its ``is_place``, as the entities service does) and :func:`resolve_places`
for the places, so that it measures the code the services run, and reports:

- recognition precision, recall and F1 over every gold toponym: a predicted place
  mention matches a gold toponym when their character spans overlap (each gold toponym
  and each prediction used once);
- ``accuracy_161km``: of the recognised gold toponyms that have a point, the share
  resolved within 161 km (100 miles) of it; ``mean_error_km`` and ``median_error_km`` on
  the same;
- ``end_to_end_accuracy_161km``: the share of the gold toponyms with a point that are
  recognised and resolved within 161 km;
- ``articles_per_s``: articles through the resolution step alone (entity extraction
  excluded); ``recognition_articles_per_s``: through entity extraction alone.

Run: ``python -m services.geocoder.evaluate PATH [LIMIT]`` (or ``newsflow eval geo``).
Measured with it (entity stage on en_core_web_sm 3.8.0, packaged gazetteer, 2 cores):
LGL: recognition P 0.881 R 0.831 F1 0.855, accuracy@161km 0.897, end to end 0.820;
TR-News: recognition P 0.910 R 0.930 F1 0.920, accuracy@161km 0.922, end to end 0.881
(issue 16; before it LGL P 0.901 R 0.759 end to end 0.740, TR-News P 0.920 R 0.875 end to
end 0.832). Resolution costs about a third more CPU than before issue 16 (700-730 articles
per CPU second against 900-1,000, candidates extracted once); 500-570 articles/s through
resolution on a quiet machine before it. After the speed-ups of 2026-12-02 (same output)
and with the heap frozen as the service runs: LGL 333-406,
TR-News 328-414 articles/s (three runs each, 00:22-00:24 UTC, nothing else running).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from services.entities.extract import extract_entities, load_nlp
from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from services.geocoder.geometry import haversine_km
from services.geocoder.resolve import resolve_places
from shared.jsonl import read_jsonl
from shared.schemas import Place

_ACCURATE_KM = 161.0


def _match(
    gold: list[dict[str, Any]], places: list[Place]
) -> tuple[list[tuple[dict[str, Any], Place]], int]:
    """Pairs of (gold toponym, predicted place) whose spans overlap, and the prediction count."""
    predicted = sorted(
        ((m.start, m.end, place) for place in places for m in place.mentions),
        key=lambda item: item[0],
    )
    used: set[int] = set()
    pairs = []
    for toponym in sorted(gold, key=lambda t: int(t["start"])):
        for index, (start, end, place) in enumerate(predicted):
            if index in used:
                continue
            if start < int(toponym["end"]) and int(toponym["start"]) < end:
                used.add(index)
                pairs.append((toponym, place))
                break
    return pairs, len(predicted)


def evaluate_geo(
    path: str, *, limit: int | None = None, gazetteer_path: Path | str | None = None
) -> dict[str, object]:
    """Score recognition and resolution on a JSONL geoparsing set (see module docstring).

    ``gazetteer_path`` is the index to use (built there if missing); by default, the
    per-user one.
    """
    nlp = load_nlp()
    gazetteer = Gazetteer.open(ensure_gazetteer(gazetteer_path))
    articles = list(read_jsonl(path, limit))

    started = time.perf_counter()
    extractions = extract_entities(nlp, [a["text"] for a in articles], is_place=gazetteer.knows)
    recognise_s = time.perf_counter() - started
    all_candidates = [extraction.candidates for extraction in extractions]

    # The geocoder service holds no NER model and freezes what it loaded at start-up
    # (shared.service.freeze_heap); here the model and the extractions are on the heap,
    # and a full collection walking them during the timed resolution would be counted
    # against the geocoder (its own objects are collected as usual).
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        results = [resolve_places(c, gazetteer) for c in all_candidates]
        resolve_s = time.perf_counter() - started
    finally:
        gc.unfreeze()

    gold_total = located_total = predicted_total = matched = within = 0
    errors: list[float] = []
    for article, places in zip(articles, results, strict=True):
        gold = article["toponyms"]
        pairs, predicted = _match(gold, places)
        gold_total += len(gold)
        located_total += sum(t.get("lat") is not None for t in gold)
        predicted_total += predicted
        matched += len(pairs)
        for toponym, place in pairs:
            if toponym.get("lat") is None:
                continue  # recognised, but the annotators gave it no point
            km = haversine_km(
                float(toponym["lat"]), float(toponym["lon"]), place.latitude, place.longitude
            )
            errors.append(km)
            within += km <= _ACCURATE_KM
    precision = matched / predicted_total if predicted_total else 0.0
    recall = matched / gold_total if gold_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "path": path,
        "articles": len(articles),
        "gold_toponyms": gold_total,
        "gold_toponyms_with_point": located_total,
        "predicted_mentions": predicted_total,
        "recognition_precision": round(precision, 4),
        "recognition_recall": round(recall, 4),
        "recognition_f1": round(f1, 4),
        "accuracy_161km": round(within / len(errors), 4) if errors else 0.0,
        "end_to_end_accuracy_161km": round(within / located_total, 4) if located_total else 0.0,
        "mean_error_km": round(statistics.fmean(errors), 1) if errors else 0.0,
        "median_error_km": round(statistics.median(errors), 1) if errors else 0.0,
        "recognition_seconds": round(recognise_s, 3),
        "recognition_articles_per_s": round(len(articles) / recognise_s, 1) if recognise_s else 0.0,
        "resolve_seconds": round(resolve_s, 3),
        "articles_per_s": round(len(articles) / resolve_s, 1) if resolve_s else 0.0,
        "gazetteer": gazetteer.version,
    }


if __name__ == "__main__":
    _limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(evaluate_geo(sys.argv[1], limit=_limit), indent=2))
