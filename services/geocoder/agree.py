"""One truth per mention: the article's entities made to agree with the resolved places.

The entity stage labels names from a few words of context; the geocoder has the
gazetteer and the whole article. :func:`agree_entities` takes the entity list and the
resolver's verdict on each span it looked at (:class:`~services.geocoder.resolve.
MentionVerdict`) and returns the list with:

- a mention resolved as a place labelled as one: GPE for a populated place or an
  administrative region (feature classes P and A), FAC for a building, airport or other
  spot (S), LOC for every other feature (rivers, mountains, continents, regions);
- an entity the geocoder judged a person ("Georgia Stevens ... Georgia said") or a club
  ("Dortmund beat Bayern") no longer GPE, LOC or FAC, but PERSON or ORG;
- an entity whose mentions the geocoder split (a place here, a person there) split in
  two, each mention under the label that fits it;
- a place mention no entity has (a dateline, "in Qayyarah", "Barrie, Ont.") a new
  entity with its mentions, its salience computed as the entity stage computes it.

A mention counts as the entity's when the span the geocoder read is the mention less
"the" and "'s" ("the Nineveh plain" is not "Nineveh"): a place named inside a longer
name ("University of Georgia") leaves the longer name's entity alone, and adds none
(entities do not nest). A demonym resolved as its country ("Iraqi") stays NORP: the
name is a nationality, and the place list already says which country it is. A verdict
of doubt (too little evidence either way) changes nothing.

The function is pure: the same inputs give the same list, and ``None`` when nothing
changed, which lets the aggregator keep the entity stage's list as it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from services.entities.tuning import TUNING as ENTITY_TUNING
from services.geocoder.resolve import MentionVerdict
from shared.schemas import Entity, Mention

#: The labels that say "a place".
PLACE_LABELS: Final = frozenset({"GPE", "LOC", "FAC"})
# What the entity stage's span may hold around the name the geocoder read.
_LEAD: Final = re.compile(r"^(?:the|The|THE)\s+$|^\s*$")
_TAIL: Final = re.compile(r"^(?:['’]s?)?[\s.,;:]*$")


def place_label(feature_class: str | None) -> str:
    """The OntoNotes label of a place of this GeoNames feature class."""
    if feature_class in ("P", "A"):
        return "GPE"
    if feature_class == "S":
        return "FAC"
    return "LOC"


@dataclass(frozen=True, slots=True)
class ArticleShape:
    """What salience needs to know of the article: its length, and where its title ends
    (0 when the text has no title line; see :func:`title_end`)."""

    length: int
    title_end: int


def title_end(sentences: Sequence[tuple[int, str]]) -> int:
    """Where the title ends, from the article's sentences ``(start, text)`` as the
    entity stage sent them (only those holding a candidate).

    The entity stage takes the first line as the title when it is shorter than
    ``title_max_chars``. Sentences never cross a line break, so the first sentence,
    when it starts the text and is that short, is taken as the title line; a title of
    several sentences on one line is then cut to its first, and a first sentence that
    shares its line with more text is taken for a title. Both are rare in news, and cost
    a mention 0.2 of salience at most.
    """
    for start, text in sentences:
        if start == 0 and len(text) < ENTITY_TUNING.title_max_chars:
            return len(text)
        break
    return 0


def salience(count: int, max_count: int, first: int, in_title: bool, shape: ArticleShape) -> float:
    """An entity's salience as the entity stage computes it (services/entities/aliases.py):
    its share of the most mentions, how early it comes, whether the title names it."""
    t = ENTITY_TUNING
    value = (
        t.salience_count * count / max(max_count, 1)
        + t.salience_position * (1.0 - first / max(shape.length, 1))
        + t.salience_title * in_title
    )
    return round(min(1.0, max(0.0, value)), 4)


def _same_name(mention: Mention, verdict: MentionVerdict) -> bool:
    """Whether the geocoder read ``mention`` itself (less "the" and "'s")."""
    if not mention.start <= verdict.start or not verdict.end <= mention.end:
        return False
    lead = mention.text[: verdict.start - mention.start]
    tail = mention.text[verdict.end - mention.start :]
    return bool(_LEAD.match(lead) and _TAIL.match(tail))


@dataclass
class _Draft:
    name: str
    label: str
    mentions: list[Mention]
    salience: float | None  # None: to compute


def agree_entities(
    entities: Sequence[Entity], verdicts: Sequence[MentionVerdict], shape: ArticleShape
) -> list[Entity] | None:
    """``entities`` with labels that agree with ``verdicts``, or None if none changes.

    See the module docstring for the rules. Entities keep the entity stage's order (by
    salience); new and split-off ones are placed by their own salience.
    """
    decisive = [v for v in verdicts if v.reason != "doubt" and not v.demonym]
    if not decisive:
        return None
    by_start: dict[int, list[MentionVerdict]] = defaultdict(list)
    for verdict in decisive:
        by_start[verdict.start].append(verdict)
    claimed: set[tuple[int, int]] = set()
    drafts: list[_Draft] = []
    # The entity each resolved place's mentions already belong to, as its draft.
    by_place: dict[int, _Draft] = {}
    changed = False
    for entity in entities:
        kept: list[Mention] = []
        moved: dict[str, list[Mention]] = defaultdict(list)
        place_ids: list[int] = []
        for mention in entity.mentions:
            found = _verdict_of(mention, by_start)
            if found is not None:
                claimed.add((found.start, found.end))
            label = _label_for(entity.label, found)
            if label == entity.label:
                kept.append(mention)
            else:
                moved[label].append(mention)
            if found is not None and found.place and found.geonameid is not None:
                place_ids.append(found.geonameid)
        if not moved:
            draft = _Draft(entity.name, entity.label, kept, entity.salience)
        elif not kept and len(moved) == 1:
            # Every mention moves: the same entity under the right label.
            label, mentions = next(iter(moved.items()))
            draft = _Draft(entity.name, label, mentions, entity.salience)
            changed = True
        else:
            # A place here, a person there: one entity per reading.
            changed = True
            draft = _Draft(entity.name, entity.label, kept, None)
            for label, mentions in moved.items():
                drafts.append(_Draft(_name(mentions), label, mentions, None))
            if not kept:
                draft = drafts.pop()
        drafts.append(draft)
        if draft.label in PLACE_LABELS:
            for geonameid in place_ids:
                by_place.setdefault(geonameid, draft)
    # Place mentions no entity had: a new entity per place, or more mentions of the
    # entity that already names it.
    new: dict[int, _Draft] = {}
    inside = [(m.start, m.end) for e in entities for m in e.mentions]
    for verdict in decisive:
        if not verdict.place or (verdict.start, verdict.end) in claimed:
            continue
        if verdict.geonameid is None or _overlaps(inside, verdict.start, verdict.end):
            continue  # inside a longer name ("University of Georgia"): entities do not nest
        mention = Mention(text=verdict.text, start=verdict.start, end=verdict.end)
        target = by_place.get(verdict.geonameid) or new.get(verdict.geonameid)
        if target is None:
            target = new[verdict.geonameid] = _Draft(
                verdict.text, place_label(verdict.feature_class), [], None
            )
            drafts.append(target)
        target.mentions.append(mention)
        target.salience = None
        changed = True
    if not changed:
        return None
    return _finish(drafts, shape)


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether a span of ``spans`` shares a character with ``[start, end)``."""
    return any(s < end and start < e for s, e in spans)


def _verdict_of(
    mention: Mention, by_start: dict[int, list[MentionVerdict]]
) -> MentionVerdict | None:
    """The verdict on this very mention, if the geocoder read it."""
    for start in range(mention.start, min(mention.end, mention.start + 5)):
        for verdict in by_start.get(start, ()):
            if _same_name(mention, verdict):
                return verdict
    return None


def _label_for(label: str, verdict: MentionVerdict | None) -> str:
    """The label a mention of an entity labelled ``label`` should have."""
    if verdict is None:
        return label
    if verdict.place:
        return place_label(verdict.feature_class)
    if label not in PLACE_LABELS:
        return label
    return "PERSON" if verdict.reason == "person" else "ORG"


def _name(mentions: list[Mention]) -> str:
    """The longest surface, as the entity stage names an entity."""
    name = max((m.text for m in mentions), key=lambda n: (len(n.split()), len(n), n))
    return " ".join(name.split())


def _finish(drafts: list[_Draft], shape: ArticleShape) -> list[Entity]:
    """The drafts as entities, by salience (new saliences computed), first mention next."""
    drafts = [d for d in drafts if d.mentions]
    max_count = max((len(d.mentions) for d in drafts), default=1)
    out: list[tuple[float, int, Entity]] = []
    for draft in drafts:
        mentions = sorted(draft.mentions, key=lambda m: m.start)
        first = mentions[0].start
        value = draft.salience
        if value is None:
            in_title = any(m.end <= shape.title_end for m in mentions)
            value = salience(len(mentions), max_count, first, in_title, shape)
        entity = Entity(
            name=_name(mentions) if draft.salience is None else draft.name,
            label=draft.label,
            mentions=mentions,
            count=len(mentions),
            salience=value,
        )
        out.append((value, first, entity))
    out.sort(key=lambda item: (-item[0], item[1]))
    return [entity for _, _, entity in out]
