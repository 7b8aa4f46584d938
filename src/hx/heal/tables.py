"""The self-healing tables (created by migration 0003): alerts, incidents, their timeline, remediation runs.

Defined with every other table in :mod:`hx.store.tables` (one schema, readable by the KPIs without importing
self-healing); named here for the self-healing repositories.
"""

from __future__ import annotations

from hx.store.tables import heal_alerts, heal_executions, heal_incidents, heal_outbox, heal_timeline

__all__ = ["heal_alerts", "heal_executions", "heal_incidents", "heal_outbox", "heal_timeline"]
