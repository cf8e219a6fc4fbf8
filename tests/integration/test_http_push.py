"""``newsflow push --http``: through the HTTP API with a key, over HTTP or HTTPS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from shared.settings import Settings
from shared.streams import Keys
from tests.http_server import serving
from tests.servers import self_signed_certificate

pytestmark = [pytest.mark.redis]

PUSH_KEY = "cli-push-key-0123456789"
KEYS = f"cli:push:{PUSH_KEY}"


def _newsflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **env},
    )


def _inputs(tmp_path: Path) -> Path:
    path = tmp_path / "batch.jsonl"
    lines = [
        {"id": "cli-1", "text": "Rain flooded Lyon."},
        {"id": "cli-bad", "text": 5},
        {"id": "cli-2", "text": "Snow closed roads near Grenoble."},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    return type(settings).model_validate({**settings.model_dump(), "api_keys": KEYS})


def test_push_over_http_with_a_key_from_the_environment_or_a_file(
    keyed: Settings, redis_url: str, tmp_path: Path
) -> None:
    inputs = _inputs(tmp_path)
    with serving(keyed) as base_url:
        done = _newsflow(
            "push", "--http", base_url, str(inputs), env={"NEWSFLOW_API_KEY": PUSH_KEY}
        )
        assert done.stdout.split("\n")[:2] == ["accepted cli-1", "accepted cli-2"], done.stderr
        assert f"rejected {inputs}:2: text:" in done.stderr
        assert done.returncode == 1  # one input was rejected
        key_file = tmp_path / "key"
        key_file.write_text(PUSH_KEY + "\n")
        again = _newsflow(
            "push", "--http", base_url, "--api-key-file", str(key_file), str(inputs), env={}
        )
        assert "duplicate cli-1" in again.stdout
        wrong = _newsflow(
            "push",
            "--http",
            base_url,
            str(inputs),
            env={"NEWSFLOW_API_KEY": "wrong-key-0123456789"},
        )
        assert wrong.returncode != 0 and "HTTP 401" in wrong.stderr
        for run in (done, again, wrong):
            assert PUSH_KEY not in run.stdout + run.stderr
            assert "wrong-key-0123456789" not in run.stdout + run.stderr
    with redis.Redis.from_url(redis_url) as client:
        assert client.xlen(Keys(keyed.stream_prefix).accepted) == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl (.ci/run installs it)")
    cert, key = self_signed_certificate(tmp_path)
    return cert, key


def test_https_with_the_configured_certificate(
    keyed: Settings, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    secure = keyed.model_copy(update={"http_ssl_certfile": cert, "http_ssl_keyfile": key})
    with serving(secure) as base_url:
        assert base_url.startswith("https://")
        assert httpx.get(f"{base_url}/healthz", verify=str(cert), timeout=10).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(base_url.replace("https://", "http://") + "/healthz", timeout=5)
        done = _newsflow(
            "push",
            "--http",
            base_url,
            str(_inputs(tmp_path)),
            env={"NEWSFLOW_API_KEY": PUSH_KEY, "SSL_CERT_FILE": str(cert)},
        )
        assert "accepted cli-1" in done.stdout, done.stderr
