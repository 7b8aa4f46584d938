"""``hx lab``: a real fleet on loopback, every piece a Debian or PyPI package already on the machine.

``up`` writes every configuration into the lab directory (default ``<data dir>/lab``), picks free loopback ports
and starts, each as its own process recorded in ``lab.json`` (name, pid, port):

- ``haproxy``: one frontend -> backend per tier (``frontend`` -> ``cart`` -> ``inventory``, backends named after
  the services as the fleet actuator expects), the runtime API (admin) on a Unix socket and a loopback TCP port,
  and the built-in Prometheus exporter;
- ``supervisord``: the instance manager; the sample service's instances are its programs (``actuator.kind: fleet``);
- ``node-exporter`` (prometheus-node-exporter), ``prometheus`` (scraping HAProxy, the node exporter, hx and every
  instance through a file_sd file the lab agent keeps current) with the shipped alerting rules
  (``hx/lab/rules/lab-alerts.yml``), ``alertmanager`` whose receiver is hx's intake;
- ``agent``: the NASA-trace load generator (``python -m hx.lab.agent``) and the file_sd writer;
- ``hx``: ``hx serve`` with Prometheus telemetry and the fleet actuator over the two servers above.

``status`` reads each process back (alive or not) and ``down`` stops them all (children of supervisord with it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from hx.actuate.haproxy import backend_config
from hx.errors import BadInput, HxError

TIERS = ("frontend", "cart", "inventory")
DOWNSTREAM = {"frontend": "cart", "cart": "inventory"}
#: instance ports per tier (the fleet actuator's ``ports`` range)
PORTS_PER_TIER = 12
#: order of start; ``down`` stops in the reverse order
ORDER = ("haproxy", "supervisord", "node-exporter", "alertmanager", "prometheus", "hx", "agent")


class LabError(HxError):
    """A lab component did not start, or the lab is in a state the command cannot work with."""

    exit_code = 1


@dataclass
class Component:
    """One process of the lab: what it is, where it listens, its pid and its log."""

    name: str
    pid: int = 0
    port: int = 0
    url: str = ""
    log: str = ""
    argv: list[str] = field(default_factory=list)


@dataclass
class LabState:
    """Everything ``up`` chose (ports, paths) and started; saved as ``lab.json`` in the lab directory."""

    root: str
    ports: dict[str, int] = field(default_factory=dict)
    tier_ports: dict[str, list[int]] = field(default_factory=dict)
    haproxy_socket: str = ""
    components: dict[str, Component] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0

    @property
    def path(self) -> Path:
        return Path(self.root)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def save(self) -> None:
        data = asdict(self)
        tmp = self.path / "lab.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path / "lab.json")

    @classmethod
    def load(cls, root: Path) -> LabState:
        path = root / "lab.json"
        if not path.exists():
            raise LabError(f"no lab in {root} (no lab.json); start one with `hx lab up`", path=str(root))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls._from_json(data)
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:
            reason = f"{type(err).__name__}: {err}" if isinstance(err, OSError) else str(err)
            raise BadInput(
                f"{path}: not a lab state file ({reason}); `hx lab up` writes it (remove the file or the lab directory "
                "if no lab runs there)",
                field="--lab-dir",
                file=str(path),
            ) from None

    @classmethod
    def _from_json(cls, data: Any) -> LabState:
        """The state ``save`` wrote; ValueError or TypeError naming what is not as it writes it."""
        if not isinstance(data, dict):
            raise ValueError(f"a JSON object was expected, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown or not isinstance(data.get("root"), str):
            raise ValueError(f"unknown keys {', '.join(map(repr, unknown))}" if unknown else "no 'root' path")
        comps = data.get("components", {})
        if not isinstance(comps, dict) or not all(isinstance(v, dict) for v in comps.values()):
            raise ValueError("'components' is not an object of objects")
        parsed = {k: Component(**v) for k, v in comps.items()}
        for name, c in parsed.items():
            if not (isinstance(c.pid, int) and isinstance(c.port, int)):
                raise ValueError(f"component {name!r}: pid and port must be integers")
        return cls(**{**data, "components": parsed})


@dataclass(frozen=True)
class LabOptions:
    """What ``hx lab up`` may be told: instances per tier, load, time compression, hx's own timings."""

    instances: int = 2
    rps: float = 20.0
    compression: float = 144.0  #: trace seconds per lab second (144: one trace day in ten minutes)
    scrape_interval_s: float = 2.0
    analysis_interval_s: float = 20.0
    canary_steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    engine_interval_s: float = 10.0
    slo_p95_s: float = 0.25
    triage_delay_s: float = 20.0
    max_replicas: int = 6
    #: the tier whose instances have a bounded capacity (``--workers`` x ``--service-ms``: about
    #: ``workers / (service_ms + its downstream call)`` req/s each, whatever else the machine runs); "" for none
    pool_tier: str = "inventory"
    workers: int = 2
    service_ms: float = 50.0
    #: the scaler's target utilisation: a pool of two queues long before it is full (at 70 % a request waits about
    #: as long as it is served, twice the SLO's margin here), so the lab scales at half its capacity
    target_utilization: float = 0.5
    scale_in_window_s: float = 60.0
    with_hx: bool = True
    with_load: bool = True
    data_dir: str = ""  #: $HX_DATA_DIR for the NASA trace

    def check(self) -> None:
        """BadInput naming the option when a value is out of range."""
        if not 1 <= self.instances <= PORTS_PER_TIER // 2:
            raise BadInput(f"--instances {self.instances}: 1..{PORTS_PER_TIER // 2}", field="instances")
        if not 0 < self.rps <= 2000:
            raise BadInput(f"--rps {self.rps}: must be in (0, 2000]", field="rps")
        if not 1 <= self.compression <= 100_000:
            raise BadInput(f"--compression {self.compression}: 1..100000", field="compression")
        if self.pool_tier and self.pool_tier not in TIERS:
            raise BadInput(f"pool_tier {self.pool_tier!r}: one of {', '.join(TIERS)} or empty", field="pool_tier")
        if not 0 <= self.workers <= 64:
            raise BadInput(f"--workers {self.workers}: 0..64 (0: unbounded)", field="workers")
        if not 0 <= self.service_ms <= 10_000:
            raise BadInput(f"--service-ms {self.service_ms}: 0..10000", field="service_ms")


# ---- ports and binaries --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether a server can listen on ``port``: bound as the lab's servers bind (``SO_REUSEADDR``, as HAProxy, the
    Go servers, uvicorn and http.server do), so a port whose last connections wait in TIME_WAIT counts as free; after
    a run at a few hundred requests a second thousands of loopback ports do."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_range(count: int, taken: set[int]) -> list[int]:
    """``count`` consecutive free loopback ports, none in ``taken``."""
    for _ in range(100):
        first = free_port()
        ports = list(range(first, first + count))
        if ports[-1] < 65000 and not taken & set(ports) and all(_port_free(p) for p in ports):
            return ports
    raise LabError(f"no {count} consecutive free loopback ports")


def binary(name: str, package: str) -> str:
    """Path of an installed program, or a LabError saying which Debian package to install."""
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), "")
    if not found:
        raise LabError(f"{name} is not installed: `apt-get install {package}` (or `make system-deps`)", program=name)
    return found


def choose_ports(state: LabState) -> None:
    """Every port the lab needs, free at this moment, written into ``state``."""
    names = ["haproxy_api", "haproxy_metrics", "supervisord", "node_exporter", "prometheus", "alertmanager", "hx",
             "agent", *(f"lb_{t}" for t in TIERS)]  # fmt: skip
    taken: set[int] = set()
    for n in names:
        port = free_port()
        while port in taken:
            port = free_port()
        taken.add(port)
        state.ports[n] = port
    for t in TIERS:
        state.tier_ports[t] = free_range(PORTS_PER_TIER, taken)
        taken |= set(state.tier_ports[t])


#: Signals over http-semconv's for the lab: replicas and ready replicas from the instances' scrape targets (a crashed
#: one is counted, not ready), and CPU and memory as the fractions engines expect (http-semconv gives cores and
#: bytes): the busy fraction of one instance's core (one Python process: one core at most) and of the host's memory.
_CPU = 'avg by ({by}) (rate(process_cpu_seconds_total{service_name="{service}"}[{window}]))'
LAB_TEMPLATES = {
    "cpu_utilization": _CPU,
    "utilization": _CPU,
    "memory_utilization": (
        'avg by ({by}) (process_resident_memory_bytes{service_name="{service}"})'
        " / scalar(max(node_memory_MemTotal_bytes))"
    ),
    # in flight by Little's law (the server histogram's seconds per second: exact, where the active-requests gauge
    # is sampled only at each scrape) over the worker pools (http_server_active_requests_limit)
    "saturation": (
        'sum by ({by}) (rate(http_server_request_duration_seconds_sum{service_name="{service}"}[{window}]))'
        ' / sum by ({by}) (http_server_active_requests_limit{service_name="{service}"} > 0)'
    ),
    "replicas": 'count by ({by}) (up{job="instances",service_name="{service}"})',
    "ready_replicas": 'count by ({by}) (up{job="instances",service_name="{service}"} == 1)',
}


# ---- configuration files -------------------------------------------------------------------------


def haproxy_config(state: LabState) -> str:
    p = state.ports
    lines = [
        "global",
        f"  stats socket {state.haproxy_socket} mode 600 level admin",
        f"  stats socket ipv4@127.0.0.1:{p['haproxy_api']} level admin",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        "  timeout client 30s",
        "  timeout server 30s",
        "frontend metrics",
        f"  bind 127.0.0.1:{p['haproxy_metrics']}",
        "  http-request use-service prometheus-exporter if { path /metrics }",
        "  stats enable",
        "  stats uri /stats",
        *(backend_config(t, frontend_port=p[f"lb_{t}"]) for t in TIERS),
    ]
    return "\n".join(lines) + "\n"


def supervisord_config(state: LabState) -> str:
    root = state.path / "supervisor"
    return "\n".join([
        "[supervisord]", "nodaemon = true", f"logfile = {root / 'supervisord.log'}",
        f"pidfile = {root / 'supervisord.pid'}", f"childlogdir = {root}", "loglevel = info",
        "[inet_http_server]", f"port = 127.0.0.1:{state.ports['supervisord']}",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[include]", f"files = {root / 'programs'}/*.conf",
    ]) + "\n"  # fmt: skip


def rules_text() -> str:
    """The shipped alerting rules (``hx/lab/rules/lab-alerts.yml``)."""
    return (resources.files("hx.lab") / "rules" / "lab-alerts.yml").read_text()


def prometheus_config(state: LabState, scrape_s: float) -> str:
    p = state.ports
    every = f"{scrape_s:g}s"
    jobs = [
        ("haproxy", [f"127.0.0.1:{p['haproxy_metrics']}"]),
        ("node", [f"127.0.0.1:{p['node_exporter']}"]),
        ("hx", [f"127.0.0.1:{p['hx']}"]),
    ]
    lines = [
        "global:", f"  scrape_interval: {every}", f"  evaluation_interval: {every}",
        "rule_files:", f"  - {str(state.path / 'prometheus' / 'lab-alerts.yml')!r}",
        "alerting:", "  alertmanagers:", "    - static_configs:",
        f"        - targets: ['127.0.0.1:{p['alertmanager']}']",
        "scrape_configs:",
    ]  # fmt: skip
    for job, targets in jobs:
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: {json.dumps(targets)}"]
    lines += [
        "  - job_name: instances",
        "    honor_labels: true",  # the service's own service_* labels win; process_* series get the target's
        "    file_sd_configs:",
        f"      - files: [{str(state.path / 'prometheus' / 'instances.json')!r}]",
        f"        refresh_interval: {every}",
    ]
    return "\n".join(lines) + "\n"


def alertmanager_config(state: LabState, token: str) -> str:
    hook = f"{state.url('hx')}/api/v1/alerts/alertmanager"
    return "\n".join([
        "global:", "  resolve_timeout: 1m",
        "route:", "  receiver: hx", "  group_by: ['alertname', 'service', 'instance']",
        "  group_wait: 1s", "  group_interval: 5s", "  repeat_interval: 5m",
        "receivers:", "  - name: hx", "    webhook_configs:", f"      - url: {hook!r}", "        send_resolved: true",
        "        http_config:", "          authorization:", "            type: Bearer",
        f"            credentials: {token!r}",
    ]) + "\n"  # fmt: skip


def fleet_services(state: LabState, opts: LabOptions | None = None) -> dict[str, Any]:
    """``actuator.fleet.services``: the sample service's tiers, each calling the next tier's HAProxy frontend; the
    pool tier's instances with a bounded worker pool and a service time (``LabOptions.workers``, ``service_ms``)."""
    opts = opts or LabOptions()
    out: dict[str, Any] = {}
    for tier in TIERS:
        argv = [sys.executable, "-m", "hx.lab.sample_service", "--tier", tier, "--service", "{service}",
                "--version", "{version}", "--port", "{port}", "--instance", "{instance}",
                "--faults-file", str(state.path / "faults.json")]  # fmt: skip
        if tier in DOWNSTREAM:
            argv += ["--downstream", state.url(f"lb_{DOWNSTREAM[tier]}")]
        if tier == opts.pool_tier:
            argv += ["--workers", str(opts.workers), "--service-ms", f"{opts.service_ms:g}"]
        ports = state.tier_ports[tier]
        out[tier] = {"command": argv, "ports": [ports[0], ports[-1]], "ready_path": "/healthz"}
    return out


def hx_config(state: LabState, opts: LabOptions) -> dict[str, Any]:
    """hx's configuration for the lab: real telemetry (Prometheus presets), the fleet actuator, short intervals."""
    p = state.ports
    every = opts.engine_interval_s
    return {
        "environment": "dev",
        "ai_orchestrator": {
            "canary": {
                "steps": list(opts.canary_steps),
                "analysis_interval_s": opts.analysis_interval_s,
                "history_hours": 0,
            },
        },
        "intelligent_monitoring": {
            "anomaly_detection": {"interval_s": every, "min_history_s": 0, "cooldown_s": 60},
            "scaling": {
                "interval_s": every,
                "mode": "act",
                "max_replicas": opts.max_replicas,
                "min_replicas": 1,
                "prediction_horizon": 120,
                "scale_in_window_s": opts.scale_in_window_s,
                "target_utilization": opts.target_utilization,
            },
        },
        "self_healing": {
            "enabled": True,
            "dry_run": False,
            "verify_timeout_s": 90,
            "triage_delay_s": opts.triage_delay_s,
            "runbook_dirs": [str(resources.files("hx.lab") / "runbooks")],
        },
        "telemetry": {
            "source": "prometheus",
            "step_s": opts.scrape_interval_s * 2,
            "prometheus": {
                "url": state.url("prometheus"),
                "window": "30s",
                "preset": ["http-semconv"],
                "templates": LAB_TEMPLATES,
                # versions and instances from the scrape targets, so a crashed instance is still listed (to restart)
                "discovery": {"series": 'up{job="instances",service_name="{service}"}'},
            },
        },
        "topology": {"edges": {t: [d] for t, d in DOWNSTREAM.items()}},
        "actuator": {
            "kind": "fleet",
            "fleet": {
                "router": {"kind": "haproxy", "socket": f"unix:{state.haproxy_socket}"},
                "manager": {
                    "kind": "supervisor",
                    "url": f"http://127.0.0.1:{p['supervisord']}/RPC2",
                    "include_dir": str(state.path / "supervisor" / "programs"),
                },
                "services": fleet_services(state, opts),
                "ready_timeout_s": 30,
                "drain_timeout_s": 20,
            },
        },
    }


# ---- processes -----------------------------------------------------------------------------------


def spawn(state: LabState, name: str, argv: list[str], *, env: Mapping[str, str] | None = None) -> Component:
    """Start one process in its own session (``hx lab up`` returns; ``down`` stops it by pid)."""
    log = state.path / "logs" / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **(env or {})}, cwd=state.path,
        )  # fmt: skip
    comp = Component(name, proc.pid, log=str(log), argv=argv)
    state.components[name] = comp
    state.save()
    return comp


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _owned(comp: Component) -> bool:
    """The pid still runs the program we started (not a reused pid)."""
    try:
        cmd = Path(f"/proc/{comp.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [w.decode(errors="replace") for w in cmd[:2]]
    return bool(comp.argv) and any(Path(w).name == Path(comp.argv[0]).name for w in words)


def stop(comp: Component, grace_s: float = 20.0) -> bool:
    """SIGTERM, wait, then SIGKILL; True when something was stopped."""
    if not (alive(comp.pid) and _owned(comp)):
        return False
    os.kill(comp.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive(comp.pid) and time.monotonic() < deadline:
        _reap(comp.pid)
        time.sleep(0.1)
    if alive(comp.pid):
        os.killpg(comp.pid, signal.SIGKILL)
        time.sleep(0.2)
    _reap(comp.pid)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_for(what: str, check: Callable[[], bool], timeout: float, comp: Component | None = None) -> None:
    """Poll ``check`` until true; a LabError naming the component (and its log) otherwise."""
    deadline = time.monotonic() + timeout
    while not _safe(check):
        if comp is not None and not alive(comp.pid):
            raise LabError(f"{comp.name} exited during start-up; see {comp.log}", component=comp.name)
        if time.monotonic() > deadline:
            where = f"; see {comp.log}" if comp else ""
            raise LabError(f"timed out after {timeout:g} s waiting for {what}{where}", component=what)
        time.sleep(0.25)


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (OSError, httpx.HTTPError, ValueError):
        return False


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def short_socket_path(root: Path) -> str:
    """A Unix socket path under 108 bytes (the lab directory may be deep)."""
    path = root / "run" / "haproxy.sock"
    if len(str(path)) < 100:
        return str(path)
    return str(Path(tempfile.mkdtemp(prefix="hxlab-", dir="/tmp")) / "haproxy.sock")


# ---- up / status / down --------------------------------------------------------------------------


def lab_root(data_dir: Path, lab_dir: Path | None) -> Path:
    return (lab_dir or data_dir / "lab").expanduser().resolve()


def up(root: Path, opts: LabOptions, log: Callable[[str], None] = print) -> LabState:
    """Start the whole lab; on any failure stop what was started and raise."""
    opts.check()
    if (root / "lab.json").exists() and any(alive(c.pid) for c in LabState.load(root).components.values()):
        raise LabError(f"a lab is already running in {root}; `hx lab down` first", path=str(root))
    for sub in ("logs", "run", "supervisor/programs", "prometheus/data", "alertmanager/data", "hx"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for old in (root / "supervisor" / "programs").glob("*.conf"):
        old.unlink()
    state = LabState(str(root), started_at=time.time())
    state.haproxy_socket = short_socket_path(root)
    choose_ports(state)
    state.settings = hx_config(state, opts)
    state.save()
    try:
        for step in (_haproxy, _supervisord, _instances, _node_exporter, _prometheus, _hx, _alertmanager, _agent):
            step(state, opts, log)
        state.save()
    except BaseException:
        down(root, log=lambda _m: None)
        raise
    return state


def _haproxy(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    cfg = state.path / "haproxy.cfg"
    cfg.write_text(haproxy_config(state))
    comp = spawn(state, "haproxy", [binary("haproxy", "haproxy"), "-f", str(cfg), "-db"])
    comp.port, comp.url = state.ports["haproxy_metrics"], state.url("haproxy_metrics") + "/stats"
    wait_for("haproxy", lambda: Path(state.haproxy_socket).exists(), 15, comp)
    log(f"haproxy        up  api {state.haproxy_socket}, exporter :{comp.port}")


def _supervisord(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    cfg = state.path / "supervisor" / "supervisord.conf"
    cfg.write_text(supervisord_config(state))
    src = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)}
    comp = spawn(state, "supervisord", [binary("supervisord", "supervisor"), "-c", str(cfg), "-n"], env=env)
    comp.port, comp.url = state.ports["supervisord"], state.url("supervisord")
    wait_for("supervisord", http_ok(comp.url + "/"), 15, comp)
    log(f"supervisord    up  :{comp.port}")


def fleet_actuator(state: LabState) -> Any:
    """The fleet actuator hx uses, built from the lab's own settings."""
    from hx.actuate.fleet import FleetActuator
    from hx.config import FleetSettings

    return FleetActuator.from_settings(FleetSettings.model_validate(state.settings["actuator"]["fleet"]))


def _instances(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    act = fleet_actuator(state)
    for tier in reversed(TIERS):
        act.deploy(tier, "v1", opts.instances)
        log(f"{tier:<14} up  {opts.instances} x v1 behind haproxy :{state.ports[f'lb_{tier}']}")
    write_targets(state)


def write_targets(state: LabState) -> int:
    """file_sd targets: every program supervisord holds (a crashed one stays a target, so its ``up`` is 0)."""
    import xmlrpc.client

    from hx.actuate.instances import try_parse

    infos = xmlrpc.client.ServerProxy(state.url("supervisord") + "/RPC2").supervisor.getAllProcessInfo()
    ports = {p: t for t, ps in state.tier_ports.items() for p in ps}
    groups = []
    for info in infos if isinstance(infos, list) else []:
        name = try_parse(str(info.get("name", "")))
        port = _port_of(state, str(info.get("name", "")))
        if name is None or port is None or port not in ports:
            continue
        labels = {"service_name": name.service, "service_version": name.version, "service_instance_id": str(name),
                  "service": name.service, "hx_instance": str(name)}  # fmt: skip
        groups.append({"targets": [f"127.0.0.1:{port}"], "labels": labels})
    out = state.path / "prometheus" / "instances.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups, indent=1))
    tmp.replace(out)
    return len(groups)


def _port_of(state: LabState, program: str) -> int | None:
    conf = state.path / "supervisor" / "programs" / f"{program}.conf"
    try:
        words = conf.read_text().split()
    except OSError:
        return None
    for i, w in enumerate(words[:-1]):
        if w == "--port" and words[i + 1].isdigit():
            return int(words[i + 1])
    return None


def _node_exporter(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    argv = [binary("prometheus-node-exporter", "prometheus-node-exporter"),
            f"--web.listen-address=127.0.0.1:{state.ports['node_exporter']}", "--collector.disable-defaults",
            "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.filesystem"]  # fmt: skip
    comp = spawn(state, "node-exporter", argv)
    comp.port, comp.url = state.ports["node_exporter"], state.url("node_exporter")
    wait_for("node-exporter", http_ok(comp.url + "/metrics"), 15, comp)
    log(f"node-exporter  up  :{comp.port}")


def _prometheus(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    d = state.path / "prometheus"
    (d / "lab-alerts.yml").write_text(rules_text())
    (d / "prometheus.yml").write_text(prometheus_config(state, opts.scrape_interval_s))
    argv = [binary("prometheus", "prometheus"), f"--config.file={d / 'prometheus.yml'}",
            f"--storage.tsdb.path={d / 'data'}", f"--web.listen-address=127.0.0.1:{state.ports['prometheus']}",
            "--storage.tsdb.retention.time=2d", "--rules.alert.resend-delay=2s", "--web.enable-lifecycle"]  # fmt: skip
    comp = spawn(state, "prometheus", argv)
    comp.port, comp.url = state.ports["prometheus"], state.url("prometheus")
    wait_for("prometheus", http_ok(comp.url + "/-/ready"), 30, comp)
    log(f"prometheus     up  {comp.url}")


def _hx(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    if not opts.with_hx:
        return
    import yaml

    cfg = state.path / "hx.yml"
    cfg.write_text(yaml.safe_dump(state.settings, sort_keys=False))
    env = {"HX_HOME": str(state.path / "hx")}
    argv = [sys.executable, "-m", "hx.cli", "--config", str(cfg), "serve", "--port", str(state.ports["hx"])]
    start_hx(state, argv, env)
    log(f"hx serve       up  {state.url('hx')} (token in {state.path / 'hx' / 'admin.token'})")


def start_hx(state: LabState, argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> Component:
    """(Re)start ``hx serve`` with the argv and environment recorded at ``up``."""
    old = state.components.get("hx")
    argv = argv or (old.argv if old else [])
    env = dict(env or {"HX_HOME": str(state.path / "hx")})
    comp = spawn(state, "hx", argv, env=env)
    comp.port, comp.url = state.ports["hx"], state.url("hx")
    wait_for("hx serve", http_ok(comp.url + "/health"), 90, comp)
    state.save()
    return comp


def admin_token(state: LabState) -> str:
    return (state.path / "hx" / "admin.token").read_text().strip()


def _alertmanager(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    d = state.path / "alertmanager"
    token = admin_token(state) if opts.with_hx else "none"
    (d / "alertmanager.yml").write_text(alertmanager_config(state, token))
    os.chmod(d / "alertmanager.yml", 0o600)
    argv = [binary("prometheus-alertmanager", "prometheus-alertmanager"), f"--config.file={d / 'alertmanager.yml'}",
            f"--storage.path={d / 'data'}", f"--web.listen-address=127.0.0.1:{state.ports['alertmanager']}",
            "--cluster.listen-address="]  # fmt: skip
    comp = spawn(state, "alertmanager", argv)
    comp.port, comp.url = state.ports["alertmanager"], state.url("alertmanager")
    wait_for("alertmanager", http_ok(comp.url + "/-/ready"), 30, comp)
    log(f"alertmanager   up  {comp.url} -> hx intake")


def _agent(state: LabState, opts: LabOptions, log: Callable[[str], None]) -> None:
    argv = [
        sys.executable,
        "-m",
        "hx.lab.agent",
        "--lab",
        str(state.path),
        "--port",
        str(state.ports["agent"]),
        "--target",
        state.url("lb_frontend"),
        "--rps",
        f"{opts.rps:g}",
        "--compression",
        f"{opts.compression:g}",
    ]
    if opts.data_dir:
        argv += ["--data-dir", opts.data_dir]
    if not opts.with_load:
        argv += ["--rps", "0.001"]
    comp = spawn(state, "agent", argv)
    comp.port, comp.url = state.ports["agent"], state.url("agent")
    wait_for("the lab agent", http_ok(comp.url + "/stats"), 30, comp)
    log(f"load + targets up  {comp.url}/stats ({opts.rps:g} req/s base, NASA trace x{opts.compression:g})")


def status(root: Path) -> dict[str, Any]:
    """Each component (up or down, port, pid, url) and each tier's instances, from the processes themselves."""
    state = LabState.load(root)
    comps = {}
    for name in ORDER:
        c = state.components.get(name)
        if c is None:
            continue
        comps[name] = {"up": alive(c.pid) and _owned(c), "pid": c.pid, "port": c.port, "url": c.url, "log": c.log}
    out: dict[str, Any] = {"root": str(root), "components": comps, "tiers": {}}
    if comps.get("haproxy", {}).get("up") and comps.get("supervisord", {}).get("up"):
        act = fleet_actuator(state)
        for tier in TIERS:
            try:
                out["tiers"][tier] = act.status(tier)
            except HxError as err:
                out["tiers"][tier] = {"error": str(err)}
    return out


def down(root: Path, log: Callable[[str], None] = print) -> list[str]:
    """Stop every component (supervisord stops the instances); the names of what was stopped."""
    try:
        state = LabState.load(root)
    except LabError:
        return []
    stopped = []
    for name in reversed(ORDER):
        c = state.components.get(name)
        if c is not None and stop(c):
            stopped.append(name)
            log(f"{name:<14} stopped (pid {c.pid})")
    _stop_orphans(state)
    return stopped


def _stop_orphans(state: LabState) -> None:
    """Instances whose supervisord died first (SIGKILL) still hold the tier ports: stop those we started."""
    ports = {str(p) for ps in state.tier_ports.values() for p in ps}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in cmd]
        if "hx.lab.sample_service" in words and "--port" in words:
            i = words.index("--port")
            if i + 1 < len(words) and words[i + 1] in ports:
                os.kill(int(proc.name), signal.SIGKILL)
