"""Rating sweeps against real PostgreSQL: values, history, one run per firing, resumption."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.ranking import BehaviourStats, behaviour_score
from storage import db, ratings
from storage.accounts import Accounts
from storage.ratings import Ratings, SweepOutcome
from tests.support.profiles import complete_profile
from tests.support.services import postgres_database

SLOT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def database() -> Iterator[tuple[db.Pool, str]]:
    """A database of its own: sweeps read every profile and every sweep_runs row."""
    with postgres_database("dating_ratings") as url:
        pool = db.create_pool(url, max_size=6, name="ratings-tests")
        db.apply_schema(pool)
        yield pool, url
        pool.close()


def make_people(pool: db.Pool, count: int, start: int = 1000) -> list[int]:
    """Complete profiles: half women seeking men, half men seeking women, one photo each."""
    return [
        complete_profile(
            pool,
            user_id=start + n,
            gender="f" if n % 2 else "m",
            seeking="m" if n % 2 else "f",
            city="Moscow",
            age=25 + n % 10,
            name=f"P{n}",
            age_min=18,
            age_max=60,
            about="x" * (n * 10 % 200),
            interests=["music", "books"][: n % 3],
        )
        for n in range(count)
    ]


def like(pool: db.Pool, actor: int, target: int, kind: str = "like", days_ago: float = 0) -> None:
    with pool.connection() as conn:
        conn.execute(
            """INSERT INTO interactions (actor_id, target_id, kind, created_at)
                        VALUES (%s, %s, %s, now() - %s * interval '1 day')""",
            (actor, target, kind, days_ago),
        )


def stored(pool: db.Pool, user_id: int) -> dict[str, object]:
    with pool.connection() as conn:
        row = conn.execute(
            """SELECT r.primary_score, r.behaviour_score, r.combined_score, r.components,
                      r.dirty, p.feed_score
               FROM ratings r JOIN profiles p USING (user_id) WHERE r.user_id = %s""",
            (user_id,),
        ).fetchone()
    assert row is not None
    return dict(row)


class TestSweep:
    def test_full_sweep_writes_ratings_history_and_feed_key(
        self, database: tuple[db.Pool, str]
    ) -> None:
        """A full sweep rates every profile as domain.ranking says and keeps a history row."""
        pool, url = database
        people = make_people(pool, 6)
        for liker in people[1:]:
            like(pool, liker, people[0])
        like(pool, people[1], people[2], "skip")
        outcome = Ratings(pool, url).sweep("full", SLOT, "node-a")
        assert outcome.sweep_id is not None and outcome.processed == 6
        with pool.connection() as conn:
            history = conn.execute(
                "SELECT count(*) AS n FROM rating_history WHERE sweep_id = %s", (outcome.sweep_id,)
            ).fetchone()
            run = conn.execute(
                "SELECT status, processed FROM sweep_runs WHERE id = %s", (outcome.sweep_id,)
            ).fetchone()
        assert history is not None and history["n"] == 6
        assert run is not None and (run["status"], run["processed"]) == ("done", 6)
        liked, skipped = stored(pool, people[0]), stored(pool, people[2])
        assert liked["feed_score"] == liked["combined_score"]
        assert liked["dirty"] is False
        components = liked["components"]
        assert isinstance(components, dict)
        assert components["evidence"] == pytest.approx(5, rel=1e-3)
        assert float(liked["behaviour_score"]) > float(skipped["behaviour_score"])  # type: ignore[arg-type]

    def test_stored_values_match_the_pure_formulas(self, database: tuple[db.Pool, str]) -> None:
        """What the sweep stores equals storage.ratings.score over the same inputs."""
        pool, url = database
        person = make_people(pool, 1)[0]
        Ratings(pool, url).sweep("full", SLOT, "node-a")
        with pool.connection() as conn:
            expected = Ratings(pool, url).rate(
                conn, [person], Ratings(pool, url).priors(), datetime.now(UTC)
            )[0]
        assert expected.behaviour == pytest.approx(behaviour_score(BehaviourStats())[0])
        row = stored(pool, person)
        assert row["primary_score"] == pytest.approx(expected.primary)
        assert row["combined_score"] == pytest.approx(expected.combined, abs=1e-3)

    def test_incremental_sweep_takes_only_changed_profiles(
        self, database: tuple[db.Pool, str]
    ) -> None:
        """After a full sweep, the next incremental one rates only people touched since."""
        pool, url = database
        people = make_people(pool, 5)
        sweeps = Ratings(pool, url)
        assert sweeps.sweep("incremental", SLOT, "a").processed == 5  # first ever: everyone
        like(pool, people[3], people[4])
        later = sweeps.sweep("incremental", SLOT + timedelta(minutes=5), "a")
        assert later.processed == 2

    def test_recompute_after_a_profile_change(self, database: tuple[db.Pool, str]) -> None:
        """Rating one user right away updates their row and feed key, without history."""
        pool, url = database
        person = make_people(pool, 1)[0]
        before = stored(pool, person)
        Accounts(pool).update_profile(
            person, about="a" * 400, interests=["music", "books", "travel", "art", "yoga"]
        )
        Ratings(pool, url).recompute([person])
        after = stored(pool, person)
        assert float(after["primary_score"]) > float(before["primary_score"])  # type: ignore[arg-type]
        assert after["feed_score"] == after["combined_score"]


class TestFirings:
    def test_two_nodes_firing_together_run_one_sweep(self, database: tuple[db.Pool, str]) -> None:
        """Two schedulers firing the same slot at once: exactly one sweep runs."""
        pool, url = database
        make_people(pool, 4)
        for attempt in range(5):
            slot = SLOT + timedelta(minutes=5 * attempt)
            start = threading.Barrier(2)
            outcomes: list[SweepOutcome] = []

            def fire(
                node: str,
                slot: datetime = slot,
                start: threading.Barrier = start,
                outcomes: list[SweepOutcome] = outcomes,
            ) -> None:
                sweeps = Ratings(pool, url)
                start.wait()
                outcomes.append(sweeps.sweep("incremental", slot, node))

            threads = [threading.Thread(target=fire, args=(node,)) for node in ("a", "b")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            ran = [outcome for outcome in outcomes if outcome.sweep_id is not None]
            assert len(outcomes) == 2 and len(ran) == 1
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT kind, slot, count(*) AS n FROM sweep_runs "
                "GROUP BY kind, slot HAVING count(*) > 1"
            ).fetchall()
        assert rows == []

    def test_a_late_node_does_not_repeat_a_finished_firing(
        self, database: tuple[db.Pool, str]
    ) -> None:
        """A node whose clock fires after the firing already ran does nothing."""
        pool, url = database
        make_people(pool, 2)
        assert Ratings(pool, url).sweep("full", SLOT, "a").sweep_id is not None
        assert Ratings(pool, url).sweep("full", SLOT, "b") == SweepOutcome(None, 0, False)

    def test_a_killed_sweep_is_resumed(
        self, database: tuple[db.Pool, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sweep that dies after its first batch is resumed by the next firing, where it
        stopped, and every profile ends with exactly one history row of that sweep."""
        pool, url = database
        people = make_people(pool, 7)
        monkeypatch.setattr(ratings, "BATCH_SIZE", 3)

        def die(processed: int) -> None:
            raise RuntimeError(f"node killed after {processed}")

        with pytest.raises(RuntimeError, match="killed after 3"):
            Ratings(pool, url).sweep("full", SLOT, "a", after_batch=die)
        with pool.connection() as conn:
            run = conn.execute("SELECT id, status, cursor_user FROM sweep_runs").fetchone()
        assert run is not None and run["status"] == "running"
        assert run["cursor_user"] == people[2]
        resumed = Ratings(pool, url).sweep("full", SLOT + timedelta(days=1), "b")
        assert resumed.resumed and resumed.sweep_id == run["id"] and resumed.processed == 7
        with pool.connection() as conn:
            per_user = conn.execute(
                """SELECT count(*) AS n, count(DISTINCT user_id) AS users
                                       FROM rating_history WHERE sweep_id = %s""",
                (run["id"],),
            ).fetchone()
        assert per_user is not None and per_user["n"] == per_user["users"] == 7
