"""Per-user limits on what one person may do in a while: send messages, like, report and upload
photos. Location changes have their own daily limit (domain.location_privacy: fewer moves
than an hourly counter would allow, and refused with when the next one is possible).

A limit is a count per window, a window starting with the first action after the last one
ended (so a burst never straddles two windows and gets twice the count, or two "slow down"
messages). Within a window the first ``count`` actions go through;
the one after them is refused with one polite "slow down"; every later one in the same
window is refused silently, so a burst is told once and never answered message by message
(which, at Telegram's one message a second per chat, would keep the flooder's replies and
their unacknowledged updates in the shard for minutes). The counters live in Redis
(storage.action_limits); this module only decides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    MESSAGE = "message"  # any message or command the person sends
    LIKE = "like"
    REPORT = "report"
    PHOTO = "photo"  # a photo uploaded to the profile


class Verdict(enum.Enum):
    ALLOW = "allow"
    TELL = "tell"  # refused, and the person is told to slow down
    SILENT = "silent"  # refused; they were told already in this window


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window_seconds: int


LIMITS: dict[Action, Limit] = {
    # Faster than anyone types, and an album of ten fits; a forwarded pile does not.
    Action.MESSAGE: Limit(20, 30),
    # A like every two seconds for a minute is already skimming.
    Action.LIKE: Limit(30, 60),
    Action.REPORT: Limit(5, 3600),
    # A full profile's photos several times over.
    Action.PHOTO: Limit(10, 600),
}


def verdict(taken: int, limit: Limit) -> Verdict:
    """What to do with an action that is the ``taken``-th of its kind in the window."""
    if taken <= limit.count:
        return Verdict.ALLOW
    if taken == limit.count + 1:
        return Verdict.TELL
    return Verdict.SILENT
