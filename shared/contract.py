"""The message contract as documents: JSON Schema of the public messages and an AsyncAPI
description of every stream, generated from the pydantic models in :mod:`shared.schemas`.

``newsflow schemas`` writes them to ``docs/api/``; a test fails when the committed
documents drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from shared import __version__
from shared.pipeline import ARTICLES, DEAD, ENRICHED, PIPELINE, STORIES, Pipeline, StreamDef
from shared.streams import Keys

#: Public messages: what producers write and subscribers read, with their file names.
PUBLIC_SCHEMAS: dict[str, type[BaseModel]] = {
    "article-in.schema.json": ARTICLES.model,
    "enriched-event.schema.json": ENRICHED.model,
    "dead-letter.schema.json": DEAD.model,
    "story-update.schema.json": STORIES.model,
}

#: Said of the streams between stages (shared/wire.py ``pack``).
_PACKED = " Internal: the JSON is zlib-compressed in `data` (plain JSON is read too)."


def stream_description(stream: StreamDef, pipeline: Pipeline = PIPELINE) -> str:
    """What the AsyncAPI document says of a stream: its declaration, who writes and who
    reads it, and how its payload travels."""
    writer = pipeline.writer(stream)
    readers = pipeline.readers(stream)
    said = [stream.description.rstrip(".") + "."]
    if writer is not None:
        said.append(f"Written by {writer.name}.")
    if readers:
        said.append(f"Read by {', '.join(readers)}.")
    said.append("Plain JSON in `data`." if stream.public else _PACKED.strip())
    return " ".join(said)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema documents of the public messages, by file name."""
    return {name: model.model_json_schema() for name, model in PUBLIC_SCHEMAS.items()}


def asyncapi_document(prefix: str = "newsflow") -> dict[str, Any]:
    """An AsyncAPI 3.0 document of every stream, built with FastStream's generator.

    The broker is never connected: it only carries the channel descriptions.
    """
    keys = Keys(prefix)
    broker = RedisBroker("redis://localhost:6379", description="Redis Streams, JSON in `data`")
    for stream in PIPELINE.streams():
        key = keys.stream(stream)
        broker.publisher(
            stream=key, title=key, description=stream_description(stream), schema=stream.model
        )
    spec = AsyncAPI(
        broker,
        title="newsflow",
        version=__version__,
        description="News articles in, enriched events out, on Redis Streams. Every entry "
        "carries one JSON document in its field `data`, compressed on the internal streams.",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def write_documents(out_dir: Path) -> list[Path]:
    """Write the JSON Schemas and the AsyncAPI document; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    documents = {**json_schemas(), "asyncapi.json": asyncapi_document()}
    for name, document in documents.items():
        path = out_dir / name
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
