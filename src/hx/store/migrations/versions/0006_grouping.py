"""Incident grouping through every service an incident holds: an index on the alerts' service.

Revision ID: 0006_grouping
Revises: 0005_storm
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0006_grouping"
down_revision = "0005_storm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_heal_alerts_service", "heal_alerts", ["service", "status"])


def downgrade() -> None:
    op.drop_index("ix_heal_alerts_service", "heal_alerts")
