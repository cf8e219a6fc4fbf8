"""Passwords, ACL users and TLS travel in the URL; a client without them gets nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from services.ingest.app import build_service
from shared.schemas import Article
from shared.settings import load_settings
from shared.streams import Keys
from tests.helpers import payloads, running, stream_len, wait_until
from tests.servers import OwnServer, free_port, self_signed_certificate, tls_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

PASSWORD = "s3cret-pass"
ACL = ["--user", "ingester", "on", ">ingest-pw", "~sec*", "&*", "+@all"]


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[OwnServer]:
    server = OwnServer(tmp_path / "redis", extra=["--requirepass", PASSWORD, *ACL])
    server.start()
    yield server
    server.stop()


async def _ingest_round_trip(url: str, prefix: str) -> Article:
    """A raw XADD through the ingest group, on a server reached with ``url``."""
    settings = load_settings(redis_url=url, stream_prefix=prefix, poll_ms=20)
    keys = Keys(prefix)
    service = build_service(settings)
    client = aredis.Redis.from_url(url)
    try:
        await client.xadd(
            keys.articles, {"data": json.dumps({"text": "Rain in Lyon.", "id": "s1"})}
        )
        async with running(service):
            await wait_until(lambda: _one(client, keys.accepted))
        (payload,) = await payloads(client, keys.accepted)
        return Article.model_validate_json(payload)
    finally:
        await client.aclose()


async def _one(client: aredis.Redis, stream: str) -> bool:
    return await stream_len(client, stream) == 1


async def test_password_in_the_url(locked_server: OwnServer) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    article = await _ingest_round_trip(url, "secpw")
    assert article.meta.id == "s1"


async def test_acl_user_in_the_url(locked_server: OwnServer) -> None:
    url = f"redis://ingester:ingest-pw@127.0.0.1:{locked_server.port}/0"
    article = await _ingest_round_trip(url, "secacl")
    assert article.meta.id == "s1"
    # The ACL user is confined to its key pattern.
    with redis.Redis.from_url(url) as client, pytest.raises(redis.exceptions.NoPermissionError):
        client.xlen(Keys("other").articles)


async def test_client_without_the_password_gets_nothing(locked_server: OwnServer) -> None:
    await _ingest_round_trip(f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0", "secno")
    anonymous = redis.Redis.from_url(locked_server.url)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.xrange(Keys("secno").accepted)
        with pytest.raises(redis.AuthenticationError):
            anonymous.xadd(Keys("secno").articles, {"data": "{}"})
    finally:
        anonymous.close()
    wrong_url = f"redis://:wrong@127.0.0.1:{locked_server.port}/0"
    with redis.Redis.from_url(wrong_url) as wrong, pytest.raises(redis.AuthenticationError):
        wrong.ping()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[OwnServer, Path]]:
    binary = tls_server_binary()
    if binary is None or shutil.which("openssl") is None:
        pytest.skip("needs a TLS-capable redis-server and openssl (.ci/run installs both)")
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    server = OwnServer(
        tmp_path / "redis",
        port=0,
        binary=binary,
        extra=[
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
        ],
    )
    server.start(ping_url=f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={cert}")
    server.port = port
    yield server, cert
    server.stop()


async def test_tls_with_rediss_url(tls_server: tuple[OwnServer, Path]) -> None:
    server, cert = tls_server
    url = f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0?ssl_ca_certs={cert}"
    article = await _ingest_round_trip(url, "sectls")
    assert article.meta.id == "s1"
    # Without TLS the server does not answer the plain protocol on that port.
    with (
        redis.Redis.from_url(
            f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0", socket_timeout=2
        ) as plain,
        pytest.raises(redis.ConnectionError),
    ):
        plain.ping()
