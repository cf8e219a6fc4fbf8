"""Labels repaired with the article's own evidence: places named as such, places the model
took for people, lone words labelled by the full name they shorten, names listed
together, and names after an honorific."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from services.entities.names import PLACE_CUES, countries, name_key, name_tokens, previous_word
from services.entities.spans import Span
from services.entities.tuning import TUNING
from shared.lexicon import alternation

# "the town of Tavildara", "the province of Nineveh": what follows is a place.
_PLACE_OF = re.compile(
    r"\b(?:" + alternation("place_kinds", "entities_place_kinds_extra") + r")[ \t]+of[ \t]+"
    r"([A-Z][\w'’-]+(?:[ \t-][A-Z][\w'’-]+){0,2})"
)


def named_places(text: str, spans: list[Span]) -> list[Span]:
    """Names after "the town of", "the city of"...: places, whatever the model said."""
    by_range = {(s.start, s.end): s for s in spans}
    covered = bytearray(len(text) + 1)
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    added: list[Span] = []
    for match in _PLACE_OF.finditer(text):
        start, end = match.span(1)
        named = by_range.get((start, end))
        if named is not None:
            if named.label not in {"GPE", "LOC", "FAC"}:
                named.label, named.weight = "GPE", TUNING.layout_weight
        elif not any(covered[start:end]):
            added.append(Span(start, end, "GPE", weight=TUNING.layout_weight))
    return sorted([*spans, *added], key=lambda s: s.start) if added else spans


def _person_words(text: str, spans: list[Span]) -> set[str]:
    """Given names and surnames of the people the article names in full."""
    found: set[str] = set()
    for span in spans:
        if span.label == "PERSON":
            tokens = name_tokens(text[span.start : span.end])
            if len(tokens) > 1:
                found.update((tokens[0], tokens[-1]))
    return found


def fix_place_people(text: str, spans: list[Span], is_place: Callable[[str], bool] | None) -> None:
    """Relabel as places the "people" that the article itself shows to be places.

    A country is no person ("Tristan Hoffman (Netherlands)") and no organisation, and
    the place of the article's dateline ("TAVILDARA 1996-08-30", "MOSUL, Iraq (AFP) -")
    is no person where the text names it again. With a gazetteer, a one-word "person"
    it knows as a place is one when the article calls it a place elsewhere or a place
    word comes before it ("the base of Qayyarah", "the Nineveh plain"), unless the
    article names a person of that name in full ("Barack Obama ... the Obama
    administration").
    """
    place_keys = {name_key(text[s.start : s.end]) for s in spans if s.label in {"GPE", "LOC"}}
    # Layout-fixed places: a dateline's (a person of the same name is rare, a club is not).
    dateline_keys = {name_key(text[s.start : s.end]) for s in spans if s.locked}
    known = countries()
    people = _person_words(text, spans)
    for span in spans:
        surface = text[span.start : span.end]
        key = name_key(surface)
        if key in people:
            continue
        if span.label in {"ORG", "FAC", "PRODUCT", "EVENT"} and key in known:
            span.label = "GPE"  # "the Belarus parliament": a country is a place
        if span.label != "PERSON":
            continue
        if (
            key in known
            or key in dateline_keys
            or (
                is_place is not None
                and (key in place_keys or previous_word(text, span.start) in PLACE_CUES)
                and is_place(surface)
            )
        ):
            span.label = "GPE"


def short_forms(text: str, spans: list[Span], is_place: Callable[[str], bool] | None) -> None:
    """Label a lone word by the full name it shortens.

    A person's surname or given name ("Lebed told reporters" after "Alexander Lebed",
    "Wang" after "Wang Donghai") is that person, unless the gazetteer and the words before
    it make it a place ("in Jordan"). A "person" that is the first word of an organisation
    named in full ("Magna" after "Magna International") is that organisation.
    """
    person_words = _person_words(text, spans)
    org_heads: set[str] = set()
    for s in spans:
        tokens = name_tokens(text[s.start : s.end])
        if len(tokens) > 1 and s.label == "ORG":
            org_heads.add(tokens[0])
    for span in spans:
        tokens = name_tokens(text[span.start : span.end])
        if len(tokens) != 1 or span.locked:
            continue
        if span.label != "PERSON" and tokens[0] in person_words:
            surface = text[span.start : span.end]
            if not (
                is_place is not None
                and previous_word(text, span.start) in PLACE_CUES
                and is_place(surface)
            ):
                span.label = "PERSON"
        elif span.label == "PERSON" and tokens[0] in org_heads and tokens[0] not in person_words:
            span.label = "ORG"


# Between two names of a list: "Iraq, Syria and Jordan", "Given, Breen, Staunton".
_LIST_JOIN = re.compile(r"[ \t]*(?:,|,?[ \t]+(?:and|or|&))[ \t]+")


def listed_names(text: str, spans: list[Span]) -> None:
    """Names listed together are of one kind: a list of three names or more whose
    labels are mostly one ("Given, Breen, Staunton, Houghton, Townsend" of which the
    model took two for places) gives that label to the others."""
    ordered = sorted(spans, key=lambda s: s.start)
    run: list[Span] = []
    for i, span in enumerate(ordered):
        run.append(span)
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        if following is not None and _LIST_JOIN.fullmatch(text, span.end, following.start):
            continue
        if len(run) >= TUNING.list_min_names:
            votes = Counter(s.label for s in run if not s.locked)
            if votes:
                label, count = votes.most_common(1)[0]
                if count > TUNING.list_majority * len(run):
                    for member in run:
                        # A person named in full is the model's surest reading.
                        full_name = (
                            member.label == "PERSON" and " " in text[member.start : member.end]
                        )
                        if not member.locked and not full_name:
                            member.label = label
        run = []


# "Mr Camus", "Lord Janner": an honorific at the start of the name, or right before it.
_HONORIFICS = r"(?<![\w.])(?:" + alternation("entities_honorifics") + r")[ \t]+"
_HONORIFIC = re.compile(_HONORIFICS)
_HONOURED = re.compile(_HONORIFICS + r"$")


def honoured_people(text: str, spans: list[Span]) -> None:
    """A name right after an honorific ("Mr Camus", "Lord Janner") is a person, whatever
    the model said; an honorific the model took into the name is cut from it."""
    for span in spans:
        if span.locked:
            continue
        inside = _HONORIFIC.match(text, span.start, span.end)
        if inside is not None and inside.end() < span.end:
            span.start = inside.end()
            span.label = "PERSON"
        elif _HONOURED.search(text, max(0, span.start - 8), span.start):
            span.label = "PERSON"
