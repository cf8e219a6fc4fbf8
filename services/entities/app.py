"""Entities worker: named entities of accepted articles, and place candidates for the geocoder."""

from __future__ import annotations

import asyncio
import functools
import time

import redis.asyncio as aredis
from spacy.language import Language

from services.entities.extract import extract_entities, load_nlp
from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from shared.metrics import set_build_info
from shared.pipeline import PIPELINE, Stage
from shared.schemas import Article, EntitiesResult
from shared.service import Service, Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.worker import StageSpec, publish_to, stage_info

#: This service's stage, as the pipeline declares it (streams, group).
STAGE = PIPELINE[Stage.ENTITIES]

#: The entity stage carries the article's text on with its result: to the drafts when a
#: stage reads them (stories), and to the event with NEWSFLOW_EVENT_TEXT. Its result is the
#: last of the early stages to reach the merge (NER is the slow one), so the text waits in
#: the article's merge state for a few milliseconds, not for the whole NER backlog as it
#: did when the summarizer, which runs ahead, carried it (bench: Redis memory per article
#: in flight).
CARRY_TEXT = bool(PIPELINE.drafted)

#: Languages the entity model reads; an article of unknown language is tried in English.
MODEL_LANGUAGES = ("en",)


def handles_language(language: str | None) -> bool:
    """Whether the entity model can read an article in ``language`` (None: unknown)."""
    return language is None or language.split("-")[0].lower() in MODEL_LANGUAGES


def model_version(nlp: Language) -> str:
    """The model's name and version, as reported in every result."""
    return f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}"


def entities_stage(
    settings: Settings, nlp: Language, gazetteer: Gazetteer | None
) -> StageSpec[Article, EntitiesResult]:
    """The entity stage: a batch of articles through one ``nlp.pipe``."""
    keys = Keys(settings.stream_prefix)
    model = model_version(nlp)
    gazetteer_version = gazetteer.version if gazetteer else None

    def is_place(name: str) -> bool:
        return gazetteer is not None and gazetteer.knows(name)

    info = functools.partial(stage_info, STAGE.name, model=model, gazetteer=gazetteer_version)
    carry = CARRY_TEXT or settings.event_text

    def text_of(article: Article) -> str | None:
        return article.text if carry else None

    def work(articles: list[Article]) -> list[EntitiesResult]:
        readable = [a for a in articles if handles_language(a.meta.language)]
        started = time.perf_counter()
        extractions = extract_entities(
            nlp, [a.text for a in readable], is_place=is_place, batch_size=settings.batch_size
        )
        each = (time.perf_counter() - started) / max(1, len(readable))
        found = {id(a): e for a, e in zip(readable, extractions, strict=True)}
        results = []
        for article in articles:
            extraction = found.get(id(article))
            if extraction is None:
                # Marked and passed on, never dropped: the summary still runs.
                reason = f"no entity model for language {article.meta.language!r}"
                results.append(
                    EntitiesResult(
                        meta=article.meta,
                        entities=[],
                        candidates=[],
                        info=info("skipped", 0.0, reason),
                        text=text_of(article),
                    )
                )
            else:
                results.append(
                    EntitiesResult.of(
                        article.meta,
                        extraction.entities,
                        extraction.candidates,
                        info("ok", each),
                        text_of(article),
                    )
                )
        return results

    def failed(article: Article, reason: str) -> EntitiesResult:
        return EntitiesResult(
            meta=article.meta,
            entities=[],
            candidates=[],
            info=info("error", 0.0, reason),
            text=text_of(article),
        )

    return StageSpec(
        name=STAGE.name,
        stream=keys.stream(STAGE.reads[0]),
        group=STAGE.name,
        parse=Article.model_validate_json,
        work=work,
        commit=publish_to(keys.stream(STAGE.writes)),
        failed=failed,
        article_id=lambda article: article.meta.id,
    )


def build_service(settings: Settings) -> Service:
    """The entities service."""
    keys = Keys(settings.stream_prefix)

    async def make_specs(_client: aredis.Redis) -> Stages:
        nlp = await asyncio.to_thread(load_nlp)
        path = await asyncio.to_thread(ensure_gazetteer, settings.gazetteer_path)
        gazetteer = await asyncio.to_thread(Gazetteer.open, path)
        set_build_info(STAGE.name, model=model_version(nlp), gazetteer=gazetteer.version)
        return Stages([entities_stage(settings, nlp, gazetteer)])

    return Service(STAGE.name, settings, keys.inputs(STAGE), make_specs)


def main(settings: Settings | None = None) -> None:
    """Run the entities worker."""
    asyncio.run(build_service(settings or load_settings()).run())
