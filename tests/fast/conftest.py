"""Fixtures of the fast layer: each service's real stages on an in-memory Redis.

The stages are built by each service's own ``make_specs``, as its ``app.py`` wires them
at start-up; spaCy and the gazetteer load once per session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis

from services.aggregator import app as aggregator_app
from services.entities import app as entities_app
from services.geocoder import app as geocoder_app
from services.ingest import app as ingest_app
from services.stories import app as stories_app
from services.summarizer import app as summarizer_app
from shared.redis_client import ensure_groups
from shared.settings import Settings
from shared.streams import Keys
from shared.worker import StageSpec
from tests.fast.memory import MemoryStage, memory_redis, memory_settings

SpecMap = dict[str, StageSpec[object, object]]


@pytest.fixture(scope="session")
def fast_settings() -> Settings:
    return memory_settings()


@pytest.fixture(scope="session")
def model_stages(fast_settings: Settings) -> SpecMap:
    """The entities and geocoder stages (they hold no connection), built once."""

    async def build() -> SpecMap:
        client = memory_redis()
        specs: SpecMap = {}
        for service in (
            entities_app.build_service(fast_settings),
            geocoder_app.build_service(fast_settings),
        ):
            (spec,) = (await service.make_specs(client)).specs
            specs[spec.name] = spec
        await client.aclose()
        return specs

    return asyncio.run(build())


@pytest.fixture
async def memory(fast_settings: Settings) -> AsyncIterator[aredis.Redis]:
    """A new in-memory server with the pipeline's consumer groups, as services create them."""
    client = memory_redis()
    await ensure_groups(client, Keys(fast_settings.stream_prefix))
    yield client
    await client.aclose()


@pytest.fixture
async def ingest(memory: aredis.Redis, fast_settings: Settings) -> MemoryStage:
    service = ingest_app.build_service(fast_settings)
    (spec,) = (await service.make_specs(memory)).specs
    return MemoryStage(spec, memory, fast_settings)


@pytest.fixture
def entities(memory: aredis.Redis, fast_settings: Settings, model_stages: SpecMap) -> MemoryStage:
    return MemoryStage(model_stages["entities"], memory, fast_settings)


@pytest.fixture
def geocoder(memory: aredis.Redis, fast_settings: Settings, model_stages: SpecMap) -> MemoryStage:
    return MemoryStage(model_stages["geocoder"], memory, fast_settings)


@pytest.fixture
async def summarizer(memory: aredis.Redis, fast_settings: Settings) -> MemoryStage:
    (spec,) = (await summarizer_app.build_service(fast_settings).make_specs(memory)).specs
    return MemoryStage(spec, memory, fast_settings)


@pytest.fixture
async def stories(memory: aredis.Redis, fast_settings: Settings) -> MemoryStage:
    """The stories stage, as its service builds it once it holds the lease."""
    (spec,) = (await stories_app.build_service(fast_settings).make_specs(memory)).specs
    return MemoryStage(spec, memory, fast_settings)


@pytest.fixture
async def aggregator(memory: aredis.Redis, fast_settings: Settings) -> list[MemoryStage]:
    """The aggregator's stages: on the entities, places, summaries and assigned streams."""
    stages = await aggregator_app.build_service(fast_settings).make_specs(memory)
    return [MemoryStage(spec, memory, fast_settings) for spec in stages.specs]


@pytest.fixture
def flow(
    ingest: MemoryStage,
    entities: MemoryStage,
    geocoder: MemoryStage,
    summarizer: MemoryStage,
    stories: MemoryStage,
    aggregator: list[MemoryStage],
) -> list[MemoryStage]:
    """Every stage in the order the pipeline feeds them, the aggregator once per input:
    the stories stage reads the draft the merge of the first three sends."""
    on_entities, on_places, on_summaries, on_stories = aggregator
    return [
        ingest,
        entities,
        geocoder,
        summarizer,
        on_entities,
        on_places,
        on_summaries,
        stories,
        on_stories,
    ]
