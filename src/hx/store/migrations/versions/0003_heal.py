"""Self-healing: alerts, incidents, incident timeline, remediation executions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hx.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _alerts() -> None:
    op.create_table(
        "heal_alerts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("group_key", sa.String(400), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("processed", sa.Boolean, nullable=False),
        sa.Column("incident_id", Id, nullable=True),
    )
    op.create_index("ix_heal_alerts_processed", "heal_alerts", ["processed"])


def _incidents() -> None:
    op.create_table(
        "heal_incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("incident_class", sa.String(40), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("classified_by", sa.String(20), nullable=False),
        sa.Column("root_causes", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("firing", sa.JSON, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("escalation", sa.JSON, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_heal_incidents_service_status", "heal_incidents", ["service", "status"])
    op.create_table(
        "heal_timeline",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, sa.ForeignKey("heal_incidents.id"), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_heal_timeline_incident", "heal_timeline", ["incident_id"])


def _executions() -> None:
    op.create_table(
        "heal_executions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, sa.ForeignKey("heal_incidents.id"), nullable=False),
        sa.Column("runbook", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("step_started_at", UTCDateTime(), nullable=True),
        sa.Column("step_attempts", sa.Integer, nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("on_failure", sa.String(20), nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_heal_executions_target_state", "heal_executions", ["target", "state"])


def upgrade() -> None:
    _alerts()
    _incidents()
    _executions()


def downgrade() -> None:
    op.drop_table("heal_executions")
    op.drop_table("heal_timeline")
    op.drop_table("heal_incidents")
    op.drop_table("heal_alerts")
