"""The chat relay actor: carries messages between two matched users through the bot.

A message goes over with copyMessage from the sender's chat (the recipient never sees the
sender's account), named by the sender's display name — and their @username only if they
chose to show it. Each relayed update is recorded once (metadata, never content); a repeated
update is not relayed again. Messages to someone who is no longer a match, or who blocked
the sender, are refused.

Before both agreed to exchange contacts, a message with a sign of a scam (a contact, a link,
a wallet, a request for money: domain.content_checks) still goes over, followed by a warning
with a one-tap report; the same opener sent to many people in a day is told to the moderators.
"""

from __future__ import annotations

from dataclasses import dataclass

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.outbox import Outbox
from bot_api import replies
from bot_api.incoming import Kind
from bot_api.replies import Keyboard, Reply
from config.i18n import t
from domain.content_checks import CHAT_WARNING_KEY, Opener, findings, repeated_opener
from domain.discovery import Party
from observability.metrics import Metrics
from presentation import cards
from presentation.buttons import Button
from presentation.callbacks import CallbackSigner
from presentation.cards import Origin
from presentation.screens import Buttons
from storage.accounts import Accounts
from storage.chats import ChatCheck, Chats, ChatStatus, Consent
from storage.fence import FenceAware
from storage.state import ConversationStore

log = structlog.get_logger(__name__)

# Kinds whose copy can carry a caption; stickers and video notes get a name line before them.
CAPTIONED_KINDS = frozenset(
    {Kind.PHOTO, Kind.VIDEO, Kind.ANIMATION, Kind.AUDIO, Kind.DOCUMENT, Kind.VOICE}
)
UNCAPTIONED_KINDS = frozenset({Kind.STICKER, Kind.VIDEO_NOTE})
RELAYED_KINDS = CAPTIONED_KINDS | UNCAPTIONED_KINDS | {Kind.TEXT}
# What the sender's "protect my photos and videos" setting covers.
PROTECTED_KINDS = frozenset({Kind.PHOTO, Kind.VIDEO})


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message a user sent in chat mode, and where it lies in their chat with the bot."""

    sender_id: int
    recipient_id: int
    update_id: int
    kind: Kind
    sender_chat_id: int
    message_id: int
    text: str  # the text or the caption
    protect: bool = False  # the sender protects their photos and videos (/settings)
    photo_file_id: str = ""  # an image sent as a file, cleaned of metadata: sent instead


class ChatRelayActor(FenceAware, pykka.ThreadingActor):
    def __init__(
        self,
        chats: Chats,
        conversations: ConversationStore,
        outbox: Outbox,
        signer: CallbackSigner,
        metrics: Metrics,
        accounts: Accounts,
        admin_ids: frozenset[int] = frozenset(),
    ) -> None:
        """admin_ids: the moderators told of a repeated opener."""
        super().__init__()
        self._accounts = accounts
        self._admin_ids = admin_ids
        self._chats = chats
        self._conversations = conversations
        self._outbox = outbox
        self._signer = signer
        self._metrics = metrics

    def status(self, sender_id: int, other_id: int) -> ChatCheck:
        """Whether sender may write to other now (before entering chat mode)."""
        return self._chats.chat_status(sender_id, other_id)

    def consent_to_contacts(self, user_id: int, other_id: int) -> Consent:
        """Record the user's consent to exchange contacts with a match and tell the other:
        of the offer when it is the first, of the user's contact when it made the exchange
        mutual (the caller shows the user the other's)."""
        consent = self._chats.consent_to_contacts(user_id, other_id)
        check = consent.check
        if check.status is not ChatStatus.ACTIVE or not consent.new:
            return consent
        assert check.partner is not None and check.sender is not None
        partner, sender = check.partner, check.sender
        if consent.mutual:
            reply = cards.contact_of(partner.chat_id, partner.language, sender)
        else:
            buttons = Buttons(self._signer, partner.user_id, partner.language)
            reply = cards.contacts_offered(partner.chat_id, buttons, sender.name, sender.user_id)
        self._outbox.deliver(
            partner.user_id, partner.chat_id, [reply], key=f"contacts:{check.match_id}:{user_id}"
        )
        log.info(
            "contacts exchanged" if consent.mutual else "contacts offered",
            user_id=user_id,
            target=other_id,
            match_id=check.match_id,
        )
        return consent

    def relay(self, message: ChatMessage) -> ChatStatus:
        """Relay one message to the match; the refusal reason when it may not go."""
        if message.kind not in RELAYED_KINDS:
            raise ValueError(f"{message.kind} is not relayed")
        check = self._chats.record_chat_message(
            message.sender_id,
            message.recipient_id,
            message.update_id,
            message.kind.value,
            message.text,
        )
        if check.status is not ChatStatus.ACTIVE:
            log.info(
                "chat message refused",
                user_id=message.sender_id,
                update_id=message.update_id,
                target=message.recipient_id,
                reason=check.status.value,
            )
            return check.status
        assert check.partner is not None and check.sender is not None
        # Durable before this returns, and keyed by the update: a repeated update (its node
        # died after recording it) hands the copy over again, and it still arrives once.
        copies = self._copies(message, check.sender, check.partner)
        suspicious = not check.contacts_agreed and bool(findings(message.text))
        if suspicious:
            copies.append(_warning(self._signer, check.partner, check.sender.user_id))
        self._outbox.deliver(
            check.partner.user_id,
            check.partner.chat_id,
            copies,
            key=f"relay:{message.update_id}",
        )
        if check.openers and _repeated_now(check.openers):
            self._tell_moderators(message, check.sender, len(check.openers))
        if not check.recorded:
            log.info(
                "repeated chat message: its copy goes out once",
                user_id=message.sender_id,
                update_id=message.update_id,
            )
            return check.status
        self._metrics.user_actions.labels(self._metrics.node_id, "chat_message").inc()
        log.info(
            "chat message relayed",
            user_id=message.sender_id,
            update_id=message.update_id,
            kind=message.kind.value,
            match_id=check.match_id,
            suspicious=suspicious,
        )
        return check.status

    def _tell_moderators(self, message: ChatMessage, sender: Party, count: int) -> None:
        log.info("repeated opener", user_id=sender.user_id, recipients=count)
        for admin_id in sorted(self._admin_ids):
            admin = self._accounts.get(admin_id)
            if admin is None:
                continue  # a moderator who never talked to the bot cannot be written to
            text = t(
                admin.language,
                "safety.repeated_opener",
                name=sender.name,
                user_id=sender.user_id,
                count=count,
                text=message.text,
            )
            self._outbox.deliver(
                admin_id,
                admin.chat_id,
                [replies.message(admin.chat_id, text)],
                key=f"opener:{message.update_id}:{admin_id}",
            )

    def _copies(self, message: ChatMessage, sender: Party, recipient: Party) -> list[Reply]:
        """What the recipient gets, in their language; a 💬 Reply button unless they are in
        this chat already."""
        lang = recipient.language
        name = cards.display_name(lang, sender.name, sender.username, sender.show_username)
        keyboard: Keyboard | None = None
        if self._conversations.get(recipient.user_id).get("chat") != sender.user_id:
            buttons = Buttons(self._signer, recipient.user_id, lang)
            keyboard = [[buttons("chat.button_reply", Button.WRITE, str(sender.user_id))]]
        chat_id = recipient.chat_id
        if message.kind is Kind.TEXT:
            return [
                replies.message(
                    chat_id, t(lang, "chat.relayed_text", name=name, text=message.text), keyboard
                )
            ]
        if message.kind in CAPTIONED_KINDS:
            caption = (
                t(lang, "chat.relayed_text", name=name, text=message.text)
                if message.text
                else t(lang, "chat.from", name=name)
            )
            if message.photo_file_id:
                return [replies.photo(chat_id, message.photo_file_id, caption, keyboard)]
            return [
                cards.with_keyboard(
                    replies.copy(
                        chat_id,
                        message.sender_chat_id,
                        message.message_id,
                        caption,
                        protect=message.protect and message.kind in PROTECTED_KINDS,
                    ),
                    keyboard,
                )
            ]
        return [
            replies.message(chat_id, t(lang, "chat.from", name=name)),
            cards.with_keyboard(
                replies.copy(chat_id, message.sender_chat_id, message.message_id), keyboard
            ),
        ]


def _repeated_now(openers: tuple[Opener, ...]) -> bool:
    """This opener (the last) made the sender's openers repeated: told once, not again at
    every later recipient."""
    return repeated_opener(openers) is not None and repeated_opener(openers[:-1]) is None


def _warning(signer: CallbackSigner, recipient: Party, sender_id: int) -> Reply:
    """After a suspicious message: what to beware of, and a report of it in one tap."""
    buttons = Buttons(signer, recipient.user_id, recipient.language)
    report = buttons(
        "chat.button_report_scam", Button.REPORT_REASON, str(sender_id), "spam", Origin.MATCH.value
    )
    return replies.message(recipient.chat_id, t(recipient.language, CHAT_WARNING_KEY), [[report]])


class ChatRelayActorProxy(ActorMemberMixin, pykka.ActorProxy[ChatRelayActor]):
    status = proxy_method(ChatRelayActor.status)
    relay = proxy_method(ChatRelayActor.relay)
    consent_to_contacts = proxy_method(ChatRelayActor.consent_to_contacts)
