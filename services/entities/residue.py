"""Page residue ("Related Story", bylines, share buttons), blanked before the model reads.

The patterns of residue lines are a data file, ``shared/lexicon/page_residue.txt``.
"""

from __future__ import annotations

import re

from services.entities.tuning import TUNING
from shared.lexicon import entries

_RESIDUE_LINE = re.compile(
    r"^[\s\W]*(?:" + "|".join(entries("page_residue")) + r")[\s\W]*$",
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
    if not stripped or len(stripped) > TUNING.residue_max_chars:
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
