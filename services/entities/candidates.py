"""The spans the geocoder is shown, each with its sentence."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from spacy.lang.en.stop_words import STOP_WORDS

from services.entities.labels import CANDIDATE_LABELS
from services.entities.names import PLACE_CUES, previous_word
from services.entities.spans import Span
from shared.lexicon import words
from shared.schemas import GAZETTEER_INITIAL_LABEL, GAZETTEER_LABEL, PlaceCandidate
from shared.text import split_sentences

_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*){0,3}")
# A run at a sentence's start: words on one line, no possessive ("Dortmund's" is Dortmund).
_INITIAL_RUN = re.compile(r"[A-Z][\w-]*(?:[ \t]+[A-Z][\w-]*){0,2}")
# What follows a place's name before its people or officials: "Dortmund police said".
_PLACE_NOUN_AFTER = re.compile(r"(?:['’]s)?[ \t]+([a-z]+)\b")
_PLACE_NOUNS = words("geo_place_nouns")
# Capitalised words that open sentences and name no place, though a town bears the name.
_NOT_PLACES = words("geo_not_places", "months", "function_words")
# Events and laws are no places, but often named after one ("the Venice International
# Film Festival", "the Virginia Freedom of Information Act"): the geocoder looks inside.
_NAMED_AFTER_PLACES = frozenset({"EVENT", "LAW"})
_DASH_AFTER = re.compile(r"(?:,[^\n—–]{0,30}?)?\s*(?:\([^)\n]{0,20}\)\s*)?(?:—|–|--?)\s")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]*\b")


def _untagged_names(
    view: str,
    sentences: list[tuple[int, int]],
    taken: bytearray,
    is_place: Callable[[str], bool],
) -> list[tuple[int, int, str]]:
    """Names the gazetteer knows that the model left untagged where the small model
    misses places most: at a sentence's start ("Florence banned new rentals") and before
    a place's people or officials ("the Dortmund police said"). Not a word the article
    also writes in lower case ("Police said ... the police").
    """
    starts = {start for start, _ in sentences}
    spots: list[re.Match[str]] = []
    for start in starts:
        run = _INITIAL_RUN.match(view, start)
        # A dateline ("WINDSOR - The town...") is the geocoder's own scan's to read.
        if run is not None and not _DASH_AFTER.match(view, run.end()):
            spots.append(run)
    for run in _CAPITALISED_RUN.finditer(view):
        if run.start() not in starts:
            noun = _PLACE_NOUN_AFTER.match(view, run.end())
            if noun is not None and noun.group(1) in _PLACE_NOUNS:
                spots.append(run)
    if not spots:
        return []
    lower: set[str] | None = None
    out = []
    for run in spots:
        start, end = run.span()
        text = run.group()
        if any(taken[start:end]) or text.lower() in STOP_WORDS or text.lower() in _NOT_PLACES:
            continue
        if " " not in text:
            if lower is None:
                lower = {w.casefold() for w in _LOWER_WORD.findall(view)}
            if text.casefold() in lower:
                continue
        if is_place(text):
            out.append((start, end, GAZETTEER_INITIAL_LABEL))
            taken[start:end] = b"\x01" * (end - start)
    return out


def place_candidates(
    text: str,
    view: str,
    spans: list[Span],
    is_place: Callable[[str], bool] | None,
    not_names: Sequence[tuple[int, int]] = (),
) -> list[PlaceCandidate]:
    """Spans with a candidate label, and (with ``is_place``) names the model missed.

    ``view`` is the text as the model saw it; ``not_names`` are what it read as dates or
    numbers.
    """
    sentences = split_sentences(view) or [(0, len(text))]
    found = [
        (s.start, s.end, s.label)
        for s in spans
        if s.label in CANDIDATE_LABELS or s.label in _NAMED_AFTER_PLACES
    ]
    if is_place is not None:
        # Names the model missed entirely: only capitalised words after a place cue
        # ("in Hamdaniya"), so that sentence-initial common words are not offered, and
        # not what the model read as a date or a number ("in August", a town somewhere).
        taken = bytearray(len(text) + 1)
        for start, end in [*((s.start, s.end) for s in spans), *not_names]:
            taken[start:end] = b"\x01" * (end - start)
        for match in _CAPITALISED_RUN.finditer(view):
            start, end = match.span()
            if any(taken[start:end]) or previous_word(view, start) not in PLACE_CUES:
                continue
            if match.group().lower() in STOP_WORDS or not is_place(match.group()):
                continue
            found.append((start, end, GAZETTEER_LABEL))
            taken[start:end] = b"\x01" * (end - start)
        found.extend(_untagged_names(view, sentences, taken, is_place))
    found.sort()
    out: list[PlaceCandidate] = []
    # One string per sentence, shared by its candidates: a copy each would make a long
    # sentence full of names cost its length times their number.
    sentence_texts: dict[tuple[int, int], str] = {}
    index = 0
    for start, end, label in found:
        while index < len(sentences) - 1 and sentences[index][1] <= start:
            index += 1
        s_start, s_end = sentences[index]
        if not s_start <= start < s_end:
            s_start, s_end = start, end
        sentence = sentence_texts.get((s_start, s_end))
        if sentence is None:
            sentence = sentence_texts.setdefault((s_start, s_end), text[s_start:s_end])
        out.append(
            PlaceCandidate(
                text=text[start:end],
                start=start,
                end=end,
                label=label,
                sentence=sentence,
                sentence_start=s_start,
            )
        )
    return out
