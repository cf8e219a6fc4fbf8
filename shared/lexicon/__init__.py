"""Word lists and lexicons as data files, read by one helper.

Each list is a ``.txt`` file in this folder: one entry per line, ``#`` starts a comment
(the file's head says what the list is for and where it came from), blank lines are
ignored. Keeping them as data lets a reader review or extend a list without reading the
rules that use it, and lets two stages share one list instead of keeping copies.

A list both stages need lives once, without a stage prefix (``locatives.txt``); what one
stage adds to it lives in ``{stage}_{list}_extra.txt``, whose head says why the other
stage goes without, and the stage reads the two together (``words("locatives",
"geo_locatives_extra")``). Lists with a stage prefix (``entities_``, ``geo_``) are that
stage's alone.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources


@cache
def entries(*names: str) -> tuple[str, ...]:
    """The entries of list ``name`` (``shared/lexicon/{name}.txt``), in file order; of
    several lists, one after the other (a shared list and a stage's extension of it)."""
    return tuple(entry for name in names for entry in _read(name))


def words(*names: str) -> frozenset[str]:
    """List ``name`` (or the union of several) as a set, for membership tests."""
    return _as_set(names)


def alternation(*names: str, gap: str = r"[ \t]+") -> str:
    """List ``name`` (or several, one after the other) as a regex alternation, in file
    order (the first entry that matches wins). Each entry is escaped; a space in it
    matches ``gap``; a final "." (an abbreviation's) matches with or without the stop.
    For entries of one word without a final stop this is
    ``"|".join(map(re.escape, entries(name)))``."""

    def pattern(entry: str) -> str:
        stop = r"\.?" if entry.endswith(".") else ""
        return gap.join(re.escape(word) for word in entry.removesuffix(".").split(" ")) + stop

    return "|".join(pattern(entry) for entry in entries(*names))


@cache
def _as_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(entries(*names))


def _read(name: str) -> tuple[str, ...]:
    text = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line)
