"""Validation of producer payloads: clear reasons for every kind of bad input."""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from pydantic import ValidationError

from services.ingest.admit import admit_payload, validation_errors
from shared.settings import load_settings
from shared.worker import InvalidInput, describe_error

SETTINGS = load_settings(max_text_chars=1000, max_payload_bytes=4096)


def _reason(payload: bytes | str) -> str:
    with pytest.raises((ValidationError, InvalidInput)) as caught:
        admit_payload(payload, SETTINGS)
    return describe_error(caught.value)


def test_valid_article_gets_id_times_and_meta() -> None:
    article = admit_payload(
        json.dumps(
            {
                "text": "Rain in Lyon.",
                "url": "https://example.org/x",
                "published_at": "2016-10-19T14:05:00+03:00",
                "metadata": {"section": "world"},
            }
        ),
        SETTINGS,
    )
    assert article.meta.id.startswith("url-")
    assert article.meta.published_at is not None and article.meta.published_at.tzinfo == UTC
    assert article.meta.published_at.hour == 11
    assert article.meta.published_at_local is not None
    assert article.meta.published_at_local.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]
    assert article.meta.text_chars == len("Rain in Lyon.")
    assert article.meta.metadata == {"section": "world"}


def test_naive_published_time_is_taken_as_utc() -> None:
    article = admit_payload(
        json.dumps({"text": "x", "published_at": "2020-01-01T10:00:00"}), SETTINGS
    )
    assert article.meta.published_at is not None
    assert article.meta.published_at.tzinfo == UTC and article.meta.published_at.hour == 10


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("{not json", "invalid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        ('{"title": "no text"}', "text or html is required"),
        ('{"html": "  "}', "html is empty"),
        ('{"html": "<html><body><script>x()</script></body></html>"}', "no article text"),
        ('{"text": "   "}', "text has no visible characters"),
        ('{"text": 42}', "text: Input should be a valid string"),
        ('{"text": "a\\u0000b"}', "NUL"),
        ('{"text": "<!DOCTYPE html><html><body><p>Hi</p></body></html>"}', "looks like HTML"),
        (json.dumps({"text": "<div><p>a</p>" * 20 + "</div>"}), "looks like HTML"),
        ('{"text": "x", "schema_version": 99}', "unsupported schema_version 99"),
        ('{"text": "x", "colour": "red"}', "colour: Extra inputs are not permitted"),
        ('{"text": "x", "metadata": {"a": {"b": 1}}}', "metadata.a"),
        ('{"text": "x", "id": "has space"}', "id: String should match pattern"),
        ('[{"text": "x"}]', "an article must be a JSON object"),
        (json.dumps({"text": "y" * 1001}), "limit is 1000"),
        (json.dumps({"text": "y" * 5000}), "the limit is 4096"),
        ("[" * 100_000 + "]" * 100_000, "the limit is 4096"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_reason(payload: str | bytes, expected: str) -> None:
    assert expected in _reason(payload)


def test_deep_nesting_within_size_limit_is_rejected_not_crashing() -> None:
    settings = load_settings(max_payload_bytes=1_000_000)
    deep = '{"text": "x", "metadata": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"
    with pytest.raises(InvalidInput, match="invalid JSON: nested too deeply"):
        admit_payload(deep, settings)


def test_validation_errors_name_the_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        admit_payload('{"text": 1, "url": 2}', SETTINGS)
    fields = {e["field"] for e in validation_errors(caught.value)}
    assert fields == {"text", "url"}


def test_prose_mentioning_a_tag_and_non_english_text_pass() -> None:
    for text in (
        "The <b> tag makes text bold, a reader wrote.",
        "Die Bundesregierung in Berlin hat am Montag neue Hilfen beschlossen.",
        "أعلنت الحكومة العراقية يوم الاثنين بدء عملية الموصل.",
        "北京时间周一，政府宣布了新的措施。",
    ):
        assert admit_payload(json.dumps({"text": text}), SETTINGS).text == text


PAGE = """<!DOCTYPE html><html lang="en"><head><title>Floods in Lyon | Example News</title>
<meta property="article:published_time" content="2016-10-18T14:05:00+02:00">
<meta property="og:site_name" content="Example News">
<link rel="canonical" href="https://news.example.org/2016/10/floods-lyon">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Floods in Lyon</h1>
<p>Heavy rain flooded Lyon, France, on Tuesday, officials said, and the Rhone rose fast.</p>
<p>Hundreds of people were evacuated from homes near the river as the water rose through
the night, the prefecture said in a statement on Wednesday morning.</p>
<p>Trains between Lyon and Paris were cancelled and schools stayed closed.</p></article>
<footer>Share this article. Copyright Example News.</footer></body></html>"""


def test_html_page_is_reduced_to_its_text_and_metadata() -> None:
    article = admit_payload(json.dumps({"html": PAGE}), SETTINGS)
    assert "Heavy rain flooded Lyon" in article.text
    assert "Home" not in article.text and "Share this" not in article.text
    assert article.meta.title is not None and "Floods in Lyon" in article.meta.title
    assert article.meta.url == "https://news.example.org/2016/10/floods-lyon"
    assert article.meta.id.startswith("url-")
    assert article.meta.published_at_local is not None
    assert article.meta.published_at_local.isoformat() == "2016-10-18T14:05:00+02:00"
    assert article.meta.published_at is not None and article.meta.published_at.hour == 12
    assert article.meta.language == "en"


def test_given_fields_win_over_the_page() -> None:
    article = admit_payload(json.dumps({"html": PAGE, "title": "Mine", "id": "p1"}), SETTINGS)
    assert (article.meta.title, article.meta.id) == ("Mine", "p1")


def test_language_is_detected_only_when_sure() -> None:
    german = (
        "Die Bundesregierung in Berlin hat am Montag neue Hilfen für die Landwirte beschlossen."
    )
    assert admit_payload(json.dumps({"text": german}), SETTINGS).meta.language == "de"
    assert admit_payload(json.dumps({"text": "Lyon: 3-1."}), SETTINGS).meta.language is None
    given = admit_payload(json.dumps({"text": german, "language": "en"}), SETTINGS)
    assert given.meta.language == "en"  # the producer's word wins


def test_rss_style_dates_keep_their_offset() -> None:
    article = admit_payload(
        json.dumps({"text": "x y z", "published_at": "Tue, 18 Oct 2016 14:05:00 +0300"}), SETTINGS
    )
    assert article.meta.published_at_local is not None
    assert article.meta.published_at_local.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]
