"""Snapshots of format 1 (one zlib-compressed JSON document), read into today's state.

Format 2 (:mod:`services.stories.snapshot`) replaced it; an owner that takes over from a
process of the version before finds a format 1 snapshot in Redis, and the log after it
only. Refusing it would start the stories from the log alone: every story of the window
would be forgotten, and a replay would give its articles new ones. So it is read, once,
and the owner's next snapshot is of format 2. Only reading is kept: nothing writes it.
"""

from __future__ import annotations

import base64
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np
import pydantic_core

from services.stories.assign import StoryAssigner
from services.stories.cards import Card
from services.stories.index import (
    Members,
    MemoryCopyIndex,
    MemoryStoryIndex,
    StoryState,
    _Copy,
    _Expiry,
    packed,
    with_member,
)
from services.stories.snapshot import _in_memory
from shared.schemas import StoryRef
from shared.wire import is_compressed

#: The format number format 1 documents carried (``{"assigner": {"version": 1, ...}}``).
FORMAT = 1


def _unarray(text: str, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).copy()


def _expiry(data: dict[str, Any], expiry: _Expiry) -> None:
    expiry.now = data["now"]
    # The heap is restored as the list it was: a list that was a heap is one still.
    expiry._heap = [(float(day), str(key)) for day, key in data["heap"]]
    expiry._order = OrderedDict((str(key), day) for key, day in data["order"])


def _stories(data: dict[str, Any], index: MemoryStoryIndex) -> None:
    index._stories = {s["id"]: StoryState.from_json(s) for s in data["stories"]}
    limit = index._posting_limit
    postings: dict[str, Members] = {}
    for key, ids in data["postings"].items():
        # The newest ``limit`` of each, as put() keeps them.
        entry = packed([str(i) for i in ids][-limit:])
        if entry is not None:
            postings[key] = entry
    index._postings = postings
    _expiry(data["expiry"], index._expiry)
    index._evicted_since_sweep = int(data["evicted_since_sweep"])


def _copies(data: dict[str, Any], index: MemoryCopyIndex) -> None:
    copies: dict[str, _Copy] = {}
    for article, original, story_id, signature in data["copies"]:
        copies[article] = _Copy(original, story_id, _unarray(signature, np.uint32))
    buckets: dict[bytes, Members] = {}
    # Format 1 stored the band lists; they are the articles in insertion order, band by
    # band, which is how format 2 rebuilds them too.
    for band, ids in data["buckets"].items():
        entry: Members | None = None
        for article in ids:
            entry = with_member(entry, str(article))
        if entry is not None:
            buckets[bytes.fromhex(band)] = entry
    index._copies, index._buckets = copies, buckets
    _expiry(data["expiry"], index._expiry)


def is_format_1(blob: bytes) -> bool:
    """Whether ``blob`` looks like a format 1 snapshot (zlib's header, not format 2's)."""
    return is_compressed(blob)


def unpack_format_1(
    blob: bytes, assigner: StoryAssigner
) -> tuple[int, dict[str, Card], OrderedDict[str, StoryRef]]:
    """Fill an empty in-memory ``assigner`` from a format 1 snapshot; the sequence number,
    cards and assignments, as :func:`services.stories.snapshot.unpack_state` gives them.
    Raises ValueError for anything else."""
    frequencies, stories, copies = _in_memory(assigner)
    try:
        data = pydantic_core.from_json(zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"unreadable format 1 snapshot: {exc}") from exc
    state = data["assigner"]
    if state.get("version") != FORMAT:
        raise ValueError(f"snapshot version {state.get('version')!r} is not {FORMAT}")
    counts = _unarray(state["frequencies"]["counts"], np.float32)
    if counts.shape != frequencies._counts.shape:
        raise ValueError("snapshot has another number of frequency buckets")
    frequencies._counts = counts
    frequencies._documents = float(state["frequencies"]["documents"])
    frequencies._since_decay = int(state["frequencies"]["since_decay"])
    _stories(state["stories"], stories)
    _copies(state["copies"], copies)
    cards = {c["id"]: Card.from_json(c) for c in data["cards"]}
    assignments = OrderedDict(
        (article, StoryRef.model_validate(ref)) for article, ref in data["assignments"]
    )
    return int(data["seq"]), cards, assignments
