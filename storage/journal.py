"""The reply journal (Redis): what a piece of work — a Telegram update, or a durable send to a
user — answered, and how much of that answer Telegram has accepted.

An entry is written once the work's effects are committed and before any reply goes out
(``record``); the outbox then moves its sent count on after each reply Telegram accepted
(``progress``, written by a background thread so the event loop never waits for Redis), and
``finish`` marks it complete. Work that is given out again finds its entry: complete → nothing
to do; incomplete → only the replies not yet accepted go out. Entries live as long as Telegram
keeps undelivered updates, and a little longer.

Before a message leaves for Telegram its number is written as ``a`` (by the send limiter's
script that lets it go, so the write happens first and costs no extra round trip): a reply
numbered above ``n`` but not above ``a`` was on its way when its node died — Telegram may or
may not have taken it (Entry.uncertain). Sending it again is the one way a user can see a
reply twice; the resend is logged and counted. Other calls (answering a button, an edit) are
not noted: Telegram refuses a repeated one as harmless.

Work is claimed (``claim``) before it is handled: the node's name is written as ``p``. Work
given out again that finds ``p`` but no recorded replies was being handled when its node died:
its effects may or may not be committed (they live in PostgreSQL, the journal in Redis; no
transaction spans both) (Entry.recorded is False: "in doubt"). It is handled again, and the
per-user fence (storage.fence) decides: its effects and its row commit in one transaction, so
either nothing of it was kept (it is handled afresh) or its row is found and its stored
replies are the ones recorded here, rendered once.

Layout: a set ``<ns>:journal-of:<chat id>`` of a chat's entries in progress (so that
deleting an account drops them), and per entry a hash ``<ns>:done:<key>`` with ``p`` (who
claimed it), ``c`` (chat id) and ``r`` (the replies, JSON) both dropped once complete, so a
complete entry names nobody, ``n`` (replies accepted so far), ``a`` (the last reply sent off)
and ``s`` (1 once complete).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
import redis
import structlog

from bot_api.replies import Reply
from storage.state import Keys

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Departure:
    """Where to note that a reply is leaving for Telegram: field ``a`` of the journal entry
    ``key`` becomes ``number`` (see above)."""

    key: str
    number: int


# Telegram keeps undelivered updates for 24 hours; a little longer covers any redelivery.
JOURNAL_TTL_SECONDS = 26 * 3600
CLAIM_TTL_SECONDS = 3600

_CLAIM = """
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then
  redis.call('HSET', KEYS[1], 'p', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return raw
"""
# Completing an entry drops its replies and its chat, and takes it out of its chat's index: a
# complete entry names nobody, and an index with no entry left goes (Redis drops empty sets).
# KEYS[1] the entry; ARGV[1] the index's prefix (the chat id follows it). The index key is
# derived here, so this needs a single Redis server, not a cluster.
_COMPLETE = """
local chat = redis.call('HGET', KEYS[1], 'c')
redis.call('HSET', KEYS[1], 's', 1)
redis.call('HDEL', KEYS[1], 'r', 'c')
if chat then redis.call('SREM', ARGV[1] .. chat, KEYS[1]) end
"""
DELIVERY_COUNT_TTL_SECONDS = 24 * 3600
WRITE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Entry:
    chat_id: int
    replies: tuple[Reply, ...]
    sent: int
    complete: bool
    attempted: int = 0
    recorded: bool = True  # False: claimed by a node that died before recording replies
    claimed_by: str = ""

    @property
    def uncertain(self) -> bool:
        """The next unsent reply had left for Telegram when its node stopped."""
        return not self.complete and self.attempted > self.sent

    @property
    def unsent(self) -> tuple[Reply, ...]:
        return () if self.complete else self.replies[self.sent :]


def _entry(raw: dict[bytes, bytes]) -> Entry | None:
    if not raw:
        return None
    return Entry(
        chat_id=int(raw.get(b"c", b"0")),
        replies=_load(raw.get(b"r")),
        sent=int(raw.get(b"n", b"0")),
        complete=raw.get(b"s") == b"1",
        attempted=int(raw.get(b"a", b"0")),
        recorded=b"c" in raw or b"s" in raw,
        claimed_by=raw.get(b"p", b"").decode(),
    )


def _dump(replies: tuple[Reply, ...] | list[Reply]) -> bytes:
    return orjson.dumps([[reply.method, reply.params] for reply in replies])


def _load(raw: bytes | str | None) -> tuple[Reply, ...]:
    if not raw:
        return ()
    return tuple(Reply(method, params) for method, params in orjson.loads(raw))


Write = tuple[str, str, int, Callable[[], None] | None]  # (op, work, sent, then)


def _coalesced(writes: Sequence[Write]) -> dict[str, int | None]:
    """One write per entry: its last sent count, or None once it is complete (a complete
    entry's count no longer matters). Under load most entries finish within one batch."""
    latest: dict[str, int | None] = {}
    for op, work, sent, _ in writes:
        if op == "s":
            latest[work] = None
        elif latest.get(work, 0) is not None:
            latest[work] = sent
    return latest


class ReplyJournal:
    """Blocking reads and writes for actor threads, plus a writer thread for the outbox."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._writes: queue.SimpleQueue[Write | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="reply-journal", daemon=True)
        self._writer.start()

    def key(self, work: str) -> str:
        return self._keys("done", work)

    def entry(self, work: str) -> Entry | None:
        raw: dict[bytes, bytes] = self._redis.hgetall(self.key(work))  # type: ignore[assignment]
        return _entry(raw)

    def claim(self, work: str, holder: str) -> Entry | None:
        """The work's entry, or None after claiming it for holder (fresh work); one call."""
        flat = self._claim(keys=[self.key(work)], args=[holder, CLAIM_TTL_SECONDS])
        return _entry(dict(zip(flat[::2], flat[1::2], strict=True)))

    def record(self, work: str, chat_id: int, replies: tuple[Reply, ...] | list[Reply]) -> None:
        """The work is done and these replies are due (none: it is complete at once)."""
        key = self.key(work)
        # Complete at once: no chat kept, as for any complete entry (see _write_loop).
        fields: list[str | int | bytes] = ["n", 0]
        fields += ["c", chat_id, "r", _dump(replies)] if replies else ["s", 1]
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, items=fields)
        pipe.expire(key, JOURNAL_TTL_SECONDS)
        if replies:
            # The chat's entries in progress, so that deleting an account deletes what it is
            # being answered (an entry leaves the index once complete, see _COMPLETE).
            pipe.sadd(self._keys("journal-of", chat_id), key)
            pipe.expire(self._keys("journal-of", chat_id), JOURNAL_TTL_SECONDS)
        pipe.execute()

    def forget(self, chat_id: int) -> int:
        """Delete every entry of a chat (its account was deleted); how many."""
        index = self._keys("journal-of", chat_id)
        keys: set[bytes] = self._redis.smembers(index)  # type: ignore[assignment]
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        pipe.delete(index)
        pipe.execute()
        return len(keys)

    def progress(self, work: str, sent: int) -> None:
        """From any thread, without waiting: this many replies were accepted."""
        self._writes.put(("n", work, sent, None))

    def finish(self, work: str, then: Callable[[], None] | None = None) -> None:
        """From any thread, without waiting: every reply was tried; then() runs once that is
        written (or failed to be)."""
        self._writes.put(("s", work, 0, then))

    def count_delivery(self, work: str) -> int:
        """Count one more delivery of a message given out again; how often it has been
        delivered in all (the first delivery is not counted, so this starts at 2)."""
        key = self._keys("deliveries", work)
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, DELIVERY_COUNT_TTL_SECONDS)
        count, _ = pipe.execute()
        return int(count) + 1

    def forgive_deliveries(self, keys: Sequence[str]) -> None:
        """These deliveries do not count: the node they were given to lives on and gave
        them back (a count can go below zero: the first delivery is never counted)."""
        pipe = self._redis.pipeline(transaction=False)
        for work in keys:
            key = self._keys("deliveries", work)
            pipe.decr(key)
            pipe.expire(key, DELIVERY_COUNT_TTL_SECONDS)
        pipe.execute()

    def close(self, timeout: float = 5.0) -> None:
        self._writes.put(None)
        self._writer.join(timeout)

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._writes.get()]
            while len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._writes.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stopping = True
            writes = [item for item in batch if item is not None]
            pipe = self._redis.pipeline(transaction=False)
            for work, sent in _coalesced(writes).items():
                key = self.key(work)
                if sent is None:
                    self._complete(keys=[key], args=[self._keys("journal-of", "")], client=pipe)
                else:
                    pipe.hset(key, "n", sent)
            try:
                pipe.execute()
            except redis.RedisError as error:
                log.warning("reply journal not written", error=str(error), entries=len(writes))
            for _, _, _, then in writes:
                if then is not None:
                    try:
                        then()
                    except Exception:
                        log.exception("callback after a journal write failed")
