"""The per-user fence: one PostgreSQL transaction for one update of one user.

An update's effects (written by the session and by the profile, matcher and chat-relay
actors it calls) and its "handled" mark — a row of ``handled_updates`` holding the replies it
rendered — commit together, or not at all. A node that dies while handling an update leaves
nothing of it (PostgreSQL rolls the transaction back when the connection drops), and an
update given out again after its fence committed finds its row: its effects are not done
again and its stored replies are what goes out, rendered once.

The fence takes one connection of the pool for the update, sets it as the handling thread's
ambient connection (storage.db), and holds the user's advisory lock until it ends, so two
nodes never handle one user at once (during a shard's handover). Inside it every lock wait
is short (``FENCE_LOCK_TIMEOUT_MS``): actors are shared by many users, and an actor running
another user's call that waits on a lock this fence holds would otherwise wait for ever
while this fence waits for that actor (PostgreSQL cannot see such a cycle). The waiting one
fails with LockNotAvailable, a dependency's failure (actors.faults): its update is rolled
back whole and tried again a moment later.

What the update does outside PostgreSQL is not in the transaction. Durable sends to other
users (actors.outbox ``deliver``) made inside a fence are deferred: kept in the row
(``deliveries``) and made after the commit, with their send keys, so a node that dies
between the commit and the sends leaves them to the update's redelivery, which makes them
again under the same keys (the recipient's journal sends each key once). Other callbacks
(``after_commit``: re-rating, events to other nodes) run once after the commit. S3 uploads
and the conversation state in Redis are written when they happen (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pykka
import structlog
from psycopg import ClientCursor, Connection
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

from bot_api.replies import Reply
from storage import db

log = structlog.get_logger(__name__)

# Long enough for any lock a healthy update waits for (another update's short transaction),
# short enough that a cycle through a shared actor is broken at once.
FENCE_LOCK_TIMEOUT_MS = 500
# Telegram keeps undelivered updates for 24 hours; the rows a little longer (the journal's).
HANDLED_KEEP_HOURS = 26
FENCE_LOCK_PREFIX = "fence"


@dataclass(frozen=True, slots=True)
class Deferred:
    """A durable send to another user, made once the fence committed (Outbox.deliver)."""

    user_id: int
    chat_id: int
    replies: tuple[Reply, ...]
    key: str


@dataclass(frozen=True, slots=True)
class Handled:
    """What an update whose fence committed answered, as its row keeps it."""

    replies: tuple[Reply, ...]
    deliveries: tuple[Deferred, ...]


def _dump_replies(replies: tuple[Reply, ...] | list[Reply]) -> str:
    return orjson.dumps([[reply.method, reply.params] for reply in replies]).decode()


def _load_replies(raw: Any) -> tuple[Reply, ...]:
    return tuple(Reply(method, params) for method, params in raw or ())


def _dump_deliveries(deliveries: list[Deferred]) -> str | None:
    if not deliveries:
        return None
    return orjson.dumps(
        [
            {
                "u": item.user_id,
                "c": item.chat_id,
                "k": item.key,
                "r": [[reply.method, reply.params] for reply in item.replies],
            }
            for item in deliveries
        ]
    ).decode()


def _load_deliveries(raw: Any) -> tuple[Deferred, ...]:
    return tuple(
        Deferred(int(item["u"]), int(item["c"]), _load_replies(item["r"]), str(item["k"]))
        for item in raw or ()
    )


class Fence:
    """One update of one user in one transaction; see the module's docstring.

    open() begins it (the lock, then the row); commit(replies) writes the row and commits;
    close() ends it either way (rolled back when not committed) and gives the connection back.
    """

    def __init__(
        self,
        pool: db.Pool,
        user_id: int,
        work: str,
        *,
        lock_timeout_ms: int = FENCE_LOCK_TIMEOUT_MS,
        timeout: float | None = None,
    ) -> None:
        self.pool = pool
        self.user_id = user_id
        self.work = work
        self._lock_timeout_ms = lock_timeout_ms
        self._timeout = timeout
        self._conn: Connection[DictRow] | None = None
        self._after: list[Callable[[], None]] = []
        self._futures: list[Any] = []
        self.deliveries: list[Deferred] = []
        self._forgotten = False
        self.committed = False

    @property
    def conn(self) -> Connection[DictRow]:
        if self._conn is None:
            raise RuntimeError("the fence is not open")
        return self._conn

    def open(self) -> Handled | None:
        """Begin the transaction and take the user's lock; the update's row when its fence
        committed before (it was handled: nothing is to be done again), else None."""
        conn = self._conn = self.pool.getconn(self._timeout)
        try:
            # The transaction is begun by hand, with the lock in the same round trip (psycopg
            # would send its BEGIN alone): in autocommit mode psycopg sends none, and the
            # stores' blocks inside see a transaction under way and make savepoints.
            conn.autocommit = True
            ClientCursor(conn).execute(
                "BEGIN; SELECT set_config('lock_timeout', %s, true),"
                " pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"{self._lock_timeout_ms}ms", f"{FENCE_LOCK_PREFIX}:{self.user_id}"),
            )
            # Another statement: the row is read in a snapshot taken after the lock was granted.
            row = conn.execute(
                "SELECT replies, deliveries FROM handled_updates WHERE work = %s", (self.work,)
            ).fetchone()
        except BaseException:
            self.close()
            raise
        if row is None:
            return None
        return Handled(_load_replies(row["replies"]), _load_deliveries(row["deliveries"]))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once the fence committed (never, when it rolls back)."""
        self._after.append(callback)

    def defer(self, user_id: int, chat_id: int, replies: list[Reply], key: str | None) -> None:
        """A durable send to another user, made after the commit (and again, under the same
        key, by a redelivery that finds the row)."""
        self.deliveries.append(
            Deferred(user_id, chat_id, tuple(replies), key or f"send:{uuid.uuid4().hex}")
        )

    def track(self, future: Any) -> Any:
        """A call made into another actor within this fence: commit waits for it, so that no
        actor is still using the connection when the transaction ends."""
        self._futures.append(future)
        return future

    def forget_user(self) -> None:
        """The update deleted the user's account: its row names nobody and keeps nothing."""
        self._forgotten = True

    def commit(self, replies: list[Reply]) -> None:
        """Write the update's row with its replies and commit; then the after-commit
        callbacks (a failing one is logged: the update's effects stand)."""
        conn = self.conn
        for future in self._futures:
            # Answered already when the handling read it; a failure it caught stays caught.
            with contextlib.suppress(Exception):
                future.get()
        forgotten = self._forgotten
        # The row and the COMMIT in one round trip. A store may have turned synchronous
        # commit off for its own reads (storage.feed's SET LOCAL outlives its savepoint): the
        # update's writes are committed durably all the same.
        ClientCursor(conn).execute(
            """SET LOCAL synchronous_commit = on;
               INSERT INTO handled_updates (work, user_id, replies, deliveries)
               VALUES (%s, %s, %s::jsonb, %s::jsonb); COMMIT""",
            (
                self.work,
                None if forgotten else self.user_id,
                _dump_replies([] if forgotten else replies),
                None if forgotten else _dump_deliveries(self.deliveries),
            ),
        )
        if conn.info.transaction_status is not TransactionStatus.IDLE:
            raise RuntimeError("the fence's commit left a transaction open")
        self.committed = True
        for callback in self._after:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed", work=self.work)

    def close(self) -> None:
        """End the fence: rolled back unless committed; the connection goes back."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not self.committed and not self._calls_finished():
            # An actor call the handling stopped waiting for (its ask timed out) may still
            # use the connection: it is closed rather than handed to someone else, and that
            # call fails.
            log.warning("fence closed with an actor call still running", work=self.work)
            conn.close()
        try:
            if not conn.closed:
                if not self.committed:
                    conn.rollback()
                conn.autocommit = False  # as the pool hands its connections out
        except Exception:  # closed, the pool drops it rather than hand it out as it is
            log.warning("fence rollback failed", work=self.work, exc_info=True)
            conn.close()
        finally:
            self.pool.putconn(conn)

    def _calls_finished(self) -> bool:
        for future in self._futures:
            try:
                future.get(timeout=0)
            except pykka.Timeout:
                return False
            except Exception:  # a failure the handling saw already
                pass
        return True


def after_commit(callback: Callable[[], None]) -> None:
    """Run callback after the ambient fence's commit, or now when the thread has none."""
    fence = db.ambient()
    if fence is None:
        callback()
    else:
        fence.after_commit(callback)


def forget_user() -> None:
    """The ambient fence's update deleted its user's account (storage.accounts)."""
    fence = db.ambient()
    if fence is not None:
        fence.forget_user()


class FenceAware:
    """A mixin for actors the session calls while handling an update: within() runs one of
    the actor's methods with the fence's connection as the actor thread's ambient one."""

    def within(
        self, fence: Fence, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        previous = db.set_ambient(fence)
        try:
            return getattr(self, method)(*args, **kwargs)
        finally:
            db.set_ambient(previous)


class Within:
    """A proxy whose calls go through FenceAware.within with one fence (the session's
    services hand these out while an update is handled inside a fence)."""

    def __init__(self, proxy: Any, fence: Fence) -> None:
        self._proxy = proxy
        self._fence = fence

    def __getattr__(self, name: str) -> Callable[..., Any]:
        proxy, fence = self._proxy, self._fence

        def call(*args: Any, **kwargs: Any) -> Any:
            return fence.track(proxy.within(fence, name, args, kwargs))

        return call
