"""The maintenance actor: periodic cleanup and feed prefetch, one node per firing (see
storage.ratings.claim_firing)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from observability.metrics import Metrics
from storage.accounts import Accounts
from storage.feed import Feed
from storage.maintenance import CleanupReport, Maintenance
from storage.ratings import claim_firing

log = structlog.get_logger(__name__)

PREFETCH_ACTIVE_WITHIN = timedelta(minutes=10)
PREFETCH_MAX_USERS = 2000


class MaintenanceActor(pykka.ThreadingActor):
    def __init__(
        self,
        maintenance: Maintenance,
        feed: Feed,
        accounts: Accounts,
        database_url: str,
        node_id: str,
        metrics: Metrics,
    ) -> None:
        super().__init__()
        self._maintenance = maintenance
        self._feed = feed
        self._accounts = accounts
        self._database_url = database_url
        self._node_id = node_id
        self._metrics = metrics

    def clean(self, slot: datetime) -> CleanupReport | None:
        try:
            with claim_firing(self._database_url, "maintenance", slot, self._node_id) as firing:
                if firing is None:
                    return None
                report = self._maintenance.run()
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "maintenance").inc()
            log.exception("maintenance failed; the next firing tries again")
            return None
        log.info(
            "maintenance finished",
            views=report.views,
            feed_passes=report.feed_passes,
            objects=report.objects,
            away=report.away,
            handled=report.handled,
        )
        return report

    def prefetch(self, slot: datetime) -> int | None:
        """Fill the feed passes of people active in the last minutes, so that their next
        cards come from the queue rather than from a ranked query while they wait."""
        try:
            with claim_firing(self._database_url, "prefetch", slot, self._node_id) as firing:
                if firing is None:
                    return None
                filled = 0
                for user_id in self._feed.due_for_prefetch(
                    PREFETCH_ACTIVE_WITHIN, PREFETCH_MAX_USERS
                ):
                    account = self._accounts.get(user_id)
                    if account is not None and account.is_complete:
                        filled += self._feed.prefetch(account) > 0
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "prefetch").inc()
            log.exception("feed prefetch failed; the next firing tries again")
            return None
        log.debug("feed prefetch finished", filled=filled)
        return filled


class MaintenanceActorProxy(ActorMemberMixin, pykka.ActorProxy[MaintenanceActor]):
    clean = proxy_method(MaintenanceActor.clean)
    prefetch = proxy_method(MaintenanceActor.prefetch)
