"""The production instance manager: a templated systemd unit per instance, driven by hx's Ansible playbooks.

Each instance is ``hx-app@{service}--{version}--{index}.service`` from the template ``deploy/systemd/hx-app@.service``;
its command line, port and environment are a drop-in (:func:`render_dropin`) that ``deploy/ansible/fleet/
instance.yml`` writes before starting the unit.  ``deploy/ansible/fleet/status.yml`` reads the units back
(``systemctl show``), so the state lives on the hosts, never only in hx.  Both playbooks run through
:class:`~hx.actuate.ansible.AnsibleActuator` (``run`` actions ``fleet_instance`` and ``fleet_status``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hx.actuate.ansible import AnsibleActuator
from hx.actuate.base import ActionResult
from hx.actuate.instances import InstanceName, try_parse
from hx.actuate.manager import Instance, InstanceSpec
from hx.errors import ActuatorError

if TYPE_CHECKING:
    from hx.config import FleetManager

PLAYBOOK_DIR = Path(__file__).resolve().parents[3] / "deploy" / "ansible" / "fleet"
_UNIT = re.compile(r"^hx-app@(?P<name>.+)\.service$")
STATUS_TASK = "hx fleet status"


def _quote(arg: str) -> str:
    r"""One ExecStart word: double-quoted, with systemd's escapes (``\``, ``"``, ``%`` and ``$``).

    >>> _quote('say "hi" 100% $HOME')
    '"say \\"hi\\" 100%% $$HOME"'
    """
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{text}"'


def render_dropin(spec: InstanceSpec) -> str:
    """The instance's ``[Service]`` drop-in: environment (``HX_PORT``, ``HX_INSTANCE``, the service's) and ExecStart.

    >>> print(render_dropin(InstanceSpec(InstanceName("cart", "v1", 0), 8001, ["/usr/bin/app", "--port", "8001"])))
    [Service]
    Environment="HX_INSTANCE=cart--v1--0" "HX_PORT=8001"
    ExecStart=
    ExecStart="/usr/bin/app" "--port" "8001"
    <BLANKLINE>
    """
    if not spec.argv or not spec.argv[0].startswith("/"):
        raise ActuatorError(f"{spec.name}: a systemd ExecStart needs an absolute program path, got {spec.argv[:1]}")
    env = {"HX_INSTANCE": str(spec.name), "HX_PORT": str(spec.port), **spec.env}
    lines = [
        "[Service]",
        "Environment=" + " ".join(_quote(f"{k}={v}") for k, v in sorted(env.items())),
        "ExecStart=",
        "ExecStart=" + " ".join(_quote(a) for a in spec.argv),
    ]
    return "\n".join(lines) + "\n"


def parse_show(text: str, service: str) -> list[Instance]:
    """Instances of ``service`` from ``systemctl show -p Id,ActiveState,Environment`` (blank-line separated).

    >>> parse_show("Id=hx-app@cart--v1--0.service\\nActiveState=active\\nEnvironment=HX_PORT=8001\\n", "cart")
    [Instance(name=InstanceName(service='cart', version='v1', index=0), port=8001, running=True, state='active')]
    """
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        props = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        m = _UNIT.match(props.get("Id", ""))
        name = try_parse(m.group("name")) if m else None
        if name is None or name.service != service:
            continue
        port = re.search(r"(?:^|\s)HX_PORT=(\d+)", props.get("Environment", ""))
        state = props.get("ActiveState", "unknown")
        out.append(Instance(name, int(port.group(1)) if port else 0, state in ("active", "activating"), state))
    return sorted(out, key=lambda i: i.name)


class SystemdManager:
    """Instances as ``hx-app@`` units, through the Ansible actuator."""

    kind = "systemd"

    def __init__(self, ansible: AnsibleActuator, *, timeout_s: float = 300.0) -> None:
        self.ansible = ansible
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, m: FleetManager) -> SystemdManager:
        playbooks = Path(m.playbook_dir) if m.playbook_dir else PLAYBOOK_DIR
        actions = {"fleet_instance": playbooks / "instance.yml", "fleet_status": playbooks / "status.yml"}
        limit = None if m.host == "all" else m.host
        return cls(
            AnsibleActuator(inventory=m.ansible_inventory or "", actions=actions, name="fleet-systemd", limit=limit)
        )

    def _run(self, action: str, params: Mapping[str, object]) -> ActionResult:
        result = self.ansible.run(action, dict(params), timeout=self.timeout_s)
        if not result.ok:
            raise ActuatorError(f"systemd {action} {dict(params).get('instance', '')}: {result.detail}")
        return result

    def instances(self, service: str) -> list[Instance]:
        result = self._run("fleet_status", {"service": service})
        events = [e for e in result.output.get("events", []) if e.get("task") == STATUS_TASK]
        return sorted({i for e in events for i in parse_show(str(e.get("msg", "")), service)}, key=lambda i: i.name)

    def add(self, spec: InstanceSpec) -> None:
        self._run("fleet_instance", {"fleet_op": "add", "instance": str(spec.name), "dropin": render_dropin(spec)})

    def remove(self, name: InstanceName) -> None:
        self._run("fleet_instance", {"fleet_op": "remove", "instance": str(name)})

    def restart(self, name: InstanceName) -> None:
        self._run("fleet_instance", {"fleet_op": "restart", "instance": str(name)})
