"""Pushing articles and reading enriched events: the Python client, and what the CLI's
push, tail and status do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import redis.asyncio as aredis

from newsflow.stories import live_stories
from services.ingest.admit import (
    Admission,
    Admitter,
    admit_document,
    admit_payload,
    document_of,
    utf8_text,
)
from shared.filters import EventFilter
from shared.redis_client import connect, ensure_groups, read_after
from shared.schemas import Article, ArticleIn, EnrichedEvent
from shared.settings import Settings, load_settings
from shared.story_schemas import StoryCard
from shared.streams import Keys
from shared.wire import decode_event
from shared.worker import InvalidInput, describe_error

INPUT_SUFFIXES = (".txt", ".json", ".jsonl")


@dataclass(frozen=True)
class Rejected:
    """An input that failed validation, with where it came from and why."""

    origin: str
    reason: str


#: One input to push: its JSON text, or why it cannot be read (not UTF-8, unreadable).
Payload = str | InvalidInput


def _decoded(data: bytes) -> str | InvalidInput:
    try:
        return utf8_text(data)
    except InvalidInput as exc:  # the reason the HTTP API and the ingest group give
        return exc


def _payloads_of_text(
    origin: str, data: str | InvalidInput, *, suffix: str, source: str
) -> Iterator[tuple[str, Payload]]:
    if isinstance(data, InvalidInput):
        yield origin, data  # the whole file is refused: no line of it can be trusted
    elif suffix == ".jsonl":
        for number, line in enumerate(data.splitlines(), 1):
            if line.strip():
                yield f"{origin}:{number}", line
    elif suffix == ".json":
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            yield origin, data  # let admission report the JSON error
            return
        items = document if isinstance(document, list) else [document]
        for index, item in enumerate(items):
            yield f"{origin}[{index}]", json.dumps(item)
    else:
        # Plain text is an article's text.
        yield origin, json.dumps({"text": data, "source": source})


def _payloads_of_file(path: Path) -> Iterator[tuple[str, Payload]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield str(path), InvalidInput(f"cannot read the file: {exc.strerror or exc}")
        return
    yield from _payloads_of_text(str(path), _decoded(data), suffix=path.suffix, source="file")


def _read_targets(targets: list[str]) -> Iterator[tuple[str, Payload]]:
    for target in targets:
        if target == "-":
            data = _decoded(sys.stdin.buffer.read())
            # JSON lines, or plain text if the first character is not ``{``.
            jsonl = isinstance(data, InvalidInput) or data.lstrip().startswith("{")
            if isinstance(data, InvalidInput) or data.strip():
                yield from _payloads_of_text(
                    "stdin", data, suffix=".jsonl" if jsonl else ".txt", source="stdin"
                )
            continue
        path = Path(target)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix in INPUT_SUFFIXES:
                    yield from _payloads_of_file(child)
        else:
            yield from _payloads_of_file(path)


def read_inputs(targets: Iterable[str]) -> Iterator[tuple[str, Payload]]:
    """(origin, payload) for every article in files, folders (recursively) or ``-`` (stdin,
    JSON lines, or plain text if the first character is not ``{``).

    Raises FileNotFoundError, before reading anything, when a target does not exist.
    """
    wanted = list(targets)
    for target in wanted:
        if target != "-" and not Path(target).exists():
            raise FileNotFoundError(f"no such file or folder: {target}")
    return _read_targets(wanted)


def validate_inputs(
    payloads: Iterable[tuple[str, Payload]], settings: Settings
) -> tuple[list[Article], list[Rejected]]:
    """Split inputs into accepted articles and rejected ones with their reasons (those
    :func:`~services.ingest.admit.admit_payload` gives every door)."""
    articles: list[Article] = []
    rejected: list[Rejected] = []
    for origin, payload in payloads:
        try:
            if isinstance(payload, InvalidInput):
                raise payload
            articles.append(admit_payload(payload, settings))
        except Exception as exc:  # one bad input is reported; the others still go
            rejected.append(Rejected(origin, describe_error(exc)))
    return articles, rejected


async def push_articles(
    client: aredis.Redis,
    settings: Settings,
    articles: list[Article],
    *,
    chunk: int = 100,
    wait_s: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> list[Admission]:
    """Admit articles in chunks, waiting while the pipeline's backlog is over its limit;
    ``progress(done, total)`` is called after each chunk."""
    await ensure_groups(client, Keys(settings.stream_prefix))
    admitter = Admitter(client, settings)
    chunk = min(chunk, settings.backlog_limit)
    results: list[Admission] = []
    for start in range(0, len(articles), chunk):
        while await admitter.over_limit(max_age_s=0.0):
            await asyncio.sleep(wait_s)
        results.extend(await admitter.admit(articles[start : start + chunk]))
        if progress is not None:
            progress(len(results), len(articles))
    return results


def progress_bar(label: str, *, stream: TextIO = sys.stderr) -> Callable[[int, int], None] | None:
    """A one-line progress bar on a terminal; None when ``stream`` is not one (logs, pipes)."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        end = "\n" if done >= total else ""
        bar = "#" * filled + "." * (width - filled)
        stream.write(f"\r{label} [{bar}] {done}/{total}{end}")
        stream.flush()

    return show


async def follow_events(
    client: aredis.Redis, keys: Keys, *, start: str = "$", block_ms: int = 1000
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Enriched events from ``start`` on (``$``: only new ones), following the stream."""
    last = start
    if last == "$":
        newest: Any = await client.xrevrange(keys.enriched, count=1)
        last = newest[0][0].decode() if newest else "0-0"
    while True:
        for entry_id, fields in await read_after(
            client, keys.enriched, last, count=500, block_ms=block_ms
        ):
            last = entry_id.decode()
            event = decode_event(fields)
            if event is not None:
                yield last, event


async def wait_for_events(
    client: aredis.Redis,
    keys: Keys,
    ids: Iterable[str],
    *,
    timeout_s: float,
    revisions: Mapping[str, int] | None = None,
) -> dict[str, EnrichedEvent]:
    """The enriched events of ``ids`` (of the given revisions, else any), from the stream's
    history on; stops at the timeout."""
    wanted = set(ids)
    found: dict[str, EnrichedEvent] = {}

    def is_wanted(event: dict[str, Any]) -> bool:
        if event.get("id") not in wanted:
            return False
        revision = (revisions or {}).get(event["id"])
        return revision is None or (event.get("article") or {}).get("revision", 1) == revision

    async def collect() -> None:
        async for _entry_id, event in follow_events(client, keys, start="0-0", block_ms=200):
            if is_wanted(event):
                found[event["id"]] = EnrichedEvent.model_validate(event)
                if len(found) == len(wanted):
                    return

    if wanted:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collect(), timeout=timeout_s)
    return found


def describe_event(event: dict[str, Any]) -> str:
    """A few readable lines about an enriched event."""
    article = event.get("article") or {}
    lines = [f"{event.get('id')}  {article.get('title') or article.get('url') or ''}".rstrip()]
    if event.get("partial"):
        lines.append(f"  partial: missing {', '.join(event.get('missing_stages') or [])}")
    people = [e["name"] for e in event.get("entities") or [] if e.get("label") == "PERSON"]
    orgs = [e["name"] for e in event.get("entities") or [] if e.get("label") in ("ORG", "NORP")]
    if people:
        lines.append(f"  people: {', '.join(people)}")
    if orgs:
        lines.append(f"  groups: {', '.join(orgs)}")
    places = [
        f"{p['name']} ({p.get('country_code') or '?'}, {p['latitude']:.2f},{p['longitude']:.2f})"
        + (" *focus*" if p.get("focus") else "")
        for p in event.get("places") or []
    ]
    if places:
        lines.append(f"  places: {'; '.join(places)}")
    summary = (event.get("summary") or {}).get("text")
    if summary:
        lines.append(f"  summary: {summary}")
    return "\n".join(lines)


class NewsflowClient:
    """A small typed client: push articles, subscribe to enriched events.

    ``subscribe`` reads ``{prefix}:enriched`` in a consumer group of your choosing, so a
    subscriber that stops resumes where it left off: an event is acknowledged when you
    ask for the next one, and events you had not finished with are delivered again.

    >>> async with NewsflowClient("redis://127.0.0.1:6379/0") as nf:  # or NEWSFLOW_REDIS_URL
    ...     await nf.push({"text": "Floods hit Lyon, France.", "id": "lyon-1"})
    ...     only_france = EventFilter.of(countries=["FR"])
    ...     async for event in nf.subscribe(group="my-app", filter=only_france):
    ...         print(event.id)
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        prefix: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Connect to ``redis_url`` (default ``NEWSFLOW_REDIS_URL``) under ``prefix``
        (default ``NEWSFLOW_STREAM_PREFIX``, else ``newsflow``)."""
        if settings is None:
            overrides = {"redis_url": redis_url, "stream_prefix": prefix}
            settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        self.settings = settings
        self.keys = Keys(settings.stream_prefix)
        self.redis = connect(settings.require_redis_url(), cluster=settings.redis_cluster)

    async def __aenter__(self) -> NewsflowClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection."""
        await self.redis.aclose()

    async def push(self, article: ArticleIn | Mapping[str, Any]) -> Admission:
        """Validate and push one article.

        Invalid input raises ``ValueError``: pydantic's ``ValidationError`` when a field
        breaks a rule, :class:`InvalidInput` for a limit or an unreadable article; both
        carry the reason the HTTP API and the ingest group give (``describe_error``).
        """
        (admission,) = await self.push_many([article])
        return admission

    async def push_many(self, articles: Iterable[ArticleIn | Mapping[str, Any]]) -> list[Admission]:
        """Validate and push articles, waiting while the pipeline's backlog is over its limit.

        Nothing is pushed when one is invalid: it raises as :meth:`push` does.
        """
        accepted = [admit_document(document_of(a), self.settings) for a in articles]
        return await push_articles(self.redis, self.settings, accepted)

    async def stories(self, limit: int = 20) -> list[StoryCard]:
        """The live stories, the most recently active first (``newsflow stories``); to
        follow one, subscribe with ``EventFilter.of(stories=[story_id])``."""
        return await live_stories(self.redis, self.keys, limit=limit)

    async def subscribe(
        self,
        group: str,
        *,
        consumer: str = "client",
        filter: EventFilter | None = None,
        start: str = "$",
        block_ms: int = 1000,
    ) -> AsyncIterator[EnrichedEvent]:
        """Enriched events for consumer group ``group`` (created at ``start``: ``$`` new
        events only, ``0`` the whole retained history), matching ``filter``."""
        stream = self.keys.enriched
        try:
            await self.redis.xgroup_create(stream, group, id=start, mkstream=True)
        except aredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        wanted = filter or EventFilter()
        position = "0"  # first what this consumer was given and did not acknowledge
        while True:
            reply: Any = await self.redis.xreadgroup(
                group,
                consumer,
                {stream: position},
                count=100,
                block=None if position == "0" else block_ms,
            )
            entries = [(i, f) for _s, items in reply or [] for i, f in items]
            if position == "0" and not entries:
                position = ">"
                continue
            for entry_id, fields in entries:
                event = decode_event(fields) if fields else None
                if event is not None and wanted.matches(event):
                    yield EnrichedEvent.model_validate(event)
                # Acknowledged once the caller came back for more (or skipped by the filter).
                await self.redis.xack(stream, group, entry_id)


class HTTPPushError(Exception):
    """The HTTP API refused a push for a reason waiting does not fix (a key, a size)."""


def read_api_key(settings: Settings, key_file: Path | None) -> str | None:
    """The key to send: from ``key_file`` (first line), else ``NEWSFLOW_API_KEY``. Never
    from the command line, where other users of the machine can read it."""
    if key_file is not None:
        lines = key_file.read_text(encoding="utf-8").strip().splitlines()
        return lines[0].strip() if lines else None
    return settings.api_key.get_secret_value() if settings.api_key else None


def _post_json(url: str, body: bytes, api_key: str | None) -> tuple[int, dict[str, Any], float]:
    """POST ``body``: (status, JSON answer, Retry-After seconds)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # The scheme is checked by push_over_http: http or https only.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
            status, raw, retry = response.status, response.read(), "1"
    except urllib.error.HTTPError as exc:
        status, raw, retry = exc.code, exc.read(), exc.headers.get("Retry-After", "1")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {"error": raw[:200].decode("utf-8", "replace")}
    try:
        wait = float(retry)
    except ValueError:
        wait = 1.0
    return status, answer if isinstance(answer, dict) else {}, wait


def _batches(payloads: list[str], chunk: int, max_body: int) -> Iterator[list[int]]:
    batch: list[int] = []
    size = 2
    for index, payload in enumerate(payloads):
        if batch and (len(batch) >= chunk or size + len(payload) + 1 > max_body):
            yield batch
            batch, size = [], 2
        batch.append(index)
        size += len(payload.encode()) + 1
    if batch:
        yield batch


def push_over_http(
    base_url: str,
    inputs: list[tuple[str, str]],
    *,
    api_key: str | None,
    max_body: int,
    chunk: int = 100,
    attempts: int = 60,
) -> tuple[list[Admission], list[Rejected]]:
    """Push (origin, JSON payload) inputs to ingest's ``POST /articles`` in batches.

    Invalid articles are reported (and the rest of their batch sent again); on a 503 only
    what the answer says was not stored is sent again, after its Retry-After.
    """
    if not base_url.startswith(("http://", "https://")):
        raise HTTPPushError(f"--http needs an http:// or https:// URL, not {base_url!r}")
    url = base_url.rstrip("/") + "/articles"
    payloads = [payload for _origin, payload in inputs]
    done: dict[int, Admission] = {}
    rejected: list[Rejected] = []
    for batch in _batches(payloads, chunk, max_body):
        pending = batch
        for _attempt in range(attempts):
            body = ("[" + ",".join(payloads[i] for i in pending) + "]").encode()
            status, answer, wait = _post_json(url, body, api_key)
            reported = answer.get("articles") or []
            if status == 202 or (status == 503 and len(reported) == len(pending)):
                for index, item in zip(pending, reported, strict=True):
                    if item["status"] in ("accepted", "duplicate"):
                        done[index] = Admission(item["id"], item["status"])
                pending = [i for i in pending if i not in done]
            elif status == 422 and answer.get("details"):
                bad = {pending[d["index"]]: d for d in answer["details"]}
                for index, detail in bad.items():
                    reason = "; ".join(f"{e['field']}: {e['error']}" for e in detail["errors"])
                    rejected.append(Rejected(inputs[index][0], reason))
                pending = [i for i in pending if i not in bad]
                if not pending:
                    break
                continue  # the valid rest of the batch, at once
            elif status != 503:
                raise HTTPPushError(f"HTTP {status}: {answer.get('error', 'refused')}")
            if not pending:
                break
            time.sleep(min(wait, 30.0))
        else:
            raise HTTPPushError(f"still refused after {attempts} tries: {answer.get('error')}")
    return [done[i] for i in sorted(done)], rejected
