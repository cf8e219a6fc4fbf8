"""JSON Lines files as the evaluations read them, and the halves they score."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")


def read_jsonl(path: str | Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file in file order, blank lines skipped, at most ``limit``."""
    with Path(path).open(encoding="utf-8") as handle:
        count = 0
        for line in handle:
            if limit is not None and count >= limit:
                return
            if line.strip():
                count += 1
                record: dict[str, Any] = json.loads(line)
                yield record


def half_of(items: Sequence[_T], half: int | None) -> Sequence[_T]:
    """Half 1 (the first ceil(n/2) items), half 2 (the rest), or all (``None``).

    Contiguous rather than alternating: CoNLL-2003 is in date order and neighbouring
    documents share a layout (one sports day's tables), so each half is a different
    stretch of news, which is what held-out data is. A rule chosen on one half is judged
    on the other.
    """
    if half is None:
        return items
    if half not in (1, 2):
        raise ValueError(f"half must be 1 or 2, not {half}")
    middle = (len(items) + 1) // 2
    return items[:middle] if half == 1 else items[middle:]
