"""CoNLL-2003 column files, read back into plain documents with gold entity spans.

A file holds ``token POS chunk IOB-tag`` lines, blank lines between sentences and
``-DOCSTART-`` lines between documents. Each document is rebuilt as plain text (one
sentence a line, tokens joined the way news text is written, so the model sees text like
the articles it serves) with the character span of every token and gold entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Labels of CoNLL-2003.
CONLL_LABELS = ("PER", "LOC", "ORG", "MISC")

# Tokens written without a space before them ("Iraq 's" -> "Iraq's", "word ," -> "word,").
_NO_SPACE_BEFORE = frozenset({",", ".", ":", ";", "!", "?", ")", "]", "}", "%", "'s", "'S"})
_NO_SPACE_BEFORE_PREFIX = ("n't", "'ll", "'re", "'ve", "'m", "'d")
# Tokens written without a space after them ("( Germany" -> "(Germany").
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "$"})


@dataclass(frozen=True, slots=True)
class GoldEntity:
    """A gold entity: a character span of the document text and its CoNLL label."""

    start: int
    end: int
    label: str


@dataclass(frozen=True, slots=True)
class ConllDocument:
    """One document: its text, its tokens' character spans, and its gold entities."""

    text: str
    tokens: list[tuple[int, int]]
    entities: list[GoldEntity]


def _attach(previous: str | None, token: str) -> bool:
    """Whether ``token`` is written right after ``previous``, with no space."""
    if previous is None:
        return False
    if previous in _NO_SPACE_AFTER:
        return True
    return token in _NO_SPACE_BEFORE or token.lower().startswith(_NO_SPACE_BEFORE_PREFIX)


def _iob_entities(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token ranges ``[start, end)`` of the entities in IOB1 or IOB2 tags."""
    out: list[tuple[int, int, str]] = []
    start: int | None = None
    label = ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and start is not None and kind == label
        if start is not None and not continues:
            out.append((start, i, label))
            start = None
        if prefix in {"B", "I"} and not continues:
            start, label = i, kind
    return out


def _build(sentences: list[list[tuple[str, str]]]) -> ConllDocument:
    parts: list[str] = []
    offset = 0
    tokens: list[tuple[int, int]] = []
    entities: list[GoldEntity] = []
    for number, sentence in enumerate(sentences):
        if number:
            parts.append("\n")
            offset += 1
        previous: str | None = None
        first = len(tokens)
        for token, _tag in sentence:
            if previous is not None and not _attach(previous, token):
                parts.append(" ")
                offset += 1
            tokens.append((offset, offset + len(token)))
            parts.append(token)
            offset += len(token)
            previous = token
        for start, end, label in _iob_entities([tag for _token, tag in sentence]):
            entities.append(GoldEntity(tokens[first + start][0], tokens[first + end - 1][1], label))
    return ConllDocument(text="".join(parts), tokens=tokens, entities=entities)


def parse_conll(lines: Iterable[str]) -> Iterator[ConllDocument]:
    """Documents of a CoNLL-2003 file, given as lines."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for raw in lines:
        columns = raw.split()
        if not columns:
            if current:
                sentences.append(current)
                current = []
            continue
        if columns[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
                current = []
            if sentences:
                yield _build(sentences)
                sentences = []
            continue
        current.append((columns[0], columns[-1]))
    if current:
        sentences.append(current)
    if sentences:
        yield _build(sentences)


def read_conll(path: str | Path) -> list[ConllDocument]:
    """Read every document of a CoNLL-2003 column file."""
    # utf-8-sig: a byte-order mark must not become part of the first token.
    with open(path, encoding="utf-8-sig") as handle:
        return list(parse_conll(handle))
