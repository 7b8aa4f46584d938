"""``SimActuator``: the :class:`hx.actuate.base.Actuator` verbs acting on a simulated fleet.

Invalid input (an unknown service, instance, node or action; negative counts) raises ``hx.errors``
exceptions (NotFound / BadInput / Conflict); a valid call returns an :class:`ActionResult` whose
``changed`` is False when the fleet was already in the asked state (the verbs are idempotent where that
makes sense: scale, deploy, set_traffic_split, drain_node, clear_disk, rollback to the current version).
Effects take simulated time: new replicas are ready after their service's start-up time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hx.actuate.base import ActionResult, Capability
from hx.errors import BadInput, UnknownName
from hx.sim.engine import Simulation


class SimActuator:
    """Scale, split traffic, deploy, restart and run named actions on a :class:`Simulation`.

    >>> from hx.sim.spec import make_fleet
    >>> act = SimActuator(Simulation(make_fleet(2, seed=0)))
    >>> act.scale("frontend", 5).output["after"], act.scale("frontend", 5).changed
    (5, False)
    """

    name = "sim"

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._actions: dict[str, Callable[[Mapping[str, Any]], ActionResult]] = {
            "drain_node": self._drain_node,
            "uncordon_node": self._uncordon_node,
            "clear_disk": self._clear_disk,
            "rollback": self._rollback,
            "restart_service": self._restart_service,
        }

    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def actions(self) -> list[str]:
        """Names accepted by :meth:`run`."""
        return sorted(self._actions)

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        before, after = self.sim.scale(service, replicas)
        return ActionResult(
            "scale",
            service,
            True,
            f"{service}: {before} -> {after} replicas",
            changed=before != after,
            output={"before": before, "after": after},
        )

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        changed = self.sim.set_traffic_split(service, weights)
        total = sum(weights.values())
        norm = {v: w / total for v, w in weights.items()}
        return ActionResult(
            "set_traffic_split", service, True, f"{service}: weights {norm}", changed=changed, output={"weights": norm}
        )

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        before, after = self.sim.deploy(service, version, instances)
        return ActionResult(
            "deploy",
            f"{service}@{version}",
            True,
            f"{service} {version}: {before} -> {after}",
            changed=before != after,
            output={"before": before, "after": after},
        )

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        self.sim.restart(instance)
        return ActionResult("restart", instance, True, f"{instance} restarted", output={"instance": instance})

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        """Named actions: drain_node {node}, uncordon_node {node}, clear_disk {service | instance},
        rollback {service, to_version?}, restart_service {service}."""
        handler = self._actions.get(action)
        if handler is None:
            raise UnknownName("sim action", action, list(self._actions))
        return handler(params)

    @staticmethod
    def _param(params: Mapping[str, Any], key: str, action: str) -> str:
        value = params.get(key)
        if not isinstance(value, str) or not value:
            raise BadInput(f"{action} needs the parameter {key!r} (a string)", field=key)
        return value

    def _drain_node(self, params: Mapping[str, Any]) -> ActionResult:
        node = self._param(params, "node", "drain_node")
        was_sched = bool(self.sim.node_sched[self.sim.node_id(node)])
        moved = self.sim.drain_node(node)
        return ActionResult(
            "drain_node",
            node,
            True,
            f"{node}: cordoned, {moved} replicas evicted",
            changed=was_sched or moved > 0,
            output={"evicted": moved},
        )

    def _uncordon_node(self, params: Mapping[str, Any]) -> ActionResult:
        node = self._param(params, "node", "uncordon_node")
        changed = self.sim.uncordon_node(node)
        return ActionResult("uncordon_node", node, True, f"{node}: schedulable", changed=changed)

    def _clear_disk(self, params: Mapping[str, Any]) -> ActionResult:
        service, instance = params.get("service"), params.get("instance")
        cleared = self.sim.clear_disk(service=service, instance=instance)
        target = str(instance or service)
        return ActionResult(
            "clear_disk",
            target,
            True,
            f"{target}: {cleared} disks cleared",
            changed=cleared > 0,
            output={"cleared": cleared},
        )

    def _rollback(self, params: Mapping[str, Any]) -> ActionResult:
        service = self._param(params, "service", "rollback")
        to_version = params.get("to_version")
        target, removed = self.sim.rollback(service, to_version)
        return ActionResult(
            "rollback",
            service,
            True,
            f"{service}: all traffic to {target}, removed {removed}",
            changed=bool(removed),
            output={"version": target, "removed": removed},
        )

    def _restart_service(self, params: Mapping[str, Any]) -> ActionResult:
        service = self._param(params, "service", "restart_service")
        names = self.sim.instances(service)
        for name in names:
            self.sim.restart(name)
        return ActionResult(
            "restart_service", service, True, f"{service}: {len(names)} replicas restarted", output={"restarted": names}
        )
