"""Deployments and their step log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hx.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("from_version", sa.String(200), nullable=False),
        sa.Column("strategy", sa.String(40), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("step_started_at", UTCDateTime(), nullable=True),
        sa.Column("replicas", sa.Integer, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("rollback_plan", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("risk", sa.JSON, nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("change", sa.JSON, nullable=False),
        sa.Column("unsafe_rollback", sa.Boolean, nullable=False),
        sa.Column("analyses", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_deployments_service_state", "deployments", ["service", "state"])
    op.create_table(
        "deployment_steps",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", Id, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_deployment_steps_dep", "deployment_steps", ["deployment_id"])


def downgrade() -> None:
    op.drop_table("deployment_steps")
    op.drop_table("deployments")
