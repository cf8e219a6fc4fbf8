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
from shared.schemas import GAZETTEER_INITIAL_LABEL, GAZETTEER_LABEL

_LOCATIVE: Final = words("locatives", "geo_locatives_extra")
# Compared with a word stripped of its full stop: "Gen." is "gen".
_PERSON_TITLES: Final = frozenset(
    title.removesuffix(".") for title in words("person_titles", "geo_person_titles_extra")
)
_SPEECH_VERBS: Final = words("geo_speech_verbs")
_GENERIC_TAIL: Final = words("place_kinds", "geo_generic_tails_extra")
# Words after a name that make it a place: "a Gainesville man", "Alexandria residents".
_PLACE_NOUNS: Final = words("geo_place_nouns")
# Words a few words after a name's "'s" that make it a place: "Oxford's municipal leaders".
_POSSESSIONS: Final = words("geo_place_possessions")
# "Robertson's daughter", "Holroyd, who": what follows a person, not a place.
_PERSON_AFTER: Final = re.compile(
    r"^(?:['’]s\s+(?:" + alternation("geo_person_relations") + r")s?\b"
    r"|,\s+who\b)"
)
# A title right before the name, nothing but a space between ("Gen. Odierno", not the
# street's "St." in "Orchard St., Alexandria").
_TITLE_BEFORE: Final = re.compile(r"([A-Za-z]+)\.?[ \t]+$")
# Clubs: "Dortmund beat Bayern", "Bayern beat Dortmund", "Surrey captain", "Nice fans".
_MATCH_VERBS: Final = alternation("entities_match_verbs")
_CLUB_AFTER: Final = re.compile(
    r"^(?:[ \t]+(?:" + _MATCH_VERBS + r")[ \t]"
    r"|(?:['’]s)?[ \t]+(?:" + alternation("entities_team_roles", gap=r"[ \t]") + r")\b)"
)
_CLUB_BEFORE: Final = re.compile(r"(?:^|[ \t])(?:" + _MATCH_VERBS + r")[ \t]+$")
_POSSESSIVE_AFTER: Final = re.compile(r"^['’]s\b")
# A feature's word next to the name: the model cut "Wichita" out of "Wichita Street".
_FEATURES: Final = words("geo_feature_words")
_WORD_AFTER: Final = re.compile(r"^[ \t]+([A-Z][a-z]*)\.?(?![\w'’-])")
_WORD_BEFORE: Final = re.compile(r"(?<![\w'’-])([A-Z][a-z]*)\.?[ \t]+$")
_WORD: Final = re.compile(r"[A-Za-z][\w'’.-]*")
# A capitalised name and its comma right before: "LOUISVILLE, KY", "Barrie, Ont".
_AFTER_TOWN: Final = re.compile(r"[A-Z][\w'’.-]*,[ \t]*$")


@dataclass
class Group:
    """All mentions of one normalised name, and the readings they share.

    A group whose placeness is below the threshold is *doubtful*: scored once the places
    have settled, it is a place only if the article supports its reading
    (:func:`~services.geocoder.scoring.score_groups`).
    """

    norm: str
    spans: list[Span]
    entries: list[GazetteerEntry]
    containers: list[GazetteerEntry]
    prior: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    choice: int = 0
    placeness: float = 0.0
    demonym_only: bool = False

    @property
    def doubtful(self) -> bool:
        """Below the threshold: a place only with the article's support."""
        return self.placeness < TUNING.place_threshold


def _words(text: str) -> list[str]:
    return [w.strip(".'’").casefold() for w in _WORD.findall(text)]


def _is_strong(entry: GazetteerEntry) -> bool:
    """A country, region or county named by its name: a place whatever surrounds it."""
    if entry.name_kind not in ("name", "alias", "abbrev"):
        return False
    return entry.is_country or entry.feature_code in ("ADM1", "ADM2", "CONT", "RGN")


def _is_big(entry: GazetteerEntry) -> bool:
    """A country, first-level region, capital or big city named by its own name: its name
    before a verb of saying is the place's people or government ("Tbilisi says")."""
    return entry.name_kind in ("name", "alias") and (
        entry.is_country
        or entry.feature_code in ("ADM1", "PPLC", "CONT", "RGN")
        or entry.population >= TUNING.big_place_population
    )


def _special_placeness(span: Span, person_words: set[str]) -> float | None:
    """Placeness of demonyms, NORP spans, abbreviations and names found by a scan or
    inside a longer name, which their kind decides; None for the others."""
    t = TUNING
    if span.origin == "container":
        # "Barrie, Ont.", "LOUISVILLE, KY": a region after a town that may be a place and
        # is not a person; after a comma even "KY" is the state.
        head = span.head
        if head is None or head.placeness < t.doubt_floor or head.person_cue:
            return 0.0
        return t.dateline_placeness
    kinds = {e.name_kind for e in span.entries}
    if kinds == {"demonym"}:
        # A demonym is a place mention only as a demonym, whatever the label said. Inside
        # a compound ("Russian-American") it still names the country, and at the head of
        # an organisation's name ("the Georgian Foreign Ministry", "American Airlines")
        # the country it belongs to; elsewhere inside one ("Pan American") it does not.
        if span.origin == "inner":
            if span.label == "NORP":
                return t.inner_demonym_placeness
            if span.heads_state_body:
                return t.state_demonym_placeness
            return t.org_demonym_placeness if span.heads_name else 0.0
        return t.demonym_placeness if span.label in ("NORP", "GPE", "LOC") else 0.0
    if span.label == "NORP":
        # The small model sometimes calls a city a nationality ("Aleppo"): a big place's
        # own name is taken, and a town's after a locative word or before a place noun
        # ("nuns in Pewaukee", "Shiloh students").
        own = [e for e in span.entries if e.name_kind in ("name", "alias")]
        big = any(e.population >= t.norp_place_min_population or _is_strong(e) for e in own)
        prev = _words(span.before)[-1:]
        nxt = _words(span.after)[:1]
        cued = bool(own) and ((prev and prev[0] in _LOCATIVE) or (nxt and nxt[0] in _PLACE_NOUNS))
        return t.norp_place_placeness if (big or cued) and span.norm not in person_words else 0.0
    if (
        span.origin == "inner"
        and span.heads_name
        and "." in span.text
        and kinds <= {"abbrev", "demonym"}
    ):
        # "S.C. Highway Patrol", "N.J. Division of ...": a dotted abbreviation heading a
        # name is its state.
        return t.inner_strong_placeness
    after_town = _AFTER_TOWN.search(span.before) is not None
    if (
        kinds <= {"abbrev", "demonym"}
        and not after_town
        and (span.label not in ("GPE", "LOC") or "." not in span.text)
    ):
        # "Ga." is a state; "GA", "OK" or "IN" standing alone are not (a state after a
        # town and its comma is found by its own scan).
        return 0.0
    if span.origin == "inner":
        # A place inside an organisation's or a building's name ("University of Georgia")
        # names that place; a town name inside one ("Ford Motor") needs the article's
        # support, given in score_groups.
        if any(_is_strong(e) for e in span.entries):
            return t.inner_strong_placeness
        own_name = any(e.name_kind in ("name", "alias") for e in span.entries)
        if span.locates_institution and own_name:
            return t.inner_institution_placeness
        return t.inner_placeness
    if span.origin in ("dateline", "affiliation", "county_list"):
        return t.dateline_placeness
    if span.origin == "locative" or span.label == GAZETTEER_LABEL:
        # A capitalised name after "in", "from"... that only the gazetteer recognised.
        return t.locative_found_placeness
    return None


def _person_cue(span: Span, prev: list[str], nxt: list[str], person_words: set[str]) -> bool:
    """Whether the words around the span read as a person ("Obama said", "Mr. Obama")."""
    locative = bool(prev) and prev[-1] in _LOCATIVE
    # "Tbilisi says", "Russia said": a big place's name speaks for its government.
    metonymy = span.norm not in person_words and any(_is_big(e) for e in span.entries)
    # "out of Mosul,” said the general"; "Officials in Erbil said": the locative wins.
    said = bool(
        nxt
        and nxt[0] in _SPEECH_VERBS
        and not span.after[:1].strip()
        and not locative
        and not metonymy
    )
    title = _TITLE_BEFORE.search(span.before)
    after_person = _PERSON_AFTER.match(span.after) is not None and not locative
    return bool(
        said
        or (title is not None and title.group(1).casefold() in _PERSON_TITLES)
        # "said Holroyd"; for a GPE only a word of a person's name ("said Georgia").
        or (
            prev
            and prev[-1] in _SPEECH_VERBS
            and (span.label != "GPE" or span.norm in person_words)
            and not metonymy
            and not (nxt and nxt[0] in _PLACE_NOUNS)  # "said Laconia police Capt. Clary"
        )
        or (prev == ["according", "to"] and not (nxt and nxt[0] in _PLACE_NOUNS))
        or (after_person and not (metonymy and span.label in ("GPE", "LOC")))
    )


def _in_feature_name(span: Span) -> bool:
    """Whether the span is part of a street's or a river's name the model cut short
    ("Wichita" of "Wichita Street", "Cumberland" of "Lake Cumberland")."""
    if span.label in ("GPE", "LOC"):
        return False  # "Florida Highway Patrol", "Lebanon Street Superintendent"
    after = _WORD_AFTER.match(span.after)
    before = _WORD_BEFORE.search(span.before)
    return any(m is not None and m.group(1).casefold() in _FEATURES for m in (after, before))


def _club_cue(span: Span) -> bool:
    """Whether the span reads as a club named after its town ("Dortmund beat Bayern").

    A national side keeps its country's name: "Russia beat Spain" is still Russia.
    """
    if any(
        e.is_country or (e.feature_code == "ADM1" and e.name_kind == "name") for e in span.entries
    ):
        return False  # "lost to Arizona Sen. John McCain": a state is rarely a club
    if span.label == "GPE":
        # The model's GPE gives way only to the plainest cue: "Dortmund beat Bayern".
        return _CLUB_AFTER.match(span.after) is not None
    return bool(_CLUB_AFTER.match(span.after) or _CLUB_BEFORE.search(span.before))


def _placeness(span: Span, person_words: set[str]) -> float:
    """How likely the span names a place, from its label and the words around it."""
    if not span.entries:
        return 0.0
    special = _special_placeness(span, person_words)
    if special is not None:
        return special
    t = TUNING
    if _in_feature_name(span):
        return 0.0
    if span.label == GAZETTEER_INITIAL_LABEL and not any(
        e.name_kind in ("name", "alias") for e in span.entries
    ):
        return 0.0  # an untagged capitalised word: only a place's own name
    score = t.label_prior.get(span.label, 0.0)
    prev = _words(span.before)[-2:]
    nxt = _words(span.after)[:1]
    span.person_cue = _person_cue(span, prev, nxt, person_words)
    span.club_cue = not span.person_cue and _club_cue(span)
    if span.person_cue:
        score -= t.person_cue_penalty
    elif span.club_cue:
        score -= t.club_cue_penalty
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
    elif span.norm in person_words and span.label == "PERSON":
        return 0.0  # "of Jones" where "Mitch Jones" is named: the model and the article agree
    if span.label in ("PERSON", "ORG", "FAC", GAZETTEER_INITIAL_LABEL):
        score += _name_evidence(span, nxt, person_words)
    # Rounded: sums of tenths are compared with thresholds (0.35 + 0.45 is 0.8).
    return round(max(0.0, min(1.0, score)), 6)


def _name_evidence(span: Span, nxt: list[str], person_words: set[str]) -> float:
    """What the gazetteer and the next words add to a span the model thought no place."""
    t = TUNING
    out = 0.0
    if not any(e.name_kind in ("name", "alias", "alt") for e in span.entries):
        # A loose match (an Arabic article dropped, an abbreviation) is not enough for
        # spans the model thought were not places.
        out -= t.loose_match_penalty
    elif (
        span.norm not in person_words
        and not span.person_cue
        and not span.club_cue
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
        weak = span.label in ("ORG", GAZETTEER_INITIAL_LABEL)
        out += t.sizeable_town_org_bonus if weak else t.sizeable_town_bonus
    if span.person_cue or span.club_cue:
        return out
    if nxt and nxt[0] in _GENERIC_TAIL:
        out += t.generic_tail_bonus  # "the Nineveh plain", "the Tigris valley"
    elif nxt and nxt[0] in _PLACE_NOUNS:
        out += t.place_noun_bonus  # "a Gainesville man", "Dortmund police"
    elif _POSSESSIVE_AFTER.match(span.after) and any(
        w in _POSSESSIONS for w in _words(span.after[2:])[: t.possession_words]
    ):
        out += t.place_noun_bonus  # "Oxford's municipal leaders", "Edmonton's economy"
    return out


def _may_be_promoted(span: Span) -> bool:
    """Whether a doubtful mention may become a place with the article's support: the
    place's own name (or a region's other name), not read as a person or a club, and
    heading the longer name it stands in ("Bridgeport Superior Court", not "Dublin City
    Council" for a town called Council)."""
    if span.placeness < TUNING.doubt_floor or span.person_cue or span.club_cue:
        return False
    if span.origin == "inner" and not span.heads_name:
        return False
    return any(
        e.name_kind in ("name", "alias") or (e.name_kind == "alt" and _is_region(e))
        for e in span.entries
    )


def _is_region(entry: GazetteerEntry) -> bool:
    """A country or a first-level region."""
    return entry.is_country or entry.feature_code == "ADM1"


def group_spans(spans: list[Span], gazetteer: Gazetteer, person_words: set[str]) -> list[Group]:
    """The spans that are places, grouped by normalised name (one sense per discourse),
    and the doubtful ones: names that may be places if the article supports them.

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
        if best >= TUNING.place_threshold:
            kept = [
                s
                for s in members
                if s.placeness >= TUNING.place_threshold
                or (
                    best >= TUNING.lending_placeness
                    and not s.person_cue
                    and (s.placeness > 0.0 or s.label == "PERSON")
                )
                # One sense per discourse: a doubtful mention of a name that is a place.
                or (s.placeness >= TUNING.doubt_floor and not (s.person_cue or s.club_cue))
            ]
        elif best >= TUNING.doubt_floor:
            # Doubtful: "Edmonton" tagged ORG, "Bridgeport" in "Bridgeport Superior
            # Court". Its mentions that do not read as a person or a club wait for the
            # article's verdict (scoring.score_groups).
            kept = [s for s in members if _may_be_promoted(s)]
        else:
            kept = []
        if not kept:
            continue
        containers = []
        for span in kept:
            if span.container_text:
                found = _containers(span.container_text, gazetteer)
                # A country's name, then a country: a list ("in Russia, U.S. officials
                # said"), not a town and its country ("Lebanon, Pa." still is).
                if not (_names_country(span) and all(e.is_country for e in found)):
                    containers.extend(found)
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


def _names_country(span: Span) -> bool:
    """Whether one reading of the span is a country under its own name."""
    return any(e.is_country and e.name_kind == "name" for e in span.entries)


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
