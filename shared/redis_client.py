"""Redis connections, consumer-group creation and the stream retention policy."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aredis
from redis import exceptions as rex
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import (
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

from shared.ids import entry_id_key
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
#: code from the message); the others are known by the code their reply starts with.
TRANSIENT_CLASSES: tuple[type[RedisError], ...] = (
    RedisConnectionError,  # BusyLoadingError (LOADING) is one
    RedisTimeoutError,
    OutOfMemoryError,
    ReadOnlyError,
    MasterDownError,
    TryAgainError,
    ClusterDownError,
)
TRANSIENT_CODES = ("OOM", "BUSY", "NOREPLICAS", "MISCONF", "LOADING", "READONLY")


def is_transient(exc: BaseException) -> bool:
    """True for Redis failures that pass by themselves (unreachable, timed out, full,
    loading, fail-over): the work is kept and its commit tried again later. Refused
    credentials are not: they stay refused until someone changes them."""
    if isinstance(exc, rex.AuthenticationError):
        return False
    if isinstance(exc, TRANSIENT_CLASSES):
        return True
    if not isinstance(exc, ResponseError):
        return False
    # A pipeline's error reads "Command # 3 (EVALSHA ...) of pipeline caused error: ...";
    # EXECABORT names the error of the command that aborted the transaction.
    reply = str(exc).rpartition("caused error: ")[2].strip()
    if "maxmemory" in reply:
        return True
    words = reply.split()
    if isinstance(exc, ExecAbortError):
        return any(code in words for code in TRANSIENT_CODES)
    return bool(words) and words[0] in TRANSIENT_CODES


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def output_trim(settings: Settings) -> dict[str, Any]:
    """Retention of the output streams (enriched events, dead letters): the last
    ``output_maxlen`` entries, approximately. Work streams are trimmed by
    :func:`trim_acknowledged` instead, never by length."""
    return {"maxlen": settings.output_maxlen, "approximate": True}


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
            candidate = entry_id_key(oldest or info["last-delivered-id"])
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


_ERROR_CODE = re.compile(r"\b([A-Z][A-Z_]{2,})\b")

#: Readable meanings of the error codes a Redis server answers with, for those newsflow
#: can meet; the message that came with the code is never shown (it may quote arguments).
_CODE_MEANINGS = {
    "OOM": "Redis is out of memory (maxmemory reached)",
    "NOAUTH": "Redis asks for a password",
    "WRONGPASS": "Redis refused the credentials",
    "NOPERM": "Redis' ACL does not allow this command or key",
    "READONLY": "Redis is read-only (a replica)",
    "LOADING": "Redis is loading its data",
    "BUSY": "Redis is busy running a script",
    "MISCONF": "Redis cannot persist its data (MISCONF) and refuses writes",
    "CLUSTERDOWN": "the Redis Cluster is down",
    "NOGROUP": "a consumer group is missing",
    "WRONGTYPE": "a key holds the wrong type of value",
}


def describe_redis_error(exc: BaseException) -> str:
    """A short, readable reason for a Redis failure, safe to show anywhere.

    redis-py's messages may quote the command and its arguments (a pipeline's error names
    the ``EVALSHA`` call with its compressed payload) or a server's address; this never
    does: only the kind of failure, from the exception's type or the server's error code.
    """
    if isinstance(exc, rex.OutOfMemoryError):
        return _CODE_MEANINGS["OOM"]
    if isinstance(exc, rex.AuthenticationError):
        return "Redis refused the credentials"
    if isinstance(exc, rex.BusyLoadingError):
        return _CODE_MEANINGS["LOADING"]
    if isinstance(exc, rex.TimeoutError | TimeoutError):
        return "Redis did not answer in time"
    if isinstance(exc, rex.ConnectionError | ConnectionError | OSError):
        return "Redis unreachable"
    if isinstance(exc, rex.NoPermissionError):
        return _CODE_MEANINGS["NOPERM"]
    if isinstance(exc, rex.ReadOnlyError):
        return _CODE_MEANINGS["READONLY"]
    if isinstance(exc, rex.ResponseError):
        text = str(exc.args[0]) if exc.args else ""
        # A pipeline prefixes "Command # n (<the command>) of pipeline caused error: ";
        # errors raised inside a script carry the code of the command that failed.
        text = text.rpartition("of pipeline caused error:")[2]
        if "maxmemory" in text:
            return _CODE_MEANINGS["OOM"]
        # The code leads the server's answer; redis-py moves a known one to status_code.
        first = text.split(maxsplit=1)[0] if text.split() else ""
        code = str(getattr(exc, "status_code", None) or "") or first
        if not _ERROR_CODE.fullmatch(code):
            code = "ERR"
        return _CODE_MEANINGS.get(code, f"Redis refused the command ({code})")
    return f"Redis failed ({type(exc).__name__})"
