"""The commands that run the pipeline: ``service`` (one service in this process) and
``up`` (every service, supervised, on the given Redis or an embedded one)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import redis.asyncio as aredis

from newsflow.commands.errors import CliError, command_settings
from newsflow.commands.session import redis_session
from newsflow.commands.streams import push_inputs
from newsflow.supervisor import SERVICES, Supervisor, default_counts, start_redis
from newsflow.up_state import AlreadyRunning, UpLock, UpState, remove_state, write_state
from shared.redact import redact_url
from shared.settings import Settings


async def _reachable(_args: argparse.Namespace, _settings: Settings, _client: aredis.Redis) -> int:
    """A session that does nothing: ``up`` on a given server proves it can be reached."""
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """Run one service in this process (what ``up`` and container images start)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = command_settings()
    # Import only the service asked for: each loads different models.
    module = importlib.import_module(f"services.{args.name}.app")
    run: Callable[[Settings], None] = module.main
    run(settings)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start the pipeline; with ``--push`` push inputs and print their events."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = command_settings()
    state = Path(args.state_dir)
    lock = UpLock(state)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        raise CliError(
            f"newsflow up is already running in {args.state_dir} (pid {exc.pid or 'unknown'}); "
            "stop it first or use --state-dir"
        ) from None
    try:
        return _up(args, settings, state)
    finally:
        remove_state(state)
        lock.release()


def _up(args: argparse.Namespace, settings: Settings, state: Path) -> int:
    url, embedded = start_redis(args.redis_url or settings.redis_url_value(), state)
    if embedded is None:
        asyncio.run(redis_session(args, settings, url, _reachable))
    counts = default_counts()
    if args.entities_workers:
        counts["entities"] = args.entities_workers
    supervisor = Supervisor(
        redis_url=url,
        log_dir=state / "logs",
        counts=counts,
        metrics_base_port=args.metrics_port,
        http_host=args.http_host,
        http_port=args.http_port,
    )
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"newsflow: redis at {redact_url(url)}" + (" (embedded)" if embedded else ""), flush=True)
    code = 0
    try:
        supervisor.start()
        write_state(
            state,
            UpState.of(
                url,
                embedded=embedded is not None,
                http_host=args.http_host or settings.http_host,
                http_port=settings.http_port if args.http_port is None else args.http_port,
            ),
        )
        print(
            f"newsflow: started {', '.join(f'{counts[s]}x {s}' for s in SERVICES)}; "
            f"logs in {state / 'logs'}",
            flush=True,
        )
        if args.push:
            push_args = argparse.Namespace(
                inputs=args.push, wait=True, timeout=args.timeout, json=args.json
            )
            code = asyncio.run(redis_session(push_args, settings, url, push_inputs))
            if args.once:
                return code
        print("newsflow: running; Ctrl-C stops", flush=True)
        while not stopping:
            supervisor.check()
            time.sleep(0.5)
    finally:
        print("newsflow: stopping", flush=True)
        supervisor.stop()
        if embedded is not None:
            embedded.stop()
    return code
