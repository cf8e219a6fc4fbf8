"""Step 1a: the places a candidate span names, trimmed and looked up, with their context.

The whole span ("Mosul"), its parts ("Alexandria, Louisiana"), its named part ("Nineveh
plain", "Northeast Georgia"), or place names inside a longer name ("University of
Georgia", "Gainesville Police Department").
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Final

from services.geocoder.index import Gazetteer, GazetteerEntry
from services.geocoder.names import normalize_name
from services.geocoder.tuning import TUNING
from shared.lexicon import words
from shared.schemas import PlaceCandidate

# Capitalised words that name no place in news but match a GeoNames town somewhere.
_NOT_PLACES: Final = words("geo_not_places")
_CALENDAR: Final = words("months", "geo_calendar_words_extra")
_DIRECTIONS: Final = words("geo_directions")
_GENERIC_TAIL: Final = words("place_kinds", "geo_generic_tails_extra")
_FUNCTION: Final = words("function_words", "geo_function_words_extra")
_INSTITUTIONS: Final = words("geo_institution_words")
_INSTITUTION_LOCATIVES: Final = words("geo_institution_locatives")
_FEATURES: Final = words("geo_feature_words")
_STATE_BODIES: Final = words("geo_state_bodies")
# Words of a name, its hyphenated compounds apart ("Logan-Rogersville", "Nebraska-Lincoln").
_PART_TOKEN: Final = re.compile(r"\w[\w.&]*(?:['’]\w+)*")
_POSSESSIVE: Final = re.compile(r"['’]s?$")
# Matched at the span's end (``match(sentence, end)``), hence no "^".
_CONTAINER_AFTER: Final = re.compile(r"\s*,\s*((?:[A-Z][\w'’.-]*)(?:\s+[A-Z][\w'’.-]*){0,3})")
#: Words no person's name holds: a "person" span with one is a place's office or a
#: feature ("Alexandria Police", "Avondale Mayor", "Freeborn Lake").
NOT_PERSON_WORDS: Final = _INSTITUTIONS | _FEATURES | words("geo_place_nouns")
_COMMA: Final = re.compile(r"\s*,\s*")
_TRIM_LEAD: Final = re.compile(r"^(?:the|The|THE)\s+")
_TRIM_TAIL: Final = re.compile(r"(?:['’]s|['’])$")


@dataclass(slots=True)
class Span:
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
    #: A name inside a longer one, at its head ("Bridgeport" in "Bridgeport Superior Court").
    heads_name: bool = False
    #: At the head of a state body's name ("Georgian" in "Georgian Foreign Ministry").
    heads_state_body: bool = False
    #: For a region or country found after a town and its comma ("Barrie, Ont."): the town.
    head: Span | None = None
    placeness: float = 0.0
    person_cue: bool = False
    club_cue: bool = False


def candidate_spans(cand: PlaceCandidate, gazetteer: Gazetteer) -> list[Span]:
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
    if len(parts) == 1 and len(out) == 1 and out[0].container_text and out[0].origin == "whole":
        found = _container_span(cand, out[0], gazetteer)
        if found is not None:
            out.append(found)
    return out


def _container_span(cand: PlaceCandidate, head: Span, gazetteer: Gazetteer) -> Span | None:
    """The region or country after a town and its comma, as a mention of its own: the
    small model tags "Ont." in "Barrie, Ont." a person, or nothing at all."""
    comma = _COMMA.match(head.after)
    if comma is None or head.container_text is None:
        return None
    words = head.container_text.split()
    for size in range(len(words), 0, -1):
        text = " ".join(words[:size])
        norm = normalize_name(text)
        entries = [
            e
            for e in gazetteer.lookup_normalized(norm)
            if e.is_country or e.feature_code in ("ADM1", "ADM2")
        ]
        if entries and norm not in _NOT_PLACES:
            start = head.end + comma.end()
            # The dot of "Ont." is the abbreviation's; a sentence's last dot is not.
            span = make_span(
                cand,
                label="GPE",
                text=text,
                start=start,
                norm=norm,
                entries=entries,
                origin="container",
            )
            span.head = head
            return span
    return None


def _part_spans(
    cand: PlaceCandidate, part: str, part_start: int, container: str | None, gazetteer: Gazetteer
) -> list[Span]:
    norm = normalize_name(part)
    if not norm or norm in _NOT_PLACES:
        return []
    if norm in _CALENDAR and cand.label not in ("GPE", "LOC"):
        return []  # "in August" is a month, whatever town is called August
    entries = gazetteer.lookup_normalized(norm)
    if cand.label == "NORP":
        # "Canadian" is the people of Canada before it is Canadian, Texas.
        entries = [e for e in entries if e.name_kind == "demonym"] or entries
        if not entries:
            entries = region_demonym(norm, gazetteer)
    if entries:
        return [
            make_span(
                cand, text=part, start=part_start, norm=norm, entries=entries, container=container
            )
        ]
    # "Russian-American", "Logan-Rogersville": each part of a compound may be a place.
    tokens = list(_PART_TOKEN.finditer(part))
    if len(tokens) < 2:
        return []
    first, last = tokens[0].group().casefold(), tokens[-1].group().casefold()
    if first in _DIRECTIONS or first.replace(".", "") in _DIRECTIONS:
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
                make_span(
                    cand,
                    text=head,
                    start=part_start,
                    norm=head_norm,
                    entries=entries,
                    container=container,
                )
            ]
    inner = _inner_spans(cand, part, part_start, tokens, gazetteer)
    if cand.label == "PERSON":
        # A person's name holds no place, but "Alexandria Police", "Avondale Mayor" or
        # "Laurel County Clerk Dean Johnson", which the small model tags PERSON, do.
        return [span for span in inner if span.locates_institution or _heads_with_county(span)]
    return inner


def _heads_with_county(span: Span) -> bool:
    """A county named in full at the head of a longer name ("Anderson County Sheriff")."""
    return (
        span.heads_name
        and any(e.feature_code == "ADM2" and e.name_kind == "name" for e in span.entries)
        and " " in span.text
    )


#: How a region's people are named after it: "Ohioans", "Minnesotans", "Texan",
#: "Dagestani", "Ontarians" (a suffix off, and the region's last letter back).
_DEMONYM_SUFFIXES: Final = ("ians", "ans", "ns", "ian", "an", "n", "is", "i")
_DEMONYM_ENDINGS: Final = ("", "o", "a", "s")


def region_demonym(norm: str, gazetteer: Gazetteer) -> list[GazetteerEntry]:
    """The first-level region a NORP name the gazetteer does not know is the people of
    ("Ohioans" Ohio, "Dagestani" Dagestan), as a demonym of that region; or nothing."""
    if " " in norm:
        return []
    for suffix in _DEMONYM_SUFFIXES:
        if not norm.endswith(suffix) or len(norm) - len(suffix) < 3:
            continue
        stem = norm[: -len(suffix)]
        for ending in _DEMONYM_ENDINGS:
            found = [
                dataclasses.replace(e, name_kind="demonym")
                for e in gazetteer.lookup_normalized(stem + ending)
                if e.feature_code == "ADM1" and e.name_kind == "name"
            ]
            if found:
                return found
    return []


def _inner_spans(
    cand: PlaceCandidate,
    part: str,
    part_start: int,
    tokens: list[re.Match[str]],
    gazetteer: Gazetteer,
) -> list[Span]:
    """Place names inside a longer name: "University of Georgia", "Gainesville Police"."""
    out = []
    folded = [tok.group().casefold().rstrip(".") for tok in tokens]
    i = 0
    while i < len(tokens):
        first = tokens[i].group()
        if not first[0].isupper() or first.casefold() in _FUNCTION:
            i += 1  # no name starts here, whatever its length
            continue
        for size in range(min(TUNING.inner_name_max_words, len(tokens) - i), 0, -1):
            if size == len(tokens):
                continue
            window = tokens[i : i + size]
            text = part[window[0].start() : window[-1].end()]
            text = _POSSESSIVE.sub("", text) if size == 1 or "'" in text or "’" in text else text
            norm = normalize_name(text)
            if norm in _NOT_PLACES:
                continue
            entries = gazetteer.lookup_normalized(norm)
            if not entries:
                continue
            # "Clinton Street", "Lake Cumberland" are not those towns; "Florida Highway
            # Patrol" is still Florida's.
            region = any(_is_region_name(e) for e in entries)
            if not region and _names_feature(folded, i, size):
                continue
            if size == 1:
                # "Canadian Coast Guard": a demonym inside a name is the demonym, not
                # Canadian, Texas.
                entries = [e for e in entries if e.name_kind == "demonym"] or entries
            # "University of Georgia", "Gainesville Police Department", "Bridgeport
            # Superior Court": a place name after "of", or heading a name with an
            # institution's noun, names where the institution is.
            locates = (i > 0 and folded[i - 1] in _INSTITUTION_LOCATIVES) or (
                i == 0 and any(word in _INSTITUTIONS for word in folded[i + size : i + size + 2])
            )
            span = make_span(
                cand,
                text=text,
                start=part_start + window[0].start(),
                norm=norm,
                entries=entries,
                origin="inner",
            )
            span.locates_institution = locates
            span.heads_name = i == 0
            # "the Georgian Foreign Ministry": a demonym heading a state body's name.
            span.heads_state_body = i == 0 and any(
                word in _STATE_BODIES for word in folded[i + size :]
            )
            out.append(span)
            i += size - 1
            break
        i += 1
    return out


def _is_region_name(entry: GazetteerEntry) -> bool:
    """A country or first-level region under its own name."""
    return entry.name_kind in ("name", "alias") and (
        entry.is_country or entry.feature_code == "ADM1"
    )


def _names_feature(folded: list[str], i: int, size: int) -> bool:
    """Whether the words ``folded[i:i + size]`` (case-folded, no final dot) are, or are
    part of, a street's, a river's or another feature's name ("Clinton Street", "Lake
    Cumberland", "Forest")."""
    if size == 1 and folded[i] in _FEATURES:
        return True
    return (i > 0 and folded[i - 1] in _FEATURES) or (
        i + size < len(folded) and folded[i + size] in _FEATURES
    )


def make_span(
    cand: PlaceCandidate,
    *,
    text: str,
    start: int,
    norm: str,
    entries: list[GazetteerEntry],
    origin: str = "whole",
    container: str | None = None,
    label: str | None = None,
) -> Span:
    """A :class:`Span` of ``cand``'s sentence: ``text`` at ``start``, with its readings.

    Its context is read here: the words before and after it, and for a whole span the
    region or country right after it ("Gainesville, Ga.") unless ``container`` is given.
    ``label`` overrides the candidate's (a scan's find is a GPE whatever held its sentence).
    """
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
    return Span(
        text=text,
        start=start,
        end=start + len(text),
        label=cand.label if label is None else label,
        before=sent[max(0, rel_start - TUNING.context_chars) : max(0, rel_start)],
        after=after,
        container_text=container,
        article_pos=start,
        norm=norm,
        entries=entries[: TUNING.max_readings],
        origin=origin,
    )
