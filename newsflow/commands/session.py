"""A command's session on Redis: which server (``--redis-url``, NEWSFLOW_REDIS_URL or the
running ``up``), connected and pinged, each failure one :class:`CliError` line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aredis
from redis import exceptions as redis_errors

from newsflow.commands.errors import CliError, command_settings
from newsflow.up_state import find_running
from shared.redact import redact_url
from shared.redis_client import connect
from shared.settings import Settings

DEFAULT_STATE_DIR = Path(".newsflow")


def resolve_redis_url(args: argparse.Namespace, settings: Settings) -> str:
    """--redis-url, else NEWSFLOW_REDIS_URL, else the server of the ``up`` running in
    --state-dir."""
    url = getattr(args, "redis_url", None) or settings.redis_url_value()
    if url:
        return str(url)
    state_dir = getattr(args, "state_dir", str(DEFAULT_STATE_DIR))
    running = find_running(Path(state_dir))
    if running is None:
        raise CliError(
            f"no Redis: no newsflow up is running in {state_dir}; start one "
            "(or pass --state-dir of one), pass --redis-url or set NEWSFLOW_REDIS_URL"
        )
    if not running.complete:
        raise CliError(
            f"newsflow up in {state_dir} (pid {running.pid}) uses {running.redis_url}, whose "
            "password is not stored: pass --redis-url or set NEWSFLOW_REDIS_URL"
        )
    return running.redis_url


def _connect(url: str, settings: Settings) -> aredis.Redis:
    try:
        return connect(url, cluster=settings.redis_cluster)
    except ValueError as exc:  # redis-py parsing the URL: a bad port, say
        raise CliError(f"bad Redis URL {redact_url(url)}: {exc}") from None


async def _unreachable_guard(client: aredis.Redis, url: str) -> None:
    try:
        await client.ping()
    except redis_errors.AuthenticationError as exc:
        raise CliError(f"Redis at {redact_url(url)} refused the credentials ({exc})") from None
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise CliError(f"cannot reach Redis at {redact_url(url)}: {exc}") from None


#: The body of a command on Redis: its arguments, the settings and a connected client.
Command = Callable[[argparse.Namespace, Settings, aredis.Redis], Awaitable[int]]


async def redis_session(
    args: argparse.Namespace, settings: Settings, url: str, body: Command
) -> int:
    """Run one command on a connection: refused plainly when Redis cannot be reached."""
    client = _connect(url, settings)
    try:
        await _unreachable_guard(client, url)
        try:
            return await body(args, settings, client)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise CliError(f"lost Redis at {redact_url(url)}: {exc}") from None
    finally:
        await client.aclose()


def run_on_redis(args: argparse.Namespace, body: Command) -> int:
    """Run ``body`` on the Redis the arguments point to; Ctrl-C is exit code 130."""
    settings = command_settings()
    try:
        return asyncio.run(redis_session(args, settings, resolve_redis_url(args, settings), body))
    except KeyboardInterrupt:
        return 130
