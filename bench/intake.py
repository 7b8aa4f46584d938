"""Alert intake benchmark: a burst of Alertmanager webhooks into a real ``hx serve``, on SQLite and PostgreSQL.

For each backend the bench starts ``hx serve --component self-healing`` (a subprocess, on a free loopback port; for
PostgreSQL a throwaway server started like the test fixture, :mod:`tests.support.postgres`), then:

1. ``/health`` latency at rest (one probe every 20 ms for 3 s);
2. an alert burst: ``--clients`` threads post Alertmanager groups of ``--group`` new alerts each until ``--alerts``
   were sent, while ``/health`` is probed every 20 ms: alerts/s accepted, and ``/health`` p50/p99/max during the burst;
3. processing, in this process against the same database: every stored alert turned into incident changes by the
   self-healing engine's :class:`~hx.heal.incidents.IncidentManager` in its batches (``--services`` services x 4
   alerts, firing then resolved): alerts/s processed and incidents/s opened.

Targets (issue 21): ``/health`` p99 under 100 ms during the burst; processing far faster than the 38 alerts/s seen
before.  The numbers are printed as a table beside the targets and written to ``bench/results/intake.json``.
This is a benchmark, not a timed test.

Run: .venv/bin/python bench/intake.py [--quick] [--backends sqlite,postgresql] [--src PATH]
(``--src`` measures another checkout's ``src``, e.g. the code before a change.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as pyplatform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "intake.json"
HEALTH_P99_TARGET_MS = 100.0
BEFORE_PROCESSING_AS = 38.0  # alerts/s turned into incidents before (issue 21, item 8)
ALERT_NAMES = ("HighErrorRate", "HighLatency", "PodRestarts", "SaturationHigh")


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller burst (a smoke run)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--alerts", type=int, default=20000, help="alerts in the burst")
    ap.add_argument("--group", type=int, default=100, help="alerts per webhook")
    ap.add_argument("--clients", type=int, default=8, help="concurrent senders")
    ap.add_argument("--services", type=int, default=500, help="services in the processing phase (4 alerts each)")
    ap.add_argument("--src", default=str(ROOT / "src"), help="the hx source tree to measure")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--update", action="store_true", help="replace only the backends run in an existing --out file")
    a = ap.parse_args()
    if a.quick:
        a.alerts, a.services = 2000, 100
    return a


ARGS = _args()
sys.path.insert(0, ARGS.src)
sys.path.insert(1, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from hx.clock import SimClock  # noqa: E402
from hx.config import load_settings  # noqa: E402
from hx.heal.incidents import IncidentManager  # noqa: E402
from hx.heal.intake import AlertIntake, alertmanager_rows, parse_alertmanager  # noqa: E402
from hx.heal.records import AlertRepo, IncidentRepo  # noqa: E402
from hx.platform import build_platform  # noqa: E402
from tests.support.net import free_port, wait_http  # noqa: E402
from tests.support.postgres import create_database, postgres_server  # noqa: E402

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def am_group(key: str, alerts: list[tuple[str, str]], status: str = "firing") -> bytes:
    """An Alertmanager webhook body with ``(service, alertname)`` alerts."""
    body = [
        {"status": status, "labels": {"alertname": name, "service": svc, "severity": "error"}, "annotations": {},
         "startsAt": "2026-03-03T09:58:00Z",
         "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-03T10:30:00Z",
         "fingerprint": f"{svc}-{name}"}
        for svc, name in alerts
    ]  # fmt: skip
    return json.dumps({"version": "4", "groupKey": key, "status": status, "alerts": body}).encode()


@contextmanager
def serve(url: str | None, home: Path) -> Iterator[tuple[str, str]]:
    """``hx serve --component self-healing`` on a free port; yields (base URL, admin token)."""
    port = free_port()
    env = {**os.environ, "HX_HOME": str(home), "PYTHONPATH": ARGS.src, "HX_SIM__SERVICES": "3"}
    if url:
        env["HX_DATABASE_URL"] = url
    log = (home.parent / f"serve-{port}.log").open("ab")
    cmd = [sys.executable, "-m", "hx.cli", "serve", "--component", "self-healing", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/health", timeout=300)
        except TimeoutError:
            print((home.parent / f"serve-{port}.log").read_text()[-5000:], file=sys.stderr)
            raise
        yield f"http://127.0.0.1:{port}", (home / "admin.token").read_text().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class HealthProbe:
    """Probes ``/health`` every ``every_s`` seconds from a process of its own and keeps the latencies (ms).

    Its own process: the senders' threads in this one hold the interpreter lock for their JSON and HTTP work, and a
    probe thread beside them would time its own wait for that lock as the server's latency."""

    def __init__(self, base: str, every_s: float = 0.02) -> None:
        ctx = multiprocessing.get_context("fork")  # started before the sender threads: a fork of one thread
        self.stop = ctx.Event()
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_probe, args=(base, every_s, self.stop, child), daemon=True)
        self.ms: list[float] = []

    def start(self) -> None:
        self._proc.start()

    def join(self) -> None:
        self.ms = self._conn.recv()
        self._proc.join(timeout=30)


def _probe(base: str, every_s: float, stop: Any, out: Any) -> None:
    ms: list[float] = []
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            client.get(f"{base}/health")
            ms.append((time.perf_counter() - t0) * 1000)
            stop.wait(every_s)
    out.send(ms)


def quantiles(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)

    def at(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"n": len(s), "p50_ms": round(at(0.5), 1), "p99_ms": round(at(0.99), 1), "max_ms": round(s[-1], 1)}


def at_rest(base: str, seconds: float = 3.0) -> dict[str, float]:
    probe = HealthProbe(base)
    probe.start()
    time.sleep(seconds)
    probe.stop.set()
    probe.join()
    return quantiles(probe.ms)


def burst(base: str, token: str) -> dict[str, Any]:
    """``--clients`` senders post ``--alerts`` new alerts in groups; ``/health`` is probed meanwhile."""
    groups = [[(f"burst-{g}-{k}", "BurstAlert") for k in range(ARGS.group)] for g in range(ARGS.alerts // ARGS.group)]
    lock, accepted, errors = threading.Lock(), [0], [0]

    def sender(mine: list[list[tuple[str, str]]]) -> None:
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            for i, alerts in enumerate(mine):
                r = client.post(f"{base}/api/v1/alerts/alertmanager", content=am_group(f"b{id(mine)}-{i}", alerts),
                                headers={"Content-Type": "application/json"})  # fmt: skip
                with lock:
                    if r.status_code == 200:
                        accepted[0] += int(r.json()["accepted"])
                    else:
                        errors[0] += 1

    probe = HealthProbe(base)
    probe.start()
    threads = [threading.Thread(target=sender, args=(groups[c :: ARGS.clients],)) for c in range(ARGS.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    probe.stop.set()
    probe.join()
    return {"alerts": ARGS.alerts, "accepted": accepted[0], "errors": errors[0], "seconds": round(took, 2),
            "alerts_per_s": round(accepted[0] / took, 1), "health": quantiles(probe.ms)}  # fmt: skip


def processing(url: str | None, home: Path) -> dict[str, Any]:
    """Turn ``--services`` x 4 stored alerts (firing, then resolved) into incidents in this process."""
    overrides: dict[str, Any] = {"telemetry.source": "prometheus", "telemetry.prometheus.url": "http://127.0.0.1:9",
                                 "actuator.kind": "http"}  # fmt: skip
    if url:
        overrides["storage.database_url"] = url
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides=overrides).settings
    platform = build_platform(settings, clock=SimClock(NOW))
    try:
        manager, intake = IncidentManager(platform), AlertIntake(AlertRepo(platform.store), "dev")
        out: dict[str, Any] = {"services": ARGS.services}
        for status, at in (("firing", NOW), ("resolved", NOW + timedelta(seconds=60))):
            for name in ALERT_NAMES:
                alerts = [(f"svc-{s:04d}", name) for s in range(ARGS.services)]
                for i in range(0, len(alerts), 1000):
                    p = parse_alertmanager(am_group(f"{name}-{i}", alerts[i : i + 1000], status))
                    intake.accept(alertmanager_rows(p, at, "dev"))
            t0, n = time.perf_counter(), 0
            while batch := len(AlertRepo(platform.store).unprocessed(500)):
                manager.process_pending(at)
                n += batch
            took = time.perf_counter() - t0
            out[status] = {"alerts": n, "seconds": round(took, 2), "alerts_per_s": round(n / took, 1)}
        out["incidents"] = len(IncidentRepo(platform.store).list(limit=10 * ARGS.services))
        out["incidents_per_s"] = round(out["incidents"] / out["firing"]["seconds"], 1)
        return out
    finally:
        platform.close()


def run_backend(name: str, stack: ExitStack, tmp: Path) -> dict[str, Any]:
    url = purl = None
    if name == "postgresql":
        server = stack.enter_context(postgres_server())
        url, purl = (create_database(server, f"hx_{uuid.uuid4().hex[:12]}") for _ in range(2))
    with serve(url, tmp / f"{name}-serve") as (base, token):
        rest = at_rest(base)
        load = {"before_burst": [round(x, 2) for x in os.getloadavg()]}
        storm = burst(base, token)
        load["after_burst"] = [round(x, 2) for x in os.getloadavg()]
    return {"health_at_rest": rest, "burst": storm, "processing": processing(purl, tmp / f"{name}-process"),
            "load_average_1_5_15_min": load}  # fmt: skip


def table(results: dict[str, Any]) -> Table:
    t = Table(title="alert intake (issue 21, item 8)")
    for col in ("backend", "measure", "value", "target"):
        t.add_column(col)
    for name, r in results["backends"].items():
        b, p = r["burst"], r["processing"]
        t.add_row(name, "intake, alerts/s accepted", f"{b['alerts_per_s']:.0f}", "")
        t.add_row(name, "/health p99 at rest", f"{r['health_at_rest']['p99_ms']:.1f} ms", "")
        ok = "ok" if b["health"]["p99_ms"] < HEALTH_P99_TARGET_MS else "MISSED"
        t.add_row(name, "/health p99 during the burst", f"{b['health']['p99_ms']:.1f} ms",
                  f"< {HEALTH_P99_TARGET_MS:.0f} ms ({ok})")  # fmt: skip
        t.add_row(name, "processing, alerts/s (firing)", f"{p['firing']['alerts_per_s']:.0f}",
                  f">> {BEFORE_PROCESSING_AS:.0f} (before)")  # fmt: skip
        t.add_row(name, "processing, alerts/s (resolved)", f"{p['resolved']['alerts_per_s']:.0f}", "")
        t.add_row(name, "incidents/s opened", f"{p['incidents_per_s']:.0f}", f"{p['incidents']} incidents")
    return t


def main() -> None:
    results: dict[str, Any] = {
        "bench": "intake", "when": datetime.now(UTC).isoformat(timespec="seconds"), "src": ARGS.src,
        "machine": {"python": pyplatform.python_version(), "cpus": os.cpu_count()},
        "config": {k: getattr(ARGS, k) for k in ("alerts", "group", "clients", "services")},
        "targets": {"health_p99_ms": HEALTH_P99_TARGET_MS, "processing_before_alerts_per_s": BEFORE_PROCESSING_AS},
        "backends": {},
    }  # fmt: skip
    if ARGS.update and Path(ARGS.out).exists():
        results["backends"] = json.loads(Path(ARGS.out).read_text())["backends"]
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="hx-bench-intake-") as tmp:
        for name in ARGS.backends.split(","):
            results["backends"][name] = run_backend(name, stack, Path(tmp))
            Console().print(f"{name}: {json.dumps(results['backends'][name])}")
    Console().print(table(results))
    Path(ARGS.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ARGS.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {ARGS.out}")


if __name__ == "__main__":
    main()
