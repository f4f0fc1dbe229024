"""Safety in PostgreSQL: blocks, reports, the moderators' cases and bans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from domain.discovery import ProfileCard, ReportLine
from domain.reports import HideDecision, Reporter, should_hide
from storage import _rules as rules
from storage.db import Pool

# A ban under the user's safety key (schema.sql: safety_bans), with the reason of the oldest
# open or just reviewed report (a ban by /ban without reports: "other").
_KEEP_BAN = """
    INSERT INTO safety_bans (subject_key, reason, banned_by)
    SELECT u.safety_key, coalesce((SELECT reason FROM reports WHERE reported_id = u.id
                                   ORDER BY status = 'open' DESC, created_at LIMIT 1), 'other'),
           %(by)s
    FROM users u WHERE u.id = %(user)s AND u.safety_key IS NOT NULL
    ON CONFLICT (subject_key) DO UPDATE SET reason = EXCLUDED.reason,
        banned_by = EXCLUDED.banned_by, banned_at = now(), lifted_at = NULL"""
_LIFT_BAN = """
    UPDATE safety_bans SET lifted_at = now()
    WHERE subject_key = (SELECT safety_key FROM users WHERE id = %(user)s) AND lifted_at IS NULL"""


@dataclass(frozen=True, slots=True)
class ReportCase:
    card: ProfileCard
    reports: list[ReportLine]
    hidden: bool
    weight: HideDecision


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    recorded: bool
    hidden_now: bool = False  # this report hid the profile: the moderators are told at once


# The reporters of the open reports against a profile, with what their weight depends on
# (domain.reports.Reporter): active days are days with a like or skip given, a relayed message
# or the profile's last edit; the track record is kept under the safety key.
_OPEN_REPORTERS = """
    SELECT u.id AS user_id, u.created_at,
           (SELECT count(DISTINCT day) FROM (
                SELECT i.created_at::date AS day FROM interactions i
                WHERE i.actor_id = u.id AND i.kind IN ('like', 'skip')
                UNION SELECT c.created_at::date FROM chat_messages c WHERE c.sender_id = u.id
                UNION SELECT p.updated_at::date FROM profiles p
                WHERE p.user_id = u.id AND p.completed_at IS NOT NULL) days) AS active_days,
           coalesce(rr.reports_upheld, 0) AS reports_upheld,
           coalesce(rr.reports_dismissed, 0) AS reports_dismissed
    FROM reports r JOIN users u ON u.id = r.reporter_id
    LEFT JOIN safety_reporter_records rr ON rr.reporter_key = u.safety_key
    WHERE r.reported_id = %s AND r.status = 'open'"""


def hiding_decision(conn: rules.Conn, reported: int) -> HideDecision:
    """Whether the open reports against ``reported`` weigh enough to hide the profile now."""
    rows = conn.execute(_OPEN_REPORTERS, (reported,)).fetchall()
    return should_hide([Reporter(**row) for row in rows], datetime.now(UTC))


def hide_if_credible(conn: rules.Conn, reported: int) -> bool:
    """Hide the profile if its open reports weigh enough; True when this hid it."""
    if not hiding_decision(conn, reported).hide:
        return False
    row = conn.execute(
        "UPDATE users SET is_hidden = true WHERE id = %s AND NOT is_hidden RETURNING id",
        (reported,),
    ).fetchone()
    return row is not None


class Safety:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def block(self, viewer_id: int, other_id: int) -> bool:
        """Block someone the viewer was shown or matched with: never shown to each other
        again and any match ends. False for a user the viewer never met (forged data)."""
        low, high = rules.pair(viewer_id, other_id)
        with self._pool.connection() as conn:
            if not rules.have_met(conn, viewer_id, other_id) or viewer_id == other_id:
                return False
            conn.execute(
                """INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s)
                            ON CONFLICT DO NOTHING""",
                (viewer_id, other_id),
            )
            conn.execute(
                """INSERT INTO safety_blocks (blocker_key, blocked_key)
                   SELECT a.safety_key, b.safety_key FROM users a, users b
                   WHERE a.id = %s AND b.id = %s
                     AND a.safety_key IS NOT NULL AND b.safety_key IS NOT NULL
                   ON CONFLICT DO NOTHING""",
                (viewer_id, other_id),
            )
            conn.execute(
                """UPDATE matches SET status = 'blocked', last_activity_at = now()
                   WHERE user_low = %s AND user_high = %s AND status <> 'blocked'""",
                (low, high),
            )
        return True

    def report(self, reporter: int, reported: int, reason: str) -> ReportOutcome:
        """Record a report of someone the reporter was shown or matched with (once per pair)
        and hide the profile when the open reports weigh enough (domain.reports). Not
        recorded for a user the reporter never met."""
        with self._pool.connection() as conn:
            if not rules.have_met(conn, reporter, reported) or reporter == reported:
                return ReportOutcome(recorded=False)
            # Serialise reports of one profile so the decision below sees every committed one.
            conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (reported,))
            conn.execute(
                """INSERT INTO reports (reporter_id, reported_id, reason) VALUES (%s, %s, %s)
                   ON CONFLICT ON CONSTRAINT reports_once_per_reporter DO NOTHING""",
                (reporter, reported, reason),
            )
            conn.execute(
                """INSERT INTO safety_open_reports (reported_key, reporter_key, reason)
                   SELECT d.safety_key, r.safety_key, %s FROM users d, users r
                   WHERE d.id = %s AND r.id = %s
                     AND d.safety_key IS NOT NULL AND r.safety_key IS NOT NULL
                   ON CONFLICT DO NOTHING""",
                (reason, reported, reporter),
            )
            return ReportOutcome(recorded=True, hidden_now=hide_if_credible(conn, reported))

    def comment_report(self, reporter: int, reported: int, comment: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                """UPDATE reports SET comment = %s WHERE reporter_id = %s AND reported_id = %s
                   AND status = 'open'""",
                (comment, reporter, reported),
            )

    def next_report_case(self, moderator_id: int) -> ReportCase | None:
        """The profile whose oldest open report waits longest, with all its open reports."""
        with self._pool.connection() as conn:
            head = conn.execute(
                """SELECT reported_id FROM reports WHERE status = 'open'
                   GROUP BY reported_id ORDER BY min(created_at) LIMIT 1"""
            ).fetchone()
            if head is None:
                return None
            return _case(conn, moderator_id, int(head["reported_id"]))

    def case_of(self, moderator_id: int, reported: int) -> ReportCase | None:
        """The open reports against one profile (to tell the moderators of a hide)."""
        with self._pool.connection() as conn:
            return _case(conn, moderator_id, reported)

    def resolve_reports(self, moderator_id: int, reported: int, ban: bool) -> bool:
        """Ban the profile or dismiss its open reports (which shows it again); False if it
        had no open report (already reviewed)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """UPDATE reports SET status = %s, reviewed_by = %s, reviewed_at = now()
                   WHERE reported_id = %s AND status = 'open' RETURNING id""",
                ("banned" if ban else "dismissed", moderator_id, reported),
            ).fetchall()
            if not rows:
                return False
            # The reporters' track records weigh their later reports (domain.reports).
            conn.execute(
                f"""INSERT INTO safety_reporter_records AS rr
                        (reporter_key, reports_upheld, reports_dismissed)
                    SELECT u.safety_key, {int(ban)}, {int(not ban)}
                    FROM reports r JOIN users u ON u.id = r.reporter_id
                    WHERE r.id = ANY(%s) AND u.safety_key IS NOT NULL
                    ON CONFLICT (reporter_key) DO UPDATE
                    SET reports_upheld = rr.reports_upheld + EXCLUDED.reports_upheld,
                        reports_dismissed = rr.reports_dismissed + EXCLUDED.reports_dismissed""",
                ([row["id"] for row in rows],),
            )
            # Reviewed: the kept copy of the open reports goes (schema.sql).
            conn.execute(
                """DELETE FROM safety_open_reports
                   WHERE reported_key = (SELECT safety_key FROM users WHERE id = %s)""",
                (reported,),
            )
            if ban:
                conn.execute("UPDATE users SET is_banned = true WHERE id = %s", (reported,))
                conn.execute(_KEEP_BAN, {"user": reported, "by": moderator_id})
            else:
                conn.execute("UPDATE users SET is_hidden = false WHERE id = %s", (reported,))
        return True

    def set_banned(self, user_id: int, banned: bool, moderator_id: int) -> bool:
        """Ban or unban (which also lifts hiding by reports); False for an unknown user. A ban
        is kept under the user's safety key, so it outlives the account."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE users SET is_banned = %(banned)s,
                          is_hidden = CASE WHEN %(banned)s THEN is_hidden ELSE false END
                   WHERE id = %(user)s RETURNING id""",
                {"banned": banned, "user": user_id},
            ).fetchone()
            if row is not None:
                conn.execute(
                    _KEEP_BAN if banned else _LIFT_BAN, {"user": user_id, "by": moderator_id}
                )
        return row is not None


def _case(conn: rules.Conn, moderator_id: int, reported: int) -> ReportCase | None:
    row = conn.execute(
        f"""SELECT {rules.CARD_COLUMNS}, u.is_hidden FROM profiles p
            JOIN users u ON u.id = p.user_id WHERE p.user_id = %(user)s""",
        {"viewer": moderator_id, "user": reported},
    ).fetchone()
    if row is None:
        return None
    lines = conn.execute(
        """SELECT reason, comment FROM reports WHERE reported_id = %s AND status = 'open'
           ORDER BY created_at""",
        (reported,),
    ).fetchall()
    return ReportCase(
        rules.card_of(row),
        [ReportLine(**line) for line in lines],
        bool(row["is_hidden"]),
        hiding_decision(conn, reported),
    )
