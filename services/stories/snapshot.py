"""The in-memory story state as JSON data, and back, exactly.

The stories stage keeps its state in memory (one owner decides, see
``services/stories/owner.py``) and saves a snapshot of it to Redis now and then; after a
crash the next owner loads the snapshot and replays the assignments recorded since.
Restoring must give the very state that was saved, down to the order of posting lists and
of the eviction queues, so that the replayed and later assignments are the ones an
uninterrupted run makes: ``tests/unit/test_story_snapshot.py`` checks that.

JSON and not pickle: the snapshot is read back from Redis, and unpickling what a Redis
writer put there would run their code. The data holds the stories' dataclasses as they
are: ``pydantic_core.to_json`` writes them much faster than ``asdict`` and
``json.dumps`` do (timed once by hand, not by a command of the repository).
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any

import numpy as np

from services.stories.assign import StoryAssigner
from services.stories.features import DocumentFrequencies
from services.stories.index import (
    MemoryCopyIndex,
    MemoryStoryIndex,
    StoryState,
    _Copy,
    _Expiry,
)

#: Bump when the layout below changes: an older snapshot is then ignored (and the state
#: rebuilt from the log that remains), never misread.
SNAPSHOT_VERSION = 1


def _array(values: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unarray(text: str, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).copy()


def _dump_expiry(expiry: _Expiry) -> dict[str, Any]:
    return {
        "now": expiry.now,
        "heap": [[day, key] for day, key in expiry._heap],
        "order": [[key, day] for key, day in expiry._order.items()],
    }


def _load_expiry(data: dict[str, Any], expiry: _Expiry) -> None:
    expiry.now = data["now"]
    # The heap is restored as the list it was: a list that was a heap is one still.
    expiry._heap = [(float(day), str(key)) for day, key in data["heap"]]
    expiry._order = OrderedDict((str(key), day) for key, day in data["order"])


def _dump_frequencies(frequencies: DocumentFrequencies) -> dict[str, Any]:
    return {
        "counts": _array(frequencies._counts),
        "documents": frequencies._documents,
        "since_decay": frequencies._since_decay,
    }


def _load_frequencies(data: dict[str, Any], frequencies: DocumentFrequencies) -> None:
    counts = _unarray(data["counts"], np.float32)
    if counts.shape != frequencies._counts.shape:
        raise ValueError("snapshot has another number of frequency buckets")
    frequencies._counts = counts
    frequencies._documents = float(data["documents"])
    frequencies._since_decay = int(data["since_decay"])


def _dump_stories(index: MemoryStoryIndex) -> dict[str, Any]:
    return {
        "stories": list(index._stories.values()),
        "postings": {key: list(posting) for key, posting in index._postings.items()},
        "expiry": _dump_expiry(index._expiry),
        "evicted_since_sweep": index._evicted_since_sweep,
    }


def _load_stories(data: dict[str, Any], index: MemoryStoryIndex) -> None:
    index._stories = {s["id"]: StoryState.from_json(s) for s in data["stories"]}
    limit = index._posting_limit
    # The newest ``limit`` of each, as put() keeps them.
    index._postings = {key: list(ids)[-limit:] for key, ids in data["postings"].items()}
    _load_expiry(data["expiry"], index._expiry)
    index._evicted_since_sweep = int(data["evicted_since_sweep"])


def _dump_copies(index: MemoryCopyIndex) -> dict[str, Any]:
    return {
        # Insertion order matters (the band lists are in it): dicts keep it.
        "copies": [
            [article, copy.original, copy.story_id, _array(copy.signature)]
            for article, copy in index._copies.items()
        ],
        "buckets": {band.hex(): members for band, members in index._buckets.items()},
        "expiry": _dump_expiry(index._expiry),
    }


def _load_copies(data: dict[str, Any], index: MemoryCopyIndex) -> None:
    copies: dict[str, _Copy] = {}
    for article, original, story_id, signature in data["copies"]:
        sig = _unarray(signature, np.uint32)
        copies[article] = _Copy(original, story_id, sig, index._band_keys(sig))
    index._copies = copies
    index._buckets = {bytes.fromhex(band): list(ids) for band, ids in data["buckets"].items()}
    _load_expiry(data["expiry"], index._expiry)


def dump_assigner(assigner: StoryAssigner) -> dict[str, Any]:
    """The assigner's whole state (document frequencies, stories, near-copies), for
    ``pydantic_core.to_json``."""
    frequencies, stories, copies = assigner.frequencies, assigner.stories, assigner.copies
    if not (
        isinstance(frequencies, DocumentFrequencies)
        and isinstance(stories, MemoryStoryIndex)
        and isinstance(copies, MemoryCopyIndex)
    ):
        raise TypeError("only the in-memory assigner has a snapshot")
    return {
        "version": SNAPSHOT_VERSION,
        "frequencies": _dump_frequencies(frequencies),
        "stories": _dump_stories(stories),
        "copies": _dump_copies(copies),
    }


def restore_assigner(data: dict[str, Any], assigner: StoryAssigner) -> None:
    """Fill an empty in-memory ``assigner`` with the state :func:`dump_assigner` saved;
    raises ValueError for a snapshot of another version or shape."""
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}")
    if not (
        isinstance(assigner.frequencies, DocumentFrequencies)
        and isinstance(assigner.stories, MemoryStoryIndex)
        and isinstance(assigner.copies, MemoryCopyIndex)
    ):
        raise TypeError("only the in-memory assigner has a snapshot")
    _load_frequencies(data["frequencies"], assigner.frequencies)
    _load_stories(data["stories"], assigner.stories)
    _load_copies(data["copies"], assigner.copies)
