"""Redis failures said in a few words, never with the command, its arguments or secrets."""

from __future__ import annotations

import pytest
import redis.exceptions as rex

from shared.redis_client import describe_redis_error

PIPELINE_OOM = (
    "Command # 3 (EVALSHA 0f9a7c1e 2 t:seen:a1 t:accepted b'\\x28\\xb5/\\xfd payload' 604800 "
    "data) of pipeline caused error: OOM command not allowed when used memory > 'maxmemory'."
)


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (rex.OutOfMemoryError("command not allowed"), "Redis is out of memory (maxmemory reached)"),
        (rex.ResponseError(PIPELINE_OOM), "Redis is out of memory (maxmemory reached)"),
        (
            rex.ConnectionError("Error 111 connecting to 10.0.0.5:6379. Connection refused."),
            "Redis unreachable",
        ),
        (rex.TimeoutError("Timeout reading from 10.0.0.5:6379"), "Redis did not answer in time"),
        (
            rex.AuthenticationError("invalid username-password pair"),
            "Redis refused the credentials",
        ),
        (rex.ReadOnlyError("You can't write against a read only replica."), "read-only"),
        (rex.BusyLoadingError("Redis is loading the dataset in memory"), "loading its data"),
        (
            rex.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
            "a key holds the wrong type of value",
        ),
        (
            rex.ResponseError("unknown command 'SECRETCMD', with args beginning with: 'hunter2'"),
            "Redis refused the command (ERR)",
        ),
        (rex.DataError("Invalid input of type: 'dict'"), "Redis failed (DataError)"),
    ],
)
def test_failures_are_said_plainly(exc: rex.RedisError, said: str) -> None:
    text = describe_redis_error(exc)
    assert said in text
    for leak in ("EVALSHA", "\\x", "t:seen", "10.0.0.5", "hunter2", "SECRETCMD", "payload"):
        assert leak not in text
