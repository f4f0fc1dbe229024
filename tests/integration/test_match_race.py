"""Two people liking each other at the same instant make exactly one match (real PostgreSQL)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

from storage import db
from storage.accounts import Accounts
from storage.likes import LikeResult, Likes, LikeStatus
from tests.support.profiles import shown

ROUNDS = 60
_ids = itertools.count(7_100_000_001)


def complete_user(accounts: Accounts, gender: str, seeking: str) -> int:
    """A finished profile with one photo, straight in the database."""
    user_id = next(_ids)
    accounts.register(user_id, user_id, "en", None)
    accounts.update_profile(
        user_id,
        name="Race",
        age=30,
        gender=gender,
        seeking=seeking,
        age_min=18,
        age_max=99,
        city="Racetown",
        city_key="racetown",
    )
    accounts.add_photo(
        user_id, f"race/{user_id}", "file-race", f"unique-{user_id}", "image/jpeg", 10
    )
    accounts.set_onboarding_step(user_id, None)
    return user_id


def like_at_once(likes: Likes, first: int, second: int) -> list[LikeResult]:
    """Both like each other from two threads released by one barrier."""
    barrier = threading.Barrier(2)
    results: list[LikeResult] = []
    lock = threading.Lock()

    def press(actor: int, target: int) -> None:
        barrier.wait()
        result = likes.like(actor, target, None, daily_limit=100, notice_minutes=10)
        with lock:
            results.append(result)

    threads = [
        threading.Thread(target=press, args=pair) for pair in ((first, second), (second, first))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_simultaneous_likes_make_exactly_one_match(pool: db.Pool) -> None:
    """In every one of many rounds of a simultaneous mutual like, one match row is created and
    exactly one of the two likes reports having created it (so one pair of notices goes out)."""
    accounts, likes = Accounts(pool), Likes(pool)
    creators: Counter[int] = Counter()
    for _ in range(ROUNDS):
        woman, man = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
        shown(pool, (woman, man), (man, woman))
        results = like_at_once(likes, woman, man)
        assert len(results) == 2
        assert {result.status for result in results} <= {LikeStatus.LIKED, LikeStatus.MATCHED}
        assert any(result.status is LikeStatus.MATCHED for result in results)
        creators[sum(result.match_created for result in results)] += 1
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM matches WHERE user_low = %s AND user_high = %s",
                (min(woman, man), max(woman, man)),
            ).fetchone()
        assert row is not None and row["n"] == 1
    assert creators == Counter({1: ROUNDS})


def test_repeated_like_is_recorded_once(pool: db.Pool) -> None:
    """Pressing ❤️ again changes nothing: the like stays one row and is reported as known."""
    accounts, likes = Accounts(pool), Likes(pool)
    woman, man = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
    shown(pool, (woman, man))
    first = likes.like(woman, man, "hi", daily_limit=100, notice_minutes=10)
    again = likes.like(woman, man, "hi again", daily_limit=100, notice_minutes=10)
    assert (first.status, again.status) == (LikeStatus.LIKED, LikeStatus.ALREADY_LIKED)
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT message FROM interactions WHERE actor_id = %s "
            "AND kind = 'like' AND target_id = %s",
            (woman, man),
        ).fetchall()
    assert [row["message"] for row in rows] == ["hi"]


def test_a_like_that_made_a_match_tells_of_it_again_for_a_day(pool: db.Pool) -> None:
    """The like that made a match, handled again, reports the match (not made by this call),
    so that it is told even if the first handling died before telling; once the match is a
    day old, the repeat is only a known like."""
    accounts, likes = Accounts(pool), Likes(pool)
    woman, man = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
    shown(pool, (woman, man), (man, woman))
    likes.like(woman, man, None, daily_limit=100, notice_minutes=10)
    made = likes.like(man, woman, None, daily_limit=100, notice_minutes=10)
    again = likes.like(man, woman, None, daily_limit=100, notice_minutes=10)
    assert (made.status, made.match_created) == (LikeStatus.MATCHED, True)
    assert (again.status, again.match_created) == (LikeStatus.MATCHED, False)
    assert again.target is not None and again.target.user_id == woman
    with pool.connection() as conn:
        conn.execute(
            "UPDATE matches SET created_at = now() - interval '25 hours' "
            "WHERE user_low = %s AND user_high = %s",
            (min(woman, man), max(woman, man)),
        )
    later = likes.like(man, woman, None, daily_limit=100, notice_minutes=10)
    assert later.status is LikeStatus.ALREADY_LIKED


def test_like_for_someone_never_shown_is_refused(pool: db.Pool) -> None:
    """A like for a profile that was never served to the liker is refused and not stored."""
    accounts, likes = Accounts(pool), Likes(pool)
    woman, man = complete_user(accounts, "f", "m"), complete_user(accounts, "m", "f")
    result = likes.like(woman, man, None, daily_limit=100, notice_minutes=10)
    assert result.status is LikeStatus.NOT_SHOWN
    with pool.connection() as conn:
        assert (
            conn.execute(
                "SELECT 1 FROM interactions WHERE actor_id = %s AND kind = 'like'", (woman,)
            ).fetchone()
            is None
        )
