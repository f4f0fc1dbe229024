"""The per-user fence (storage.fence) on real PostgreSQL: the ambient connection the stores
share inside it, its row, a transient failure in the middle of an update, and two fences
crossing in one shared actor."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import psycopg
import pykka
import pytest
from telegram import Bot

from actors.faults import transient
from actors.matcher import MatcherActor, MatcherActorProxy
from actors.outbox import Outbox
from bot_api import replies
from observability.metrics import Metrics
from presentation.callbacks import CallbackSigner
from storage import db
from storage.accounts import Accounts
from storage.feed import Feed
from storage.fence import Fence, FenceAware, Within
from storage.journal import Departure
from storage.likes import Likes, LikeStatus
from storage.matches import Matches
from storage.safety import Safety
from tests.integration.test_match_race import complete_user
from tests.support.faultproxy import proxied, proxy_for
from tests.support.profiles import shown
from tests.support.services import TEST_BOT_TOKEN, Services
from tests.support.waiting import eventually

_ids = itertools.count(7_300_000_001)
_works = itertools.count(1)


def new_user(accounts: Accounts) -> int:
    user_id = next(_ids)
    accounts.register(user_id, user_id, "en", None)
    return user_id


def work() -> str:
    return f"fence-test:{next(_works)}"


def name_of(pool: db.Pool, user_id: int) -> str | None:
    with pool.connection() as conn:
        row = conn.execute("SELECT name FROM profiles WHERE user_id = %s", (user_id,)).fetchone()
    return None if row is None else row["name"]


class TestAmbientConnection:
    def test_stores_inside_a_fence_see_each_other_and_commit_together(self, pool: db.Pool) -> None:
        """A user registered and named inside a fence: the second store call reads the first
        one's write, nobody outside sees either until the commit, then both are there."""
        accounts = Accounts(pool)
        user_id = next(_ids)
        fence = Fence(pool, user_id, work())
        assert fence.open() is None
        previous = db.set_ambient(fence)
        try:
            accounts.register(user_id, user_id, "en", None)
            accounts.update_profile(user_id, name="Inside")
            assert accounts.get(user_id) is not None  # its own write, read back
            db.set_ambient(None)
            assert accounts.get(user_id) is None  # outside: not committed yet
            db.set_ambient(fence)
            fence.commit([replies.message(user_id, "done")])
        finally:
            db.set_ambient(previous)
            fence.close()
        assert name_of(pool, user_id) == "Inside"

    def test_a_store_error_rolls_back_only_its_own_part(self, pool: db.Pool) -> None:
        """A refused write (an age out of bounds) inside a fence undoes only that write: the
        fence goes on and commits what else it did."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        fence = Fence(pool, user_id, work())
        fence.open()
        previous = db.set_ambient(fence)
        try:
            accounts.update_profile(user_id, name="Kept")
            with pytest.raises(psycopg.errors.CheckViolation):
                accounts.update_profile(user_id, age=3)
            accounts.update_profile(user_id, city="Keptown")
            fence.commit([])
        finally:
            db.set_ambient(previous)
            fence.close()
        account = accounts.get(user_id)
        assert account is not None and account.age is None
        assert name_of(pool, user_id) == "Kept"

    def test_a_fence_not_committed_leaves_nothing(self, pool: db.Pool) -> None:
        """Closed without a commit (the update failed): none of its writes and no row."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        key = work()
        fence = Fence(pool, user_id, key)
        fence.open()
        previous = db.set_ambient(fence)
        try:
            accounts.update_profile(user_id, name="Gone")
        finally:
            db.set_ambient(previous)
            fence.close()
        assert name_of(pool, user_id) is None
        again = Fence(pool, user_id, key)
        try:
            assert again.open() is None
        finally:
            again.close()

    def test_outside_a_fence_every_block_is_its_own_transaction(self, pool: db.Pool) -> None:
        """Without an ambient fence a store commits as it always did, even while another
        thread works inside a fence of the same pool."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        other = new_user(accounts)
        fence = Fence(pool, other, work())
        fence.open()
        try:
            assert db.ambient() is None
            accounts.update_profile(user_id, name="Alone")
            assert name_of(pool, user_id) == "Alone"
        finally:
            fence.close()

    def test_a_committed_fence_is_found_with_its_replies_and_sends(self, pool: db.Pool) -> None:
        """The row holds the replies and the deferred sends; the next fence for that work
        finds them, and the account's deletion deletes the rows naming the user."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        key = work()
        answer = [replies.message(user_id, "stored answer")]
        fence = Fence(pool, user_id, key)
        fence.open()
        fence.defer(42, 4242, [replies.message(4242, "for someone else")], None)
        fence.commit(answer)
        fence.close()
        again = Fence(pool, user_id, key)
        try:
            handled = again.open()
        finally:
            again.close()
        assert handled is not None
        assert list(handled.replies) == answer
        assert [(d.user_id, d.chat_id) for d in handled.deliveries] == [(42, 4242)]
        assert handled.deliveries[0].key == fence.deliveries[0].key
        accounts.delete_account(user_id)
        with pool.connection() as conn:
            left = conn.execute(
                "SELECT count(*) AS n FROM handled_updates WHERE user_id = %s", (user_id,)
            ).fetchone()
        assert left is not None and left["n"] == 0


class Waiter(FenceAware, pykka.ThreadingActor):
    """An actor whose call waits to be let go, then reads through the pool."""

    def __init__(self, pool: db.Pool, go: threading.Event) -> None:
        super().__init__()
        self._pool, self._go = pool, go

    def read(self) -> int:
        self._go.wait(10)
        with self._pool.connection() as conn:
            row = conn.execute("SELECT 1 AS one").fetchone()
        return int(row["one"]) if row else 0


class TestAbandonedCall:
    def test_a_fence_closed_while_an_actor_still_uses_it_gives_its_connection_to_nobody(
        self, pool: db.Pool
    ) -> None:
        """The handling stopped waiting for an actor's call (its ask timed out) and the fence
        rolls back: the connection is closed, not handed to the next user, and that call
        fails instead of writing into someone else's transaction."""
        go = threading.Event()
        ref = Waiter.start(pool, go)
        try:
            fence = Fence(pool, new_user(Accounts(pool)), work())
            fence.open()
            conn = fence.conn
            call = Within(ref.proxy(), fence).read()
            fence.close()
            assert conn.closed
            go.set()
            with pytest.raises((psycopg.OperationalError, RuntimeError)):
                call.get(timeout=10)  # the connection is closed, or the fence no longer open
            again = Fence(pool, next(_ids), work())
            try:
                assert again.open() is None and again.conn is not conn
            finally:
                again.close()
        finally:
            go.set()
            ref.stop()


class TestTransientFailure:
    def test_a_retry_after_postgresql_failed_midway_redoes_nothing_half_done(
        self, services: Services, pool: db.Pool
    ) -> None:
        """An update records a location change (a count: doing it twice counts two) and
        then PostgreSQL is cut: its fence rolls back whole, so the retry — the update
        handled again from the start — leaves one change, not two."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        key = work()
        now = datetime.now(UTC)
        with proxy_for(services.database_url, 5432) as proxy:
            cut_pool = db.create_pool(proxied(services.database_url, proxy), max_size=2)
            try:

                def handle(cut: bool) -> None:
                    proxied_accounts = Accounts(cut_pool)
                    fence = Fence(cut_pool, user_id, key)
                    try:
                        if fence.open() is not None:
                            return
                        previous = db.set_ambient(fence)
                        try:
                            proxied_accounts.record_location_change(
                                user_id, now, now - timedelta(days=1)
                            )
                            if cut:
                                proxy.cut()
                            proxied_accounts.update_profile(user_id, name="Second effect")
                            fence.commit([])
                        finally:
                            db.set_ambient(previous)
                    finally:
                        fence.close()

                with pytest.raises(psycopg.OperationalError) as failed:
                    handle(cut=True)
                assert transient(failed.value)  # the session parks it and tries again
                assert accounts.location_changes(user_id, now - timedelta(hours=1)) == []
                proxy.heal()
                handle(cut=False)
            finally:
                cut_pool.close()
        assert len(accounts.location_changes(user_id, now - timedelta(hours=1))) == 1
        assert name_of(pool, user_id) == "Second effect"


class NoLimit:
    async def acquire(self, chat_id: int, departure: Departure | None = None) -> None:
        return None

    def pause(self, seconds: float) -> None:
        return None


@pytest.fixture
def sends() -> list[tuple[int, str]]:
    """What the outbox handed over for other users (its forward): (user, key)."""
    return []


@pytest.fixture
def matcher(pool: db.Pool, sends: list[tuple[int, str]]) -> Iterator[MatcherActorProxy]:
    """The only matcher actor: every user's calls go to it (an actor pool of size 1). Its
    outbox forwards sends to other users into ``sends`` (nothing here reaches Telegram)."""
    loop = asyncio.new_event_loop()
    outbox = Outbox(Bot(TEST_BOT_TOKEN), loop, Metrics("fence-test"), NoLimit(), lambda _: None)
    outbox.forward_through(lambda user, key, _chat, _replies: sends.append((user, key)))
    ref = MatcherActor.start(
        Feed(pool),
        Likes(pool),
        Matches(pool),
        Safety(pool),
        Accounts(pool),
        outbox,
        CallbackSigner(b"fence-test"),
        Metrics("fence-test"),
    )
    yield cast(MatcherActorProxy, ref.proxy())
    ref.stop()
    loop.close()


class TestCrossingFences:
    def test_two_fences_crossing_in_one_shared_actor_both_finish(
        self, pool: db.Pool, matcher: MatcherActorProxy, sends: list[tuple[int, str]]
    ) -> None:
        """She and he like each other at once, each update in its fence, both on the one
        matcher actor. Her like holds the pair's lock until her fence commits; his like, run
        by the matcher, waits for that lock, while her next call waits for the matcher. The
        fence's short lock timeout breaks the cycle PostgreSQL cannot see: his try fails as a
        dependency's failure, is rolled back and tried again whole, and makes the match."""
        accounts = Accounts(pool)
        she, he = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
        shown(pool, (she, he), (he, she))
        her_account, his_account = accounts.get(she), accounts.get(he)
        assert her_account is not None and his_account is not None

        her_fence = Fence(pool, she, work())
        her_fence.open()
        her_matcher = Within(matcher, her_fence)
        mine = her_matcher.like(her_account, he, None, None).get(timeout=10)
        assert mine.status is LikeStatus.LIKED
        assert sends == [] and [d.user_id for d in her_fence.deliveries] == [he]  # deferred

        his_tries: list[BaseException | None] = []

        def his_update() -> None:
            """His update as the session handles it: tried again after a transient failure."""
            while True:
                fence = Fence(pool, he, his_work)
                try:
                    fence.open()
                    result = Within(matcher, fence).like(his_account, she, None, None)
                    outcome = result.get(timeout=30)
                    fence.commit([])
                    his_tries.append(None)
                    his_results.append(outcome.status)
                    return
                except Exception as error:
                    his_tries.append(error)
                    if not transient(error):
                        return
                finally:
                    fence.close()

        his_work = work()
        his_results: list[LikeStatus] = []
        his = threading.Thread(target=his_update)
        his.start()
        # His like waits for the pair's lock inside the matcher...
        eventually(lambda: _waiting_for_advisory_lock(pool), what="his like waiting for hers")
        # ... and her next call needs the matcher: it runs once his try gave up.
        assert her_matcher.matches(she).get(timeout=10) == []
        her_fence.commit([])
        her_fence.close()
        his.join(30)
        assert not his.is_alive()
        assert isinstance(his_tries[0], psycopg.errors.LockNotAvailable), his_tries
        assert transient(his_tries[0])
        assert his_tries[-1] is None and his_results == [LikeStatus.MATCHED]
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM matches WHERE user_low = %s AND user_high = %s",
                (min(she, he), max(she, he)),
            ).fetchone()
        assert row is not None and row["n"] == 1

    def test_outside_a_fence_the_actor_works_as_before(
        self, pool: db.Pool, matcher: MatcherActorProxy, sends: list[tuple[int, str]]
    ) -> None:
        """A call made straight to the actor (a sweep, a timer, a test) is committed when it
        returns, as before the fence."""
        accounts = Accounts(pool)
        she, he = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
        shown(pool, (she, he))
        her_account = accounts.get(she)
        assert her_account is not None
        result = matcher.like(her_account, he, None, None).get(timeout=10)
        assert result.status is LikeStatus.LIKED
        assert [user for user, _ in sends] == [he]  # his like notice, sent at once
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM interactions WHERE actor_id = %s AND kind = 'like'",
                (she,),
            ).fetchone()
        assert row is not None and row["n"] == 1


def _waiting_for_advisory_lock(pool: db.Pool) -> bool:
    with pool.connection() as conn:
        row = conn.execute(
            """SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        ).fetchone()
    return row is not None and row["n"] > 0
