"""The ``newsflow`` command: up, push, tail, status, dead, replay, service, gazetteer,
schemas, eval, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType

import redis.asyncio as aredis

from services.client import (
    describe_event,
    follow_events,
    progress_bar,
    push_articles,
    read_inputs,
    validate_inputs,
    wait_for_events,
)
from services.filters import EventFilter
from services.supervisor import SERVICES, Supervisor, default_counts, start_redis
from shared.redis_client import connect
from shared.settings import Settings, load_settings
from shared.streams import Keys

DEFAULT_STATE_DIR = Path(".newsflow")


def _redis_url(args: argparse.Namespace, settings: Settings) -> str:
    url = getattr(args, "redis_url", None) or settings.redis_url
    if not url:
        sys.exit("newsflow: no Redis: pass --redis-url or set NEWSFLOW_REDIS_URL")
    return str(url)


async def _unreachable_guard(client: aredis.Redis, url: str) -> None:
    try:
        await client.ping()
    except (aredis.ConnectionError, OSError) as exc:
        sys.exit(f"newsflow: cannot reach Redis at {url}: {exc}")


Command = Callable[[argparse.Namespace, Settings, aredis.Redis], Awaitable[int]]


async def _session(args: argparse.Namespace, settings: Settings, url: str, body: Command) -> int:
    """Run one command on a connection: refused plainly when Redis cannot be reached."""
    client = connect(url, cluster=settings.redis_cluster)
    try:
        await _unreachable_guard(client, url)
        return await body(args, settings, client)
    finally:
        await client.aclose()


def _run(args: argparse.Namespace, body: Command) -> int:
    settings = load_settings()
    try:
        return asyncio.run(_session(args, settings, _redis_url(args, settings), body))
    except KeyboardInterrupt:
        return 130


async def _reachable(_args: argparse.Namespace, _settings: Settings, _client: aredis.Redis) -> int:
    return 0


# --- push -----------------------------------------------------------------------------


async def _push(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    articles, rejected = validate_inputs(read_inputs(args.inputs), settings)
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
    from services.client import HTTPPushError, push_over_http, read_api_key

    if args.wait:
        sys.exit("newsflow push: --wait needs Redis; with --http, follow GET /events instead")
    settings = load_settings()
    try:
        key = read_api_key(settings, Path(args.api_key_file) if args.api_key_file else None)
        results, rejected = push_over_http(
            args.http,
            list(read_inputs(args.inputs)),
            api_key=key,
            max_body=settings.http_body_limit(),
        )
    except (HTTPPushError, OSError) as exc:
        sys.exit(f"newsflow push: {exc}")
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
    start = "$" if args.start == "now" else ("0-0" if args.start == "begin" else args.start)
    wanted = EventFilter.of(
        countries=args.country,
        places=args.place,
        entities=args.entity,
        labels=args.label,
        sources=args.source,
    )
    async for _entry_id, event in follow_events(client, Keys(settings.stream_prefix), start=start):
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
        "groups": rows,
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
            f"{row['stream']!s:28} {row['group']!s:12} {row['length']!s:>8} {row['lag']!s:>8} "
            f"{row['pending']!s:>8} {float(row['oldest_pending_age_s']):>7.1f}s"  # type: ignore[arg-type]
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
    from services.dead import list_dead, requeue

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
    from services.replay import replay

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
    # Import only the service asked for: each loads different models.
    module = importlib.import_module(f"services.{args.name}.app")
    run: Callable[[Settings], None] = module.main
    run(load_settings())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start the pipeline; with ``--push`` push inputs and print their events."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    state = Path(args.state_dir)
    url, embedded = start_redis(args.redis_url or settings.redis_url, state)
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
        http_port=args.http_port,
    )
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"newsflow: redis at {url}" + (" (embedded)" if embedded else ""), flush=True)
    supervisor.start()
    print(
        f"newsflow: started {', '.join(f'{counts[s]}x {s}' for s in SERVICES)}; "
        f"logs in {state / 'logs'}",
        flush=True,
    )
    code = 0
    try:
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
        sys.exit("newsflow gazetteer import: --all-countries FILE and --out FILE are required")

    def optional(value: str | None) -> Path | None:
        if value and not Path(value).is_file():
            sys.exit(f"newsflow gazetteer import: no such file: {value}")
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
    from services.bench import describe_report, run_bench

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


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start every service (embedded Redis if no URL)")
    up.add_argument("--redis-url")
    up.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    up.add_argument("--push", nargs="*", help="files or folders to push once up")
    up.add_argument("--once", action="store_true", help="stop after printing the pushed events")
    up.add_argument("--timeout", type=float, default=120.0)
    up.add_argument("--json", action="store_true")
    up.add_argument("--entities-workers", type=int)
    up.add_argument(
        "--metrics-port", type=int, default=9100, help="first metrics port (one per process)"
    )
    up.add_argument("--http-port", type=int, help="ingest HTTP port")
    up.set_defaults(func=cmd_up)

    push = sub.add_parser("push", help="push files, folders, .jsonl or - (stdin)")
    push.add_argument("inputs", nargs="+")
    push.add_argument("--redis-url")
    push.add_argument("--wait", action="store_true", help="print the enriched events")
    push.add_argument("--timeout", type=float, default=120.0)
    push.add_argument("--json", action="store_true")
    push.add_argument("--http", metavar="URL", help="push through ingest's HTTP API at URL")
    push.add_argument(
        "--api-key-file", metavar="FILE", help="the key for --http (else NEWSFLOW_API_KEY)"
    )
    push.set_defaults(func=cmd_push)

    tail = sub.add_parser("tail", help="follow the enriched stream")
    tail.add_argument("--from", dest="start", default="now", help="now, begin, or an entry id")
    tail.add_argument("--count", type=int, default=0)
    tail.add_argument("--json", action="store_true")
    for kind in ("country", "place", "entity", "label", "source"):
        tail.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            help=f"only events with this {kind} (repeatable)",
        )
    tail.add_argument("--redis-url")
    tail.set_defaults(func=cmd_tail)

    status = sub.add_parser("status", help="lag, pending and dead letters per group")
    status.add_argument("--json", action="store_true")
    status.add_argument("--redis-url")
    status.set_defaults(func=cmd_status)

    dead = sub.add_parser("dead", help="list dead letters; --requeue sends them back")
    dead.add_argument("--requeue", action="store_true")
    dead.add_argument("--stage", help="only this stage's letters")
    dead.add_argument("--limit", type=int, default=1000)
    dead.add_argument("--json", action="store_true")
    dead.add_argument("--redis-url")
    dead.set_defaults(func=cmd_dead)

    replay = sub.add_parser("replay", help="enrich a range of accepted articles again")
    replay.add_argument("--from", dest="start", default="-", help="entry id, ISO time or -")
    replay.add_argument("--to", dest="end", default="+", help="entry id, ISO time or +")
    replay.add_argument("--limit", type=int, default=10_000)
    replay.add_argument("--wait", action="store_true", help="print the new events")
    replay.add_argument("--timeout", type=float, default=300.0)
    replay.add_argument("--redis-url")
    replay.set_defaults(func=cmd_replay)

    service = sub.add_parser("service", help="run one service in this process")
    service.add_argument("name", choices=SERVICES)
    service.set_defaults(func=cmd_service)

    gazetteer = sub.add_parser(
        "gazetteer", help="gazetteer index: build it from the packaged data, or import GeoNames"
    )
    gazetteer.add_argument("action", choices=["build", "import"])
    gazetteer.add_argument("--out", metavar="FILE", help="the index file (required to import)")
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
    schemas.add_argument("--out", default="docs/api")
    schemas.set_defaults(func=cmd_schemas)

    evaluate = sub.add_parser("eval", help="score a stage on evaluation data")
    evaluate.add_argument("task", choices=["ner", "geo", "summary"])
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--limit", type=int)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="throughput, latency and memory against the models")
    bench.add_argument("--articles", type=int, default=500, help="articles per phase")
    bench.add_argument(
        "--data", help="a .jsonl/.json/.txt file or folder (default: the evaluation sets)"
    )
    bench.add_argument(
        "--redis-url", help="use this server (own prefix) instead of a fresh embedded one"
    )
    bench.add_argument("--workers", type=int, help="entities processes (default: one per core)")
    bench.add_argument("--json", action="store_true")
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
    sys.exit(args.func(args))
