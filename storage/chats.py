"""Chat records in PostgreSQL: whether one match may write to the other now, the metadata of
each relayed message (never its content), recorded once per update, and each side's consent to
exchange Telegram contacts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from domain.content_checks import OPENER_MIN_LENGTH, Opener
from domain.discovery import Party
from storage import _rules as rules
from storage._rules import Conn
from storage.db import Pool

# How many of the latest texts from a match a person keeps for a report to attach, and how long.
RECENT_TEXTS = 10
RECENT_TEXTS_FOR = "7 days"


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
    contacts_agreed: bool = False  # both consented to exchange contacts
    # When this message is the sender's first to this match (and long enough to count): the
    # sender's openers of the last day, this one last.
    openers: tuple[Opener, ...] = ()


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
                      (SELECT count(*) FROM contact_consents c WHERE c.match_id = m.id) = 2
                          AS agreed,
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
        return ChatCheck(
            ChatStatus.ACTIVE, match_id, partner, sender_party, contacts_agreed=match["agreed"]
        )

    def record_chat_message(
        self, sender: int, other: int, update_id: int, kind: str, text: str = ""
    ) -> ChatCheck:
        """Check the match and record one relayed message (metadata only) once per update:
        the first message starts the conversation, the other one's first message is the
        reply. ``recorded`` is False for a repeated update. A sender's first message to this
        match, when long enough, is kept a day as an opener (its text: chat_openers)."""
        with self._pool.connection() as conn:
            check = self._chat_status(conn, sender, other)
            if check.status is not ChatStatus.ACTIVE:
                return check
            first = not conn.execute(
                "SELECT 1 FROM chat_messages WHERE match_id = %s AND sender_id = %s LIMIT 1",
                (check.match_id, sender),
            ).fetchone()
            inserted = conn.execute(
                """INSERT INTO chat_messages (match_id, sender_id, update_id, kind)
                   VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING match_id""",
                (check.match_id, sender, update_id, kind),
            ).fetchone()
            openers: tuple[Opener, ...] = ()
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
                if first and len(text.strip()) >= OPENER_MIN_LENGTH:
                    openers = _keep_opener(conn, sender, other, text)
                if text:
                    _keep_recent_text(conn, check.match_id, other, update_id, text)
        return replace(check, recorded=inserted is not None, openers=openers)


def _keep_opener(conn: Conn, sender: int, other: int, text: str) -> tuple[Opener, ...]:
    """Keep the opener (older than a day go) and return the sender's openers of the day."""
    conn.execute(
        "DELETE FROM chat_openers WHERE sender_id = %s AND sent_at < now() - interval '1 day'",
        (sender,),
    )
    conn.execute(
        """INSERT INTO chat_openers (sender_id, recipient_id, text) VALUES (%s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (sender, other, text),
    )
    rows = conn.execute(
        """SELECT recipient_id, text FROM chat_openers WHERE sender_id = %s
           ORDER BY recipient_id = %s, sent_at""",
        (sender, other),
    ).fetchall()
    return tuple(Opener(int(row["recipient_id"]), str(row["text"])) for row in rows)


def _keep_recent_text(
    conn: Conn, match_id: int | None, recipient: int, update_id: int, text: str
) -> None:
    """Keep the text for a report the recipient may file, and only the latest few of a week."""
    conn.execute(
        """INSERT INTO recent_chat_texts (match_id, recipient_id, update_id, text)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (match_id, recipient, update_id, text),
    )
    conn.execute(
        """DELETE FROM recent_chat_texts t
           WHERE t.match_id = %(match)s AND t.recipient_id = %(recipient)s
             AND (t.sent_at < now() - %(age)s::interval
                  OR t.update_id NOT IN (SELECT update_id FROM recent_chat_texts
                                         WHERE match_id = %(match)s AND recipient_id = %(recipient)s
                                         ORDER BY sent_at DESC, update_id DESC LIMIT %(keep)s))""",
        {"match": match_id, "recipient": recipient, "age": RECENT_TEXTS_FOR, "keep": RECENT_TEXTS},
    )
