"""The stories stage's state in its owner's memory: the assigner, the cards, and each
recent article's story, so that a second delivery or a replay gets the same story.

Everything here is synchronous and deterministic: the state after a sequence of articles
depends on that sequence only. That is what lets the owner recover by loading a snapshot
and replaying the articles recorded after it (:mod:`services.stories.owner`).
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from services.stories.assign import StoryAssigner
from services.stories.cards import Card, card_add, new_card
from services.stories.features import DocumentFrequencies
from services.stories.index import MemoryCopyIndex, MemoryStoryIndex
from services.stories.packing import paused_gc
from services.stories.snapshot import pack_state, unpack_state
from services.stories.snapshot_v1 import is_format_1, unpack_format_1
from services.stories.tuning import DEFAULT_TUNING, Tuning
from shared.schemas import StoryRef
from shared.story_schemas import StoryInput

#: Articles whose story is remembered for a second delivery or a replay, beyond the
#: stories themselves: a replay comes within the accepted stream's retention (an hour by
#: default), so twice the live stories is ample.
ASSIGNMENTS_PER_STORY = 2


class _TrackedStories(MemoryStoryIndex):
    """The story index, telling which stories it evicted (their cards go with them)."""

    def __init__(self, window_days: float, capacity: int, posting_limit: int) -> None:
        super().__init__(window_days, capacity, posting_limit)
        self.evicted: list[str] = []

    def expire(self, day: float | None) -> list[str]:
        gone = super().expire(day)
        self.evicted.extend(gone)
        return gone


def new_assigner(tuning: Tuning) -> StoryAssigner:
    """An empty in-memory assigner whose story index reports its evictions."""
    return StoryAssigner(
        DocumentFrequencies(tuning.df_buckets, tuning.df_half_life_docs),
        _TrackedStories(tuning.window_days, tuning.max_stories, tuning.posting_limit),
        MemoryCopyIndex(tuning.lsh_bands, tuning.window_days, tuning.max_stories),
        tuning,
    )


@dataclass(frozen=True, slots=True)
class Assigned:
    """One article's assignment and what changed: its card (None when the article had
    its story already) and the stories that went quiet and were evicted."""

    ref: StoryRef
    card: Card | None
    created: bool
    evicted: tuple[str, ...] = ()


class StoriesState:
    """The assigner, the cards of the live stories and the recent assignments."""

    def __init__(self, tuning: Tuning = DEFAULT_TUNING) -> None:
        self.tuning = tuning
        self.assigner = new_assigner(tuning)
        self.cards: dict[str, Card] = {}
        self.assignments: OrderedDict[str, StoryRef] = OrderedDict()
        #: Articles assigned since the state began (the sequence number of the latest).
        self.seq = 0

    def assign(self, article: StoryInput) -> Assigned:
        """Place an article in its story, or give the story it already has."""
        known = self.assignments.get(article.meta.id)
        if known is not None:
            return Assigned(known, None, created=False)
        stories = self.assigner.stories
        assert isinstance(stories, _TrackedStories)
        stories.evicted.clear()
        meta = article.meta
        found = self.assigner.assign(
            meta.id,
            article.text,
            title=meta.title,
            published=meta.published_at,
            entities=article.entities,
            places=article.places,
        )
        ref = StoryRef(
            id=found.id,
            is_new=found.is_new,
            size=found.size,
            duplicate_of=found.duplicate_of,
            # A veto (two places, nobody in common) scores minus infinity: no JSON number.
            score=found.score if math.isfinite(found.score) else 0.0,
        )
        evicted = tuple(stories.evicted)
        for story_id in evicted:
            self.cards.pop(story_id, None)
        card = self.cards.get(ref.id)
        if card is None:
            card = self.cards[ref.id] = new_card(ref.id, article)
        else:
            card_add(card, article, ref)
        self.assignments[meta.id] = ref
        while len(self.assignments) > ASSIGNMENTS_PER_STORY * self.tuning.max_stories:
            self.assignments.popitem(last=False)
        self.seq += 1
        return Assigned(ref, card, created=ref.is_new, evicted=evicted)

    def replay(self, articles: Iterable[StoryInput]) -> int:
        """Assign recorded articles again (after a snapshot); how many were replayed."""
        count = 0
        for article in articles:
            self.assign(article)
            count += 1
        return count

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> bytes:
        """The whole state, packed (:mod:`services.stories.snapshot`; :meth:`restore`)."""
        with paused_gc():
            return pack_state(self.seq, self.assigner, self.cards, self.assignments)

    @classmethod
    def restore(cls, blob: bytes, tuning: Tuning = DEFAULT_TUNING) -> StoriesState:
        """The state a :meth:`snapshot` saved; raises ValueError for anything else."""
        state = cls(tuning)
        try:
            with paused_gc():
                unpack = unpack_format_1 if is_format_1(blob) else unpack_state
                state.seq, state.cards, state.assignments = unpack(blob, state.assigner)
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise ValueError(f"unreadable stories snapshot: {exc}") from exc
        return state
