"""Operations: quiet rules (silences, maintenance windows, change freezes) and anomaly labels.

Revision ID: 0004_ops
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hx.store.types import UTCDateTime

revision = "0004_ops"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _quiet_rules() -> None:
    op.create_table(
        "quiet_rules",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("alert", sa.String(200), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("removed_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_quiet_rules_kind_ends", "quiet_rules", ["kind", "ends_at"])


def _anomaly_labels() -> None:
    op.create_table(
        "anomaly_labels",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("anomaly_id", sa.String(200), nullable=False, unique=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("signal", sa.String(200), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("detectors", sa.JSON, nullable=False),
        sa.Column("true_positive", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("labelled_by", sa.String(200), nullable=False),
        sa.Column("labelled_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_anomaly_labels_at", "anomaly_labels", ["labelled_at"])


def upgrade() -> None:
    _quiet_rules()
    _anomaly_labels()


def downgrade() -> None:
    op.drop_index("ix_anomaly_labels_at", table_name="anomaly_labels")
    op.drop_table("anomaly_labels")
    op.drop_index("ix_quiet_rules_kind_ends", table_name="quiet_rules")
    op.drop_table("quiet_rules")
