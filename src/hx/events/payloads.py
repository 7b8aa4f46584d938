"""One payload class per event type: what a publisher must give and what a consumer may rely on.

Each class binds exactly one :class:`EventType` with its ``event_type`` class variable and is registered
by it (:func:`payload_class`).  Payloads are frozen and refuse unknown fields, so a producer and a consumer
cannot drift apart silently: the bus parses every stored row with its type's class and refuses a row
that does not fit.  Fields keep the names the stored rows have always used, so a database written by an
earlier hx still reads; the one payload whose shape changed (``model.trained`` from heal's trainer) is
converted on read (:meth:`ModelTrained._legacy`).

>>> p = AnomalyNoData(service="api", signal="latency_p95", reason="no samples",
...                   at=datetime(2026, 1, 1, tzinfo=UTC))
>>> p.event_type.value, p.model_dump(mode="json")["at"]
('anomaly.no_data', '2026-01-01T00:00:00Z')
>>> payload_class(EventType.ANOMALY_NO_DATA) is AnomalyNoData
True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hx.errors import BadInput
from hx.events.types import EventType

_PAYLOADS: dict[EventType, type[Payload]] = {}


class Payload(BaseModel):
    """The base of every event payload; a subclass sets ``event_type`` and is registered for it.

    An intermediate base (shared fields, no ``event_type`` of its own) is not registered.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True,
        ser_json_inf_nan="constants",
    )  # fmt: skip
    event_type: ClassVar[EventType]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        etype = cls.__dict__.get("event_type")
        if etype is None:
            return
        if etype in _PAYLOADS:
            raise TypeError(f"{etype.value} already has a payload class: {_PAYLOADS[etype].__name__}")
        _PAYLOADS[etype] = cls


def payload_class(etype: EventType | str) -> type[Payload]:
    """The payload class of an event type (refused naming the type if none is registered)."""
    try:
        return _PAYLOADS[EventType(etype)]
    except (ValueError, KeyError):
        raise BadInput(f"no payload class for event type {etype!r}", field="type") from None


def payload_classes() -> dict[EventType, type[Payload]]:
    """Every registered payload class by event type (a copy)."""
    return dict(_PAYLOADS)


# ---- runtime --------------------------------------------------------------------------------------


class RuntimeStarted(Payload):
    """Published by the runtime when it starts stepping on wall-clock time; read by people (event listing)."""

    event_type = EventType.RUNTIME_STARTED
    engines: list[str]


class RuntimeStepFailed(Payload):
    """Published by the runtime when an engine's step fails, and by a background worker (the notification outbox's
    delivery thread: ``engine`` = ``notify-outbox``) when its pass fails, once per new error; read by people."""

    event_type = EventType.RUNTIME_STEP_FAILED
    engine: str
    error: str


# ---- anomalies ------------------------------------------------------------------------------------


class AnomalyDetected(Payload):
    """Published by the detector when a signal turns anomalous; read by heal's intake (an alert row whose value
    is ``observed`` and whose start is ``at``), the anomaly listing and the KPIs.  ``at`` is the sample's time."""

    event_type = EventType.ANOMALY_DETECTED
    anomaly_id: str
    service: str
    signal: str
    score: float
    threshold: float
    observed: float
    expected_low: float | None
    expected_high: float | None
    detectors: list[str]
    components: dict[str, float]
    at: datetime


class AnomalyResolved(Payload):
    """Published by the detector when an anomaly clears (or its signal stops: ``reason="no_data"``, then without
    the value fields); read by heal's intake and the anomaly listing."""

    event_type = EventType.ANOMALY_RESOLVED
    anomaly_id: str | None
    service: str
    signal: str
    peak_score: float | None = None
    observed: float | None = None
    duration_s: float | None = None
    at: datetime | None = None
    reason: str | None = None

    @property
    def onset(self) -> datetime | None:
        """When the anomaly began (``at`` less its duration), if the payload says."""
        if self.at is None or self.duration_s is None:
            return None
        return datetime.fromtimestamp(self.at.timestamp() - self.duration_s, tz=UTC)


class AnomalyNoData(Payload):
    """Published by the detector when a signal has no data; read by people and tests."""

    event_type = EventType.ANOMALY_NO_DATA
    service: str
    signal: str
    reason: str
    at: datetime


class AnomalyExplained(Payload):
    """Published by the detector instead of ``anomaly.detected`` when hx's own action on the service (a scale, a
    rollout step: ``explained_by``, event ``action_event``) explains the change, within ``until``; read by people
    and the event listing (annotated, not alerted: heal's intake does not read it)."""

    event_type = EventType.ANOMALY_EXPLAINED
    service: str
    signal: str
    score: float
    threshold: float
    observed: float
    expected_low: float | None
    expected_high: float | None
    explained_by: str
    action_event: int
    until: datetime
    at: datetime


# ---- deployments ----------------------------------------------------------------------------------


class DeploymentPayload(Payload):
    """The fields every deployment event carries (the deployment service and rollout engine publish them).

    ``deployment`` is hx's deployment id; None for a change hx did not orchestrate but was told about (a version
    rolled out by another tool): heal then rolls such a service back through the actuator, not the rollout engine.
    """

    deployment: int | None
    version: str
    environment: str
    state: str


class DeploymentRequested(DeploymentPayload):
    """Published by the deployment service when a change is requested; read by heal's change features."""

    event_type = EventType.DEPLOYMENT_REQUESTED
    requested_by: str
    change: dict[str, Any]


class DeploymentDecided(DeploymentPayload):
    """Published by the deployment service with the chosen strategy; read by heal's change features."""

    event_type = EventType.DEPLOYMENT_DECIDED
    strategy: str
    risk: dict[str, Any]
    decision: dict[str, Any]


class DeploymentStep(DeploymentPayload):
    """Published by the rollout engine after each actuated step; read by heal's change features."""

    event_type = EventType.DEPLOYMENT_STEP
    step: dict[str, Any]
    phase: str
    index: int


class DeploymentAnalysis(DeploymentPayload):
    """Published by the rollout engine with each canary analysis (or its error); read by people and tests."""

    event_type = EventType.DEPLOYMENT_ANALYSIS
    status: str
    step_index: int
    window: list[datetime] | None = None
    baseline: str | None = None
    canary: str | None = None
    basis: str | None = None
    score: float | None = None
    metrics: list[dict[str, Any]] = Field(default_factory=list)
    sequential: dict[str, Any] | None = None
    error: str | None = None


class DeploymentAwaitingApproval(DeploymentPayload):
    """Published by the rollout engine at an approval step; read by people."""

    event_type = EventType.DEPLOYMENT_AWAITING_APPROVAL
    reason: str | None


class DeploymentApproved(DeploymentPayload):
    """Published by the deployment service when a person approves a step; read by people."""

    event_type = EventType.DEPLOYMENT_APPROVED
    by: str
    at: datetime
    step_index: int


class DeploymentPaused(DeploymentPayload):
    """Published by the deployment service (a person paused: ``by``) or the rollout engine (it needs a person:
    ``reason``); read by people."""

    event_type = EventType.DEPLOYMENT_PAUSED
    by: str | None = None
    reason: str | None = None


class DeploymentResumed(DeploymentPayload):
    """Published by the deployment service when a person resumes a rollout; read by people."""

    event_type = EventType.DEPLOYMENT_RESUMED
    by: str


class DeploymentPromoted(DeploymentPayload):
    """Published by the rollout engine when a rollout finishes forward; read by heal's change features and the
    KPIs."""

    event_type = EventType.DEPLOYMENT_PROMOTED
    reason: str


class DeploymentRolledBack(DeploymentPayload):
    """Published by the rollout engine when a rollback starts (``stage="started"``) and when it finishes; read by
    heal's change features and the KPIs."""

    event_type = EventType.DEPLOYMENT_ROLLED_BACK
    reason: str
    stage: Literal["started"] | None = None


class DeploymentAborted(DeploymentPayload):
    """Published by the rollout engine when an aborted rollout has rolled back; read by people."""

    event_type = EventType.DEPLOYMENT_ABORTED
    reason: str


class DeploymentFailed(DeploymentPayload):
    """Published by the rollout engine when a rollback step fails; read by people."""

    event_type = EventType.DEPLOYMENT_FAILED
    error: str
    needs: str


class DeploymentRollbackRequested(Payload):
    """Published by self-healing's rollback step (it never calls the deployment service); read by the rollout
    engine, by cursor, which rolls back as a system principal naming the incident."""

    event_type = EventType.DEPLOYMENT_ROLLBACK_REQUESTED
    service: str
    deployment: int | None = None
    incident: int | None = None
    execution: int | None = None
    reason: str = ""


class DeploymentRollbackRefused(Payload):
    """Published by the rollout engine when a requested rollback has nothing to roll back (or the deployment named
    is of another service); read by self-healing's rollback step, which fails the step with the reason."""

    event_type = EventType.DEPLOYMENT_ROLLBACK_REFUSED
    request: int
    reason: str
    deployment: int | None = None
    incident: int | None = None


# ---- incidents ------------------------------------------------------------------------------------


class IncidentPayload(Payload):
    """The fields heal's incident manager puts on every incident event."""

    incident: int
    environment: str
    status: str
    incident_class: str = Field(alias="class")


class IncidentOpened(Payload):
    """Published by heal's incident manager (an incident opened on an alert), by the audit watch (``class``
    ``audit_tampering`` with ``first_broken`` and ``reason``) and by the strategy trainer's history (``class``
    only); read by the deployment risk score."""

    event_type = EventType.INCIDENT_OPENED
    incident: int | None = None
    environment: str | None = None
    status: str | None = None
    incident_class: str = Field(alias="class")
    alert: str | None = None
    labels: dict[str, str] | None = None
    first_broken: int | None = None
    reason: str | None = None


class IncidentUpdated(Payload):
    """Published by heal when an alert joins an incident (``alert``), another incident is merged into it
    (``merged``: an alert linked the two), a person acknowledges it (``acknowledged_by``) or labels it
    (``labelled``, ``by``; without the incident's state); read by people."""

    event_type = EventType.INCIDENT_UPDATED
    incident: int
    environment: str | None = None
    status: str | None = None
    incident_class: str | None = Field(default=None, alias="class")
    alert: str | None = None
    alert_service: str | None = None
    merged: int | None = None
    acknowledged_by: str | None = None
    labelled: str | None = None
    by: str | None = None


class IncidentClassified(Payload):
    """Published by heal's triage with the class and root causes; read by people and the KPIs."""

    event_type = EventType.INCIDENT_CLASSIFIED
    incident: int
    incident_class: str = Field(alias="class")
    confidence: float
    by: str
    root_causes: list[dict[str, Any]]


class IncidentAction(Payload):
    """Published by heal's remediation for each action (``action``, ``ok``, ``dry_run``; ``step`` is its kind) and
    when a step awaits approval (``status``; ``step`` is the whole step); read by people."""

    event_type = EventType.INCIDENT_ACTION
    incident: int
    execution: int
    runbook: str
    step: dict[str, Any] | str | None
    status: str | None = None
    action: str | None = None
    detail: str | None = None
    ok: bool | None = None
    dry_run: bool | None = None


class IncidentEscalated(Payload):
    """Published by heal's escalator when an incident needs a person; read by the KPIs."""

    event_type = EventType.INCIDENT_ESCALATED
    incident: int
    reason: str
    incident_class: str = Field(alias="class")


class IncidentResolved(IncidentPayload):
    """Published by heal's incident manager when an incident is resolved; read by people and the KPIs."""

    event_type = EventType.INCIDENT_RESOLVED
    by: str
    reason: str
    mttr_s: float | None


class IncidentPredicted(IncidentPayload):
    """Published by heal's predictive watch when a trend will breach a limit; read by people and tests."""

    event_type = EventType.INCIDENT_PREDICTED
    signal: str
    limit: float
    level: float
    slope_per_h: float
    kendall_tau: float
    predicted_breach_at: datetime
    eta_s: float


class NotificationPayload(Payload):
    """One notifier delivery for an incident (heal's escalator publishes it); read by people."""

    incident: int
    notifier: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None
    event: str
    level: int | None
    dedup_key: str | None


class NotificationSent(NotificationPayload):
    """A delivery that succeeded."""

    event_type = EventType.NOTIFICATION_SENT


class NotificationFailed(NotificationPayload):
    """A delivery that failed after its retries."""

    event_type = EventType.NOTIFICATION_FAILED


# ---- scaling, cost, cloud -------------------------------------------------------------------------


class ScalingFields(Payload):
    """A scaler recommendation's fields (all but ``service`` absent when the service cannot be scaled)."""

    service: str
    at: datetime | None = None
    current_replicas: int | None = None
    replicas: int | None = None
    reactive_replicas: int | None = None
    predictive_replicas: int | None = None
    forecast_peak: float | None = None
    window: list[datetime] | None = None
    demand: float | None = None
    reason: str | None = None
    mode: str | None = None
    profile: dict[str, Any] | None = None
    forecast: dict[str, Any] | None = None


class ScalingDecided(ScalingFields):
    """Published by the scaler with each new recommendation; read by the scaling API and heal's change features."""

    event_type = EventType.SCALING_DECIDED


class ScalingActed(ScalingFields):
    """Published by the scaler after it asked the actuator to scale (``before`` -> ``after``, ``ok``); read by the
    scaling API, heal's change features and the demo."""

    event_type = EventType.SCALING_ACTED
    before: int
    after: int
    ok: bool
    detail: str | None = None
    error: str | None = None


class ScalingAlphaChosen(Payload):
    """Published by the scaler in calibrated mode with ``calibration_alpha: auto`` each time it (re-)chooses a
    service's alpha from that service's own history (``chosen``), or keeps the previous one or the conservative
    default because the history is too short (``chosen`` false); read by people and the scaler's status."""

    event_type = EventType.SCALING_ALPHA_CHOSEN
    service: str
    alpha: float
    chosen: bool
    reason: str
    window: list[datetime] | None = None
    hpa: dict[str, float] | None = None
    tried: list[dict[str, float]] = Field(default_factory=list)


class CostReport(Payload):
    """Published by the cost API: a rightsizing report (``kind="rightsizing"``) or an estate cost report; read by
    people."""

    event_type = EventType.COST_REPORT
    kind: Literal["rightsizing", "estate"] = "estate"
    monthly_saving_usd: float | None = None
    services: int | None = None
    current_total_usd_per_hour: float | None = None
    optimal_total_usd_per_hour: float | None = None
    savings_usd_per_hour: float | None = None
    per_cloud_optimal: dict[str, Any] | None = None


class PlacementDecided(Payload):
    """Published by the placement API and the demo with a plan's summary and where each workload went; read by
    people."""

    event_type = EventType.PLACEMENT_DECIDED
    workloads: int
    total_usd_per_hour: float
    compute_usd_per_hour_by_cloud: dict[str, float]
    egress_usd_per_hour: float
    status: str
    mip_gap: float | None
    where: dict[str, list[str]]
    greedy_usd_per_hour: float | None = None
    savings_vs_greedy_pct: float | None = None
    best_single_cloud: str | None = None
    savings_vs_best_single_cloud_pct: float | None = None


class DrDrill(Payload):
    """Published by the DR drill API and the demo with a drill's outcome; read by people."""

    event_type = EventType.DR_DRILL
    workload: str
    ok: bool
    met: bool
    achieved_rto_s: float
    target_rto_s: float
    strategy: str
    target: str


# ---- models and improvement -----------------------------------------------------------------------


class ModelTrained(Payload):
    """Published by every trainer (improvement cycle, strategy and heal trainers) with the saved version's metadata;
    read by people."""

    event_type = EventType.MODEL_TRAINED
    name: str
    version: int
    kind: str
    created_at: datetime
    stage: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    fingerprint: str
    training_data: str

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        """heal's trainer used to publish ``{"model", "version", **metrics}``: read such a row as far as it goes."""
        if isinstance(data, dict) and "model" in data and "name" not in data:
            rest = {k: v for k, v in data.items() if k not in ("model", "version")}
            return {"name": data["model"], "version": data.get("version"), "kind": "", "stage": "",
                    "created_at": datetime.fromtimestamp(0, tz=UTC), "config": {}, "metrics": rest,
                    "fingerprint": "", "training_data": ""}  # fmt: skip
        return data


class ModelStageChanged(Payload):
    """The fields of every model stage event: published by the model registry on each change of stage, whoever
    makes it (API, CLI, improvement cycle); read by the engines that use the model (``ModelWatch``), by cursor."""

    model: str
    version: int
    stage: str
    reason: str
    previous_stage: str | None = None
    actor: str = ""
    forced: bool = False


class ModelPromoted(ModelStageChanged):
    """A version became the promoted one."""

    event_type = EventType.MODEL_PROMOTED


class ModelRetired(ModelStageChanged):
    """A version was retired or left the promoted stage (the engines fall back to the next promoted one or the
    rules)."""

    event_type = EventType.MODEL_RETIRED


class ImprovementReport(Payload):
    """Published by the improvement cycle with its report (KPIs, gates, model reviews); read by people and tests."""

    event_type = EventType.IMPROVEMENT_CYCLE
    at: datetime
    window_s: float
    kpis: dict[str, float | None]
    gates: list[dict[str, Any]]
    passed: bool
    models: list[dict[str, Any]]
    recommendations: list[str]
    detector: dict[str, Any] | None = None  #: the detector's review on labelled anomalies (hx.improve.detection)


class QualityGateFailed(Payload):
    """Published by the improvement cycle for each failing quality gate; read by people."""

    event_type = EventType.QUALITY_GATE
    name: str
    metric: str
    value: float | None
    min: float | None
    max: float | None
    status: str
    advice: str | None
    note: str | None = None  #: with status no_data: why the KPI has no value


# ---- simulator ------------------------------------------------------------------------------------


class SimFaultInjected(Payload):
    """Reserved for the simulator when it injects a fault (nothing publishes it yet); read by people."""

    event_type = EventType.SIM_FAULT_INJECTED
    fault_id: str
    kind: str
    service: str | None = None
    node: str | None = None


class SimFaultHealed(Payload):
    """Reserved for the simulator when a fault heals (nothing publishes it yet); read by people."""

    event_type = EventType.SIM_FAULT_HEALED
    fault_id: str
    kind: str
