"""Ingest: the HTTP API and the ingest group on ``{prefix}:articles``.

Both paths validate, name and dedupe articles with :mod:`services.ingest.admit` and
append them to ``{prefix}:accepted``, which the workers read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio.client import Pipeline
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from services.ingest.admit import (
    Admission,
    Admitter,
    accept,
    admit_payload,
    read_json,
    request_limit,
    validate_document,
    validation_errors,
)
from services.ingest.auth import Scope as KeyScope
from services.ingest.auth import authorize, exposure_warning, load_keys, presented_key
from services.ingest.fanout import EventHub, TooManyClients, readers_client
from services.ingest.pages import PageWorkers
from shared.filters import EventFilter
from shared.metrics import (
    ARTICLES_INGESTED,
    HTTP_DENIED,
    SSE_CLIENTS,
    SSE_DROPPED,
    set_build_info,
)
from shared.pipeline import PIPELINE, Stage
from shared.redis_client import describe_redis_error
from shared.schemas import Article
from shared.service import Service, Stages
from shared.settings import Settings, load_settings
from shared.streams import Keys
from shared.worker import InvalidInput, StageSpec, describe_error

#: This service's stage, as the pipeline declares it (streams, group).
STAGE = PIPELINE[Stage.INGEST]

MAX_BATCH = 1000
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
#: Articles accepted on the event loop between two yields to other requests.
ACCEPT_SLICE = 20

log = logging.getLogger("newsflow.ingest")


def stream_stage(settings: Settings, admitter: Admitter) -> StageSpec[Article, Article]:
    """The ingest group's stage: raw producer payloads in, accepted articles out."""

    def observe(_articles: list[Article], replies: list[Any]) -> None:
        for stored in replies:
            ARTICLES_INGESTED.labels("stream", "accepted" if stored else "duplicate").inc()

    def commit(pipe: Pipeline, articles: list[Article]) -> None:
        for article in articles:
            admitter.queue(pipe, article)

    keys = Keys(settings.stream_prefix)
    return StageSpec(
        name=STAGE.name,
        stream=keys.stream(STAGE.reads[0]),
        group=STAGE.name,
        parse=lambda payload: admit_payload(payload, settings),
        work=lambda articles: articles,
        commit=commit,
        article_id=lambda article: article.meta.id,
        observe=observe,
    )


def build_service(settings: Settings) -> Service:
    """The consuming half of ingest."""
    keys = Keys(settings.stream_prefix)

    async def make_specs(client: aredis.Redis) -> Stages:
        return Stages([stream_stage(settings, Admitter(client, settings))])

    return Service(STAGE.name, settings, keys.inputs(STAGE), make_specs)


@dataclass
class _Started:
    """What the HTTP half uses once its lifespan started it: the admitter (on the
    service's connection) and the event hub."""

    admitter: Admitter | None = None
    hub: EventHub | None = None


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _unavailable(message: str, *, retry_after_s: int = 1, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": message, **extra},
        status_code=503,
        headers={"Retry-After": str(retry_after_s)},
    )


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes (declared or not:
    a chunked body is counted as it arrives, and the rest is never read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def storage_failure(admissions: list[Admission], exc: aredis.RedisError) -> JSONResponse:
    """The 503 of a batch Redis refused in part: what was stored, what was not, and why."""
    missing = sum(1 for a in admissions if a.status in ("not_stored", "unknown"))
    if any(a.status == "unknown" for a in admissions):
        detail = "whether these articles were stored is unknown; retrying them is safe"
    else:
        detail = f"{missing} of {len(admissions)} articles were not stored; retry only those"
    return _unavailable(
        f"{describe_redis_error(exc)}: {detail}",
        articles=[{"id": a.id, "status": a.status} for a in admissions],
    )


class EventStreamResponse(StreamingResponse):
    """Server-Sent Events: a client that takes nothing for ``send_timeout_s`` is dropped
    (its socket buffers full), and ``on_close`` runs however the stream ends."""

    def __init__(
        self,
        content: AsyncGenerator[bytes],
        *,
        send_timeout_s: float,
        on_close: Callable[[], None],
    ) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._chunks = content
        self.send_timeout_s = send_timeout_s
        self.on_close = on_close

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async with contextlib.aclosing(self._chunks) as chunks:
            async for chunk in chunks:
                message = {"type": "http.response.body", "body": chunk, "more_body": True}
                try:
                    await asyncio.wait_for(send(message), self.send_timeout_s)
                except TimeoutError:
                    SSE_DROPPED.labels("slow").inc()
                    log.warning(
                        "events: dropped a client that read nothing for %ss", self.send_timeout_s
                    )
                    return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


def sse_message(entry_id: str, event: dict[str, Any], raw: bytes) -> bytes:
    """One enriched event as an SSE message (the stored JSON when it is one line)."""
    data = raw if raw and b"\n" not in raw and b"\r" not in raw else json.dumps(event).encode()
    return b"id: %s\nevent: enriched\ndata: %s\n\n" % (entry_id.encode(), data)


def create_http_app(settings: Settings) -> Starlette:
    """The ingest HTTP API: ``POST /articles``, ``GET /events``, ``GET /healthz``,
    ``GET /metrics``; API keys and scopes from the settings (none: open)."""
    service = build_service(settings)
    keys = load_keys(settings)
    pages = PageWorkers(settings)
    started = _Started()
    stream_keys = Keys(settings.stream_prefix)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        set_build_info(STAGE.name)
        warning = exposure_warning(settings, keys)
        if warning:
            log.warning("WARNING: %s", warning)
        await service.start()
        if service.client is None:
            raise RuntimeError("ingest: the service started without a connection")
        started.admitter = Admitter(service.client, settings)
        # The event readers' own connections: idle browsers never take producers' ones.
        hub = EventHub(
            readers_client(
                settings.require_redis_url(),
                cluster=settings.redis_cluster,
                connections=settings.sse_redis_connections,
            ),
            stream_keys.enriched,
            max_clients=settings.sse_max_clients,
            queue_events=settings.sse_queue_events,
            block_ms=settings.poll_ms,
        )
        await hub.start()
        started.hub = hub
        try:
            yield
        finally:
            await hub.stop()
            pages.close()
            await service.stop()

    def denied(request: Request, scope: KeyScope, endpoint: str) -> Response | None:
        decision = authorize(keys, presented_key(request.headers), scope)
        if decision.status == 200:
            return None
        HTTP_DENIED.labels(endpoint, str(decision.status)).inc()
        if decision.status == 401:
            return JSONResponse(
                {"error": "missing or unknown API key (Authorization: Bearer <key>)"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="newsflow"'},
            )
        return _error(403, f"API key {decision.key_name!r} lacks the {scope.value!r} scope")

    async def accept_all(
        items: list[Any],
    ) -> tuple[list[Article], list[dict[str, Any]]]:
        articles: list[Article] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                parsed = validate_document(item, settings)
                if parsed.text is None:
                    outcome = await pages.accept(parsed)  # HTML: in a worker process
                else:
                    outcome = accept(parsed, settings)
                    if index % ACCEPT_SLICE == ACCEPT_SLICE - 1:
                        await asyncio.sleep(0)  # let /healthz and others in
            except ValueError as exc:  # ValidationError and InvalidInput, with the reasons
                outcome = validation_errors(exc)
            if isinstance(outcome, list):
                errors.append({"index": index, "errors": outcome})
            else:
                articles.append(outcome)
        return articles, errors

    async def post_articles(request: Request) -> Response:
        refused = denied(request, KeyScope.PUSH, "articles")
        if refused is not None:
            return refused
        admitter = started.admitter
        if admitter is None:
            return _unavailable("starting")
        # The whole request's limit; each article in it is held to max_payload_bytes.
        limit = request_limit(settings)
        body = await read_limited(request, limit)
        if body is None:
            # The rest of the body is not read: the connection cannot be reused.
            return JSONResponse(
                {"error": f"request body over {limit} bytes"},
                status_code=413,
                headers={"Connection": "close"},
            )
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
        articles, errors = await accept_all(items)
        if errors:
            ARTICLES_INGESTED.labels("http", "invalid").inc(len(errors))
            return _error(422, "invalid article(s); nothing was accepted", details=errors)
        try:
            if await admitter.over_limit():
                ARTICLES_INGESTED.labels("http", "throttled").inc(len(articles))
                return _unavailable("backlog over the limit; retry later")
        except aredis.RedisError as exc:
            nothing = [Admission(a.meta.id, "not_stored") for a in articles]
            return storage_failure(nothing, exc)
        results, failure = await admitter.admit_each(articles)
        for result in results:
            ARTICLES_INGESTED.labels("http", result.status).inc()
        if failure is not None:
            return storage_failure(results, failure)
        return JSONResponse(
            {"articles": [{"id": r.id, "status": r.status} for r in results]}, status_code=202
        )

    async def healthz(_request: Request) -> Response:
        admitter = started.admitter
        if admitter is None:
            return _error(503, "starting")
        try:
            await admitter.client.ping()
        except aredis.RedisError as exc:
            return _error(503, describe_redis_error(exc))
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        if settings.metrics_auth:
            refused = denied(request, KeyScope.METRICS, "metrics")
            if refused is not None:
                return refused
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def events(request: Request) -> Response:
        """Server-Sent Events of enriched events, filtered like ``newsflow tail``.

        ``?country=FR&entity=Obama&label=PERSON&place=Paris&source=AFP&story=st-…``
        (repeatable);
        ``?from=begin|now|<entry id>``; a reconnecting browser's ``Last-Event-ID`` resumes.
        """
        refused = denied(request, KeyScope.READ, "events")
        if refused is not None:
            return refused
        query = request.query_params
        wanted = EventFilter.of(
            countries=query.getlist("country"),
            places=query.getlist("place"),
            entities=query.getlist("entity"),
            labels=query.getlist("label"),
            sources=query.getlist("source"),
            stories=query.getlist("story"),
        )
        start = request.headers.get("last-event-id") or query.get("from", "now")
        start = {"now": "$", "begin": "0-0"}.get(start, start)
        if start not in ("$", "0-0") and not _ENTRY_ID.match(start):
            return _error(422, f"from must be now, begin or a stream entry id, not {start!r}")
        hub = started.hub
        if hub is None:
            return _unavailable("starting")
        try:
            hub.admit()
        except TooManyClients:
            SSE_DROPPED.labels("full").inc()
            return _unavailable(
                f"{settings.sse_max_clients} event clients already; retry later", retry_after_s=5
            )
        SSE_CLIENTS.inc()

        def closed() -> None:
            hub.release()
            SSE_CLIENTS.dec()

        async def stream() -> AsyncGenerator[bytes]:
            yield b": newsflow enriched events\n\n"
            try:
                async for item in hub.events(start, wanted, keepalive_s=settings.sse_keepalive_s):
                    yield b": keep-alive\n\n" if item is None else sse_message(*item)
            except aredis.RedisError as exc:
                # The stream ends; the client reconnects with its Last-Event-ID.
                log.warning("events: a client's read failed: %s", describe_redis_error(exc))

        return EventStreamResponse(
            stream(), send_timeout_s=settings.sse_send_timeout_s, on_close=closed
        )

    routes = [
        Route("/articles", post_articles, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def server_config(settings: Settings, app: Starlette) -> uvicorn.Config:
    """How uvicorn serves the API: host, port, TLS when a certificate is configured."""
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        ssl_certfile=settings.http_ssl_certfile,
        ssl_keyfile=settings.http_ssl_keyfile,
        # Event streams never end by themselves: at shutdown they get this long.
        timeout_graceful_shutdown=5,
    )


def main(settings: Settings | None = None) -> None:
    """Run ingest: HTTP API plus the ingest consumer group."""
    settings = settings or load_settings()
    uvicorn.Server(server_config(settings, create_http_app(settings))).run()
