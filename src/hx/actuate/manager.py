"""What an instance manager does for the fleet actuator: run named instances of a service's versions.

Two managers ship: :class:`hx.actuate.supervisor.SupervisorManager` (supervisord's XML-RPC, for one machine and the
lab) and :class:`hx.actuate.systemd_units.SystemdManager` (a templated systemd unit per instance, driven by hx's
Ansible playbooks, for production hosts).  Both read everything back from the process manager, so a restarted hx
finds the instances it started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hx.actuate.instances import InstanceName


@dataclass(frozen=True)
class InstanceSpec:
    """How to run one instance: its name, its port and the command line (placeholders already filled)."""

    name: InstanceName
    port: int
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    """One instance as its process manager reports it."""

    name: InstanceName
    port: int
    running: bool
    state: str  #: the manager's own word (RUNNING, EXITED, active, failed...)


class InstanceManager(Protocol):
    """Starts, stops and restarts instances; reports them."""

    kind: str

    def instances(self, service: str) -> list[Instance]: ...

    def add(self, spec: InstanceSpec) -> None: ...

    def remove(self, name: InstanceName) -> None: ...

    def restart(self, name: InstanceName) -> None: ...
