"""Who polls Telegram: long polling is done by the one node that holds a PostgreSQL advisory
lock on a dedicated connection; the lock dies with the holder's connection (a killed node's
socket is closed by its kernel), and the others try to take it every INTAKE_RETRY_SECONDS."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

INTAKE_RETRY_SECONDS = 1.0
INTAKE_CHECK_SECONDS = 2.0


class IntakeLease:
    """The right to long-poll Telegram: a PostgreSQL advisory lock held by a dedicated
    connection (blocking calls; run them off the event loop)."""

    def __init__(self, database_url: str, bot_id: str) -> None:
        self._url = database_url
        self._name = f"dating:intake:{bot_id}"
        self._conn: psycopg.Connection[Any] | None = None
        self._standby: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; a node waiting for it keeps its connection open."""
        if self._conn is not None:
            return True
        if self._standby is None or self._standby.closed:
            self._standby = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=5,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
            )
        try:
            row = self._standby.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._name,)
            ).fetchone()
        except psycopg.Error:
            self._standby.close()
            self._standby = None
            raise
        if row is None or not row[0]:
            return False
        self._conn, self._standby = self._standby, None
        return True

    def alive(self) -> bool:
        """Whether the lock is still ours (its connection still answers)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self._drop()
            return False

    def release(self) -> None:
        if self._standby is not None:
            self._standby.close()
            self._standby = None
        if self._conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self._name,))
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
