"""SendOnce: the replies of a piece of work go out once, even when the work is given out again
after a node died (storage.journal)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import structlog

from actors.outbox import Outbox
from bot_api.replies import Reply
from observability.metrics import Metrics
from storage.journal import Departure, ReplyJournal

log = structlog.get_logger(__name__)


class SendOnce:
    """Sends the replies of a piece of work (an update, or a durable send for a user) once.

    send() records the replies in the journal before the first goes out, and the sent count
    moves on as Telegram accepts each; replay() finds work that was handled before: complete
    → nothing to do; incomplete → only what is still unsent goes out; being sent right now by
    this node → its done() waits for that. Between Telegram accepting a reply and the journal
    recording it lies the one window in which a node's death makes a reply go out twice."""

    def __init__(
        self,
        outbox: Outbox,
        journal: ReplyJournal,
        metrics: Metrics | None = None,
        holder: str = "",
    ) -> None:
        self._outbox = outbox
        self._journal = journal
        self._metrics = metrics
        self._holder = holder
        self._lock = threading.Lock()
        self._sending: dict[str, list[Callable[[], None]]] = {}

    @property
    def journal(self) -> ReplyJournal:
        return self._journal

    def replay(self, work: str, done: Callable[[], None], user_id: int | None = None) -> bool:
        """True when the work was handled before (done() is then taken care of); False when
        it is to be handled now (it is claimed for this node). Blocking, one Redis call."""
        with self._lock:
            waiting = self._sending.get(work)
            if waiting is not None:
                waiting.append(done)
                return True
        entry = self._journal.claim(work, self._holder)
        if entry is None:
            return False
        if not entry.recorded and entry.claimed_by == self._holder:
            return False  # this node's own claim: a try that failed, tried again
        if not entry.recorded:
            # Its node died while handling it, the replies not recorded: handled again, its
            # fence (storage.fence) either rolled back (nothing kept) or committed (its row
            # holds the replies it was given: they go out, nothing is rendered again).
            log.warning(
                "work in doubt: handled again",
                work=work,
                claimed_by=entry.claimed_by,
                user_id=user_id,
            )
            if self._metrics is not None:
                self._metrics.in_doubt.labels(self._metrics.node_id).inc()
            return False
        if entry.complete or not entry.unsent:
            done()
            return True
        log.info(
            "sending what a node left unsent", work=work, unsent=len(entry.unsent), sent=entry.sent
        )
        if entry.uncertain:
            # The node died while this reply was on its way: Telegram may have taken it.
            # Sending it again may show it twice; not sending may lose it. We send.
            log.warning(
                "a reply may reach the user twice",
                work=work,
                chat_id=entry.chat_id,
                method=entry.unsent[0].method,
                reply=entry.sent + 1,
            )
            self._count("uncertain")
        self._count("unsent")
        self._start(work, entry.chat_id, entry.unsent, entry.sent, done)
        return True

    def send(
        self, work: str, chat_id: int, replies: Sequence[Reply], done: Callable[[], None]
    ) -> None:
        """Record the replies of finished work and send them; blocking (one Redis write)."""
        self._journal.record(work, chat_id, list(replies))
        if not replies:
            done()
            return
        self._start(work, chat_id, tuple(replies), 0, done)

    def _start(
        self,
        work: str,
        chat_id: int,
        replies: tuple[Reply, ...],
        already: int,
        done: Callable[[], None],
    ) -> None:
        with self._lock:
            self._sending[work] = [done]
        journal = self._journal
        key = journal.key(work)

        def progress(sent: int) -> None:
            journal.progress(work, already + sent)

        def departure(number: int) -> Departure:
            return Departure(key, already + number)

        def finished() -> None:
            with self._lock:
                callbacks = self._sending.pop(work, [])

            def after() -> None:
                for callback in callbacks:
                    callback()

            journal.finish(work, after)

        self._outbox.submit(chat_id, replies, finished, progress, departure)

    def _count(self, certainty: str) -> None:
        if self._metrics is not None:
            self._metrics.replies_resent.labels(self._metrics.node_id, certainty).inc()
