"""The rater actor: runs rating sweeps and rates single users whose profile just changed.

Sweeps are fired by every node's scheduler (app/scheduler.py); storage.ratings lets exactly
one node run each firing. A failure is logged and counted, never raised into the scheduler:
the unfinished sweep stays 'running' and the next firing resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from observability.metrics import Metrics
from storage.ratings import Ratings, SweepOutcome

log = structlog.get_logger(__name__)


class RaterActor(pykka.ThreadingActor):
    def __init__(
        self,
        ratings: Ratings,
        node_id: str,
        metrics: Metrics,
        on_finished: Callable[[str, SweepOutcome], None] | None = None,
    ) -> None:
        super().__init__()
        self._ratings = ratings
        self._node_id = node_id
        self._metrics = metrics
        self._on_finished = on_finished

    def sweep(self, kind: str, slot: datetime) -> SweepOutcome | None:
        started = time.perf_counter()
        try:
            outcome = self._ratings.sweep(kind, slot, self._node_id)
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "rater").inc()
            log.exception("rating sweep failed; the next firing resumes it", kind=kind)
            return None
        if outcome.sweep_id is None:
            return outcome
        seconds = time.perf_counter() - started
        self._metrics.sweep_seconds.labels(self._metrics.node_id, kind).observe(seconds)
        log.info(
            "rating sweep finished",
            kind=kind,
            sweep_id=outcome.sweep_id,
            processed=outcome.processed,
            resumed=outcome.resumed,
            seconds=round(seconds, 2),
        )
        if self._on_finished is not None:
            self._on_finished(kind, outcome)
        return outcome

    def recompute(self, user_ids: Sequence[int]) -> None:
        """Rate users right away (their profile changed); errors wait for the next sweep."""
        try:
            self._ratings.recompute(user_ids)
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "rater").inc()
            log.exception("rating recompute failed; the next sweep rates them", users=len(user_ids))


class RaterActorProxy(ActorMemberMixin, pykka.ActorProxy[RaterActor]):
    sweep = proxy_method(RaterActor.sweep)
    recompute = proxy_method(RaterActor.recompute)
