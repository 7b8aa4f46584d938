"""Platform engines that every deployment runs: the audit-chain watch."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from hx.events import IncidentOpened
from hx.platform import Platform

log = logging.getLogger(__name__)


class AuditWatch:
    """Re-verifies the audit hash chain on a schedule; a break degrades /health and is published."""

    name = "audit-watch"

    def __init__(self, platform: Platform, interval_s: float = 3600.0) -> None:
        self.platform = platform
        self.interval_s = interval_s
        self.last: dict[str, Any] = {"status": "ok", "detail": "not checked yet"}

    def step(self, now: datetime) -> None:
        res = self.platform.audit.verify()
        if res.ok:
            self.platform.audit.export_head()  # the verified chain's newest record anchors the next check
            self.last = {"status": "ok", "records": res.records, "checked_at": now.isoformat()}
            return
        self.last = {
            "status": "degraded",
            "first_broken": res.first_broken,
            "reason": res.reason,
            "checked_at": now.isoformat(),
        }
        log.error("audit chain broken at record %s: %s", res.first_broken, res.reason)
        self.platform.bus.publish(
            IncidentOpened(incident_class="audit_tampering", first_broken=res.first_broken, reason=res.reason),
            source="audit-watch",
            subject="hx",
        )

    def health(self) -> dict[str, Any]:
        return self.last
