"""``hx validate``: is a deployed hx really working?  Every component answers ``/health`` (over TLS where the
environment asks for it), the database is at the newest migration, every engine is stepping, the signal source and
the actuator are real (not the simulator) and reachable, every enabled notifier is built, and the audit chain
verifies.  Each check is one :class:`Check`; the caller prints them and exits 1 if any failed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from hx.components import ALL_IN_ONE_PORT, Component
from hx.config import FleetSettings, Settings
from hx.errors import HxError
from hx.platform import Platform

#: environments whose components must answer over HTTPS
TLS_ENVIRONMENTS = ("staging", "prod")


@dataclass(frozen=True)
class Check:
    """One line of the validation table: what was checked, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Fetch = Callable[[str], httpx.Response]


def http_fetch(ca_file: Path | None, timeout_s: float) -> Fetch:
    """GET with the given CA bundle (a self-signed certificate is its own CA), else the system's."""
    verify: str | bool = str(ca_file) if ca_file else True

    def get(url: str) -> httpx.Response:
        return httpx.get(url, verify=verify, timeout=timeout_s)

    return get


def check_components(
    settings: Settings, comps: Sequence[Component], fetch: Fetch
) -> tuple[list[Check], dict[str, Any]]:
    """``/health`` and engine checks for each component; also returns the health bodies by component."""
    checks: list[Check] = []
    bodies: dict[str, Any] = {}
    need_tls = settings.environment in TLS_ENVIRONMENTS
    shared: dict[str, tuple[dict[str, Any], str]] = {}  # the all-in-one process's /health, read once
    for comp in comps:
        url = settings.server.url_of(comp.name, comp.port)
        body, problem = _health(fetch, url)
        if problem and comp.name not in settings.server.component_urls and settings.server.external_url is None:
            # `hx serve` alone runs every component in one process on ALL_IN_ONE_PORT: look there before failing
            one = settings.server.url_of("all", ALL_IN_ONE_PORT)
            if one != url:
                if one not in shared:
                    shared[one] = _health(fetch, one)
                b, p = shared[one]
                if b.get("component") == "all" and comp.name in b.get("components", []):
                    url, body, problem = one, b, p
        if need_tls and not url.startswith("https://"):
            problem = f"{url}: environment {settings.environment} needs TLS (server.component_urls / tls_cert)"
        checks.append(Check(f"health {comp.name}", problem == "", problem or f"{url}: {body.get('status')}"))
        if body:
            bodies[comp.name] = body
            checks.append(_engines(comp, body))
    return checks, bodies


def _health(fetch: Fetch, url: str) -> tuple[dict[str, Any], str]:
    try:
        r = fetch(url + "/health")
    except httpx.HTTPError as err:
        return {}, f"{url}: {type(err).__name__}: {err}"
    try:
        body: dict[str, Any] = r.json()
    except ValueError:
        return {}, f"{url}: HTTP {r.status_code}, not JSON"
    if r.status_code != 200 or body.get("status") not in ("ok", "learning"):  # learning: serving, history to come
        bad = [
            k
            for k, v in body.get("checks", {}).items()
            if isinstance(v, dict) and v.get("status") not in (None, "ok", "learning")
        ]
        return body, f"{url}: HTTP {r.status_code}, status {body.get('status')} (not ok: {', '.join(bad) or '-'})"
    return body, ""


def _engines(comp: Component, body: dict[str, Any]) -> Check:
    engines: dict[str, Any] = body.get("checks", {}).get("engines", {})
    if not comp.engines:
        return Check(f"engines {comp.name}", True, "none in this component")
    if not engines:
        return Check(f"engines {comp.name}", False, "the component reports no engines (started with --no-engines?)")
    # a standby (another replica or component holds the engine's lease) does not step, by design
    idle = [n for n, e in engines.items() if e.get("status") not in ("ok", "learning")
            or (int(e.get("steps", 0)) < 1 and e.get("role") != "standby")]  # fmt: skip
    seen = ", ".join(
        f"{n}: {e.get('status')} {e.get('role', '')}, {e.get('steps', 0)} steps" for n, e in sorted(engines.items())
    )
    return Check(f"engines {comp.name}", not idle, seen if not idle else f"not stepping: {', '.join(idle)} ({seen})")


def check_database(platform: Platform) -> Check:
    from alembic.script import ScriptDirectory

    from hx.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        current = platform.store.current_revision()
    except HxError as err:
        return Check("database revision", False, f"{platform.store.safe_url}: {err}")
    ok = current == head
    return Check("database revision", ok, f"{platform.store.safe_url} at {current} (newest {head})")


def check_audit(platform: Platform) -> Check:
    result = platform.audit.verify()
    detail = f"{result.records} records" if result.ok else f"broken at record {result.first_broken}: {result.reason}"
    return Check("audit chain", result.ok, detail)


def check_source(settings: Settings, bodies: dict[str, Any]) -> Check:
    kind = settings.telemetry.source
    if kind == "sim":
        return Check("signal source", False, "telemetry.source is sim: the simulator, not a real source")
    seen = [
        b["checks"]["signal_source"] for b in bodies.values() if "kind" in b.get("checks", {}).get("signal_source", {})
    ]
    if not seen:
        return Check("signal source", False, f"{kind}: no component reported it (is anomaly-detector running?)")
    down = [s for s in seen if s.get("status") != "ok"]
    first = (down or seen)[0]
    return Check(
        "signal source", not down, f"{kind} {first.get('kind')}: {first.get('status')} {first.get('detail', '')}"
    )


def check_actuator(settings: Settings, fetch: Fetch) -> Check:
    a = settings.actuator
    if a.kind == "sim":
        return Check("actuator", False, "actuator.kind is sim: actions change the simulator, not your services")
    if a.kind == "fleet" and a.fleet is not None:
        return _check_fleet(a.fleet)
    missing: list[str] = []
    if a.kind == "shell":
        missing = [f"{verb}: {argv[0]} not executable" for verb, argv in a.shell.items() if not _runnable(argv)]
        what = f"shell, {len(a.shell)} verbs"
    elif a.kind == "ansible":
        files = [a.ansible_inventory or "", *a.ansible_playbooks.values()]
        missing = [
            f"{f or 'actuator.ansible_inventory'}: no such file" for f in files if not f or not Path(f).is_file()
        ]
        if shutil.which("ansible-playbook") is None:
            missing.append("ansible-playbook not on PATH")
        what = f"ansible, {len(a.ansible_playbooks)} playbooks"
    else:
        missing = [f"{verb}: {err}" for verb, url in a.http.items() if (err := _unreachable(fetch, url))]
        what = f"http, {len(a.http)} verbs"
    if not (a.shell or a.ansible_playbooks or a.http):
        missing.append(f"actuator.{a.kind}: no verb configured")
    return Check("actuator", not missing, "; ".join(missing) or f"{what}, all reachable")


def _check_fleet(fs: FleetSettings) -> Check:
    from hx.actuate.fleet import FleetActuator

    try:
        problems = FleetActuator.from_settings(fs).probe()
    except HxError as err:
        problems = [str(err)]
    if not fs.services:
        problems.append("actuator.fleet.services: no service configured")
    router = f"haproxy at {fs.router.socket}" if fs.router else "no router (no traffic splits)"
    what = f"fleet: {fs.manager.kind}, {router}, {len(fs.services)} services"
    return Check("actuator", not problems, "; ".join(problems) or f"{what}, all reachable")


def _runnable(argv: list[str]) -> bool:
    return bool(argv) and shutil.which(argv[0]) is not None


def _unreachable(fetch: Fetch, url: str) -> str:
    try:
        fetch(url)
    except httpx.HTTPError as err:
        return f"{url}: {type(err).__name__}"
    return ""


def check_notifiers(settings: Settings, bodies: dict[str, Any]) -> list[Check]:
    n = settings.notifiers
    enabled = [name for name in ("slack", "email", "pagerduty", "webhook") if getattr(n, name).enabled]
    if not enabled:
        return [Check("notifiers", False, "no notifier enabled: nobody hears of an incident (notifiers.*.enabled)")]
    heal = bodies.get("self-healing", {}).get("checks", {}).get("self_healing", {}).get("notifications")
    if heal is None:
        return [Check(f"notifier {name}", False, "self-healing did not report its notifiers") for name in enabled]
    built = set(heal.get("notifiers", []))
    problem = str(heal.get("detail", ""))
    return [
        Check(f"notifier {name}", name in built, "configured" if name in built else (problem or "not built"))
        for name in enabled
    ]
