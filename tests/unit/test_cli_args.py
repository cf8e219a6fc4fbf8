"""The CLI's arguments: validated, described, and mistakes said in one line."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from newsflow.arguments import build_parser, replay_position, tail_start
from newsflow.cli import run_command
from newsflow.commands.errors import EXIT_INTERNAL, EXIT_USAGE, CliError, setting_errors
from newsflow.commands.session import resolve_redis_url
from newsflow.up_state import AlreadyRunning, UpLock, UpState, find_running, write_state
from shared.settings import load_settings


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize(
    ("value", "xread_id"),
    [("now", "$"), ("begin", "0-0"), ("1700000000000-3", "1700000000000-3"), ("17", "17")],
)
def test_tail_from_takes_now_begin_or_an_entry_id(value: str, xread_id: str) -> None:
    assert tail_start(value) == xread_id


@pytest.mark.parametrize("value", ["garbage", "1-2-3", "-1", "yesterday", "", "$"])
def test_tail_from_refuses_anything_else(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="now, begin or an entry id"):
        tail_start(value)


@pytest.mark.parametrize(
    "value", ["-", "+", "1700000000000-0", "1700000000000", "2026-11-25T09:00:00Z", "2026-11-25"]
)
def test_replay_positions(value: str) -> None:
    assert replay_position(value) == value


@pytest.mark.parametrize("value", ["yesterday", "1-2-3", "0001-01-01T00:00:00Z", "", "now"])
def test_replay_refuses_what_redis_cannot_range_over(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"entry id .* ISO 8601 time"):
        replay_position(value)


def test_inputs_and_data_must_exist(tmp_path: Path) -> None:
    parser = build_parser()
    assert parser.parse_args(["push", "-", str(tmp_path)]).inputs == ["-", str(tmp_path)]
    for argv in (
        ["push", str(tmp_path / "nope")],
        ["up", "--push", str(tmp_path / "nope")],
        ["eval", "ner", "--data", str(tmp_path / "nope")],
    ):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(argv)
        assert caught.value.code == EXIT_USAGE


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name} {action.dest}"
        for name, parser in _subcommands().items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == []


def test_up_help_describes_every_option_with_its_default() -> None:
    text = _subcommands()["up"].format_help()
    for option in ("--redis-url", "--state-dir", "--http-host", "--http-port", "--metrics-port"):
        assert option in text
    assert "(default: .newsflow)" in text and "(default: 9100)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_up_takes_http_host() -> None:
    args = build_parser().parse_args(["up", "--http-host", "0.0.0.0"])
    assert args.http_host == "0.0.0.0"


def test_a_usage_mistake_is_one_line_without_the_password() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "newsflow", "status", "--redis-url", "http://:hunter22@x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stderr.count("\n") == 1 and "hunter22" not in done.stderr
    assert "--redis-url: must start with redis://, rediss:// or unix://" in done.stderr


def test_setting_errors_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_REDIS_URL", "http://:hunter22@x")
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "0")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    assert sorted(setting_errors(caught.value)) == [
        "NEWSFLOW_BATCH_SIZE: Input should be greater than or equal to 1",
        "NEWSFLOW_REDIS_URL: must start with redis://, rediss:// or unix://",
    ]


def _failing(exc: Exception) -> argparse.Namespace:
    def func(_args: argparse.Namespace) -> int:
        raise exc

    return argparse.Namespace(func=func, redis_url="redis://:hunter22@h/0")


def test_a_cli_error_is_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(_failing(CliError("first\nsecond hunter22"))) == EXIT_USAGE
    assert capsys.readouterr().err == "newsflow: first\nnewsflow: second ***\n"


def test_a_bug_is_one_redacted_line_unless_debugging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSFLOW_DEBUG", raising=False)
    bug = KeyError("at redis://:hunter22@h/0")
    assert run_command(_failing(bug)) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hunter22" not in err
    assert err.startswith("newsflow: internal error: KeyError: ")
    assert "NEWSFLOW_DEBUG=1" in err
    monkeypatch.setenv("NEWSFLOW_DEBUG", "1")
    assert run_command(_failing(bug)) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "hunter22" not in err


def test_one_up_per_state_dir(tmp_path: Path) -> None:
    first, second = UpLock(tmp_path), UpLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning) as caught:
            second.acquire()
        assert caught.value.pid == os.getpid()
    finally:
        first.release()
    second.acquire()  # free once the first let go
    second.release()


def test_the_state_file_never_holds_a_password(tmp_path: Path) -> None:
    state = UpState.of("redis://:hunter22@h:1/0", embedded=False, http_host="h", http_port=1)
    path = write_state(tmp_path, state)
    assert "hunter22" not in path.read_text()
    found = find_running(tmp_path)
    assert found is not None and not found.complete and found.redis_url == "redis://:***@h:1/0"


def test_a_state_file_left_by_a_dead_up_is_ignored(tmp_path: Path) -> None:
    state = UpState.of("unix:///x.sock", embedded=True, http_host="h", http_port=1)
    write_state(tmp_path, state)
    assert find_running(tmp_path) == state
    # Same pid, another start time: the pid was reused by some later process.
    raw = json.loads((tmp_path / "up.json").read_text())
    (tmp_path / "up.json").write_text(json.dumps({**raw, "started": raw["started"] - 100}))
    assert find_running(tmp_path) is None
    (tmp_path / "up.json").write_text("{not json")
    assert find_running(tmp_path) is None


def test_the_redis_url_comes_from_the_option_then_the_variable_then_a_running_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This process stands for the running up: its pid is alive.
    write_state(tmp_path, UpState.of("unix:///up.sock", embedded=True, http_host="h", http_port=1))
    monkeypatch.delenv("NEWSFLOW_REDIS_URL", raising=False)

    def resolved(option: str | None) -> str:
        args = argparse.Namespace(redis_url=option, state_dir=str(tmp_path))
        return resolve_redis_url(args, load_settings())

    assert resolved(None) == "unix:///up.sock"
    monkeypatch.setenv("NEWSFLOW_REDIS_URL", "redis://env:1/0")
    assert resolved(None) == "redis://env:1/0"
    assert resolved("redis://option:1/0") == "redis://option:1/0"
    monkeypatch.delenv("NEWSFLOW_REDIS_URL")
    locked = UpState.of("redis://:pw@h:1/0", embedded=False, http_host="h", http_port=1)
    write_state(tmp_path, locked)
    with pytest.raises(CliError, match="password is not stored"):
        resolved(None)
    (tmp_path / "up.json").unlink()
    with pytest.raises(CliError, match="no newsflow up is running in"):
        resolved(None)
