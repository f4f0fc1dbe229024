"""PostgreSQL access: one thread-safe pool per node, and the schema applied at start.

A thread may have an *ambient* connection (storage.fence: the one transaction of an update
being handled): while it is set, the pool's connection() and autocommit() hand that
connection out inside a savepoint instead of taking one of their own, so every store called
on that thread writes into the update's transaction (a store's own error rolls back only its
savepoint), and reads what the update wrote so far. Without one everything is as it always
was: a pooled connection, one transaction per block.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import ClientCursor, Connection, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
# Any fixed number works; it only has to be the same on every node applying the schema.
SCHEMA_LOCK_KEY = 0x64617469  # "dati"

if TYPE_CHECKING:
    from storage.fence import Fence
# A statement with its parameters, as run_together takes them.
Statement = tuple[sql.Composed | str, tuple[object, ...]]


# A server that does not answer a connection attempt in this long is down, not slow.
CONNECT_TIMEOUT_SECONDS = 5
# Longer than any statement a node runs in a healthy database, sweeps' batches and
# maintenance included; a statement stuck behind a stalled server or a lock frees its
# connection (and its actor) after this, and the work is tried again.
STATEMENT_TIMEOUT_MS = 120_000


_ambient = threading.local()


def ambient() -> Fence | None:
    """The fence this thread works in, if any (storage.fence)."""
    fence: Fence | None = getattr(_ambient, "fence", None)
    return fence


def set_ambient(fence: Fence | None) -> Fence | None:
    """Make ``fence`` this thread's ambient one (None: none); the one it replaces."""
    previous = ambient()
    _ambient.fence = fence
    return previous


class Pool(ConnectionPool[Connection[DictRow]]):
    """psycopg_pool's pool, whose connection() yields the thread's ambient connection (in a
    savepoint) when the thread works inside a fence of this pool."""

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Connection[DictRow]]:
        fence = ambient()
        if fence is not None and fence.pool is self:
            with fence.conn.transaction():
                yield fence.conn
            return
        with super().connection(timeout) as conn:
            yield conn


def create_pool(url: str, *, min_size: int = 2, max_size: int = 16, name: str = "db") -> Pool:
    """The pool checks each connection before handing it out: after a server restart its
    connections are dead, and without the check it would hand them out one by one."""
    pool = Pool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={
            "row_factory": dict_row,
            "autocommit": False,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
        connection_class=Connection[DictRow],
        check=ConnectionPool.check_connection,
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=15)
    return pool


@contextmanager
def autocommit(pool: Pool) -> Iterator[Connection[DictRow]]:
    """A pooled connection in autocommit, for work that is one round trip: one statement
    (without it: BEGIN, the statement, COMMIT), or several sent together (run_together).
    Inside a fence: the fence's connection in a savepoint, autocommit left alone."""
    fence = ambient()
    if fence is not None and fence.pool is pool:
        with pool.connection() as conn:
            yield conn
        return
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.autocommit = False


def run_together(conn: Connection[DictRow], statements: list[Statement]) -> list[list[DictRow]]:
    """Run statements as one simple query: one round trip and, in autocommit, one
    transaction (PostgreSQL runs a multi-statement query as one). Parameters are bound on the
    client, which is what lets one query hold several statements. Each statement's rows."""
    cursor = ClientCursor(conn)
    query = sql.SQL("; ").join(
        sql.SQL(text) if isinstance(text, str) else text for text, _ in statements
    )
    cursor.execute(query, [value for _, values in statements for value in values])
    results = []
    while True:
        results.append(cursor.fetchall() if cursor.description else [])
        if not cursor.nextset():
            return results


def apply_schema(pool: Pool) -> None:
    """Apply schema.sql; nodes starting together serialise on an advisory lock.

    A schema already applied (the same file, by its digest) is not applied again: its ALTER
    TABLE statements take exclusive locks, which would stall — or deadlock with — the nodes
    already serving when another node starts."""
    sql = SCHEMA_PATH.read_text(encoding="utf-8")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        conn.execute("""CREATE TABLE IF NOT EXISTS schema_applied (
                            digest text PRIMARY KEY,
                            applied_at timestamptz NOT NULL DEFAULT now())""")
        if conn.execute("SELECT 1 FROM schema_applied WHERE digest = %s", (digest,)).fetchone():
            return
        conn.execute(sql.encode())  # bytes: several statements in one simple-query call
        conn.execute(
            "INSERT INTO schema_applied (digest) VALUES (%s) ON CONFLICT DO NOTHING", (digest,)
        )


def ping(pool: Pool) -> None:
    with pool.connection(timeout=2) as conn:
        conn.execute("SELECT 1")
