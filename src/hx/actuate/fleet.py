"""The ``fleet`` actuator: an instance manager (supervisord, systemd) plus, optionally, an HAProxy traffic router.

- ``deploy(service, version, n)`` brings ``version`` to ``n`` instances: new ones are started, waited for (their
  ready path answers 200) and added to the backend at weight 0 unless the version already carries traffic, in which
  case the version keeps its share over its new set of servers; surplus ones are drained first, then stopped.
- ``set_traffic_split(service, {version: share})`` sets server weights so that each version's servers together carry
  its share (weights read back and verified).
- ``scale(service, n)`` is ``deploy`` of the version carrying the most traffic.
- ``restart(instance)`` restarts one instance, waits for it to be ready and puts it back in rotation.

Without a router the actuator has no ``set_traffic_split`` capability, and a strategy that needs one is refused by
:func:`hx.deploy.strategies.check_capabilities`, naming the strategy and what is missing.  Nothing lives only in
memory: instances are read from the manager, weights and states from HAProxy, so a restarted hx carries on.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from hx.actuate.base import ActionResult, Capability
from hx.actuate.haproxy import MAX_WEIGHT, HAProxyRouter, Server
from hx.actuate.instances import InstanceName, check_part, parse_instance, try_parse
from hx.actuate.manager import Instance, InstanceManager, InstanceSpec
from hx.actuate.verbs import check_count, check_name, check_timeout, check_weights, fill
from hx.errors import ActuatorError, ActuatorTimeout, BadInput, Unsupported

if TYPE_CHECKING:
    from hx.config import FleetManager, FleetSettings


@dataclass(frozen=True)
class ServiceSpec:
    """How the fleet runs one service: the command template, where instances listen, how readiness is seen."""

    command: Sequence[str]
    ports: tuple[int, int]
    host: str = "127.0.0.1"
    ready_path: str = "/healthz"
    backend: str = ""
    env: Mapping[str, str] = field(default_factory=dict)

    def argv(self, name: InstanceName, port: int) -> list[str]:
        values = {"service": name.service, "version": name.version, "port": str(port), "instance": str(name)}
        return [fill(arg, values) for arg in self.command]


def version_weights(servers: Sequence[tuple[str, str]], shares: Mapping[str, float]) -> dict[str, int]:
    """Server weights (0..256) from ``[(server, version)]`` and version shares, each version's servers equal.

    >>> version_weights([("a--v1--0", "v1"), ("a--v2--0", "v2")], {"v1": 95, "v2": 5})
    {'a--v1--0': 256, 'a--v2--0': 13}
    >>> version_weights([("a--v1--0", "v1"), ("a--v1--1", "v1"), ("a--v2--0", "v2")], {"v1": 50, "v2": 50})
    {'a--v1--0': 128, 'a--v1--1': 128, 'a--v2--0': 256}
    """
    counts: dict[str, int] = {}
    for _, version in servers:
        counts[version] = counts.get(version, 0) + 1
    per_server = {v: shares.get(v, 0.0) / n for v, n in counts.items()}
    top = max(per_server.values(), default=0.0)
    if top <= 0:
        return {s: 0 for s, _ in servers}
    out = {}
    for server, version in servers:
        share = per_server[version]
        out[server] = max(1, round(share * MAX_WEIGHT / top)) if share > 0 else 0
    return out


def bindable(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (bound with ``SO_REUSEADDR``, as the instances bind, so
    a port whose old connections wait in TIME_WAIT counts as free); a host that is not this machine's: assumed.

    >>> import socket
    >>> with socket.socket() as s:
    ...     s.bind(("127.0.0.1", 0)); s.listen(); bindable("127.0.0.1", s.getsockname()[1])
    False
    """
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as err:
        return err.errno != errno.EADDRINUSE  # not this machine's address (EADDRNOTAVAIL): its manager's to say
    return True


class FleetActuator:
    """Instance manager + optional HAProxy router behind the Actuator verbs.

    >>> from hx.actuate.supervisor import SupervisorManager
    >>> act = FleetActuator(SupervisorManager("http://127.0.0.1:1/RPC2", "/tmp/x"), None, {})
    >>> sorted(c.value for c in act.capabilities())
    ['deploy', 'restart', 'scale']
    """

    name = "fleet"

    def __init__(
        self,
        manager: InstanceManager,
        router: HAProxyRouter | None,
        services: Mapping[str, ServiceSpec],
        *,
        ready_timeout_s: float = 30.0,
        drain_timeout_s: float = 30.0,
        http: Callable[[str], int] | None = None,
    ) -> None:
        self.manager = manager
        self.router = router
        self.services = dict(services)
        self.ready_timeout_s = ready_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self._http = http or _http_status
        self._lock = threading.RLock()  # one change at a time: the scaler and a rollout may act on one service

    @classmethod
    def from_settings(cls, fs: FleetSettings) -> FleetActuator:
        """The actuator ``actuator.fleet`` describes."""
        router = HAProxyRouter(fs.router.socket, timeout_s=fs.router.timeout_s) if fs.router else None
        services = {
            name: ServiceSpec(tuple(s.command), s.ports, s.host, s.ready_path, s.backend or name, dict(s.env))
            for name, s in fs.services.items()
        }
        for name in services:
            check_part(f"actuator.fleet.services.{name}", name)
        return cls(
            build_manager(fs.manager),
            router,
            services,
            ready_timeout_s=fs.ready_timeout_s,
            drain_timeout_s=fs.drain_timeout_s,
        )

    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.DEPLOY, Capability.SCALE, Capability.RESTART}
        if self.router is not None:
            caps.add(Capability.TRAFFIC_SPLIT)
        return frozenset(caps)

    # ---- reading ------------------------------------------------------------------------

    def spec(self, service: str) -> ServiceSpec:
        check_name("service", service)
        if service not in self.services:  # an ActuatorError, so that a rollout records it as a failed step
            raise ActuatorError(
                f"actuator 'fleet' has no service {service!r} (actuator.fleet.services); "
                f"configured: {', '.join(sorted(self.services)) or '(none)'}",
                service=service,
            )
        return self.services[service]

    def backend(self, service: str) -> str:
        return self.spec(service).backend or service

    def servers(self, service: str) -> list[Server]:
        """The backend's servers that hx named (``service--version--index``)."""
        if self.router is None:
            return []
        return [s for s in self.router.servers(self.backend(service)) if try_parse(s.name) is not None]

    def shares(self, service: str) -> dict[str, float]:
        """Each version's share of the backend's weight (0..1), from HAProxy."""
        totals: dict[str, float] = {}
        for s in self.servers(service):
            v = parse_instance(s.name).version
            totals[v] = totals.get(v, 0.0) + (s.weight if s.state == "ready" else 0)
        whole = sum(totals.values())
        return {v: (w / whole if whole else 0.0) for v, w in totals.items()}

    def ready(self, service: str, instance: Instance) -> bool:
        spec = self.spec(service)
        return instance.running and self._http(f"http://{spec.host}:{instance.port}{spec.ready_path}") == 200

    def status(self, service: str) -> dict[str, Any]:
        """Instances (running, ready) and the backend's servers, for ``hx lab status`` and the API."""
        insts = self.manager.instances(service)
        return {
            "instances": [
                {"name": str(i.name), "port": i.port, "state": i.state, "ready": self.ready(service, i)} for i in insts
            ],
            "servers": [s.__dict__ for s in self.servers(service)],
            "shares": self.shares(service),
        }

    def probe(self) -> list[str]:
        """What stops this actuator from working now (empty: router, manager and every backend answer)."""
        problems: list[str] = []
        for service in self.services:
            try:
                self.manager.instances(service)
                if self.router is not None:
                    self.router.servers(self.backend(service))
            except ActuatorError as err:
                problems.append(f"{service}: {err}")
        return problems

    # ---- verbs --------------------------------------------------------------------------

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        t0 = time.monotonic()
        self.spec(service)
        try:
            check_part("version", version)
        except BadInput as err:  # an ActuatorError, so that a rollout records it as a failed step
            raise ActuatorError(f"actuator 'fleet': {err}", version=version) from err
        check_count("instances", instances, minimum=0)
        check_timeout(timeout)
        with self._lock:
            before, after, notes = self._converge(service, version, instances)
        return self._result("deploy", f"{service}@{version}", version, (before, after), notes, t0)

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        t0 = time.monotonic()
        self.spec(service)
        check_count("replicas", replicas, minimum=0)
        check_timeout(timeout)
        with self._lock:
            version = self._current_version(service)
            before, after, notes = self._converge(service, version, replicas)
        return self._result("scale", service, version, (before, after), notes, t0)

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        t0 = time.monotonic()
        if self.router is None:
            raise Unsupported(
                "actuator 'fleet' has no traffic router (actuator.fleet.router); cannot set_traffic_split",
                field="weights",
            )
        self.spec(service)
        shares = check_weights(weights)
        check_timeout(timeout)
        have = {parse_instance(s.name).version for s in self.servers(service) if s.state == "ready"}
        lacking = sorted(v for v, w in shares.items() if w > 0 and v not in have)
        if lacking:
            raise ActuatorError(
                f"{service}: no server in rotation for version(s) {', '.join(lacking)}; deploy them first",
                service=service,
                versions=lacking,
            )
        with self._lock:
            before = self.shares(service)
            applied = self._apply(service, shares)
            after = self.shares(service)
        return ActionResult(
            "set_traffic_split",
            service,
            True,
            ", ".join(f"{v}={after.get(v, 0.0):.3f}" for v in sorted(after)),
            changed=before != after,
            output={"before": before, "after": after, "weights": applied},
            duration_s=time.monotonic() - t0,
        )

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        t0 = time.monotonic()
        name = parse_instance(check_name("instance", instance))
        self.spec(name.service)
        check_timeout(timeout)
        self.manager.restart(name)
        inst = self._instance(name)
        self._wait_ready(name.service, [inst], min(timeout, self.ready_timeout_s))
        backend = self.backend(name.service)
        if self.router is not None and any(
            s.name == instance and s.state != "ready" for s in self.servers(name.service)
        ):
            self.router.set_state(backend, instance, "ready")
        return ActionResult(
            "restart",
            instance,
            True,
            f"{instance} restarted and ready",
            output={"port": inst.port},
            duration_s=time.monotonic() - t0,
        )

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        raise Unsupported(f"actuator 'fleet' has no run actions (asked for {action!r})", field="action")

    # ---- internals ----------------------------------------------------------------------

    def _current_version(self, service: str) -> str:
        shares = self.shares(service)
        if shares and max(shares.values()) > 0:
            return max(sorted(shares), key=lambda v: shares[v])
        versions = [i.name.version for i in self.manager.instances(service)]
        if not versions:
            raise ActuatorError(f"{service} has no instances to scale; deploy a version first", service=service)
        return max(sorted(set(versions)), key=versions.count)

    def _instance(self, name: InstanceName) -> Instance:
        for inst in self.manager.instances(name.service):
            if inst.name == name:
                return inst
        raise ActuatorError(f"{self.manager.kind} reports no instance {name}", instance=str(name))

    def _converge(self, service: str, version: str, n: int) -> tuple[int, int, list[str]]:
        mine = [i for i in self.manager.instances(service) if i.name.version == version]
        shares = self.shares(service)
        notes: list[str] = []
        if n > len(mine):
            self._start(service, version, n - len(mine))
        for inst in sorted(mine, key=lambda i: i.name.index, reverse=True)[: max(0, len(mine) - n)]:
            notes += self._retire(service, inst)
        self._sync_router(service)
        if self.router is not None:
            if n == 0:
                shares.pop(version, None)
            if not any(w > 0 for w in shares.values()):
                shares = {version: 1.0} if n > 0 else {}
            if shares:
                self._apply(service, shares)
        return len(mine), n, notes

    def _start(self, service: str, version: str, count: int) -> None:
        spec = self.spec(service)
        existing = self.manager.instances(service)
        used_ports = {i.port for i in existing}
        used_index = {i.name.index for i in existing if i.name.version == version}
        new: list[Instance] = []
        for _ in range(count):
            index = next(i for i in range(len(used_index) + count + 1) if i not in used_index)
            port = next(
                (p for p in range(spec.ports[0], spec.ports[1] + 1) if p not in used_ports and bindable(spec.host, p)),
                None,
            )  # another program's listener (or a connection's own port) would leave the instance FATAL
            if port is None:
                raise ActuatorError(f"{service}: no free port left in {spec.ports[0]}..{spec.ports[1]}")
            used_index.add(index)
            used_ports.add(port)
            name = InstanceName(service, version, index)
            self.manager.add(InstanceSpec(name, port, spec.argv(name, port), spec.env))
            new.append(Instance(name, port, True, "STARTING"))
        self._wait_ready(service, new, self.ready_timeout_s)

    def _wait_ready(self, service: str, insts: Sequence[Instance], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = list(insts)
        while waiting:
            running = {i.name: i for i in self.manager.instances(service)}
            waiting = [i for i in waiting if not self.ready(service, running.get(i.name, i))]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(
                    f"{i.name} ({running[i.name].state if i.name in running else 'gone'})" for i in waiting
                )
                raise ActuatorTimeout(f"not ready within {timeout_s:g} s: {names}", instances=names)
            if waiting:
                time.sleep(0.2)

    def _retire(self, service: str, inst: Instance) -> list[str]:
        """Drain in HAProxy, wait for its sessions to end, delete the server, then stop the instance."""
        notes = []
        name = str(inst.name)
        if self.router is not None and any(s.name == name for s in self.servers(service)):
            backend = self.backend(service)
            self.router.set_state(backend, name, "drain")
            left = self.router.wait_drained(backend, name, self.drain_timeout_s)
            if left:
                notes.append(f"{name}: drain timed out after {self.drain_timeout_s:g} s with {left} session(s)")
            self.router.remove_server(backend, name)
        self.manager.remove(inst.name)
        return notes

    def _sync_router(self, service: str) -> None:
        """Every running instance hx started is a server of the backend (added at weight 0 if missing)."""
        if self.router is None:
            return
        spec = self.spec(service)
        known = {s.name for s in self.servers(service)}
        for inst in self.manager.instances(service):
            if str(inst.name) not in known and inst.running:
                self.router.add_server(self.backend(service), str(inst.name), spec.host, inst.port, weight=0)

    def _apply(self, service: str, shares: Mapping[str, float]) -> dict[str, int]:
        if self.router is None:
            raise Unsupported("actuator 'fleet' has no traffic router (actuator.fleet.router)", field="weights")
        servers = [(s.name, parse_instance(s.name).version) for s in self.servers(service) if s.state == "ready"]
        weights = version_weights(servers, shares)
        self.router.set_weights(self.backend(service), weights)
        return weights

    def _result(
        self, verb: str, target: str, version: str, counts: tuple[int, int], notes: list[str], t0: float
    ) -> ActionResult:
        before, after = counts
        detail = "; ".join([f"{target}: {before} -> {after} instance(s) of {version}", *notes])
        return ActionResult(
            verb,
            target,
            True,
            detail,
            changed=before != after,
            output={"version": version, "before": before, "after": after, "notes": notes},
            duration_s=time.monotonic() - t0,
        )


def build_manager(m: FleetManager) -> InstanceManager:
    """The instance manager ``actuator.fleet.manager`` describes."""
    if m.kind == "systemd":
        from hx.actuate.systemd_units import SystemdManager

        return SystemdManager.from_settings(m)
    from hx.actuate.supervisor import SupervisorManager

    return SupervisorManager(m.url or "", m.include_dir or "")


def _http_status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2.0).status_code
    except httpx.HTTPError:
        return 0
