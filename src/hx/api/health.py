"""``/health``: overall status plus each dependency (store, signal source, models, engines).

The server answers ``/health`` from a :class:`HealthSnapshot` a publisher thread refreshes every
``server.health_refresh_s``: the request path makes no database round-trip, so an alert burst, a slow signal
source or a locked table never delays the answer (the snapshot's age is in it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hx.errors import HxError
from hx.http import redact_url
from hx.platform import Platform
from hx.telemetry.base import SourceCapability, health_of, supports

log = logging.getLogger(__name__)

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


#: a snapshot older than this many refresh periods (and at least STALE_MIN_S) is served as ``degraded``
STALE_PERIODS = 10
STALE_MIN_S = 5.0

Report = tuple[int, dict[str, Any]]


class HealthSnapshot:
    """The ``/health`` report, computed by a publisher thread every ``refresh_s`` and answered from memory.

    The request path makes no database round-trip and takes no lock an engine, the intake or a worker holds: a burst
    of alerts, a slow signal source or a locked table delays the next snapshot, never the answer.  Each answer
    carries the snapshot's age (``snapshot.age_s``); a snapshot older than ``stale_s`` is answered as ``degraded``
    (the publisher is stuck: what it waits for is the finding).  Before the first snapshot (or with no publisher,
    an app served without its lifespan) :meth:`compute` runs on the request, in a worker thread.  A report that
    failed is re-raised to each request until the next one succeeds.
    """

    def __init__(self, compute: Callable[[], Report], refresh_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._compute, self.refresh_s, self._clock = compute, refresh_s, clock
        self.stale_s = max(STALE_MIN_S, STALE_PERIODS * refresh_s)
        self._latest: tuple[float, Report | BaseException] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def compute(self) -> Report:
        """Compute the report now and publish it (or the error it raised, which is re-raised)."""
        try:
            report = self._compute()
        except Exception as err:  # published as the answer of every request until a report succeeds; re-raised
            self._latest = (self._clock(), err)
            raise
        self._latest = (self._clock(), report)
        return report

    def current(self) -> Report | None:
        """The latest report with its age (``degraded`` when stale), or None before the first one."""
        latest = self._latest
        if latest is None:
            return None
        at, got = latest
        if isinstance(got, BaseException):
            raise got
        code, body = got
        age = max(0.0, self._clock() - at)
        snap: dict[str, Any] = {"age_s": round(age, 3), "refresh_s": self.refresh_s, "status": "ok"}
        body = {**body, "snapshot": snap}
        if age > self.stale_s:
            snap.update(status="stale", detail=f"the health report is {age:.0f} s old: its publisher is stuck")
            if body["status"] != "down":
                body["status"] = "degraded"
        return code, body

    def start(self) -> None:
        """Publish a report every ``refresh_s`` in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hx-health-snapshot", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.compute()
            except Exception:  # published (re-raised to requests, which log it with its traceback); retried
                log.debug("health report failed", exc_info=True)
            self._stop.wait(self.refresh_s)
