"""AnsibleActuator running real playbooks and ad-hoc modules against localhost (ansible_connection=local)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hx.actuate.ansible import AdHocModule, AnsibleActuator
from hx.actuate.checks import Targets, check_actuator
from hx.errors import ActuatorTimeout

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent

WRITE_REPLICAS = """
- hosts: all
  gather_facts: false
  tasks:
    - name: write the replica count
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ service }}.replicas"
        content: "{{ replicas }}"
        mode: "0644"
"""

FAIL = """
- hosts: all
  gather_facts: false
  tasks:
    - name: refuse
      ansible.builtin.fail:
        msg: "cannot scale {{ service }}"
"""

SLOW = """
- hosts: all
  gather_facts: false
  tasks:
    - name: wait
      ansible.builtin.command: sleep 30
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    if not (BIN / "ansible-playbook").exists():
        pytest.fail(f"ansible-playbook is not in {BIN}; `make test` installs the test extras (ansible-core)")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable} out_dir={tmp_path / 'out'}\n"
    )
    (tmp_path / "out").mkdir()
    for name, text in (("scale.yml", WRITE_REPLICAS), ("fail.yml", FAIL), ("slow.yml", SLOW)):
        (tmp_path / name).write_text(text)
    return tmp_path


def _env(tmp: Path) -> dict[str, str]:
    home = tmp / "ansible-home"
    return {
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
        "ANSIBLE_CONFIG": str(tmp / "no-ansible.cfg"),
    }


def _actuator(tmp: Path, **kw: object) -> AnsibleActuator:
    return AnsibleActuator(inventory=tmp / "inventory.ini", bin_dir=BIN, env=_env(tmp), **kw)  # type: ignore[arg-type]


def test_playbook_writes_the_replicas_and_a_second_run_changes_nothing(workdir: Path) -> None:
    act = _actuator(workdir, playbooks={"scale": workdir / "scale.yml"})
    first = act.scale("api", 3, timeout=120)
    assert first.ok and first.changed, first.output
    assert (workdir / "out" / "api.replicas").read_text() == "3"
    assert first.output["stats"]["localhost"]["changed"] == 1

    again = act.scale("api", 3, timeout=120)
    assert again.ok and not again.changed, again.output
    assert "no change" in again.detail


def test_a_failing_task_is_a_failed_result_with_its_message(workdir: Path) -> None:
    act = _actuator(workdir, playbooks={"scale": workdir / "fail.yml"})
    result = act.scale("api", 3, timeout=120)
    assert not result.ok and not result.changed
    assert "failed on localhost" in result.detail and "cannot scale api" in result.detail
    assert result.output["returncode"] == 2


def test_ad_hoc_module_with_typed_args(workdir: Path) -> None:
    target = workdir / "out" / "restarted"
    module = AdHocModule("ansible.builtin.copy", {"dest": str(target), "content": "{instance}\n"})
    act = _actuator(workdir, modules={"restart": module})
    first = act.restart("api-1", timeout=120)
    assert first.ok and first.changed, first.output
    assert target.read_text() == "api-1\n"


def test_run_action_gets_its_params_as_extra_vars(workdir: Path) -> None:
    act = _actuator(workdir, actions={"write": workdir / "scale.yml"})
    result = act.run("write", {"service": "web", "replicas": 7}, timeout=120)
    assert result.ok and (workdir / "out" / "web.replicas").read_text() == "7"


def test_a_run_past_its_timeout_is_killed(workdir: Path) -> None:
    act = _actuator(workdir, playbooks={"scale": workdir / "slow.yml"})
    with pytest.raises(ActuatorTimeout):
        act.scale("api", 1, timeout=3)


def test_no_matching_host_is_not_success(workdir: Path) -> None:
    act = _actuator(workdir, playbooks={"scale": workdir / "scale.yml"}, limit="no-such-host")
    result = act.scale("api", 1, timeout=120)
    assert not result.ok and not result.changed


def test_the_shipped_actuator_contract(workdir: Path) -> None:
    def build() -> AnsibleActuator:
        return _actuator(workdir, playbooks={"scale": workdir / "scale.yml"}, actions={"write": workdir / "scale.yml"})

    check_actuator(build, Targets("api", "api-1", action="write", params={"service": "web", "replicas": 2}))
