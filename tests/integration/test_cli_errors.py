"""Every user mistake is one line from the CLI, never a traceback, never a password."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import LOCKED_PASSWORD
from tests.e2e.harness import newsflow, run_cli
from tests.servers import OwnServer, free_port

pytestmark = [pytest.mark.redis]

PASSWORD = LOCKED_PASSWORD


def _env(**variables: str) -> dict[str, str]:
    """This environment without any NEWSFLOW_ setting, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return {**env, **variables}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(newsflow(*args), env or _env(), timeout=60)


def _one_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    """Refused with exit code 2 and one line on stderr saying ``expected``."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and PASSWORD not in output, output
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("newsflow"), output
    assert expected in done.stderr, output


def test_push_of_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    _one_line(_cli("push", str(missing)), f"no such file or folder: {missing}")


def test_tail_from_garbage() -> None:
    _one_line(_cli("tail", "--from", "garbage"), "--from: takes now, begin or an entry id")


def test_replay_from_yesterday() -> None:
    _one_line(_cli("replay", "--from", "yesterday"), "an ISO 8601 time")


def test_a_bad_url_scheme_with_a_password() -> None:
    done = _cli("status", env=_env(NEWSFLOW_REDIS_URL=f"http://:{PASSWORD}@example.org"))
    _one_line(done, "newsflow: NEWSFLOW_REDIS_URL: must start with redis://, rediss:// or unix://")


def test_an_unreachable_server_with_a_password() -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    _one_line(_cli("status", "--redis-url", url), "cannot reach Redis at redis://:***@127.0.0.1:")


def test_no_server_anywhere(tmp_path: Path) -> None:
    done = _cli("status", "--state-dir", str(tmp_path))
    _one_line(done, f"no newsflow up is running in {tmp_path}")


def test_a_wrong_password(locked_server: OwnServer) -> None:
    url = f"redis://:wrong-{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    _one_line(_cli("status", "--redis-url", url), "refused the credentials")
    _one_line(_cli("status", "--redis-url", locked_server.url), "refused the credentials")


def test_commands_on_a_locked_server_never_print_the_password(
    locked_server: OwnServer, tmp_path: Path
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    env = _env(NEWSFLOW_REDIS_URL=url, NEWSFLOW_STREAM_PREFIX="clisecret")
    article = tmp_path / "a.json"
    article.write_text('{"id": "s1", "text": "Rain in Lyon."}')
    outputs = []
    for args in (("push", str(article)), ("status",), ("status", "--json"), ("dead",), ("replay",)):
        done = _cli(*args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    assert "accepted s1" in outputs[0] and "replayed s1" in outputs[-1]
    assert not any(PASSWORD in output for output in outputs)


def test_a_deeply_nested_json_file(locked_server: OwnServer, tmp_path: Path) -> None:
    nested = tmp_path / "deep.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    done = _cli("push", str(nested), env=_env(NEWSFLOW_REDIS_URL=url))
    output = done.stdout + done.stderr
    # Refused as a whole (2) or as one rejected input (1): either way plainly.
    assert done.returncode in (1, 2), output
    assert "Traceback" not in output and PASSWORD not in output, output
    assert len(done.stderr.splitlines()) == 1, output
