"""An instance manager on supervisord's XML-RPC interface (Debian's ``supervisor``).

Each instance is one program named ``{service}--{version}--{index}``, written as a conf file into supervisord's
``[include]`` directory and loaded with ``reloadConfig`` + ``addProcessGroup``; removal is ``stopProcessGroup`` +
``removeProcessGroup`` and the file goes.  The port of an instance is read back from its conf file, its state from
``getAllProcessInfo``: nothing lives only in hx's memory.

supervisord needs ``[inet_http_server]`` (``port = 127.0.0.1:9001``) and ``[include] files = <dir>/*.conf``.
Programs do not restart on their own (``autorestart = false``): a crashed instance stays down until hx (its heal
runbook) restarts it, so the crash is seen and recorded rather than hidden.
"""

from __future__ import annotations

import configparser
import shlex
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hx.actuate.instances import InstanceName, try_parse
from hx.actuate.manager import Instance, InstanceSpec
from hx.errors import ActuatorError, ConfigError

T = TypeVar("T")
PORT_KEY = "hx_port"


def program_conf(spec: InstanceSpec, log_dir: Path) -> str:
    """The supervisord program section of one instance (``%`` doubled: supervisord expands it).

    >>> from hx.actuate.instances import InstanceName
    >>> print(program_conf(InstanceSpec(InstanceName("cart", "v1", 0), 8001, ["app", "--port", "8001"]), Path("/l")))
    ... # doctest: +ELLIPSIS
    [program:cart--v1--0]
    command = app --port 8001
    ...
    """
    name = str(spec.name)
    env = ",".join(f'{k}="{v}"' for k, v in sorted(spec.env.items()))
    lines = [
        f"[program:{name}]",
        f"command = {shlex.join(spec.argv)}",
        "autostart = true",
        "autorestart = false",
        "startsecs = 1",
        "startretries = 0",
        "stopsignal = TERM",
        "stopwaitsecs = 10",
        "stopasgroup = true",
        "killasgroup = true",
        "redirect_stderr = true",
        f"stdout_logfile = {log_dir / (name + '.log')}",
        "stdout_logfile_maxbytes = 5MB",
        "stdout_logfile_backups = 1",
        f"environment = {env}" if env else "",
        f"; {PORT_KEY} = {spec.port}",
    ]
    return "\n".join(ln.replace("%", "%%") for ln in lines if ln) + "\n"


class SupervisorManager:
    """Instances as supervisord programs.

    >>> SupervisorManager("http://127.0.0.1:9001/RPC2", "/tmp/hx-programs").kind
    'supervisor'
    """

    kind = "supervisor"

    def __init__(self, url: str, include_dir: str | Path, *, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{url!r} is not an HTTP URL", key="actuator.fleet.manager.url")
        self.url = url if url.rstrip("/").endswith("/RPC2") else url.rstrip("/") + "/RPC2"
        self.include_dir = Path(include_dir)
        self.timeout_s = timeout_s

    # ---- the wire -----------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        proxy = xmlrpc.client.ServerProxy(self.url, allow_none=True)
        try:
            return fn(proxy.supervisor)
        except xmlrpc.client.Fault as err:
            raise ActuatorError(f"supervisord refused {what}: {err.faultString}", fault=err.faultString) from err
        except (OSError, xmlrpc.client.ProtocolError) as err:
            raise ActuatorError(
                f"supervisord at {self.url} does not answer {what} ({err}); is it running with [inet_http_server]?"
            ) from err

    # ---- reading ------------------------------------------------------------------------

    def instances(self, service: str) -> list[Instance]:
        infos: list[dict[str, Any]] = self._call("getAllProcessInfo", lambda s: s.getAllProcessInfo())
        out = []
        for info in infos:
            name = try_parse(str(info["name"]))
            if name is not None and name.service == service:
                state = str(info["statename"])
                out.append(Instance(name, self.port_of(name), state in ("RUNNING", "STARTING"), state))
        return sorted(out, key=lambda i: i.name)

    def port_of(self, name: InstanceName) -> int:
        """The port written into the instance's conf file (0 if the file is gone)."""
        path = self._conf(name)
        if not path.exists():
            return 0
        for line in path.read_text().splitlines():
            key, _, value = line.lstrip("; ").partition("=")
            if key.strip() == PORT_KEY and value.strip().isdigit():
                return int(value.strip())
        return 0

    def _conf(self, name: InstanceName) -> Path:
        return self.include_dir / f"{name}.conf"

    # ---- changing -----------------------------------------------------------------------

    def add(self, spec: InstanceSpec) -> None:
        """Write the program, load it; supervisord starts it (autostart)."""
        self.include_dir.mkdir(parents=True, exist_ok=True)
        path = self._conf(spec.name)
        path.write_text(program_conf(spec, self.include_dir))
        _check_conf(path)
        self._call("reloadConfig", lambda s: s.reloadConfig())
        group = str(spec.name)
        if group in self._groups():
            self._call(f"startProcessGroup {group}", lambda s: s.startProcessGroup(group, True))
        else:
            self._call(f"addProcessGroup {group}", lambda s: s.addProcessGroup(group))

    def remove(self, name: InstanceName) -> None:
        """Stop the program, unload it and delete its conf file."""
        group = str(name)
        if group in self._groups():
            self._stop(group)
            self._call(f"removeProcessGroup {group}", lambda s: s.removeProcessGroup(group))
        self._conf(name).unlink(missing_ok=True)
        self._call("reloadConfig", lambda s: s.reloadConfig())

    def restart(self, name: InstanceName) -> None:
        group = str(name)
        if group not in self._groups():
            raise ActuatorError(f"supervisord has no program {group!r} to restart", instance=group)
        self._stop(group)
        self._call(f"startProcess {group}", lambda s: s.startProcess(f"{group}:{group}", True))

    def _stop(self, group: str) -> None:
        info = self._call(f"getProcessInfo {group}", lambda s: s.getProcessInfo(f"{group}:{group}"))
        if info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
            self._call(f"stopProcessGroup {group}", lambda s: s.stopProcessGroup(group, True))

    def _groups(self) -> set[str]:
        infos: list[dict[str, Any]] = self._call("getAllProcessInfo", lambda s: s.getAllProcessInfo())
        return {str(i["group"]) for i in infos}


def _check_conf(path: Path) -> None:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except configparser.Error as err:
        path.unlink(missing_ok=True)
        raise ActuatorError(f"cannot write a valid program file {path}: {err}") from err
