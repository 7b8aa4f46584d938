"""Fixtures of real servers for the fleet tests: HAProxy, supervisord, and the fleet actuator over them.

The lab's tests reuse them: ``from tests.support.fleet import haproxy_server, supervisord_server, sample_command``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hx.actuate.fleet import FleetActuator, ServiceSpec
from hx.actuate.haproxy import HAProxyRouter
from hx.actuate.supervisor import SupervisorManager
from tests.support.fleet import (
    HAProxyHandle,
    SupervisorHandle,
    free_port_range,
    haproxy_server,
    sample_command,
    supervisord_server,
)

SERVICE = "cart"


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HAProxyHandle]:
    with haproxy_server(tmp_path, [SERVICE]) as h:
        yield h


@pytest.fixture
def supervisord(tmp_path: Path) -> Iterator[SupervisorHandle]:
    with supervisord_server(tmp_path) as s:
        yield s


@pytest.fixture
def cart_spec() -> ServiceSpec:
    return ServiceSpec(tuple(sample_command()), free_port_range(12))


@pytest.fixture
def make_fleet(
    haproxy: HAProxyHandle, supervisord: SupervisorHandle, cart_spec: ServiceSpec
) -> Callable[..., FleetActuator]:
    """A fresh FleetActuator on the same servers each call (as a restarted hx would build it)."""

    def make(*, router: bool = True, drain_timeout_s: float = 20.0) -> FleetActuator:
        return FleetActuator(
            SupervisorManager(supervisord.url, supervisord.include_dir),
            HAProxyRouter(haproxy.unix_socket) if router else None,
            {SERVICE: cart_spec},
            ready_timeout_s=20.0,
            drain_timeout_s=drain_timeout_s,
        )

    return make
