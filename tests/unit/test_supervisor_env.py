"""What the supervisor hands its services, and what it never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.supervisor import Child, Supervisor


def test_ingest_gets_the_http_address_and_nobody_sees_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Child, "start", lambda _self, _log_dir: None)
    supervisor = Supervisor(
        redis_url="redis://:hunter22@h:1/0",
        log_dir=tmp_path,
        counts={"entities": 1},
        base_env={"NEWSFLOW_REDIS_URL": "redis://:hunter22@h:1/0"},
        http_host="0.0.0.0",
        http_port=8081,
    )
    supervisor.start()
    envs = {child.service: child.env for child in supervisor.children}
    assert envs["ingest"]["NEWSFLOW_HTTP_HOST"] == "0.0.0.0"
    assert envs["ingest"]["NEWSFLOW_HTTP_PORT"] == "8081"
    assert "NEWSFLOW_HTTP_HOST" not in envs["entities"]
    assert envs["entities"]["NEWSFLOW_REDIS_URL"] == "redis://:hunter22@h:1/0"
    assert "hunter22" not in repr(supervisor)
