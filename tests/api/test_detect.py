from __future__ import annotations

import numpy as np

from tests.api.conftest import Api


def test_score_endpoint_flags_a_spike_and_rejects_bad_rows(api: Api) -> None:
    values = list(np.sin(np.arange(600) / 20.0))
    values[500] = 25.0
    body = {"timestamps": [1_700_000_000 + 60 * i for i in range(600)], "values": values, "detector": "robust"}
    with api.client("viewer") as c:
        r = c.post("/api/v1/anomaly/score", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert 500 in out["anomalies"] and len(out["scores"]) == 600
        bad = dict(body, values=[*values[:10], "abc", *values[11:]])
        r = c.post("/api/v1/anomaly/score", json=bad)
        assert r.status_code == 422 and "row" in r.json()["detail"]
        r = c.post("/api/v1/anomaly/score", json=dict(body, detector="nope"))
        assert r.status_code == 422 and "valid" in r.json()["detail"]
        r = c.post("/api/v1/anomaly/score", json=dict(body, timestamps=body["timestamps"][::-1]))
        assert r.status_code == 422
        assert c.get("/api/v1/anomalies").json() == {"anomalies": []}
        assert "ensemble" in c.get("/api/v1/anomaly/config").json()["available"]


def test_parameters_a_detector_does_not_take_are_a_4xx_naming_it(api: Api) -> None:
    body = {"timestamps": [1_700_000_000 + 60 * i for i in range(50)], "values": [1.0] * 50, "detector": "ensemble"}
    with api.client("viewer") as c:
        for params in ({"threshold": 0.5}, {"no_such_option": 1}):
            r = c.post("/api/v1/anomaly/score", json=dict(body, params=params))
            assert 400 <= r.status_code < 500 and "ensemble" in r.json()["detail"], r.text
