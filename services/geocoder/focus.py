"""Steps 3 and 4: one :class:`~shared.schemas.Place` per distinct place, with its
confidence, and the focus: the place the article is most about."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from services.geocoder.index import GazetteerEntry
from services.geocoder.placeness import Group
from services.geocoder.scoring import softmax
from services.geocoder.spans import Span
from services.geocoder.tuning import TUNING
from shared.schemas import Mention, Place


def places_with_focus(groups: list[Group]) -> list[Place]:
    """One place per chosen entry, ordered by first mention, exactly one with ``focus``."""
    merged: dict[int, list[Group]] = defaultdict(list)
    for group in groups:
        if group.placeness >= TUNING.place_threshold:
            merged[group.entries[group.choice].geonameid].append(group)
    if not merged:
        return []
    # The places are built once the focus is known: a copy of one to set it costs as much.
    results: list[tuple[GazetteerEntry, float, list[Mention], float]] = []
    for members in merged.values():
        entry = members[0].entries[members[0].choice]
        spans = sorted((s for g in members for s in g.spans), key=lambda s: s.start)
        confidence = max(
            _softmax_top(g.scores, g.choice)
            * g.placeness
            * (TUNING.demonym_confidence_factor if g.demonym_only else 1.0)
            for g in members
        )
        demonym_only = all(g.demonym_only for g in members)
        weight = _focus_weight(entry, spans, confidence, demonym_only)
        results.append((entry, confidence, _mentions(spans), weight))
    results.sort(key=lambda result: result[2][0].start)
    focus = max(range(len(results)), key=lambda i: results[i][3])
    return [
        Place(
            name=entry.name,
            geonameid=entry.geonameid,
            latitude=entry.latitude,
            longitude=entry.longitude,
            country_code=entry.country_code,
            admin1=entry.admin1_name or entry.admin1,
            feature_class=entry.feature_class,
            feature_code=entry.feature_code,
            population=max(0, entry.population),
            confidence=round(min(1.0, max(0.0, confidence)), 3),
            mentions=mentions,
            # Set only on the focus, as the copy with it set did: the others leave it unset.
            **({"focus": True} if i == focus else {}),
        )
        for i, (entry, confidence, mentions, _) in enumerate(results)
    ]


def _softmax_top(scores: list[float], choice: int) -> float:
    return softmax(scores)[choice]


def _mentions(spans: Iterable[Span]) -> list[Mention]:
    seen: set[tuple[int, int]] = set()
    mentions = []
    for span in spans:
        if (span.start, span.end) not in seen:
            seen.add((span.start, span.end))
            mentions.append(Mention(text=span.text, start=span.start, end=span.end))
    return mentions


def _focus_weight(
    entry: GazetteerEntry, spans: list[Span], confidence: float, demonym_only: bool
) -> float:
    t = TUNING
    mentions = sum(
        1.0 + t.early_mention_bonus / (1.0 + s.article_pos / t.early_mention_chars) for s in spans
    )
    specificity = t.class_specificity.get(entry.feature_code, t.other_specificity)
    return (
        mentions
        * specificity
        * (t.focus_confidence_base + confidence)
        * (t.demonym_focus_factor if demonym_only else 1.0)
    )
