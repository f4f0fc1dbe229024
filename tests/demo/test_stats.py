"""/stats: deployment-wide counts for moderators (ADMIN_IDS), the unknown-command answer for
everyone else, and the queries behind it (storage/stats.py)."""

from __future__ import annotations

import itertools
from dataclasses import asdict

from config.i18n import t
from devtools.seed import SeededProfile
from sandbox.client import SandboxClient
from storage import db
from storage.accounts import Accounts
from storage.stats import Stats, Totals
from tests.support.stack import NodeThread

_ids = itertools.count(9_100_000_001)


def stats_text(language: str, totals: Totals) -> str:
    return t(language, "admin.stats", **asdict(totals))


class TestCommand:
    def test_an_admin_gets_the_counts(
        self,
        demo_node: NodeThread,
        demo_sandbox: SandboxClient,
        admin_id: int,
        demo_pool: db.Pool,
        seeded: list[SeededProfile],
    ) -> None:
        """/stats from an id in ADMIN_IDS answers with the counts the database holds."""
        admin = demo_sandbox.user(admin_id)
        admin.mark_read()
        admin.send_text("/stats")
        answer = admin.wait_for_message()
        totals = Stats(demo_pool).totals()  # nothing else happens meanwhile: still the same
        assert answer.text == stats_text("en", totals)
        assert totals.users > len(seeded) and totals.completed >= len(seeded)

    def test_anyone_else_gets_the_unknown_command_answer(
        self, demo_node: NodeThread, demo_sandbox: SandboxClient
    ) -> None:
        """/stats from a user who is not an admin is answered like any unknown command."""
        user = demo_sandbox.create_user("Curious")
        user.send_text("/start")
        user.wait_for_messages(1)  # the welcome and the first question
        user.send_text("/stats")
        assert user.wait_for_message().text == t("en", "common.unknown_command")


class TestQueries:
    def test_totals_count_what_happened(self, demo_pool: db.Pool) -> None:
        """A registration, likes, a match and a report each move their count; an unfinished
        profile counts as a user but not as completed; a user who blocked the bot is not
        active."""
        stats, accounts = Stats(demo_pool), Accounts(demo_pool)
        before = stats.totals()
        anna, boris, carl = next(_ids), next(_ids), next(_ids)
        for user_id in (anna, boris, carl):
            accounts.register(user_id, user_id, "en", None)
        for user_id in (anna, boris):
            accounts.set_onboarding_step(user_id, None)
        accounts.set_inactive(carl, True)
        with demo_pool.connection() as conn:
            conn.execute(
                """INSERT INTO interactions (actor_id, target_id, kind)
                            VALUES (%s, %s, 'like'), (%s, %s, 'like'), (%s, %s, 'view')""",
                (anna, boris, boris, anna, carl, anna),
            )
            conn.execute("INSERT INTO matches (user_low, user_high) VALUES (%s, %s)", (anna, boris))
            conn.execute(
                """INSERT INTO reports (reporter_id, reported_id, reason)
                            VALUES (%s, %s, 'spam'), (%s, %s, 'fake')""",
                (anna, carl, boris, carl),
            )
        after = stats.totals()
        assert after.users == before.users + 3
        assert after.completed == before.completed + 2
        assert after.active == before.active + 2
        assert (after.likes, after.likes_recent) == (before.likes + 2, before.likes_recent + 2)
        assert (after.matches, after.matches_active) == (
            before.matches + 1,
            before.matches_active + 1,
        )
        assert after.reports_open == before.reports_open + 2
        assert after.reported_profiles == before.reported_profiles + 1
        assert stats.active_users() == after.active

    def test_every_count_has_its_place_in_both_languages(self) -> None:
        """The catalog text names every field of Totals, in English and in Russian."""
        totals = Totals(*range(1, 10))
        for language in ("en", "ru"):
            text = stats_text(language, totals)
            assert all(str(number) in text for number in range(1, 10)), text
