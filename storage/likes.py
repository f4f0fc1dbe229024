"""Likes in PostgreSQL: a like once (and the match when it is mutual), the batched
"someone likes you" notices, and the likes received that wait for an answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from domain.activity import AWAY_NOTICE_EVERY
from domain.discovery import LikeMedia, Party, ProfileCard
from storage import _rules as rules
from storage._rules import Conn
from storage.db import Pool

LIKE_WINDOW: Final = timedelta(days=1)
PAIR_LOCK_PREFIX: Final = "pair"
# A like handled again within this time after its match was made tells of the match again: a
# node may have died between committing the match and telling of it, and updates are given out
# again only within Telegram's 24 hours. The other's notice is sent once whatever happens (its
# send key lives in the reply journal for 26 hours).
RETELL_MATCH_WITHIN: Final = timedelta(hours=24)

# Who liked the viewer and got no answer yet: still visible, no block or match, and not
# skipped by the viewer since the like.
_PENDING_LIKERS = f"""FROM interactions l
    JOIN profiles p ON p.user_id = l.actor_id JOIN users u ON u.id = l.actor_id
    WHERE l.target_id = %(viewer)s AND l.kind = 'like' AND {rules.VISIBLE} AND {rules.NOT_BLOCKED}
      AND {rules.NOT_MATCHED}
      AND NOT EXISTS (SELECT 1 FROM interactions sk WHERE sk.actor_id = %(viewer)s
                      AND sk.kind = 'skip' AND sk.target_id = p.user_id
                      AND sk.created_at >= l.created_at)"""


# The liked person as the like's rules read them. Someone paused for inactivity
# (domain.activity) left the feed, but a card of theirs served before still takes a like: it
# waits for their return, and they hear of it (Likes.like's away notice).
_TARGET = """(SELECT id, onboarding_step, is_banned, is_inactive, is_hidden, away_since,
                     is_paused AND away_since IS NULL AS is_paused
              FROM users WHERE id = %(target)s) u"""


class LikeStatus(StrEnum):
    LIKED = "liked"
    MATCHED = "matched"
    ALREADY_LIKED = "already_liked"
    NOT_SHOWN = "not_shown"  # never served to the liker: forged or foreign data
    UNAVAILABLE = "unavailable"  # hidden, blocked, or the pair was matched before
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True, slots=True)
class LikeResult:
    status: LikeStatus
    target: Party | None = None
    # True: this call made the match. False with MATCHED: an earlier handling of the same like
    # made it, and it is told again (Likes.like).
    match_created: bool = False
    notice_count: int = 0  # > 0: send the "someone likes you" notice now
    away_count: int = 0  # > 0: the liked person is away; send "N liked you while you were away"


def _pending_like_count(conn: Conn, user_id: int) -> int:
    row = conn.execute(f"SELECT count(*) AS n {_PENDING_LIKERS}", {"viewer": user_id}).fetchone()
    return int(row["n"]) if row else 0


def _away_notice_count(conn: Conn, user_id: int) -> int:
    """Claim the away person's notice if none went out for AWAY_NOTICE_EVERY: the likes
    waiting that came since they were last active; 0 when the notice is not due."""
    claimed = conn.execute(
        """UPDATE users SET away_noticed_at = now()
           WHERE id = %s AND away_since IS NOT NULL
             AND (away_noticed_at IS NULL OR away_noticed_at <= now() - %s::interval)
           RETURNING last_active_at""",
        (user_id, AWAY_NOTICE_EVERY),
    ).fetchone()
    if claimed is None:
        return 0
    row = conn.execute(
        f"SELECT count(*) AS n {_PENDING_LIKERS} AND l.created_at > %(since)s",
        {"viewer": user_id, "since": claimed["last_active_at"]},
    ).fetchone()
    return int(row["n"]) if row else 0


class Likes:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def like(
        self,
        actor: int,
        target: int,
        message: str | None,
        *,
        daily_limit: int,
        notice_minutes: int,
        media: LikeMedia | None = None,
    ) -> LikeResult:
        """Record a like once, and the match when the like is mutual.

        The pair's advisory lock serialises the two likes of a pair, so of two people liking
        each other at the same instant (on any nodes) the second sees the first's like and
        makes the match; the unique pair makes sure there is only one."""
        low, high = rules.pair(actor, target)
        with self._pool.connection() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"{PAIR_LOCK_PREFIX}:{low}:{high}",),
            )
            if not rules.was_shown(conn, actor, target):
                return LikeResult(LikeStatus.NOT_SHOWN)
            params = {"viewer": actor, "target": target}
            available = conn.execute(
                f"""SELECT u.away_since IS NOT NULL AS away FROM profiles p
                    JOIN {_TARGET} ON u.id = p.user_id
                    WHERE p.user_id = %(target)s AND {rules.SELF} AND {rules.VISIBLE}
                      AND {rules.NOT_BLOCKED}""",
                params,
            ).fetchone()
            if available is None:
                return LikeResult(LikeStatus.UNAVAILABLE)
            target_party = rules.party_of(conn, target)
            if conn.execute(
                """SELECT 1 FROM interactions WHERE actor_id = %(viewer)s
                               AND kind = 'like' AND target_id = %(target)s""",
                params,
            ).fetchone():
                # The same like handled again (its node died after committing it): the match
                # it made is told again, the other's notice once per pair (its send key).
                if conn.execute(
                    """SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s
                           AND status = 'active' AND created_at > now() - %s::interval""",
                    (low, high, RETELL_MATCH_WITHIN),
                ).fetchone():
                    return LikeResult(LikeStatus.MATCHED, target_party)
                return LikeResult(LikeStatus.ALREADY_LIKED, target_party)
            if rules.ever_matched(conn, actor, target):
                return LikeResult(LikeStatus.UNAVAILABLE)
            given = conn.execute(
                """SELECT count(*) AS n FROM interactions WHERE actor_id = %s AND kind = 'like'
                   AND created_at > now() - %s::interval""",
                (actor, LIKE_WINDOW),
            ).fetchone()
            if given is not None and given["n"] >= daily_limit:
                return LikeResult(LikeStatus.LIMIT_REACHED, target_party)
            conn.execute(
                """INSERT INTO interactions (actor_id, target_id, kind, message, message_kind,
                                             message_file_id)
                   VALUES (%s, %s, 'like', %s, %s, %s) ON CONFLICT DO NOTHING""",
                (
                    actor,
                    target,
                    message,
                    media.kind if media else None,
                    media.file_id if media else None,
                ),
            )
            if conn.execute(
                """SELECT 1 FROM interactions WHERE actor_id = %(target)s
                               AND kind = 'like' AND target_id = %(viewer)s""",
                params,
            ).fetchone():
                created = conn.execute(
                    """INSERT INTO matches (user_low, user_high) VALUES (%s, %s)
                       ON CONFLICT ON CONSTRAINT matches_pair_unique DO NOTHING RETURNING id""",
                    (low, high),
                ).fetchone()
                return LikeResult(LikeStatus.MATCHED, target_party, created is not None)
            if available["away"]:
                return LikeResult(
                    LikeStatus.LIKED, target_party, away_count=_away_notice_count(conn, target)
                )
            conn.execute(
                """INSERT INTO like_notices (user_id, pending) VALUES (%s, true)
                   ON CONFLICT (user_id) DO UPDATE SET pending = true""",
                (target,),
            )
            claimed = conn.execute(
                """UPDATE like_notices SET pending = false, last_sent_at = now()
                   WHERE user_id = %s AND pending
                     AND (last_sent_at IS NULL OR last_sent_at <= now() - %s::interval)
                   RETURNING user_id""",
                (target, timedelta(minutes=notice_minutes)),
            ).fetchone()
            count = _pending_like_count(conn, target) if claimed else 0
        return LikeResult(LikeStatus.LIKED, target_party, notice_count=count)

    def due_like_notices(self, notice_minutes: int) -> list[tuple[Party, int]]:
        """Claim every batched like notice whose quiet time is over (each claimed by exactly
        one caller, on whichever node): the recipient and the number waiting."""
        with self._pool.connection() as conn:
            # A row an update is writing right now (its fence holds the lock until it
            # commits) is left to the next claim: waiting on it would hold the matcher actor
            # that update may be about to call (storage.fence).
            rows = conn.execute(
                """UPDATE like_notices SET pending = false, last_sent_at = now()
                   WHERE user_id IN (
                       SELECT user_id FROM like_notices
                       WHERE pending
                         AND (last_sent_at IS NULL OR last_sent_at <= now() - %s::interval)
                         AND user_id NOT IN (SELECT id FROM users WHERE away_since IS NOT NULL)
                       FOR UPDATE SKIP LOCKED)
                   RETURNING user_id""",
                (timedelta(minutes=notice_minutes),),
            ).fetchall()
            due: list[tuple[Party, int]] = []
            for row in rows:
                party = rules.party_of(conn, row["user_id"])
                count = _pending_like_count(conn, row["user_id"])
                if party and count and not (party.is_banned or party.is_inactive):
                    due.append((party, count))
        return due

    # -- likes received -------------------------------------------------------------------

    def next_liker(self, viewer_id: int) -> tuple[ProfileCard, int] | None:
        """The longest-waiting person who liked the viewer and got no answer yet (recorded as
        shown, so the answer is accepted), and how many more are waiting."""
        params = {"viewer": viewer_id}
        with self._pool.connection() as conn:
            row = conn.execute(
                f"""SELECT {rules.CARD_COLUMNS} {_PENDING_LIKERS}
                    ORDER BY l.created_at LIMIT 1""",
                params,
            ).fetchone()
            if row is None:
                return None
            rules.record(conn, viewer_id, int(row["user_id"]), "view")
            waiting = _pending_like_count(conn, viewer_id)
        return rules.card_of(row), waiting - 1
