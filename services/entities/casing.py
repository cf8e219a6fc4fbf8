"""ALL-CAPS headlines re-cased from the article's own spelling, before the model reads."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from services.entities.layout import is_table_row
from services.entities.names import WORD, countries
from services.entities.tuning import TUNING

# Letters that change length when their case changes ("ß".upper() == "SS"): leave them.
_SAFE_CASE = re.compile(r"^[^\W\d_]+$")
_VOWEL = re.compile(r"[aeiouy]")


def _is_shouting(line: str) -> bool:
    words = [w for w in WORD.findall(line) if len(w) > TUNING.shouting_short_word]
    if len(words) < TUNING.shouting_min_words:
        return False
    upper = sum(1 for w in words if w.isupper())
    return upper >= TUNING.shouting_upper_share * len(words)


def _casing_evidence(text: str, shouting: set[int]) -> dict[str, str]:
    """The article's usual spelling of each word, from the lines that are not shouted."""
    inner: dict[str, Counter[str]] = defaultdict(Counter)
    initial: dict[str, Counter[str]] = defaultdict(Counter)
    for index, line in enumerate(text.splitlines()):
        if index in shouting:
            continue
        for match in WORD.finditer(line):
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
    if table or lower in countries():
        return word[0] + lower[1:]
    # No English word of three letters or more is spelled without a vowel: "NBP",
    # "BBC", "KPN" are acronyms ("MR", "DR" are not).
    if len(word) > TUNING.acronym_min_letters - 1 and not _VOWEL.search(lower):
        return word
    return lower


def _restore_line(line: str, evidence: dict[str, str]) -> str:
    table = is_table_row(line)
    return WORD.sub(lambda m: _restore_word(m.group(), evidence, table), line)


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
