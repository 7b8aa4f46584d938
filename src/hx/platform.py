"""The composition root: builds the shared services every component and engine uses.

Everything here is injected (clock, store, signal source, actuator), so the demo, the tests and
the benchmarks build a platform on simulated time and a temporary store with the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hx.clock import Clock, WallClock
from hx.components import register_learners
from hx.config import Settings
from hx.events import EventBus
from hx.ml.registry import ModelHandle, ModelRegistry
from hx.security.audit import AuditAnchor, AuditLog
from hx.security.roles import Role
from hx.security.sealing import Sealer
from hx.security.secrets import SecretBox, SecretStore, key_from_string, load_or_create_key_file
from hx.security.tokens import TokenService, write_admin_token_file
from hx.store import Store
from hx.store.db import ensure_data_dir
from hx.telemetry.selfmetrics import HxMetrics
from hx.topology import StaticTopology, Topology, topology_from_settings

if TYPE_CHECKING:
    from hx.actuate.base import Actuator
    from hx.engine import Engine
    from hx.fleet import FleetFacts
    from hx.telemetry.base import SignalSource

log = logging.getLogger(__name__)

ADMIN_TOKEN_FILE = "admin.token"

T = TypeVar("T")
#: a named check ``/health`` runs: returns a JSON object with a ``status``
HealthCheck = Callable[[], dict[str, Any]]


class ComponentServices:
    """The objects components build once per platform (an engine, the deployment service, the catalog), by key.

    >>> services = ComponentServices()
    >>> services.put("answer", 42)
    >>> services.get("answer", int), services.get("missing", int), "answer" in services
    (42, None, True)
    """

    def __init__(self) -> None:
        self._by_key: dict[str, object] = {}

    def get(self, key: str, kind: type[T]) -> T | None:
        """The object under ``key`` (None when absent); one of another kind is a programming error."""
        value = self._by_key.get(key)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise TypeError(f"platform service {key!r} is a {type(value).__name__}, not a {kind.__name__}")
        return value

    def put(self, key: str, value: object) -> None:
        self._by_key[key] = value

    def pop(self, key: str) -> None:
        self._by_key.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


@dataclass
class Platform:
    """The shared services of one process: every engine and API router gets them from here.

    ``topology`` is the call graph (the sim's, else the configured one); ``fleet`` the per-service facts
    a provider knows (the sim's); ``embedded`` the engine that advances an embedded world (the sim), stepped
    by the runtime and read by no engine; ``health_checks`` the components' extra ``/health`` checks.
    """

    settings: Settings
    store: Store
    clock: Clock
    bus: EventBus
    audit: AuditLog
    secrets: SecretStore
    tokens: TokenService
    models: ModelRegistry
    metrics: HxMetrics
    sealer: Sealer
    source: SignalSource | None = None
    actuator: Actuator | None = None
    model_handles: dict[str, ModelHandle] = field(default_factory=dict)
    topology: Topology = field(default_factory=StaticTopology)
    fleet: FleetFacts | None = None
    embedded: Engine | None = None
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    services: ComponentServices = field(default_factory=ComponentServices)
    #: called when the server stops (SIGTERM): background work of this process is cancelled and awaited
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def close(self) -> None:
        """Stop this platform's background work (:attr:`on_shutdown`) and release the store: for a platform built
        for one task (training, a drill) whose data directory is removed afterwards."""
        for hook in self.on_shutdown:
            hook()
        self.store.dispose()


def secret_key(settings: Settings) -> bytes:
    """hx's secret key: from HX_SECRET_KEY / security.secret_key, else a 0600 key file (never the database)."""
    if settings.security.secret_key is not None:
        return key_from_string(settings.security.secret_key.get_secret_value())
    key_file = Path(settings.security.key_file) if settings.security.key_file else settings.data_dir / "secret.key"
    return load_or_create_key_file(key_file)


def secret_box(settings: Settings) -> SecretBox:
    """AES-GCM for the secrets table, keyed by :func:`secret_key`."""
    return SecretBox(secret_key(settings))


def state_sealer(settings: Settings) -> Sealer:
    """The sealer of pickled state (models, detector state, the sim checkpoint), keyed by :func:`secret_key`."""
    return Sealer.derive(secret_key(settings), "state")


def audit_anchor(settings: Settings, key: bytes) -> AuditAnchor:
    """The audit chain's key (derived from :func:`secret_key`) and its exported head (``security.audit_head_file``,
    default ``audit-head.json`` in the data directory)."""
    configured = settings.security.audit_head_file
    path = Path(configured).expanduser() if configured else settings.data_dir / "audit-head.json"
    return AuditAnchor(key, path, settings.security.audit_head_interval_s)


def build_platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    source: SignalSource | None = None,
    actuator: Actuator | None = None,
    upgrade: bool = True,
) -> Platform:
    clock = clock or WallClock()
    register_learners()  # the model families of every component, for the improvement cycle
    ensure_data_dir(settings.data_dir)
    store = Store.from_settings(settings.storage.database_url, settings.data_dir)
    if upgrade:
        store.upgrade()
    key = secret_key(settings)
    box = SecretBox(key)
    sealer = Sealer.derive(key, "state")
    bus = EventBus(store, clock)
    audit = AuditLog(store, clock, anchor=audit_anchor(settings, key))
    platform = Platform(
        settings=settings,
        store=store,
        clock=clock,
        bus=bus,
        audit=audit,
        secrets=SecretStore(store, box, clock),
        tokens=TokenService(store, box, clock),
        models=ModelRegistry(store, sealer, clock, bus),
        sealer=sealer,
        metrics=HxMetrics(state=store),
        source=source,
        actuator=actuator,
        topology=topology_from_settings(settings, source),
    )
    platform.on_shutdown.append(audit.anchor.flush)  # the newest records anchored before the server stops
    return platform


def bootstrap_admin(platform: Platform) -> Path | None:
    """On first start with no active token, create an admin token in a 0600 file; return its path."""
    if platform.tokens.count_active() > 0:
        return None
    token, info = platform.tokens.create("bootstrap-admin", Role.ADMIN, created_by="bootstrap")
    path = platform.data_dir / ADMIN_TOKEN_FILE
    write_admin_token_file(path, token)
    platform.audit.append("system", "token.bootstrap", f"token:{info.id}", "ok", {"file": str(path)})
    log.warning("created the first admin token in %s (mode 0600); keep it safe", path)
    return path
