"""The stories stage's state: the same story for a second delivery, cards, and snapshots
that restore the very state they saved (services/stories/state.py, snapshot.py)."""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import zlib
from datetime import timedelta
from typing import Any

import pytest

from services.stories.cards import card_view
from services.stories.index import MemoryCopyIndex, MemoryStoryIndex, members
from services.stories.packing import MAGIC
from services.stories.snapshot import SNAPSHOT_VERSION
from services.stories.state import StoriesState
from services.stories.tuning import Tuning
from tests.story_fixtures import DAY, STORIES, STREAM, article


def test_articles_of_one_story_share_it_and_a_second_delivery_gets_the_same() -> None:
    state = StoriesState()
    refs = {a.meta.id: state.assign(a).ref for a in STREAM}
    assert refs["a1"].id == refs["a3"].id == refs["a6"].id
    assert refs["a2"].id == refs["a5"].id
    assert refs["a4"].id == refs["a7"].id
    assert len({refs["a1"].id, refs["a2"].id, refs["a4"].id}) == 3
    assert refs["a1"].is_new and not refs["a3"].is_new and refs["a6"].size == 3
    again = state.assign(STREAM[2])
    assert again.ref == refs["a3"] and again.card is None
    assert state.seq == len(STREAM)


def test_a_card_shows_the_story_its_size_dates_people_and_place() -> None:
    state = StoriesState()
    for item in STREAM:
        state.assign(item)
    fire = state.assign(STREAM[0]).ref.id
    card = card_view(state.cards[fire])
    assert card.articles == 3
    assert card.first_seen == DAY and card.last_seen == DAY + timedelta(days=1)
    assert card.focus is not None and card.focus.name == "Lyon" and card.focus.articles == 3
    assert [e.name for e in card.entities] == ["Textiles Morel"]
    assert card.label.startswith("fire report")


def test_a_snapshot_restores_the_very_state_and_later_assignments_agree() -> None:
    tuning = Tuning(df_buckets=1 << 12)
    whole = StoriesState(tuning)
    cut = StoriesState(tuning)
    for item in STREAM[:4]:
        whole.assign(item)
        cut.assign(item)
    restored = StoriesState.restore(cut.snapshot(), tuning)
    assert restored.snapshot() == cut.snapshot()
    later = [whole.assign(a).ref for a in STREAM[4:]]
    assert [restored.assign(a).ref for a in STREAM[4:]] == later
    assert restored.snapshot() == whole.snapshot()


def test_quiet_stories_leave_with_their_cards() -> None:
    state = StoriesState(Tuning(window_days=2.0, df_buckets=1 << 12))
    first = state.assign(article("b1", "fire")).ref
    assert first.id in state.cards
    gone = state.assign(article("b2", "vote", days=10))
    assert first.id in gone.evicted and first.id not in state.cards


def test_an_unreadable_snapshot_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unreadable stories snapshot"):
        StoriesState.restore(b"not a snapshot")


def test_a_vetoed_join_still_scores_a_json_number() -> None:
    # The same words in two countries with nobody in common: the join is vetoed (minus
    # infinity inside), and the article's story says a finite score.
    state = StoriesState(Tuning(df_buckets=1 << 12))
    state.assign(article("v1", "fire"))
    look_alike = (
        "Fire broke out at a timber warehouse near the port of Sapporo late on Monday. "
        "Firefighters from four stations fought the blaze through the night before it was "
        "under control. The owner said nobody was inside, and police opened an inquiry "
        "into the cause while the city's mayor visited the site in the morning."
    )
    _text, _entities, sapporo = STORIES["quake"]
    other = article("v2", "fire", days=0.1).model_copy(
        update={"text": look_alike, "places": [sapporo], "entities": []}
    )
    ref = state.assign(other).ref
    assert ref.is_new and ref.duplicate_of is None
    assert ref.score == ref.score and abs(ref.score) < 1e9
    assert json.loads(ref.model_dump_json())["score"] is not None


def _contents(state: StoriesState) -> dict[str, Any]:
    """Everything a state holds, as plain data (not through the snapshot's own encoding)."""
    stories, copies = state.assigner.stories, state.assigner.copies
    assert isinstance(stories, MemoryStoryIndex) and isinstance(copies, MemoryCopyIndex)
    return {
        "seq": state.seq,
        "stories": [dataclasses.asdict(s) for s in stories._stories.values()],
        "postings": list(stories._postings.items()),
        "expiry": (
            stories._expiry.now,
            stories._expiry._heap,
            list(stories._expiry._order.items()),
        ),
        "copies": [
            (a, c.original, c.story_id, c.signature.tolist()) for a, c in copies._copies.items()
        ],
        "buckets": sorted(copies._buckets.items()),
        "copy_expiry": (copies._expiry._heap, list(copies._expiry._order.items())),
        "cards": [dataclasses.asdict(c) for c in state.cards.values()],
        "assignments": list(state.assignments.items()),
    }


def test_a_snapshot_restores_every_field_undated_stories_and_evictions_included() -> None:
    state = StoriesState(Tuning(window_days=2.0, df_buckets=1 << 12))
    vote = article("u1", "vote")
    undated = vote.model_copy(update={"meta": vote.meta.model_copy(update={"published_at": None})})
    gone = [
        state.assign(item).evicted for item in [undated, *STREAM[:3], article("q", "quake", days=9)]
    ]
    assert gone[-1]  # the dated stories went quiet
    restored = StoriesState.restore(state.snapshot(), state.tuning)
    contents = _contents(restored)
    assert contents == _contents(state)
    assert next(s["first_day"] for s in contents["stories"]) is None


def test_a_snapshot_of_another_format_is_refused_with_a_reason() -> None:
    blob = StoriesState().snapshot()
    assert blob.startswith(MAGIC)
    other = blob[: len(MAGIC)] + struct.pack("<I", SNAPSHOT_VERSION + 1) + blob[len(MAGIC) + 4 :]
    with pytest.raises(ValueError, match=f"format {SNAPSHOT_VERSION + 1}"):
        StoriesState.restore(other)
    # A snapshot of format 1 is zlib-compressed JSON: read when it is one, else refused.
    with pytest.raises(ValueError, match="unreadable stories snapshot: 'frequencies'"):
        StoriesState.restore(zlib.compress(b'{"seq": 1, "assigner": {"version": 1}}'))
    with pytest.raises(ValueError, match="version 3 is not 1"):
        StoriesState.restore(zlib.compress(b'{"seq": 1, "assigner": {"version": 3}}'))
    with pytest.raises(ValueError, match="corrupt snapshot"):
        StoriesState.restore(blob[: len(MAGIC) + 4] + b"garbage")


def _format_1(state: StoriesState) -> bytes:
    """``state`` as the format 1 writer (commit 4fb5132, since replaced) saved it."""

    def array(values: Any) -> str:
        return base64.b64encode(values.tobytes()).decode("ascii")

    def expiry(queue: Any) -> dict[str, Any]:
        return {
            "now": queue.now,
            "heap": [[day, key] for day, key in queue._heap],
            "order": [[key, day] for key, day in queue._order.items()],
        }

    assigner = state.assigner
    stories, copies = assigner.stories, assigner.copies
    assert isinstance(stories, MemoryStoryIndex) and isinstance(copies, MemoryCopyIndex)
    data = {
        "seq": state.seq,
        "assigner": {
            "version": 1,
            "frequencies": {
                "counts": array(assigner.frequencies._counts),  # type: ignore[attr-defined]
                "documents": assigner.frequencies._documents,  # type: ignore[attr-defined]
                "since_decay": assigner.frequencies._since_decay,  # type: ignore[attr-defined]
            },
            "stories": {
                "stories": [s.to_json() for s in stories._stories.values()],
                "postings": {k: list(members(p)) for k, p in stories._postings.items()},
                "expiry": expiry(stories._expiry),
                "evicted_since_sweep": stories._evicted_since_sweep,
            },
            "copies": {
                "copies": [
                    [article_id, c.original, c.story_id, array(c.signature)]
                    for article_id, c in copies._copies.items()
                ],
                "buckets": {b.hex(): list(members(m)) for b, m in copies._buckets.items()},
                "expiry": expiry(copies._expiry),
            },
        },
        "cards": [c.to_json() for c in state.cards.values()],
        "assignments": [[a, r.model_dump(mode="json")] for a, r in state.assignments.items()],
    }
    return zlib.compress(json.dumps(data).encode(), 1)


def test_a_snapshot_of_format_1_is_read_into_the_very_state() -> None:
    # An owner of this version takes over from one of the version before: the window's
    # stories, near-copies and assignments carry on, and later articles agree.
    tuning = Tuning(df_buckets=1 << 12)
    whole, cut = StoriesState(tuning), StoriesState(tuning)
    for item in STREAM[:5]:
        whole.assign(item)
        cut.assign(item)
    assert len(cut.cards) == 3 and cut.assigner.copies._copies  # type: ignore[attr-defined]
    restored = StoriesState.restore(_format_1(cut), tuning)
    assert _contents(restored) == _contents(cut)
    assert restored.snapshot() == cut.snapshot()  # and the next snapshot is of format 2
    later = [whole.assign(a).ref for a in STREAM[4:]]
    assert [restored.assign(a).ref for a in STREAM[4:]] == later
