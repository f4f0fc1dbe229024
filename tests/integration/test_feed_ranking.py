"""The feed follows the combined rating and reciprocity (real PostgreSQL, the real feed)."""

from __future__ import annotations

import json
import uuid

from storage import db
from storage.accounts import Account, Accounts
from storage.feed import Feed
from tests.support.profiles import complete_profile


def person(pool: db.Pool, city: str, gender: str, seeking: str) -> int:
    return complete_profile(
        pool,
        gender=gender,
        seeking=seeking,
        city=city,
        about="Hello there",
        interests=["music", "books"],
    )


def rate(
    pool: db.Pool,
    user_id: int,
    primary: float,
    behaviour: float,
    combined: float,
    give_rate: float = 0.3,
    evidence: float = 0.0,
) -> None:
    with pool.connection() as conn:
        conn.execute(
            """UPDATE ratings SET primary_score = %s, behaviour_score = %s,
                                  combined_score = %s, components = %s, dirty = false
               WHERE user_id = %s""",
            (
                primary,
                behaviour,
                combined,
                json.dumps({"evidence": evidence, "give_rate": give_rate}),
                user_id,
            ),
        )


def viewer(pool: db.Pool, city: str) -> Account:
    account = Accounts(pool).get(person(pool, city, "f", "m"))
    assert account is not None
    return account


def shown(feed: Feed, who: Account, count: int) -> list[int]:
    cards = [feed.next_card(who) for _ in range(count)]
    return [card.card.user_id for card in cards if card is not None]


class TestFeedOrder:
    def test_higher_combined_rating_comes_first(self, pool: db.Pool) -> None:
        """Equal candidates are shown in the order of their combined rating."""
        city = f"Ratingtown-{uuid.uuid4().hex[:8]}"
        low, middle, high = (person(pool, city, "m", "f") for _ in range(3))
        rate(pool, low, 0.2, 0.3, 0.25)
        rate(pool, middle, 0.5, 0.5, 0.5)
        rate(pool, high, 0.9, 0.8, 0.85)
        assert shown(Feed(pool), viewer(pool, city), 3) == [high, middle, low]

    def test_someone_who_liked_the_viewer_comes_early(self, pool: db.Pool) -> None:
        """A lower-rated candidate who already liked the viewer is shown before the others."""
        city = f"Ratingtown-{uuid.uuid4().hex[:8]}"
        admirer, star = person(pool, city, "m", "f"), person(pool, city, "m", "f")
        rate(pool, admirer, 0.3, 0.3, 0.3)
        rate(pool, star, 0.9, 0.9, 0.9)
        who = viewer(pool, city)
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'like')",
                (admirer, who.id),
            )
        assert shown(Feed(pool), who, 2) == [admirer, star]

    def test_likely_to_like_back_ranks_higher(self, pool: db.Pool) -> None:
        """Of two equally rated candidates, the one who likes people more readily (by
        evidence) comes first: reciprocity in the ranking."""
        city = f"Ratingtown-{uuid.uuid4().hex[:8]}"
        choosy, open_hearted = person(pool, city, "m", "f"), person(pool, city, "m", "f")
        rate(pool, choosy, 0.6, 0.5, 0.6, give_rate=0.05, evidence=200)
        rate(pool, open_hearted, 0.6, 0.5, 0.6, give_rate=0.7, evidence=200)
        assert shown(Feed(pool), viewer(pool, city), 2) == [open_hearted, choosy]

    def test_popular_profiles_do_not_take_every_impression(self, pool: db.Pool) -> None:
        """Of two equally rated candidates, the one already shown far more than the platform's
        average today comes second: the popularity cap is on in the real feed."""
        city = f"Ratingtown-{uuid.uuid4().hex[:8]}"
        popular, unseen = person(pool, city, "m", "f"), person(pool, city, "m", "f")
        rate(pool, popular, 0.6, 0.5, 0.6)
        rate(pool, unseen, 0.6, 0.5, 0.6)
        accounts = Accounts(pool)
        with pool.connection() as conn:
            for onlooker in range(popular + 1_000_000, popular + 1_000_040):
                accounts.register(onlooker, onlooker, "en", None)
                conn.execute(
                    "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'view')",
                    (onlooker, popular),
                )
            conn.execute("""INSERT INTO ranking_stats (name, value)
                            VALUES ('mean_recent_impressions', 1)
                            ON CONFLICT (name) DO UPDATE SET value = excluded.value""")
        try:
            assert shown(Feed(pool), viewer(pool, city), 2) == [unseen, popular]
        finally:
            with pool.connection() as conn:
                conn.execute("DELETE FROM ranking_stats WHERE name = 'mean_recent_impressions'")
