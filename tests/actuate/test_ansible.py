"""AnsibleActuator without running Ansible: configuration checks and how outcomes are decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.actuate.ansible import AdHocModule, AnsibleActuator, _fill_args, decide
from hx.actuate.base import Capability
from hx.errors import BadInput, ConfigError, Unsupported


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "scale.yml"
    path.write_text("- hosts: all\n  tasks: []\n")
    return path


def test_capabilities_from_playbooks_modules_and_actions(playbook: Path) -> None:
    act = AnsibleActuator(
        inventory="localhost,",
        playbooks={"scale": playbook},
        modules={"restart": AdHocModule("ansible.builtin.service", {"name": "{instance}", "state": "restarted"})},
        actions={"flush": playbook},
    )
    assert act.capabilities() == {Capability.SCALE, Capability.RESTART, Capability.RUN}
    with pytest.raises(Unsupported, match="configured: restart, scale"):
        act.deploy("api", "v2", 1)
    with pytest.raises(Unsupported, match="configured: flush"):
        act.run("reboot", {})


def test_a_missing_playbook_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"actuator.ansible.playbooks.scale"):
        AnsibleActuator(inventory="localhost,", playbooks={"scale": tmp_path / "nope.yml"})


def test_a_missing_ansible_says_how_to_install_it(playbook: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hx\[ansible\]"):
        AnsibleActuator(inventory="localhost,", playbooks={"scale": playbook}, bin_dir=tmp_path)


def test_unknown_verbs_and_placeholders_are_config_errors(playbook: Path) -> None:
    with pytest.raises(ConfigError, match="unknown verb"):
        AnsibleActuator(inventory="localhost,", playbooks={"reboot": playbook})
    with pytest.raises(ConfigError, match="unknown placeholder"):
        AnsibleActuator(inventory="localhost,", modules={"restart": AdHocModule("x", {"name": "{service}"})})


def test_params_cannot_override_connection_variables(playbook: Path) -> None:
    act = AnsibleActuator(inventory="localhost,", actions={"flush": playbook})
    for name in ("ansible_connection", "ansible_become", "hx_verb", "not-an-identifier"):
        with pytest.raises(BadInput):
            act.run("flush", {name: "x"})


def test_module_args_keep_types_for_whole_placeholders() -> None:
    args = {"replicas": "{replicas}", "name": "deploy/{service}", "force": True}
    assert _fill_args(args, {"service": "api", "replicas": 3}) == {"replicas": 3, "name": "deploy/api", "force": True}


def _report(**stats: dict[str, int]) -> dict[str, object]:
    return {"stats": stats, "events": [{"host": "h1", "task": "write", "status": "failed", "msg": "disk full"}]}


@pytest.mark.parametrize(
    ("rc", "report", "expected"),
    [
        (0, _report(h1={"ok": 1, "changed": 0, "failures": 0, "unreachable": 0}), (True, False, "no change")),
        (0, _report(h1={"ok": 1, "changed": 2, "failures": 0, "unreachable": 0}), (True, True, "changed")),
        (2, _report(h1={"ok": 0, "changed": 0, "failures": 1, "unreachable": 0}), (False, False, "write: disk full")),
        (4, _report(h1={"ok": 0, "changed": 0, "failures": 0, "unreachable": 1}), (False, False, "failed on h1")),
        (0, {"stats": {}, "events": []}, (False, False, "no hosts matched")),
        (4, None, (False, False, "before running: ERROR! syntax")),
    ],
)
def test_outcomes(rc: int, report: dict[str, object] | None, expected: tuple[bool, bool, str]) -> None:
    ok, changed, detail = decide(rc, report, "ERROR! syntax error in playbook\n")
    assert (ok, changed) == expected[:2]
    assert expected[2] in detail
