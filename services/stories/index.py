"""Where live stories are kept and found: the story index and the near-copy index.

Both are small protocols with an in-memory implementation here; the service's will live
in Redis, shared by workers, and implement the same protocols. Memory is bounded by the
time window (a story quiet for ``window_days`` is evicted) and, for streams without
dates, by a capacity (the least recently touched story goes first).

A story's state is small and plain (:class:`StoryState`: top-k weights, counts, days,
size) so that it serialises to one JSON object (:meth:`StoryState.to_json`).
"""

from __future__ import annotations

import hashlib
import heapq
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from services.stories.features import FocusPlace, Signature, jaccard_estimate


def story_id_for(article_id: str) -> str:
    """The id of the story an article starts: stable, so a redelivery gives the same id."""
    return "st-" + hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(slots=True)
class StoryState:
    """What a story remembers of its articles: bounded whatever its size."""

    id: str
    #: The article that started it.
    first_article: str
    size: int
    #: First and last publication day of its dated articles (None: none dated yet).
    first_day: float | None
    last_day: float | None
    #: Sum of its articles' term vectors, the top ``Tuning.story_terms`` kept.
    terms: dict[str, float] = field(default_factory=dict)
    entities: dict[str, float] = field(default_factory=dict)
    places: dict[int, float] = field(default_factory=dict)
    #: The places its articles are about, with how many articles each.
    foci: dict[int, int] = field(default_factory=dict)
    focus_places: dict[int, FocusPlace] = field(default_factory=dict)
    #: The years its articles are about (publication year, or named in an undated text),
    #: with how many articles each.
    years: dict[int, int] = field(default_factory=dict)
    #: The latest articles' own vectors (terms, entities), a few heaviest weights each: a
    #: story told from several angles is close to one of its articles, not to its mean.
    recent: list[tuple[dict[str, float], dict[str, float]]] = field(default_factory=list)
    #: L2 norms of ``terms``, ``entities`` and ``places``, kept so scoring needs no pass.
    norms: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (GeoNames ids as strings, as JSON object keys must be)."""
        data = asdict(self)
        data["places"] = {str(k): v for k, v in self.places.items()}
        data["foci"] = {str(k): v for k, v in self.foci.items()}
        data["focus_places"] = {str(k): asdict(v) for k, v in self.focus_places.items()}
        data["years"] = {str(k): v for k, v in self.years.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoryState:
        """The state :meth:`to_json` wrote."""
        return cls(
            id=data["id"],
            first_article=data["first_article"],
            size=int(data["size"]),
            first_day=data["first_day"],
            last_day=data["last_day"],
            terms=dict(data["terms"]),
            entities=dict(data["entities"]),
            places={int(k): float(v) for k, v in data["places"].items()},
            foci={int(k): int(v) for k, v in data["foci"].items()},
            focus_places={int(k): FocusPlace(**v) for k, v in data["focus_places"].items()},
            # A snapshot written before years were kept has none.
            years={int(k): int(v) for k, v in data.get("years", {}).items()},
            recent=[(dict(t), dict(e)) for t, e in data["recent"]],
            norms=tuple(data["norms"]),
        )


#: The stories of an index key, or the articles of an LSH band: most have one member (a
#: name, a town, a band of one article), kept as the string itself; a list from two on.
#: A one-element list costs 88 bytes beside the string, and there were about 20 a story.
Members = str | list[str]


def members(entry: Members | None) -> Sequence[str]:
    """The members of a postings entry (none, one kept as itself, or a list)."""
    if entry is None:
        return ()
    return (entry,) if isinstance(entry, str) else entry


def with_member(entry: Members | None, member: str) -> Members:
    """``entry`` with ``member`` appended (the list is changed in place)."""
    if entry is None:
        return member
    if isinstance(entry, str):
        return [entry, member]
    entry.append(member)
    return entry


def packed(items: list[str]) -> Members | None:
    """The entry of ``items``: None for none, the string for one, else the list."""
    if not items:
        return None
    return items[0] if len(items) == 1 else items


class StoryIndex(Protocol):
    """Live stories, found by the keys they share with an article."""

    def candidates(self, keys: Mapping[str, float], limit: int) -> list[StoryState]:
        """Up to ``limit`` live stories sharing the most key weight with ``keys``."""
        ...

    def get(self, story_id: str) -> StoryState | None:
        """A live story by id."""
        ...

    def put(self, story: StoryState, keys: Iterable[str]) -> None:
        """Add or update a story, found from now on under ``keys`` too."""
        ...

    def expire(self, day: float | None) -> list[str]:
        """Advance the clock to ``day`` (if later) and evict quiet stories; their ids."""
        ...

    def __len__(self) -> int:
        """Live stories."""
        ...


class _Expiry:
    """Which keys are due out: quiet longer than the window, or beyond the capacity."""

    def __init__(self, window_days: float, capacity: int) -> None:
        self.window_days = window_days
        self.capacity = capacity
        self.now: float | None = None
        # Dated keys by last day; an entry is stale when the key's day has moved since.
        self._heap: list[tuple[float, str]] = []
        # Every key in touch order, with its last day: the capacity evicts the front.
        self._order: OrderedDict[str, float | None] = OrderedDict()

    def touch(self, key: str, day: float | None) -> None:
        if day is not None and self._order.get(key) != day:
            heapq.heappush(self._heap, (day, key))
        self._order[key] = day
        self._order.move_to_end(key)

    def advance(self, day: float | None) -> list[str]:
        if day is not None and (self.now is None or day > self.now):
            self.now = day
        out: list[str] = []
        if self.now is not None:
            horizon = self.now - self.window_days
            while self._heap and self._heap[0][0] < horizon:
                last, key = heapq.heappop(self._heap)
                if key in self._order and self._order[key] == last:
                    del self._order[key]
                    out.append(key)
        while len(self._order) > self.capacity:
            key, _ = self._order.popitem(last=False)
            out.append(key)
        return out


class MemoryStoryIndex:
    """:class:`StoryIndex` in one process: an inverted index of capped posting lists.

    A key's posting list keeps its ``posting_limit`` most recently updated stories, so a
    common key ("United States") costs the same with ten stories or a million. Postings
    of evicted stories are swept once evictions reach half the live stories (amortised).
    """

    def __init__(self, window_days: float, capacity: int, posting_limit: int) -> None:
        self._stories: dict[str, StoryState] = {}
        # Lists, not deques with a maxlen: a deque takes a 64-slot block (over 500 bytes)
        # even for the one story most keys (a name, a town) ever have; with 100,000
        # stories live that was a fifth of the state. And that one story as itself.
        self._postings: dict[str, Members] = {}
        self._posting_limit = posting_limit
        self._expiry = _Expiry(window_days, capacity)
        self._evicted_since_sweep = 0

    def __len__(self) -> int:
        return len(self._stories)

    @property
    def now(self) -> float | None:
        """The latest publication day seen."""
        return self._expiry.now

    def candidates(self, keys: Mapping[str, float], limit: int) -> list[StoryState]:
        """Up to ``limit`` live stories sharing the most key weight with ``keys``."""
        shared: dict[str, float] = {}
        get = shared.get
        for key, weight in keys.items():
            posting = members(self._postings.get(key))
            if posting:
                # shared[story] += weight for each story of the posting, in C: a story is
                # once in a posting list, so the sums do not depend on each other.
                sums = map(operator.add, map(get, posting, repeat(0.0)), repeat(weight))
                shared.update(zip(posting, sums, strict=True))
        # Postings may name evicted stories until the next sweep: take a few spare. A
        # stable sort, as heapq.nlargest is documented to equal, ties in first-seen order.
        best = sorted(shared.items(), key=operator.itemgetter(1), reverse=True)[: 2 * limit]
        out = []
        for story_id, _ in best:
            story = self._stories.get(story_id)
            if story is not None:
                out.append(story)
                if len(out) >= limit:
                    break
        return out

    def get(self, story_id: str) -> StoryState | None:
        """A live story by id."""
        return self._stories.get(story_id)

    def put(self, story: StoryState, keys: Iterable[str]) -> None:
        """Add or update a story, found from now on under ``keys`` too."""
        self._stories[story.id] = story
        self._expiry.touch(story.id, story.last_day)
        for key in keys:
            posting = self._postings.get(key)
            if posting is None:
                self._postings[key] = story.id
                continue
            if isinstance(posting, str):
                if posting != story.id:
                    kept = [posting, story.id][-self._posting_limit :]
                    self._postings[key] = kept if len(kept) > 1 else kept[0]
                continue
            if story.id in posting:
                posting.remove(story.id)
            posting.append(story.id)
            if len(posting) > self._posting_limit:
                del posting[0]  # the least recently updated story, as a full deque drops

    def expire(self, day: float | None) -> list[str]:
        """Advance the clock to ``day`` (if later) and evict quiet stories; their ids."""
        gone = self._expiry.advance(day)
        for story_id in gone:
            self._stories.pop(story_id, None)
        self._evicted_since_sweep += len(gone)
        if self._evicted_since_sweep > max(64, len(self._stories) // 2):
            self._sweep()
        return gone

    def _sweep(self) -> None:
        for key in list(self._postings):
            live = packed([s for s in members(self._postings[key]) if s in self._stories])
            if live is None:
                del self._postings[key]
            else:
                self._postings[key] = live
        self._evicted_since_sweep = 0


@dataclass(frozen=True, slots=True)
class NearCopy:
    """An earlier article whose text an article nearly repeats."""

    #: The first article of the text (the one a copy of a copy points to).
    original: str
    story_id: str
    jaccard: float


class CopyIndex(Protocol):
    """Signatures of recent articles, found by locality-sensitive hashing."""

    def nearest(self, signature: Signature, threshold: float) -> NearCopy | None:
        """The most similar recent article at ``threshold`` or above, if any."""
        ...

    def add(
        self, article_id: str, original: str, story_id: str, day: float | None, sig: Signature
    ) -> None:
        """Remember an article's signature (``original``: the article it copies, or itself)."""
        ...


@dataclass(frozen=True, slots=True)
class _Copy:
    original: str
    story_id: str
    # Its band keys are not kept (16 bytes objects, a kilobyte an article): eviction,
    # the one reader, computes them again from the signature.
    signature: Signature


class MemoryCopyIndex:
    """:class:`CopyIndex` in one process: LSH bands of MinHash signatures, window-bounded."""

    def __init__(self, bands: int, window_days: float, capacity: int) -> None:
        self._bands = bands
        self._buckets: dict[bytes, Members] = {}
        self._copies: dict[str, _Copy] = {}
        self._expiry = _Expiry(window_days, capacity)

    def __len__(self) -> int:
        return len(self._copies)

    def _band_keys(self, signature: Signature) -> list[bytes]:
        return self.band_keys_of(signature.reshape(1, -1))[0]

    def band_keys_of(self, signatures: npt.NDArray[np.uint32]) -> list[list[bytes]]:
        """Each signature's (a row's) LSH band keys: the band's number, then its rows'
        bytes; built for all rows at once (a snapshot restores 100,000 at a time)."""
        count, bands = len(signatures), self._bands
        rows = signatures.shape[1] // bands
        width = 1 + 4 * rows
        keys = np.empty((count, bands, width), dtype=np.uint8)
        keys[:, :, 0] = np.arange(bands, dtype=np.uint8)
        cut = np.ascontiguousarray(signatures[:, : bands * rows], dtype=np.uint32)
        keys[:, :, 1:] = cut.view(np.uint8).reshape(count, bands, 4 * rows)
        flat = keys.tobytes()
        every = [flat[at : at + width] for at in range(0, len(flat), width)]
        return [every[n * bands : (n + 1) * bands] for n in range(count)]

    def nearest(self, signature: Signature, threshold: float) -> NearCopy | None:
        """The most similar recent article at ``threshold`` or above, if any."""
        seen: set[str] = set()
        best: NearCopy | None = None
        for band in self._band_keys(signature):
            for article_id in members(self._buckets.get(band)):
                if article_id in seen:
                    continue
                seen.add(article_id)
                copy = self._copies[article_id]
                jaccard = jaccard_estimate(signature, copy.signature)
                if jaccard >= threshold and (best is None or jaccard > best.jaccard):
                    best = NearCopy(copy.original, copy.story_id, jaccard)
        return best

    def add(
        self, article_id: str, original: str, story_id: str, day: float | None, sig: Signature
    ) -> None:
        """Remember an article's signature (``original``: the article it copies, or itself)."""
        if article_id in self._copies:
            return
        self._copies[article_id] = _Copy(original, story_id, sig)
        for band in self._band_keys(np.asarray(sig)):
            self._buckets[band] = with_member(self._buckets.get(band), article_id)
        self._expiry.touch(article_id, day)
        for gone in self._expiry.advance(day):
            copy = self._copies.pop(gone)
            for band in self._band_keys(copy.signature):
                entry = self._buckets[band]
                if isinstance(entry, str):
                    del self._buckets[band]
                else:
                    entry.remove(gone)  # a list has two or more: one is left at least
                    self._buckets[band] = entry if len(entry) > 1 else entry[0]
