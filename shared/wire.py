"""The wire format: one JSON document in the field ``data`` of each stream entry.

Any Redis client can write and read the public streams (``XADD newsflow:articles * data
'{...}'``, ``XRANGE newsflow:enriched``): their payloads are plain JSON. Accepted articles
travel zlib-compressed (:func:`pack`), a third of their size, because they are what Redis
holds for every article in flight (waiting for the entity model) and, for replays, every
accepted article. Stage results travel plain: the next stage and the aggregator read them
within moments and they are trimmed soon after, so compressing them would cost CPU on every
message (three packs and four unpacks per article) to save memory for a second or so.
Readers take both forms: :func:`unpack` tells them apart by the first byte. FastStream's
own envelope is not used; :func:`parse_entries` hands the raw entries to the handlers,
which validate them with the pydantic schemas.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from typing import Any, NamedTuple

from faststream.message import StreamMessage
from pydantic import BaseModel

from shared.schemas import DeadLetter
from shared.streams import DATA_FIELD


class Entry(NamedTuple):
    """A raw stream entry: its id and its fields."""

    entry_id: str
    fields: dict[bytes, bytes]

    @property
    def payload(self) -> bytes | None:
        """The ``data`` field, or None when the entry has none."""
        return self.fields.get(DATA_FIELD)


def encode(message: BaseModel) -> bytes:
    """A schema object as the JSON bytes that go into the ``data`` field."""
    return message.model_dump_json().encode("utf-8")


#: zlib's fastest level: 2.6 times smaller stage messages for about 0.1 ms per message.
COMPRESSION_LEVEL = 1
#: A compressed payload inflating beyond this is refused (a zip bomb, not a news article).
MAX_UNPACKED_BYTES = 16 * 2**20


def pack(message: BaseModel) -> bytes:
    """A schema object as compressed JSON, for the accepted articles."""
    return zlib.compress(encode(message), COMPRESSION_LEVEL)


def is_compressed(payload: bytes) -> bool:
    """Whether ``payload`` starts as a zlib stream does (see :func:`unpack`)."""
    return len(payload) >= 2 and payload[0] == 0x78 and (0x78 << 8 | payload[1]) % 31 == 0


def unpack(payload: bytes) -> bytes:
    """The JSON bytes of a payload, whether :func:`pack` compressed it or not.

    A zlib stream starts with a two-byte header: 0x78 ("x", which no JSON document starts
    with) and a byte that makes the pair a multiple of 31. Anything else, such as plain
    JSON from any client or a requeued dead letter, passes through unchanged. Raises
    ValueError for a corrupt, truncated or oversized compressed payload.
    """
    if not is_compressed(payload):
        return payload
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(payload, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        raise ValueError(f"corrupt compressed payload: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError(f"compressed payload inflates beyond {MAX_UNPACKED_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("truncated compressed payload")
    return data


def fields_of(message: BaseModel) -> dict[Any, Any]:
    """The XADD field map for a schema object, as plain JSON (typed as redis-py's
    ``xadd`` takes it)."""
    return {DATA_FIELD: encode(message)}


async def parse_entries(raw: Any) -> StreamMessage[Any]:
    """FastStream parser: keep the raw entries (one, or a batch) as the message body."""
    datas = raw["data"] if raw["type"] == "bstream" else [raw["data"]]
    body = [
        Entry(entry_id.decode(), fields)
        for entry_id, fields in zip(raw["message_ids"], datas, strict=True)
    ]
    return StreamMessage(raw_message=raw, body=body)


async def decode_entries(message: StreamMessage[Any]) -> Any:
    """FastStream decoder: the body is already a list of :class:`Entry`."""
    return message.body


def _printable(value: bytes) -> str:
    return value.decode("utf-8", errors="backslashreplace")


def dead_letter(
    entry: Entry,
    *,
    stage: str,
    stream: str,
    reason: str,
    error_type: str,
    deliveries: int,
    article_id: str | None = None,
) -> DeadLetter:
    """A dead letter carrying the entry's original payload and the reason it failed."""
    payload = entry.payload
    if payload is not None:
        # The dead stream is public: keep the payload readable if it inflates.
        with contextlib.suppress(ValueError):
            payload = unpack(payload)
    others = {_printable(k): _printable(v) for k, v in entry.fields.items() if k != DATA_FIELD}
    return DeadLetter(
        stage=stage,
        reason=reason[:4000],
        error_type=error_type,
        source_stream=stream,
        source_entry_id=entry.entry_id,
        deliveries=deliveries,
        article_id=article_id,
        payload=_printable(payload) if payload is not None else "",
        fields=others,
    )


def decode_event(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    """The event of an enriched stream entry (None for anything else)."""
    payload = fields.get(DATA_FIELD)
    if payload is None:
        return None
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
