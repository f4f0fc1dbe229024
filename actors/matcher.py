"""The matcher actor: the feed, likes and matches, blocks, reports and moderation.

Several instances run per node, each user always served by the same one (actors.pool), and
all state lives in PostgreSQL (storage.feed, storage.likes, storage.matches and
storage.safety), so any node can serve any user. What one user does that another must hear
of — a like notice, a new match — is rendered here in the recipient's language with buttons
signed for them, and handed to the outbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.outbox import Outbox
from actors.pool import ActorPool
from config.settings import Settings
from domain.discovery import LikeMedia, MatchSummary, Party, ProfileCard
from domain.safety_keys import pseudonym
from observability.metrics import Metrics
from presentation import cards
from presentation.callbacks import CallbackSigner
from presentation.cards import Viewer
from presentation.screens import Buttons
from storage.accounts import Account, Accounts
from storage.feed import Feed, FeedCard
from storage.fence import FenceAware
from storage.likes import LikeResult, Likes, LikeStatus
from storage.matches import Matches
from storage.safety import ReportCase, Safety

log = structlog.get_logger(__name__)

LIKE_NOTICE_SWEEP_SECONDS = 2.0


@dataclass(frozen=True)
class MatcherSettings:
    daily_like_limit: int = 100
    like_notice_minutes: int = 10
    admin_ids: frozenset[int] = frozenset()  # told at once of every hide by reports
    secret: bytes = b""  # names a match notice's send key without the two ids

    @classmethod
    def of(cls, settings: Settings) -> MatcherSettings:
        return cls(
            settings.daily_like_limit,
            settings.like_notice_minutes,
            settings.admin_ids,
            settings.safety_secret.encode(),
        )


def viewer_of(account: Account) -> Viewer:
    return Viewer(account.interests, account.latitude, account.longitude, datetime.now(UTC))


class MatcherActor(FenceAware, pykka.ThreadingActor):
    def __init__(
        self,
        feed: Feed,
        likes: Likes,
        matches: Matches,
        safety: Safety,
        accounts: Accounts,
        outbox: Outbox,
        signer: CallbackSigner,
        metrics: Metrics,
        settings: MatcherSettings | None = None,
        on_match: Callable[[int, int], None] | None = None,
    ) -> None:
        """on_match(first, second) is told of every new match (every node hears of it: a
        "match.made" event); it must not block."""
        super().__init__()
        self._feed = feed
        self._likes = likes
        self._matches = matches
        self._safety = safety
        self._accounts = accounts
        self._outbox = outbox
        self._signer = signer
        self._metrics = metrics
        self._settings = settings or MatcherSettings()
        self._on_match = on_match or (lambda _first, _second: None)

    # -- the feed -------------------------------------------------------------------------

    def next_card(self, viewer: Account) -> FeedCard | None:
        return self._feed.next_card(viewer)

    def skip(self, viewer_id: int, target: int) -> bool:
        skipped = self._feed.skip(viewer_id, target)
        if skipped:
            self._count("skipped")
        return skipped

    def undo_skip(self, viewer_id: int, skipped: int, current: int) -> bool:
        return self._feed.undo_skip(viewer_id, skipped, current)

    # -- likes and matches ----------------------------------------------------------------

    def like(
        self,
        viewer: Account,
        target: int,
        message: str | None,
        media: LikeMedia | None = None,
    ) -> LikeResult:
        """Record a like; tell the liked person (a batched notice, or the match)."""
        settings = self._settings
        result = self._likes.like(
            viewer.id,
            target,
            message,
            daily_limit=settings.daily_like_limit,
            notice_minutes=settings.like_notice_minutes,
            media=media,
        )
        log.info(
            "like",
            user_id=viewer.id,
            target=target,
            outcome=result.status.value,
            with_message=message is not None,
            with_media=media.kind if media else None,
        )
        if result.status is LikeStatus.LIKED:
            self._count("liked")
            if result.notice_count and result.target is not None:
                self._send_like_notice(result.target, result.notice_count)
            if result.away_count and result.target is not None:
                self._send_away_notice(result.target, result.away_count)
        elif result.status is LikeStatus.MATCHED:
            if result.match_created:
                self._count("liked")
                self._count("matched")
                self._metrics.matches.labels(self._metrics.node_id).inc()
                log.info("match", user_id=viewer.id, target=target, action="matched")
                self._on_match(viewer.id, target)
            if result.target is not None:
                # Also when an earlier handling of this like made the match: it may have died
                # before telling; the notice's key lets it reach the other person once.
                self._send_match_notice(result.target, viewer)
        return result

    def _send_like_notice(self, recipient: Party, count: int) -> None:
        buttons = Buttons(self._signer, recipient.user_id, recipient.language)
        self._outbox.deliver(
            recipient.user_id,
            recipient.chat_id,
            [cards.like_notice(recipient.chat_id, buttons, count)],
        )

    def _send_away_notice(self, recipient: Party, count: int) -> None:
        self._outbox.deliver(
            recipient.user_id,
            recipient.chat_id,
            [cards.away_likes_notice(recipient.chat_id, recipient.language, count)],
        )

    def _send_match_notice(self, recipient: Party, other: Account) -> None:
        """The new match, told to the one who liked first: the other's card and 💬 Write."""
        card = self._matches.card(recipient.user_id, other.id)
        recipient_account = self._accounts.get(recipient.user_id)
        if card is None or recipient_account is None:
            return
        buttons = Buttons(self._signer, recipient.user_id, recipient.language)
        name = cards.display_name(
            recipient.language, other.name, other.username, other.show_username
        )
        low, high = sorted((recipient.user_id, other.id))
        self._outbox.deliver(
            recipient.user_id,
            recipient.chat_id,
            [
                cards.match_notice(
                    recipient.chat_id, buttons, viewer_of(recipient_account), card, name
                )
            ],
            # The reply journal keeps the key for a day: it must outlive neither account's id.
            key=f"match:{pseudonym(self._settings.secret, low, high)}",
        )

    def flush_like_notices(self) -> int:
        """Send every batched like notice that is due; the number sent. Never raises: it
        runs from a timer, where nobody would read the error."""
        try:
            due = self._likes.due_like_notices(self._settings.like_notice_minutes)
            for recipient, count in due:
                self._send_like_notice(recipient, count)
            return len(due)
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "matcher").inc()
            log.exception("like notices failed")
            return 0

    def next_liker(self, viewer_id: int) -> tuple[ProfileCard, int] | None:
        return self._likes.next_liker(viewer_id)

    def matches(self, viewer_id: int) -> list[MatchSummary]:
        return self._matches.matches(viewer_id)

    def active_match(self, viewer_id: int, other_id: int) -> MatchSummary | None:
        return self._matches.active_match(viewer_id, other_id)

    def card(self, viewer_id: int, user_id: int) -> ProfileCard | None:
        return self._matches.card(viewer_id, user_id)

    # -- safety ---------------------------------------------------------------------------

    def unmatch(self, viewer_id: int, other_id: int) -> bool:
        done = self._matches.unmatch(viewer_id, other_id)
        if done:
            self._count("unmatched")
            log.info("unmatch", user_id=viewer_id, target=other_id, action="unmatched")
        return done

    def block(self, viewer_id: int, other_id: int) -> bool:
        done = self._safety.block(viewer_id, other_id)
        if done:
            self._count("blocked")
            log.info("block", user_id=viewer_id, target=other_id, action="blocked")
        return done

    def report(self, reporter: int, reported: int, reason: str) -> bool:
        outcome = self._safety.report(reporter, reported, reason)
        if outcome.recorded:
            self._count("reported")
            log.info("report", user_id=reporter, target=reported, reason=reason, action="reported")
        if outcome.hidden_now:
            log.info("hidden by reports", user_id=reporter, target=reported, action="auto_hidden")
            self._tell_moderators(reported)
        return outcome.recorded

    def _tell_moderators(self, reported: int) -> None:
        """Every hide by reports goes to the moderators at once, as the case /reports shows."""
        for admin_id in sorted(self._settings.admin_ids):
            admin = self._accounts.get(admin_id)
            case = self._safety.case_of(admin_id, reported)
            if admin is None or case is None:
                continue  # a moderator who never talked to the bot cannot be written to
            buttons = Buttons(self._signer, admin_id, admin.language)
            self._outbox.deliver(
                admin_id,
                admin.chat_id,
                cards.report_case(
                    admin.chat_id,
                    buttons,
                    case.card,
                    case.reports,
                    case.hidden,
                    case.weight,
                ),
                key=f"hidden:{reported}:{admin_id}:{len(case.reports)}",
            )

    def flag_same_photo(self, user_id: int, file_id: str, twins: list[tuple[int, str]]) -> None:
        """A photo just added is on other accounts too: each moderator gets the profiles side
        by side (their texts, then the photos in one album). Never raises: nobody waits."""
        try:
            for admin_id in sorted(self._settings.admin_ids):
                admin = self._accounts.get(admin_id)
                if admin is None:
                    continue
                shown = [
                    (photo, card)
                    for owner, photo in [(user_id, file_id), *twins]
                    if (card := self._matches.card(admin_id, owner)) is not None
                ]
                if len(shown) < 2:
                    continue
                self._outbox.deliver(
                    admin_id,
                    admin.chat_id,
                    cards.same_photo_case(admin.chat_id, admin.language, shown),
                    key=f"photo:{file_id}:{admin_id}",
                )
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "matcher").inc()
            log.exception("same-photo flag failed", user_id=user_id)

    def comment_report(self, reporter: int, reported: int, comment: str) -> None:
        self._safety.comment_report(reporter, reported, comment)

    def attach_messages(self, reporter: int, reported: int) -> int:
        return self._safety.attach_messages(reporter, reported)

    def set_show_username(self, user_id: int, show: bool) -> None:
        self._accounts.set_show_username(user_id, show)

    # -- moderation -----------------------------------------------------------------------

    def next_report_case(self, moderator_id: int) -> ReportCase | None:
        return self._safety.next_report_case(moderator_id)

    def resolve_reports(self, moderator_id: int, reported: int, ban: bool) -> bool:
        done = self._safety.resolve_reports(moderator_id, reported, ban)
        if done:
            log.info(
                "reports reviewed",
                user_id=moderator_id,
                target=reported,
                action="banned" if ban else "dismissed",
            )
        return done

    def set_banned(self, moderator_id: int, user_id: int, banned: bool) -> bool:
        done = self._safety.set_banned(user_id, banned, moderator_id)
        if done:
            log.info(
                "ban changed",
                user_id=moderator_id,
                target=user_id,
                action="banned" if banned else "unbanned",
            )
        return done

    def _count(self, action: str) -> None:
        self._metrics.user_actions.labels(self._metrics.node_id, action).inc()


class MatcherActorProxy(ActorMemberMixin, pykka.ActorProxy[MatcherActor]):
    next_card = proxy_method(MatcherActor.next_card)
    skip = proxy_method(MatcherActor.skip)
    undo_skip = proxy_method(MatcherActor.undo_skip)
    like = proxy_method(MatcherActor.like)
    flush_like_notices = proxy_method(MatcherActor.flush_like_notices)
    next_liker = proxy_method(MatcherActor.next_liker)
    matches = proxy_method(MatcherActor.matches)
    active_match = proxy_method(MatcherActor.active_match)
    card = proxy_method(MatcherActor.card)
    unmatch = proxy_method(MatcherActor.unmatch)
    block = proxy_method(MatcherActor.block)
    report = proxy_method(MatcherActor.report)
    comment_report = proxy_method(MatcherActor.comment_report)
    flag_same_photo = proxy_method(MatcherActor.flag_same_photo)
    attach_messages = proxy_method(MatcherActor.attach_messages)
    set_show_username = proxy_method(MatcherActor.set_show_username)
    next_report_case = proxy_method(MatcherActor.next_report_case)
    resolve_reports = proxy_method(MatcherActor.resolve_reports)
    set_banned = proxy_method(MatcherActor.set_banned)


class LikeNoticeTicker:
    """Asks one matcher every few seconds to send the batched like notices that are due.
    Every node runs one; the claim in storage makes each notice go out once."""

    def __init__(
        self,
        matchers: ActorPool[MatcherActorProxy],
        interval_seconds: float = LIKE_NOTICE_SWEEP_SECONDS,
    ) -> None:
        self._matchers = matchers
        self._interval = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="like-notices", daemon=True)

    def start(self) -> LikeNoticeTicker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._matchers.for_user(0).flush_like_notices().get(timeout=60)
            except Exception:
                log.exception("like notice sweep failed")

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=65)
