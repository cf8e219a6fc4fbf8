"""newsflow on a Redis Cluster: the prefix is a hash tag, so every pipeline's keys share a
slot, and two pipelines under two tags spread over the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import load_settings
from tests.conftest import SAMPLE
from tests.e2e.harness import Pipeline
from tests.servers import OwnCluster

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[OwnCluster]:
    own = OwnCluster(tmp_path / "cluster")
    own.start()
    yield own
    own.stop()


def test_pipeline_runs_on_a_cluster_under_a_hash_tag(cluster: OwnCluster, tmp_path: Path) -> None:
    pipeline = Pipeline(
        cluster.url, "{nfc}", tmp_path / "state", extra_env={"NEWSFLOW_REDIS_CLUSTER": "true"}
    )
    try:
        pipeline.wait_ready()
        pipeline.xadd_article({"id": "cluster-1", "text": SAMPLE.read_text()})
        pipeline.xadd_article({"id": "cluster-2", "text": "Heavy rain flooded Lyon, France."})
        events = pipeline.wait_events(2, timeout=180)
        assert sorted(e.id for e in events) == ["cluster-1", "cluster-2"]
        assert all(not e.partial for e in events)
        sample = next(e for e in events if e.id == "cluster-1")
        assert sample.focus is not None and sample.focus.name == "Mosul"
    finally:
        pipeline.stop()


def test_cluster_mode_requires_a_hash_tag_prefix() -> None:
    with pytest.raises(ValidationError, match="hash tag"):
        load_settings(redis_cluster=True, stream_prefix="newsflow")
    assert load_settings(redis_cluster=True, stream_prefix="{eu}").stream_prefix == "{eu}"
