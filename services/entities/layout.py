"""Layout the model cannot read, read by rules: wire datelines and results tables."""

from __future__ import annotations

import re
from collections import Counter

from spacy.lang.en.stop_words import STOP_WORDS

from services.entities.names import initialled_names, is_initialled_name, name_tokens
from services.entities.spans import Span, trim
from services.entities.tuning import TUNING
from shared.lexicon import alternation, entries

# A wire dateline: "BONN 1996-08-30", "MOSUL, Iraq (AFP) -", "IRVINE, Calif. Aug 30".
_DATELINE = re.compile(
    r"""^[ \t]*(?P<city>[A-Z][A-Z.'’-]+(?:[ \t]+[A-Z][A-Z.'’-]+){0,3})
    (?:,[ \t]*(?P<region>[A-Z][\w.'’-]*(?:[ \t]+[A-Z][\w.'’-]*){0,2}))?
    [ \t]*(?=\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}|\([A-Z][\w .&-]*\)|[-–—]
        |(?:"""
    + "|".join(month[:3].capitalize() for month in entries("months"))
    + r""")[a-z]*\.?[ \t]+\d)""",
    re.MULTILINE | re.VERBOSE,
)
# "Pierre Belec" alone on the line above a dateline.
_BYLINE_NAME = re.compile(r"[ \t]*([A-Z][\w'’.-]+(?:[ \t]+[A-Z][\w'’.-]+){1,3})[ \t]*")
# A name in a results table: capitalised words, with the particles names contain.
_TABLE_NAME = re.compile(
    r"[A-Z][\w'’.&-]*(?:[ \t]+(?:[A-Z][\w'’.&-]*|"
    + alternation("entities_table_name_words")
    + r")(?=[ \t]*[A-Z(]|[ \t]*$|[ \t]+(?:\S*\d|[A-Z]))|[ \t]+[A-Z][\w'’.&-]*)*"
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
# "Faroe Islands v Israel.", "Republic of Ireland. August 17 -": a full stop after a word
# longer than an abbreviation ("St.", "Utd.", "W.") ends the sentence and the name.
_FULL_STOP = re.compile(r"[^\W\d_]{4}(\.)(?!\w)")


def datelines(text: str) -> list[Span]:
    """The place names of wire datelines ("BONN 1996-08-30", "MOSUL, Iraq (AFP) -").

    A short line of capitalised words just above a dateline is the reporter's byline.
    """
    out: list[Span] = []
    for match in _DATELINE.finditer(text):
        # "CRICKET - LEICESTERSHIRE TAKE OVER": a dash alone follows a headline's topic too.
        if match.group("region") is None and text[match.end() : match.end() + 1] in "-–—":
            continue
        line_start = match.start()
        previous_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1
        byline = _BYLINE_NAME.fullmatch(text, previous_start, max(previous_start, line_start - 1))
        if line_start > 0 and byline is not None:
            out.append(Span(byline.start(1), byline.end(1), "PERSON"))
        for group in ("city", "region"):
            if match.group(group):
                # "LOUISVILLE, KY--(Marketwire)": the dash is the dateline's, not the name's.
                name = match.group(group).rstrip("-")
                start = match.start(group)
                out.append(Span(start, start + len(name), "GPE", locked=True))
    return out


def is_table_row(line: str) -> bool:
    """Whether ``line`` is a row of a results table (fixtures, scores, standings)."""
    tokens = line.split()
    if _FIXTURES.match(line):
        return True
    numbers = sum(1 for t in tokens if _HAS_DIGIT.search(t))
    words = [t for t in tokens if t[:1].isalpha()]
    lower = sum(1 for t in words if t[0].islower())
    return (
        numbers >= TUNING.table_row_min_numbers
        and numbers >= TUNING.table_row_number_share * len(tokens)
        and lower <= TUNING.table_row_lower_share * len(tokens)
    )


def _table_rows(text: str) -> list[tuple[int, str]]:
    """The rows of the text's tables, with their offsets."""
    lines = text.splitlines(keepends=True)
    flags = [is_table_row(line) for line in lines]
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
    return rows


def table_spans(text: str, spans: list[Span], countries: frozenset[str]) -> list[Span]:
    """Names in results tables ("Livingston 1 Hamilton 0", "Plymouth 4 3 1 0 10 6 10").

    The model finds few names in rows of numbers. In a row, a capitalised run outside
    brackets is a team (ORG), a country's national side (GPE), or a player when the model
    or the initials say so ("W. Athey"); inside brackets it is a country or a scorer. When
    the model takes most row heads of the article for people (golf, athletics), unknown
    heads are people too.
    """
    rows = _table_rows(text)
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
                trim(text, row_start + head.start(), row_start + head.end(), "ORG")
            )
            if is_initialled_name(head.group()) or (
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
            start, end = trim(text, start, end, "ORG")
            stop = _FULL_STOP.search(text, start, end)
            if stop is not None:
                start, end = trim(text, start, stop.start(1), "ORG")
            surface = text[start:end]
            if len(surface) < TUNING.table_name_min_chars or surface.lower() in STOP_WORDS:
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
    # Not from a "person" across a score ("Oldham 3 Ipswich"): that is two clubs.
    surnames = {
        tokens[-1]
        for s in spans
        if s.label == "PERSON"
        and not _HAS_DIGIT.search(text, s.start, s.end)
        and len(tokens := name_tokens(text[s.start : s.end])) > 1
    }
    surnames.update(m.group("surname").lower() for m in initialled_names(text))
    out: list[Span] = []
    for start, end, bracketed in found:
        surface = text[start:end]
        model = by_start.get((start, end))
        one_word = " " not in surface
        if surface.lower() in countries:
            label = "GPE"
        elif is_initialled_name(surface) or (one_word and surface.lower() in surnames):
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
        out.append(Span(start, end, label, weight=TUNING.layout_weight))
    return out
