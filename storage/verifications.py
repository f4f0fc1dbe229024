"""Verification requests in PostgreSQL (issue 14): asked with a gesture, pending with the
video note, then approved (users.verified_at) or refused with a reason. Photos changed after an
approval put it back to pending (the schema's photos_unverify trigger)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.discovery import Party
from storage import _rules as rules
from storage.db import Pool


@dataclass(frozen=True, slots=True)
class Request:
    """The user's latest request: its status and the gesture asked for."""

    id: int
    status: str
    gesture: str


@dataclass(frozen=True, slots=True)
class Case:
    """A pending request as a moderator sees it: the video note next to the photos."""

    id: int
    user_id: int
    gesture: str
    video_file_id: str
    photo_file_ids: tuple[str, ...]
    name: str | None
    age: int | None


@dataclass(frozen=True, slots=True)
class Review:
    """A decision just taken: whom to tell and of what."""

    party: Party
    approved: bool
    reason: str | None


class Verifications:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def latest(self, user_id: int) -> Request | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                """SELECT id, status, gesture FROM verifications WHERE user_id = %s
                   ORDER BY id DESC LIMIT 1""",
                (user_id,),
            ).fetchone()
        return Request(int(row["id"]), row["status"], row["gesture"]) if row else None

    def ask(self, user_id: int, gesture: str) -> int:
        """A new request for this gesture; an open one (asked or pending) is superseded."""
        with self._pool.connection() as conn:
            conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
            conn.execute(
                """UPDATE verifications SET status = 'superseded'
                   WHERE user_id = %s AND status IN ('asked', 'pending')""",
                (user_id,),
            )
            row = conn.execute(
                "INSERT INTO verifications (user_id, gesture) VALUES (%s, %s) RETURNING id",
                (user_id, gesture),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def submit(self, user_id: int, video_file_id: str) -> bool:
        """The video note for the asked request; False when none is asked (any more)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE verifications SET status = 'pending', video_file_id = %s,
                                            submitted_at = now()
                   WHERE id = (SELECT max(id) FROM verifications WHERE user_id = %s)
                     AND status = 'asked' RETURNING id""",
                (video_file_id, user_id),
            ).fetchone()
        return row is not None

    def next_case(self) -> Case | None:
        """The longest-waiting pending request of a user still there."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """SELECT v.id, v.user_id, v.gesture, v.video_file_id, p.name, p.age,
                          coalesce((SELECT array_agg(ph.telegram_file_id ORDER BY ph.position)
                                    FROM photos ph WHERE ph.user_id = v.user_id), '{}')
                              AS photo_file_ids
                   FROM verifications v JOIN profiles p ON p.user_id = v.user_id
                   JOIN users u ON u.id = v.user_id
                   WHERE v.status = 'pending' AND NOT u.is_banned
                   ORDER BY v.submitted_at, v.id LIMIT 1"""
            ).fetchone()
        if row is None:
            return None
        return Case(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            gesture=row["gesture"],
            video_file_id=row["video_file_id"],
            photo_file_ids=tuple(row["photo_file_ids"]),
            name=row["name"],
            age=row["age"],
        )

    def review(
        self, request_id: int, moderator_id: int, approve: bool, reason: str | None
    ) -> Review | None:
        """Approve or refuse a pending request once; None when it is not pending (reviewed
        already, superseded by a newer one, or never there: a stale or forged button)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE verifications SET status = %s, refusal_reason = %s, reviewed_by = %s,
                                            reviewed_at = now()
                   WHERE id = %s AND status = 'pending' RETURNING user_id""",
                ("approved" if approve else "refused", reason, moderator_id, request_id),
            ).fetchone()
            if row is None:
                return None
            user_id = int(row["user_id"])
            if approve:
                conn.execute("UPDATE users SET verified_at = now() WHERE id = %s", (user_id,))
            party = rules.party_of(conn, user_id)
        return Review(party, approve, reason) if party else None
