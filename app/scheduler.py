"""Periodic jobs: APScheduler fires them on every node; the actors let one node run each.

Firings are aligned to the wall clock (cron triggers), so every node computes the same slot for
the same firing, and storage.ratings.claim_firing lets only the first claimant run it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from actors.maintenance import MaintenanceActorProxy
from actors.rater import RaterActorProxy

log = structlog.get_logger(__name__)

# A sweep may run long (the nightly one over every profile); the job's thread waits for it so
# that APScheduler never starts the same job twice on one node (max_instances=1).
JOB_TIMEOUT_SECONDS: Final = 3600.0
MAINTENANCE_MINUTE: Final = 30


def slot_of(now: datetime, minutes: int) -> datetime:
    """The start of the `minutes`-long window now falls in (the same on every node)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = int((now - midnight).total_seconds() // 60)
    return midnight + timedelta(minutes=elapsed - elapsed % minutes)


class Scheduler:
    def __init__(
        self,
        rater: RaterActorProxy,
        maintenance: MaintenanceActorProxy,
        sweep_minutes: int,
        full_sweep_hour: int,
    ) -> None:
        self._rater = rater
        self._maintenance = maintenance
        self._sweep_minutes = sweep_minutes
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120},
        )
        self._scheduler.add_job(
            self.incremental_sweep,
            CronTrigger(minute=f"*/{sweep_minutes}", timezone=UTC),
            id="incremental-sweep",
        )
        self._scheduler.add_job(
            self.full_sweep,
            CronTrigger(hour=full_sweep_hour, minute=7, timezone=UTC),
            id="full-sweep",
        )
        self._scheduler.add_job(
            self.maintenance, CronTrigger(minute=MAINTENANCE_MINUTE, timezone=UTC), id="maintenance"
        )
        self._scheduler.add_job(
            self.prefetch, CronTrigger(minute="*", timezone=UTC), id="feed-prefetch"
        )

    def start(self) -> None:
        self._scheduler.start()
        log.info("scheduler started", jobs=[job.id for job in self._scheduler.get_jobs()])

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)

    def incremental_sweep(self) -> Any:
        slot = slot_of(datetime.now(UTC), self._sweep_minutes)
        return self._rater.sweep("incremental", slot).get(timeout=JOB_TIMEOUT_SECONDS)

    def full_sweep(self) -> Any:
        slot = slot_of(datetime.now(UTC), 24 * 60)
        return self._rater.sweep("full", slot).get(timeout=JOB_TIMEOUT_SECONDS)

    def maintenance(self) -> Any:
        slot = slot_of(datetime.now(UTC), 60)
        return self._maintenance.clean(slot).get(timeout=JOB_TIMEOUT_SECONDS)

    def prefetch(self) -> Any:
        slot = slot_of(datetime.now(UTC), 1)
        return self._maintenance.prefetch(slot).get(timeout=JOB_TIMEOUT_SECONDS)
