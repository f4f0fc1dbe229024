"""Chat records in PostgreSQL: whether one match may write to the other now, the metadata of
each relayed message (never its content), recorded once per update, and each side's consent to
exchange Telegram contacts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.discovery import Party
from storage import _rules as rules
from storage._rules import Conn
from storage.db import Pool


class ChatStatus(StrEnum):
    ACTIVE = "active"
    UNMATCHED = "unmatched"
    BLOCKED = "blocked"
    NOT_MATCHED = "not_matched"
    UNAVAILABLE = "unavailable"  # the other one is banned or gone


@dataclass(frozen=True, slots=True)
class ChatCheck:
    status: ChatStatus
    match_id: int | None = None
    partner: Party | None = None
    sender: Party | None = None
    recorded: bool = False  # this update was recorded now (not a repeat)


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent to exchange contacts: the chat's check, whether this consent is new, and
    whether both sides have now agreed."""

    check: ChatCheck
    new: bool = False
    mutual: bool = False


class Chats:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def chat_status(self, sender: int, other: int) -> ChatCheck:
        """Whether sender may write to other now, and who both are."""
        with self._pool.connection() as conn:
            return self._chat_status(conn, sender, other)

    def consent_to_contacts(self, user: int, other: int) -> Consent:
        """Record that user agrees to exchange contacts with other, while they are an active
        match. The match's row lock orders two consents given at once, so the second sees the
        first and makes the exchange mutual."""
        with self._pool.connection() as conn:
            check = self._chat_status(conn, user, other)
            if check.status is not ChatStatus.ACTIVE:
                return Consent(check)
            conn.execute("SELECT 1 FROM matches WHERE id = %s FOR UPDATE", (check.match_id,))
            new = conn.execute(
                """INSERT INTO contact_consents (match_id, user_id) VALUES (%s, %s)
                   ON CONFLICT DO NOTHING RETURNING user_id""",
                (check.match_id, user),
            ).fetchone()
            mutual = conn.execute(
                "SELECT 1 FROM contact_consents WHERE match_id = %s AND user_id = %s",
                (check.match_id, other),
            ).fetchone()
        return Consent(check, new is not None, mutual is not None)

    def _chat_status(self, conn: Conn, sender: int, other: int) -> ChatCheck:
        low, high = rules.pair(sender, other)
        match = conn.execute(
            """SELECT m.id, m.status,
                      EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id, b.blocked_id)
                              IN ((%(low)s, %(high)s), (%(high)s, %(low)s))) AS blocked
               FROM matches m WHERE m.user_low = %(low)s AND m.user_high = %(high)s""",
            {"low": low, "high": high},
        ).fetchone()
        partner = rules.party_of(conn, other)
        sender_party = rules.party_of(conn, sender)
        if match is None or partner is None:
            return ChatCheck(ChatStatus.NOT_MATCHED)
        match_id = int(match["id"])
        if match["blocked"] or match["status"] == "blocked":
            return ChatCheck(ChatStatus.BLOCKED, match_id, partner, sender_party)
        if match["status"] == "unmatched":
            return ChatCheck(ChatStatus.UNMATCHED, match_id, partner, sender_party)
        if partner.is_banned:
            return ChatCheck(ChatStatus.UNAVAILABLE, match_id, partner, sender_party)
        return ChatCheck(ChatStatus.ACTIVE, match_id, partner, sender_party)

    def record_chat_message(self, sender: int, other: int, update_id: int, kind: str) -> ChatCheck:
        """Check the match and record one relayed message (metadata only) once per update:
        the first message starts the conversation, the other one's first message is the
        reply. ``recorded`` is False for a repeated update."""
        with self._pool.connection() as conn:
            check = self._chat_status(conn, sender, other)
            if check.status is not ChatStatus.ACTIVE:
                return check
            inserted = conn.execute(
                """INSERT INTO chat_messages (match_id, sender_id, update_id, kind)
                   VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING match_id""",
                (check.match_id, sender, update_id, kind),
            ).fetchone()
            if inserted:
                conn.execute(
                    """UPDATE matches SET last_activity_at = now(),
                           conversation = CASE
                               WHEN conversation = 'none' THEN 'started'
                               WHEN conversation = 'started' AND started_by <> %(sender)s
                                   THEN 'replied'
                               ELSE conversation END,
                           started_by = coalesce(started_by, %(sender)s)
                       WHERE id = %(match)s""",
                    {"sender": sender, "match": check.match_id},
                )
        return ChatCheck(
            check.status, check.match_id, check.partner, check.sender, recorded=inserted is not None
        )
