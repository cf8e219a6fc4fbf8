"""Ingest's HTTP API served for real (uvicorn on a free port, in a thread) for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from services.ingest.app import create_http_app, server_config
from shared.settings import Settings
from tests.servers import free_port


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app on 127.0.0.1, configured as ``newsflow service ingest`` does; yields its
    base URL (https:// when the settings name a certificate)."""
    port = free_port()
    settings = settings.model_copy(update={"http_host": "127.0.0.1", "http_port": port})
    server = uvicorn.Server(server_config(settings, create_http_app(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the HTTP server did not start"
    scheme = "https" if settings.http_ssl_certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def raw_get(port: int, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    """A socket that sent ``GET path`` and has not read anything yet."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_until(sock: socket.socket, marker: bytes, *, limit: int = 1 << 20) -> bytes:
    """Bytes from ``sock`` up to and including ``marker`` (fails at EOF or ``limit``)."""
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}; got {data[:300]!r}"
        data += chunk
        assert len(data) < limit, "marker not found"
    return data
