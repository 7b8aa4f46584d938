"""SupervisorManager against a real supervisord running real sample-service processes."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from hx.actuate.instances import InstanceName
from hx.actuate.manager import InstanceSpec
from hx.actuate.supervisor import SupervisorManager
from hx.errors import ActuatorError
from tests.integration.servers import wait_until
from tests.support.fleet import SupervisorHandle, pid_of, sample_command
from tests.support.net import free_port

pytestmark = pytest.mark.integration

NAME = InstanceName("cart", "v1", 0)


def _spec(name: InstanceName, port: int) -> InstanceSpec:
    values = {"{service}": name.service, "{version}": name.version, "{port}": str(port), "{instance}": str(name)}
    return InstanceSpec(name, port, [values.get(a, a) for a in sample_command()])


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_add_reports_a_running_instance_that_answers(supervisord: SupervisorHandle) -> None:
    mgr = SupervisorManager(supervisord.url, supervisord.include_dir)
    port = free_port()
    mgr.add(_spec(NAME, port))
    wait_until("the instance to answer", lambda: _healthy(port), 20)
    [inst] = mgr.instances("cart")
    assert (inst.name, inst.port, inst.running) == (NAME, port, True)
    assert mgr.instances("inventory") == []
    assert (supervisord.include_dir / "cart--v1--0.conf").exists()


def test_restart_brings_a_killed_instance_back(supervisord: SupervisorHandle) -> None:
    mgr = SupervisorManager(supervisord.url, supervisord.include_dir)
    port = free_port()
    mgr.add(_spec(NAME, port))
    wait_until("the instance to answer", lambda: _healthy(port), 20)
    os.kill(pid_of(supervisord, str(NAME)), signal.SIGKILL)
    wait_until("supervisord to see it die", lambda: not mgr.instances("cart")[0].running, 10)
    assert not _healthy(port)  # autorestart is off: the crash stays visible until hx acts
    mgr.restart(NAME)
    wait_until("the instance to answer again", lambda: _healthy(port), 20)
    assert mgr.instances("cart")[0].running


def test_remove_stops_and_forgets_the_instance(supervisord: SupervisorHandle) -> None:
    mgr = SupervisorManager(supervisord.url, supervisord.include_dir)
    port = free_port()
    mgr.add(_spec(NAME, port))
    wait_until("the instance to answer", lambda: _healthy(port), 20)
    mgr.remove(NAME)
    assert mgr.instances("cart") == []
    assert not _healthy(port)
    assert not (supervisord.include_dir / "cart--v1--0.conf").exists()


def test_restart_of_an_unknown_instance_and_a_dead_supervisord_are_actuator_errors(
    supervisord: SupervisorHandle,
) -> None:
    mgr = SupervisorManager(supervisord.url, supervisord.include_dir)
    with pytest.raises(ActuatorError, match="no program 'cart--v1--0'"):
        mgr.restart(NAME)
    dead = SupervisorManager(f"http://127.0.0.1:{free_port()}", supervisord.include_dir)
    with pytest.raises(ActuatorError, match="does not answer"):
        dead.instances("cart")
