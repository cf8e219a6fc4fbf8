"""The spans the geocoder is shown, each with its sentence."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from spacy.lang.en.stop_words import STOP_WORDS

from services.entities.labels import CANDIDATE_LABELS
from services.entities.names import PLACE_CUES, previous_word
from services.entities.spans import Span
from shared.schemas import GAZETTEER_LABEL, PlaceCandidate
from shared.text import split_sentences

_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*){0,3}")


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
    found = [(s.start, s.end, s.label) for s in spans if s.label in CANDIDATE_LABELS]
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
