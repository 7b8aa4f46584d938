from __future__ import annotations

import numpy as np

from tests.api.conftest import Api


def test_rightsize_endpoint(api: Api) -> None:
    t = np.arange(0, 3 * 86400.0, 300.0)
    cpu = 0.5 + 0.2 * np.sin(2 * np.pi * t / 86400)
    body = {
        "workloads": [
            {
                "name": "api",
                "timestamps": t.tolist(),
                "cpu": cpu.tolist(),
                "memory_gib": [1.0] * t.size,
                "current_cpu": 4,
                "current_memory_gib": 8,
            }
        ]
    }
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json=body)
        assert r.status_code == 200, r.text
        rec = r.json()["recommendations"][0]
        assert 0.7 <= rec["cpu"] < 4 and rec["monthly_saving_usd"] > 0
        bad = {"workloads": [{**body["workloads"][0], "cpu": [1.0] * 10}]}
        r = c.post("/api/v1/cost/rightsize", json=bad)
        assert r.status_code == 422 and "workloads.0.cpu" in r.json()["field"]
    with api.client("viewer") as c:
        assert c.post("/api/v1/cost/rightsize", json=body).status_code == 403
        r = c.get("/api/v1/cost/rightsizing")
        assert r.status_code == 422  # this platform has no signal source


def test_rightsize_refuses_negative_usage_naming_the_sample(api: Api) -> None:
    usage = {"name": "api", "timestamps": [300.0 * i for i in range(12)], "memory_gib": [1.0] * 12}
    with api.client("operator") as c:
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [{**usage, "cpu": [0.5] * 11 + [-0.5]}]})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "workloads.0.cpu.11"
        r = c.post("/api/v1/cost/rightsize", json={"workloads": [{**usage, "cpu": [0.5] * 6 + [None] * 6}]})
        assert r.status_code == 200, r.text  # null is a gap
