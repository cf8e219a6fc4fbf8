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
   region. Datelines ("COLUMBUS, Ohio (AP) —") and capitalised names right after a
   locative word that the model did not tag are added. A name that is clearly a place in
   one mention lends that to its other mentions.
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

Demonyms ("Iraqi", "Turkish") are reported as mentions of their country. News corpora
annotate them as toponyms (they name the country as an actor or origin), and a
subscriber asking "which countries does this article involve" wants them. They are
weaker evidence than a name, though: a place known only through demonyms gets a lower
confidence and is chosen as focus only when nothing else resolves. A demonym inside a
compound ("Russian-American crew") counts; one inside an organisation's name ("American
Airlines") does not. Other NORP spans ("Christians", "Republicans") are not places,
except a big place's own name the model mislabelled ("Aleppo").
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from services.geocoder.gazetteer import Gazetteer, GazetteerEntry, normalize_name
from services.geocoder.geometry import EARTH_RADIUS_KM
from services.geocoder.tuning import TUNING
from shared.lexicon import entries, words
from shared.schemas import Mention, Place, PlaceCandidate

_LOCATIVE: Final = words("geo_locatives")
_PERSON_TITLES: Final = words("geo_person_titles")
_SPEECH_VERBS: Final = words("geo_speech_verbs")
_GENERIC_TAIL: Final = words("geo_generic_tails")
_DIRECTIONS: Final = words("geo_directions")
# Capitalised words that name no place in news but match a GeoNames town somewhere.
_NOT_PLACES: Final = words("geo_not_places")
_FUNCTION: Final = words("geo_function_words")
_DATELINE: Final = re.compile(
    r"(?:^|(?<=\s))([A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+){0,3})"
    r"(,\s*[A-Z][\w.]*(?: [A-Z][\w.]*)?)?\s*(?:\([A-Za-z. ]+\)\s*)?(?:—|–|--?|\x97|:)\s"
)
_INSTITUTIONS: Final = words("geo_institution_words")
_INSTITUTION_LOCATIVES: Final = words("geo_institution_locatives")
_AFTER_LOCATIVE: Final = re.compile(
    rf"\b(?:{'|'.join(map(re.escape, entries('geo_locative_openers')))})"
    r"\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\b"
)
_CALENDAR: Final = words("geo_calendar_words")
#: The entity stage's label for names after a place cue that only the gazetteer knew.
_GAZETTEER_LABEL: Final = "GAZETTEER"
_TOKEN: Final = re.compile(r"\w[\w.&]*(?:['’-]\w+)*")
_POSSESSIVE: Final = re.compile(r"['’]s?$")
# Words after a name that make it a place: "a Gainesville man", "Alexandria residents".
_PLACE_NOUNS: Final = words("geo_place_nouns")
# "Robertson's daughter", "Holroyd, who": what follows a person, not a place.
_PERSON_AFTER: Final = re.compile(
    rf"^(?:['’]s\s+(?:{'|'.join(map(re.escape, entries('geo_person_relations')))})s?\b"
    r"|,\s+who\b)"
)
_WORD: Final = re.compile(r"[A-Za-z][\w'’.-]*")
# Matched at the span's end (``match(sentence, end)``), hence no "^".
_CONTAINER_AFTER: Final = re.compile(r"\s*,\s*((?:[A-Z][\w'’.-]*)(?:\s+[A-Z][\w'’.-]*){0,3})")
_TRIM_LEAD: Final = re.compile(r"^(?:the|The|THE)\s+")
_TRIM_TAIL: Final = re.compile(r"(?:['’]s|['’])$")

# Rows of the distance matrix built at once: bounds memory, changes no result.
_PROXIMITY_BLOCK: Final = 256


@dataclass
class _Span:
    """A trimmed candidate span with its context."""

    text: str
    start: int
    end: int
    label: str
    before: str
    after: str
    container_text: str | None
    article_pos: int
    norm: str = ""
    entries: list[GazetteerEntry] = field(default_factory=list)
    origin: str = "whole"
    locates_institution: bool = False
    placeness: float = 0.0
    person_cue: bool = False


@dataclass
class _Group:
    """All mentions of one normalised name, and the readings they share."""

    norm: str
    spans: list[_Span]
    entries: list[GazetteerEntry]
    containers: list[GazetteerEntry]
    prior: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    choice: int = 0
    placeness: float = 0.0
    demonym_only: bool = False


def resolve_places(candidates: list[PlaceCandidate], gazetteer: Gazetteer) -> list[Place]:
    """Decide which candidate spans are places, resolve them, and mark the focus.

    ``candidates`` are entity spans of any label with their sentence; the result holds one
    :class:`Place` per distinct place, with all its mentions, ordered by first mention.
    """
    spans = [span for cand in candidates for span in _spans(cand, gazetteer)]
    spans = _with_datelines(candidates, spans, gazetteer)
    spans.extend(_after_locatives(candidates, gazetteer))
    # Words of multi-word person names ("Barack Obama"): the same word alone is the person.
    person_words = {
        normalize_name(word)
        for cand in candidates
        if cand.label == "PERSON" and len(words := cand.text.split()) > 1
        for word in words
    }
    groups = _group(spans, gazetteer, person_words)
    if not groups:
        return []
    _score(groups, gazetteer)
    return _places(groups)


# --------------------------------------------------------------------------- spans


def _spans(cand: PlaceCandidate, gazetteer: Gazetteer) -> list[_Span]:
    """The places a candidate names: the whole span, its parts, or names inside it."""
    text, start = cand.text, cand.start
    lead = _TRIM_LEAD.match(text)
    if lead:
        text, start = text[lead.end() :], start + lead.end()
    tail = _TRIM_TAIL.search(text)
    if tail:
        text = text[: tail.start()]
    # Keep a final dot: it belongs to "U.S." and "Ga.", and normalisation ignores it.
    text = text.rstrip(" ,;:")
    if not text or not (text[0].isupper() or text[0].isdigit()):
        return []  # "n't", "the" and other tokenizer debris
    parts: list[tuple[str, int]] = [(text, start)]
    if "," in text:
        # "Alexandria, Louisiana": the second part is the first one's container.
        head, _, rest = text.partition(",")
        offset = len(head) + 1 + (len(rest) - len(rest.lstrip()))
        parts = [(head.rstrip(), start), (rest.strip(), start + offset)]
    out = []
    for index, (part, part_start) in enumerate(parts):
        if not part:
            continue
        container = parts[1][0] if len(parts) == 2 and index == 0 else None
        out.extend(_part_spans(cand, part, part_start, container, gazetteer))
    return out


def _with_datelines(
    candidates: list[PlaceCandidate], found: list[_Span], gazetteer: Gazetteer
) -> list[_Span]:
    """``found`` plus the datelines the model missed: "COLUMBUS, Ohio (AP) —", "MANSFIELD --".

    Upper-case words followed by a dash open many news reports with the place they were
    filed from; the small model rarely tags them, or tags pieces ("ST" and "PAUL"), which
    give way to the whole. Only sentences that came with candidates are seen.
    """
    covers = _Cover([(s.start, s.end) for s in found])
    out: list[_Span] = []
    for cand in _one_per_sentence(candidates):
        for match in _DATELINE.finditer(cand.sentence):
            start = cand.sentence_start + match.start(1)
            end = cand.sentence_start + match.end(1)
            if covers.contains(start, end):
                continue  # the model has it, or a longer name around it
            norm = normalize_name(match.group(1))
            entries = [
                e for e in gazetteer.lookup_normalized(norm) if e.name_kind in ("name", "alt")
            ]
            if not entries or norm in _NOT_PLACES:
                continue
            container = match.group(2)
            span = _make_span(
                cand.model_copy(update={"label": "GPE"}),
                text=match.group(1),
                start=start,
                norm=norm,
                entries=entries,
                container=container.strip(" ,") if container else None,
            )
            span.origin = "dateline"
            out.append(span)
    # Fragments of a dateline ("ST" and "PAUL" for "ST. PAUL") give way to the whole.
    # Datelines never overlap (one match per stretch of one sentence), so no fragment
    # dropped here could have covered another dateline: dropping them all at the end is
    # what dropping them after each dateline was.
    inside = _Cover([(s.start, s.end) for s in out])
    return [s for s in found if not inside.contains(s.start, s.end)] + out


class _Cover:
    """Spans ``(start, end)`` indexed for the questions the text scans ask of each match.

    Sorted by start, with the running maximum of the ends: "does a span contain or
    overlap this range?" is a binary search rather than a look at every span.
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = sorted(spans)
        self.starts = [start for start, _ in self.spans]
        self.max_end = list(itertools.accumulate((end for _, end in self.spans), max))

    def contains(self, start: int, end: int) -> bool:
        """Whether a span holds all of ``[start, end)``."""
        count = bisect.bisect_right(self.starts, start)
        return count > 0 and self.max_end[count - 1] >= end

    def overlaps(self, start: int, end: int) -> bool:
        """Whether a span shares a character with ``[start, end)``."""
        count = bisect.bisect_left(self.starts, end)
        return count > 0 and self.max_end[count - 1] > start


def _one_per_sentence(candidates: list[PlaceCandidate]) -> Iterator[PlaceCandidate]:
    """The first candidate of each sentence: the text scans look at a sentence once."""
    seen: set[int] = set()
    for cand in candidates:
        if cand.sentence_start not in seen:
            seen.add(cand.sentence_start)
            yield cand


def _after_locatives(candidates: list[PlaceCandidate], gazetteer: Gazetteer) -> list[_Span]:
    """Capitalised names right after "in", "from", "near"... that the model did not tag.

    Only town or region names the gazetteer knows under that very name are taken, and
    only in sentences that came with candidates; a town of a country nothing else in the
    article points to is discounted later like any other.
    """
    out: list[_Span] = []
    tagged = _Cover([(c.start, c.end) for c in candidates])
    for cand in _one_per_sentence(candidates):
        for match in _AFTER_LOCATIVE.finditer(cand.sentence):
            start = cand.sentence_start + match.start(1)
            end = cand.sentence_start + match.end(1)
            if tagged.overlaps(start, end):
                continue
            norm = normalize_name(match.group(1))
            if norm in _NOT_PLACES or norm in _CALENDAR:
                continue
            entries = [
                e
                for e in gazetteer.lookup_normalized(norm)
                if e.name_kind == "name"
                and (e.population >= TUNING.locative_min_population or e.is_admin)
            ]
            if entries:
                span = _make_span(
                    cand.model_copy(update={"label": "GPE"}),
                    text=match.group(1),
                    start=start,
                    norm=norm,
                    entries=entries,
                )
                span.origin = "locative"
                out.append(span)
    return out


def _part_spans(
    cand: PlaceCandidate, part: str, part_start: int, container: str | None, gazetteer: Gazetteer
) -> list[_Span]:
    norm = normalize_name(part)
    if not norm or norm in _NOT_PLACES:
        return []
    if norm in _CALENDAR and cand.label not in ("GPE", "LOC"):
        return []  # "in August" is a month, whatever town is called August
    entries = gazetteer.lookup_normalized(norm)
    if cand.label == "NORP":
        # "Canadian" is the people of Canada before it is Canadian, Texas.
        entries = [e for e in entries if e.name_kind == "demonym"] or entries
    if entries:
        return [
            _make_span(
                cand, text=part, start=part_start, norm=norm, entries=entries, container=container
            )
        ]
    tokens = list(_TOKEN.finditer(part))
    if len(tokens) == 1 and "-" in part:
        # "Russian-American": each part is a demonym.
        tokens = list(re.finditer(r"\w+", part))
    if len(tokens) < 2:
        return []
    first, last = tokens[0].group().casefold(), tokens[-1].group().casefold()
    if first in _DIRECTIONS:
        # "Northeast Georgia", "North Texas": the region is inside the named place.
        rest = part[tokens[1].start() :]
        found = _part_spans(cand, rest, part_start + tokens[1].start(), container, gazetteer)
        if found:
            return found
    if last in _GENERIC_TAIL:
        # "Nineveh plain", "Tigris valley": the named part is the place.
        head = part[: tokens[-1].start()].rstrip()
        head_norm = normalize_name(head)
        entries = gazetteer.lookup_normalized(head_norm) if head_norm else []
        if entries:
            return [
                _make_span(
                    cand,
                    text=head,
                    start=part_start,
                    norm=head_norm,
                    entries=entries,
                    container=container,
                )
            ]
    if cand.label == "PERSON":
        return []
    return _inner_spans(cand, part, part_start, tokens, gazetteer)


def _inner_spans(
    cand: PlaceCandidate,
    part: str,
    part_start: int,
    tokens: list[re.Match[str]],
    gazetteer: Gazetteer,
) -> list[_Span]:
    """Place names inside a longer name: "University of Georgia", "Gainesville Police"."""
    out = []
    i = 0
    while i < len(tokens):
        for size in range(min(TUNING.inner_name_max_words, len(tokens) - i), 0, -1):
            if size == len(tokens):
                continue
            window = tokens[i : i + size]
            if not window[0].group()[0].isupper() or window[0].group().casefold() in _FUNCTION:
                continue
            text = part[window[0].start() : window[-1].end()]
            text = _POSSESSIVE.sub("", text) if size == 1 or "'" in text or "’" in text else text
            norm = normalize_name(text)
            if norm in _NOT_PLACES:
                continue
            entries = gazetteer.lookup_normalized(norm)
            if not entries:
                continue
            # "University of Georgia", "Gainesville Police Department": a place name
            # before an institution's noun or after "of" names where the institution is.
            locates = (i > 0 and tokens[i - 1].group().casefold() in _INSTITUTION_LOCATIVES) or (
                i == 0
                and i + size < len(tokens)
                and tokens[i + size].group().casefold() in _INSTITUTIONS
            )
            span = _make_span(
                cand,
                text=text,
                start=part_start + window[0].start(),
                norm=norm,
                entries=entries,
                origin="inner",
            )
            span.locates_institution = locates
            out.append(span)
            i += size - 1
            break
        i += 1
    return out


def _make_span(
    cand: PlaceCandidate,
    *,
    text: str,
    start: int,
    norm: str,
    entries: list[GazetteerEntry],
    origin: str = "whole",
    container: str | None = None,
) -> _Span:
    sent = cand.sentence
    rel_start = start - cand.sentence_start
    rel_end = rel_start + len(text)
    inside = 0 <= rel_end <= len(sent)
    # Only the next 40 characters are kept, and the container pattern is matched in place:
    # a copy of the rest of the sentence for each span is quadratic in a long sentence.
    after = sent[rel_end : rel_end + TUNING.context_chars] if inside else ""
    if container is None and origin == "whole":
        found = _CONTAINER_AFTER.match(sent, rel_end) if inside else None
        container = found.group(1) if found else None
    return _Span(
        text=text,
        start=start,
        end=start + len(text),
        label=cand.label,
        before=sent[max(0, rel_start - TUNING.context_chars) : max(0, rel_start)],
        after=after,
        container_text=container,
        article_pos=start,
        norm=norm,
        entries=entries[: TUNING.max_readings],
        origin=origin,
    )


def _words(text: str) -> list[str]:
    return [w.strip(".'’").casefold() for w in _WORD.findall(text)]


def _is_strong(entry: GazetteerEntry) -> bool:
    """A country, region or county named by its name: a place whatever surrounds it."""
    if entry.name_kind not in ("name", "alias", "abbrev"):
        return False
    return entry.is_country or entry.feature_code in ("ADM1", "ADM2", "CONT", "RGN")


def _placeness(span: _Span, person_words: set[str]) -> float:
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
        # support, given in _group.
        if any(_is_strong(e) for e in span.entries):
            return t.inner_strong_placeness
        return t.inner_institution_placeness if span.locates_institution else t.inner_placeness
    if span.origin == "dateline":
        return t.dateline_placeness
    if span.origin == "locative" or span.label == _GAZETTEER_LABEL:
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


def _group(spans: list[_Span], gazetteer: Gazetteer, person_words: set[str]) -> list[_Group]:
    by_norm: dict[str, list[_Span]] = defaultdict(list)
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
            _Group(
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


# --------------------------------------------------------------------------- scoring


def _prior(entry: GazetteerEntry) -> float:
    """How likely a name means this entry before reading the article."""
    t = TUNING
    code = entry.feature_code
    size = math.log10(max(entry.population, 0) + t.population_log_offset)
    if code.startswith("PCL"):
        base = t.country_prior + t.country_prior_per_size * size
    elif code == "ADM1":
        base = t.region_prior + t.region_prior_per_size * size
    elif code in ("CONT", "RGN"):
        base = t.area_prior
    elif code == "ADM2":
        base = t.county_prior + t.county_prior_per_size * size
    else:
        base = t.town_prior_per_size * size + (t.capital_prior_bonus if code == "PPLC" else 0.0)
    return base - t.kind_penalty[entry.name_kind]


def _priors(entries: list[GazetteerEntry]) -> list[float]:
    priors = [_prior(e) for e in entries]
    regions = {(e.country_code, e.name) for e in entries if e.feature_code == "ADM1"}
    if any(e.name_kind == "name" for e in entries):
        # "Paris" is first the places called Paris, then those with Paris as another name.
        priors = [
            p - (TUNING.alt_when_named_penalty if e.name_kind == "alt" else 0.0)
            for p, e in zip(priors, entries, strict=True)
        ]
    for i, entry in enumerate(entries):
        if entry.feature_code == "PPLC" and (entry.country_code, entry.name) in regions:
            # News means the capital by "Washington", not the state of that name.
            priors[i] += TUNING.capital_over_region
    return priors


def _contained(entry: GazetteerEntry, container: GazetteerEntry) -> bool:
    if entry.geonameid == container.geonameid or entry.country_code != container.country_code:
        return False
    if container.is_country:
        return True
    if container.feature_code == "ADM1":
        return entry.admin1 == container.admin1 and entry.feature_code != "ADM1"
    return False


@dataclass
class _Context:
    """What the article says about countries and regions, as soft votes."""

    countries: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    regions: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    total: float = 0.0
    # Countries and first-level regions named as such, by the probability of that reading.
    named_countries: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    named_regions: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))


def _votes(group: _Group) -> _Context:
    """One group's votes: each reading votes for its country and region by its probability.

    Soft votes keep an undecided name from steering the others with its current guess,
    and let readings that fit together ("Athens" and "Georgia", both in the US) reinforce
    each other.
    """
    votes = _Context()
    weight = _group_weight(group)
    votes.total = weight
    for entry, prob in zip(group.entries, _softmax(group.scores), strict=True):
        if entry.country_code:
            votes.countries[entry.country_code] += weight * prob
            if entry.admin1:
                votes.regions[(entry.country_code, entry.admin1)] += weight * prob
            if entry.is_country:
                votes.named_countries[entry.country_code] += prob
            elif entry.feature_code == "ADM1" and entry.admin1:
                votes.named_regions[(entry.country_code, entry.admin1)] += prob
    return votes


def _context(votes: list[_Context]) -> _Context:
    ctx = _Context()
    for vote in votes:
        ctx.total += vote.total
        for cc, value in vote.countries.items():
            ctx.countries[cc] += value
        for key, value in vote.regions.items():
            ctx.regions[key] += value
        for cc, value in vote.named_countries.items():
            ctx.named_countries[cc] += value
        for key, value in vote.named_regions.items():
            ctx.named_regions[key] += value
    return ctx


def _group_weight(group: _Group) -> float:
    # Repeated names shape the context more; demonyms count a little.
    t = TUNING
    repeats = min(t.repeat_vote_cap, 1.0 + t.repeat_vote_step * (len(group.spans) - 1))
    return (t.demonym_vote if group.demonym_only else 1.0) * repeats


def _softmax_top(scores: list[float], choice: int) -> float:
    return _softmax(scores)[choice]


def _score(groups: list[_Group], gazetteer: Gazetteer) -> None:
    """Score every reading of every group, in rounds, and set each group's choice."""
    t = TUNING
    for group in groups:
        group.prior = _priors(group.entries)
        for container in group.containers:
            for i, entry in enumerate(group.entries):
                if _contained(entry, container):
                    # "Alexandria, Louisiana": the pattern outweighs any population.
                    group.prior[i] += t.container_bonus
        group.scores = list(group.prior)
        group.choice = max(range(len(group.scores)), key=group.scores.__getitem__)
    for iteration in range(t.iterations):
        before = [group.choice for group in groups]
        votes = [_votes(group) for group in groups]
        ctx = _context(votes)
        near = _proximity(groups)
        for index, group in enumerate(groups):
            own = votes[index]
            others = max(ctx.total - own.total, 1e-9)
            scores = []
            for i, entry in enumerate(group.entries):
                score = group.prior[i]
                cc = entry.country_code
                if cc:
                    support = ctx.countries.get(cc, 0.0) - own.countries.get(cc, 0.0)
                    score += t.country_weight * max(0.0, support) / others
                    # A neighbour's places are weaker evidence: "Gaza" next to "Israel".
                    nearby = sum(
                        ctx.countries.get(n, 0.0) - own.countries.get(n, 0.0)
                        for n in gazetteer.neighbours(cc)
                    )
                    score += t.neighbour_weight * max(0.0, nearby) / others
                    if entry.admin1:
                        key = (cc, entry.admin1)
                        region = ctx.regions.get(key, 0.0) - own.regions.get(key, 0.0)
                        score += t.region_weight * max(0.0, region) / others
                    if not entry.is_country:
                        # A country named anywhere in the article contains its towns.
                        named = ctx.named_countries.get(cc, 0.0) - own.named_countries.get(cc, 0.0)
                        score += t.named_country_weight * min(t.named_support_cap, max(0.0, named))
                    if entry.admin1 and entry.feature_code != "ADM1":
                        # "Virginia" named anywhere makes "Richmond" the one in Virginia.
                        named = ctx.named_regions.get(key, 0.0) - own.named_regions.get(key, 0.0)
                        score += t.named_region_weight * min(t.named_support_cap, max(0.0, named))
                score += t.proximity_weight * float(near[index][i])
                scores.append(score)
            group.scores = scores
            group.choice = max(range(len(scores)), key=scores.__getitem__)
        if iteration > 0 and before == [group.choice for group in groups]:
            break  # settled: another round would only sharpen the same choices
    _discount_isolated(groups)


def _proximity(groups: list[_Group]) -> list[np.ndarray]:
    """For each reading of each group, how close it is to the other groups' readings.

    Every plausible reading of the other names counts, weighted by how plausible it is,
    not only their current choice: two ambiguous neighbours ("Paris" and "Henry County")
    then pull each other to the pair that fits (Paris and Henry County, Tennessee).
    Summed over the other names, capped, so that a town near many others wins. Only the
    likeliest readings of each name take part, and the distance matrix is built a block
    of rows at a time, so that a very long article costs time, not memory. Only the first
    ``TUNING.proximity_names`` names (in order of first mention) take part at all: the
    others get no proximity and give none.
    """
    owner: list[int] = []
    slots: list[tuple[int, int]] = []
    rows: list[tuple[float, float, float]] = []
    # The distances are all pairs of readings: only the first names take part, so that
    # a list of thousands of places costs linear time (news names far fewer).
    for index, group in enumerate(groups[: TUNING.proximity_names]):
        probs = _softmax(group.scores)
        likeliest = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)
        for i in sorted(likeliest[: TUNING.proximity_readings]):
            entry = group.entries[i]
            if entry.feature_class == "P" or entry.feature_code == "ADM2":
                owner.append(index)
                slots.append((index, i))
                rows.append((entry.latitude, entry.longitude, math.sqrt(probs[i])))
    out = [np.zeros(len(group.entries)) for group in groups]
    if len({*owner}) < 2:
        return out
    table = np.asarray(rows)
    lat = np.radians(table[:, 0])
    lon = np.radians(table[:, 1])
    weight = table[:, 2]
    owners = np.asarray(owner)
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    own_column = np.searchsorted(starts, np.arange(len(owner)), side="right") - 1
    total = np.empty(len(owner))
    for lo in range(0, len(owner), _PROXIMITY_BLOCK):
        hi = min(len(owner), lo + _PROXIMITY_BLOCK)
        dlon = (lon[lo:hi, None] - lon[None, :] + np.pi) % (2 * np.pi) - np.pi
        dist = EARTH_RADIUS_KM * np.hypot(
            lat[lo:hi, None] - lat[None, :], dlon * np.cos((lat[lo:hi, None] + lat[None, :]) / 2)
        )
        per_group = np.maximum.reduceat(
            np.exp(-dist / TUNING.proximity_km) * weight, starts, axis=1
        )
        per_group[np.arange(hi - lo), own_column[lo:hi]] = 0.0
        total[lo:hi] = np.minimum(per_group.sum(axis=1), TUNING.proximity_cap)
    for (index, i), value in zip(slots, total, strict=True):
        out[index][i] = value
    return out


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / TUNING.temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _discount_isolated(groups: list[_Group]) -> None:
    """Doubt small towns that nothing else in the article points to.

    "Obama" (a town in Japan) in an article about Washington, or "Hamas" read as another
    name of Hamm: a small town, or any town matched only by one of its other names, of a
    country that no other place, demonym or pattern in the article supports, is more
    likely a word the model mistook for a place.
    """
    chosen = [group.entries[group.choice].country_code for group in groups]
    # How many groups chose each country: "another group chose it" is a count above one.
    chosen_count = Counter(chosen)
    for group in groups:
        entry = group.entries[group.choice]
        loose = entry.name_kind in ("alt", "variant")
        if entry.feature_class != "P" or (
            entry.population >= TUNING.isolated_max_population and not loose
        ):
            continue
        if group.containers or not entry.country_code:
            continue
        if chosen_count[entry.country_code] > 1:  # this group and another
            continue
        group.placeness *= TUNING.isolated_factor


# --------------------------------------------------------------------------- output


def _places(groups: list[_Group]) -> list[Place]:
    merged: dict[int, list[_Group]] = defaultdict(list)
    for group in groups:
        if group.placeness >= TUNING.place_threshold:
            merged[group.entries[group.choice].geonameid].append(group)
    if not merged:
        return []
    results: list[tuple[Place, float]] = []
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
        place = Place(
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
            mentions=_mentions(spans),
        )
        results.append((place, weight))
    results.sort(key=lambda pair: pair[0].mentions[0].start)
    focus = max(range(len(results)), key=lambda i: results[i][1])
    return [
        place.model_copy(update={"focus": True}) if i == focus else place
        for i, (place, _) in enumerate(results)
    ]


def _mentions(spans: Iterable[_Span]) -> list[Mention]:
    seen: set[tuple[int, int]] = set()
    mentions = []
    for span in spans:
        if (span.start, span.end) not in seen:
            seen.add((span.start, span.end))
            mentions.append(Mention(text=span.text, start=span.start, end=span.end))
    return mentions


def _focus_weight(
    entry: GazetteerEntry, spans: list[_Span], confidence: float, demonym_only: bool
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
