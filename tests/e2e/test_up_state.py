"""A running ``newsflow up`` is found by the commands of another shell, is alone in its state
folder, and never shows its Redis password."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.pipeline import PIPELINE
from tests.conftest import LOCKED_PASSWORD, REPO, SAMPLE
from tests.e2e.harness import newsflow, run_cli, up_command
from tests.servers import OwnServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

PASSWORD = LOCKED_PASSWORD


def _env(**variables: str) -> dict[str, str]:
    """This environment without any NEWSFLOW_ setting, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return {**env, **variables}


class Up:
    """``newsflow up`` in ``state`` as a background process, its output in a file."""

    def __init__(self, state: Path, env: dict[str, str]) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        self.output = state.parent / f"{state.name}-up.log"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                up_command(state, "--entities-workers", "1"),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_state(self, timeout: float = 60.0) -> dict[str, object]:
        """The state file, once ``up`` has written it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            try:
                return dict(json.loads((self.state / "up.json").read_text()))
            except (OSError, ValueError):
                time.sleep(0.2)
        raise AssertionError(f"no up.json after {timeout}s\n{self.output.read_text()}")

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def embedded_up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path / "st", _env())
    yield running
    running.stop()


def test_commands_find_the_running_up_of_their_state_dir(embedded_up: Up) -> None:
    state = embedded_up.state
    found = embedded_up.wait_state()
    assert found["embedded"] is True and found["pid"] == embedded_up.process.pid
    plain = _env()  # no Redis variable: only the state folder says where the server is
    status = run_cli(newsflow("status", "--state-dir", str(state)), plain, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "enriched events: " in status.stdout
    pushed = run_cli(
        newsflow("push", "--state-dir", str(state), str(SAMPLE), "--wait", "--timeout", "90"),
        plain,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "Gary Volesky" in pushed.stdout

    second = run_cli(up_command(state), plain, timeout=60)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr == (
        f"newsflow: newsflow up is already running in {state} (pid {embedded_up.process.pid}); "
        "stop it first or use --state-dir\n"
    )

    assert embedded_up.stop() == 0
    assert not (state / "up.json").exists()
    after = run_cli(newsflow("status", "--state-dir", str(state)), plain, timeout=60)
    assert after.returncode == 2 and "no newsflow up is running in" in after.stderr


def test_up_on_a_password_server_never_shows_the_password(
    locked_server: OwnServer, tmp_path: Path
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    up = Up(tmp_path / "st", _env(NEWSFLOW_REDIS_URL=url, NEWSFLOW_STREAM_PREFIX="uppw"))
    try:
        found = up.wait_state()
        assert found["redis_url"] == f"redis://:***@127.0.0.1:{locked_server.port}/0"
        assert found["complete"] is False
        # Without the URL another shell is told where to get it, in one line.
        refused = run_cli(newsflow("status", "--state-dir", str(up.state)), _env(), timeout=60)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "password is not stored: pass --redis-url or set NEWSFLOW_REDIS_URL" in (
            refused.stderr
        )
        # Every service connected and logged its start before we look at the logs.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = sorted((up.state / "logs").glob("*.log"))
            # One process a service (one entities worker here).
            if len(logs) == len(PIPELINE.names) and all(
                "running as consumer" in p.read_text() for p in logs
            ):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(up.output.read_text())
    finally:
        assert up.stop() == 0
    assert "newsflow: redis at redis://:***@127.0.0.1:" in up.output.read_text()
    leaks = [
        path
        for path in [up.output, *up.state.rglob("*")]
        if path.is_file() and PASSWORD in path.read_text(errors="replace")
    ]
    assert leaks == []
