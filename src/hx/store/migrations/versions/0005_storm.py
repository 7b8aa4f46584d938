"""Storm-proof self-healing: indexes for incident matching in SQL, and the notification outbox.

Revision ID: 0005_storm
Revises: 0004_ops
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hx.store.types import UTCDateTime

revision = "0005_storm"
down_revision = "0004_ops"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _indexes() -> None:
    op.create_index("ix_heal_alerts_fingerprint", "heal_alerts", ["fingerprint", "status"])
    op.create_index("ix_heal_alerts_incident", "heal_alerts", ["incident_id"])
    op.create_index("ix_heal_incidents_status_env", "heal_incidents", ["status", "environment", "service"])


def _outbox() -> None:
    op.create_table(
        "heal_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=True),
        sa.Column("notifier", sa.String(40), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("message", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_heal_outbox_due", "heal_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_heal_outbox_notifier", "heal_outbox", ["notifier", "updated_at"])


def upgrade() -> None:
    _indexes()
    _outbox()


def downgrade() -> None:
    op.drop_table("heal_outbox")
    op.drop_index("ix_heal_incidents_status_env", "heal_incidents")
    op.drop_index("ix_heal_alerts_incident", "heal_alerts")
    op.drop_index("ix_heal_alerts_fingerprint", "heal_alerts")
