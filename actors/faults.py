"""Telling a dependency's fault (wait, then try again) from a fault of the work itself (a bug,
a poison update: the dead letters). A failure is transient when it, or what caused it, is a
dependency being unreachable, slow or restarting: PostgreSQL, Redis, the broker (whose
publish errors are ConnectionErrors), S3 or Telegram."""

from __future__ import annotations

import psycopg
import pykka
import redis
import urllib3.exceptions
from minio.error import MinioException, S3Error, ServerError
from telegram.error import BadRequest, NetworkError, RetryAfter

from domain.backoff import Backoff

# Waits while a dependency is down: short enough that work goes on within a few seconds of
# its return, and that a stopping node is not held up long.
WAITING = Backoff(base=0.05, cap=5.0)

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    psycopg.OperationalError,  # connection lost, admin shutdown, statement timeout, pool timeout
    psycopg.InterfaceError,  # a connection that died under the pool
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    urllib3.exceptions.HTTPError,
    ServerError,  # S3 answering 5xx
    NetworkError,  # Telegram unreachable or answering 5xx (TimedOut is one)
    RetryAfter,
    pykka.Timeout,  # an actor busy waiting out the same fault
)
_S3_BUSY = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})


def transient(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, S3Error | BadRequest):  # refusals, whatever their base class
            if isinstance(current, S3Error) and current.code in _S3_BUSY:
                return True
        elif isinstance(current, _TRANSIENT) or (
            isinstance(current, MinioException) and not isinstance(current, S3Error)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
