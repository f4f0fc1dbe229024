"""Which failures are a dependency's (waited out) and which the work's own (dead letters)."""

from __future__ import annotations

import psycopg
import pykka
import pytest
import redis
import urllib3.exceptions
from minio.error import S3Error
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from actors.faults import transient
from messaging.confirms import PublishError


def s3_error(code: str) -> S3Error:
    return S3Error(None, code, "message", "resource", "request", "host")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.AdminShutdown("terminating connection"),
        psycopg.OperationalError("connection refused"),
        psycopg.errors.QueryCanceled("statement timeout"),
        redis.ConnectionError("reset"),
        redis.TimeoutError("timed out"),
        PublishError("not confirmed"),
        urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
        s3_error("SlowDown"),
        NetworkError("Bad Gateway"),
        TimedOut(),
        pykka.Timeout("no answer"),
        TimeoutError(),
    ],
)
def test_a_dependency_down_is_waited_out(error: Exception) -> None:
    assert transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        KeyError("missing"),
        psycopg.errors.UniqueViolation("duplicate"),
        psycopg.errors.SyntaxError("bad sql"),
        BadRequest("chat not found"),
        Forbidden("bot was blocked"),
        s3_error("AccessDenied"),
    ],
)
def test_the_work_s_own_failure_is_not(error: Exception) -> None:
    assert not transient(error)


def test_the_cause_counts() -> None:
    try:
        try:
            raise redis.ConnectionError("reset")
        except redis.ConnectionError as inner:
            raise LookupError("account vanished") from inner
    except LookupError as outer:
        assert transient(outer)
