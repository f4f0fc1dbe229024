"""How much a report counts, and when reports hide a profile before a moderator has seen it.

A report from anyone hides nobody on its own, and a handful of throwaway accounts must not
either. A report weighs what its reporter is worth (``report_weight``): new accounts little, an
account that has done nothing but report very little, one whose earlier reports moderators
dismissed less and less. Reporters whose accounts were made within ``MADE_TOGETHER`` of each
other count as one (the heaviest of them): a person with several accounts is one voice.
``should_hide`` then needs ``HIDE_WEIGHT`` in total and at least ``MIN_CREDIBLE_REPORTERS``
independent reporters of ``CREDIBLE_WEIGHT`` or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

# An account reaches full weight at this age: a day-old account weighs 1/14.
FULL_WEIGHT_AGE: Final = timedelta(days=14)
# Days with any activity (a like, a message, an edit) for full weight.
FULL_WEIGHT_ACTIVE_DAYS: Final = 7
# The weight of an account that has only ever reported, relative to an active one.
REPORT_ONLY_FACTOR: Final = 0.1
# Each dismissed report counts against the reporter as much as this many upheld ones for.
DISMISSED_PENALTY: Final = 2
MADE_TOGETHER: Final = timedelta(hours=24)
CREDIBLE_WEIGHT: Final = 0.5
MIN_CREDIBLE_REPORTERS: Final = 3
HIDE_WEIGHT: Final = 2.5


@dataclass(frozen=True, slots=True)
class Reporter:
    """What the weight of a reporter's reports depends on."""

    user_id: int
    created_at: datetime
    active_days: int  # days with a like, a message or a profile edit
    reports_upheld: int = 0
    reports_dismissed: int = 0


def report_weight(reporter: Reporter, now: datetime) -> float:
    """The weight of one report by ``reporter``, from 0 to 1."""
    age = max(0.0, min(1.0, (now - reporter.created_at) / FULL_WEIGHT_AGE))
    if reporter.active_days <= 0:
        activity = REPORT_ONLY_FACTOR
    else:
        activity = 0.3 + 0.7 * min(1.0, reporter.active_days / FULL_WEIGHT_ACTIVE_DAYS)
    upheld = reporter.reports_upheld + 1
    record = upheld / (upheld + DISMISSED_PENALTY * reporter.reports_dismissed)
    return age * activity * record


def independent_weights(reporters: Iterable[Reporter], now: datetime) -> list[float]:
    """One weight per group of accounts made together (chained within ``MADE_TOGETHER`` of
    each other), the heaviest of the group; distinct user ids only."""
    unique = {reporter.user_id: reporter for reporter in reporters}
    ordered = sorted(unique.values(), key=lambda reporter: reporter.created_at)
    groups: list[list[Reporter]] = []
    for reporter in ordered:
        if groups and reporter.created_at - groups[-1][-1].created_at <= MADE_TOGETHER:
            groups[-1].append(reporter)
        else:
            groups.append([reporter])
    return [max(report_weight(reporter, now) for reporter in group) for group in groups]


@dataclass(frozen=True, slots=True)
class HideDecision:
    """Whether open reports hide a profile now, and the figures a moderator sees with it."""

    hide: bool
    total_weight: float
    credible_reporters: int


def should_hide(open_reporters: Sequence[Reporter], now: datetime) -> HideDecision:
    """Whether the open reports against a profile, by these reporters, hide it until a
    moderator has looked (every hide is sent to the moderators at once)."""
    weights = independent_weights(open_reporters, now)
    total = sum(weights)
    credible = sum(1 for weight in weights if weight >= CREDIBLE_WEIGHT)
    return HideDecision(
        total >= HIDE_WEIGHT and credible >= MIN_CREDIBLE_REPORTERS, round(total, 3), credible
    )
