"""Hostile bodies on a real server: an endless chunked body gets its 413 at the limit,
and a huge HTML page is extracted while /healthz keeps answering."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from services.ingest.admit import request_limit
from shared.settings import Settings
from tests.http_server import read_until, serving

pytestmark = [pytest.mark.redis]


def test_a_chunked_body_past_the_limit_gets_413_before_it_ends(settings: Settings) -> None:
    small = settings.model_copy(update={"max_payload_bytes": 4096})
    limit = request_limit(small)
    with serving(small) as base_url:
        port = urlsplit(base_url).port
        assert port is not None
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(
                b"POST /articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"a" * 4096
            sent = 0
            sock.settimeout(0.05)
            answer = b""
            # Keep sending (never the last chunk) until the server answers.
            while b"\r\n\r\n" not in answer:
                assert sent < 50 * limit, "no answer: the server reads the whole body"
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                    answer += sock.recv(65536)
                except (TimeoutError, BlockingIOError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
            sock.settimeout(10)
            answer = answer if b"\r\n\r\n" in answer else read_until(sock, b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        finally:
            sock.close()


def _big_page(size: int) -> str:
    paragraph = (
        "<p>The council of Lyon met on Tuesday to discuss the floods along the Rhone, "
        "and the mayor promised new dikes before the winter storms.</p>\n"
    )
    body = paragraph * (size // len(paragraph))
    return f"<html><head><title>Floods</title></head><body><article>{body}</article></body></html>"


def test_health_answers_while_a_huge_page_is_extracted(settings: Settings) -> None:
    roomy = settings.model_copy(
        update={"max_payload_bytes": 10_000_000, "max_text_chars": 10_000_000}
    )
    page = _big_page(7_000_000)
    with serving(roomy) as base_url, httpx.Client(base_url=base_url, timeout=120) as http:
        # The workers start (and load trafilatura) on the first page: not what is measured.
        warm = http.post("/articles", json={"html": _big_page(2000), "id": "warm"})
        assert warm.status_code == 202, warm.text
        outcome: list[httpx.Response] = []
        poster = threading.Thread(
            target=lambda: outcome.append(http.post("/articles", json={"html": page, "id": "big"}))
        )
        poster.start()
        worst, probes = 0.0, 0
        with httpx.Client(base_url=base_url, timeout=10) as probe:
            while poster.is_alive():
                started = time.monotonic()
                assert probe.get("/healthz").status_code == 200
                worst = max(worst, time.monotonic() - started)
                probes += 1
                time.sleep(0.05)
        poster.join()
        assert outcome[0].status_code == 202, outcome[0].text[:300]
        assert probes >= 5, "the page was extracted too fast to measure anything"
        print(f"healthz during a 7 MB page: {probes} probes, worst {worst * 1000:.0f} ms")
        assert worst < 0.5, f"/healthz took {worst:.2f}s during the extraction"


def test_a_page_over_the_extraction_timeout_is_refused(settings: Settings) -> None:
    hasty = settings.model_copy(
        update={
            "max_payload_bytes": 10_000_000,
            "max_text_chars": 10_000_000,
            "html_timeout_s": 0.3,
        }
    )
    with serving(hasty) as base_url, httpx.Client(base_url=base_url, timeout=60) as http:
        slow = http.post("/articles", json={"html": _big_page(5_000_000), "id": "slow"})
        assert slow.status_code == 422
        assert "took over 0.3 s" in slow.text
        # The stuck worker was killed; the next page gets a fresh one.
        small = http.post("/articles", json={"html": _big_page(3000), "id": "small"})
        assert small.status_code == 202, small.text
