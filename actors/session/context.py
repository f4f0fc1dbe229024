"""What every part of the session works with: its dependencies and the update in hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from actors.chat_relay import ChatRelayActorProxy
from actors.matcher import MatcherActorProxy
from actors.outbox import Outbox
from actors.pool import ActorPool
from actors.profile import ProfileActorProxy
from actors.send_once import SendOnce
from bot_api import replies
from bot_api.incoming import Incoming
from bot_api.replies import Keyboard, Reply
from config.i18n import t
from observability.metrics import Metrics
from presentation.callbacks import CallbackSigner
from presentation.screens import Buttons
from storage.accounts import Account, Accounts
from storage.action_limits import ActionCounters
from storage.db import Pool
from storage.state import ConversationStore
from storage.stats import Stats


@dataclass(frozen=True)
class DiscoveryDeps:
    matchers: ActorPool[MatcherActorProxy]
    relays: ActorPool[ChatRelayActorProxy]
    daily_like_limit: int = 100  # only to tell the user the limit; the matcher enforces it


@dataclass(frozen=True)
class SessionDeps:
    profiles: ActorPool[ProfileActorProxy]  # every change to an account goes through these
    accounts: Accounts  # reads: a session reads its user's account itself, saving a hand-off
    conversations: ConversationStore
    processed: SendOnce  # the reply journal: each update's effects and replies once
    outbox: Outbox
    signer: CallbackSigner
    metrics: Metrics
    discovery: DiscoveryDeps
    stats: Stats  # /stats for admin_ids
    limits: ActionCounters  # per-user limits on messages, likes, reports, photos, locations
    # Whether the dependencies answer: a failure while they do is the work's own fault.
    healthy: Callable[[], bool]
    # Each update is handled in a fence of this pool (storage.fence): one transaction.
    pool: Pool
    admin_ids: frozenset[int] = frozenset()
    bot_username: str = ""  # for the invitation deep link (getMe at start)


@dataclass
class Context:
    """One update being handled, and the replies it has produced so far."""

    incoming: Incoming
    account: Account
    buttons: Buttons
    out: list[Reply] = field(default_factory=list)
    state_empty: bool = False  # the conversation state was read and is empty: nothing to clear

    @property
    def user_id(self) -> int:
        return self.incoming.user_id

    @property
    def chat_id(self) -> int:
        return self.incoming.chat_id

    @property
    def language(self) -> str:
        return self.buttons.language

    def text(self, key: str, **values: object) -> str:
        return t(self.language, key, **values)

    def say(self, key: str, keyboard: Keyboard | None = None, **values: object) -> None:
        self.out.append(replies.message(self.chat_id, self.text(key, **values), keyboard))

    def send(self, *items: Reply) -> None:
        self.out.extend(items)
