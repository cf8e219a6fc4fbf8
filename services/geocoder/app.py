"""Geocoder worker: resolves the entity stage's place candidates to GeoNames entries."""

from __future__ import annotations

import asyncio
import functools
import time

import redis.asyncio as aredis

from services.geocoder.article import geocode as geocode_article
from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from shared.metrics import set_build_info
from shared.pipeline import PIPELINE, Stage
from shared.schemas import EntitiesResult, PlacesResult, read_entities_result
from shared.service import Service, Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.worker import StageSpec, publish_to, stage_info

#: This service's stage, as the pipeline declares it (streams, group).
STAGE = PIPELINE[Stage.GEOCODER]


def geocoder_stage(
    settings: Settings, gazetteer: Gazetteer
) -> StageSpec[EntitiesResult, PlacesResult]:
    """The geocoding stage: one entities result in, its resolved places out."""
    keys = Keys(settings.stream_prefix)

    info = functools.partial(stage_info, STAGE.name, gazetteer=gazetteer.version)

    def geocode(result: EntitiesResult) -> PlacesResult:
        if result.info.status != "ok":
            # Without entities there is nothing to resolve: say so rather than "no places".
            reason = f"entity stage {result.info.status}: {result.info.error or ''}".rstrip(": ")
            return PlacesResult(meta=result.meta, places=[], info=info("skipped", 0.0, reason))
        started = time.perf_counter()
        found = geocode_article(result, gazetteer)
        return PlacesResult(
            meta=result.meta,
            places=found.places,
            entities=found.entities,
            info=info("ok", time.perf_counter() - started),
        )

    def failed(result: EntitiesResult, reason: str) -> PlacesResult:
        return PlacesResult(meta=result.meta, places=[], info=info("error", 0.0, reason))

    return StageSpec(
        name=STAGE.name,
        stream=keys.stream(STAGE.reads[0]),
        group=STAGE.name,
        parse=read_entities_result,  # the entities stream, any version
        work=lambda results: [geocode(r) for r in results],
        commit=publish_to(keys.stream(STAGE.writes)),
        failed=failed,
        article_id=lambda result: result.meta.id,
    )


def build_service(settings: Settings) -> Service:
    """The geocoder service."""
    keys = Keys(settings.stream_prefix)

    async def make_specs(_client: aredis.Redis) -> Stages:
        path = await asyncio.to_thread(ensure_gazetteer, settings.gazetteer_path)
        gazetteer = await asyncio.to_thread(Gazetteer.open, path)
        set_build_info(STAGE.name, gazetteer=gazetteer.version)
        return Stages([geocoder_stage(settings, gazetteer)])

    return Service(STAGE.name, settings, keys.inputs(STAGE), make_specs)


def main(settings: Settings | None = None) -> None:
    """Run the geocoder worker."""
    asyncio.run(build_service(settings or load_settings()).run())
