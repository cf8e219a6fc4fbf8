"""Online story assignment: each article joins the best live story or starts one, once.

For an article's :class:`~services.stories.features.StoryFeatures`:

1. near-copy: if the copy index holds a recent article whose shingles it nearly repeats
   (MinHash estimate at ``duplicate_jaccard`` or above), the article is
   ``duplicate_of`` that text's first article and joins its story;
2. otherwise the story index returns the few live stories that share the most key weight
   with it (rare terms, entities, places), each is scored (:func:`score_story`), and the
   article joins the best if it reaches ``join_threshold``, else it starts a story;
3. the story's state takes the article in (bounded top-k sums), and the index and the
   copy index learn it.

A score is a fixed linear combination of similarities (as Miranda et al. 2018 score a
story) with rules for evidence of two events. For: the words' mean cosine to the story's
articles and their best cosine to one of its latest articles, the salient entities' and
the places' cosines, and, when someone is shared, a date close to the story's. Against:
foci in different countries or far-apart towns, sharing no one (people, organisations)
or no one and nowhere, the log of the days between the article and the story, and a year
two or more from every year of the story (an undated article's year is the one its text
names). Two places with no one in common cannot join at all, and a story quiet for
``window_days`` is out of reach, and evicted: who, where and when separate look-alike
events that words alone would chain together.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import filterfalse, islice
from typing import TypeVar, Unpack

from services.geocoder.gazetteer import haversine_km
from services.stories.features import (
    ArticleParts,
    DocumentFrequencies,
    FocusPlace,
    Frequencies,
    StoryFeatures,
    place_key,
    story_features,
)
from services.stories.index import (
    CopyIndex,
    MemoryCopyIndex,
    MemoryStoryIndex,
    StoryIndex,
    StoryState,
    story_id_for,
)
from services.stories.tuning import DEFAULT_TUNING, Tuning

# Feature classes of a point-like place (a town, a building, a spot): two different ones
# far apart are two places; an admin area or a country contains many towns.
_POINT_CLASSES = frozenset({"P", "S", "T", "H", "L", "V", "R", "U"})
_K = TypeVar("_K", str, int)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The story an article was placed in, as the enriched event carries it."""

    id: str
    is_new: bool
    #: The story's size with this article.
    size: int
    #: The first article of the text this one nearly repeats, if any.
    duplicate_of: str | None
    #: The join score (the Jaccard estimate for a near-copy); for a new story, the best
    #: candidate's score that fell short (0.0 with no candidate).
    score: float


class FocusRelation(StrEnum):
    """How an article's focus stands to a story's foci."""

    SAME = "same"
    COMPATIBLE = "compatible"  # one contains the other, or they are near
    OTHER_TOWN = "other_town"  # one country, two towns far apart
    OTHER_COUNTRY = "other_country"
    UNKNOWN = "unknown"


# The relations from closest to farthest, as declared.
_CLOSENESS = {relation: rank for rank, relation in enumerate(FocusRelation)}


@dataclass(frozen=True, slots=True)
class Score:
    """One candidate's score and its parts (for tests, tuning and the ablation)."""

    total: float
    words: float
    entities: float
    places: float
    focus: FocusRelation
    gap_days: float | None


def cosine(first: Mapping[_K, float], second: Mapping[_K, float], norm: float) -> float:
    """Cosine of two sparse vectors: ``first`` L2-normalised, ``second`` of norm ``norm``."""
    if not first or not second or not norm:
        return 0.0
    return _dot(first, second) / norm


def _dot(first: Mapping[_K, float], second: Mapping[_K, float]) -> float:
    # The key intersection runs in C, and so do the products and their sum: map() over
    # the shared keys, in the set's order (the order a generator over it had, so the sum
    # is the same to the last bit), at half the cost of a generator expression.
    if len(first) > len(second):
        first, second = second, first
    shared = first.keys() & second.keys()
    total: float = sum(
        map(operator.mul, map(first.__getitem__, shared), map(second.__getitem__, shared))
    )
    return total


def _top(weights: Mapping[_K, float], keep: int) -> dict[_K, float]:
    """The ``keep`` first of an article's weights, which come heaviest first."""
    # No sort: ``story_features`` orders them (in C); a sort here cost more than it.
    return dict(weights) if len(weights) <= keep else dict(islice(weights.items(), keep))


def _norm(weights: Mapping[_K, float]) -> float:
    return math.sqrt(sum(w * w for w in weights.values()))


def focus_relation(
    focus: FocusPlace | None, story: StoryState, tuning: Tuning = DEFAULT_TUNING
) -> FocusRelation:
    """The closest relation of ``focus`` to any of the story's foci."""
    if focus is None or not story.focus_places:
        return FocusRelation.UNKNOWN
    best = FocusRelation.OTHER_COUNTRY
    for other in story.focus_places.values():
        relation = _relation(focus, other, tuning)
        if _CLOSENESS[relation] < _CLOSENESS[best]:
            best = relation
            if relation is FocusRelation.SAME:
                break
    return best


def _relation(first: FocusPlace, second: FocusPlace, tuning: Tuning) -> FocusRelation:
    if first.geonameid == second.geonameid:
        return FocusRelation.SAME
    if not first.country_code or not second.country_code:
        return FocusRelation.UNKNOWN
    if first.country_code != second.country_code:
        return FocusRelation.OTHER_COUNTRY
    points = first.feature_class in _POINT_CLASSES and second.feature_class in _POINT_CLASSES
    if not points:
        # A region or the country itself contains towns; two first-level regions do not
        # contain each other, but news about a country moves between them.
        return FocusRelation.COMPATIBLE
    km = haversine_km(first.latitude, first.longitude, second.latitude, second.longitude)
    return FocusRelation.OTHER_TOWN if km > tuning.focus_far_km else FocusRelation.COMPATIBLE


def gap_days(day: float | None, story: StoryState) -> float | None:
    """Days between the article and the nearest end of the story's span; None if unknown."""
    if day is None or story.first_day is None or story.last_day is None:
        return None
    if day > story.last_day:
        return day - story.last_day
    if day < story.first_day:
        return story.first_day - day
    return 0.0


def score_story(
    features: StoryFeatures, story: StoryState, tuning: Tuning = DEFAULT_TUNING
) -> Score:
    """How strongly the article belongs to ``story`` (higher: more); see the module doc."""
    _, entities_norm, places_norm = story.norms
    # ``story.terms`` sums its articles' unit vectors: the dot over the size is the mean
    # cosine to them, which falls as a story drifts where the centroid's cosine would not.
    words = _dot(features.terms, story.terms) / story.size if story.size else 0.0
    entities = cosine(features.entities, story.entities, entities_norm)
    # Exemplars are kept normalised and truncated: the dot product is a lower bound of the
    # cosine with the article, enough to rank.
    near_words = max((_dot(features.terms, t) for t, _ in story.recent), default=0.0)
    near_entities = max((_dot(features.entities, e) for _, e in story.recent), default=0.0)
    places = cosine(features.places, story.places, places_norm)
    relation = focus_relation(features.focus, story, tuning)
    who = max(entities, near_entities)
    total = (
        tuning.words_weight * words
        + tuning.exemplar_weight * near_words
        + tuning.entities_weight * who
        + tuning.places_weight * places
    )
    if relation is FocusRelation.OTHER_COUNTRY:
        total -= tuning.focus_country_penalty
    elif relation is FocusRelation.OTHER_TOWN:
        total -= tuning.focus_town_penalty
    shares_who = who >= tuning.shared_evidence
    if (
        not shares_who
        and places < tuning.shared_evidence
        and (features.entities or features.places)
    ):
        total -= tuning.unsupported_penalty
    elif not shares_who and features.entities and story.entities:
        total -= tuning.no_who_penalty
    conflict = relation in {FocusRelation.OTHER_COUNTRY, FocusRelation.OTHER_TOWN}
    if conflict and not shares_who and tuning.conflict_veto:
        total = -math.inf
    if years_apart(features.year, story, tuning):
        total -= tuning.year_penalty
    gap = gap_days(features.day, story)
    if gap is not None:
        if shares_who:
            total += tuning.time_close_bonus * closeness(gap, tuning)
        if gap > tuning.time_free_days:
            total -= tuning.time_penalty_per_doubling * math.log2(gap / tuning.time_free_days)
    return Score(total, words, entities, places, relation, gap)


def closeness(gap: float, tuning: Tuning = DEFAULT_TUNING) -> float:
    """1 for the same day, falling with the log of the gap to 0 at ``time_bonus_days``."""
    return max(0.0, 1.0 - math.log2(1.0 + gap) / math.log2(1.0 + tuning.time_bonus_days))


def years_apart(year: int | None, story: StoryState, tuning: Tuning = DEFAULT_TUNING) -> bool:
    """Whether the article's year is ``year_apart`` or more from every year of the story."""
    if year is None or not story.years:
        return False
    return min(abs(year - other) for other in story.years) >= tuning.year_apart


def retrieval_keys(features: StoryFeatures, tuning: Tuning = DEFAULT_TUNING) -> dict[str, float]:
    """The index keys an article looks stories up by, with its weight on each."""
    keys = {f"t:{term}": weight for term, weight in _top(features.terms, tuning.key_terms).items()}
    keys.update({f"e:{key}": weight for key, weight in features.entities.items()})
    keys.update({place_key(pid): weight for pid, weight in features.places.items()})
    return keys


def _add_weights(total: dict[_K, float], part: Mapping[_K, float], keep: int) -> None:
    # total[key] = total.get(key, 0.0) + weight for each key of ``part``, in C. The keys
    # already there are summed first (they keep their place), then the new ones appended
    # in ``part``'s order, as one loop over ``part`` would; a new key takes the article's
    # own float object (0.0 + weight is weight, and weights are positive): 24 bytes a term
    # not spent twice.
    common = list(filter(total.__contains__, part))
    sums = map(operator.add, map(total.__getitem__, common), map(part.__getitem__, common))
    total.update(zip(common, sums, strict=True))
    new = list(filterfalse(total.__contains__, part))
    total.update(zip(new, map(part.__getitem__, new), strict=True))
    if len(total) > 2 * keep:
        # Pruned only now and then: a sort per article would cost more than the scoring.
        for key, _ in sorted(total.items(), key=lambda item: item[1])[: len(total) - keep]:
            del total[key]


def absorb(story: StoryState, features: StoryFeatures, tuning: Tuning = DEFAULT_TUNING) -> None:
    """Take one article into a story's state (in place)."""
    story.size += 1
    if features.day is not None:
        first, last = story.first_day, story.last_day
        story.first_day = features.day if first is None else min(first, features.day)
        story.last_day = features.day if last is None else max(last, features.day)
    _add_weights(story.terms, features.terms, tuning.story_terms)
    _add_weights(story.entities, features.entities, tuning.story_entities)
    _add_weights(story.places, features.places, tuning.story_entities)
    if features.focus is not None:
        pid = features.focus.geonameid
        story.foci[pid] = story.foci.get(pid, 0) + 1
        story.focus_places[pid] = features.focus
        if len(story.foci) > _MAX_FOCI:
            rarest = min(story.foci, key=lambda p: story.foci[p])
            del story.foci[rarest]
            del story.focus_places[rarest]
    if features.year is not None:
        story.years[features.year] = story.years.get(features.year, 0) + 1
        if len(story.years) > _MAX_FOCI:
            # The rarest goes, the oldest of those: a story's present outweighs its past.
            del story.years[min(story.years, key=lambda y: (story.years[y], y))]
    story.recent.append(
        (
            _top(features.terms, tuning.exemplar_terms),
            _top(features.entities, tuning.exemplar_terms),
        )
    )
    del story.recent[: -tuning.story_exemplars]
    story.norms = (_norm(story.terms), _norm(story.entities), _norm(story.places))


_MAX_FOCI = 4


def assign_story(
    features: StoryFeatures,
    stories: StoryIndex,
    copies: CopyIndex,
    tuning: Tuning = DEFAULT_TUNING,
) -> Assignment:
    """Place one article in a story (joining or starting one) and update both indexes."""
    stories.expire(features.day)
    keys = retrieval_keys(features, tuning)
    duplicate_of: str | None = None
    chosen: StoryState | None = None
    score = 0.0
    copy = None
    if features.signature is not None:
        copy = copies.nearest(features.signature, tuning.duplicate_jaccard)
    if copy is not None:
        duplicate_of = copy.original
        chosen = stories.get(copy.story_id)
        score = copy.jaccard
    if chosen is None:
        best: tuple[float, StoryState] | None = None
        for story in stories.candidates(keys, tuning.candidates):
            gap = gap_days(features.day, story)
            if gap is not None and gap > tuning.window_days:
                continue  # quiet for the article's date, even if not evicted yet
            total = score_story(features, story, tuning).total
            if best is None or total > best[0]:
                best = (total, story)
        if best is not None:
            score = best[0]
            if best[0] >= tuning.join_threshold:
                chosen = best[1]
    is_new = chosen is None
    if chosen is None:
        chosen = StoryState(
            id=story_id_for(features.article_id),
            first_article=features.article_id,
            size=0,
            first_day=None,
            last_day=None,
        )
    absorb(chosen, features, tuning)
    # Found from now on by the keys its articles bring: no per-story key list to keep.
    stories.put(chosen, keys)
    if features.signature is not None:
        copies.add(
            features.article_id,
            duplicate_of or features.article_id,
            chosen.id,
            features.day,
            features.signature,
        )
    return Assignment(chosen.id, is_new, chosen.size, duplicate_of, round(score, 4))


class StoryAssigner:
    """The stories stage's state and its one entry point, :meth:`assign`.

    Holds the document frequencies, the story index and the copy index; in memory by
    default (:meth:`in_memory`), or any implementations of the three protocols.
    """

    def __init__(
        self,
        frequencies: Frequencies,
        stories: StoryIndex,
        copies: CopyIndex,
        tuning: Tuning = DEFAULT_TUNING,
    ) -> None:
        self.frequencies = frequencies
        self.stories = stories
        self.copies = copies
        self.tuning = tuning

    @classmethod
    def in_memory(cls, tuning: Tuning = DEFAULT_TUNING) -> StoryAssigner:
        """An assigner whose state lives in this process, bounded by the window."""
        return cls(
            DocumentFrequencies(tuning.df_buckets, tuning.df_half_life_docs),
            MemoryStoryIndex(tuning.window_days, tuning.max_stories, tuning.posting_limit),
            MemoryCopyIndex(tuning.lsh_bands, tuning.window_days, tuning.max_stories),
            tuning,
        )

    def assign(self, article_id: str, text: str, **parts: Unpack[ArticleParts]) -> Assignment:
        """Place one article (with its enrichments, as :class:`ArticleParts`) in a story."""
        features = story_features(
            article_id, text, **parts, frequencies=self.frequencies, tuning=self.tuning
        )
        return assign_story(features, self.stories, self.copies, self.tuning)
