"""Access control of ingest's HTTP API: API keys with scopes.

A key is written ``name:scope+scope:secret`` (``NEWSFLOW_API_KEYS``, comma-separated, or
``NEWSFLOW_API_KEYS_FILE``, one a line, ``#`` comments). Only the SHA-256 digest of each
secret is kept, and a presented key is compared with every digest in constant time, so
neither the answer's timing nor the process' memory tells a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.settings import Settings


class Scope(StrEnum):
    """What a key may do."""

    PUSH = "push"  # POST /articles
    READ = "read"  # GET /events
    METRICS = "metrics"  # GET /metrics, when NEWSFLOW_METRICS_AUTH is true


class KeyFormatError(ValueError):
    """A key definition that cannot be read; the message never quotes the secret."""


@dataclass(frozen=True)
class ApiKey:
    """One key: its name (shown in logs), its scopes and the digest of its secret."""

    name: str
    scopes: frozenset[Scope]
    digest: bytes

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, scopes={sorted(self.scopes)})"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_key(definition: str, *, where: str) -> ApiKey:
    """One ``name:scope+scope:secret`` definition (``where`` names it in errors)."""
    name, sep1, rest = definition.strip().partition(":")
    scopes_text, sep2, secret = rest.partition(":")
    if not (sep1 and sep2 and name and secret):
        raise KeyFormatError(f"{where}: expected name:scope+scope:secret")
    scopes: set[Scope] = set()
    for scope in scopes_text.split("+"):
        try:
            scopes.add(Scope(scope.strip()))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise KeyFormatError(
                f"{where} (key {name!r}): unknown scope {scope!r}; known: {known}"
            ) from None
    if len(secret) < 16:
        raise KeyFormatError(f"{where} (key {name!r}): the secret must be 16 characters or more")
    return ApiKey(name, frozenset(scopes), _digest(secret))


def parse_keys(text: str, *, where: str, separator: str) -> list[ApiKey]:
    """Every key of a setting (``separator`` ``,``) or a file (one a line)."""
    keys = []
    for number, line in enumerate(text.split(separator), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            keys.append(parse_key(line, where=f"{where} item {number}"))
    return keys


def load_keys(settings: Settings) -> tuple[ApiKey, ...]:
    """The server's keys from ``api_keys`` and ``api_keys_file``; none: the API is open."""
    keys: list[ApiKey] = []
    if settings.api_keys is not None:
        keys += parse_keys(
            settings.api_keys.get_secret_value(), where="NEWSFLOW_API_KEYS", separator=","
        )
    if settings.api_keys_file is not None:
        try:
            text = settings.api_keys_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyFormatError(
                f"NEWSFLOW_API_KEYS_FILE: cannot read {settings.api_keys_file}: {exc.strerror}"
            ) from None
        keys += parse_keys(text, where=str(settings.api_keys_file), separator="\n")
    names = [key.name for key in keys]
    if len(set(names)) != len(names):
        raise KeyFormatError("API key names must be unique (they are what logs show)")
    return tuple(keys)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key") or None


@dataclass(frozen=True)
class Decision:
    """The answer to a request: 200 (go on), 401 (no or unknown key) or 403 (wrong scope)."""

    status: int
    key_name: str | None = None


def authorize(keys: tuple[ApiKey, ...], presented: str | None, scope: Scope) -> Decision:
    """Whether ``presented`` opens ``scope``. Open when no keys are configured."""
    if not keys:
        return Decision(200)
    if presented is None:
        return Decision(401)
    digest = _digest(presented)
    found: ApiKey | None = None
    for key in keys:
        # Every digest is compared, so the time taken does not tell which key matched.
        if hmac.compare_digest(key.digest, digest):
            found = key
    if found is None:
        return Decision(401)
    return Decision(200 if scope in found.scopes else 403, found.name)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(settings: Settings, keys: tuple[ApiKey, ...]) -> str | None:
    """What to warn about at start-up: an open API reachable from other machines."""
    if keys or is_loopback(settings.http_host):
        return None
    return (
        f"ingest's HTTP API listens on {settings.http_host}:{settings.http_port} with NO "
        "authentication: anyone who reaches it can push articles and read every event. "
        "Set NEWSFLOW_API_KEYS or NEWSFLOW_API_KEYS_FILE (README, 'HTTP API')."
    )
