"""Spans the model missed or cut wrong: names with their acronym, initialled people, and
common words it took for names."""

from __future__ import annotations

import bisect
import itertools
import re

from services.entities.names import (
    WORD,
    countries,
    demonyms,
    initialled_names,
    initials,
    name_key,
)
from services.entities.spans import Span, overlay
from services.entities.tuning import TUNING
from shared.lexicon import alternation

_PAREN_ACRONYM = re.compile(r"[ \t]*\([ \t]*([A-Z][A-Z&.]{1,7})[ \t]*\)")
# The capitalised run before "(NLD)": "National League for Democracy".
_LONG_NAME = re.compile(
    r"(?:[A-Z][\w'’.&-]*[ \t]+(?:(?:"
    + alternation("function_words", "entities_long_name_words_extra")
    + r")[ \t]+)*)*"
    r"[A-Z][\w'’.&-]*$"
)
_LISTED_PARTICLES = alternation("entities_listed_name_particles")
# "Steffi Graf (Germany)": a first name and a surname (or more), then a country.
_NAME_BEFORE_COUNTRY = re.compile(
    r"(?<![\w.'’-])(?P<name>[A-Z][a-z][\w'’-]*(?:[ \t]+(?:[A-Z][\w'’-]+|"
    + _LISTED_PARTICLES
    + r")){1,3})[ \t]*\([ \t]*(?P<country>[A-Z][\w.' -]*?)[ \t]*\)"
)
# "Marc Degryse (13th)", "Aunger (41st min, pen)": a scorer and the minute of the goal.
_SCORER = re.compile(
    r"(?<![\w.'’-])(?P<name>[A-Z][a-z][\w'’-]*(?:[ \t]+(?:[A-Z][\w'’-]+|"
    + _LISTED_PARTICLES
    + r")){0,3})[ \t]*\([ \t]*\d{1,3}(?:st|nd|rd|th)\b"
)


def parenthesised_acronyms(text: str, spans: list[Span]) -> list[Span]:
    """Names defined with their acronym, "National League for Democracy (NLD)".

    The acronym takes the name's label; a name the model missed is taken when its
    initials spell the acronym (an organisation, unless it is a country).
    """
    by_end = {s.end: s for s in spans}
    taken = {(s.start, s.end) for s in spans}
    added: list[Span] = []
    for match in _PAREN_ACRONYM.finditer(text):
        acronym = match.group(1)
        bare = acronym.replace(".", "").replace("&", "")
        name = by_end.get(match.start())
        if name is None:
            window = text[max(0, match.start() - TUNING.acronym_window_chars) : match.start()]
            found = _LONG_NAME.search(window)
            if found is None:
                continue
            words = [w for w in found.group().split() if w[0].isupper()]
            # Trim leading words until the initials fit ("The OIC ..." / "said Organisation ...").
            while words and "".join(w[0] for w in words) != bare and len(words) > len(bare):
                words = words[1:]
            if "".join(w[0] for w in words) != bare:
                continue
            end = match.start()
            start = end - len(found.group())
            start = text.index(words[0], start)
            # "the National Organization on Disability's (NOD)": the possessive is the
            # sentence's.
            if text[end - 2 : end] in {"'s", "’s"}:
                end -= 2
            label = "GPE" if text[start:end].lower() in countries() else "ORG"
            if (start, end) not in taken:
                added.append(Span(start, end, label))
        elif name.label == "PERSON" or initials(text[name.start : name.end]) != bare:
            continue  # "Daesh (IS)": an alias, not a definition; clustering may join them
        else:
            label = name.label
        span = (match.start(1), match.end(1))
        if span not in taken:
            added.append(Span(*span, label))
    return overlay(text, spans, added)


def initialled_people(text: str, spans: list[Span]) -> list[Span]:
    """People written with initials ("D. Gough"), or listed with their country or goal.

    The model often misses the first or takes only the surname ("Irani" of "R. Irani");
    in results, a first name and surname before a bracketed country ("Steffi Graf
    (Germany) beat ...") are a player, and a name before the minute of a goal ("Marc
    Degryse (13th)") a scorer, whatever the model made of them.
    """
    starts = {s.start: s for s in spans}
    people: list[Span] = []
    for match in initialled_names(text):
        people.append(Span(match.start(), match.end(), "PERSON"))
    known = countries()
    listed = [
        *(m for m in _NAME_BEFORE_COUNTRY.finditer(text) if name_key(m.group("country")) in known),
        *_SCORER.finditer(text),
    ]
    for match in listed:
        start, end = match.span("name")
        model = starts.get(start)
        # "Hong Kong (China)", "Santiago de Compostela (Spain)": a place in its country.
        if model is not None and (model.end != end or model.label in {"GPE", "LOC", "FAC"}):
            continue
        people.append(Span(start, end, "PERSON"))
    # An added person replaces the spans inside it, and gives way to a span around it
    # ("George W. Bush").
    ordered = sorted(spans, key=lambda s: s.start)
    ordered_starts = [s.start for s in ordered]
    furthest = list(itertools.accumulate((s.end for s in ordered), max))
    kept_people = [p for p in people if not reaches_out(p, ordered, ordered_starts, furthest)]
    return overlay(text, spans, kept_people)


def reaches_out(person: Span, ordered: list[Span], starts: list[int], furthest: list[int]) -> bool:
    """Whether a span overlaps ``person`` and reaches out of it (starts before it or ends
    after it). ``ordered`` are the spans by start, ``furthest`` the running maximum of
    their ends: a binary search, not a pass over every span."""
    first = bisect.bisect_left(starts, person.start)
    # One starting before overlaps when the furthest end so far passes the start.
    if first and furthest[first - 1] > person.start:
        return True
    inside = bisect.bisect_left(starts, person.end, lo=first)
    return any(s.end > person.end for s in ordered[first:inside])


def drop_common_words(text: str, spans: list[Span]) -> list[Span]:
    """Cut common words the model took for names, by the article's own spelling of them.

    A sentence-initial capital says nothing, so a one-word "name" at the start of a line
    or sentence ("Division three", "Shells had smashed") that the article also writes in
    lower case is dropped; so is a leading word of a person's name written so elsewhere
    ("Broker Khurshid Alam" when the article says "broker Shakil Rizvi").
    """
    lowered = {w for w in WORD.findall(text) if w.islower()}
    kept: list[Span] = []
    for span in spans:
        words = text[span.start : span.end].split()
        if len(words) == 1 and words[0].lower() in lowered:
            # The character before the span, spaces and opening quotes skipped (looked
            # for in place: a copy of the text before each span is quadratic).
            before = span.start
            while before > 0 and text[before - 1] in " \t\"“‘'":
                before -= 1
            if before == 0 or text[before - 1] in "\n.!?:":
                continue
        elif (
            span.label == "PERSON"
            and len(words) >= TUNING.person_lead_cut_min_words
            and words[0].lower() in lowered
        ):
            span.start = text.index(words[1], span.start + len(words[0]))
        kept.append(span)
    return kept


def leading_nationalities(text: str, spans: list[Span]) -> list[Span]:
    """A nationality in front of a person's name is a group of its own: "Colombian
    Camilo Villegas" is "Colombian" (NORP) and the person "Camilo Villegas"."""
    known = demonyms()
    out: list[Span] = []
    for span in spans:
        first, _, rest = text[span.start : span.end].partition(" ")
        if span.label == "PERSON" and first in known and rest[:1].isupper():
            end = span.start + len(first)
            out.append(Span(span.start, end, "NORP", from_model=False))
            span.start = end + 1
        out.append(span)
    return out
