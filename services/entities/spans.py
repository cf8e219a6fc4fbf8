"""Spans: the model's names cut to the name, and how spans from other rules join them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.entities.labels import NAME_LABELS, TITLE_LIKE_LABELS
from shared.lexicon import alternation


@dataclass(slots=True)
class Span:
    """A name in the text: character offsets and a label the repairs may change."""

    start: int
    end: int
    label: str
    from_model: bool = True
    # How much the span's label counts when the article's occurrences of a name vote.
    weight: int = 1
    # Layout fixes the label (a dateline's place): the vote does not change it.
    locked: bool = False


# Titles and honorifics in front of a name (shared/lexicon/person_titles.txt and
# entities_person_titles_extra.txt). Ranks may be stacked ("Lieutenant General", "former
# Prime Minister"), so the pattern is applied until it no longer matches. "St." starts
# place names too: cut only before two names.
_TITLE = re.compile(
    r"(?:"
    + alternation("person_titles", "entities_person_titles_extra")
    + r"|st\.?(?=\s+[A-Z]\w*\s+[A-Z]))\s+",
    re.IGNORECASE,
)
# Characters that never start or end a name ("“Mosul" from a stray quote, "Iraq," ...).
_EDGE = "\"'“”‘’«»()[]{}<>,;:!?*|/\\–—-_ \t\r\n"
_LEADING_JUNK = re.compile(r"(?:the|[\d.,:/+-]+)\s+", re.IGNORECASE)
# A month before an organisation's or a place's name dates it: "the August National
# Association of Purchasing Management index", "the September Treasury bond". Not "May",
# a name too ("May Department Stores").
_LEADING_MONTH = re.compile(
    r"(?i:(?!may\b)(?:" + alternation("months") + r"))\s+(?=[A-Z])(?![A-Z]\.)"
)
_DATED_LABELS = frozenset({"ORG", "GPE", "LOC", "NORP"})
_QUOTES = "\"'“‘«"
_TRAILING_SCORE = re.compile(r"(?:\s+\d{1,2}-\d{1,2})+$")
# ... and a reporting period ("Computer Systems Inc Q2", "Martela H1").
_TRAILING_JUNK = re.compile(
    r"(?:\s+(?:[\d.,:/+-]+|\d+(?:st|nd|rd|th)|[QH][1-4]|[a-z]+(?:['’][a-z]+)?))+$"
)
# A bracket that does not close inside the span: "Fredericks (Namibia", "World Health
# Organization (WHO". A closed one may be part of a name ("Alan John Percivale (A.J.P.)
# Taylor").
_OPEN = r"[ \t]*\([ \t]*(?![^()\n]*\))"
_OPEN_BRACKET = re.compile(_OPEN)
_NAME_BREAK = re.compile(r"\n|[ \t]+(?:-{1,2}|–|—)[ \t]+|,[ \t]*|" + _OPEN)
_LINE_BREAK = re.compile(r"\n|" + _OPEN)
_COMMA_BREAK = re.compile(r"\n|,[ \t]*|" + _OPEN)
# Inside a person's span, a lower-case word other than a name particle ("Ludwig van
# Beethoven", "Kengo wa Dondo") joins two names: "Laurent Cabannes and Laurent Benezech",
# "Yorkshire at Headingley".
_PERSON_JOIN = re.compile(
    r"[ \t]+(?:&|(?!(?:"
    + alternation(
        "arabic_articles", "entities_name_particles_extra", "entities_person_name_particles_extra"
    )
    + r")\b)[a-z]+)[ \t]+"
)

# Inside another name's span, a lower-case word that no name holds ("of", "de", "al")
# joins two names: "Real Madrid against Real Union", "Yorkshire at Headingley".
_NAME_JOIN = re.compile(
    r"[ \t]+(?!(?:"
    + alternation(
        "function_words",
        "entities_long_name_words_extra",
        "entities_listed_name_particles",
        "entities_name_particles_extra",
        "arabic_articles",
    )
    + r")\b)[a-z]+[ \t]+"
)
_JOINED_LABELS = frozenset({"ORG", "GPE", "LOC", "NORP", "FAC"})


def trim(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Cut what is not part of the name; offsets stay in ``text``.

    Edge punctuation, a leading "the" or number ("286 Miguel Angel Jimenez", a rank in a
    table), trailing numbers ("Kent 108-3", a score) and common words ("Interfax news
    agency", "Islamic State group") but not from titles and events, a possessive, and
    people's titles.
    """
    while True:
        before = (start, end)
        while start < end and text[start] in _EDGE:
            start += 1
        while start < end and text[end - 1] in _EDGE:
            end -= 1
        # A possessive belongs to the sentence, not the name ("Iraq’s").
        if end - start > 2 and text[end - 2 : end] in {"'s", "’s"}:
            end -= 2
        lead = _LEADING_JUNK.match(text, start, end)
        # A quoted title's own "The" is part of it (' "The Crying Game" '); not a lower-case
        # one, nor one before a name the model took for a title ("The Lib Dems").
        keeps_the = (
            label == "WORK_OF_ART"
            and text.startswith("The ", start)
            and text[:start].rstrip(" \t")[-1:] in _QUOTES
        )
        if lead is not None and lead.end() < end and not keeps_the:
            start = lead.end()
        month = _LEADING_MONTH.match(text, start, end) if label in _DATED_LABELS else None
        if month is not None and month.end() < end:
            start = month.end()
        # Titles may end in a number or a common word ("Euro 96", "War and Peace"), but
        # not in a score ("Lithuania 2-1").
        trailing = _TRAILING_SCORE if label in TITLE_LIKE_LABELS else _TRAILING_JUNK
        tail = trailing.search(text, start, end)
        if tail is not None and tail.start() > start:
            end = tail.start()
        if label == "PERSON":
            title = _TITLE.match(text, start, end)
            if title is not None and title.end() < end:
                start = title.end()
        if (start, end) == before:
            return start, end


def model_spans(text: str, ents: Sequence[tuple[int, int, str]]) -> list[Span]:
    """The model's names, cut to the name (see :func:`trim`), dates and numbers left out."""
    spans: list[Span] = []
    for raw_start, raw_end, label in ents:
        if label not in NAME_LABELS:
            continue
        # A name never runs across a line break, a spaced dash or a comma ("RUGBY UNION -
        # SOUTH AFRICA", "Mercantile, Commerce"), nor a person's across "and" ("Laurent
        # Cabannes and Laurent Benezech"): such a span is two names, or a name and junk.
        breaks = (
            _NAME_BREAK
            if label not in TITLE_LIKE_LABELS
            else _LINE_BREAK
            if label == "WORK_OF_ART"
            else _COMMA_BREAK
        )
        bounds = [raw_start]
        for gap in breaks.finditer(text, raw_start, raw_end):
            bounds.extend((gap.start(), gap.end()))
        joins = _PERSON_JOIN if label == "PERSON" else _NAME_JOIN
        if label == "PERSON" or label in _JOINED_LABELS:
            for gap in joins.finditer(text, raw_start, raw_end):
                bounds.extend((gap.start(), gap.end()))
        bounds = [raw_start, *sorted(bounds[1:]), raw_end]
        # Cut at a bracket, "Stephy Mavididi (Arsenal" is a player and his club: the
        # model's one label for both says nothing of either, so the pieces do not vote.
        whole = _OPEN_BRACKET.search(text, raw_start, raw_end) is None
        for piece_start, piece_end in zip(bounds[::2], bounds[1::2], strict=True):
            start, end = trim(text, piece_start, piece_end, label)
            end = _sentence_stop(text, start, end)
            if end > start and any(c.isupper() for c in text[start:end]):
                spans.append(Span(start, end, label, from_model=whole))
    return spans


def join_demonyms(text: str, spans: list[Span]) -> list[Span]:
    """One group named by two words the model split: "Iraqi Kurds", "Iraqi Kurdish"."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        last = out[-1] if out else None
        if (
            last is not None
            and last.label == span.label == "NORP"
            and text[last.end : span.start] == " "
        ):
            last.end = span.end
        else:
            out.append(span)
    return out


def _sentence_stop(text: str, start: int, end: int) -> int:
    """Leave out a full stop that ends the sentence as well as the name ("Lear Corp.").

    The stop stays when the name has others ("U.S."), or when the text goes on in lower
    case ("Lear Corp. said").
    """
    if end - start < 2 or text[end - 1] != "." or "." in text[start : end - 1]:
        return end
    following = text[end : end + 3].lstrip(" \t")
    if not following or following[0] in "\n\"”’'" or following[0].isupper():
        return end - 1
    return end


def overlay(text: str, spans: list[Span], extra: list[Span]) -> list[Span]:
    """``spans`` with ``extra`` added; a model span overlapping an extra one gives way."""
    if not extra:
        return spans
    covered = bytearray(len(text) + 1)
    for span in extra:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    kept = [s for s in spans if not any(covered[s.start : s.end])]
    return sorted([*kept, *extra], key=lambda s: s.start)
