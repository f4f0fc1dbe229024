"""Waits between tries of work whose dependency failed: capped, jittered, exponential."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Telegram keeps undelivered updates this long; waiting longer for a dependency saves nothing.
GIVE_UP_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.1
    cap: float = 30.0

    def seconds(self, attempt: int, draw: float | None = None) -> float:
        """The wait before try attempt + 1 (attempt counts from 1): base·2^(attempt-1), at
        most cap, drawn from its upper half ("equal jitter"), so that nodes and actors
        waiting for the same dependency do not all try again in the same instant."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt - 1, 32))
        return ceiling * (0.5 + 0.5 * (random.random() if draw is None else draw))
