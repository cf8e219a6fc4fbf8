"""The pipeline's declaration (shared/pipeline.py) and what derives from it."""

from __future__ import annotations

import importlib
import json

from newsflow.bench import STAGES, WIRE_STREAMS
from newsflow.supervisor import SERVICES, default_counts
from services.aggregator.merge import CONTRIBUTIONS, StageResult, empty_fragment
from shared.contract import asyncapi_document
from shared.pipeline import (
    ACCEPTED,
    DRAFTS,
    ENRICHING,
    PIPELINE,
    PLACES,
    STORIES,
    StageDef,
    StreamDef,
    pipeline_of,
)
from shared.schemas import PlacesResult
from shared.streams import Keys
from tests.factories import (
    entities_result,
    fragment,
    places_result,
    story_result,
    summary_result,
)

#: The topology as README's diagram draws it: written out here, not derived, so that a
#: change to the declaration that changes who reads what fails until the docs follow.
DOCUMENTED_GROUPS = {
    "newsflow:articles": ("ingest",),
    "newsflow:accepted": ("entities", "summarizer"),
    "newsflow:entities": ("geocoder", "aggregator"),
    "newsflow:places": ("aggregator",),
    "newsflow:summaries": ("aggregator",),
    "newsflow:drafts": ("stories",),
    "newsflow:assigned": ("aggregator",),
}


def test_the_declared_topology_is_the_documented_one() -> None:
    assert Keys().groups() == DOCUMENTED_GROUPS
    assert SERVICES == ("ingest", "entities", "geocoder", "summarizer", "stories", "aggregator")
    assert [s.name for s in PIPELINE.merged] == ["entities", "geocoder", "summarizer", "stories"]
    assert [s.name for s in PIPELINE.drafted] == ["stories"]
    assert PIPELINE["aggregator"].also_writes == (DRAFTS,)
    assert PIPELINE["stories"].also_writes == (STORIES,) and STORIES.public


def test_every_declared_stage_is_a_service_folder_with_a_service() -> None:
    for stage in PIPELINE:
        module = importlib.import_module(f"services.{stage.name}.app")
        assert callable(module.main) and callable(module.build_service), stage.name


def test_every_stream_is_written_by_one_stage_at_most_and_read_or_public() -> None:
    for stream in PIPELINE.streams():
        writers = [s.name for s in PIPELINE if s.writes == stream]
        assert len(writers) <= 1, (stream.name, writers)
        assert stream.public or PIPELINE.readers(stream), f"{stream.name}: nobody reads it"


def test_each_merged_stage_fills_exactly_the_members_it_declares() -> None:
    results: dict[str, StageResult] = {
        "entities": entities_result(),
        "geocoder": places_result(),
        "summarizer": summary_result(),
        "stories": story_result(),
    }
    for stage in PIPELINE.merged:
        members = json.loads("{" + fragment(results[stage.name]).members + "}")
        assert set(members) == set(stage.fills), stage.name
        assert set(json.loads("{" + empty_fragment(stage) + "}")) == set(stage.fills)
    assert set(CONTRIBUTIONS) == {s.name for s in PIPELINE.merged}


def test_the_bench_and_the_supervisor_follow_the_declaration() -> None:
    assert tuple(s.name for s in PIPELINE.merged) == STAGES
    assert WIRE_STREAMS == ("accepted", "entities", "places", "summaries", "drafts", "assigned")
    assert default_counts(4) == {
        "ingest": 1,
        "entities": 4,
        "geocoder": 1,
        "summarizer": 1,
        "stories": 1,
        "aggregator": 1,
    }


# A stage that reads the geocoder's output and fills one member of the event. Declaring
# it is all the topology needs; it goes before the stages that read the drafts.
PROBES = StreamDef("probes", PlacesResult, "A probe stage's results.")
PROBE = StageDef("probe", (PLACES,), PROBES, {"probe": "null"})


def test_a_new_stage_is_one_declaration() -> None:
    pipeline = pipeline_of((*ENRICHING, PROBE))
    groups = Keys("p").groups(pipeline)
    assert groups["p:places"] == ("probe", "aggregator")
    assert groups["p:probes"] == ("aggregator",)
    assert groups["p:accepted"] == ("entities", "summarizer")
    assert [s.name for s in pipeline.merged] == [
        "entities",
        "geocoder",
        "summarizer",
        "probe",
        "stories",
    ]
    assert pipeline["aggregator"].reads[-2] == PROBES
    assert pipeline.names[-1] == "aggregator" and "probe" in pipeline.names
    assert Keys("p").inputs(pipeline["probe"]) == [("p:places", "probe")]
    assert pipeline.writer(PROBES) == PROBE and pipeline.writer(ACCEPTED) == pipeline["ingest"]


def test_the_asyncapi_document_describes_every_declared_stream() -> None:
    channels = asyncapi_document()["channels"]
    described = " ".join(json.dumps(c) for c in channels.values())
    for stream in PIPELINE.streams():
        assert f"newsflow:{stream.name}" in described, stream.name
    assert "Read by geocoder, aggregator." in described
