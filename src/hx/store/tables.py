"""The tables of hx's own state.  Schema changes go through Alembic migrations only."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from hx.store.types import UTCDateTime

#: The vocabulary of the state columns, shared by the engines that write them and the KPIs that read them.
#: A rollout's active and terminal states, and those that count as a failed change (``deployments.state``).
DEPLOYMENT_ACTIVE = ("awaiting_approval", "running", "paused", "rolling_back", "needs_person")
DEPLOYMENT_TERMINAL = ("promoted", "rolled_back", "aborted", "failed")
DEPLOYMENT_FAILED = ("rolled_back", "failed")
#: An incident's open states, and the resolution self-healing writes when a verified runbook fixed it.
INCIDENT_OPEN = ("open", "acknowledged")
FIXED_BY_RUNBOOK = "fixed by runbook"
#: the start of the resolution of an incident merged into another (an alert linked the two)
MERGED_INTO = "merged into incident"

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("type", String(80), nullable=False),
    Column("source", String(80), nullable=False),
    Column("subject", String(200), nullable=False, default=""),
    Column("data", JSON, nullable=False),
    Index("ix_events_type", "type"),
    Index("ix_events_subject", "subject"),
    Index("ix_events_ts", "ts"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("target", String(400), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("totp_secret", LargeBinary, nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("stage", String(20), nullable=False, default="candidate"),
    Column("config", JSON, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("training_data", String(40), nullable=False),
    UniqueConstraint("name", "version", name="uq_models_name_version"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

engine_state = Table(
    "engine_state",
    metadata,
    Column("engine", String(100), primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

engine_runs = Table(
    "engine_runs",
    metadata,
    Column("engine", String(100), primary_key=True),
    Column("steps", BigInteger, nullable=False, default=0),
    Column("errors", BigInteger, nullable=False, default=0),
    Column("last_step_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_duration_s", Float, nullable=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("from_version", String(200), nullable=False),
    Column("strategy", String(40), nullable=False),
    Column("state", String(40), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("step_started_at", UTCDateTime(), nullable=True),
    Column("replicas", Integer, nullable=False),
    Column("plan", JSON, nullable=False),
    Column("rollback_plan", JSON, nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("approvals", JSON, nullable=False),
    Column("risk", JSON, nullable=False),
    Column("decision", JSON, nullable=False),
    Column("change", JSON, nullable=False),
    Column("unsafe_rollback", Boolean, nullable=False),
    Column("analyses", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("revision", Integer, nullable=False),
    Index("ix_deployments_service_state", "service", "state"),
)

deployment_steps = Table(
    "deployment_steps",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment_id", Id, ForeignKey("deployments.id"), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_deployment_steps_dep", "deployment_id"),
)

# ---- self-healing (migration 0003) ----------------------------------------------------------------

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
    Index("ix_heal_alerts_fingerprint", "fingerprint", "status"),
    Index("ix_heal_alerts_incident", "incident_id"),
    Index("ix_heal_alerts_service", "service", "status"),  # migration 0006_grouping
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
    Index("ix_heal_incidents_status_env", "status", "environment", "service"),
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

# ---- operations: quiet rules and anomaly labels (migration 0004_ops) --------------------------------

#: The kinds of quiet rule: a silence holds notifications, a maintenance window holds remediation, a freeze holds
#: new rollouts.
QUIET_KINDS = ("silence", "maintenance", "freeze")

quiet_rules = Table(
    "quiet_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("alert", String(200), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
    Column("removed_by", String(200), nullable=True),
    Index("ix_quiet_rules_kind_ends", "kind", "ends_at"),
)

anomaly_labels = Table(
    "anomaly_labels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("anomaly_id", String(200), nullable=False, unique=True),
    Column("service", String(200), nullable=False),
    Column("signal", String(200), nullable=False),
    Column("score", Float, nullable=True),
    Column("detectors", JSON, nullable=False),
    Column("true_positive", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("labelled_by", String(200), nullable=False),
    Column("labelled_at", UTCDateTime(), nullable=False),
    Index("ix_anomaly_labels_at", "labelled_at"),
)

#: one notification to one notifier, delivered by the outbox worker (migration 0005_storm)
heal_outbox = Table(
    "heal_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, nullable=True),
    Column("notifier", String(40), nullable=False),
    Column("event", String(20), nullable=False),
    Column("level", Integer, nullable=True),
    Column("message", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index("ix_heal_outbox_due", "state", "next_attempt_at"),
    Index("ix_heal_outbox_notifier", "notifier", "updated_at"),
)

__all__ = [
    "anomaly_labels",
    "api_tokens",
    "audit_log",
    "deployment_steps",
    "deployments",
    "engine_runs",
    "engine_state",
    "events",
    "heal_alerts",
    "heal_executions",
    "heal_incidents",
    "heal_outbox",
    "heal_timeline",
    "leases",
    "metadata",
    "models",
    "quiet_rules",
    "secrets",
]
