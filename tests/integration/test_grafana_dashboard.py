"""Every PromQL expression of deploy/grafana/hx-dashboard.json returns data from a real Prometheus scraping a real
`hx serve` (a subprocess on the simulated fleet, with a rollout, an incident, a trained model and a labelled
anomaly); the annotation URLs of the dashboard are served by hx in the shape the Infinity data source reads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from hx.config import load_settings
from hx.deploy.learner import StrategyLearner
from hx.deploy.risk import FEATURES
from hx.events import AnomalyDetected
from hx.platform import build_platform
from tests.integration.servers import prometheus_server
from tests.integration.test_serve import FAST_SIM, hx_serve
from tests.support.net import free_port

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "hx-dashboard.json"
FAST = {**FAST_SIM, "HX_INTELLIGENT_MONITORING__SCALING__INTERVAL_S": "2",
        "HX_INTELLIGENT_MONITORING__ANOMALY_DETECTION__INTERVAL_S": "2"}  # fmt: skip


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if t.get("expr")]


def _seed(home: Path, url: str, h: dict[str, str]) -> None:
    """A rollout (canary scores), an incident, a model version and a labelled anomaly, the ways hx records them."""
    body = {"service": "frontend", "version": "v2", "environment": "dev", "strategy": "canary"}
    r = httpx.post(f"{url}/api/v1/deployments", headers=h, timeout=30, json=body)
    assert r.status_code == 201, r.text
    alert = {"name": "HighLatency", "service": "frontend", "severity": "warning", "starts_at": "2026-01-01T00:00:00Z"}
    assert httpx.post(f"{url}/api/v1/alerts", headers=h, json={"alerts": [alert]}).status_code == 202
    p = build_platform(load_settings(environ={"HX_HOME": str(home)}).settings)  # the same store, another process
    try:
        x = np.random.default_rng(0).random((40, len(FEATURES)))
        model = StrategyLearner().fit(x, ["canary" if v > 0.5 else "rolling" for v in x[:, 0]], seed=0)
        mv = p.models.save("deploy-strategy", model, metrics={"holdout_accuracy": 0.9}, data_fingerprint="seed",
                           training_data="history")  # fmt: skip
        p.models.set_stage("deploy-strategy", mv.version, "shadow")
        a = AnomalyDetected(anomaly_id="seeded1", service="frontend", signal="latency_p95", score=0.95, threshold=0.8,
                            observed=1.0, expected_low=0.1, expected_high=0.3, detectors=["robust"], components={},
                            at=p.clock.now())  # fmt: skip
        p.bus.publish(a, source="anomaly-detector", subject="frontend")
    finally:
        p.store.dispose()
    r = httpx.post(f"{url}/api/v1/anomalies/seeded1/label", headers=h, json={"verdict": "true_positive"})
    assert r.status_code == 200, r.text


def _annotation_urls(dashboard: dict[str, Any]) -> list[str]:
    return [a["target"]["url"] for a in dashboard["annotations"]["list"] if "target" in a]


def test_every_dashboard_expression_returns_data(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = expressions(dashboard)
    assert len(exprs) >= 10
    home, port = tmp_path / "hx", free_port()
    url = f"http://127.0.0.1:{port}"
    with hx_serve(home, [], port, FAST):
        h = {"Authorization": f"Bearer {(home / 'admin.token').read_text().strip()}"}
        _seed(home, url, h)
        with prometheus_server(tmp_path, [f"127.0.0.1:{port}"], honor_labels=False) as prom:
            prom.wait_for_targets(60)
            missing = _wait_for_all(prom.url, exprs, timeout=150)
            assert missing == [], f"no data for: {missing}"
            now_ms = int(time.time() * 1000)
            for raw in _annotation_urls(dashboard):
                path = re.sub(r"\$\{__from\}", str(now_ms - 86400_000 * 400), raw)
                path = re.sub(r"\$\{__to\}", str(now_ms + 86400_000 * 400), path)
                got = httpx.get(f"{url}{path}", headers=h, timeout=30)
                assert got.status_code == 200, got.text
                rows = got.json()
                assert rows and {"time", "title", "text", "tags"} <= set(rows[0]), (raw, rows)


def _wait_for_all(prom: str, exprs: list[str], timeout: float) -> list[str]:
    pending = list(exprs)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for e in list(pending):
            r = httpx.get(f"{prom}/api/v1/query", params={"query": e}, timeout=10).json()
            assert r["status"] == "success", (e, r)
            if r["data"]["result"]:
                pending.remove(e)
        time.sleep(1.0)
    return pending
