"""An article's story features: its words, who, where and when, and a near-copy signature.

Everything here is a pure function of the article and its enrichments (the entity
stage's :class:`~shared.schemas.Entity` list with salience, the geocoder's
:class:`~shared.schemas.Place` list with the focus), except the document frequencies,
which are learned online from the stream (:class:`DocumentFrequencies`, bounded).

- words: tf-idf weights of content words (title words count more), L2-normalised, top-k;
- who: salient entities (people, organisations, events...), weighted by salience and
  rarity, so that "Associated Press" or "United States" weigh little;
- where: resolved places weighted by confidence and rarity, the focus doubled, and the
  focus itself (country, admin1, coordinates) to tell two towns apart;
- when: the publication day, or None when the article has no date;
- a MinHash signature of content-word shingles, for near-copies, with the page residue
  at the text's edges (bylines, "Share this") blanked first, so a re-bylined copy matches.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Protocol, TypedDict, TypeVar

import numpy as np
import numpy.typing as npt
from spacy.lang.en.stop_words import STOP_WORDS

from services.entities.extract import mask_residue
from services.geocoder.gazetteer import normalize_name
from services.stories.tuning import DEFAULT_TUNING, Tuning
from shared.schemas import Entity, Place
from shared.text import tokenize_words

#: A MinHash signature: ``Tuning.minhash_perms`` unsigned 32-bit hash minima.
Signature = npt.NDArray[np.uint32]

# Words every news story uses: reporting verbs, weekdays and months say nothing of the event.
_NEWS_TEXT = (
    "said says say told according reported reports report reuters ap afp news "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow "
    "january february march april may june july august september october november "
    "december week weeks month months year years day days time people percent mr mrs ms"
)
_NEWS_WORDS = frozenset(_NEWS_TEXT.split())
_STOP = frozenset(STOP_WORDS) | _NEWS_WORDS
_DIGITS = re.compile(r"^[\d.,']+$")
# Years an undated text may be about.
_FIRST_YEAR, _LAST_YEAR = 1800, 2099
# Entity labels that say who or what an event involves; places are read from the geocoder,
# dates and quantities are not entities here. The label only admits a name: the key is the
# name alone, as a small model labels one name two ways ("Crimea" an ORG here, a GPE there;
# "Police Scotland" a LOC), and a name is the same someone whatever its label.
_IDENTIFYING_LABELS = frozenset(
    {"PERSON", "ORG", "NORP", "EVENT", "FAC", "PRODUCT", "WORK_OF_ART", "LAW", "GPE", "LOC"}
)
# An odd 64-bit multiplier (from splitmix64) to combine a shingle's word hashes.
_MIX = np.uint64(0x9E3779B97F4A7C15)
_EPOCH = date(1970, 1, 1)

_Key = TypeVar("_Key", str, int)


@dataclass(frozen=True, slots=True)
class FocusPlace:
    """The place an article is about, as much of it as telling two places apart needs."""

    geonameid: int
    country_code: str | None
    admin1: str | None
    feature_class: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """What story assignment reads of one article."""

    article_id: str
    #: Publication day (days since 1970-01-01, UTC), None when the article has no date.
    day: float | None
    #: Content-word stem -> tf-idf weight, L2-normalised, the top ``Tuning.article_terms``,
    #: heaviest first (as ``entities`` and ``places``).
    terms: dict[str, float]
    #: ``n:name`` -> salience x rarity, L2-normalised.
    entities: dict[str, float]
    #: GeoNames id -> confidence x rarity (focus doubled), L2-normalised.
    places: dict[int, float]
    focus: FocusPlace | None
    #: The year it is about: its publication year, or for an undated article the year its
    #: text names most (at least ``Tuning.year_mentions`` times); None if neither.
    year: int | None = None
    #: MinHash of the text's word shingles; None for a text too short to shingle.
    signature: Signature | None = field(default=None, compare=False)


class Frequencies(Protocol):
    """Document frequencies learned from the stream (in memory here, in Redis later)."""

    def observe(self, keys: Sequence[str]) -> tuple[npt.NDArray[np.float32], float]:
        """Count one document containing ``keys`` (distinct); each key's document
        frequency and the number of documents, this one included (after decay)."""
        ...


class DocumentFrequencies:
    """Online document frequencies in a fixed array of hash buckets.

    Memory is ``buckets`` x 4 bytes whatever the vocabulary; a collision makes a rare word
    look a little commoner, never rarer. Every ``half_life`` documents all counts halve,
    so that rarity follows what the news talks about now.
    """

    def __init__(self, buckets: int = DEFAULT_TUNING.df_buckets, half_life: int = 50_000) -> None:
        self._counts = np.zeros(buckets, dtype=np.float32)
        self._buckets = buckets
        self._half_life = half_life
        self._documents = 0.0
        self._since_decay = 0

    def observe(self, keys: Sequence[str]) -> tuple[npt.NDArray[np.float32], float]:
        """Count one document containing ``keys`` (distinct); each key's document
        frequency and the number of documents, this one included (after decay)."""
        slots = np.array(list(map(_key_hash, keys)), dtype=np.int64) % self._buckets
        # Fancy-index addition adds once per distinct bucket: two keys of one document in
        # one bucket count once, as a document is one document.
        self._counts[slots] += 1.0
        self._documents += 1.0
        self._since_decay += 1
        counts = self._counts[slots]
        documents = self._documents
        if self._since_decay >= self._half_life:
            self._counts *= 0.5
            self._documents *= 0.5
            self._since_decay = 0
        return counts, documents


@lru_cache(maxsize=200_000)
def _key_hash(key: str) -> int:
    return zlib.crc32(key.encode("utf-8"))


@lru_cache(maxsize=200_000)
def content_term(word: str) -> str | None:
    """The stem of a content word (plural folded), or None for a stopword or a number."""
    if len(word) < 3 or word in _STOP or _DIGITS.match(word):
        return None
    word = word.replace("’", "'").removesuffix("'s")
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def content_terms(text: str) -> list[str]:
    """The content terms of ``text`` in order (stopwords and numbers dropped, plurals folded)."""
    # map() and filter() run in C (a stem is never empty, so filter drops only the Nones).
    return list(filter(None, map(content_term, tokenize_words(text))))


_EDGE_LINES = 3


def _without_edge_residue(text: str) -> str:
    """``text`` with page residue (bylines, "Share this") blanked in its first and last lines.

    Residue sits at a page's edges; reading only those lines keeps the cost flat however
    long the text, and a wire copy re-bylined by each paper still reads as one text.
    """
    lines = text.split("\n")
    if len(lines) <= 2 * _EDGE_LINES:
        return mask_residue(text)
    head = "\n".join(lines[:_EDGE_LINES])
    tail = "\n".join(lines[-_EDGE_LINES:])
    middle = "\n".join(lines[_EDGE_LINES:-_EDGE_LINES])
    return "\n".join((mask_residue(head), middle, mask_residue(tail)))


def term_counts(body: Sequence[str], title: str | None, title_weight: float) -> dict[str, float]:
    """Weighted counts of an article's terms (``body`` terms, title words ``title_weight``)."""
    counts: dict[str, float] = dict(Counter(body))
    if title:
        for term in content_terms(title):
            counts[term] = counts.get(term, 0.0) + title_weight
    return counts


def entity_key(entity: Entity) -> str | None:
    """``n:normalised name`` of an entity, None for labels that do not identify."""
    return _name_key(entity.name) if entity.label in _IDENTIFYING_LABELS else None


@lru_cache(maxsize=200_000)
def _name_key(name: str) -> str | None:
    # Cached: normalising a name (diacritics, punctuation) costs more than the rest of an
    # entity's handling, and the news repeats its names.
    normalised = normalize_name(name)
    return f"n:{normalised}" if len(normalised) >= 2 else None


def place_key(geonameid: int) -> str:
    """The document-frequency key of a place."""
    return f"p:{geonameid}"


def epoch_day(when: date | datetime | None) -> float | None:
    """Days since 1970-01-01 (UTC) of a date or an aware datetime; None stays None."""
    if when is None:
        return None
    if isinstance(when, datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        return aware.timestamp() / 86_400.0
    return float((when - _EPOCH).days)


def _top_normalised(
    keys: list[_Key], weights: npt.NDArray[np.float64], keep: int
) -> dict[_Key, float]:
    """The ``keep`` heaviest keys with their weights, L2-normalised over those kept, the
    heaviest first (so a shorter top is a prefix, with no sort in Python)."""
    # argpartition finds the top ``keep`` without sorting them all; the few kept are then
    # sorted in C, equal weights in the order argpartition left them.
    chosen = np.argpartition(-weights, keep)[:keep] if len(keys) > keep else np.arange(len(keys))
    chosen = chosen[np.argsort(-weights[chosen], kind="stable")]
    kept = weights[chosen]
    norm = float(np.sqrt(np.dot(kept, kept))) or 1.0
    return {keys[i]: w / norm for i, w in zip(chosen.tolist(), kept.tolist(), strict=True) if w > 0}


@dataclass(frozen=True, slots=True)
class _Hashes:
    a: npt.NDArray[np.uint32]
    b: npt.NDArray[np.uint32]


@lru_cache(maxsize=8)
def _permutations(perms: int) -> _Hashes:
    # A fixed seed: signatures must agree between workers and across restarts.
    rng = np.random.default_rng(20_261_201)
    # a odd: x -> a * x + b (mod 2**32) is then a permutation of the 32-bit values.
    a = rng.integers(0, 1 << 31, size=perms, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = rng.integers(0, 1 << 32, size=perms, dtype=np.uint32)
    return _Hashes(a, b)


def minhash(words: Sequence[str], tuning: Tuning = DEFAULT_TUNING) -> Signature | None:
    """MinHash of the ``shingle_words``-word shingles of ``words``; None if too few words.

    A shingle's hash combines its words' hashes (a polynomial, wrapping in 64 bits, then
    folded to 32), so each distinct word is hashed once rather than each shingle's string.
    """
    n = tuning.shingle_words
    if len(words) < n:
        return None
    table = {word: _key_hash(word) for word in set(words)}
    hashed = np.fromiter((table[w] for w in words), dtype=np.uint64, count=len(words))
    combined = np.zeros(len(words) - n + 1, dtype=np.uint64)
    for offset in range(n):
        combined = combined * _MIX + hashed[offset : len(words) - n + 1 + offset]
    # Repeated shingles are left in: they cannot change a minimum.
    x = (combined ^ (combined >> np.uint64(32))).astype(np.uint32)
    hashes = _permutations(tuning.minhash_perms)
    # 32-bit multiply-add, wrapping, then an xorshift to mix the high bits into the low:
    # both are bijections, so each column is a random-looking permutation of the shingles,
    # at a fifth of the cost of a 64-bit modular hash.
    values = np.multiply.outer(x, hashes.a) + hashes.b
    values ^= values >> np.uint32(16)
    signature: Signature = values.min(axis=0)
    return signature


def jaccard_estimate(first: Signature, second: Signature) -> float:
    """The share of equal minima: an unbiased estimate of the shingle sets' Jaccard."""
    return float(np.mean(first == second))


def text_year(words: Sequence[str], mentions: int) -> int | None:
    """The year the word tokens ``words`` name most, if at least ``mentions`` times (ties:
    the latest). A year is a four-digit token from 1800 to 2099; "2,000" is two tokens."""
    counts = Counter(int(w) for w in words if len(w) == 4 and w.isdigit())
    year, times = max(
        ((y, n) for y, n in counts.items() if _FIRST_YEAR <= y <= _LAST_YEAR),
        key=lambda item: (item[1], item[0]),
        default=(0, 0),
    )
    return year if times and times >= mentions else None


def _focus(places: Sequence[Place]) -> FocusPlace | None:
    for place in places:
        if place.focus:
            return FocusPlace(
                place.geonameid,
                place.country_code,
                place.admin1,
                place.feature_class,
                place.latitude,
                place.longitude,
            )
    return None


class ArticleParts(TypedDict):
    """An article's parts beside its id and text that its story features are read from."""

    title: str | None
    published: date | datetime | None
    entities: Sequence[Entity]
    places: Sequence[Place]


def story_features(
    article_id: str,
    text: str,
    *,
    title: str | None,
    published: date | datetime | None,
    entities: Sequence[Entity],
    places: Sequence[Place],
    frequencies: Frequencies,
    tuning: Tuning = DEFAULT_TUNING,
) -> StoryFeatures:
    """The story features of one article; its keys are counted into ``frequencies``.

    The article's own keys are counted first, so that a key seen only here gets the
    highest rarity rather than an undefined one.
    """
    words = tokenize_words(_without_edge_residue(text))
    # map() calls the cached function from C, and filter() drops the Nones there too (a
    # stem is never empty): a third of the cost of a comprehension.
    body: list[str] = list(filter(None, map(content_term, words)))
    counts = term_counts(body, title, tuning.title_weight)
    entity_salience: dict[str, float] = {}
    for entity in entities:
        key = entity_key(entity)
        if key is not None:
            entity_salience[key] = max(entity_salience.get(key, 0.0), entity.salience)
    place_weight: dict[int, float] = {}
    for place in places:
        weight = place.confidence * (2.0 if place.focus else 1.0)
        place_weight[place.geonameid] = max(place_weight.get(place.geonameid, 0.0), weight)

    keys = [*counts, *entity_salience, *(place_key(p) for p in place_weight)]
    frequency, documents = frequencies.observe(keys)
    # Smoothed idf: 1 for a key in every document, more the rarer it is.
    rarity = np.log((1.0 + documents) / (1.0 + frequency)) + 1.0
    # ``keys`` is terms, then entities, then places: ``rarity`` is cut the same way.
    n_terms, n_entities = len(counts), len(entity_salience)
    tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=n_terms))
    terms = _top_normalised(list(counts), tf * rarity[:n_terms], tuning.article_terms)
    salience = np.fromiter(entity_salience.values(), dtype=np.float64, count=n_entities)
    ents = _top_normalised(
        list(entity_salience),
        salience * rarity[n_terms : n_terms + n_entities],
        tuning.article_entities,
    )
    presence = np.fromiter(place_weight.values(), dtype=np.float64, count=len(place_weight))
    where = _top_normalised(
        list(place_weight), presence * rarity[n_terms + n_entities :], tuning.article_entities
    )
    return StoryFeatures(
        article_id=article_id,
        day=epoch_day(published),
        terms=terms,
        entities=ents,
        places=where,
        focus=_focus(places),
        # Only an undated article is dated by its text: the scan is skipped for the others.
        year=published.year if published else text_year(words, tuning.year_mentions),
        signature=minhash(body, tuning),
    )
