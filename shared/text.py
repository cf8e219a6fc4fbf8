"""Sentence splitting and word tokens for English news text, without a language model.

Shared by the entity and summary stages. A rule-based splitter is fast enough for
thousands of articles a second and keeps exact character offsets into the original text.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences", "tokenize_words"]


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_LINE = re.compile(r"[^\r\n]+")
# A whitespace-delimited token ending in a run of terminators, with any closing quotes or
# brackets glued to it, then whitespace before the next sentence (left unconsumed).
_BOUNDARY = re.compile(r"(?<!\S)(\S*?)([.!?…]+)[\"”’'»)\]]*(?=\s+\S)")
_ALNUM = re.compile(r"[^\W_]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_OPENERS = "\"“‘'«([{"
_NEXT_WORD = re.compile(r"[\"“‘'«(\[]*([A-Za-z]+)")

# Titles placed before names: a full stop after them never ends a sentence.
_TITLES = _words(
    """mr mrs ms messrs mme mlle dr prof gen lt col capt cpt maj sgt cpl pte pvt adm cmdr
    cdr brig gov sen rep rev fr hon pres supt insp det st mt rt gens sens reps vs v"""
)
# Abbreviations that precede a number ("Jan. 5", "No. 10"); before a word they may end one.
_BEFORE_NUMBER = _words(
    "jan feb mar apr jun jul aug sep sept oct nov dec no nos vol vols p pp art fig figs ch sec"
)
# Abbreviations that often end a sentence as well as sit inside one ("in the U.S. The").
_AMBIGUOUS = _words(
    """inc ltd co corp bros plc llc cos etc al approx est dept univ assn ave blvd rd
    esq jr sr ft"""
)
# Words that start sentences but are rarely part of a name: after an ambiguous
# abbreviation or an initial, a capitalised word from this list means a new sentence.
_STARTERS = _words(
    """a an the this that these those there it its he she they we i you his her their our
    my your but and or so yet if when while after before as at in on for from by with
    however meanwhile also then now still although though because since what who why how
    where which some many most no not one two three all both each police officials
    according last next earlier later today yesterday"""
)
# A sentence glued to the one before without a full stop, as scraped pages leave photo
# captions ("... in the corner It was then ..."): a capitalised pronoun or determiner,
# then a lower-case word, right after a lower-case word or a number. Mid-sentence these
# words are capitalised only in names, which a capitalised word follows ("The Hague").
_GLUED = re.compile(
    r"(?<=[a-z0-9%’'”])[ \t]+(?=(?:The|He|She|They|It|We|His|Her|Their|This|These|But|However)"
    r"[ \t]+[a-z])"
)


def _ends_sentence(text: str, word: str, terminators: str, gap_end: int) -> bool:
    """Whether ``word`` followed by ``terminators`` closes a sentence."""
    nxt = text[gap_end]
    if nxt.islower():
        return False
    if terminators != ".":
        return True  # "?", "!", or an ellipsis, followed by a capital
    word = word.lstrip(_OPENERS)
    if not word:
        return True
    lower = word.lower()
    if lower in _TITLES:
        return False
    if lower in _BEFORE_NUMBER:
        return not nxt.isdigit()
    initial = len(word) == 1 and word.isupper()
    dotted = "." in word and all(len(p) <= 2 and p.isalpha() for p in word.split(".") if p)
    if initial or dotted or lower in _AMBIGUOUS:
        match = _NEXT_WORD.match(text, gap_end)
        return match is not None and match.group(1).lower() in _STARTERS
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences, as ``(start, end)`` spans into the original string.

    Spans are in order and trimmed of surrounding whitespace, so ``text[start:end]`` is the
    sentence. Line breaks always end a sentence. A full stop does not end one after a
    title ("Mr.", "Gen."), an initial ("J. K. Rowling"), a dotted acronym ("U.S.") unless
    a typical sentence opener follows, inside a number ("3.5", "$1.13bn"), or after a list
    item's number ("2. The"). A sentence may end inside closing quotes or brackets, and
    after "?", "!" or an ellipsis. Stray punctuation joins the sentence before it.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start, line_end = line.span()
        first = len(spans)
        for boundary in _BOUNDARY.finditer(text, start, line_end):
            word = boundary.group(1)
            if boundary.start() == start and word.isdigit() and len(word) <= 2:
                continue  # a list item's number: "2. The house"
            stop = gap_end = boundary.end()
            while text[gap_end].isspace():
                gap_end += 1
            if _ends_sentence(text, word, boundary.group(2), gap_end):
                _append_glued(text, start, stop, spans, first)
                start = gap_end
        _append_glued(text, start, line_end, spans, first)
    return spans


def _append_glued(
    text: str, start: int, end: int, spans: list[tuple[int, int]], line_first: int
) -> None:
    """Add the sentence ``text[start:end]``, split where another was glued onto it."""
    for glued in _GLUED.finditer(text, start, end):
        # The word before the pronoun, found from its end: a search from the sentence's
        # start for each glued pronoun is quadratic in a long sentence.
        token = glued.start()
        while token > start and not text[token - 1].isspace():
            token -= 1
        # After a capitalised word the pronoun may belong to a name ("Plan It Now").
        if token == glued.start() or text[token].isupper():
            continue
        _append_trimmed(text, start, glued.start(), spans, line_first)
        start = glued.end()
    _append_trimmed(text, start, end, spans, line_first)


def _append_trimmed(
    text: str, start: int, end: int, spans: list[tuple[int, int]], line_first: int
) -> None:
    """Add ``text[start:end]`` without its surrounding whitespace, unless it is empty.

    Stray punctuation (" . ." in scraped text) joins the previous sentence on its line.
    """
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end <= start:
        return
    if len(spans) > line_first and not _ALNUM.search(text, start, end):
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


def tokenize_words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``.

    A token is a run of letters and digits in any script, inner apostrophes kept ("isn't");
    punctuation, "_" and symbols separate tokens.
    """
    return _WORD.findall(text.lower())
