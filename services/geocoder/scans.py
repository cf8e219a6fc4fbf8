"""Step 1b: names the model did not tag, found by scanning the sentences that came with
candidates: datelines ("COLUMBUS, Ohio (AP) —") and capitalised names after a locative
word ("in Qayyarah")."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from typing import Final

from services.geocoder.index import Gazetteer, GazetteerEntry
from services.geocoder.names import normalize_name
from services.geocoder.spans import Span, make_span
from services.geocoder.tuning import TUNING
from shared.lexicon import alternation, words
from shared.schemas import PlaceCandidate

# Capitalised words that name no place in news but match a GeoNames town somewhere.
_NOT_PLACES: Final = words("geo_not_places")
_CALENDAR: Final = words("months", "geo_calendar_words_extra")
_DATELINE: Final = re.compile(
    r"(?:^|(?<=\s))([A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+){0,3})"
    r"(,\s*[A-Z][\w.]*(?: [A-Z][\w.]*)?)?\s*(?:\([A-Za-z. ]+\)\s*)?(?:—|–|--?|\x97|:)\s"
)
# What every dateline holds: a dash or colon, and two capitals in a row. Most sentences
# have neither, and these tests cost a fifth of the full pattern's search.
_DATELINE_MARKS: Final = ("-", ":", "—", "–", "\x97")
_DATELINE_CAPITALS: Final = re.compile(r"[A-Z][A-Z'’.-]")
# A legislator's party and home town: "Rep. Jay Roberts (R-Ocilla)", "D-W. Va.".
_AFFILIATION: Final = re.compile(
    r"(?<![\w-])(?:R|D|I|DFL)-([A-Z][\w'’]*\.?(?:[ \t][A-Z][\w'’]*\.?){0,2})(?=[,;)]|[ \t]+[-–—])"
)
# Counties listed before "counties": "in Geauga and Medina counties".
_COUNTIES: Final = re.compile(r"[ \t]+counties\b")
_COUNTY_NAME: Final = r"[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*)?"
_COUNTY_LIST: Final = re.compile(
    r"(?<![\w'’.-])("
    + _COUNTY_NAME
    + r"(?:(?:,[ \t]*|,?[ \t]+and[ \t]+)"
    + _COUNTY_NAME
    + r"){0,12})$"
)
_LIST_SEPARATOR: Final = re.compile(r",[ \t]*|,?[ \t]+and[ \t]+")
_AFTER_LOCATIVE: Final = re.compile(
    r"\b(?:" + alternation("geo_locative_openers") + ")"
    r"\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\b"
)

# What every affiliation holds ("R-", "D-", "I-" or "DFL-" and a capital): its test first.
_AFFILIATION_MARK: Final = re.compile(r"[RDIL]-[A-Z]")

#: A capitalised name (up to three words) right before an office noun; the name may start
#: with words that are not the place ("Then Beaconsfield Mayor"), tried from the left.
_BEFORE_OFFICE: Final = re.compile(
    r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\s+(?i:" + alternation("geo_office_nouns") + r")\b"
)
# An office noun after a space, which every match of the pattern holds: its test first,
# at a quarter of the cost, since few sentences have one.
_OFFICE_NOUN: Final = re.compile(r"\s(?i:" + alternation("geo_office_nouns") + r")\b")


def with_datelines(
    candidates: list[PlaceCandidate], found: list[Span], gazetteer: Gazetteer
) -> list[Span]:
    """``found`` plus the datelines the model missed: "COLUMBUS, Ohio (AP) —", "MANSFIELD --".

    Upper-case words followed by a dash open many news reports with the place they were
    filed from; the small model rarely tags them, or tags pieces ("ST" and "PAUL"), which
    give way to the whole. Only sentences that came with candidates are seen.
    """
    covers = _Cover([(s.start, s.end) for s in found])
    out: list[Span] = []
    for cand in _one_per_sentence(candidates):
        if not _may_hold_dateline(cand.sentence):
            continue
        for match in _DATELINE.finditer(cand.sentence):
            start = cand.sentence_start + match.start(1)
            end = cand.sentence_start + match.end(1)
            if covers.contains(start, end):
                continue  # the model has it, or a longer name around it
            norm = normalize_name(match.group(1))
            entries = [
                e for e in gazetteer.lookup_normalized(norm) if e.name_kind in ("name", "alt")
            ]
            if not entries or norm in _NOT_PLACES:
                continue
            container = match.group(2)
            out.append(
                _scanned(
                    cand,
                    match,
                    norm,
                    entries,
                    origin="dateline",
                    container=container.strip(" ,") if container else None,
                )
            )
    # Fragments of a dateline ("ST" and "PAUL" for "ST. PAUL") give way to the whole.
    # Datelines never overlap (one match per stretch of one sentence), so no fragment
    # dropped here could have covered another dateline: dropping them all at the end is
    # what dropping them after each dateline was.
    inside = _Cover([(s.start, s.end) for s in out])
    return [s for s in found if not inside.contains(s.start, s.end)] + out


def _may_hold_dateline(sentence: str) -> bool:
    return any(mark in sentence for mark in _DATELINE_MARKS) and bool(
        _DATELINE_CAPITALS.search(sentence)
    )


def with_listed_places(
    candidates: list[PlaceCandidate], found: list[Span], gazetteer: Gazetteer
) -> list[Span]:
    """``found`` plus the places of two patterns the model reads poorly, which replace any
    span they overlap: a legislator's home town ("Rep. Jay Roberts, R-Ocilla") and the
    counties listed before "counties" ("Harvey, Harper and Kingman counties")."""
    out: list[Span] = []
    for cand in _one_per_sentence(candidates):
        sentence = cand.sentence
        affiliations = _AFFILIATION.finditer(sentence) if _AFFILIATION_MARK.search(sentence) else ()
        for match in affiliations:
            entries = [
                e
                for e in gazetteer.lookup_normalized(normalize_name(match.group(1)))
                if e.name_kind in ("name", "alias", "abbrev")
            ]
            if entries:
                out.append(_scan_span(cand, match.group(1), match.start(1), entries, "affiliation"))
        for counties in _COUNTIES.finditer(sentence) if "counties" in sentence else ():
            window = max(0, counties.start() - TUNING.context_chars * 8)
            listed = _COUNTY_LIST.search(sentence, window, counties.start())
            if listed is None:
                continue
            cursor = listed.start(1)
            for name in _LIST_SEPARATOR.split(listed.group(1)):
                start = sentence.index(name, cursor)
                cursor = start + len(name)
                norm = normalize_name(f"{name} County")
                entries = [e for e in gazetteer.lookup_normalized(norm) if e.feature_code == "ADM2"]
                if entries:
                    out.append(_scan_span(cand, name, start, entries, "county_list", norm=norm))
    if not out:
        return found
    listed_cover = _Cover([(s.start, s.end) for s in out])
    return [s for s in found if not listed_cover.overlaps(s.start, s.end)] + out


def _scan_span(
    cand: PlaceCandidate,
    text: str,
    rel_start: int,
    entries: list[GazetteerEntry],
    origin: str,
    *,
    norm: str | None = None,
) -> Span:
    span = make_span(
        cand,
        label="GPE",
        text=text,
        start=cand.sentence_start + rel_start,
        norm=norm or normalize_name(text),
        entries=entries,
    )
    span.origin = origin
    return span


def without_covered_containers(spans: list[Span]) -> list[Span]:
    """``spans`` less the regions found after a town's comma that the model tagged as a
    place already (a person's or an organisation's span there is the model's mistake)."""
    others = _Cover(
        [(s.start, s.end) for s in spans if s.origin != "container" and s.label in ("GPE", "LOC")]
    )
    return [s for s in spans if s.origin != "container" or not others.overlaps(s.start, s.end)]


class _Cover:
    """Spans ``(start, end)`` indexed for the questions the text scans ask of each match.

    Sorted by start, with the running maximum of the ends: "does a span contain or
    overlap this range?" is a binary search rather than a look at every span.
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = sorted(spans)
        self.starts = [start for start, _ in self.spans]
        self.max_end = list(itertools.accumulate((end for _, end in self.spans), max))

    def contains(self, start: int, end: int) -> bool:
        """Whether a span holds all of ``[start, end)``."""
        count = bisect.bisect_right(self.starts, start)
        return count > 0 and self.max_end[count - 1] >= end

    def overlaps(self, start: int, end: int) -> bool:
        """Whether a span shares a character with ``[start, end)``."""
        count = bisect.bisect_left(self.starts, end)
        return count > 0 and self.max_end[count - 1] > start


def _one_per_sentence(candidates: list[PlaceCandidate]) -> Iterator[PlaceCandidate]:
    """The first candidate of each sentence: the text scans look at a sentence once."""
    seen: set[int] = set()
    for cand in candidates:
        if cand.sentence_start not in seen:
            seen.add(cand.sentence_start)
            yield cand


def after_locatives(candidates: list[PlaceCandidate], gazetteer: Gazetteer) -> list[Span]:
    """Capitalised names right after "in", "from", "near"... that the model did not tag.

    Only town or region names the gazetteer knows under that very name are taken, and
    only in sentences that came with candidates; a town of a country nothing else in the
    article points to is discounted later like any other.
    """
    out: list[Span] = []
    tagged = _Cover([(c.start, c.end) for c in candidates])
    for cand in _one_per_sentence(candidates):
        for match in _AFTER_LOCATIVE.finditer(cand.sentence):
            start = cand.sentence_start + match.start(1)
            end = cand.sentence_start + match.end(1)
            if tagged.overlaps(start, end):
                continue
            norm = normalize_name(match.group(1))
            entries = own_name_places(norm, gazetteer)
            if entries:
                out.append(_scanned(cand, match, norm, entries, origin="locative"))
    return out


def own_name_places(norm: str, gazetteer: Gazetteer) -> list[GazetteerEntry]:
    """The places a scan may take for a normalised name no model tagged: those known
    under that very name (not an alias) with ``TUNING.locative_min_population`` people,
    or regions; none for a word that is not a place or a calendar word."""
    if norm in _NOT_PLACES or norm in _CALENDAR:
        return []
    return [
        e
        for e in gazetteer.lookup_normalized(norm)
        if e.name_kind == "name" and (e.population >= TUNING.locative_min_population or e.is_admin)
    ]


def before_offices(
    candidates: list[PlaceCandidate], found: list[Span], gazetteer: Gazetteer
) -> list[Span]:
    """Capitalised names right before "Mayor", "police", "council", "officials"... that
    the model did not tag, taken as :func:`after_locatives` takes its names."""
    out: list[Span] = []
    # Not where the model or an earlier scan found a name ("Medina" of "Medina counties").
    tagged = _Cover([(c.start, c.end) for c in candidates] + [(f.start, f.end) for f in found])
    for cand in _one_per_sentence(candidates):
        if not _OFFICE_NOUN.search(cand.sentence):
            continue
        for match in _BEFORE_OFFICE.finditer(cand.sentence):
            words = list(re.finditer(r"[A-Z][a-z]+", match.group(1)))
            for word in words:
                start = cand.sentence_start + match.start(1) + word.start()
                end = cand.sentence_start + match.end(1)
                if tagged.overlaps(start, end):
                    break
                entries = own_name_places(normalize_name(match.group(1)[word.start() :]), gazetteer)
                if entries:
                    rel_start = start - cand.sentence_start
                    text = match.group(1)[word.start() :]
                    out.append(_scan_span(cand, text, rel_start, entries, "locative"))
                    break
    return out


#: An untagged capitalised name listed right before or after a tagged place, with a comma
#: or "and"/"or" between them: "Limpopo and Eastern Cape", "Ottawa, Gatineau or Montreal".
_NAME: Final = r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})"
_LIST_GAP: Final = r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)"
_LISTED_BEFORE: Final = re.compile(r"\b" + _NAME + _LIST_GAP + "$")
_LISTED_AFTER: Final = re.compile(_LIST_GAP + _NAME + r"\b")


def listed_neighbours(
    candidates: list[PlaceCandidate], found: list[Span], gazetteer: Gazetteer
) -> list[Span]:
    """Names listed with a place the model tagged, that it did not tag itself, taken as
    :func:`after_locatives` takes its names."""
    out: list[Span] = []
    seen: set[int] = set()
    tagged = _Cover([(c.start, c.end) for c in candidates] + [(f.start, f.end) for f in found])
    for cand in candidates:
        if cand.label not in ("GPE", "LOC"):
            continue
        rel_start = cand.start - cand.sentence_start
        rel_end = rel_start + len(cand.text)
        if not 0 <= rel_start <= rel_end <= len(cand.sentence):
            continue
        before = _LISTED_BEFORE.search(cand.sentence, max(0, rel_start - 60), rel_start)
        after = _LISTED_AFTER.match(cand.sentence, rel_end)
        for listed in (before, after):
            if listed is None:
                continue
            start = cand.sentence_start + listed.start(1)
            # Once, though it follows one place and precedes another ("A, X and B").
            if start in seen or tagged.overlaps(start, start + len(listed.group(1))):
                continue
            seen.add(start)
            entries = own_name_places(normalize_name(listed.group(1)), gazetteer)
            if entries:
                out.append(_scan_span(cand, listed.group(1), listed.start(1), entries, "locative"))
    return out


def _scanned(
    cand: PlaceCandidate,
    match: re.Match[str],
    norm: str,
    entries: list[GazetteerEntry],
    *,
    origin: str,
    container: str | None = None,
) -> Span:
    """A GPE span for the name a scan matched (group 1 of ``match`` in ``cand``'s sentence).

    Its context is read as for a whole name (so, unless ``container`` is given, the region
    or country right after it counts), and only then is it marked with ``origin``.
    """
    span = make_span(
        cand,
        label="GPE",
        text=match.group(1),
        start=cand.sentence_start + match.start(1),
        norm=norm,
        entries=entries,
        container=container,
    )
    span.origin = origin
    return span
