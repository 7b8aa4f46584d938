"""``hx lab scenario NAME``: inject a fault into the running lab (or start a rollout) and print what hx did.

Every scenario acts only through the real pieces: hx's API (a rollout), the sample service's ``/faults`` switches
and ``--faults-file`` (a slow or failing version), a SIGKILL of an instance's process, the load generator's
``/rate``.  Then hx's event stream is followed until the scenario's outcome event arrives (or the time is up) and
each event is printed as a line, as ``hx demo`` does.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from hx.errors import BadInput, HxError
from hx.lab.fleet_lab import LabError, LabState, admin_token, fleet_actuator

ROLLOUT_TIER = "cart"
BOTTOM_TIER = "inventory"
#: the tier whose instances have a bounded worker pool (``LabOptions.pool_tier``): the one a tripling saturates and
#: hx scales; the bottom tier, so both versions of a rollout of ``cart`` see the same queueing below them
SCALE_TIER = "inventory"
FINAL_DEPLOYMENT = ("deployment.promoted", "deployment.rolled_back", "deployment.failed", "deployment.aborted")


@dataclass
class Outcome:
    """What a scenario did and what hx answered: the events seen, and the figures measured."""

    scenario: str
    started_at: float
    events: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    done: bool = False


class Lab:
    """The running lab as a scenario sees it: hx's API, the agent, supervisord, HAProxy."""

    def __init__(self, state: LabState) -> None:
        self.state = state
        self.hx = httpx.Client(
            base_url=state.url("hx"), headers={"Authorization": f"Bearer {admin_token(state)}"}, timeout=30
        )
        self.actuator = fleet_actuator(state)

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = self.hx.request(method, "/api/v1" + path, **kw)
        if r.status_code >= 400:
            raise LabError(f"hx answered {r.status_code} to {method} {path}: {r.text[:300]}", status=r.status_code)
        return r.json()

    def events(self, after: int) -> tuple[list[dict[str, Any]], int]:
        got = self.api("GET", "/events", params={"after": after, "limit": 1000})
        return list(got["events"]), int(got["cursor"])

    def last_cursor(self) -> int:
        after = 0
        while True:
            evs, cur = self.events(after)
            if len(evs) < 1000:
                return cur
            after = cur

    def instances(self, service: str) -> list[Any]:
        return list(self.actuator.manager.instances(service))

    def versions(self, service: str) -> list[str]:
        return sorted({i.name.version for i in self.instances(service)})

    def pid(self, instance: str) -> int:
        rpc = xmlrpc.client.ServerProxy(self.state.url("supervisord") + "/RPC2")
        info = rpc.supervisor.getProcessInfo(f"{instance}:{instance}")
        return int(info["pid"]) if isinstance(info, dict) else 0

    def set_faults(self, service: str, faults: dict[str, Any]) -> list[str]:
        done = []
        for inst in self.instances(service):
            httpx.post(f"http://127.0.0.1:{inst.port}/faults", json=faults, timeout=5).raise_for_status()
            done.append(str(inst.name))
        return done

    def version_faults(self, version: str, faults: dict[str, Any]) -> None:
        path = self.state.path / "faults.json"
        current = json.loads(path.read_text()) if path.exists() else {}
        current[version] = faults
        path.write_text(json.dumps(current))

    def load(self, multiplier: float, ramp_s: float) -> None:
        url = self.state.url("agent") + "/rate"
        httpx.post(url, json={"multiplier": multiplier, "ramp_s": ramp_s}, timeout=5).raise_for_status()

    def load_stats(self, last_s: int = 60, slo_s: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"last": last_s} | ({"slo": slo_s} if slo_s is not None else {})
        return dict(httpx.get(self.state.url("agent") + "/stats", params=params, timeout=5).json())

    def p95(self, service: str, over_s: int = 0) -> float:
        """The service's p95 latency (seconds) over the last minute, or its highest over the last ``over_s`` seconds
        (1-minute windows every 10 s); NaN when Prometheus has none."""
        q = (
            "histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket"
            f'{{service_name="{service}"}}[1m])))'
        )
        if over_s > 0:
            q = f"max_over_time(({q})[{int(over_s)}s:10s])"
        got = httpx.get(self.state.url("prometheus") + "/api/v1/query", params={"query": q}, timeout=10).json()
        result = got.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else float("nan")

    def server_totals(self, service: str) -> dict[str, int]:
        """Requests each version's servers answered, from HAProxy's own counters (stot)."""
        out: dict[str, int] = {}
        for s in self.actuator.router.servers(service):
            version = s.name.split("--")[1] if s.name.count("--") == 2 else s.name
            out[version] = out.get(version, 0) + s.total
        return out


class ServedCounter:
    """HAProxy's per-server request totals (``stot``) of a backend, sampled every half second in a thread; a server
    deleted meanwhile keeps its last total here (HAProxy forgets a deleted server's counters)."""

    def __init__(self, lab: Lab, backend: str) -> None:
        self.lab, self.backend = lab, backend
        self.start = self._read()
        self.last = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _read(self) -> dict[str, int]:
        return {s.name: s.total for s in self.lab.actuator.router.servers(self.backend)}

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.last.update(self._read())
            except HxError:  # HAProxy gone (the lab is stopping): keep what was read
                return

    def stop(self) -> dict[str, int]:
        """Requests each server answered while sampling."""
        self._stop.set()
        self._thread.join()
        self.last.update(self._read())
        return {name: total - self.start.get(name, 0) for name, total in self.last.items()}


def by_version(served: dict[str, int]) -> dict[str, int]:
    """Per-server counts summed per version (``service--version--index``)."""
    out: dict[str, int] = {}
    for name, n in served.items():
        version = name.split("--")[1] if name.count("--") == 2 else name
        out[version] = out.get(version, 0) + n
    return out


def next_version(versions: list[str]) -> str:
    """``v<n+1>`` after the highest ``v<n>`` running.

    >>> next_version(["v1", "v3"])
    'v4'
    """
    nums = [int(v[1:]) for v in versions if v[1:].isdigit() and v.startswith("v")]
    return f"v{max(nums, default=1) + 1}"


# ---- the scenarios ---------------------------------------------------------------------------------


def start_rollout(lab: Lab, version: str, strategy: str = "canary", *, settle_s: float = 60.0) -> str:
    """POST the rollout; while hx still sees the last rollout's old version (Prometheus drops a retired instance's
    target a few seconds after it stopped), hx answers 409 and this retries."""
    body = {"service": ROLLOUT_TIER, "version": version, "environment": "dev", "strategy": strategy}
    deadline = time.monotonic() + settle_s
    while True:
        try:
            return str(lab.api("POST", "/deployments", json=body)["id"])
        except LabError as err:
            if "several versions" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(2.0)


def good_rollout(lab: Lab, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    version = next_version(lab.versions(ROLLOUT_TIER))
    lab.version_faults(version, {})
    out.figures.update(version=version, deployment=start_rollout(lab, version))
    return lambda e: e["type"] in FINAL_DEPLOYMENT


def bad_rollout(lab: Lab, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    version = next_version(lab.versions(ROLLOUT_TIER))
    # at least doubles p95: the latency added is the highest p95 of the last 10 minutes (the tier's latency follows
    # the replayed load through its downstream pool, so the p95 of one minute can be half that of the next few)
    p95, recent = lab.p95(ROLLOUT_TIER), lab.p95(ROLLOUT_TIER, over_s=600)
    top = max((x for x in (p95, recent) if x == x and math.isfinite(x)), default=float("nan"))
    added_ms = max(5.0, 1000.0 * top) if top == top else 20.0  # NaN: no baseline yet
    lab.version_faults(version, {"latency_ms": round(added_ms, 1)})
    out.figures.update(version=version, baseline_p95_s=p95, baseline_p95_max_10m_s=recent, added_latency_ms=added_ms)
    out.figures["totals_before"] = lab.server_totals(ROLLOUT_TIER)
    out.figures["deployment"] = start_rollout(lab, version)
    return lambda e: e["type"] in FINAL_DEPLOYMENT


def kill_instance(lab: Lab, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    victim = str(sorted(lab.instances(ROLLOUT_TIER), key=lambda i: str(i.name))[-1].name)
    pid = lab.pid(victim)
    os.kill(pid, signal.SIGKILL)
    out.figures.update(instance=victim, pid=pid, killed_at=time.time())
    return incident_closed(ROLLOUT_TIER)


def incident_closed(service: str) -> Callable[[dict[str, Any]], bool]:
    """True at the resolution of an incident about ``service`` opened after the scenario started."""
    opened: set[int] = set()

    def check(e: dict[str, Any]) -> bool:
        d = e.get("data") or {}
        if e["type"] == "incident.opened" and e.get("subject") == service:
            opened.add(int(d.get("incident", -1)))
        return e["type"] == "incident.resolved" and int(d.get("incident", -1)) in opened

    return check


def traffic_triple(lab: Lab, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    before = {t: len(lab.instances(t)) for t in (ROLLOUT_TIER, BOTTOM_TIER, "frontend")}
    lab.load(3.0, 180.0)
    out.figures.update(instances_before=before, multiplier=3.0, ramp_s=180.0)
    # the tier with a bounded capacity (the lab's pool tier) is the one the tripling saturates
    return lambda e: e["type"] == "scaling.acted" and e.get("subject") == SCALE_TIER and _scaled_out(e)


def _scaled_out(e: dict[str, Any]) -> bool:
    data = e.get("data") or {}
    return bool(data.get("ok") and int(data.get("after", 0)) > int(data.get("before", 0)))


def error_burst(lab: Lab, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    hit = lab.set_faults(BOTTOM_TIER, {"error_rate": 0.3})
    out.figures.update(instances=hit, error_rate=0.3, injected_at=time.time())
    return grouped(BOTTOM_TIER, out)


def grouped(service: str, out: Outcome) -> Callable[[dict[str, Any]], bool]:
    """True once one incident holds alerts of ``service`` and of at least one other service (its callers, joined
    through the call graph); ``out.figures["incidents"]`` maps each incident to its alerting services.  An alert may
    join an incident that was open before the burst (a neighbour's): its ``incident.updated`` counts too, and an
    incident merged into another (``merged``: an alert linked them) brings its services along."""
    seen: dict[int, set[str]] = {}
    out.figures["incidents"] = seen

    def check(e: dict[str, Any]) -> bool:
        d = e.get("data") or {}
        if e["type"] == "incident.opened":
            seen.setdefault(int(d["incident"]), set()).add(str((d.get("labels") or {}).get("service") or e["subject"]))
        elif e["type"] == "incident.updated" and d.get("merged") is not None:
            seen.setdefault(int(d["incident"]), {str(e["subject"])}).update(seen.pop(int(d["merged"]), set()))
        elif e["type"] == "incident.updated" and d.get("alert_service"):
            seen.setdefault(int(d["incident"]), {str(e["subject"])}).add(str(d["alert_service"]))
        return any(service in s and len(s) > 1 for s in seen.values())

    return check


SCENARIOS: dict[str, Callable[[Lab, Outcome], Callable[[dict[str, Any]], bool]]] = {
    "good-rollout": good_rollout,
    "bad-rollout": bad_rollout,
    "kill-instance": kill_instance,
    "traffic-triple": traffic_triple,
    "error-burst": error_burst,
}


def run(state: LabState, name: str, *, timeout_s: float = 600.0, say: Callable[[str], None] = print) -> Outcome:
    """Inject scenario ``name`` and follow hx's events until its outcome (or ``timeout_s``)."""
    if name not in SCENARIOS:
        raise BadInput(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}", field="scenario")
    lab = Lab(state)
    cursor = lab.last_cursor()
    out = Outcome(name, time.time())
    finished = SCENARIOS[name](lab, out)
    say(f"{name}: " + ", ".join(f"{k}={v}" for k, v in out.figures.items()))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not out.done:
        evs, cursor = lab.events(cursor)
        for e in evs:
            out.events.append(e)
            say(line(e, out.started_at))
            out.done = out.done or finished(e)
        time.sleep(1.0)
    if name == "bad-rollout":
        out.figures["totals_after"] = lab.server_totals(ROLLOUT_TIER)
    return out


def line(e: dict[str, Any], t0: float) -> str:
    """One event as a line: seconds since the scenario started, type, subject, what it says."""
    at = datetime.fromisoformat(str(e.get("ts") or datetime.now(UTC).isoformat()))
    return f"  +{at.timestamp() - t0:6.1f}s  {e.get('type', '?'):<24} {e.get('subject', ''):<10} {summary(e)[:110]}"


def summary(e: dict[str, Any]) -> str:
    """The few fields of an event's data that say what happened."""
    d = e.get("data") or {}
    kind = str(e.get("type", ""))
    if kind == "deployment.step":
        step = d.get("step") or {}
        rest = {k: v for k, v in step.items() if k != "kind"}
        return f"{step.get('kind')} {json.dumps(rest, separators=(',', ':'))}"
    if kind == "deployment.analysis":
        return f"{d.get('status')} score {d.get('score')} ({d.get('canary')} vs {d.get('baseline')})"
    if kind.startswith("incident."):
        parts = [
            f"#{d.get('incident')}",
            str(d.get("class") or ""),
            str(d.get("alert") or ""),
            str(d.get("reason") or ""),
        ]
        if d.get("mttr_s") is not None:
            parts.append(f"mttr {float(d['mttr_s']):.0f}s")
        return " ".join(p for p in parts if p)
    if kind.startswith("scaling."):
        return (
            f"{d.get('current_replicas', d.get('before'))} -> {d.get('replicas', d.get('after'))} {d.get('reason', '')}"
        )
    return str(d.get("reason") or d.get("summary") or d.get("signal") or "")


def slo_breaches(rows: list[dict[str, Any]], window_s: int = 1) -> list[int]:
    """The seconds (of the load generator's ``/stats?slo=S`` rows) at which the p95 over the trailing ``window_s``
    seconds exceeds the SLO: more than 5 % of the requests answered in the window were slower than it (a failed
    request counts as slower).  ``window_s=1``: each second on its own."""
    out = []
    for i, row in enumerate(rows):
        span = [r for r in rows[max(0, i - window_s + 1) : i + 1] if r["t"] > row["t"] - window_s]
        answered = sum(r["ok"] + r["failed"] for r in span)
        slow = sum(int(r.get("over_slo", 0)) + r["failed"] for r in span)
        if answered and slow > 0.05 * answered:
            out.append(int(row["t"]))
    return out
