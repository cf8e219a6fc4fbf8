"""The wire format: one JSON document in the field ``data`` of each stream entry.

Any Redis client can write and read it (``XADD newsflow:articles * data '{...}'``).
FastStream's own envelope is not used; :func:`parse_entries` hands the raw entries to
the handlers, which validate them with the pydantic schemas.
"""

from __future__ import annotations

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


def fields_of(message: BaseModel) -> dict[Any, Any]:
    """The XADD field map for a schema object (typed as redis-py's ``xadd`` takes it)."""
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
