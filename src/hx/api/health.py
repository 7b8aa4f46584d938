"""``/health``: overall status plus each dependency (store, signal source, models, engines)."""

from __future__ import annotations

from typing import Any

from hx.errors import HxError
from hx.http import redact_url
from hx.platform import Platform
from hx.telemetry.base import SourceCapability, health_of, supports

#: engine states that do not degrade the report: deciding (ok), or still learning from history (learning)
HEALTHY = ("ok", "learning")


def _check_store(platform: Platform) -> dict[str, Any]:
    try:
        platform.store.ping()
    except HxError as err:
        return {"status": "down", "detail": str(err)}
    return {"status": "ok", "backend": platform.store.dialect, "revision": platform.store.current_revision()}


def _check_source(platform: Platform) -> dict[str, Any]:
    source = platform.source
    if source is None:
        return {"status": "ok", "detail": "no signal source configured for this component"}
    if not supports(source, SourceCapability.HEALTH):
        return {"status": "ok", "kind": type(source).__name__}
    try:
        result = health_of(source).health()
    except HxError as err:
        return {"status": "down", "kind": type(source).__name__, "detail": str(err)}
    return {
        "status": "ok" if result.ok else "down",
        "kind": type(source).__name__,
        "detail": result.detail,
        "latency_s": round(result.latency_s, 3),
    }


def world_of(platform: Platform) -> dict[str, Any]:
    """Which world this process senses (its signal source, the URL redacted) and acts on (its actuator)."""
    settings = platform.settings
    source, actuator = platform.source, platform.actuator
    senses: dict[str, Any] = {"source": settings.telemetry.source, "kind": type(source).__name__ if source else None}
    if settings.telemetry.source == "prometheus":
        senses["url"] = redact_url(settings.telemetry.prometheus.url)
    elif settings.telemetry.source == "replay":
        senses["path"] = settings.telemetry.replay_path
    acts_on = {"actuator": settings.actuator.kind, "kind": type(actuator).__name__ if actuator else None}
    return {"senses": senses, "acts_on": acts_on, "simulated": settings.telemetry.source == "sim"}


def health_report(platform: Platform, component: str, engines: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    checks: dict[str, Any] = {
        "store": _check_store(platform),
        "signal_source": _check_source(platform),
        "models": {name: h.health() for name, h in platform.model_handles.items()},
        "engines": engines,
        "event_handler_errors": platform.bus.handler_errors,
        "events_malformed": platform.bus.malformed,
    }
    for name, fn in platform.health_checks.items():
        checks[name] = fn()
    status = "ok"
    if any(isinstance(v, dict) and v.get("status") == "learning" for v in [*checks.values(), *engines.values()]):
        status = "learning"  # serving, but an engine cannot decide on its own yet (what it waits for is named)
    if checks["signal_source"]["status"] != "ok" or any(e.get("status") not in HEALTHY for e in engines.values()):
        status = "degraded"
    if any(isinstance(v, dict) and v.get("status") == "degraded" for v in checks.values()):
        status = "degraded"
    if checks["store"]["status"] != "ok":
        status = "down"
    body = {
        "status": status,
        "component": component,
        "environment": platform.settings.environment,
        "world": world_of(platform),
        "checks": checks,
    }
    return (503 if status == "down" else 200), body
