"""People who become visible are served to compatible viewers on their very next card: mid-pass
and after the pass ran dry, whether they finished their profile, resumed from a pause or
changed so that they now fit; people who liked the viewer still come first (real PostgreSQL,
the real feed)."""

from __future__ import annotations

from storage import db
from storage.accounts import Account, Accounts
from storage.feed import Feed
from tests.support.profiles import complete_profile, unique_city


def man(pool: db.Pool, city: str, age_max: int = 45) -> int:
    return complete_profile(pool, gender="m", seeking="f", city=city, age_max=age_max)


def woman(pool: db.Pool, city: str) -> Account:
    found = Accounts(pool).get(complete_profile(pool, gender="f", seeking="m", city=city))
    assert found is not None
    return found


def next_id(feed: Feed, viewer: Account) -> int | None:
    card = feed.next_card(viewer)
    return None if card is None else card.card.user_id


def run_dry(feed: Feed, viewer: Account) -> list[int]:
    """Every card the viewer's pass holds now, until "That's everyone for now"."""
    shown: list[int] = []
    while (found := next_id(feed, viewer)) is not None:
        shown.append(found)
        assert len(shown) < 100
    return shown


def test_a_newcomer_is_the_next_card_mid_pass(pool: db.Pool) -> None:
    city = unique_city()
    waiting = {man(pool, city) for _ in range(25)}
    feed, viewer = Feed(pool), woman(pool, city)
    assert next_id(feed, viewer) in waiting
    newcomer = man(pool, city)
    assert next_id(feed, viewer) == newcomer
    rest = run_dry(feed, viewer)
    assert newcomer not in rest
    assert len(rest) == 24


def test_a_newcomer_is_served_after_the_pass_ran_dry(pool: db.Pool) -> None:
    city = unique_city()
    early = {man(pool, city) for _ in range(2)}
    feed, viewer = Feed(pool), woman(pool, city)
    assert set(run_dry(feed, viewer)) == early
    assert next_id(feed, viewer) is None
    misfit = complete_profile(pool, gender="f", seeking="m", city=city)
    newcomer = man(pool, city)
    assert next_id(feed, viewer) == newcomer
    assert next_id(feed, viewer) is None
    assert misfit != newcomer


def test_someone_resumed_from_a_pause_is_served_next(pool: db.Pool) -> None:
    city = unique_city()
    accounts = Accounts(pool)
    paused = man(pool, city)
    accounts.set_paused(paused, True)
    other = man(pool, city)
    feed, viewer = Feed(pool), woman(pool, city)
    assert run_dry(feed, viewer) == [other]
    accounts.set_paused(paused, False)
    assert next_id(feed, viewer) == paused


def test_someone_back_from_being_away_is_served_next(pool: db.Pool) -> None:
    """Paused for inactivity by the maintenance sweep, then back: their next update resumes
    them, and they are the viewer's next card."""
    city = unique_city()
    accounts = Accounts(pool)
    away = man(pool, city)
    with pool.connection() as conn:
        conn.execute("UPDATE users SET is_paused = true, away_since = now() WHERE id = %s", (away,))
    feed, viewer = Feed(pool), woman(pool, city)
    assert run_dry(feed, viewer) == []
    back = accounts.get(away)
    assert back is not None
    assert accounts.touch(back, None)
    assert next_id(feed, viewer) == away


def test_someone_who_changed_so_that_they_now_fit_is_served_next(pool: db.Pool) -> None:
    """The viewer is 30; the candidate first wants 20 to 25, then widens to 20 to 40."""
    city = unique_city()
    picky = man(pool, city, age_max=25)
    feed, viewer = Feed(pool), woman(pool, city)
    assert run_dry(feed, viewer) == []
    Accounts(pool).update_profile(picky, age_max=40)
    assert next_id(feed, viewer) == picky


def test_a_liker_still_comes_before_a_newcomer(pool: db.Pool) -> None:
    city = unique_city()
    waiting = [man(pool, city) for _ in range(25)]
    feed, viewer = Feed(pool), woman(pool, city)
    first = next_id(feed, viewer)
    admirer = next(uid for uid in reversed(waiting) if uid != first)
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'like')",
            (admirer, viewer.id),
        )
    newcomer = man(pool, city)
    assert [next_id(feed, viewer), next_id(feed, viewer)] == [admirer, newcomer]
