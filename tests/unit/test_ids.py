"""Article id rules."""

from __future__ import annotations

from shared.ids import (
    article_id,
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
