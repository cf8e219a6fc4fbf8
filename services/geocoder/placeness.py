"""Step 1c: is it a place? How likely each span names a place, from its label and the
words around it, and the groups of mentions of one name that share one reading."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from services.geocoder.index import Gazetteer, GazetteerEntry
from services.geocoder.spans import Span
from services.geocoder.tuning import TUNING
from shared.lexicon import alternation, words
from shared.schemas import GAZETTEER_LABEL

_LOCATIVE: Final = words("locatives", "geo_locatives_extra")
# Compared with a word stripped of its full stop: "Gen." is "gen".
_PERSON_TITLES: Final = frozenset(
    title.removesuffix(".") for title in words("person_titles", "geo_person_titles_extra")
)
_SPEECH_VERBS: Final = words("geo_speech_verbs")
_GENERIC_TAIL: Final = words("place_kinds", "geo_generic_tails_extra")
# Words after a name that make it a place: "a Gainesville man", "Alexandria residents".
_PLACE_NOUNS: Final = words("geo_place_nouns")
# "Robertson's daughter", "Holroyd, who": what follows a person, not a place.
_PERSON_AFTER: Final = re.compile(
    r"^(?:['’]s\s+(?:" + alternation("geo_person_relations") + r")s?\b"
    r"|,\s+who\b)"
)
_WORD: Final = re.compile(r"[A-Za-z][\w'’.-]*")


@dataclass
class Group:
    """All mentions of one normalised name, and the readings they share."""

    norm: str
    spans: list[Span]
    entries: list[GazetteerEntry]
    containers: list[GazetteerEntry]
    prior: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    choice: int = 0
    placeness: float = 0.0
    demonym_only: bool = False


def _words(text: str) -> list[str]:
    return [w.strip(".'’").casefold() for w in _WORD.findall(text)]


def _is_strong(entry: GazetteerEntry) -> bool:
    """A country, region or county named by its name: a place whatever surrounds it."""
    if entry.name_kind not in ("name", "alias", "abbrev"):
        return False
    return entry.is_country or entry.feature_code in ("ADM1", "ADM2", "CONT", "RGN")


def _placeness(span: Span, person_words: set[str]) -> float:
    """How likely the span names a place, from its label and the words around it."""
    if not span.entries:
        return 0.0
    t = TUNING
    kinds = {e.name_kind for e in span.entries}
    if kinds == {"demonym"}:
        # A demonym is a place mention only as a demonym, whatever the label said. Inside
        # a compound ("Russian-American") it still names the country; inside an
        # organisation's name ("American Airlines") it does not.
        if span.origin == "inner":
            return t.inner_demonym_placeness if span.label == "NORP" else 0.0
        return t.demonym_placeness if span.label in ("NORP", "GPE", "LOC") else 0.0
    if span.label == "NORP":
        # The small model sometimes calls a city a nationality ("Aleppo"): only a big
        # place's own name is taken.
        big = any(
            e.name_kind in ("name", "alias")
            and (e.population >= t.norp_place_min_population or _is_strong(e))
            for e in span.entries
        )
        return t.norp_place_placeness if big and span.norm not in person_words else 0.0
    if kinds <= {"abbrev", "demonym"} and (
        span.label not in ("GPE", "LOC") or "." not in span.text
    ):
        # "Ga." is a state; "GA", "OK" or "IN" standing alone are not.
        return 0.0
    if span.origin == "inner":
        # A place inside an organisation's or a building's name ("University of Georgia")
        # names that place; a town name inside one ("Ford Motor") needs the article's
        # support, given in group_spans.
        if any(_is_strong(e) for e in span.entries):
            return t.inner_strong_placeness
        return t.inner_institution_placeness if span.locates_institution else t.inner_placeness
    if span.origin == "dateline":
        return t.dateline_placeness
    if span.origin == "locative" or span.label == GAZETTEER_LABEL:
        # A capitalised name after "in", "from"... that only the gazetteer recognised.
        return t.locative_found_placeness
    score = t.label_prior.get(span.label, 0.0)
    prev = _words(span.before)[-2:]
    nxt = _words(span.after)[:1]
    # "Obama said", not "out of Mosul,” said the general".
    # "Officials in Erbil said": the locative word wins.
    said = (
        nxt
        and nxt[0] in _SPEECH_VERBS
        and not span.after[:1].strip()
        and not (prev and prev[-1] in _LOCATIVE)
    )
    span.person_cue = bool(
        said
        or (prev and prev[-1] in _PERSON_TITLES)
        or (prev and prev[-1] in _SPEECH_VERBS and span.label != "GPE")
        or prev == ["according", "to"]
        or _PERSON_AFTER.match(span.after)
    )
    if span.person_cue:
        score -= t.person_cue_penalty
    elif prev and prev[-1] in _LOCATIVE:
        score += t.locative_bonus
    elif (
        span.label in ("GPE", "LOC")
        and len(prev) == 2
        and prev[-1] == "the"
        and prev[-2] in _LOCATIVE
    ):
        # "in the Nineveh plain"; for other labels "of the X" is mostly "of the Duma".
        score += t.locative_the_bonus
    if span.container_text:
        score += t.container_placeness_bonus
    elif span.norm in person_words and not (prev and prev[-1] in _LOCATIVE):
        # "Georgia" where "Georgia Stevens" skates elsewhere in the article.
        score -= t.person_word_penalty
    if span.label in ("PERSON", "ORG", "FAC"):
        if not any(e.name_kind in ("name", "alias", "alt") for e in span.entries):
            # A loose match (an Arabic article dropped, an abbreviation) is not enough for
            # spans the model thought were not places.
            score -= t.loose_match_penalty
        elif (
            span.norm not in person_words
            and not span.person_cue
            and any(
                e.name_kind in ("name", "alias")
                and (
                    (e.feature_class == "P" and e.population >= t.sizeable_town_population)
                    or e.is_country
                )
                for e in span.entries
            )
        ):
            # The small model tags many town names PERSON or ORG, mostly at the start of a
            # sentence; a sizeable town's own name, never part of a person's name here, is
            # more likely the town.
            score += t.sizeable_town_org_bonus if span.label == "ORG" else t.sizeable_town_bonus
        if nxt and nxt[0] in _GENERIC_TAIL:
            score += t.generic_tail_bonus  # "the Nineveh plain", "the Tigris valley"
        elif nxt and nxt[0] in _PLACE_NOUNS:
            score += t.place_noun_bonus  # "a Gainesville man"
    return max(0.0, min(1.0, score))


def group_spans(spans: list[Span], gazetteer: Gazetteer, person_words: set[str]) -> list[Group]:
    """The spans that are places, grouped by normalised name (one sense per discourse).

    ``person_words`` are the words of the article's multi-word person names.
    """
    by_norm: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span.entries:
            span.placeness = _placeness(span, person_words)
            by_norm[span.norm].append(span)
    groups = []
    for norm, members in by_norm.items():
        best = max(s.placeness for s in members)
        # A name that is clearly a place somewhere in the article is a place elsewhere too
        # ("Gainesville" tagged PERSON at the start of a sentence), unless that mention
        # reads as a person ("Gainesville said").
        kept = [
            s
            for s in members
            if s.placeness >= TUNING.place_threshold
            or (
                best >= TUNING.lending_placeness
                and not s.person_cue
                and (s.placeness > 0.0 or s.label == "PERSON")
            )
        ]
        if not kept:
            continue
        containers = []
        for span in kept:
            if span.container_text:
                containers.extend(_containers(span.container_text, gazetteer))
        # Datelines and untagged names look up fewer readings; take the fullest list.
        entries = max((s.entries for s in members), key=len)
        demonym_only = all(e.name_kind == "demonym" for e in entries)
        groups.append(
            Group(
                norm=norm,
                spans=kept,
                entries=entries,
                containers=containers,
                placeness=best,
                demonym_only=demonym_only,
            )
        )
    return groups


def _containers(text: str, gazetteer: Gazetteer) -> list[GazetteerEntry]:
    """Regions or countries named right after a place: "Gainesville, Ga."."""
    tokens = text.split()
    for size in range(len(tokens), 0, -1):
        found = [
            e
            for e in gazetteer.lookup(" ".join(tokens[:size]))
            if e.is_country or e.feature_code in ("ADM1", "ADM2")
        ]
        if found:
            return found
    return []
