"""The fleet's state and every change made to it: topology, replicas, versions, nodes, actions, faults.

:class:`World` holds the numpy state (``hx.sim.state``) and the operations the actuator and the fault
injector call; :class:`hx.sim.engine.Simulation` adds the per-step maths on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from hx.errors import BadInput, Conflict, NotFound
from hx.sim.faults import (
    DEPENDENCY_TIMEOUT_S,
    EXPECTED_SIGNALS,
    INSTANCE_KINDS,
    LATENCY_REGRESSION_SLOWDOWN,
    VERSION_KINDS,
    Fault,
    FaultKind,
    FaultRecord,
)
from hx.sim.spec import FleetSpec, topo_order
from hx.sim.state import Groups, Instances

BASE_DISK = 0.2


def not_found(kind: str, name: str, valid: list[str]) -> NotFound:
    shown = ", ".join(valid[:20]) + (f", ... ({len(valid)} in all)" if len(valid) > 20 else "")
    return NotFound(f"unknown {kind} {name!r}; valid: {shown or '(none)'}", kind=kind, name=name, valid=valid[:100])


class World:
    """Services, versions, replicas and nodes of a simulated fleet, and the verbs that change them."""

    def __init__(self, spec: FleetSpec, start: datetime, step_s: float) -> None:
        if start.tzinfo is None:
            raise BadInput("start must be timezone-aware (UTC)", field="start")
        if step_s <= 0:
            raise BadInput("step_s must be > 0 seconds", field="step_s")
        self.spec = spec
        self.step_s = float(step_s)
        self.start = start.astimezone(UTC)
        self._t = self.start.timestamp()
        self.shape = replace(spec.shape, origin=self._t) if spec.shape.anchored else spec.shape
        self.names = [s.name for s in spec.services]
        self.svc_index = {n: i for i, n in enumerate(self.names)}
        self._init_service_arrays()
        self._init_topology()
        self.inst = Instances(capacity=max(64, 2 * sum(s.replicas for s in spec.services)))
        self.groups = Groups(capacity=max(64, 2 * len(self.names)))
        self.node_names = [f"node-{k:0{len(str(spec.nodes - 1))}d}" for k in range(spec.nodes)]
        self.node_up = np.ones(spec.nodes, dtype=bool)
        self.node_sched = np.ones(spec.nodes, dtype=bool)
        self._serial = [0] * len(self.names)
        self.faults: dict[str, FaultRecord] = {}
        self._dirty = True
        self._live: np.ndarray | None = None
        for i, s in enumerate(spec.services):
            self.groups.add(
                i, s.version, active=True, weight=1.0, desired=s.replicas, slowdown=1.0, deployed_at=self._t
            )
        self._reconcile(initial=True)

    # ---- construction -----------------------------------------------------------------------------

    def _init_service_arrays(self) -> None:
        sv = self.spec.services
        self.cap = np.array([s.capacity_rps for s in sv])
        self.base_rate = np.array([s.base_rate_rps for s in sv])
        self.startup = np.array([s.startup_s for s in sv])
        self.base_latency = np.array([s.base_latency_s for s in sv])
        self.base_memory = np.array([s.base_memory for s in sv])
        self.base_error = np.array([s.base_error for s in sv])
        self.phase = np.array([s.phase_s for s in sv])
        self.slo_p99 = np.array([s.slo.latency_p99_s for s in sv])
        self.slo_err = np.array([s.slo.error_rate for s in sv])
        n = len(sv)
        self.surge = np.ones(n)
        self.dep_fail_err = np.zeros(n)
        self.dep_fail_lat = np.zeros(n)

    def _init_topology(self) -> None:
        """Edge arrays grouped by caller depth (load flows down) and by caller height (health flows up)."""
        sv = self.spec.services
        order = topo_order(sv)
        edges = [(i, self.svc_index[d], c) for i, s in enumerate(sv) for d, c in s.dependencies]
        depth = np.zeros(len(sv), dtype=np.int64)
        for i in order:
            for a, b, _ in edges:
                if a == i:
                    depth[b] = max(depth[b], depth[a] + 1)
        height = np.zeros(len(sv), dtype=np.int64)
        for i in reversed(order):
            for a, b, _ in edges:
                if a == i:
                    height[a] = max(height[a], height[b] + 1)
        e = np.array(edges, dtype=np.float64).reshape(-1, 3)
        caller, callee, calls = e[:, 0].astype(np.int64), e[:, 1].astype(np.int64), e[:, 2]
        self.edges = (caller, callee, calls)
        self.down_levels = [
            (caller[m], callee[m], calls[m]) for d in range(int(depth.max()) + 1) if (m := depth[caller] == d).any()
        ]
        self.up_levels = [
            (caller[m], callee[m], calls[m], np.unique(caller[m]))
            for h in range(1, int(height.max()) + 1)
            if (m := height[caller] == h).any()
        ]

    # ---- lookups -------------------------------------------------------------------------------

    @property
    def t(self) -> float:
        """Simulated time reached so far (unix seconds)."""
        return self._t

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, UTC)

    def service_id(self, service: str) -> int:
        try:
            return self.svc_index[service]
        except KeyError:
            raise not_found("service", service, self.names) from None

    def group_id(self, service: str, version: str) -> int:
        s = self.service_id(service)
        g = self.groups.index.get((s, version))
        if g is None:
            raise not_found(f"version of {service}", version, self.versions(service, include_inactive=True))
        return g

    def versions(self, service: str, include_inactive: bool = False) -> list[str]:
        s = self.service_id(service)
        act = self.groups.col("active")
        return [v for (si, v), g in self.groups.index.items() if si == s and (include_inactive or act[g])]

    def live(self) -> np.ndarray:
        """Slots of the live instances, ascending (cached until an instance is created or removed)."""
        if self._live is None:
            self._live = np.flatnonzero(self.inst.col("alive"))
        return self._live

    def instance_id(self, instance: str) -> int:
        slot = self.inst.index.get(instance)
        if slot is None or not self.inst.col("alive")[slot]:
            raise not_found("instance", instance, self.instances())
        return slot

    def instances(self, service: str | None = None, version: str | None = None) -> list[str]:
        """Names of the live instances (of a service, of one of its versions)."""
        mask = self.inst.col("alive").copy()
        if service is not None:
            mask &= self.inst.col("service") == self.service_id(service)
        if version is not None and service is not None:
            mask &= self.inst.col("group") == self.group_id(service, version)
        return [self.inst.names[k] for k in np.flatnonzero(mask)]

    def node_id(self, node: str) -> int:
        if node not in self.node_names:
            raise not_found("node", node, self.node_names)
        return self.node_names.index(node)

    def instance_labels(self, slot: int) -> tuple[str, str, str, str]:
        """(service, version, instance, node) of an instance slot."""
        g = int(self.inst.col("group")[slot])
        s = int(self.inst.col("service")[slot])
        node = self.node_names[int(self.inst.col("node")[slot])]
        return self.names[s], self.groups.versions[g], self.inst.names[slot], node

    def primary_group(self, s: int) -> int:
        """The active version group of service ``s`` with the most traffic (newest on a tie)."""
        gs = [g for (si, _), g in self.groups.index.items() if si == s and self.groups.col("active")[g]]
        if not gs:
            raise Conflict(f"service {self.names[s]} has no active version; deploy one first", service=self.names[s])
        w = self.groups.col("weight")
        dep = self.groups.col("deployed_at")
        return max(gs, key=lambda g: (w[g], dep[g], g))

    # ---- replicas --------------------------------------------------------------------------------

    def _reconcile(self, initial: bool = False) -> None:
        """Make each version group's live replica count match its desired count."""
        self._dirty = False
        inst, grp = self.inst, self.groups
        alive_per_group = np.bincount(inst.col("group")[inst.col("alive")], minlength=grp.n)
        want = np.where(grp.col("active"), grp.col("desired"), 0)
        for g in np.flatnonzero(alive_per_group != want):
            diff = int(want[g] - alive_per_group[g])
            if diff > 0:
                for _ in range(diff):
                    if self._create_instance(int(g), ready_now=initial) is None:
                        self._dirty = True  # nowhere to schedule: retry next step
                        break
            else:
                self._remove_instances(int(g), -diff)

    def _create_instance(self, g: int, ready_now: bool = False) -> int | None:
        ok = self.node_up & self.node_sched
        if not ok.any():
            return None
        inst = self.inst
        load = np.bincount(inst.col("node")[inst.col("alive")], minlength=len(self.node_names)).astype(np.float64)
        node = int(np.argmin(np.where(ok, load, np.inf)))
        s = int(self.groups.col("service")[g])
        self._serial[s] += 1
        name = f"{self.names[s]}-{self.groups.versions[g]}-{self._serial[s]}"
        ready_at = self._t if ready_now else self._t + self.startup[s]
        self._live = None
        return inst.add(
            name, group=g, service=s, node=node, alive=True, created=self._t, ready_at=ready_at, disk=BASE_DISK
        )

    def _remove_instances(self, g: int, k: int) -> None:
        """Remove ``k`` replicas of group ``g``: not-yet-ready ones first, then the newest."""
        inst = self.inst
        slots = np.flatnonzero(inst.col("alive") & (inst.col("group") == g))
        ready = inst.col("ready_at")[slots] <= self._t
        order = np.lexsort((-slots, -inst.col("created")[slots], ready))
        self._kill(slots[order[:k]], reason="scaled_down")

    def _kill(self, slots: np.ndarray, reason: str) -> None:
        self.inst.col("alive")[slots] = False
        self._live = None
        gone = {int(x) for x in slots}
        for rec in self.faults.values():
            if rec.active and rec.live_slots & gone:
                rec.live_slots -= gone
                if not rec.live_slots:
                    self._mark_healed(rec, f"instances_{reason}")
        self._rebuild_effects()

    # ---- actions (what the actuator calls) ---------------------------------------------------------

    def scale(self, service: str, replicas: int) -> tuple[int, int]:
        """Make the service run ``replicas`` in all (what its ``desired_replicas`` signal counts): the primary
        version takes the difference, the others keep theirs; returns the service's (before, after) totals."""
        if replicas < 0:
            raise BadInput("replicas must be >= 0", field="replicas")
        s = self.service_id(service)
        g = self.primary_group(s)
        desired, active, weight = self.groups.col("desired"), self.groups.col("active"), self.groups.col("weight")
        others = [o for (si, _), o in self.groups.index.items() if si == s and o != g and active[o]]
        before = int(desired[g]) + sum(int(desired[o]) for o in others)
        desired[g] = max(replicas - sum(int(desired[o]) for o in others), 1 if replicas > 0 else 0)
        excess = int(desired[g]) + sum(int(desired[o]) for o in others) - replicas
        for o in sorted(others, key=lambda o: weight[o]):  # the primary keeps one: the least-used versions shrink
            cut = min(excess, int(desired[o]))
            desired[o] -= cut
            excess -= cut
        self._dirty = True
        return before, int(desired[g]) + sum(int(desired[o]) for o in others)

    def deploy(self, service: str, version: str, instances: int) -> tuple[int, int]:
        """Run ``instances`` replicas of ``version`` (a new version starts with no traffic unless it is the
        service's only one); 0 replicas on a version without traffic removes it. Returns (before, after)."""
        if instances < 0:
            raise BadInput("instances must be >= 0", field="instances")
        if not version or any(c in version for c in ' ,{}"='):
            raise BadInput(f"invalid version {version!r}", field="version")
        s = self.service_id(service)
        grp = self.groups
        g = grp.index.get((s, version))
        if g is None:
            has_traffic = any(
                grp.col("active")[h] and grp.col("weight")[h] > 0 for (si, _), h in grp.index.items() if si == s
            )
            g = grp.add(
                s,
                version,
                active=True,
                weight=0.0 if has_traffic else 1.0,
                desired=0,
                slowdown=1.0,
                deployed_at=self._t,
            )
        before = int(grp.col("desired")[g]) if grp.col("active")[g] else 0
        grp.col("desired")[g] = instances
        if instances > 0 and not grp.col("active")[g]:
            grp.col("active")[g] = True
            grp.col("deployed_at")[g] = self._t
        elif instances == 0 and grp.col("weight")[g] <= 0:
            self._deactivate(g, "version_removed")
        self._dirty = True
        return before, instances

    def _deactivate(self, g: int, reason: str) -> None:
        self.groups.col("active")[g] = False
        self.groups.col("weight")[g] = 0.0
        self.groups.col("desired")[g] = 0
        for rec in self.faults.values():
            if rec.active and rec.group == g:
                self._mark_healed(rec, reason)
        self._dirty = True
        self._rebuild_effects()

    def set_traffic_split(self, service: str, weights: Mapping[str, float]) -> bool:
        """Route traffic by version weights (normalised); versions left out get none, and a version given weight 0
        need not exist (as with the fleet actuator: a rollback sends 0 to a new version never deployed). Returns
        changed."""
        s = self.service_id(service)
        if not weights:
            raise BadInput("weights must name at least one version", field="weights")
        total = float(sum(weights.values()))
        if any(w < 0 for w in weights.values()) or total <= 0:
            raise BadInput("weights must be >= 0 and sum to > 0", field="weights")
        gids = {v: self.group_id(service, v) for v, w in weights.items() if w > 0}
        for v, g in gids.items():
            if not self.groups.col("active")[g]:
                raise Conflict(f"version {v} of {service} is not deployed; deploy it first", version=v)
        new = np.zeros(self.groups.n)
        for v, g in gids.items():
            new[g] = weights[v] / total
        mine = self.groups.col("service") == s
        old = self.groups.col("weight")
        changed = not np.allclose(old[mine], new[mine])
        old[mine] = new[mine]
        return changed

    def restart(self, instance: str) -> None:
        """Restart one replica: not ready for its start-up time; clears memory leaks, CPU hogs and crash
        loops on it (recorded in the ground truth as healed by restart)."""
        slot = self.instance_id(instance)
        self._restart_slots(np.array([slot]))
        for rec in self.faults.values():
            if rec.active and rec.kind_enum in INSTANCE_KINDS - {FaultKind.DISK_FILL} and slot in rec.live_slots:
                rec.live_slots.discard(slot)
                if not rec.live_slots:
                    self._mark_healed(rec, "restart")
        self._rebuild_effects()

    def _restart_slots(self, slots: np.ndarray) -> None:
        inst = self.inst
        s = inst.col("service")[slots]
        inst.col("ready_at")[slots] = self._t + self.startup[s]
        inst.col("restarts")[slots] += 1
        inst.col("leak_mem")[slots] = 0.0

    def drain_node(self, node: str) -> int:
        """Cordon a node and evict its replicas (replacements start elsewhere). Returns how many moved."""
        n = self.node_id(node)
        self.node_sched[n] = False
        slots = np.flatnonzero(self.inst.col("alive") & (self.inst.col("node") == n))
        if slots.size:
            self._kill(slots, reason="evicted")
            self._dirty = True
        return int(slots.size)

    def uncordon_node(self, node: str) -> bool:
        n = self.node_id(node)
        changed = not self.node_sched[n]
        self.node_sched[n] = self.node_up[n]
        return bool(changed)

    def clear_disk(self, service: str | None = None, instance: str | None = None) -> int:
        """Free disk space on one replica or all of a service's; stops disk-fill faults there."""
        if instance is not None:
            slots = np.array([self.instance_id(instance)])
        elif service is not None:
            s = self.service_id(service)
            slots = np.flatnonzero(self.inst.col("alive") & (self.inst.col("service") == s))
        else:
            raise BadInput("clear_disk needs service or instance", field="service")
        full = int((self.inst.col("disk")[slots] > BASE_DISK + 1e-9).sum())
        self.inst.col("disk")[slots] = BASE_DISK
        gone = {int(x) for x in slots}
        for rec in self.faults.values():
            if rec.active and rec.kind_enum is FaultKind.DISK_FILL and rec.live_slots & gone:
                rec.live_slots -= gone
                if not rec.live_slots:
                    self._mark_healed(rec, "clear_disk")
        self._rebuild_effects()
        return full

    def rollback(self, service: str, to_version: str | None = None) -> tuple[str, list[str]]:
        """Send all traffic back to ``to_version`` (default: the version deployed before the newest) with
        the service's whole replica count, and remove the others. Returns (target, removed versions)."""
        s = self.service_id(service)
        grp = self.groups
        mine = sorted((g for (si, _), g in grp.index.items() if si == s), key=lambda g: grp.col("deployed_at")[g])
        if to_version is None:
            active = [g for g in mine if grp.col("active")[g]]
            if len(active) < 2:
                older = [g for g in mine if g not in active]
                if not older:
                    raise Conflict(f"{service} has no earlier version to roll back to", service=service)
                target = older[-1]
            else:
                target = active[-2]
        else:
            target = self.group_id(service, to_version)
        total = int(sum(grp.col("desired")[g] for g in mine if grp.col("active")[g]))
        removed = [grp.versions[g] for g in mine if g != target and grp.col("active")[g]]
        for g in mine:
            if g != target and grp.col("active")[g]:
                self._deactivate(g, "rollback")
        grp.col("active")[target] = True
        grp.col("weight")[target] = 1.0
        grp.col("desired")[target] = max(total, int(grp.col("desired")[target]), 1)
        self._dirty = True
        return grp.versions[target], removed

    # ---- faults ------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> str:
        """Inject a fault now; returns its id (see :meth:`ground_truth`)."""
        fault.validate()
        kind = fault.resolved_kind
        rec = FaultRecord(
            id=f"f{len(self.faults) + 1:04d}",
            kind=kind.value,
            service=fault.service,
            version=fault.version,
            node=fault.node,
            instances=(),
            magnitude=fault.resolved_magnitude,
            injected_at=self.now,
            expected_signals=EXPECTED_SIGNALS[kind],
            expires_at=None if fault.duration_s is None else self._t + fault.duration_s,
        )
        self._resolve_target(rec, fault, kind)
        self.faults[rec.id] = rec
        if kind is FaultKind.NODE_LOSS and rec.node_index is not None:
            n = rec.node_index
            self.node_up[n] = False
            self.node_sched[n] = False
            slots = np.flatnonzero(self.inst.col("alive") & (self.inst.col("node") == n))
            rec.instances = tuple(self.inst.names[k] for k in slots)
            self._kill(slots, reason="node_lost")
            self._dirty = True
        self._rebuild_effects()
        return rec.id

    def _resolve_target(self, rec: FaultRecord, fault: Fault, kind: FaultKind) -> None:
        if fault.instance is not None:
            slot = self.instance_id(fault.instance)
            svc, ver, _, _ = self.instance_labels(slot)
            if fault.service is not None and fault.service != svc:
                raise BadInput(f"instance {fault.instance} belongs to {svc}, not {fault.service}", field="instance")
            rec.service, rec.version = svc, rec.version or ver
        if rec.service is not None:
            rec.service_index = self.service_id(rec.service)
        if kind is FaultKind.NODE_LOSS:
            rec.node_index = self.node_id(str(fault.node))
        elif kind in VERSION_KINDS:
            s = int(rec.service_index)  # type: ignore[arg-type]
            g = self.group_id(rec.service, rec.version) if rec.version else self._newest_group(s)  # type: ignore[arg-type]
            rec.group, rec.version = g, self.groups.versions[g]
        elif kind in INSTANCE_KINDS:
            if fault.instance is not None:
                slots = [self.instance_id(fault.instance)]
            else:
                slots = [self.inst.index[n] for n in self.instances(rec.service, fault.version)]
            if not slots:
                raise Conflict(f"no live instance to inject {kind.value} into", service=rec.service)
            rec.live_slots = set(slots)
            rec.instances = tuple(self.inst.names[k] for k in slots)

    def _newest_group(self, s: int) -> int:
        act = [g for (si, _), g in self.groups.index.items() if si == s and self.groups.col("active")[g]]
        if not act:
            raise Conflict(f"service {self.names[s]} has no active version", service=self.names[s])
        return max(act, key=lambda g: (self.groups.col("deployed_at")[g], g))

    def heal(self, fault_id: str) -> FaultRecord:
        """Undo a fault now (idempotent: healing a healed fault changes nothing)."""
        rec = self.faults.get(fault_id)
        if rec is None:
            raise not_found("fault", fault_id, list(self.faults))
        if rec.active:
            self._undo(rec)
            self._mark_healed(rec, "heal")
            self._rebuild_effects()
        return rec

    def _undo(self, rec: FaultRecord) -> None:
        slots = np.array(sorted(rec.live_slots), dtype=np.int64)
        kind = rec.kind_enum
        if kind is FaultKind.MEMORY_LEAK and slots.size:
            self.inst.col("leak_mem")[slots] = 0.0
        elif kind is FaultKind.DISK_FILL and slots.size:
            self.inst.col("disk")[slots] = BASE_DISK
        elif kind is FaultKind.CRASH_LOOP and slots.size:
            self._restart_slots(slots)
        elif kind is FaultKind.NODE_LOSS and rec.node_index is not None:
            self.node_up[rec.node_index] = True
            self.node_sched[rec.node_index] = True

    def _mark_healed(self, rec: FaultRecord, how: str) -> None:
        rec.healed_at = self.now
        rec.healed_by = how

    def expire_faults(self) -> None:
        for rec in self.faults.values():
            if rec.active and rec.expires_at is not None and rec.expires_at <= self._t:
                self._undo(rec)
                self._mark_healed(rec, "expired")
                self._rebuild_effects()

    def ground_truth(self) -> list[FaultRecord]:
        """Every fault injected so far, in order: what, where, when injected, when and how healed."""
        return list(self.faults.values())

    def _rebuild_effects(self) -> None:
        """Recompute the per-instance, per-version and per-service fault effects from the active faults."""
        inst, grp = self.inst, self.groups
        for c in ("hog", "leak_rate", "disk_rate"):
            inst.col(c)[:] = 0.0
        inst.col("crash")[:] = False
        grp.col("slowdown")[:] = 1.0
        grp.col("extra_latency")[:] = 0.0
        grp.col("error_extra")[:] = 0.0
        self.surge[:] = 1.0
        self.dep_fail_err[:] = 0.0
        self.dep_fail_lat[:] = 0.0
        for rec in self.faults.values():
            if rec.active:
                self._apply(rec)
        inst.col("hog")[:] = np.minimum(inst.col("hog"), 0.9)
        grp.col("error_extra")[:] = np.minimum(grp.col("error_extra"), 1.0)
        self.dep_fail_err[:] = np.minimum(self.dep_fail_err, 1.0)

    def _apply(self, rec: FaultRecord) -> None:
        kind, m = rec.kind_enum, rec.magnitude
        slots = np.array(sorted(rec.live_slots), dtype=np.int64)
        if kind is FaultKind.MEMORY_LEAK:
            self.inst.col("leak_rate")[slots] += m
        elif kind is FaultKind.CPU_HOG:
            self.inst.col("hog")[slots] += m
        elif kind is FaultKind.DISK_FILL:
            self.inst.col("disk_rate")[slots] += m
        elif kind is FaultKind.CRASH_LOOP:
            self.inst.col("crash")[slots] = True
        elif kind is FaultKind.LATENCY_REGRESSION and rec.group is not None:
            self.groups.col("extra_latency")[rec.group] += m
            self.groups.col("slowdown")[rec.group] *= LATENCY_REGRESSION_SLOWDOWN
        elif kind is FaultKind.ERROR_SPIKE and rec.group is not None:
            self.groups.col("error_extra")[rec.group] += m
        elif kind is FaultKind.DEPENDENCY_FAILURE and rec.service_index is not None:
            self.dep_fail_err[rec.service_index] += m
            self.dep_fail_lat[rec.service_index] += m * DEPENDENCY_TIMEOUT_S
        elif kind is FaultKind.TRAFFIC_SURGE:
            if rec.service_index is None:
                self.surge *= m
            else:
                self.surge[rec.service_index] *= m
