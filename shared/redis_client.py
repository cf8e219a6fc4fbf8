"""Redis connections, consumer-group creation and the stream retention policy."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ExecAbortError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.settings import Settings
from shared.streams import Keys


def connect(url: str, *, cluster: bool = False, **options: Any) -> aredis.Redis:
    """An asyncio Redis client for ``url`` (redis://, rediss:// with TLS, unix://), or for
    the Redis Cluster that ``url`` is a node of.

    Passwords, ACL users and TLS options travel in the URL. Responses stay bytes:
    payloads are decoded once, where they are parsed.
    """
    options.setdefault("health_check_interval", 15)
    if cluster:
        # Every key of a pipeline shares the prefix's hash tag, so every command newsflow
        # sends (transactions and scripts included) goes to one node; the commands it uses
        # have the same signatures on both clients.
        return cast(aredis.Redis, RedisCluster.from_url(url, **options))
    options.setdefault("retry_on_timeout", True)
    return aredis.Redis.from_url(url, **options)


async def ensure_groups(client: aredis.Redis, keys: Keys) -> None:
    """Create every consumer group from id 0 (MKSTREAM), so nothing published before the
    first worker started is skipped. Existing groups are left as they are, and are looked
    up first: XGROUP CREATE needs memory, so a full server would refuse even a no-op."""
    for stream, groups in keys.groups().items():
        try:
            infos: Any = await client.xinfo_groups(stream)
            existing = {_text(info["name"]) for info in infos}
        except ResponseError:
            existing = set()  # no such stream yet
        for group in groups:
            if str(group) in existing:
                continue
            try:
                await client.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise


#: The errors a server gives while it cannot take writes for a while (memory full under
#: noeviction, loading its data, a replica, a cluster moving slots): waiting and trying
#: again is the cure. redis-py raises its own classes for some replies (and drops their
#: code from the message); the others are known by the code their message starts with.
TRANSIENT_CLASSES: tuple[tuple[type[RedisError], str], ...] = (
    (OutOfMemoryError, "Redis is out of memory (maxmemory reached, noeviction): it refuses writes"),
    (BusyLoadingError, "Redis is loading its data set"),
    (ReadOnlyError, "Redis is a read-only replica"),
    (MasterDownError, "Redis lost its primary"),
    (TryAgainError, "Redis Cluster is moving the keys' slot"),
    (ClusterDownError, "Redis Cluster is down"),
)
TRANSIENT_CODES = {
    "OOM": TRANSIENT_CLASSES[0][1],
    "BUSY": "Redis is busy running a script",
    "NOREPLICAS": "Redis has too few replicas for writes",
    "MISCONF": "Redis cannot persist its data (disk?) and refuses writes",
}


def _reply(exc: BaseException) -> str:
    # A pipeline's error reads "Command # 3 (EVALSHA ...) of pipeline caused error: ...":
    # only what follows is the server's reply.
    text = str(exc)
    _, marker, tail = text.partition("caused error: ")
    return (tail if marker else text).strip()


def _transient_reason(exc: BaseException) -> str | None:
    for kind, reason in TRANSIENT_CLASSES:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, ResponseError):
        reply = _reply(exc)
        if reply.startswith("command not allowed when used memory"):
            return TRANSIENT_CODES["OOM"]
        for code, reason in TRANSIENT_CODES.items():
            # EXECABORT names the error of the command that aborted the transaction.
            if reply.startswith(code + " ") or (
                isinstance(exc, ExecAbortError) and f" {code} " in f" {reply} "
            ):
                return reason
    return None


def is_transient(exc: BaseException) -> bool:
    """True for Redis failures that pass by themselves (unreachable, timed out, full,
    loading, fail-over): the work is kept and its commit tried again later."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return True
    return _transient_reason(exc) is not None


def describe_redis_error(exc: BaseException) -> str:
    """One readable line for a Redis failure: what the server said, never the command, its
    arguments (payloads, compressed bytes) or credentials."""
    reason = _transient_reason(exc)
    if reason is not None:
        return reason
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        # redis-py names the host and port here, never the credentials.
        kind = "timed out" if isinstance(exc, RedisTimeoutError) else "unreachable"
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return f"Redis {kind}: {first}"
    if isinstance(exc, ResponseError):
        return f"Redis refused a command: {_reply(exc).splitlines()[0][:200]}"
    return f"Redis error: {type(exc).__name__}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def output_trim(settings: Settings) -> dict[str, Any]:
    """Retention of the output streams (enriched events, dead letters): the last
    ``output_maxlen`` entries, approximately. Work streams are trimmed by
    :func:`trim_acknowledged` instead, never by length."""
    return {"maxlen": settings.output_maxlen, "approximate": True}


def _id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    millis, _, seq = text.partition("-")
    return int(millis), int(seq or 0)


async def trim_acknowledged(
    client: aredis.Redis, keys: Keys, *, keep_s: Mapping[str, float] | None = None
) -> dict[str, int]:
    """Trim every work stream below the oldest entry some group still needs.

    For each stream the floor is the minimum, over all its groups, of the oldest pending
    entry (or, with nothing pending, the last delivered one); ``XTRIM MINID ~`` removes only
    entries below it, which every group has read and acknowledged. A stream missing one of
    its groups is left alone: where that group stands is unknown. ``keep_s`` keeps a
    stream's entries younger than so many seconds (for replays). Returns entries removed.
    """
    removed: dict[str, int] = {}
    for stream, wanted in keys.groups().items():
        try:
            infos: Any = await client.xinfo_groups(stream)
        except ResponseError:
            continue  # no such stream yet
        names = {i["name"].decode() if isinstance(i["name"], bytes) else i["name"] for i in infos}
        if not {str(g) for g in wanted} <= names:
            continue
        floor: tuple[int, int] | None = None
        for info in infos:
            oldest = None
            if int(info.get("pending", 0)):
                summary: Any = await client.xpending(stream, info["name"])
                oldest = summary.get("min")
            # Nothing pending (or all of it acknowledged since XINFO): nothing is owed up to
            # the last delivered id XINFO saw, and whatever was delivered later lies above.
            candidate = _id_key(oldest or info["last-delivered-id"])
            floor = candidate if floor is None else min(floor, candidate)
        keep = (keep_s or {}).get(stream, 0.0)
        if floor is not None and keep > 0:
            floor = min(floor, (int((time.time() - keep) * 1000), 0))
        if floor is None or floor == (0, 0):
            continue
        count = await client.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=True)
        removed[stream] = int(count)
    return removed


def queue_script(pipe: Pipeline, script: AsyncScript, keys: list[str], args: list[Any]) -> None:
    """Queue a Lua script call in a pipeline or transaction (loaded at execute if needed)."""
    scripts = getattr(pipe, "scripts", None)
    if scripts is None:
        # A cluster pipeline cannot load scripts first: send the body (no NOSCRIPT risk).
        body = script.script
        pipe.eval(body.decode() if isinstance(body, bytes) else str(body), len(keys), *keys, *args)
        return
    # redis-py annotates the set as holding sync Scripts; async ones are what it stores.
    scripts.add(script)
    pipe.evalsha(script.sha, len(keys), *keys, *args)


#: Stream entries as redis-py returns them with bytes responses: (id, fields).
StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


async def read_after(
    client: aredis.Redis, stream: str, last_id: str, *, count: int, block_ms: int | None
) -> StreamEntries:
    """Entries of one stream after ``last_id`` (XREAD), waiting up to ``block_ms``."""
    reply: Any = await client.xread({stream: last_id}, count=count, block=block_ms)
    return [(entry_id, fields) for _name, entries in reply or [] for entry_id, fields in entries]


async def entries_between(
    client: aredis.Redis, stream: str, start: str = "-", end: str = "+", count: int | None = None
) -> StreamEntries:
    """Entries of a stream by id range (XRANGE)."""
    reply: Any = await client.xrange(stream, start, end, count)
    return list(reply)
