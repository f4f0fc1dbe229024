"""A viewer's feed pass as pure rules (domain.feed_pass), over in-memory reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain import feed_pass
from domain.feed_pass import Cursor, PageRow, PassState

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


class Reads:
    """A viewer's candidates as lists: a stored score each, who became visible when, likers."""

    def __init__(self, scores: dict[int, float], visible_since: dict[int, datetime]) -> None:
        self.scores = scores
        self.visible_since = visible_since
        self.liked_by: list[int] = []
        self.decided: set[int] = set()
        self.hidden: set[int] = set()  # read by pages, but may not be shown
        self.now = T0

    def _open(self, uid: int) -> bool:
        return uid not in self.decided and self.visible_since.get(uid, T0) <= self.now

    def likers(self, started_at: datetime, limit: int) -> Sequence[int]:
        return [uid for uid in self.liked_by if self._open(uid)][:limit]

    def page(self, after: Cursor, limit: int) -> Sequence[PageRow]:
        rows = sorted(((s, uid) for uid, s in self.scores.items()), reverse=True)
        below = [
            PageRow(uid, s, uid not in self.hidden)
            for s, uid in rows
            if (s, uid) < (after.score, after.user_id) and self._open(uid)
        ]
        return below[:limit]

    def fresh(self, since: datetime) -> Sequence[int]:
        return [
            uid
            for uid, at in self.visible_since.items()
            if since <= at <= self.now and self._open(uid)
        ]

    def recycled(self, limit: int) -> Sequence[int]:
        return []

    def rank(self, candidates: Sequence[int]) -> list[int]:
        return sorted(candidates, key=lambda uid: -self.scores[uid])


def serve(state: PassState, reads: Reads) -> tuple[int | None, PassState]:
    """The next card, decided on at once (as a viewer skips or likes before the next one)."""
    uid, state = feed_pass.next_candidate(state, reads, reads.now)
    if uid is not None:
        reads.decided.add(uid)
    return uid, state


def test_pages_come_in_stored_order_and_the_cursor_moves_on() -> None:
    """Every candidate is served once, best stored rating first, across several pages."""
    reads = Reads({uid: 1.0 - uid / 100 for uid in range(45)}, {})
    state = feed_pass.start_pass("", T0)
    served = []
    while True:
        uid, state = serve(state, reads)
        if uid is None:
            break
        served.append(uid)
    assert served == list(range(45))
    assert state.finished_at is not None


def test_a_page_of_people_who_cannot_be_shown_does_not_end_the_pass() -> None:
    """A whole page of paused or hidden people at the top only moves the cursor: the next
    card is the first visible person below them, not "nobody is left"."""
    reads = Reads({uid: 1.0 - uid / 100 for uid in range(45)}, {})
    reads.hidden = set(range(2 * feed_pass.FEED_BATCH))
    uid, state = serve(feed_pass.start_pass("", T0), reads)
    assert uid == 2 * feed_pass.FEED_BATCH
    assert state.finished_at is None


def test_someone_who_joins_mid_pass_is_served_on_the_next_card() -> None:
    """A person visible after the pass began, ranked above its cursor, comes next."""
    reads = Reads({uid: 0.5 for uid in range(30)}, {})
    state = feed_pass.start_pass("", T0)
    _, state = serve(state, reads)
    reads.now = T0 + timedelta(seconds=2)
    reads.scores[99] = 0.9  # above the cursor: no page would ever read them
    reads.visible_since[99] = reads.now
    uid, _ = serve(state, reads)
    assert uid == 99


def test_a_dry_pass_serves_someone_who_joined_since() -> None:
    """After "that's everyone", a newly visible person is served at once, not after a retry."""
    reads = Reads({1: 0.5}, {})
    state = feed_pass.start_pass("", T0)
    assert serve(state, reads)[0] == 1
    uid, state = serve(state, reads)
    assert uid is None and state.finished_at is not None
    reads.now = T0 + timedelta(seconds=3)
    reads.scores[7] = 0.1
    reads.visible_since[7] = reads.now
    assert feed_pass.is_current(state, "", reads.now)
    assert serve(state, reads)[0] == 7


def test_likers_come_before_fresh_people_and_pages() -> None:
    """Someone who liked the viewer is served before the page and before a newcomer."""
    reads = Reads({uid: 0.5 + uid / 100 for uid in range(10)}, {})
    reads.liked_by = [3]
    state = feed_pass.start_pass("", T0)
    reads.now = T0 + timedelta(seconds=1)
    reads.scores[50] = 0.99
    reads.visible_since[50] = reads.now
    first, state = serve(state, reads)
    second, state = serve(state, reads)
    assert (first, second) == (3, 50)


def test_a_like_that_arrives_mid_pass_comes_next() -> None:
    """Someone who likes the viewer while the pass is under way is the next card."""
    reads = Reads({uid: 0.5 for uid in range(30)}, {})
    state = feed_pass.start_pass("", T0)
    _, state = serve(state, reads)
    reads.liked_by = [25]
    assert serve(state, reads)[0] == 25


def test_the_fresh_overlap_does_not_serve_anyone_twice() -> None:
    """A newcomer read again by the overlap of the next fresh read is not queued again."""
    reads = Reads({uid: 0.5 for uid in range(5)}, {})
    state = feed_pass.start_pass("", T0)
    reads.now = T0 + timedelta(seconds=1)
    reads.scores[9] = 0.2
    reads.visible_since[9] = reads.now
    uid, state = feed_pass.next_candidate(state, reads, reads.now)  # not decided on yet
    assert uid == 9
    reads.now += timedelta(seconds=1)
    state = feed_pass.admit_fresh(state, reads, reads.now)
    assert 9 not in state.queue


def test_a_pass_starts_over_after_its_age_or_retry_time() -> None:
    """A pass goes on until PASS_MAX_AGE, or FINISHED_PASS_RETRY after it ran dry."""
    state = feed_pass.start_pass("f", T0)
    assert feed_pass.is_current(state, "f", T0 + timedelta(hours=23))
    assert not feed_pass.is_current(state, "f", T0 + feed_pass.PASS_MAX_AGE)
    assert not feed_pass.is_current(state, "other", T0)
    dry = PassState("f", T0, finished_at=T0)
    assert not feed_pass.is_current(dry, "f", T0 + feed_pass.FINISHED_PASS_RETRY)
