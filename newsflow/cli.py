"""The ``newsflow`` command: up, push, tail, status, dead, replay, service, gazetteer,
schemas, eval, bench."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import redis.asyncio as aredis
from pydantic import ValidationError
from redis import exceptions as redis_errors

from newsflow.client import (
    Rejected,
    describe_event,
    follow_events,
    progress_bar,
    push_articles,
    read_inputs,
    validate_inputs,
    wait_for_events,
)
from newsflow.replay import stream_position
from newsflow.supervisor import SERVICES, Supervisor, default_counts, start_redis
from newsflow.up_state import (
    AlreadyRunning,
    UpLock,
    UpState,
    find_running,
    remove_state,
    write_state,
)
from services.ingest.admit import request_limit
from shared.filters import EventFilter
from shared.redact import redact_text, redact_url, url_secrets
from shared.redis_client import connect
from shared.schemas import Article
from shared.settings import Settings, check_redis_url, load_settings
from shared.streams import Keys
from shared.worker import InvalidInput

DEFAULT_STATE_DIR = Path(".newsflow")

#: Exit codes: a mistake in what was asked (or a server that cannot be used), and a bug.
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class CliError(Exception):
    """A mistake of the user's or of the environment, said in one line per problem (no
    traceback); the command exits with :data:`EXIT_USAGE`."""


def setting_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, naming its variable and never quoting its value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = f"NEWSFLOW_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
        lines.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def _load_settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        raise CliError("\n".join(setting_errors(exc))) from None


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


Command = Callable[[argparse.Namespace, Settings, aredis.Redis], Awaitable[int]]


async def _session(args: argparse.Namespace, settings: Settings, url: str, body: Command) -> int:
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


def _run(args: argparse.Namespace, body: Command) -> int:
    settings = _load_settings()
    try:
        return asyncio.run(_session(args, settings, resolve_redis_url(args, settings), body))
    except KeyboardInterrupt:
        return 130


async def _reachable(_args: argparse.Namespace, _settings: Settings, _client: aredis.Redis) -> int:
    return 0


def _read_articles(targets: list[str], settings: Settings) -> tuple[list[Article], list[Rejected]]:
    try:
        return validate_inputs(read_inputs(targets), settings)
    except OSError as exc:
        raise CliError(
            f"cannot read {exc.filename or 'the inputs'}: {exc.strerror or exc}"
        ) from None
    except RecursionError:
        raise CliError("an input is nested too deeply to read") from None


# --- push -----------------------------------------------------------------------------


async def _push(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    articles, rejected = _read_articles(args.inputs, settings)
    for item in rejected:
        print(f"rejected {item.origin}: {item.reason}", file=sys.stderr)
    results = await push_articles(
        client,
        settings,
        articles,
        progress=progress_bar("pushing") if len(articles) > 100 else None,
    )
    for result in results:
        print(f"{result.status} {result.id}")
    if args.wait and results:
        keys = Keys(settings.stream_prefix)
        events = await wait_for_events(
            client, keys, [r.id for r in results], timeout_s=args.timeout
        )
        for result in results:
            event = events.get(result.id)
            if event is None:
                print(f"timeout: no enriched event for {result.id}", file=sys.stderr)
                continue
            if not args.json:
                print(describe_event(event.model_dump(mode="json")))
            print(event.model_dump_json(indent=2))
        if len(events) < len({r.id for r in results}):
            return 3
    return 1 if rejected else 0


def _push_http(args: argparse.Namespace) -> int:
    """``push --http URL``: through ingest's HTTP API, with the key of NEWSFLOW_API_KEY or
    ``--api-key-file`` (never one on the command line)."""
    from newsflow.client import HTTPPushError, push_over_http, read_api_key

    if args.wait:
        sys.exit("newsflow push: --wait needs Redis; with --http, follow GET /events instead")
    settings = _load_settings()
    try:
        key = read_api_key(settings, Path(args.api_key_file) if args.api_key_file else None)
        inputs, unreadable = [], []
        for origin, payload in read_inputs(args.inputs):
            if isinstance(payload, InvalidInput):  # not UTF-8, say: refused as at every door
                unreadable.append(Rejected(origin, str(payload)))
            else:
                inputs.append((origin, payload))
        results, rejected = push_over_http(
            args.http, inputs, api_key=key, max_body=request_limit(settings)
        )
    except (HTTPPushError, OSError) as exc:
        sys.exit(f"newsflow push: {exc}")
    rejected = unreadable + rejected
    for item in rejected:
        print(f"rejected {item.origin}: {item.reason}", file=sys.stderr)
    for result in results:
        print(f"{result.status} {result.id}")
    return 1 if rejected else 0


def cmd_push(args: argparse.Namespace) -> int:
    """Push files, folders, JSONL or stdin; optionally wait for the enriched events."""
    if args.http:
        return _push_http(args)
    return _run(args, _push)


# --- tail -----------------------------------------------------------------------------


async def _tail(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    shown = 0
    wanted = EventFilter.of(
        countries=args.country,
        places=args.place,
        entities=args.entity,
        labels=args.label,
        sources=args.source,
    )
    async for _entry_id, event in follow_events(
        client, Keys(settings.stream_prefix), start=args.start
    ):
        if not wanted.matches(event):
            continue
        print(json.dumps(event) if args.json else describe_event(event), flush=True)
        shown += 1
        if args.count and shown >= args.count:
            break
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    """Follow the enriched stream."""
    return _run(args, _tail)


# --- status ---------------------------------------------------------------------------


async def _status(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    from services.aggregator.monitor import group_stats

    keys = Keys(settings.stream_prefix)
    rows = await group_stats(client, keys)
    report = {
        "groups": [dataclasses.asdict(row) for row in rows],
        "enriched": int(await client.xlen(keys.enriched)),
        "dead_letters": int(await client.xlen(keys.dead)),
        "merges_open": int(await client.zcard(keys.merge_deadlines)),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'stream':28} {'group':12} {'length':>8} {'lag':>8} {'pending':>8} {'oldest':>8}")
    for row in rows:
        print(
            f"{row.stream:28} {row.group:12} {row.length:>8} {row.lag:>8} "
            f"{row.pending:>8} {row.oldest_pending_age_s:>7.1f}s"
        )
    print(
        f"enriched events: {report['enriched']}   dead letters: {report['dead_letters']}   "
        f"merges open: {report['merges_open']}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Lag, pending and dead letters per group."""
    return _run(args, _status)


# --- dead letters ---------------------------------------------------------------------


async def _dead(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    from newsflow.dead import list_dead, requeue

    keys = Keys(settings.stream_prefix)
    letters = await list_dead(client, keys, stage=args.stage, limit=args.limit)
    for stored in letters:
        letter = stored.letter
        if args.requeue:
            new_id = await requeue(client, keys, stored)
            print(f"requeued {stored.entry_id} -> {letter.source_stream} {new_id}")
        elif args.json:
            print(json.dumps({"entry_id": stored.entry_id, **letter.model_dump(mode="json")}))
        else:
            print(
                f"{stored.entry_id}  {letter.stage:10} {letter.error_type:16} "
                f"{letter.article_id or '-':28} {letter.reason}"
            )
    if not letters and not args.json:
        print("no dead letters")
    return 0


def cmd_dead(args: argparse.Namespace) -> int:
    """List dead letters, or send them back with ``--requeue``."""
    return _run(args, _dead)


# --- replay ---------------------------------------------------------------------------


async def _replay(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    from newsflow.replay import replay

    keys = Keys(settings.stream_prefix)
    replayed = await replay(
        client,
        keys,
        start=args.start,
        end=args.end,
        limit=args.limit,
        progress=progress_bar("replaying"),
    )
    for item in replayed:
        print(f"replayed {item.id} as revision {item.revision}")
    if not replayed:
        print("nothing to replay in that range (only retained articles can be replayed)")
    if args.wait and replayed:
        events = await wait_for_events(
            client,
            keys,
            [r.id for r in replayed],
            timeout_s=args.timeout,
            revisions={r.id: r.revision for r in replayed},
        )
        for event in events.values():
            print(describe_event(event.model_dump(mode="json")))
        if len(events) < len(replayed):
            return 3
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Enrich a range of accepted articles again, as new revisions."""
    return _run(args, _replay)


# --- service and up -------------------------------------------------------------------


def cmd_service(args: argparse.Namespace) -> int:
    """Run one service in this process (what ``up`` and container images start)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = _load_settings()
    # Import only the service asked for: each loads different models.
    module = importlib.import_module(f"services.{args.name}.app")
    run: Callable[[Settings], None] = module.main
    run(settings)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start the pipeline; with ``--push`` push inputs and print their events."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _load_settings()
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
        asyncio.run(_session(args, settings, url, _reachable))
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
            code = asyncio.run(_session(push_args, settings, url, _push))
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


# --- gazetteer and eval ---------------------------------------------------------------


def cmd_gazetteer(args: argparse.Namespace) -> int:
    """Build the gazetteer index from the packaged data, or import a GeoNames dump."""
    if args.action == "import":
        return _import_gazetteer(args)
    from services.geocoder.gazetteer import build_gazetteer, default_gazetteer_path

    out = Path(args.out) if args.out else default_gazetteer_path()
    info = build_gazetteer(out)
    print(f"gazetteer written to {out}: {info}")
    return 0


def _import_gazetteer(args: argparse.Namespace) -> int:
    from services.geocoder.geonames_import import import_geonames

    if not args.all_countries or not args.out:
        raise CliError("gazetteer import: --all-countries FILE and --out FILE are required")

    def optional(value: str | None) -> Path | None:
        if value and not Path(value).is_file():
            raise CliError(f"gazetteer import: no such file: {value}")
        return Path(value) if value else None

    info = import_geonames(
        optional(args.all_countries) or Path(args.all_countries),
        optional(args.alternate_names),
        optional(args.admin1),
        optional(args.admin2),
        optional(args.country_info),
        Path(args.out),
        min_population=args.min_population,
    )
    print(f"gazetteer imported to {info.path}: {info}")
    print(f"point the services at it: NEWSFLOW_GAZETTEER_PATH={info.path.resolve()}")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas and the AsyncAPI document of the messages."""
    from shared.contract import write_documents

    for path in write_documents(Path(args.out)):
        print(f"wrote {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a stage on an evaluation set; the last line of ``--json`` is one JSON object."""
    if args.task == "ner":
        from services.entities.evaluate import evaluate_ner

        result = evaluate_ner(args.data, limit=args.limit)
    elif args.task == "geo":
        from services.geocoder.evaluate import evaluate_geo

        result = evaluate_geo(args.data, limit=args.limit)
    else:
        from services.summarizer.evaluate import evaluate_summaries

        result = evaluate_summaries(args.data, limit=args.limit)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure the pipeline against the bare cost of its models; the last line of
    ``--json`` is one JSON object."""
    from newsflow.bench import describe_report, run_bench

    # Progress goes to stderr, so that stdout holds only the report.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    report = run_bench(
        args.articles,
        data=Path(args.data) if args.data else None,
        redis_url=args.redis_url,
        workers=args.workers,
    )
    print(json.dumps(report) if args.json else describe_report(report))
    return 0


#: What ``tail --from`` takes besides an entry id, and the XREAD id each stands for.
TAIL_STARTS = {"now": "$", "begin": "0-0"}
_ENTRY_ID = re.compile(r"\d+(-\d+)?")


def tail_start(value: str) -> str:
    """The XREAD id ``tail --from VALUE`` starts after: ``now``, ``begin`` or an entry id."""
    if value in TAIL_STARTS:
        return TAIL_STARTS[value]
    if _ENTRY_ID.fullmatch(value):
        return value
    raise argparse.ArgumentTypeError(
        "takes now, begin or an entry id (1700000000000-0 or 1700000000000)"
    )


def replay_position(value: str) -> str:
    """``value`` if ``replay --from/--to`` can use it: an entry id, an ISO 8601 time, - or +."""
    try:
        position = stream_position(value)
    except (ValueError, OverflowError):
        position = ""
    # A time before 1970 would be a negative id, which Redis refuses.
    if position in ("-", "+") or _ENTRY_ID.fullmatch(position):
        return value
    raise argparse.ArgumentTypeError(
        "takes an entry id (1700000000000-0), an ISO 8601 time after 1970 "
        "(2026-11-25T09:00:00Z; without an offset it is UTC), - (the first) or + (the last)"
    )


def existing_path(value: str) -> str:
    """``value`` if it names a file or folder."""
    if not Path(value).exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return value


def input_path(value: str) -> str:
    """A ``push`` input: ``-`` (stdin) or an existing file or folder, checked before
    anything connects or starts."""
    return value if value == "-" else existing_path(value)


def redis_url_option(value: str) -> str:
    """``--redis-url VALUE``, refused (without repeating it: it may hold a password)
    unless its scheme is one newsflow connects with."""
    try:
        return check_redis_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown in the help, except the empty ones (unset, off, none)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Help with defaults; a usage mistake is one line (with any URL in it redacted)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print the mistake on one line and exit with :data:`EXIT_USAGE`."""
        self.exit(EXIT_USAGE, f"{self.prog}: {redact_text(message)} (see {self.prog} --help)\n")


def _server_options(parser: argparse.ArgumentParser) -> None:
    """How a command finds its Redis: --redis-url, NEWSFLOW_REDIS_URL, or a running up."""
    parser.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="Redis to use (default: NEWSFLOW_REDIS_URL, else the server of the newsflow up "
        "running in --state-dir)",
    )
    parser.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="state folder of the newsflow up whose server to use when no URL is given",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog="newsflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="start every service (embedded Redis if no URL)",
        description="Start every service as supervised processes (restarted if they die), "
        "on the given Redis or an embedded one; SIGTERM or Ctrl-C stops them. The other "
        "commands, run in the same folder, find this pipeline's server by themselves.",
    )
    up.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="Redis to use (default: NEWSFLOW_REDIS_URL, else an embedded server in --state-dir)",
    )
    up.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="logs, the embedded server's data and up.json (where the other commands find "
        "this pipeline); one up per folder",
    )
    up.add_argument("--push", nargs="*", type=input_path, help="files or folders to push once up")
    up.add_argument("--once", action="store_true", help="stop after printing the pushed events")
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the pushed events"
    )
    up.add_argument("--json", action="store_true", help="print the pushed events as JSON only")
    up.add_argument(
        "--entities-workers", type=int, help="entities processes (default: one per core)"
    )
    up.add_argument(
        "--metrics-port", type=int, default=9100, help="first metrics port (one per process)"
    )
    up.add_argument(
        "--http-host", help="ingest HTTP address (default: NEWSFLOW_HTTP_HOST, else 127.0.0.1)"
    )
    up.add_argument(
        "--http-port", type=int, help="ingest HTTP port (default: NEWSFLOW_HTTP_PORT, else 8080)"
    )
    up.set_defaults(func=cmd_up)

    push = sub.add_parser("push", help="push files, folders, .jsonl or - (stdin)")
    push.add_argument(
        "inputs", nargs="+", type=input_path, help="files, folders (recursively), .jsonl or -"
    )
    _server_options(push)
    push.add_argument("--wait", action="store_true", help="print the enriched events")
    push.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")
    push.add_argument("--json", action="store_true", help="print the events as JSON only")
    push.add_argument("--http", metavar="URL", help="push through ingest's HTTP API at URL")
    push.add_argument(
        "--api-key-file", metavar="FILE", help="the key for --http (else NEWSFLOW_API_KEY)"
    )
    push.set_defaults(func=cmd_push)

    tail = sub.add_parser("tail", help="follow the enriched stream")
    tail.add_argument(
        "--from",
        dest="start",
        type=tail_start,
        default="now",
        help="now, begin, or an entry id (after which to start)",
    )
    tail.add_argument("--count", type=int, default=0, help="stop after so many events (0: never)")
    tail.add_argument("--json", action="store_true", help="print events as JSON lines")
    for kind in ("country", "place", "entity", "label", "source"):
        tail.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            help=f"only events with this {kind} (repeatable)",
        )
    _server_options(tail)
    tail.set_defaults(func=cmd_tail)

    status = sub.add_parser("status", help="lag, pending and dead letters per group")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    _server_options(status)
    status.set_defaults(func=cmd_status)

    dead = sub.add_parser("dead", help="list dead letters; --requeue sends them back")
    dead.add_argument(
        "--requeue", action="store_true", help="send the letters back to their stream"
    )
    dead.add_argument("--stage", help="only this stage's letters")
    dead.add_argument("--limit", type=int, default=1000, help="at most so many letters")
    dead.add_argument("--json", action="store_true", help="print letters as JSON lines")
    _server_options(dead)
    dead.set_defaults(func=cmd_dead)

    replay = sub.add_parser("replay", help="enrich a range of accepted articles again")
    replay.add_argument(
        "--from",
        dest="start",
        type=replay_position,
        default="-",
        help="entry id, ISO 8601 time or - (the first)",
    )
    replay.add_argument(
        "--to",
        dest="end",
        type=replay_position,
        default="+",
        help="entry id, ISO 8601 time or + (the last)",
    )
    replay.add_argument("--limit", type=int, default=10_000, help="at most so many articles")
    replay.add_argument("--wait", action="store_true", help="print the new events")
    replay.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits")
    _server_options(replay)
    replay.set_defaults(func=cmd_replay)

    service = sub.add_parser("service", help="run one service in this process")
    service.add_argument("name", choices=SERVICES, help="the service")
    # A service's log is read by whoever operates it: a crash there keeps its traceback.
    service.set_defaults(func=cmd_service, tracebacks=True)

    gazetteer = sub.add_parser(
        "gazetteer", help="gazetteer index: build it from the packaged data, or import GeoNames"
    )
    gazetteer.add_argument(
        "action", choices=["build", "import"], help="build the packaged index, or import"
    )
    gazetteer.add_argument(
        "--out",
        metavar="FILE",
        help="the index file (required to import; build default: the packaged location)",
    )
    gazetteer.add_argument(
        "--all-countries", metavar="FILE", help="GeoNames allCountries.txt (or cities500.txt ...)"
    )
    gazetteer.add_argument("--alternate-names", metavar="FILE", help="alternateNamesV2.txt")
    gazetteer.add_argument("--admin1", metavar="FILE", help="admin1CodesASCII.txt")
    gazetteer.add_argument("--admin2", metavar="FILE", help="admin2Codes.txt")
    gazetteer.add_argument("--country-info", metavar="FILE", help="countryInfo.txt")
    gazetteer.add_argument(
        "--min-population",
        type=int,
        default=500,
        metavar="N",
        help="import: smallest populated place kept; seats always are (0: every one)",
    )
    gazetteer.set_defaults(func=cmd_gazetteer)

    schemas = sub.add_parser("schemas", help="write JSON Schema and AsyncAPI documents")
    schemas.add_argument("--out", default="docs/api", help="folder to write them to")
    schemas.set_defaults(func=cmd_schemas)

    evaluate = sub.add_parser("eval", help="score a stage on evaluation data")
    evaluate.add_argument("task", choices=["ner", "geo", "summary"], help="the stage to score")
    evaluate.add_argument(
        "--data", required=True, type=existing_path, help="the evaluation data file or folder"
    )
    evaluate.add_argument("--limit", type=int, help="score only the first so many documents")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="throughput, latency and memory against the models")
    bench.add_argument("--articles", type=int, default=500, help="articles per phase")
    bench.add_argument(
        "--data",
        type=existing_path,
        help="a .jsonl/.json/.txt file or folder (default: the evaluation sets)",
    )
    bench.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="use this server (own prefix) instead of a fresh embedded one",
    )
    bench.add_argument("--workers", type=int, help="entities processes (default: one per core)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=cmd_bench)
    return parser


#: Environment variables that set the thread pools of numpy's BLAS (OpenBLAS, MKL, OpenMP).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``newsflow`` command."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # One thread per process for numpy's BLAS: the pipeline runs a process per core, and
    # BLAS threads spinning beside them cost the summarizer a third more CPU (bench). Set
    # before numpy loads, which no import of this module does (tests/unit/test_cli_env.py).
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    args = build_parser().parse_args(argv)
    sys.exit(run_command(args))


def _known_secrets(args: argparse.Namespace) -> list[str]:
    urls = [getattr(args, "redis_url", None), os.environ.get("NEWSFLOW_REDIS_URL")]
    return [secret for url in urls if url for secret in url_secrets(url)]


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command. A :class:`CliError` is one line per problem and exit code
    2; any other exception (a bug) is one line too and code 70, the traceback only with
    ``NEWSFLOW_DEBUG=1`` (or for ``service``, whose output is a log). Whatever is printed
    has the Redis passwords in sight hidden."""
    secrets = _known_secrets(args)
    try:
        return int(args.func(args))
    except CliError as exc:
        for line in str(exc).splitlines():
            print(f"newsflow: {redact_text(line, secrets)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: no traceback by default
        if os.environ.get("NEWSFLOW_DEBUG") == "1" or getattr(args, "tracebacks", False):
            text = "".join(traceback.format_exception(exc))
            print(redact_text(text, secrets), file=sys.stderr, end="")
        else:
            message = redact_text(f"{type(exc).__name__}: {exc}", secrets)
            print(
                f"newsflow: internal error: {message} (set NEWSFLOW_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL
