"""Passwords never show: in URLs, in messages, in the settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.redact import redact_text, redact_url, url_secrets
from shared.settings import load_settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://alice:s3cret@host:6379/0", "redis://alice:***@host:6379/0"),
        # A lone user part may be a password written in the wrong place: hidden too.
        ("redis://s3cret@host/0", "redis://***@host/0"),
        (
            "rediss://:s3cret@host:6380/0?ssl_ca_certs=/ca.pem",
            "rediss://:***@host:6380/0?ssl_ca_certs=/ca.pem",
        ),
        ("unix://:s3cret@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2"),
        ("redis://host/0?password=s3cret&db=1", "redis://host/0?password=***&db=1"),
        ("rediss://host/0?ssl_password=s3cret", "rediss://host/0?ssl_password=***"),
        # Unescaped @ and / in a password: everything up to the last @ goes.
        ("redis://:s3@c/ret@host:1/0", "redis://:***@host:1/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("unix:///tmp/nf/valkey.sock", "unix:///tmp/nf/valkey.sock"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3" not in redact_url(url)


def test_url_secrets_lists_the_password_as_written_and_unescaped() -> None:
    assert url_secrets("redis://u:p%40ss@h/0?password=q") == ["p%40ss", "p@ss", "q"]
    assert url_secrets("redis://h/0") == []


def test_redact_text_hides_urls_and_known_secrets() -> None:
    secrets = url_secrets("redis://:hunter22@h/0")
    text = "cannot reach redis://:hunter22@h:1/0 (AUTH hunter22 failed)"
    assert redact_text(text, secrets) == "cannot reach redis://:***@h:1/0 (AUTH *** failed)"
    assert redact_text("at rediss://bob:pw@h:1/0.") == "at rediss://bob:***@h:1/0."


def test_settings_never_show_the_password() -> None:
    settings = load_settings(redis_url="redis://:hunter22@h:6379/0")
    assert settings.require_redis_url() == "redis://:hunter22@h:6379/0"
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter22" not in shown
    assert "redis://:***@h:6379/0" in repr(settings)


def test_a_refused_url_is_not_quoted_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_REDIS_URL", "http://:hunter22@x")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    assert "hunter22" not in str(caught.value)
    assert "must start with redis://, rediss:// or unix://" in str(caught.value)
