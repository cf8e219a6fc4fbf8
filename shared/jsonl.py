"""JSON Lines files, as the evaluations read them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
