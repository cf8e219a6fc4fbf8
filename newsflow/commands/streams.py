"""The commands on the streams: push, tail, status, dead (letters) and replay."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import redis.asyncio as aredis

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
from newsflow.commands.errors import CliError, command_settings
from newsflow.commands.session import run_on_redis
from services.ingest.admit import request_limit
from shared.filters import EventFilter
from shared.schemas import Article
from shared.settings import Settings
from shared.streams import Keys
from shared.worker import InvalidInput


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


async def push_inputs(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    """Push ``args.inputs`` on ``client``; with ``args.wait`` print their enriched events."""
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
    settings = command_settings()
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
    return run_on_redis(args, push_inputs)


# --- tail -----------------------------------------------------------------------------


async def _tail(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    shown = 0
    wanted = EventFilter.of(
        countries=args.country,
        places=args.place,
        entities=args.entity,
        labels=args.label,
        sources=args.source,
        stories=args.story,
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
    return run_on_redis(args, _tail)


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
    return run_on_redis(args, _status)


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
    return run_on_redis(args, _dead)


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
    return run_on_redis(args, _replay)
