"""The admission functions every door calls refuse each hostile value with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from newsflow.client import read_inputs, validate_inputs
from services.ingest.admit import admit_document, admit_payload, document_of
from shared.ids import unsafe_character
from shared.schemas import (
    Article,
    PlacesResult,
    SummaryResult,
    read_entities_result,
)
from shared.settings import load_settings
from shared.text_checks import has_visible_character
from shared.worker import describe_error
from tests.hostile import DOCUMENTS, GOOD_TEXT, HOSTILE, Hostile, ids

SETTINGS = load_settings()


@pytest.mark.parametrize("case", HOSTILE, ids=ids(HOSTILE))
def test_payload_is_refused_with_its_reason(case: Hostile) -> None:
    with pytest.raises(ValueError) as caught:
        admit_payload(case.raw, SETTINGS)
    assert case.reason in describe_error(caught.value)


@pytest.mark.parametrize("case", DOCUMENTS, ids=ids(DOCUMENTS))
def test_document_is_refused_with_the_same_reason(case: Hostile) -> None:
    with pytest.raises(ValueError) as caught:
        admit_document(document_of(case.document or {}), SETTINGS)
    assert case.reason in describe_error(caught.value)


def test_size_is_the_compact_json_whatever_the_spacing_and_escapes() -> None:
    # 999 990 characters of "é": 1 999 980 bytes of UTF-8, 5 999 940 as \u00e9 escapes.
    small = load_settings(max_payload_bytes=2_000_000, max_text_chars=1_000_000)
    document = {"text": "é" * 999_990}
    # {"text":"..."}: 9 + 1 999 980 + 2 = 1 999 991 bytes, within 2 000 000 either way.
    for payload in (json.dumps(document), json.dumps(document, ensure_ascii=False, indent=4)):
        assert admit_payload(payload, small).meta.text_chars == 999_990
    over = {"text": "é" * 1_000_000}  # 9 + 2 000 000 + 2 bytes
    for payload in (json.dumps(over), json.dumps(over, ensure_ascii=False)):
        with pytest.raises(ValueError, match="article is 2000011 bytes of JSON"):
            admit_payload(payload, small)


def test_a_page_date_out_of_range_is_dropped_not_fatal() -> None:
    page = (
        '<html><head><meta property="article:published_time" '
        'content="9999-12-31T23:00:00-05:00"></head><body><article>'
        f"<p>{GOOD_TEXT}</p><p>{GOOD_TEXT} Again, and at length, as reporters do.</p>"
        "</article></body></html>"
    )
    article = admit_payload(json.dumps({"html": page}), SETTINGS)
    assert article.meta.published_at is None and "Lyon" in article.text


def test_push_rejects_bad_files_whole_and_keeps_the_good_lines(tmp_path: Path) -> None:
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps({"text": GOOD_TEXT, "id": "g1"})
        + "\n"
        + json.dumps({"text": GOOD_TEXT, "published_at": "9999-12-31T23:00:00-05:00"})
        + "\n"
    )
    (tmp_path / "latin1.txt").write_bytes("Café in Lyon".encode("latin-1"))
    (tmp_path / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    articles, rejected = validate_inputs(read_inputs([str(tmp_path)]), SETTINGS)
    assert [a.meta.id for a in articles] == ["g1"]
    reasons = {Path(r.origin).name: r.reason for r in rejected}
    assert set(reasons) == {"deep.json", "latin1.txt", "mixed.jsonl:2"}
    assert reasons["deep.json"] == "invalid JSON: nested too deeply"
    assert reasons["latin1.txt"].startswith("not UTF-8 text: 'utf-8' codec can't decode byte 0xe9")
    assert "published_at 9999-12-31T23:00:00-05:00 is out of range" in reasons["mixed.jsonl:2"]


def test_a_missing_target_is_named_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(GOOD_TEXT)
    with pytest.raises(FileNotFoundError) as caught:
        read_inputs([str(tmp_path / "a.txt"), "nowhere.jsonl"])
    assert str(caught.value) == "no such file or folder: nowhere.jsonl"


STAGE_PARSERS = [
    Article.model_validate_json,
    read_entities_result,
    PlacesResult.model_validate_json,
    SummaryResult.model_validate_json,
]
STAGE_GARBAGE = [
    b'{"schema_version": 1, "candidates": 5}',  # version 1 entities: not a list
    b'{"schema_version": 1, "candidates": null, "meta": 3}',
    b'{"schema_version": 1, "candidates": [5]}',
    b'{"meta": {"id": "a", "published_at": "9999-12-31T23:00:00-05:00"}}',
    b'{"text": "a\\ud800"}',
    b"\xff\xfe",
    b"[" * 5000 + b"]" * 5000,
]


@pytest.mark.parametrize("parse", STAGE_PARSERS, ids=lambda p: p.__qualname__)
@pytest.mark.parametrize("payload", STAGE_GARBAGE)
def test_stage_parsers_raise_only_value_errors(
    parse: Callable[[bytes], BaseModel], payload: bytes
) -> None:
    # The workers' parsers: anything but a ValueError would not be invalid_input.
    with pytest.raises(ValueError):
        parse(payload)


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        ("a", True),
        ("\u200f\u0634\u0643\u0631\u0627\u200f", True),  # Arabic between RLMs
        ("\U0001f30a", True),  # an emoji alone
        ("\u00a0\u2028\u3000", False),  # no-break, line separator, ideographic space
        ("\u3164\u115f\u2800", False),  # Hangul fillers, braille blank
        ("\u034f\ufe0f\u200e\u2066\u2069", False),  # joiner, selector, marks, isolates
        ("", False),
    ],
)
def test_visible_characters(text: str, visible: bool) -> None:
    assert has_visible_character(text) is visible


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("Le Monde", None),
        ("Zürich-Überblick_2016", None),
        ("a\x7fb", "U+007F"),
        ("a\u2029b", "U+2029 PARAGRAPH SEPARATOR"),
        ("x\u200by", "U+200B ZERO WIDTH SPACE"),
        ("\ufeffid", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ],
)
def test_unsafe_characters_are_named(value: str, found: str | None) -> None:
    assert unsafe_character(value) == found
