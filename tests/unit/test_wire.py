"""The wire format: plain JSON on public streams, compressed JSON between stages."""

from __future__ import annotations

import zlib

import pytest

from shared.schemas import Article, ArticleMeta
from shared.streams import DATA_FIELD, Keys
from shared.wire import MAX_UNPACKED_BYTES, Entry, dead_letter, fields_of, pack, unpack


def _article() -> Article:
    text = "Mosul lies on the Tigris. " * 40
    meta = ArticleMeta.model_validate(
        {"id": "a-1", "source": "test", "ingested_at": "2026-11-25T12:00:00Z", "text_chars": 1040}
    )
    return Article(meta=meta, text=text)


def test_packed_message_is_smaller_and_round_trips() -> None:
    article = _article()
    plain = fields_of(article)[DATA_FIELD]
    packed = pack(article)
    assert len(packed) * 3 < len(plain)
    assert Article.model_validate_json(unpack(packed)) == article


def test_plain_json_passes_through_unchanged() -> None:
    plain = fields_of(_article())[DATA_FIELD]
    assert unpack(plain) == plain
    # Not a zlib header, though it starts with "x": passed on (and fails as JSON later).
    for other in (b"", b"x", b"xyz", b"x\xff\xfe"):
        assert unpack(other) == other


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x\x9cnot zlib at all", "corrupt"),
        (zlib.compress(b'{"text": "cut short"}')[:-4], "truncated"),
        (zlib.compress(b" " * (MAX_UNPACKED_BYTES + 1), 9), "inflates beyond"),
    ],
)
def test_bad_compressed_payloads_raise_value_error(payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        unpack(payload)


def test_dead_letters_carry_the_readable_payload() -> None:
    article = _article()
    entry = Entry("1-0", {DATA_FIELD: pack(article)})
    letter = dead_letter(
        entry, stage="entities", stream=Keys("p").accepted, reason="r", error_type="e", deliveries=5
    )
    assert Article.model_validate_json(letter.payload) == article
    garbage = Entry("2-0", {DATA_FIELD: b"x\x9c\xff\xfe"})
    letter = dead_letter(
        garbage,
        stage="entities",
        stream=Keys("p").accepted,
        reason="r",
        error_type="e",
        deliveries=1,
    )
    assert letter.payload == "x\\x9c\\xff\\xfe"
