"""Damage a running pipeline the way the reliability tests do, and say what came out.

Run beside a ``newsflow up`` (the Redis URL comes from --redis-url, NEWSFLOW_REDIS_URL
or the state folder of the running up, as for every newsflow command):

    .venv/bin/python tools/damage.py burst 3000            # XADD a burst, count the outcome
    .venv/bin/python tools/damage.py pause geocoder 90     # SIGSTOP a service, then SIGCONT
    .venv/bin/python tools/damage.py kill entities         # SIGKILL a service's processes
    .venv/bin/python tools/damage.py crowd 200 --http http://127.0.0.1:8080
                                 # idle SSE clients while pushing (key: NEWSFLOW_API_KEY)

Slow texts have their own script: ``tools/slow_texts.py``. Every loop here is bounded in
count and time, and it talks only to the addresses it is given.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import redis

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "samples" / "000_94083e9d46d5205f.txt"


def _articles(count: int, tag: str) -> list[dict[str, str]]:
    paragraphs = SAMPLE.read_text().splitlines()
    return [
        {"id": f"{tag}-{n:05d}", "text": "\n".join(paragraphs[n % 20 :] + paragraphs[: n % 20])}
        for n in range(count)
    ]


def _redis(args: argparse.Namespace) -> tuple[redis.Redis, str]:
    from newsflow.commands.session import resolve_redis_url
    from shared.settings import load_settings

    settings = load_settings()
    return redis.Redis.from_url(resolve_redis_url(args, settings)), settings.stream_prefix


def burst(args: argparse.Namespace) -> int:
    """XADD ``count`` articles at once; wait for their events; report partial, lost and
    duplicated (newest revision per article)."""
    client, prefix = _redis(args)
    tag = f"burst{int(time.time())}"
    articles = _articles(args.count, tag)
    last: Any = client.xrevrange(f"{prefix}:enriched", count=1)
    start_id = last[0][0].decode() if last else "0-0"
    started = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for article in articles:
        pipe.xadd(f"{prefix}:articles", {"data": json.dumps(article)})
    pipe.execute()
    newest: dict[str, Any] = {}
    revisions: Counter[tuple[str, int]] = Counter()
    deadline = time.monotonic() + args.timeout
    while len(newest) < args.count and time.monotonic() < deadline:
        reply: Any = client.xread({f"{prefix}:enriched": start_id}, count=500, block=1000)
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                start_id = entry_id.decode()
                event = json.loads(fields[b"data"])
                if not str(event["id"]).startswith(tag):
                    continue
                revision = int(event["article"]["revision"])
                revisions[(event["id"], revision)] += 1
                held = newest.get(event["id"])
                if held is None or revision > int(held["article"]["revision"]):
                    newest[event["id"]] = event
    report = {
        "articles": args.count,
        "seconds": round(time.monotonic() - started, 1),
        "partial": sum(1 for e in newest.values() if e["partial"]),
        "lost": args.count - len(newest),
        "duplicated": sum(n - 1 for n in revisions.values()),
    }
    print(json.dumps(report))
    return 0 if report["partial"] == report["lost"] == report["duplicated"] == 0 else 1


def _processes(service: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline[-2:] == ["service", service]:
            found.append(process)
    return found


def pause(args: argparse.Namespace) -> int:
    """SIGSTOP every process of a service for ``seconds``, then SIGCONT them."""
    processes = _processes(args.service)
    if not processes:
        sys.exit(f"damage: no running {args.service} process")
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    print(f"paused {len(processes)} {args.service} process(es) for {args.seconds:g} s")
    try:
        time.sleep(args.seconds)
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
    print("resumed")
    return 0


def kill(args: argparse.Namespace) -> int:
    """SIGKILL every process of a service (``newsflow up`` starts them again)."""
    processes = _processes(args.service)
    for process in processes:
        process.kill()
    print(f"killed {len(processes)} {args.service} process(es)")
    return 0 if processes else 1


def crowd(args: argparse.Namespace) -> int:
    """Hold ``clients`` idle SSE connections to ingest while pushing articles over HTTP;
    report how many pushes were accepted and what /healthz answered."""
    parts = urlsplit(args.http)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    api_key = os.environ.get("NEWSFLOW_API_KEY")  # never on the command line
    key = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sockets = []
    for _ in range(args.clients):
        conn = socket.create_connection((host, port), timeout=10)
        auth = "".join(f"{k}: {v}\r\n" for k, v in key.items())
        conn.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode())
        sockets.append(conn)
    statuses: Counter[int] = Counter()
    health: Counter[int] = Counter()
    try:
        for article in _articles(args.pushes, f"crowd{int(time.time())}"):
            request = urllib.request.Request(  # noqa: S310 - the address the user gave
                f"{args.http}/articles",
                data=json.dumps(article).encode(),
                headers={"content-type": "application/json", **key},
            )
            statuses[_status(request)] += 1
            health[_status(urllib.request.Request(f"{args.http}/healthz"))] += 1  # noqa: S310
    finally:
        for conn in sockets:
            conn.close()
    print(json.dumps({"clients": args.clients, "pushes": dict(statuses), "healthz": dict(health)}))
    return 0 if set(statuses) == {202} and set(health) == {200} else 1


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def main() -> int:
    """Parse and run one kind of damage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="else NEWSFLOW_REDIS_URL, else the running up's")
    parser.add_argument("--state-dir", default=".newsflow", help="the running up's folder")
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("burst", help="XADD a burst and count partial, lost, duplicated")
    one.add_argument("count", type=int)
    one.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait at most")
    one.set_defaults(run=burst)
    one = sub.add_parser("pause", help="SIGSTOP a service, SIGCONT it later")
    one.add_argument("service")
    one.add_argument("seconds", type=float)
    one.set_defaults(run=pause)
    one = sub.add_parser("kill", help="SIGKILL a service's processes")
    one.add_argument("service")
    one.set_defaults(run=kill)
    one = sub.add_parser("crowd", help="idle SSE clients while pushing over HTTP")
    one.add_argument("clients", type=int)
    one.add_argument("--http", default="http://127.0.0.1:8080", help="ingest's address")
    one.add_argument("--pushes", type=int, default=20, help="articles pushed meanwhile")
    one.set_defaults(run=crowd)
    args = parser.parse_args()
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
