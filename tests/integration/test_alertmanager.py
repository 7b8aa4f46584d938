"""Real Prometheus -> real Alertmanager -> hx's webhook intake -> incident, on the simulated fleet's metrics.

The sim is served over HTTP (30x real time), Prometheus scrapes it and evaluates an error-ratio rule,
Alertmanager groups the alert and posts it (Bearer token) to ``POST /api/v1/alerts/alertmanager`` of an
hx API served by uvicorn.  The self-healing engine runs in dry-run mode (its runbook acts on nothing),
stepped by the wait loop, so the incident's life is observable: opened with the alert's labels,
re-sent groups deduplicated, and closed when the fault heals and the alert resolves.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hx.api.app import create_app
from hx.components import Component
from hx.config import load_settings
from hx.heal.component import heal_engine
from hx.heal.engine import HealEngine
from hx.heal.records import AlertRepo, ExecutionRepo
from hx.platform import Platform, build_platform
from hx.security.roles import Role
from hx.sim import Fault, Simulation, make_fleet
from hx.sim.exposition import SimServer, serve
from hx.telemetry.prometheus import PrometheusSource
from tests.integration.servers import AlertmanagerHandle, PrometheusHandle, alertmanager_server, prometheus_server
from tests.support.live import live_server

pytestmark = pytest.mark.integration

ALERT = "HxHighErrorRatio"
SPEED = 30.0  # simulated seconds per wall second
FAULT_SIM_S = 900.0  # 30 wall seconds of error spike
BUDGET_S = 85.0  # every wait of the scenario together (the servers' start-up is bounded by their helpers)
RULES = f"""groups:
  - name: hx-sim
    interval: 1s
    rules:
      - alert: {ALERT}
        expr: >-
          sum by (service) (rate(hx_sim_errors_total[5s]))
          / sum by (service) (rate(hx_sim_requests_total[5s])) > 0.05
        for: 3s
        labels:
          severity: critical
          team: sre
        annotations:
          summary: "error ratio of {{{{ $labels.service }}}} is {{{{ $value | humanizePercentage }}}}"
"""


@dataclass
class Stack:
    platform: Platform
    engine: HealEngine
    sim: SimServer
    prom: PrometheusHandle
    am: AlertmanagerHandle
    url: str
    token: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def step(self) -> None:
        self.engine.step(datetime.now(UTC))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    settings = load_settings(
        environ={"HX_HOME": str(tmp_path / "hx")},
        overrides={"self_healing.dry_run": True, "telemetry.source": "prometheus"},
    ).settings
    sim = Simulation(make_fleet(2, seed=0, step_s=15.0))
    sim.run_until(600.0)  # a little history before serving
    platform = build_platform(settings)
    with ExitStack() as stack:
        stack.callback(platform.store.dispose)
        served = serve(sim, port=0, speed=SPEED, tick_s=0.25)
        stack.callback(served.shutdown)
        engine = heal_engine(platform)
        engine.triage_delay_s = 2.0  # triage while the alert still fires (the fault lasts ~30 s of wall time)
        token, _ = platform.tokens.create("alertmanager", Role.OPERATOR)
        app = create_app(platform, [Component("self-healing", 8085, "", routers=("hx.api.routers.heal:router",))])
        url = stack.enter_context(live_server(app))
        am = stack.enter_context(
            alertmanager_server(tmp_path, f"{url}/api/v1/alerts/alertmanager", bearer_token=token, resolve_timeout="5s")
        )
        rules = tmp_path / "rules.yml"
        rules.write_text(RULES)
        prom = stack.enter_context(
            prometheus_server(
                tmp_path,
                [served.address],
                rules,
                alertmanagers=[am.address],
                extra_args=["--rules.alert.resend-delay=1s"],
            )
        )
        source = PrometheusSource.from_settings(settings.telemetry.prometheus.model_copy(update={"url": prom.url}))
        stack.callback(source.close)
        platform.source = source
        yield Stack(platform, engine, served, prom, am, url, token)


def _wait(what: str, stack: Stack, check: Any, timeout: float) -> Any:
    """Step the engine and poll ``check()`` every 0.3 s until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        stack.step()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.3)


def _incident(c: httpx.Client, service: str) -> dict[str, Any] | None:
    incs = c.get("/api/v1/incidents", params={"service": service}).json()["incidents"]
    return incs[0] if incs else None


def _replay(rows: list[Any]) -> bytes:
    """The webhook body Alertmanager sent for the stored firing alert, rebuilt from what hx stored."""
    row = rows[0]
    alert = {
        "status": "firing", "labels": row.labels, "annotations": row.annotations, "fingerprint": row.fingerprint,
        "startsAt": row.starts_at.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
    }  # fmt: skip
    body = {"version": "4", "groupKey": row.group_key, "status": "firing", "receiver": "hx", "alerts": [alert]}
    return json.dumps(body).encode()


def test_alertmanager_webhook_opens_dedups_and_closes_an_incident(stack: Stack) -> None:
    ok = False
    try:
        _run_scenario(stack)
        ok = True
    finally:
        if not ok:  # the fixture's servers stop cleanly at teardown, so their logs are printed here
            for name, log in (("alertmanager", stack.am.log_path), ("prometheus", stack.prom.log_path)):
                text = log.read_text(errors="replace") if log.exists() else "(no log)"
                print(f"----- {name} log -----\n{text[-15000:]}\n----- end of {name} log -----", file=sys.stderr)


def _run_scenario(stack: Stack) -> None:
    svc = stack.sim.sim.names[0]
    budget = time.monotonic() + BUDGET_S

    def left() -> float:
        return max(1.0, budget - time.monotonic())

    stack.prom.wait_for_targets(timeout=min(20, left()))
    promql = f'count_over_time(hx_sim_requests_total{{service="{svc}"}}[6s]) >= 5'
    stack.prom.wait_for_data(promql, timeout=min(20, left()))
    with stack.sim.lock:
        stack.sim.sim.inject(Fault("error_spike", service=svc, magnitude=0.4, duration_s=FAULT_SIM_S))
    with stack.client() as c:
        inc = _wait("the incident from Alertmanager", stack, lambda: _incident(c, svc), timeout=min(40, left()))
        assert inc["labels"]["alertname"] == ALERT and inc["labels"]["service"] == svc
        assert inc["labels"]["severity"] == "critical" and inc["labels"]["team"] == "sre"
        assert inc["severity"] == "critical" and inc["service"] == svc
        alerts = AlertRepo(stack.platform.store)
        firing = [a for a in alerts.for_incident(inc["id"]) if a.status == "firing"]
        assert len(firing) == 1 and firing[0].source == "alertmanager" and firing[0].group_key
        # The same group re-sent (a retry, a repeat): nothing new is stored.
        for _ in range(2):
            r = c.post("/api/v1/alerts/alertmanager", content=_replay(firing))
            assert r.status_code == 200 and (r.json()["accepted"], r.json()["duplicates"]) == (0, 1), r.text
        # The fault heals by itself (duration); the rule resolves, Alertmanager sends resolved, hx closes.
        done = _wait("the incident to be resolved", stack,
                     lambda: (i := _incident(c, svc)) and i["status"] == "resolved" and i, timeout=left())  # fmt: skip
        detail = c.get(f"/api/v1/incidents/{done['id']}").json()
    rows = alerts.for_incident(done["id"])
    fp = firing[0].fingerprint
    assert sorted(a.status for a in rows if a.fingerprint == fp) == ["firing", "resolved"], [a.status for a in rows]
    resolved_at = next(a.received_at for a in rows if a.status == "resolved")
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[0] == "opened" and "alert_resolved" in kinds and kinds[-1] == "resolved"
    assert kinds.index("classified") < kinds.index("alert_resolved")  # triaged on real Prometheus data
    assert done["classified_by"] in ("model", "rules") and done["features"]["kw_error"] == 1.0
    assert done["resolution"] == "every alert resolved" and done["firing"] == []
    # Resolved alerts never trigger actions: every execution started before the resolved alert arrived.
    execs = ExecutionRepo(stack.platform.store).list(incident_id=done["id"], limit=20)
    assert all(e.created_at <= resolved_at for e in execs)
    assert all(e.dry_run for e in execs)
