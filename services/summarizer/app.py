"""Summarizer worker: an extractive summary of each accepted article."""

from __future__ import annotations

import asyncio
import functools
import time

import redis.asyncio as aredis

from services.summarizer.rank import summarize
from shared import __version__
from shared.metrics import set_build_info
from shared.pipeline import PIPELINE, Stage
from shared.schemas import Article, SummaryResult
from shared.service import Service, Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.worker import StageSpec, publish_to, stage_info

#: This service's stage, as the pipeline declares it (streams, group).
STAGE = PIPELINE[Stage.SUMMARIZER]
METHOD = "newsflow-rank"


def summarizer_stage(settings: Settings) -> StageSpec[Article, SummaryResult]:
    """The summary stage: one article in, its summary out."""
    keys = Keys(settings.stream_prefix)

    info = functools.partial(stage_info, STAGE.name, model=f"{METHOD}-{__version__}")

    def summarize_article(article: Article) -> SummaryResult:
        started = time.perf_counter()
        summary = summarize(
            article.text, title=article.meta.title, max_sentences=settings.summary_sentences
        )
        return SummaryResult(
            meta=article.meta,
            summary=summary,
            info=info("ok", time.perf_counter() - started),
        )

    def failed(article: Article, reason: str) -> SummaryResult:
        return SummaryResult(meta=article.meta, summary=None, info=info("error", 0.0, reason))

    return StageSpec(
        name=STAGE.name,
        stream=keys.stream(STAGE.reads[0]),
        group=STAGE.name,
        parse=Article.model_validate_json,
        work=lambda articles: [summarize_article(a) for a in articles],
        commit=publish_to(keys.stream(STAGE.writes)),
        failed=failed,
        article_id=lambda article: article.meta.id,
    )


def build_service(settings: Settings) -> Service:
    """The summarizer service."""
    keys = Keys(settings.stream_prefix)

    async def make_specs(_client: aredis.Redis) -> Stages:
        set_build_info(STAGE.name, model=f"{METHOD}-{__version__}")
        return Stages([summarizer_stage(settings)])

    return Service(STAGE.name, settings, keys.inputs(STAGE), make_specs)


def main(settings: Settings | None = None) -> None:
    """Run the summarizer worker."""
    asyncio.run(build_service(settings or load_settings()).run())
