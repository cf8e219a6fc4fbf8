"""Toponym resolution: from candidate spans to GeoNames places, with one focus.

:func:`resolve_places` is pure: candidates and a :class:`Gazetteer` in, places out.

How it decides, in order:

1. **Is it a place?** Every candidate span is looked up (after trimming "the" and "'s";
   "Alexandria, Louisiana" is split in two; "Nineveh plain" falls back to "Nineveh",
   "Northeast Georgia" to "Georgia"). GPE and LOC spans that the gazetteer knows are
   places. FAC, ORG and PERSON spans need the context to agree: a locative word before
   them ("in", "at", "of", "near"...), a place noun after them ("a Gainesville man"), and
   no sign of a person ("Obama said", "Mr. Obama", a word of a longer person name in the
   same article). Names inside longer names count when they locate an institution
   ("University of Georgia", "Gainesville Police Department") or name a country or
   region. Datelines ("COLUMBUS, Ohio (AP) —"), capitalised names right after a
   locative word that the model did not tag, a region after a town's comma ("Barrie,
   Ont."), a legislator's home town ("D-Pleasanton") and counties listed before
   "counties" are added. A name that is clearly a place in one mention lends that to its
   other mentions. A name below the threshold but not hopeless (an ORG-tagged "Edmonton",
   "Bridgeport" heading "Bridgeport Superior Court", an untagged name opening a sentence)
   is *doubtful*: it becomes a place only if the article's places support its reading
   (a place of its region or nearby; for a country, region or big city, of its country).
2. **Which place?** Mentions with the same normalised name share one reading (one sense
   per discourse). Each reading is scored from its prior (countries and first-level
   regions first, then towns by population, primary names before alternates) and from the
   article: "City, State" and "City, Country" patterns next to any mention, the countries
   and regions the other places and the demonyms point to, and the distance to the other
   places' plausible readings (so that two ambiguous neighbours settle on the pair that
   fits). The scores are recomputed until the choices settle, since each choice is
   context for the others. A small town of a country that nothing else in the article
   points to is doubted, and dropped unless the span was clearly a place.
3. **Confidence** is the share of the chosen reading in a softmax over the readings,
   times how sure we are that the span is a place at all.
4. **Focus**: the place the article is about is the one with the most weight: mentions
   (earlier ones count more), scaled by how specific the place is (a town over its
   country) and by confidence. Exactly one place has ``focus=True`` when any resolves.

``Place.admin1`` holds the first-level region's name ("Nineveh", "Louisiana") when the
gazetteer knows it, else its GeoNames code. Places the offline data has no GeoNames id
for (most first-level regions, counties, curated regions) carry a stable negative id.

:func:`resolve_article` also gives the verdict on every span the gazetteer knew (a place,
a person, a club, or doubt), from which :mod:`~services.geocoder.agree` makes the entity
labels agree with the places.

Demonyms ("Iraqi", "Turkish") are reported as mentions of their country. News corpora
annotate them as toponyms (they name the country as an actor or origin), and a
subscriber asking "which countries does this article involve" wants them. They are
weaker evidence than a name, though: a place known only through demonyms gets a lower
confidence and is chosen as focus only when nothing else resolves. A demonym inside a
compound ("Russian-American crew") counts, and so does one heading a state body's name
("the Georgian Foreign Ministry"); one inside another organisation's name ("American
Airlines") does not. Other NORP spans ("Christians", "Republicans") are not places,
except a big place's own name the model mislabelled ("Aleppo").

The steps live in :mod:`~services.geocoder.spans` and :mod:`~services.geocoder.scans`
(candidate spans, and names the model missed), :mod:`~services.geocoder.placeness` (is it
a place, and the groups of one name), :mod:`~services.geocoder.scoring` (which place) and
:mod:`~services.geocoder.focus` (confidence and focus); their numbers in
:mod:`~services.geocoder.tuning`, their word lists in ``shared/lexicon/`` (``geo_*.txt``,
and the lists it shares with the entity stage, such as ``locatives.txt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.geocoder.focus import places_with_focus
from services.geocoder.index import Gazetteer
from services.geocoder.names import normalize_name
from services.geocoder.placeness import Group, group_spans
from services.geocoder.scans import (
    after_locatives,
    before_offices,
    listed_neighbours,
    with_datelines,
    with_listed_places,
    without_covered_containers,
)
from services.geocoder.scoring import score_groups
from services.geocoder.spans import NOT_PERSON_WORDS, Span, candidate_spans
from services.geocoder.tuning import TUNING
from shared.schemas import Place, PlaceCandidate

#: Why a looked-up span was, or was not, taken as a place: a place; a person ("Obama
#: said", a word of a person's name in the article); a club ("Dortmund beat Bayern");
#: or doubt (too little evidence, which says nothing about what else it is).
Reason = Literal["place", "person", "club", "doubt"]


@dataclass(frozen=True, slots=True)
class MentionVerdict:
    """What the resolver made of one span the gazetteer knew: a place or not, and why."""

    start: int
    end: int
    text: str
    reason: Reason
    #: The chosen reading's GeoNames feature class ("P", "A", "S"...), for a place.
    feature_class: str | None = None
    #: The place's id, for a place: its mentions are one entity.
    geonameid: int | None = None
    #: A demonym read as its country ("Iraqi"): a place mention, but the name is NORP.
    demonym: bool = False

    @property
    def place(self) -> bool:
        """Whether the span was resolved as a place."""
        return self.reason == "place"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The places of an article, and the verdict on every span the gazetteer knew."""

    places: list[Place]
    verdicts: list[MentionVerdict]


def resolve_places(candidates: list[PlaceCandidate], gazetteer: Gazetteer) -> list[Place]:
    """Decide which candidate spans are places, resolve them, and mark the focus.

    ``candidates`` are entity spans of any label with their sentence; the result holds one
    :class:`Place` per distinct place, with all its mentions, ordered by first mention.
    """
    return resolve_article(candidates, gazetteer).places


def resolve_article(candidates: list[PlaceCandidate], gazetteer: Gazetteer) -> Resolution:
    """:func:`resolve_places`, with the verdict on each span it looked at."""
    spans = [span for cand in candidates for span in candidate_spans(cand, gazetteer)]
    spans = without_covered_containers(with_datelines(candidates, spans, gazetteer))
    spans = with_listed_places(candidates, spans, gazetteer)
    spans.extend(after_locatives(candidates, gazetteer))
    spans.extend(before_offices(candidates, spans, gazetteer))
    spans.extend(listed_neighbours(candidates, spans, gazetteer))
    person_words = _person_words(candidates)
    groups = group_spans(spans, gazetteer, person_words)
    if groups:
        score_groups(groups, gazetteer)
    places = places_with_focus(groups) if groups else []
    return Resolution(places=places, verdicts=_verdicts(spans, groups, places, person_words))


def _person_words(candidates: list[PlaceCandidate]) -> set[str]:
    """Words of multi-word person names ("Barack Obama"): the same word alone is the
    person. Not those of a place's office the model took for a person ("Alexandria
    Police", "Avondale Mayor")."""
    out: set[str] = set()
    for cand in candidates:
        # Two or three words: longer "names" are mostly title-cased headlines
        # ("Freemason Bogdanov Joins Sochi").
        if cand.label != "PERSON" or not 2 <= len(words := cand.text.split()) <= 3:
            continue
        if any(word.casefold().strip(".,'’") in NOT_PERSON_WORDS for word in words):
            continue
        out.update(normalize_name(word) for word in words)
    return out


def _verdicts(
    spans: list[Span], groups: list[Group], places: list[Place], person_words: set[str]
) -> list[MentionVerdict]:
    """One verdict per looked-up span, the place verdicts as the places report them."""
    placed: dict[int, Group] = {
        id(span): group
        for group in groups
        if group.placeness >= TUNING.place_threshold
        for span in group.spans
    }
    ids = {(m.start, m.end): p.geonameid for p in places for m in p.mentions}
    out: list[MentionVerdict] = []
    seen: set[tuple[int, int]] = set()
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        key = (span.start, span.end)
        if not span.entries or key in seen:
            continue
        seen.add(key)
        group = placed.get(id(span))
        if group is not None and key in ids:
            entry = group.entries[group.choice]
            out.append(
                MentionVerdict(
                    start=span.start,
                    end=span.end,
                    text=span.text,
                    reason="place",
                    feature_class=entry.feature_class,
                    geonameid=ids[key],
                    demonym=entry.name_kind == "demonym",
                )
            )
            continue
        if span.person_cue or span.norm in person_words:
            reason: Reason = "person"
        elif span.club_cue:
            reason = "club"
        else:
            reason = "doubt"
        out.append(MentionVerdict(start=span.start, end=span.end, text=span.text, reason=reason))
    return out
