"""What a running ``newsflow up`` leaves in its state directory, so that the other commands
(status, push, tail, dead, replay) in another shell find its server: a lock that makes it
the only ``up`` there, and ``up.json`` saying where its Redis is."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import psutil

from shared.redact import redact_url

STATE_FILE = "up.json"
LOCK_FILE = "up.lock"


class AlreadyRunning(Exception):
    """Another ``newsflow up`` holds the state directory."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"pid {pid}" if pid else "pid unknown")
        self.pid = pid


@dataclass(frozen=True)
class UpState:
    """Where a running ``up`` is. ``redis_url`` is redacted when the real one holds a
    password (``complete`` is then false): the password is never written to disk."""

    pid: int
    started: float
    redis_url: str
    complete: bool
    embedded: bool
    http_host: str
    http_port: int

    @classmethod
    def of(cls, redis_url: str, *, embedded: bool, http_host: str, http_port: int) -> UpState:
        """The state of this process, serving ``redis_url``."""
        shown = redact_url(redis_url)
        return cls(
            pid=os.getpid(),
            started=psutil.Process().create_time(),
            redis_url=shown,
            complete=shown == redis_url,
            embedded=embedded,
            http_host=http_host,
            http_port=http_port,
        )


class UpLock:
    """An exclusive ``flock`` on ``STATE_DIR/up.lock``, held as long as ``up`` runs. The
    kernel releases it when the process dies, however it dies, so a stale lock file never
    blocks the next ``up``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning` with the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's pid stays readable until we own it.
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            handle.close()
            raise AlreadyRunning(int(text) if text.isdigit() else None) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with a starting up)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def write_state(state_dir: Path, state: UpState) -> Path:
    """Write ``up.json`` atomically (a reader never sees half a file)."""
    path = state_dir / STATE_FILE
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(asdict(state)) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def remove_state(state_dir: Path) -> None:
    """Remove ``up.json`` (on a clean stop)."""
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()


def _alive(pid: int, started: float) -> bool:
    try:
        # The start time tells our up from a later process that got the same pid.
        created = float(psutil.Process(pid).create_time())
    except psutil.Error:
        return False
    return abs(created - started) < 1.0


def find_running(state_dir: Path) -> UpState | None:
    """The ``up`` running in ``state_dir``, or None (no file, unreadable, or its process
    is gone: a crash leaves the file behind)."""
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        state = UpState(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return state if _alive(state.pid, state.started) else None
