"""The invitation boost in the real ranking (issue 14, item 5): a counted invitation lifts the
inviter in a compatible viewer's feed through the real sweeps and feed, and the lift ends
with its window; self-invites, invitees who never finish and invitations past the cap per
period lift nothing (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from domain import ranking
from storage import db
from storage.accounts import Account, Accounts
from storage.feed import Feed
from storage.ratings import Ratings
from tests.support.profiles import complete_profile
from tests.support.services import postgres_database

SLOT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CITY = "Inviteville"


@pytest.fixture
def database() -> Iterator[tuple[db.Pool, str]]:
    """A database of its own: the sweeps read every profile and every sweep_runs row."""
    with postgres_database("dating_invitations") as url:
        pool = db.create_pool(url, max_size=6, name="invitation-tests")
        db.apply_schema(pool)
        yield pool, url
        pool.close()


class World:
    """Two men in one city, the rival's profile a little fuller, and women who look."""

    def __init__(self, pool: db.Pool, url: str) -> None:
        self.pool = pool
        self.accounts = Accounts(pool)
        self.ratings = Ratings(pool, url)
        self.ids = count(7_000_000_001)
        self.slots = count()
        self.inviter = self.man("Hello there, I like long walks")
        self.rival = self.man("Hello there, I like long walks and good books")
        with pool.connection() as conn:  # both long past the new-profile boost
            conn.execute(
                "UPDATE users SET created_at = now() - interval '30 days' WHERE id = ANY(%s)",
                ([self.inviter, self.rival],),
            )
        self.sweep()

    def man(self, about: str) -> int:
        return complete_profile(
            self.pool,
            user_id=next(self.ids),
            gender="m",
            seeking="f",
            city=CITY,
            about=about,
            interests=["music", "books"],
        )

    def sweep(self) -> None:
        """The next incremental sweep, as the scheduler fires it every few minutes."""
        slot = SLOT + timedelta(minutes=5 * next(self.slots))
        assert self.ratings.sweep("incremental", slot, "node-a").sweep_id is not None

    def order_for_a_new_viewer(self) -> list[int]:
        """The first two cards a woman who just finished her profile is shown."""
        woman = complete_profile(
            self.pool, user_id=next(self.ids), gender="f", seeking="m", city=CITY, age=30
        )
        viewer = self.accounts.get(woman)
        assert isinstance(viewer, Account)
        feed = Feed(self.pool)
        cards = [feed.next_card(viewer) for _ in range(2)]
        return [card.card.user_id for card in cards if card is not None]

    def friend(self, *, finishes: bool, code: str | None = None) -> int:
        """Someone who opens the inviter's link (or ``code``), and maybe finishes a profile
        (a woman seeking women: never a card in the viewers' feeds)."""
        friend = next(self.ids)
        self.accounts.register(friend, friend, "en", None)
        assert self.accounts.accept_invitation(friend, code or self.code())
        if finishes:
            complete_profile(self.pool, user_id=friend, gender="f", seeking="f", city=CITY)
        return friend

    def code(self) -> str:
        return self.accounts.invite_code(self.inviter)

    def stored(self, user_id: int) -> tuple[float, float, bool]:
        """The inviter's feed key, the invitation boost in its components, its dirty flag."""
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT p.feed_score, r.components, r.dirty FROM ratings r
                   JOIN profiles p USING (user_id) WHERE user_id = %s""",
                (user_id,),
            ).fetchone()
        assert row is not None
        boost = float(row["components"]["combined"]["invitation_boost"])
        return float(row["feed_score"]), boost, bool(row["dirty"])

    def time_passes(self, hours: float) -> None:
        """Move every invitation, card shown and sweep ``hours`` into the past (so that no
        recent view is what makes the next sweep re-rate someone)."""
        with self.pool.connection() as conn:
            for table, column in (
                ("invitations", "counted_at"),
                ("interactions", "created_at"),
                ("sweep_runs", "started_at"),
            ):
                conn.execute(
                    f"UPDATE {table} SET {column} = {column} - %s * interval '1 hour'", (hours,)
                )


def test_a_counted_invitation_lifts_the_inviter_until_its_window_ends(
    database: tuple[db.Pool, str],
) -> None:
    """Without invitations the fuller rival comes first; a friend who finishes a profile
    flags the inviter's rating, the next sweep lifts the inviter above the rival; once the
    window is over, the next sweep takes the lift back."""
    world = World(*database)
    assert world.order_for_a_new_viewer() == [world.rival, world.inviter]

    world.friend(finishes=True)
    assert world.stored(world.inviter)[2], "the counted invitation flags the inviter's rating"
    world.sweep()
    key, boost, _ = world.stored(world.inviter)
    assert boost == pytest.approx(ranking.INVITATION_BOOST, abs=1e-3)
    assert key > world.stored(world.rival)[0]
    assert world.order_for_a_new_viewer() == [world.inviter, world.rival]
    world.sweep()  # the views just recorded are behind this sweep

    # The last sweep ran hours ago, the invitation's window ended an hour ago, and nothing
    # else happened to the inviter since: the sweep re-rates them for the window alone.
    world.time_passes(ranking.INVITATION_BOOST_DAYS * 24 + 1)
    world.sweep()
    key, boost, _ = world.stored(world.inviter)
    assert boost == 0.0
    assert key < world.stored(world.rival)[0]
    assert world.order_for_a_new_viewer() == [world.rival, world.inviter]


def test_self_invites_and_invitees_who_never_finish_lift_nothing(
    database: tuple[db.Pool, str],
) -> None:
    """The inviter's own link records nothing; a farm of accounts that open the link and
    never finish a profile counts nothing, flags nothing and leaves the order as it was."""
    world = World(*database)
    before = world.stored(world.inviter)[0]
    assert not world.accounts.accept_invitation(world.inviter, world.code())
    for _ in range(5):
        world.friend(finishes=False)
    assert not world.stored(world.inviter)[2]
    world.ratings.recompute([world.inviter])  # what any later sweep would compute
    key, boost, _ = world.stored(world.inviter)
    assert boost == 0.0
    assert key == pytest.approx(before, abs=1e-3)
    assert world.order_for_a_new_viewer() == [world.rival, world.inviter]


def test_invitations_past_the_cap_per_period_count_nothing(
    database: tuple[db.Pool, str],
) -> None:
    """Of many friends finishing within a period only INVITATIONS_PER_PERIOD count, and
    together they lift the inviter by no more than INVITATION_BOOST_MAX; a period later,
    invitations count again."""
    world = World(*database)
    friends = [world.friend(finishes=True) for _ in range(ranking.INVITATIONS_PER_PERIOD + 3)]
    with world.pool.connection() as conn:
        row = conn.execute(
            """SELECT count(*) FILTER (WHERE counted_at IS NOT NULL) AS counted,
                      count(*) FILTER (WHERE completed_at IS NOT NULL) AS finished
               FROM invitations WHERE inviter_id = %s""",
            (world.inviter,),
        ).fetchone()
    assert row is not None
    assert (row["counted"], row["finished"]) == (ranking.INVITATIONS_PER_PERIOD, len(friends))
    assert world.accounts.invitations_counted(world.inviter) == len(friends)
    world.sweep()
    assert world.stored(world.inviter)[1] == pytest.approx(ranking.INVITATION_BOOST_MAX)

    world.time_passes(ranking.INVITATION_PERIOD_DAYS * 24 + 1)
    world.friend(finishes=True)
    world.sweep()
    assert world.stored(world.inviter)[1] == pytest.approx(ranking.INVITATION_BOOST, abs=1e-3)
