"""Crowds of event readers on a real server and Redis: producers keep their connections,
every reader gets every event, the cap turns readers away, slow readers are dropped."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import redis

from shared.settings import Settings
from shared.streams import Keys
from tests.factories import enriched_event_json
from tests.http_server import raw_get, read_until, serving

pytestmark = [pytest.mark.redis]

READERS = 200


def _port(base_url: str) -> int:
    port = urlsplit(base_url).port
    assert port is not None
    return port


def _redis_connections(redis_url: str) -> int:
    """This process's open TCP connections to the Redis server."""
    port = urlsplit(redis_url).port or 6379
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


def test_200_idle_readers_leave_producers_and_health_alone(
    settings: Settings, redis_url: str
) -> None:
    stream = Keys(settings.stream_prefix).enriched
    with serving(settings) as base_url:
        port = _port(base_url)
        readers = [raw_get(port, "/events?country=FR") for _ in range(READERS)]
        try:
            for sock in readers:
                head = read_until(sock, b": newsflow enriched events\n\n")
                assert head.startswith(b"HTTP/1.1 200")
            # Every reader shares one reader of the stream, on a small pool of its own.
            assert _redis_connections(redis_url) <= 2 * settings.sse_redis_connections + 4
            with httpx.Client(base_url=base_url, timeout=10) as http:
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                assert time.monotonic() - started < 1.0
                for n in range(20):
                    pushed = http.post("/articles", json={"text": f"Crowd {n}", "id": f"c{n}"})
                    assert pushed.status_code == 202, pushed.text
            # And each of the 200 gets a new event, once, filtered.
            with redis.Redis.from_url(redis_url) as client:
                client.xadd(stream, {"data": enriched_event_json("iq-1", "IQ")})
                client.xadd(stream, {"data": enriched_event_json("fr-1", "FR")})
            for sock in readers:
                message = read_until(sock, b"\n\n", limit=1 << 16)
                assert b"event: enriched" in message
                data = message.split(b"data: ", 1)[1].split(b"\n", 1)[0]
                assert json.loads(data)["id"] == "fr-1"
        finally:
            for sock in readers:
                sock.close()


def test_the_cap_turns_readers_away_until_one_leaves(settings: Settings) -> None:
    capped = settings.model_copy(update={"sse_max_clients": 3})
    with serving(capped) as base_url:
        port = _port(base_url)
        readers = [raw_get(port, "/events") for _ in range(3)]
        for sock in readers:
            assert read_until(sock, b"events\n\n").startswith(b"HTTP/1.1 200")
        refused = httpx.get(f"{base_url}/events", timeout=10)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        readers.pop().close()
        # The server counts the reader out when it sees the socket close.
        deadline = time.monotonic() + 10
        while True:
            sock = raw_get(port, "/events")
            head = read_until(sock, b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 200"):
                break
            sock.close()
            assert time.monotonic() < deadline, "the cap never freed a place"
            time.sleep(0.05)
        readers.append(sock)
        for sock in readers:
            sock.close()


def test_idle_readers_get_keep_alives(settings: Settings) -> None:
    quick = settings.model_copy(update={"sse_keepalive_s": 0.2})
    with serving(quick) as base_url:
        sock = raw_get(_port(base_url), "/events")
        try:
            read_until(sock, b"events\n\n")
            assert b": keep-alive\n\n" in read_until(sock, b": keep-alive\n\n")
        finally:
            sock.close()


def test_a_reader_behind_the_shared_pace_still_gets_every_event_in_order(
    settings: Settings, redis_url: str
) -> None:
    # A queue of 2 overflows on the first batch: the reader goes on from Redis by itself.
    small = settings.model_copy(update={"sse_queue_events": 2})
    stream = Keys(settings.stream_prefix).enriched
    count = 60
    with serving(small) as base_url, httpx.stream("GET", f"{base_url}/events", timeout=30) as sse:
        lines = sse.iter_lines()
        assert next(lines).startswith(": newsflow")
        with redis.Redis.from_url(redis_url) as client:
            pipe = client.pipeline(transaction=False)
            for n in range(count):
                pipe.xadd(stream, {"data": enriched_event_json(f"o{n}", "FR")})
            pipe.execute()
        seen: list[str] = []
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[6:])["id"])
                if len(seen) == count:
                    break
    assert seen == [f"o{n}" for n in range(count)]


def _dropped_slow(base_url: str) -> float:
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith('newsflow_sse_dropped_total{reason="slow"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_reader_that_takes_nothing_is_dropped(settings: Settings, redis_url: str) -> None:
    impatient = settings.model_copy(update={"sse_send_timeout_s": 0.5, "sse_queue_events": 4})
    stream = Keys(settings.stream_prefix).enriched
    event = json.loads(enriched_event_json("big", "FR"))
    big = json.dumps({**event, "padding": "x" * 200_000})
    with serving(impatient) as base_url:
        before = _dropped_slow(base_url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", _port(base_url)))
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            read_until(sock, b"events\n\n")
            with redis.Redis.from_url(redis_url) as client:
                for _ in range(40):  # 8 MB that the reader never reads
                    client.xadd(stream, {"data": big})
            deadline = time.monotonic() + 20
            while _dropped_slow(base_url) < before + 1:
                assert time.monotonic() < deadline, "the slow reader was never dropped"
                time.sleep(0.1)
            # Its connection is closed: what it had not read ends, then EOF.
            sock.settimeout(10)
            while sock.recv(1 << 20):
                pass
        finally:
            sock.close()


def test_a_reader_from_the_past_catches_up_then_follows_live(
    settings: Settings, redis_url: str
) -> None:
    stream = Keys(settings.stream_prefix).enriched
    with redis.Redis.from_url(redis_url) as client:
        old = [client.xadd(stream, {"data": enriched_event_json(f"p{n}", "FR")}) for n in range(3)]
        with serving(settings) as base_url:
            resume = {"Last-Event-ID": old[0].decode()}
            with httpx.stream("GET", f"{base_url}/events", headers=resume, timeout=30) as sse:
                seen: list[str] = []
                for line in sse.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    seen.append(json.loads(line[6:])["id"])
                    if seen == ["p1", "p2"]:  # caught up: what comes next is live
                        client.xadd(stream, {"data": enriched_event_json("live", "FR")})
                    if len(seen) == 3:
                        break
    assert seen == ["p1", "p2", "live"]
