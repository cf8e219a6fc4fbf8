"""How the gazetteer matches names: normalisation, and the name rows a place is indexed by.

Names are matched after :func:`normalize_name` (case, diacritics, punctuation, "St." ->
"saint"), so "Mossoul", "MOSUL" and "Mosul" find the same entries.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final, Literal

from shared.lexicon import alternation, entries, words

#: How a name matched an entry, best first. The resolver trusts a primary name more than
#: an alternate, an alternate more than a variant without its Arabic article, and treats
#: a demonym as evidence for a country rather than as a mention of a place.
NameKind = Literal["name", "alias", "alt", "variant", "abbrev", "demonym"]
#: The kinds in the order of their code in the index (``names.kind``).
KINDS: Final[tuple[NameKind, ...]] = ("name", "alias", "alt", "variant", "abbrev", "demonym")
KIND_CODE: Final[dict[NameKind, int]] = {kind: code for code, kind in enumerate(KINDS)}
_TOKEN_EXPANSIONS: Final[dict[str, str]] = dict(
    pair.split() for pair in entries("geo_name_abbreviations")
)
_ARABIC_ARTICLES: Final = words("arabic_articles", "geo_arabic_articles_extra")
_CHAR_FOLDS: Final = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ʻ": "'"}
)
_PUNCT_DROP: Final = re.compile(r"[.'’`ʼʾʿ‘]")
_NON_WORD: Final = re.compile(r"[^\w]+")
CODE_LIKE: Final = re.compile(r"^[A-Z0-9]{2,4}$")
#: "Nineveh Governorate", "Ontario Province": a region is also indexed by its bare name.
REGION_AFFIX: Final = re.compile(
    r"\s+(" + alternation("geo_region_suffixes") + ")$"
    r"|^(" + alternation("geo_region_prefixes") + r") of\s+"
)


@lru_cache(maxsize=65_536)
def normalize_name(text: str) -> str:
    """The form names are matched in: no case, accents or punctuation, "St." as "saint"."""
    if text.isascii():
        # Most names: the folds and NFKD leave ASCII as it is, and casefold is lower.
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKD", text.translate(_CHAR_FOLDS))
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
        folded = folded.translate(_CHAR_FOLDS)
    folded = _NON_WORD.sub(" ", _PUNCT_DROP.sub("", folded))
    return " ".join(_TOKEN_EXPANSIONS.get(token, token) for token in folded.split())


def keep_alternate(alt: str) -> bool:
    """Whether an alternate name of a place is worth indexing.

    Airport and other codes ("OSM" is Mosul) would turn acronyms into places, and
    lower-case alternates are mostly machine transliterations ("almwsl").
    """
    if CODE_LIKE.match(alt) or not any(ch.isupper() for ch in alt):
        return False
    return normalize_name(alt).isascii()


def name_keys(text: str, kind: NameKind) -> list[tuple[str, int]]:
    """The ``(normalised name, kind code)`` rows the index holds for one name of a place.

    Names that are not Latin script once normalised are not indexed (the pipeline reads
    English news); a name with an Arabic article also gets a variant without it.
    """
    norm = normalize_name(text)
    if not norm or not norm.isascii():
        return []
    keys = [(norm, KIND_CODE[kind])]
    tokens = norm.split()
    if kind in ("name", "alt") and len(tokens) > 1 and tokens[0] in _ARABIC_ARTICLES:
        # "Al-Hamdaniya" is written "Hamdaniya" in English news.
        keys.append((" ".join(tokens[1:]), KIND_CODE["variant"]))
    return keys
