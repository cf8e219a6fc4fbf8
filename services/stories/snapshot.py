"""The stories stage's in-memory state as a packed snapshot, and back, exactly.

The stories stage keeps its state in memory (one owner decides, see
``services/stories/owner.py``) and saves a snapshot of it to Redis now and then; after a
crash the next owner loads the snapshot and replays the assignments recorded since.
Restoring must give the very state that was saved, down to the order of posting lists and
of the eviction queues, so that the replayed and later assignments are the ones an
uninterrupted run makes: ``tests/unit/test_story_state.py`` checks that.

The layout is columns of :mod:`services.stories.packing` (flat numeric arrays and one
string table, no pickle: the snapshot is read back from Redis, and unpickling what a Redis
writer put there would run their code). A day that is None is stored as NaN (a real day
never is). The near-copy index's band lists are not stored: they are its articles in
insertion order, band by band, and are rebuilt from them.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import numpy as np

from services.stories.assign import StoryAssigner
from services.stories.cards import Card
from services.stories.features import DocumentFrequencies, FocusPlace
from services.stories.index import (
    Members,
    MemoryCopyIndex,
    MemoryStoryIndex,
    StoryState,
    _Copy,
    _Expiry,
    members,
    packed,
    with_member,
)
from services.stories.packing import Reader, Writer
from shared.schemas import StoryRef

#: Bump when the layout below changes: an older snapshot is then refused (and the state
#: rebuilt from the log that remains), never misread. 1 was one JSON document.
SNAPSHOT_VERSION = 2

_NAN = math.nan


def _day(value: float | None) -> float:
    return _NAN if value is None else value


def _undate(value: float) -> float | None:
    return None if math.isnan(value) else value


def _in_memory(
    assigner: StoryAssigner,
) -> tuple[DocumentFrequencies, MemoryStoryIndex, MemoryCopyIndex]:
    frequencies, stories, copies = assigner.frequencies, assigner.stories, assigner.copies
    if not (
        isinstance(frequencies, DocumentFrequencies)
        and isinstance(stories, MemoryStoryIndex)
        and isinstance(copies, MemoryCopyIndex)
    ):
        raise TypeError("only the in-memory assigner has a snapshot")
    return frequencies, stories, copies


def _write_expiry(out: Writer, name: str, expiry: _Expiry) -> None:
    out.scalars[name + ".now"] = expiry.now
    out.array(name + ".heap.day", (day for day, _ in expiry._heap), np.float64)
    out.text(name + ".heap.key", (key for _, key in expiry._heap))
    out.text(name + ".order.key", expiry._order)
    out.array(name + ".order.day", map(_day, expiry._order.values()), np.float64)


def _read_expiry(data: Reader, name: str, expiry: _Expiry) -> None:
    expiry.now = data.scalars[name + ".now"]
    # The heap is restored as the list it was: a list that was a heap is one still.
    expiry._heap = list(
        zip(data.numbers(name + ".heap.day"), data.text(name + ".heap.key"), strict=True)
    )
    days = map(_undate, data.numbers(name + ".order.day"))
    expiry._order = OrderedDict(zip(data.text(name + ".order.key"), days, strict=True))


def _write_stories(out: Writer, index: MemoryStoryIndex) -> None:
    stories = list(index._stories.values())
    out.text("story.id", (s.id for s in stories))
    out.text("story.first_article", (s.first_article for s in stories))
    out.array("story.size", (s.size for s in stories), np.int64)
    out.array("story.first_day", (_day(s.first_day) for s in stories), np.float64)
    out.array("story.last_day", (_day(s.last_day) for s in stories), np.float64)
    out.array("story.norms", itertools.chain.from_iterable(s.norms for s in stories), np.float64)
    out.str_dicts("story.terms", [s.terms for s in stories])
    out.str_dicts("story.entities", [s.entities for s in stories])
    out.int_dicts("story.places", [s.places for s in stories], np.float64)
    out.int_dicts("story.foci", [s.foci for s in stories], np.int64)
    out.int_dicts("story.years", [s.years for s in stories], np.int64)
    focus = [p for s in stories for p in s.focus_places.values()]
    out.array("story.focus.n", (len(s.focus_places) for s in stories), np.int32)
    out.array("story.focus.id", (p.geonameid for p in focus), np.int64)
    out.array("story.focus.country", out.optional_codes(p.country_code for p in focus))
    out.array("story.focus.admin1", out.optional_codes(p.admin1 for p in focus))
    out.text("story.focus.class", (p.feature_class for p in focus))
    out.array("story.focus.lat", (p.latitude for p in focus), np.float64)
    out.array("story.focus.lon", (p.longitude for p in focus), np.float64)
    out.array("story.recent.n", (len(s.recent) for s in stories), np.int32)
    out.str_dicts("story.recent.terms", [t for s in stories for t, _ in s.recent])
    out.str_dicts("story.recent.entities", [e for s in stories for _, e in s.recent])
    postings = index._postings
    out.text("posting.key", postings)
    out.array("posting.n", (len(members(p)) for p in postings.values()), np.int32)
    out.text("posting.story", itertools.chain.from_iterable(map(members, postings.values())))
    _write_expiry(out, "story.expiry", index._expiry)
    out.scalars["story.evicted_since_sweep"] = index._evicted_since_sweep


def _read_stories(data: Reader, index: MemoryStoryIndex) -> None:
    ids = data.text("story.id")
    norms = data.numbers("story.norms")
    terms, entities = data.str_dicts("story.terms"), data.str_dicts("story.entities")
    places, foci = data.int_dicts("story.places"), data.int_dicts("story.foci")
    years = data.int_dicts("story.years")
    focus = [
        FocusPlace(*fields)
        for fields in zip(
            data.numbers("story.focus.id"),
            data.optional_text("story.focus.country"),
            data.optional_text("story.focus.admin1"),
            data.text("story.focus.class"),
            data.numbers("story.focus.lat"),
            data.numbers("story.focus.lon"),
            strict=True,
        )
    ]
    recent = list(
        zip(
            data.str_dicts("story.recent.terms"),
            data.str_dicts("story.recent.entities"),
            strict=True,
        )
    )
    columns = zip(
        ids,
        data.text("story.first_article"),
        data.numbers("story.size"),
        map(_undate, data.numbers("story.first_day")),
        map(_undate, data.numbers("story.last_day")),
        terms,
        entities,
        places,
        foci,
        years,
        data.spans("story.focus.n"),
        data.spans("story.recent.n"),
        strict=True,
    )
    stories: dict[str, StoryState] = {}
    for n, (sid, first, size, day0, day1, t, e, p, f, y, fspan, rspan) in enumerate(columns):
        stories[sid] = StoryState(
            id=sid,
            first_article=first,
            size=size,
            first_day=day0,
            last_day=day1,
            terms=t,
            entities=e,
            places=p,
            foci=f,
            focus_places={place.geonameid: place for place in focus[fspan[0] : fspan[1]]},
            years=y,
            recent=recent[rspan[0] : rspan[1]],
            norms=(norms[3 * n], norms[3 * n + 1], norms[3 * n + 2]),
        )
    index._stories = stories
    limit, posted = index._posting_limit, data.text("posting.story")
    postings: dict[str, Members] = {}
    spans = data.spans("posting.n")
    for key, (start, end) in zip(data.text("posting.key"), spans, strict=True):
        # The newest ``limit`` of each, as put() keeps them.
        entry = packed(posted[max(start, end - limit) : end])
        if entry is not None:
            postings[key] = entry
    index._postings = postings
    _read_expiry(data, "story.expiry", index._expiry)
    index._evicted_since_sweep = int(data.scalars["story.evicted_since_sweep"])


def _write_copies(out: Writer, index: MemoryCopyIndex) -> None:
    copies = index._copies
    out.text("copy.article", copies)
    out.text("copy.original", (c.original for c in copies.values()))
    out.text("copy.story", (c.story_id for c in copies.values()))
    signatures = [c.signature for c in copies.values()]
    out.scalars["copy.signature_length"] = len(signatures[0]) if signatures else 0
    out.array(
        "copy.signature",
        np.concatenate(signatures) if signatures else np.zeros(0, np.uint32),
        np.uint32,
    )
    _write_expiry(out, "copy.expiry", index._expiry)


def _read_copies(data: Reader, index: MemoryCopyIndex) -> None:
    length = int(data.scalars["copy.signature_length"])
    articles = data.text("copy.article")
    flat = data.array("copy.signature")
    if len(flat) != length * len(articles):
        raise ValueError("snapshot signatures of inconsistent lengths")
    rows = flat.reshape(len(articles), length) if articles else flat.reshape(0, 0)
    copies: dict[str, _Copy] = {}
    buckets: dict[bytes, Members] = {}
    originals, stories = data.text("copy.original"), data.text("copy.story")
    bands = index.band_keys_of(rows)
    signatures = rows.copy()  # one writable array the copies' signatures are rows of
    for n, (article, original, story_id) in enumerate(
        zip(articles, originals, stories, strict=True)
    ):
        copies[article] = _Copy(original, story_id, signatures[n])
        for band in bands[n]:
            buckets[band] = with_member(buckets.get(band), article)
    index._copies, index._buckets = copies, buckets
    _read_expiry(data, "copy.expiry", index._expiry)


def _write_cards(out: Writer, cards: list[Card]) -> None:
    out.text("card.id", (c.id for c in cards))
    out.text("card.label", (c.label for c in cards))
    out.array("card.titled", (c.label_titled for c in cards), np.bool_)
    out.array("card.label_score", (c.label_score for c in cards), np.float64)
    out.array("card.articles", (c.articles for c in cards), np.int64)
    out.text("card.first_seen", (c.first_seen for c in cards))
    out.text("card.last_seen", (c.last_seen for c in cards))
    out.array("card.entity.n", (len(c.entities) for c in cards), np.int32)
    entities = [(k, v) for c in cards for k, v in c.entities.items()]
    out.text("card.entity.key", (k for k, _ in entities))
    out.text("card.entity.name", (v[0] for _, v in entities))
    out.text("card.entity.label", (v[1] for _, v in entities))
    out.array("card.entity.weight", (v[2] for _, v in entities), np.float64)
    out.array("card.focus.n", (len(c.foci) for c in cards), np.int32)
    foci = [(k, v) for c in cards for k, v in c.foci.items()]
    out.text("card.focus.key", (k for k, _ in foci))
    out.text("card.focus.name", (v[0] for _, v in foci))
    out.array("card.focus.lat", (v[1] for _, v in foci), np.float64)
    out.array("card.focus.lon", (v[2] for _, v in foci), np.float64)
    out.array("card.focus.country", out.optional_codes(v[3] for _, v in foci))
    out.array("card.focus.admin1", out.optional_codes(v[4] for _, v in foci))
    out.array("card.focus.articles", (v[5] for _, v in foci), np.int64)


def _read_cards(data: Reader) -> dict[str, Card]:
    entities = list(
        zip(
            data.text("card.entity.key"),
            data.text("card.entity.name"),
            data.text("card.entity.label"),
            data.numbers("card.entity.weight"),
            strict=True,
        )
    )
    foci = list(
        zip(
            data.text("card.focus.key"),
            data.text("card.focus.name"),
            data.numbers("card.focus.lat"),
            data.numbers("card.focus.lon"),
            data.optional_text("card.focus.country"),
            data.optional_text("card.focus.admin1"),
            data.numbers("card.focus.articles"),
            strict=True,
        )
    )
    entity_spans = data.spans("card.entity.n")
    focus_spans = data.spans("card.focus.n")
    cards: dict[str, Card] = {}
    columns = zip(
        data.text("card.id"),
        data.text("card.label"),
        data.numbers("card.titled"),
        data.numbers("card.label_score"),
        data.numbers("card.articles"),
        data.text("card.first_seen"),
        data.text("card.last_seen"),
        entity_spans,
        focus_spans,
        strict=True,
    )
    for card_id, label, titled, score, articles, first, last, (e0, e1), (f0, f1) in columns:
        cards[card_id] = Card(
            card_id,
            label,
            titled,
            score,
            articles,
            first,
            last,
            entities={key: [name, lab, weight] for key, name, lab, weight in entities[e0:e1]},
            foci={key: list(rest) for key, *rest in foci[f0:f1]},
        )
    return cards


def _write_assignments(out: Writer, assignments: OrderedDict[str, StoryRef]) -> None:
    refs = list(assignments.values())
    out.text("assigned.article", assignments)
    out.text("assigned.story", (r.id for r in refs))
    out.array("assigned.is_new", (r.is_new for r in refs), np.bool_)
    out.array("assigned.size", (r.size for r in refs), np.int64)
    out.array("assigned.duplicate_of", out.optional_codes(r.duplicate_of for r in refs))
    out.array("assigned.score", (r.score for r in refs), np.float64)


def _read_assignments(data: Reader) -> OrderedDict[str, StoryRef]:
    columns = zip(
        data.text("assigned.article"),
        data.text("assigned.story"),
        data.numbers("assigned.is_new"),
        data.numbers("assigned.size"),
        data.optional_text("assigned.duplicate_of"),
        data.numbers("assigned.score"),
        strict=True,
    )
    return OrderedDict(
        (article, StoryRef(id=sid, is_new=new, size=size, duplicate_of=dup, score=score))
        for article, sid, new, size, dup, score in columns
    )


def pack_state(
    seq: int,
    assigner: StoryAssigner,
    cards: dict[str, Card],
    assignments: OrderedDict[str, StoryRef],
) -> bytes:
    """The stories stage's whole state (sequence number, in-memory assigner, cards and
    recent assignments) as snapshot bytes; :func:`unpack_state` reads them."""
    frequencies, stories, copies = _in_memory(assigner)
    out = Writer()
    out.scalars["seq"] = seq
    out.array("frequencies.counts", frequencies._counts, np.float32)
    out.scalars["frequencies.documents"] = frequencies._documents
    out.scalars["frequencies.since_decay"] = frequencies._since_decay
    _write_stories(out, stories)
    _write_copies(out, copies)
    _write_cards(out, list(cards.values()))
    _write_assignments(out, assignments)
    return out.pack(SNAPSHOT_VERSION)


def unpack_state(
    blob: bytes, assigner: StoryAssigner
) -> tuple[int, dict[str, Card], OrderedDict[str, StoryRef]]:
    """Fill an empty in-memory ``assigner`` from :func:`pack_state`'s bytes; the sequence
    number, cards and assignments. Raises ValueError for anything else (another format,
    other frequency buckets, inconsistent arrays)."""
    frequencies, stories, copies = _in_memory(assigner)
    data = Reader(blob, SNAPSHOT_VERSION)
    counts = data.array("frequencies.counts")
    if counts.shape != frequencies._counts.shape:
        raise ValueError("snapshot has another number of frequency buckets")
    frequencies._counts = counts.copy()
    frequencies._documents = float(data.scalars["frequencies.documents"])
    frequencies._since_decay = int(data.scalars["frequencies.since_decay"])
    _read_stories(data, stories)
    _read_copies(data, copies)
    return int(data.scalars["seq"]), _read_cards(data), _read_assignments(data)
