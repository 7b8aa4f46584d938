"""What the operations page shows about quiet rules and labels: the silences, maintenance windows and freezes in
force or still to come (on the platform's clock), the rollouts a freeze refused lately (from the audit log), and the
label people gave each anomaly.

Rules are added and removed by the page through ``/api/v1/silences|maintenance|freezes`` and anomalies labelled
through ``/api/v1/anomalies/{id}/label``; this module only reads what those routes recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hx.detect.labels import label_json
from hx.quiet import QuietRule, list_rules
from hx.store.tables import anomaly_labels, audit_log

if TYPE_CHECKING:
    from datetime import datetime

    from hx.platform import Platform

#: rule kind -> the API segment that adds and removes it
SEGMENTS = {"silence": "silences", "maintenance": "maintenance", "freeze": "freezes"}
#: the most refusals the page lists
REFUSALS = 10


def _rule_json(rule: QuietRule, now: datetime) -> dict[str, Any]:
    state = "active" if rule.active(now) else "upcoming"
    return {**rule.to_json(), "state": state, "segment": SEGMENTS[rule.kind], "describe": rule.describe()}


def quiet_rules(platform: Platform) -> list[dict[str, Any]]:
    """Rules not removed whose end is still ahead, active first, then by start."""
    now = platform.clock.now()
    ahead = [r for r in list_rules(platform.store) if r.removed_at is None and r.ends_at > now]
    ahead.sort(key=lambda r: (not r.active(now), r.starts_at, r.id))
    return [_rule_json(r, now) for r in ahead]


def refusals(platform: Platform, limit: int = REFUSALS) -> list[dict[str, Any]]:
    """The latest rollouts refused by a freeze, as audited (newest first)."""
    q = (
        select(audit_log.c.ts, audit_log.c.actor, audit_log.c.target, audit_log.c.detail)
        .where(audit_log.c.action == "deployment.refused", audit_log.c.outcome == "refused")
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    with platform.store.begin() as conn:
        rows = conn.execute(q).all()
    return [{"ts": r.ts.isoformat(), "actor": r.actor, "target": r.target, **dict(r.detail)} for r in rows]


def labels_of(platform: Platform, anomaly_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """anomaly id -> its label, for those of ``anomaly_ids`` that have one."""
    ids = sorted(set(anomaly_ids))
    if not ids:
        return {}
    with platform.store.begin() as conn:
        rows = conn.execute(select(anomaly_labels).where(anomaly_labels.c.anomaly_id.in_(ids))).mappings().all()
    return {str(r["anomaly_id"]): label_json(r) for r in rows}
