"""One typed settings object, read once.

Precedence: built-in defaults < YAML file < ``HX_*`` environment < CLI flags.

The file format is the original platform's ``environments/<env>/ai-config/ai-ml-config.yml``.
Environment variables address any key as ``HX_<SECTION>__<KEY>__<SUBKEY>`` (values are parsed
as YAML scalars, so ``0.9``, ``true`` and ``[a, b]`` work), plus a few shortcuts
(``HX_DATABASE_URL``, ``HX_HOME``, ``HX_SECRET_KEY``, ``HX_ENV``).  A wrong type or an unknown
key is a :class:`~hx.errors.ConfigError` naming the file (or variable), the key path and what was
expected.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hx.errors import ConfigError, validation_message
from hx.files import not_text

Role = Literal["viewer", "operator", "approver", "admin"]
Strategy = Literal["rolling", "blue_green", "canary", "recreate", "conservative"]
URL_PATTERN = r"^https?://[^/\s]+(/\S*)?$"
NotifierName = Literal["slack", "email", "pagerduty", "webhook"]

log = logging.getLogger(__name__)

#: settings keys renamed: old key path -> new key path (the old one still works, with a warning)
RENAMED_KEYS: dict[str, str] = {
    "intelligent_monitoring.predictive_scaling": "intelligent_monitoring.scaling",
}


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, and so are infinite or NaN numbers (YAML's
    ``.inf`` and ``.nan`` passed every ``gt=0`` bound: an analysis interval of ``.inf`` validated)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# ---- ai_orchestrator ------------------------------------------------------------------


class DecisionEngine(Section):
    confidence_threshold: float = Field(0.85, ge=0.0, le=1.0)
    fallback_strategy: Strategy = "conservative"


class AutomationLevels(Section):
    full_auto: list[str] = Field(default_factory=lambda: ["dev", "test"])
    approval_required: list[str] = Field(default_factory=lambda: ["staging"])
    manual_only: list[str] = Field(default_factory=lambda: ["prod"])


class CanarySettings(Section):
    steps: list[float] = Field(
        default_factory=lambda: [5.0, 25.0, 50.0, 100.0], min_length=1,
        description="traffic percentages, increasing, each in (0, 100] (100 is added when the last is below it)",
    )  # fmt: skip
    analysis_interval_s: float = Field(300.0, gt=0)
    pass_threshold: float = Field(95.0, ge=0, le=100)
    marginal_threshold: float = Field(75.0, ge=0, le=100)
    #: hours of the baseline's own pre-canary signals read (in hourly blocks) to estimate its autocorrelation
    #: and noise level for the judge; 0 = judge from the canary windows alone
    history_hours: float = Field(6.0, ge=0, le=168)

    @field_validator("steps")
    @classmethod
    def _increasing_percentages(cls, steps: list[float]) -> list[float]:
        # the rollout planner refuses these too, but only when a deployment is planned: a config that validated
        # then failed every canary (steps [-5, 500] validated)
        if any(not 0 < w <= 100 for w in steps) or steps != sorted(steps) or len(set(steps)) != len(steps):
            raise ValueError(f"steps must be increasing percentages in (0, 100], got {steps}")
        return steps


class AiOrchestrator(Section):
    enabled: bool = True
    decision_engine: DecisionEngine = Field(default_factory=DecisionEngine)
    automation_levels: AutomationLevels = Field(default_factory=AutomationLevels)
    canary: CanarySettings = Field(default_factory=CanarySettings)
    rollout_timeout_s: float = Field(3600.0, gt=0)
    #: a rollout owns its service through a lease renewed every engine step; it expires this long after a crashed
    #: owner's last renewal (the scaler and remediation leave an owned service's replicas alone)
    ownership_lease_s: float = Field(120.0, gt=0)


# ---- intelligent_monitoring ------------------------------------------------------------


class SignalDetector(Section):
    detector: str = "ensemble_resonance"


class AnomalyDetection(Section):
    enabled: bool = True
    sensitivity: Literal["low", "medium", "high"] = "medium"
    alert_threshold: float = Field(0.8, ge=0.0, le=1.0)
    detector: str = "ensemble_resonance"
    per_signal: dict[str, SignalDetector] = Field(default_factory=dict, description="detector per signal")
    signals: list[str] = Field(
        default_factory=lambda: ["request_rate", "error_rate", "latency_p95", "cpu_utilization", "memory_utilization"]
    )
    interval_s: float = Field(60.0, gt=0)
    cooldown_s: float = Field(600.0, ge=0)
    min_history_s: float = Field(86400.0, ge=0, description="history a signal needs before it may alert")
    learn_history_s: float = Field(8 * 86400.0, ge=0, description="history a new signal learns from at start")
    action_window_s: float = Field(
        900.0, ge=0, le=86400, description="after hx scales or rolls out a service, the changes it explains are "
        "annotated (anomaly.explained), not alerted, for this long (0: off)"
    )  # fmt: skip
    save_interval_s: float = Field(600.0, gt=0)


class Scaling(Section):
    """The predictive scaler (:mod:`hx.scale`): horizon, buffer, act or recommend, replica bounds."""

    enabled: bool = True
    prediction_horizon: int = Field(3600, gt=0)
    scaling_buffer: float = Field(0.2, ge=0.0)
    mode: Literal["act", "recommend"] = "act"
    target_utilization: float = Field(0.7, gt=0.0, le=1.0)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(100, ge=1)
    interval_s: float = Field(60.0, gt=0)
    calibrated: bool = Field(False, description="calibrated mode (a conformal demand bound instead of the buffer)")
    calibration_alpha: float | Literal["auto"] | None = Field(
        None,
        description="calibrated mode: the rate at which the demand bound may be exceeded, or auto (the scaler "
        "chooses it per service from its own history); setting it turns calibrated mode on; unset with "
        "calibrated: true means auto",
    )
    max_utilization: float = Field(0.8, gt=0.0, le=1.0, description="calibrated mode: bound sized at this")
    scale_in_window_s: float = Field(
        600.0, ge=0.0, le=86400.0, description="scale in only when the need stayed below the replicas this long"
    )
    capacity_rps: dict[str, float] = Field(
        default_factory=dict,
        description="per service: the req/s one instance serves (else the fleet's facts, else estimated from "
        "telemetry: the saturation signal, else CPU)",
    )
    alpha_refresh_s: float = Field(
        86400.0, ge=300.0, description="calibrated mode, alpha auto: seconds between re-choices per service"
    )
    alpha_days: float = Field(
        7.0, ge=1.0, le=19.0, description="calibrated mode, alpha auto: days of the service's own history judged"
    )

    @field_validator("calibration_alpha", mode="before")
    @classmethod
    def _alpha(cls, v: object) -> object:
        if v is None or v == "auto":
            return v
        try:
            a = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"must be a number in (0, 0.5) or 'auto', got {v!r}") from None
        if not 0 < a < 0.5:
            raise ValueError(f"must be in (0, 0.5) or 'auto', got {v!r}")
        return a

    @field_validator("capacity_rps")
    @classmethod
    def _capacities(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: c for k, c in v.items() if not (math.isfinite(c) and c > 0)}
        if bad:
            name = next(iter(bad))
            raise ValueError(f"capacity_rps.{name} must be a number > 0 req/s, got {bad[name]}")
        return v

    @property
    def effective_alpha(self) -> float | Literal["auto"] | None:
        """The calibrated mode's alpha (None: calibrated mode is off); ``auto`` is calibrated mode's default."""
        if self.calibration_alpha is not None:
            return self.calibration_alpha
        return "auto" if self.calibrated else None


class CostOptimization(Section):
    enabled: bool = True
    cpu_hour_usd: float = Field(0.0336, ge=0)
    gib_hour_usd: float = Field(0.0045, ge=0)
    safety_margin: float = Field(0.15, ge=0)
    risk_budget: float = Field(
        0.04, gt=0, lt=0.5, description="fleet right-sizing: the share of workload-intervals allowed above their level"
    )


class IntelligentMonitoring(Section):
    anomaly_detection: AnomalyDetection = Field(default_factory=AnomalyDetection)
    scaling: Scaling = Field(default_factory=Scaling)
    cost_optimization: CostOptimization = Field(default_factory=CostOptimization)


# ---- self_healing ------------------------------------------------------------------------


class EscalationLevel(Section):
    after_s: float = Field(0.0, ge=0)
    notifiers: list[NotifierName] = Field(default_factory=lambda: list[NotifierName](["slack"]))


class SelfHealing(Section):
    enabled: bool = True
    dry_run: bool = False
    runbook_dirs: list[str] = Field(default_factory=list)
    max_runs_per_hour: int = Field(3, ge=1)
    circuit_breaker_failures: int = Field(3, ge=1)
    blast_radius: float = Field(0.34, gt=0, le=1)
    verify_timeout_s: float = Field(600.0, gt=0)
    #: seconds an incident settles before triage (later alerts and samples make the class and origin clearer)
    triage_delay_s: float = Field(90.0, ge=0, le=3600, description="seconds an incident settles before triage")
    classifier_confidence: float = Field(0.6, ge=0, le=1)
    escalation: list[EscalationLevel] = Field(
        default_factory=lambda: [
            EscalationLevel(after_s=0, notifiers=["slack", "email"]),
            EscalationLevel(after_s=600, notifiers=["pagerduty"]),
        ]
    )


# ---- multi_cloud / continuous_improvement ------------------------------------------------


class MultiCloud(Section):
    enabled: bool = True
    clouds: list[str] | None = Field(None, description="clouds to place on; default: every registered cloud")
    catalog_files: list[str] = Field(default_factory=list)


class QualityGate(Section):
    """A bound on one KPI (``hx.improve.kpis``); the name of an unknown KPI is refused when gates are built."""

    name: str = Field(min_length=1, max_length=100)
    metric: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_\-]+)+$")
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> QualityGate:
        if self.max is None and self.min is None:
            raise ValueError("a quality gate needs max or min (or both)")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


def _default_gates() -> list[QualityGate]:
    return [
        QualityGate(name="change failure rate", metric="deploy.change_failure_rate", max=0.15),
        QualityGate(name="MTTR", metric="heal.mttr_median_s", max=900.0),
        QualityGate(name="incidents healed automatically", metric="heal.auto_resolved_rate", min=0.5),
        QualityGate(name="detection precision", metric="detect.precision", min=0.95),
    ]


class ContinuousImprovement(Section):
    enabled: bool = True
    cycle_interval_s: float = Field(3600.0, gt=0, description="how often an optimisation cycle runs")
    kpi_window_s: float = Field(7 * 86400.0, gt=0, description="the window KPIs and gates are computed over")
    retrain_interval_s: float = Field(86400.0, gt=0, description="least time between two trainings of one model")
    shadow_min_samples: int = Field(50, ge=1, description="live labelled examples before a shadow model is judged")
    promotion_margin: float = Field(0.0, ge=0, le=1, description="accuracy a shadow must gain over the incumbent")
    quality_gates: list[QualityGate] = Field(default_factory=_default_gates)


# ---- platform sections -------------------------------------------------------------------


class Storage(Section):
    database_url: str | None = None
    data_dir: str = ".hx"


class Security(Section):
    secret_key: SecretStr | None = None
    key_file: str | None = None
    audit_head_file: str | None = Field(
        None, min_length=1, description="where the signed head of the audit chain is exported (default: data dir)"
    )
    audit_head_interval_s: float = Field(
        1.0, ge=0, le=3600, description="most seconds the exported audit head lags the chain (0: every record)"
    )
    mfa_required_for: list[str] = Field(default_factory=lambda: ["prod_approval", "admin_token"])


LABEL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class DiscoverySettings(Section):
    """How services, versions and instances are found in Prometheus; an unset key comes from the preset."""

    match: str | None = Field(None, description="series selector whose service-label values are the services")
    series: str | None = Field(None, description="template of a service's series carrying version/instance labels")
    service_label: str | None = Field(None, pattern=LABEL_PATTERN)
    version_label: str | None = Field(None, pattern=LABEL_PATTERN)
    instance_label: str | None = Field(None, pattern=LABEL_PATTERN)


class PrometheusSettings(Section):
    """Where Prometheus is, and what to read there: presets of signal templates, discovery, overrides."""

    url: str = "http://127.0.0.1:9090"
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    window: str = Field("1m", pattern=r"^[0-9]+(ms|s|m|h)$", description="range of rate() in the templates")
    preset: str | list[str] = Field(
        "hx-sim", description="hx-sim, http-semconv, haproxy, node, kube-prometheus, a preset file, or a list"
    )
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    templates: dict[str, str] = Field(default_factory=dict, description="signal: PromQL template, over the presets'")

    @model_validator(mode="after")
    def _templates_parse(self) -> PrometheusSettings:
        """Every preset and template must exist and parse: the error names the signal and the key."""
        from hx.telemetry.presets import compose

        try:
            compose(self.preset, self.discovery.model_dump(), self.templates)
        except ConfigError as err:
            raise ValueError(str(err)) from err
        return self


class Telemetry(Section):
    source: Literal["sim", "prometheus", "replay"] = "sim"
    #: seconds between two points of a signal read by the engines (the simulator uses ``sim.step_s`` instead)
    step_s: float = Field(60.0, gt=0)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    replay_path: str | None = None


class TopologyMetricsSettings(Section):
    """The call graph read from a Prometheus metric with caller and callee labels (telemetry.source prometheus)."""

    preset: Literal["istio", "otel-servicegraph", "http-client"] | None = Field(
        None, description="istio_requests_total, traces_service_graph_request_total, or the sample services' client"
    )
    metric: str | None = Field(None, pattern=r"^[A-Za-z_:][A-Za-z0-9_:]*$")
    caller_label: str | None = Field(None, pattern=LABEL_PATTERN)
    callee_label: str | None = Field(None, pattern=LABEL_PATTERN)
    window: str = Field("1h", pattern=r"^[0-9]+(s|m|h|d)$", description="edges seen in this window")
    refresh_s: float = Field(300.0, gt=0, description="seconds between two reads of the edges")

    @model_validator(mode="after")
    def _complete(self) -> TopologyMetricsSettings:
        given = [self.metric, self.caller_label, self.callee_label]
        if self.preset is None and any(given) and not all(given):
            raise ValueError("topology.metrics needs metric, caller_label and callee_label together (or a preset)")
        return self


class TopologySettings(Section):
    """The call graph when no embedded simulator provides it (see :mod:`hx.topology`)."""

    file: str | None = Field(None, description="a YAML or JSON file of caller: [callees]")
    edges: dict[str, list[str]] = Field(default_factory=dict, description="caller: [callees], added to the file's")
    metrics: TopologyMetricsSettings = Field(default_factory=TopologyMetricsSettings)


class SlackSettings(Section):
    enabled: bool = False
    webhook_secret: str = "slack_webhook_url"
    signing_secret: str = Field(
        "slack_signing_secret", min_length=1, description="secret store name of the Slack app's signing secret"
    )
    users: dict[str, str] = Field(
        default_factory=dict, description="Slack user id -> the name of the hx token that user acts as"
    )

    @field_validator("users")
    @classmethod
    def _slack_ids(cls, v: dict[str, str]) -> dict[str, str]:
        for uid, name in v.items():
            if not re.fullmatch(r"[UW][A-Z0-9]{2,30}", uid):
                raise ValueError(f"notifiers.slack.users: {uid!r} is not a Slack user id (U... or W...)")
            if not name.strip():
                raise ValueError(f"notifiers.slack.users.{uid}: the hx token name is empty")
        return v


class EmailSettings(Section):
    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, gt=0, lt=65536)
    starttls: bool = False
    username: str | None = None
    password_secret: str | None = None
    from_addr: str = "hx@localhost"
    to: list[str] = Field(default_factory=list)


class PagerDutySettings(Section):
    enabled: bool = False
    url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key_secret: str = "pagerduty_routing_key"
    webhook_secret: str = Field(
        "pagerduty_webhook_secret", min_length=1, description="secret store name of the v3 webhook signing secret"
    )


class WebhookSettings(Section):
    enabled: bool = False
    url_secret: str = "webhook_url"


class Notifiers(Section):
    slack: SlackSettings = Field(default_factory=SlackSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    max_attempts: int = Field(5, ge=1, le=20)
    timeout_s: float = Field(10.0, gt=0, le=120, description="one delivery attempt's HTTP/SMTP time limit")
    backoff_s: float = Field(2.0, gt=0, le=3600, description="the outbox's first retry pause (doubling, <= 10 min)")


class Server(Section):
    """How this process serves, and where clients and the other components reach it.

    ``external_url`` is the URL clients use for this process (or the all-in-one server); ``component_urls`` names the
    URL of each component in the one-service-per-component layout, so notification links and the dashboard point at
    the component that serves them instead of at this process's bind address.
    """

    host: str = "127.0.0.1"
    port: int | None = Field(None, gt=0, lt=65536)
    tls_cert: str | None = None
    tls_key: str | None = None
    external_url: str | None = Field(None, pattern=URL_PATTERN, description="the URL clients reach this process at")
    component_urls: dict[str, str] = Field(default_factory=dict, description="component name -> its external URL")
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")
    step_interval_s: float = Field(15.0, gt=0)
    leader_election: bool = Field(True, description="several replicas on one store: one steps each engine")
    lease_ttl_s: float = Field(30.0, ge=3, description="a leader that stops renewing is replaced after this")
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=1024**3,
        description="largest request body any route reads (the alert intake keeps its own limit); larger is 413",
    )
    step_bound_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="an engine step's wall-time bound when serving (<= lease_ttl_s / 2; none in simulated time)",
    )
    health_refresh_s: float = Field(
        1.0, ge=0.1, le=60, description="/health is answered from a snapshot refreshed this often (its age shown)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Server:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("server.tls_cert and server.tls_key go together: set both or neither")
        from hx.components import COMPONENTS

        names = [c.name for c in COMPONENTS]
        for name, url in self.component_urls.items():
            if name not in names:
                valid = ", ".join(names)
                raise ValueError(f"server.component_urls: unknown component {name!r} (one of {valid})")
            if not re.fullmatch(URL_PATTERN, url):
                raise ValueError(f"server.component_urls.{name}: {url!r} is not an http(s) URL")
        return self

    def url_of(self, component: str, port: int) -> str:
        """The external URL of ``component`` (its entry in component_urls, else external_url, else this process's
        own scheme, host and ``port``), without a trailing slash."""
        url = self.component_urls.get(component) or self.external_url
        if url is None:
            scheme = "https" if self.tls_cert else "http"
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
            url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        return url.rstrip("/")


class SimSettings(Section):
    services: int = Field(5, ge=1, le=10000)
    seed: int = 1
    trace: Literal["nasa", "alibaba", "azure", "profile"] = "profile"
    step_s: float = Field(60.0, gt=0)
    startup_s: float | None = Field(None, ge=0, description="replica start-up time; default: each service's own")
    checkpoint: bool = True
    history_mb: float = Field(64.0, gt=0)
    warmup_s: float = Field(8 * 86400.0, ge=0)


class FleetRouter(Section):
    """The traffic router of the fleet actuator: HAProxy's runtime API."""

    kind: Literal["haproxy"] = "haproxy"
    socket: str = Field(pattern=r"^(unix:/\S+|tcp:\S+:\d{1,5})$", description='"unix:/path" or "tcp:HOST:PORT"')
    timeout_s: float = Field(5.0, gt=0)


class FleetManager(Section):
    """The instance manager of the fleet actuator: supervisord (XML-RPC) or systemd units through Ansible."""

    kind: Literal["supervisor", "systemd"] = "supervisor"
    url: str | None = Field(None, pattern=URL_PATTERN, description="supervisord's XML-RPC URL")
    include_dir: str | None = None
    ansible_inventory: str | None = None
    playbook_dir: str | None = None
    host: str = "all"

    @model_validator(mode="after")
    def _complete(self) -> FleetManager:
        if self.kind == "supervisor" and not (self.url and self.include_dir):
            raise ValueError("actuator.fleet.manager: supervisor needs url and include_dir")
        if self.kind == "systemd" and not self.ansible_inventory:
            raise ValueError("actuator.fleet.manager: systemd needs ansible_inventory")
        return self


class FleetService(Section):
    """How the fleet runs one service (placeholders {service}, {version}, {port}, {instance} in ``command``)."""

    command: list[str] = Field(min_length=1)
    host: str = "127.0.0.1"
    ports: tuple[int, int]
    ready_path: str = Field("/healthz", pattern=r"^/\S*$")
    backend: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ports(self) -> FleetService:
        first, last = self.ports
        if not 0 < first <= last < 65536:
            raise ValueError(f"actuator.fleet.services.*.ports: [{first}, {last}] is not a range of TCP ports")
        return self


class FleetSettings(Section):
    """The ``fleet`` actuator: an instance manager and, for traffic splits, a router."""

    router: FleetRouter | None = None
    manager: FleetManager
    services: dict[str, FleetService] = Field(default_factory=dict)
    ready_timeout_s: float = Field(30.0, gt=0)
    drain_timeout_s: float = Field(30.0, gt=0)


class ActuatorSettings(Section):
    kind: Literal["sim", "shell", "ansible", "http", "fleet"] = "sim"
    shell: dict[str, list[str]] = Field(default_factory=dict)
    ansible_inventory: str | None = None
    ansible_playbooks: dict[str, str] = Field(default_factory=dict)
    http: dict[str, str] = Field(default_factory=dict)
    fleet: FleetSettings | None = None
    timeout_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _fleet(self) -> ActuatorSettings:
        if self.kind == "fleet" and self.fleet is None:
            raise ValueError("actuator.fleet: actuator.kind is fleet but actuator.fleet (manager, services) is not set")
        return self


class Settings(Section):
    """The whole effective configuration of hx."""

    environment: str = "dev"
    ai_orchestrator: AiOrchestrator = Field(default_factory=AiOrchestrator)
    intelligent_monitoring: IntelligentMonitoring = Field(default_factory=IntelligentMonitoring)
    self_healing: SelfHealing = Field(default_factory=SelfHealing)
    multi_cloud: MultiCloud = Field(default_factory=MultiCloud)
    continuous_improvement: ContinuousImprovement = Field(default_factory=ContinuousImprovement)
    storage: Storage = Field(default_factory=Storage)
    security: Security = Field(default_factory=Security)
    telemetry: Telemetry = Field(default_factory=Telemetry)
    topology: TopologySettings = Field(default_factory=TopologySettings)
    notifiers: Notifiers = Field(default_factory=Notifiers)
    server: Server = Field(default_factory=Server)
    sim: SimSettings = Field(default_factory=SimSettings)
    actuator: ActuatorSettings = Field(default_factory=ActuatorSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir).expanduser()

    def known_environments(self) -> list[str]:
        """The environments the automation levels name (a deployment to any other one is refused)."""
        levels = self.ai_orchestrator.automation_levels
        return sorted({*levels.full_auto, *levels.approval_required, *levels.manual_only})

    def automation_level(self, environment: str) -> Literal["full_auto", "approval_required", "manual_only"]:
        """The automation level of an environment; unknown environments are treated as manual_only."""
        levels = self.ai_orchestrator.automation_levels
        if environment in levels.full_auto:
            return "full_auto"
        if environment in levels.approval_required:
            return "approval_required"
        return "manual_only"


# ---- loading -------------------------------------------------------------------------------

#: Environment shortcuts: variable -> key path.
ENV_SHORTCUTS: dict[str, str] = {
    "HX_DATABASE_URL": "storage.database_url",
    "HX_HOME": "storage.data_dir",
    "HX_SECRET_KEY": "security.secret_key",
    "HX_ENV": "environment",
    "HX_PROMETHEUS_URL": "telemetry.prometheus.url",
}


@dataclass
class LoadedSettings:
    """Settings plus where each value came from (key path -> source)."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    file: Path | None = None

    def source_of(self, key: str) -> str:
        best = "default"
        for k, src in self.sources.items():
            if key == k or key.startswith(k + "."):
                best = src
        return best


def environments_dir() -> Path:
    """The shipped environments folder (``environments/<env>/ai-config/ai-ml-config.yml``)."""
    return Path(str(resources.files("hx") / "environments"))


def environment_file(env: str) -> Path:
    path = environments_dir() / env / "ai-config" / "ai-ml-config.yml"
    if not path.is_file():
        valid = sorted(p.name for p in environments_dir().iterdir() if p.is_dir())
        raise ConfigError(f"no shipped environment {env!r}", key="environment", expected=" or ".join(valid))
    return path


def read_yaml_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read configuration: {err.strerror}", file=str(path)) from err
    except UnicodeDecodeError as err:
        raise ConfigError(not_text(err), file=str(path)) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=str(path)) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", file=str(path), expected="key: value pairs")
    return data


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[path[-1]] = value


def _merge(base: dict[str, Any], top: Mapping[str, Any], source: str, sources: dict[str, str], prefix: str) -> None:
    for key, value in top.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, source, sources, path + ".")
        elif isinstance(value, Mapping):
            base[key] = {}
            _merge(base[key], value, source, sources, path + ".")
        else:
            base[key] = value
            sources[path] = source


def env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse ``HX_*`` variables into a nested override tree and a key path -> variable map."""
    sections = set(Settings.model_fields)
    tree: dict[str, Any] = {}
    names: dict[str, str] = {}
    for var, raw in sorted(environ.items()):
        if var in ENV_SHORTCUTS:
            path = ENV_SHORTCUTS[var].split(".")
        elif var.startswith("HX_") and "__" in var:
            path = [p.lower() for p in var[3:].split("__")]
            if path[0] not in sections:
                raise ConfigError(
                    f"unknown section {path[0]!r}", file=f"${var}", key=path[0], expected=" or ".join(sorted(sections))
                )
        else:
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        if path[-1] in {"secret_key", "database_url", "url", "password", "bearer_token"}:
            value = raw
        _set_path(tree, path, value)
        names[".".join(path)] = var
    return tree, names


def _error_from_validation(
    err: ValidationError, file: Path | None, env_names: dict[str, str], cli_keys: set[str]
) -> ConfigError:
    """One :class:`ConfigError` naming every wrong key: the first in full, the others after it (and in ``errors``)."""
    found: list[ConfigError] = []
    for e in err.errors():
        one = _one_error(e, file, env_names, cli_keys)
        same = next((f for f in found if (f.file, f.key) == (one.file, one.key)), None)
        if same is None:
            found.append(one)
        else:  # the members of a union setting, each refusing the value: one error, "a string or a list"
            merged = ConfigError(
                f"{same.reason}; or {one.reason}", file=same.file, key=same.key,
                expected=" or ".join(x for x in (same.expected, one.expected) if x) or None,
            )  # fmt: skip
            found[found.index(same)] = merged
    return found[0] if len(found) == 1 else ConfigError.several(found)


_UNION_MEMBER = re.compile(r"(str|int|float|bool|dict|list|none|literal|[a-z-]+\[.*\])")


def _one_error(
    error: Mapping[str, Any], file: Path | None, env_names: dict[str, str], cli_keys: set[str]
) -> ConfigError:
    # pydantic names the member of a union setting that refused the value ('str', 'list[str]'): not a key
    key = ".".join(str(p) for p in error["loc"] if not _UNION_MEMBER.fullmatch(str(p)))
    where: str | None = str(file) if file else None
    for path, var in env_names.items():
        if _related(key, path):
            where = f"${var}"
    if any(_related(key, k) for k in cli_keys):
        where = "command line"
    kind = error["type"]
    if kind == "extra_forbidden":
        return ConfigError("unknown key", file=where, key=key, expected="one of the documented keys")
    return ConfigError(validation_message(error), file=where, key=key, expected=_expected(kind, error.get("ctx")))


def _related(key: str, given: str) -> bool:
    """The error at ``key`` is about the setting ``given``: the same, inside it, or an unknown key above it."""
    return key == given or key.startswith(given + ".") or given.startswith(key + ".")


def _expected(kind: str, ctx: Mapping[str, Any] | None) -> str | None:
    if ctx and "expected" in ctx:
        return str(ctx["expected"])
    labels = {
        "float_parsing": "a number",
        "float_type": "a number",
        "int_parsing": "an integer",
        "int_type": "an integer",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
    }
    if kind in labels:
        return labels[kind]
    if kind == "value_error":  # a validator's own message already says what is expected
        return None
    if ctx:
        bounds = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        return ", ".join(f"a value {bounds[k]} {v}" if k in bounds else f"{k} {v}" for k, v in ctx.items())
    return None


def _rename_keys(tree: dict[str, Any], sources: dict[str, str]) -> None:
    """Move values given under a renamed key to its new key (the new key wins where both are given)."""
    for old, new in RENAMED_KEYS.items():
        *parents, leaf = old.split(".")
        node: Any = tree
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        log.warning("settings key %r is deprecated: use %r (from %s)", old, new,
                    ", ".join(sorted({sources[k] for k in sources if _related(k, old)})) or "defaults")  # fmt: skip
        value = node.pop(leaf)
        new_leaf = new.split(".")[-1]
        if isinstance(value, dict) and isinstance(node.get(new_leaf), dict):
            _merge(value, node[new_leaf], "", {}, "")
        node[new_leaf] = value
        for key in [k for k in sources if k == old or k.startswith(old + ".")]:
            sources[new + key[len(old) :]] = sources.pop(key)


def load_settings(
    file: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env_name: str | None = None,
) -> LoadedSettings:
    """Read the effective settings once.

    ``file``: an explicit YAML file; else ``$HX_CONFIG``; else the shipped file of ``env_name``
    (or ``$HX_ENV``) when given; else built-in defaults.  ``overrides``: CLI flags as
    ``{"key.path": value}``.
    """
    environ = os.environ if environ is None else environ
    path: Path | None = Path(file) if file else None
    if path is None and environ.get("HX_CONFIG"):
        path = Path(environ["HX_CONFIG"])
    env_choice = env_name or environ.get("HX_ENV")
    if path is None and env_choice:
        path = environment_file(env_choice)
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path is not None:
        _merge(tree, read_yaml_file(path), f"file:{path}", sources, "")
    env_tree, env_names = env_overrides(environ)
    _merge(tree, env_tree, "env", sources, "")
    for key, var in env_names.items():
        sources[key] = f"env:{var}"
    cli_tree: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        _set_path(cli_tree, key.split("."), value)
    _merge(tree, cli_tree, "cli", sources, "")
    _rename_keys(tree, sources)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as err:
        raise _error_from_validation(err, path, env_names, set((overrides or {}).keys())) from err
    return LoadedSettings(settings=settings, sources=sources, file=path)


def validate_file(path: Path | str) -> Settings:
    """Check one configuration file on its own (no environment, no flags), including :func:`check_world`."""
    settings = load_settings(path, environ={}).settings
    check_world(settings, file=str(path))
    return settings


#: the actuators that change a real fleet (everything but the simulator)
REAL_ACTUATORS = ("fleet", "ansible", "shell", "http")


def check_world(settings: Settings, *, file: str | None = None) -> None:
    """Refuse real telemetry with the simulated actuator: hx would sense the real fleet and scale, restart and roll
    out a private simulated one, reporting success.  ``hx config validate`` and server start call this."""
    source, kind = settings.telemetry.source, settings.actuator.kind
    if source == "sim" or kind != "sim":
        return
    raise ConfigError(
        f"telemetry.source is {source!r} (a real world) but actuator.kind is 'sim': hx would act on a private "
        f"simulated fleet; set actuator.kind to {', '.join(REAL_ACTUATORS)} (with its settings), or telemetry.source "
        "to 'sim' for a demo",
        file=file,
        key="actuator.kind",
        expected=f"one of {', '.join(REAL_ACTUATORS)} when telemetry.source is {source!r}",
    )


def shown(value: Any) -> Any:
    """``value`` as it may be printed: every URL in it (nested in lists and maps too) without its credentials.

    >>> shown({"db": "postgresql://hx:pw@db:5432/hx", "hooks": ["https://x/h?token=t&a=1"], "n": 3})
    {'db': 'postgresql://hx:***@db:5432/hx', 'hooks': ['https://x/h?token=***&a=1'], 'n': 3}
    """
    if isinstance(value, str):
        return _shown_url(value) if "://" in value else value
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v) for v in value]
    return value


def _shown_url(url: str) -> str:
    from hx.http import redact_url

    try:
        parts = urlsplit(url)
        secret = parts.password is not None or bool(parts.query) or bool(parts.fragment)
    except ValueError:
        return "<unparseable URL>"
    return redact_url(url) if secret else url


def flatten(settings: Settings) -> dict[str, Any]:
    """Leaf key paths -> values, secrets masked and URLs shown without credentials (for ``hx config show``)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name), f"{prefix}{name}.")
            return
        key = prefix[:-1]
        if isinstance(node, SecretStr):
            out[key] = "**********"
        elif isinstance(node, list):
            out[key] = shown([item.model_dump() if isinstance(item, BaseModel) else item for item in node])
        else:
            out[key] = shown(node)

    walk(settings, "")
    return out
