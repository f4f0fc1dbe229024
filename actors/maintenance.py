"""The maintenance actor: periodic cleanup, one node per firing (see storage.ratings)."""

from __future__ import annotations

from datetime import datetime

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from node.metrics import Metrics
from storage.maintenance import CleanupReport, Maintenance
from storage.ratings import claim_firing

log = structlog.get_logger(__name__)


class MaintenanceActor(pykka.ThreadingActor):
    def __init__(self, maintenance: Maintenance, database_url: str, node_id: str,
                 metrics: Metrics) -> None:
        super().__init__()
        self._maintenance = maintenance
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
        log.info("maintenance finished", views=report.views, feed_passes=report.feed_passes,
                 objects=report.objects)
        return report


class MaintenanceActorProxy(ActorMemberMixin, pykka.ActorProxy[MaintenanceActor]):
    clean = proxy_method(MaintenanceActor.clean)
