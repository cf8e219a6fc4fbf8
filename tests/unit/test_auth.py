"""API keys: their format, scopes, constant-time checks and the open-API warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.auth import (
    KeyFormatError,
    Scope,
    authorize,
    exposure_warning,
    is_loopback,
    load_keys,
    parse_keys,
    presented_key,
)
from shared.settings import load_settings

PUSHER = "pusher-secret-0123456789"
READER = "reader-secret-0123456789"
KEYS = f"feeds:push:{PUSHER}, web:read+metrics:{READER}"


def test_keys_are_parsed_with_their_scopes_and_only_digests_are_kept() -> None:
    keys = parse_keys(KEYS, where="NEWSFLOW_API_KEYS", separator=",")
    assert [(k.name, k.scopes) for k in keys] == [
        ("feeds", frozenset({Scope.PUSH})),
        ("web", frozenset({Scope.READ, Scope.METRICS})),
    ]
    assert all(PUSHER not in repr(k) and PUSHER.encode() not in k.digest for k in keys)


@pytest.mark.parametrize(
    ("definition", "reason"),
    [
        ("nocolons", "expected name:scope+scope:secret"),
        (f"x:push+fly:{PUSHER}", "unknown scope 'fly'"),
        ("x:push:short", "16 characters or more"),
        (f":push:{PUSHER}", "expected name"),
    ],
)
def test_bad_definitions_say_why_without_the_secret(definition: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_keys(definition, where="NEWSFLOW_API_KEYS", separator=",")
    assert reason in str(caught.value)
    assert PUSHER not in str(caught.value) and "short" not in str(caught.value)


def test_setting_and_file_are_both_read(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# mounted secret\nops:metrics:{'m' * 20}\n\nfeeds2:push:{'p' * 20}\n")
    settings = load_settings(api_keys=f"web:read:{READER}", api_keys_file=path)
    assert [k.name for k in load_keys(settings)] == ["web", "ops", "feeds2"]
    path.write_text(f"web:push:{'p' * 20}\n")
    with pytest.raises(KeyFormatError, match="unique"):
        load_keys(load_settings(api_keys=f"web:read:{READER}", api_keys_file=path))
    with pytest.raises(KeyFormatError, match="cannot read"):
        load_keys(load_settings(api_keys_file=tmp_path / "missing"))


def test_authorize_answers_401_403_or_200() -> None:
    keys = tuple(parse_keys(KEYS, where="k", separator=","))
    assert authorize((), None, Scope.PUSH).status == 200  # no keys: open
    assert authorize(keys, None, Scope.PUSH).status == 401
    assert authorize(keys, "wrong-secret-0123456789", Scope.PUSH).status == 401
    assert authorize(keys, READER, Scope.PUSH).status == 403
    decision = authorize(keys, PUSHER, Scope.PUSH)
    assert (decision.status, decision.key_name) == (200, "feeds")


def test_the_key_comes_from_bearer_or_x_api_key() -> None:
    assert presented_key({"authorization": f"Bearer {PUSHER}"}) == PUSHER
    assert presented_key({"authorization": f"bearer  {PUSHER} "}) == PUSHER
    assert presented_key({"x-api-key": PUSHER}) == PUSHER
    assert presented_key({"authorization": f"Basic {PUSHER}"}) is None
    assert presented_key({}) is None


def test_settings_never_show_the_keys() -> None:
    settings = load_settings(api_keys=KEYS, api_key=PUSHER)
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert PUSHER not in text and READER not in text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.2", False),
        ("ingest.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_an_open_api_off_loopback_is_warned_about() -> None:
    exposed = load_settings(http_host="0.0.0.0")
    assert "NO authentication" in (exposure_warning(exposed, ()) or "")
    keys = tuple(parse_keys(KEYS, where="k", separator=","))
    assert exposure_warning(exposed, keys) is None
    assert exposure_warning(load_settings(), ()) is None
