"""Article id rules, and stream entry ids."""

from __future__ import annotations

import pytest

from shared.ids import (
    article_id,
    entry_age_s,
    entry_id_key,
    is_entry_id,
    normalise_text,
    normalise_url,
    parse_revision_key,
    revision_key,
)


def test_given_id_wins_and_is_trimmed() -> None:
    assert article_id("  afp-123 ", "https://example.org/a", "text") == "afp-123"


def test_url_variants_of_one_article_share_an_id() -> None:
    variants = [
        "https://www.example.org/news/a/?utm_source=tw&b=2&a=1#comments",
        "http://example.org/news/a?a=1&b=2",
        "HTTPS://EXAMPLE.ORG:443/news/a?a=1&b=2&fbclid=xyz",
    ]
    assert len({article_id(None, url, "whatever") for url in variants}) == 1
    assert normalise_url(variants[0]) == "https://example.org/news/a?a=1&b=2"


def test_different_urls_and_paths_differ() -> None:
    assert article_id(None, "https://example.org/a", "t") != article_id(
        None, "https://example.org/b", "t"
    )
    assert normalise_url("https://example.org:8443/x") == "https://example.org:8443/x"


def test_text_id_ignores_whitespace_differences_only() -> None:
    one = article_id(None, None, "Flooding  hit\nMosul. ")
    assert one == article_id(None, None, " Flooding hit Mosul.")
    assert one.startswith("txt-")
    assert one != article_id(None, None, "Flooding hit Erbil.")
    assert normalise_text("a \t b\n") == "a b"


def test_blank_given_id_and_url_fall_through() -> None:
    assert article_id("  ", "  ", "x").startswith("txt-")


def test_revision_keys_round_trip() -> None:
    assert revision_key("a1") == "a1" == revision_key("a1", 1)
    assert revision_key("a1", 3) == "a1#3"
    assert parse_revision_key("a1#3") == ("a1", 3)
    assert parse_revision_key("url-abc") == ("url-abc", 1)
    assert parse_revision_key(revision_key("x:y", 12)) == ("x:y", 12)


def test_stream_entry_ids_sort_as_redis_orders_them() -> None:
    assert entry_id_key("1700000000000-5") == (1700000000000, 5)
    assert entry_id_key(b"1700000000000") == (1700000000000, 0)
    assert entry_id_key("99-10") > entry_id_key("99-9") > entry_id_key("98-100")
    for bad in ("", "-", "+", "12-", "a-1", "1-2-3", "2026-01-01T00:00:00Z"):
        assert not is_entry_id(bad), bad
        with pytest.raises(ValueError, match="not a stream entry id"):
            entry_id_key(bad)
    assert entry_age_s("1000-0", now_s=3.5) == 2.5
    assert entry_age_s("9000-0", now_s=3.5) == 0.0  # clocks apart: never negative
