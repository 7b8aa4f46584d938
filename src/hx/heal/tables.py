"""The self-healing tables (created by migration 0003): alerts, incidents, their timeline, remediation runs.

Defined on the shared :data:`hx.store.tables.metadata` so repository code and tests see one schema.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hx.store.tables import Id, metadata
from hx.store.types import UTCDateTime

heal_alerts = Table(
    "heal_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("source", String(40), nullable=False),
    Column("group_key", String(400), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("processed", Boolean, nullable=False),
    Column("incident_id", Id, nullable=True),
    Index("ix_heal_alerts_processed", "processed"),
)

heal_incidents = Table(
    "heal_incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("title", String(500), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("incident_class", String(40), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("classified_by", String(20), nullable=False),
    Column("root_causes", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("firing", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("escalation", JSON, nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolution", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Index("ix_heal_incidents_service_status", "service", "status"),
)

heal_timeline = Table(
    "heal_timeline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("heal_incidents.id"), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_heal_timeline_incident", "incident_id"),
)

heal_executions = Table(
    "heal_executions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("heal_incidents.id"), nullable=False),
    Column("runbook", String(200), nullable=False),
    Column("target", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("state", String(30), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("step_started_at", UTCDateTime(), nullable=True),
    Column("step_attempts", Integer, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("on_failure", String(20), nullable=False),
    Column("results", JSON, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("revision", Integer, nullable=False),
    Index("ix_heal_executions_target_state", "target", "state"),
)
