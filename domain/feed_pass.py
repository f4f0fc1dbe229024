"""A viewer's feed pass as pure rules: what the next card is and how the pass moves on.

A pass walks the viewer's candidates in the order of the stored combined rating, a page of
``FEED_BATCH`` at a time after a keyset cursor; each page is reordered for the viewer (by
``domain.ranking.order_feed`` in production). People who liked the viewer come first, and
people who became visible since the pass last looked (finished their profile, resumed from a
pause, changed so that they now fit) are let in ahead of the ranked queue on the very next
card, whether the pass is mid-way or ran dry: the cursor alone would never reach someone who
joined above it, and a dry pass would say "That's everyone for now" over them.

Nothing here reads or writes: the caller hands in its reads as a ``PassReads`` (SQL in
``storage``, lists in ``bench.simulate``) and stores the returned ``PassState``.
docs/discovery.md says what each read must return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Protocol

# Candidates read per page of a pass; the viewer's ranking reorders each page.
FEED_BATCH: Final = 20
# People who already liked the viewer placed at the front of each page.
LIKERS_PER_BATCH: Final = 5
# A pass starts over after a day (ratings changed, skipped people come back), and this long
# after it ran dry. Newly visible people do not wait for either: they are let in at once.
PASS_MAX_AGE: Final = timedelta(hours=24)
FINISHED_PASS_RETRY: Final = timedelta(minutes=10)
# The fresh read looks this far back before the pass's watermark, so that a profile whose
# change committed a moment after its timestamp was taken is not missed; what the overlap
# reads again is recognised by ``PassState.admitted`` and not served twice.
FRESH_OVERLAP: Final = timedelta(seconds=5)
# Pages tried for one card before saying nobody is left (each page moves the cursor on).
MAX_PAGES_PER_CARD: Final = 5


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last (stored rating, user id) a page returned; the next page starts below it."""

    score: float
    user_id: int


START: Final = Cursor(math.inf, 2**63 - 1)


@dataclass(frozen=True, slots=True)
class PageRow:
    """One candidate of a page in stored-rating order; invisible ones only move the cursor."""

    user_id: int
    score: float
    visible: bool = True


@dataclass(frozen=True, slots=True)
class PassState:
    """Everything a pass keeps between cards (storage's ``feed_passes`` row)."""

    filters: str
    started_at: datetime
    cursor: Cursor = START
    likers: tuple[int, ...] = ()  # served before ``queue``
    queue: tuple[int, ...] = ()
    finished_at: datetime | None = None  # the pages ran dry at this time
    fresh_since: datetime | None = None  # watermark of the fresh read (None: the start)
    # (user id, when let in) of fresh people admitted within FRESH_OVERLAP of the watermark.
    admitted: tuple[tuple[int, datetime], ...] = ()


class PassReads(Protocol):
    """The reads a pass needs, each already restricted to people the rules let this viewer
    see now (place, wishes, visibility, blocks, matches) and the viewer has not decided on."""

    def likers(self, started_at: datetime, limit: int) -> Sequence[int]:
        """People who liked the viewer and were not shown to them since ``started_at``,
        oldest like first."""
        ...

    def page(self, after: Cursor, limit: int) -> Sequence[PageRow]:
        """Up to ``limit`` candidates below ``after`` in (stored rating, user id) order,
        highest first, leaving out anyone shown in this pass already (a newcomer let in
        ahead of the pages is not served again when the pages reach them)."""
        ...

    def fresh(self, since: datetime) -> Sequence[int]:
        """People who became visible or changed since ``since`` (inclusive) and were not
        shown to the viewer since then."""
        ...

    def recycled(self, limit: int) -> Sequence[int]:
        """People skipped longer ago than the skip cooldown, skipped longest ago first."""
        ...

    def rank(self, candidates: Sequence[int]) -> list[int]:
        """The candidates in the viewer's feed order, best first."""
        ...


def start_pass(filters: str, now: datetime) -> PassState:
    """A new pass from the top of the ranking; people visible already are read by its pages,
    so its fresh watermark starts now."""
    return PassState(filters, now, fresh_since=now)


def is_current(state: PassState | None, filters: str, now: datetime) -> bool:
    """Whether ``state`` may go on: same filters, younger than PASS_MAX_AGE, and not dry for
    FINISHED_PASS_RETRY."""
    return (
        state is not None
        and state.filters == filters
        and now - state.started_at < PASS_MAX_AGE
        and (state.finished_at is None or now - state.finished_at < FINISHED_PASS_RETRY)
    )


def admit_fresh(state: PassState, reads: PassReads, now: datetime) -> PassState:
    """Let people visible since the watermark in ahead of the ranked queue (behind likers),
    ranked among themselves; a dry pass is open again for them."""
    since = state.fresh_since if state.fresh_since is not None else state.started_at
    kept = tuple((uid, at) for uid, at in state.admitted if now - at <= FRESH_OVERLAP)
    known = {uid for uid, _ in kept} | set(state.likers) | set(state.queue)
    new = [uid for uid in reads.fresh(since - FRESH_OVERLAP) if uid not in known]
    if not new:
        return replace(state, fresh_since=now, admitted=kept)
    ranked = reads.rank(new)
    return replace(
        state,
        queue=(*ranked, *state.queue),
        fresh_since=now,
        admitted=kept + tuple((uid, now) for uid in ranked),
    )


def refill(state: PassState, reads: PassReads, now: datetime) -> PassState:
    """The next page, reordered for the viewer, without the likers already in front; once
    the pages run dry, people whose skip cooled down."""
    if state.finished_at is None:
        page = reads.page(state.cursor, FEED_BATCH)
        if page:
            chosen = set(state.likers)
            ranked = reads.rank([row.user_id for row in page if row.visible])
            return replace(
                state,
                cursor=Cursor(page[-1].score, page[-1].user_id),
                queue=tuple(uid for uid in ranked if uid not in chosen),
            )
        state = replace(state, finished_at=now)
    return replace(state, queue=tuple(reads.recycled(FEED_BATCH)))


def take(state: PassState) -> tuple[int | None, PassState]:
    """The next candidate of the pass (likers first) and the pass without it."""
    if state.likers:
        return state.likers[0], replace(state, likers=state.likers[1:])
    if state.queue:
        return state.queue[0], replace(state, queue=state.queue[1:])
    return None, state


def next_candidate(
    state: PassState, reads: PassReads, now: datetime
) -> tuple[int | None, PassState]:
    """The next candidate to check and show (None: nobody is left now) and the new state.

    Pending likers are read on every card (a few rows by the viewer's key), so a like that
    arrives mid-pass comes next as well; then newly visible people, then the ranked pages.
    The caller checks the candidate against every rule once more (someone may have paused or
    blocked since), records it as shown, and calls again if it may not be shown."""
    likers = tuple(reads.likers(state.started_at, LIKERS_PER_BATCH))
    state = admit_fresh(replace(state, likers=likers), reads, now)
    for _ in range(MAX_PAGES_PER_CARD):
        candidate, rest = take(state)
        if candidate is not None:
            return candidate, rest
        state = refill(state, reads, now)
        if not state.queue and state.finished_at is not None:
            return None, state
        # A page of people who cannot be shown (paused, banned, hidden: they stay at the top
        # of a browsed place, never decided on) only moves the cursor: read the next one.
    return take(state)
