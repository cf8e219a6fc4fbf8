"""Ingest: the HTTP API and the ingest group on ``{prefix}:articles``.

Both paths validate, name and dedupe articles with :mod:`services.ingest.admit` and
append them to ``{prefix}:accepted``, which the workers read.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aredis
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio.client import Pipeline
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from services.client import follow_events
from services.filters import EventFilter
from services.ingest.admit import (
    Admitter,
    admit_document,
    admit_payload,
    read_json,
    request_limit,
    validation_errors,
)
from shared.metrics import ARTICLES_INGESTED, set_build_info
from shared.schemas import Article
from shared.settings import Settings, load_settings
from shared.streams import Group, Keys
from shared.worker import InvalidInput, Service, StageSpec, describe_error

MAX_BATCH = 1000
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def stream_stage(settings: Settings, admitter: Admitter) -> StageSpec[Article, Article]:
    """The ingest group's stage: raw producer payloads in, accepted articles out."""

    def observe(_article: Article, _result: Article, results: list[Any]) -> None:
        ARTICLES_INGESTED.labels("stream", "accepted" if results[0] else "duplicate").inc()

    def commit(pipe: Pipeline, _article: Article, result: Article) -> None:
        admitter.queue(pipe, result)

    keys = Keys(settings.stream_prefix)
    return StageSpec(
        name="ingest",
        stream=keys.articles,
        group=Group.INGEST,
        parse=lambda payload: admit_payload(payload, settings),
        work=lambda articles: articles,
        commit=commit,
        article_id=lambda article: article.meta.id,
        observe=observe,
    )


def build_service(settings: Settings) -> tuple[Service, dict[str, Admitter]]:
    """The consuming half of ingest, and a slot the HTTP half finds its admitter in."""
    holder: dict[str, Admitter] = {}

    async def make_specs(client: aredis.Redis) -> list[StageSpec[Any, Any]]:
        admitter = Admitter(client, settings)
        holder["admitter"] = admitter
        return [stream_stage(settings, admitter)]

    keys = Keys(settings.stream_prefix)
    service = Service("ingest", settings, [(keys.articles, Group.INGEST)], make_specs)
    return service, holder


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _unavailable(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "1"})


def create_http_app(settings: Settings) -> Starlette:
    """The ingest HTTP API: ``POST /articles``, ``GET /healthz``, ``GET /metrics``."""
    service, holder = build_service(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        set_build_info("ingest")
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    async def post_articles(request: Request) -> Response:
        admitter = holder["admitter"]
        declared = request.headers.get("content-length")
        # The whole request's limit; each article in it is held to max_payload_bytes.
        limit = request_limit(settings)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, f"request body over {limit} bytes")
        body = await request.body()
        if len(body) > limit:
            return _error(413, f"request body over {limit} bytes")
        try:
            document = read_json(body, settings)
        except InvalidInput as exc:
            ARTICLES_INGESTED.labels("http", "invalid").inc()
            return _error(422, describe_error(exc))
        items = document if isinstance(document, list) else [document]
        # One request never adds more than the backlog limit, so the backlog stays within
        # twice the limit however many requests race past the (cached) check.
        most = min(MAX_BATCH, settings.backlog_limit)
        if not items or len(items) > most:
            return _error(422, f"send one article or a list of 1 to {most}")
        articles: list[Article] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                articles.append(admit_document(item, settings))
            except ValueError as exc:  # ValidationError and InvalidInput, with the reasons
                errors.append({"index": index, "errors": validation_errors(exc)})
        if errors:
            ARTICLES_INGESTED.labels("http", "invalid").inc(len(errors))
            return _error(422, "invalid article(s); nothing was accepted", details=errors)
        try:
            if await admitter.over_limit():
                ARTICLES_INGESTED.labels("http", "throttled").inc(len(articles))
                return _unavailable("backlog over the limit; retry later")
            results = await admitter.admit(articles)
        except aredis.RedisError as exc:
            # Unreachable, or out of memory (noeviction refuses writes): nothing was lost,
            # nothing was accepted; the producer retries.
            return _unavailable(f"cannot store articles now: {exc}")
        for result in results:
            ARTICLES_INGESTED.labels("http", result.status).inc()
        return JSONResponse(
            {"articles": [{"id": r.id, "status": r.status} for r in results]}, status_code=202
        )

    async def healthz(_request: Request) -> Response:
        admitter = holder.get("admitter")
        if admitter is None:
            return _error(503, "starting")
        try:
            await admitter.client.ping()
        except aredis.RedisError as exc:
            return _error(503, f"redis unreachable: {exc}")
        return JSONResponse({"status": "ok"})

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def events(request: Request) -> Response:
        """Server-Sent Events of enriched events, filtered like ``newsflow tail``.

        ``?country=FR&entity=Obama&label=PERSON&place=Paris&source=AFP`` (repeatable);
        ``?from=begin|now|<entry id>``; a reconnecting browser's ``Last-Event-ID`` resumes.
        """
        query = request.query_params
        wanted = EventFilter.of(
            countries=query.getlist("country"),
            places=query.getlist("place"),
            entities=query.getlist("entity"),
            labels=query.getlist("label"),
            sources=query.getlist("source"),
        )
        start = request.headers.get("last-event-id") or query.get("from", "now")
        start = {"now": "$", "begin": "0-0"}.get(start, start)
        if start not in ("$", "0-0") and not _ENTRY_ID.match(start):
            return _error(422, f"from must be now, begin or a stream entry id, not {start!r}")
        client = holder["admitter"].client
        keys = Keys(settings.stream_prefix)

        async def stream() -> AsyncIterator[bytes]:
            yield b": newsflow enriched events\n\n"
            async for entry_id, event in follow_events(client, keys, start=start):
                if await request.is_disconnected():
                    return
                if wanted.matches(event):
                    yield f"id: {entry_id}\nevent: enriched\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    routes = [
        Route("/articles", post_articles, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main(settings: Settings | None = None) -> None:
    """Run ingest: HTTP API plus the ingest consumer group."""
    settings = settings or load_settings()
    uvicorn.run(
        create_http_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
    )
