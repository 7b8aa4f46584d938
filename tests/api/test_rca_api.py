"""``POST /api/v1/rca``: a real incident sent as JSON ranks as ``hx rca --json`` does on the same files; bad input
is 4xx problem+json naming the field; a viewer may call it, no token may not."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hx.cli.main import main
from hx.heal import rca_report
from hx.heal.rca_input import split_column
from hx.readers_rca import MetricFrame, read_graph, read_metrics
from tests.api.conftest import Api

PROBLEM = "application/problem+json"
RCA = "/api/v1/rca"


def _case(*parts: str) -> Path:
    env = os.environ.get("HX_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    case = root.joinpath("rca", *parts)
    if not case.exists():
        pytest.skip(f"RCA data not found at {case} (set HX_DATA_DIR)")
    return case


def _values(v: np.ndarray) -> list[float | None]:
    return [float(x) if np.isfinite(x) else None for x in v]


def _nested(frame: MetricFrame) -> dict[str, dict[str, list[float | None]]]:
    """The frame as the API's {service: {metric: values}}, split as ``hx rca`` splits a wide file's columns."""
    out: dict[str, dict[str, list[float | None]]] = {}
    for column, v in frame.flat.items():
        svc, metric = split_column(column)
        out.setdefault(svc, {})[metric] = _values(v)
    for svc, metrics in frame.nested.items():
        for metric, v in metrics.items():
            out.setdefault(svc, {})[metric] = _values(v)
    return out


def _cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    code = main(["--json", "rca", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _problem(r: Any, status: int, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["field"] == field, body
    return body


def test_a_sock_shop_case_as_json_ranks_as_hx_rca_json_does(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path / "cli"))
    case = _case("rcd-sock-shop", "sock-shop-data", "carts-cpu", "1")
    anomalous, normal = read_metrics([case / "anomalous.csv"]), read_metrics([case / "normal.csv"])
    body = {
        "timestamps": [float(t) for t in anomalous.timestamps],
        "metrics": _nested(anomalous),
        "normal": {"timestamps": [float(t) for t in normal.timestamps], "metrics": _nested(normal)},
    }
    cli = _cli_json([str(case / "anomalous.csv"), "--normal", str(case / "normal.csv")], capsys)
    with api.client("viewer") as c:
        r = c.post(RCA, json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["candidates"][0]["service"] == cli["candidates"][0]["service"] == "carts"
    assert doc == cli
    assert doc["candidates"][0]["evidence"][0]["deviation_robust_sd"] > 3
    in_us = {**body, "timestamps": [float(t) * 1e6 for t in anomalous.timestamps]}  # microseconds, read from their size
    with api.client("viewer") as c:
        r = c.post(RCA, json=in_us)
    assert r.status_code == 200, r.text
    assert r.json() == doc


def test_a_nezha_case_with_its_graph_and_alert_ranks_as_hx_rca_json_does(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path / "cli"))
    folder = _case("nezha-ob", "2022-08-22", "metric")
    pods = sorted(folder.glob("*_metric.csv"))
    deps = folder / "dependency.csv"
    # fault ob-03: frontend cpu_consumed at 04:10:20, the previous one at 04:02:07 (it lasts 3 minutes)
    start, end, alert = 1661141170.0, 1661141660.0, "2022-08-22T04:10:20Z"
    window = ["--start", repr(start), "--end", repr(end), "--alert-time", alert, "--alert-service", "frontend"]
    cli = _cli_json([*map(str, pods), "--graph", str(deps), *window], capsys)
    frame = read_metrics(pods).clip(start, end)
    body = {
        "timestamps": [float(t) for t in frame.timestamps],
        "metrics": _nested(frame),
        "graph": read_graph(deps),
        "alert_time": alert,
        "alert_service": "frontend",
    }
    with api.client("viewer") as c:
        r = c.post(RCA, json=body)
        top = c.post(RCA, json={**body, "top": 2})
    assert r.status_code == 200, r.text
    assert cli["candidates"], "the window should hold an incident"
    assert r.json() == cli
    assert top.json()["candidates"] == cli["candidates"][:2]


def _small() -> dict[str, Any]:
    t = [1_700_000_000.0 + 60 * i for i in range(40)]
    db = [1.0 + 0.01 * (i % 3) for i in range(20)] + [9.0] * 20
    api = [1.0 + 0.01 * (i % 2) for i in range(40)]
    return {"timestamps": t, "metrics": {"db": {"latency": db}, "api": {"latency": api}}, "graph": {"api": ["db"]}}


def test_bad_inputs_are_problems_naming_the_field(api: Api) -> None:
    ok = _small()
    with api.client("viewer") as c:
        assert c.post(RCA, json=ok).json()["candidates"][0]["service"] == "db"
        short = {**ok, "metrics": {**ok["metrics"], "api": {"latency": ok["metrics"]["api"]["latency"][:-1]}}}
        body = _problem(c.post(RCA, json=short), 422, "metrics.api.latency")
        assert "39 values but 40 timestamps" in body["detail"]
        _problem(c.post(RCA, json={**ok, "alert_service": "nosuch"}), 422, "alert_service")
        _problem(c.post(RCA, json={**ok, "metrics": {}}), 422, "metrics")
        _problem(c.post(RCA, json={**ok, "metrics": {"db": {}}}), 422, "metrics.db")
        nan = {**ok, "metrics": {"db": {"latency": ["NaN"] * 40}}}
        _problem(c.post(RCA, json=nan), 422, "metrics.db.latency.0")
        _problem(c.post(RCA, json={**ok, "timestamps": ["yesterday", *ok["timestamps"][1:]]}), 422, "timestamps.0")
        backwards = {**ok, "timestamps": ok["timestamps"][::-1]}
        _problem(c.post(RCA, json=backwards), 422, "timestamps")
        huge = {**ok, "metrics": {"db": {"latency": [1.0] * 100_001}}}
        _problem(c.post(RCA, json=huge), 422, "metrics.db.latency")
        normal = {"timestamps": ok["timestamps"][:3], "metrics": {"db": {"latency": [1.0, 1.0]}}}
        _problem(c.post(RCA, json={**ok, "normal": normal}), 422, "normal.metrics.db.latency")
        _problem(c.post(RCA, json={**ok, "extra": 1}), 422, "extra")


def test_normal_data_sharing_no_metric_is_422_naming_the_field(api: Api) -> None:
    ok = _small()
    other = {"metrics": {"zzz": {"cpu": [1.0, 2.0, 3.0]}}}
    files = [
        ("metrics", ("m.csv", b"time,api_cpu\n1700000000,0.5\n1700000060,0.6\n1700000120,0.9\n", "text/csv")),
        ("normal", ("othernorm.csv", b"time,zzz_cpu\n1699990000,1\n1699990060,2\n", "text/csv")),
    ]
    with api.client("viewer") as c:
        body = _problem(c.post(RCA, json={**ok, "normal": other}), 422, "normal.metrics")
        assert "its metrics (zzz_cpu) match none of the incident's" in body["detail"]
        body = _problem(c.post(f"{RCA}/files", files=files), 422, "normal")
        assert body["detail"].startswith("normal/othernorm.csv: its metrics (zzz_cpu) match none"), body
        part = {"metrics": {"api": {"latency": [1.0, 1.01, 1.0, 1.02, 1.0, 1.01]}}}
        doc = c.post(RCA, json={**ok, "normal": part}).json()
        assert doc["normal_missing"] == ["db_latency"] and "no normal data in normal.metrics" in doc["note"]


def test_a_numeric_time_outside_1970_to_3000_is_422_naming_the_field(api: Api) -> None:
    ok = _small()
    with api.client("viewer") as c:
        body = _problem(c.post(RCA, json={**ok, "alert_time": -1}), 422, "alert_time")
        assert "outside the times hx takes" in body["detail"]
        body = _problem(c.post(RCA, json={**ok, "alert_time": 99999999999999}), 422, "alert_time")
        assert "read as milliseconds (5138-" in body["detail"]
        files = [("metrics", ("m.csv", b"time,api_cpu\n1700000000,0.5\n1700000060,0.6\n", "text/csv"))]
        body = _problem(c.post(f"{RCA}/files", files=files, data={"alert_time": "-1"}), 422, "alert_time")
        assert "outside the times hx takes" in body["detail"]


def test_over_the_size_limits_is_413_naming_the_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = _small()
    monkeypatch.setattr(rca_report, "MAX_CELLS", 70)  # the server runs in this process
    with api.client("viewer") as c:
        body = _problem(c.post(RCA, json=ok), 413, "metrics")
        assert body["limit"] == 70 and "80 values" in body["detail"]
        big = {**ok, "metrics": {"db": {"latency": [1.0e300] * 150_000}}}  # over the 1 MiB body limit
        assert c.post(RCA, json=big).status_code == 413


def test_a_viewer_may_call_it_and_no_token_may_not(api: Api) -> None:
    with api.client() as c:
        r = c.post(RCA, json=_small())
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
    with api.client("viewer") as c:
        assert c.post(RCA, json=_small()).status_code == 200


def test_the_csv_files_uploaded_rank_as_hx_rca_json_ranks_them(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path / "cli"))
    case = _case("rcd-sock-shop", "sock-shop-data", "carts-cpu", "1")
    cli = _cli_json([str(case / "anomalous.csv"), "--normal", str(case / "normal.csv")], capsys)
    files = [
        ("metrics", ("anomalous.csv", (case / "anomalous.csv").read_bytes(), "text/csv")),
        ("normal", ("normal.csv", (case / "normal.csv").read_bytes(), "text/csv")),
    ]
    with api.client("viewer") as c:
        r = c.post(f"{RCA}/files", files=files)
        assert r.status_code == 200, r.text
        assert r.json() == cli and cli["candidates"][0]["service"] == "carts"
        assert c.post(f"{RCA}/files", files=files, data={"top": "2"}).json()["candidates"] == cli["candidates"][:2]
        bad = [("metrics", ("m.csv", b"time,api_cpu\n1700000000,0.5\n1700000060,high\n", "text/csv"))]
        body = _problem(c.post(f"{RCA}/files", files=bad), 422, "api_cpu")
        assert body["detail"].startswith("metrics/m.csv: row 3") and body["file"] == "metrics/m.csv"
        index = [("metrics", ("m.csv", b"time,api_cpu\n1,0.5\n2,0.6\n", "text/csv"))]
        assert "give the step" in _problem(c.post(f"{RCA}/files", files=index), 422, "step")["detail"]
        assert c.post(f"{RCA}/files", files=index, data={"step": "60"}).status_code == 200
        late = {"start": "2999-01-01T00:00:00Z"}
        _problem(c.post(f"{RCA}/files", files=files, data=late), 422, "start")
        ok = [("metrics", ("m.csv", b"time,api_cpu\n1700000000,0.5\n1700000060,0.6\n", "text/csv"))]
        _problem(c.post(f"{RCA}/files", files=ok, data={"alert_service": "nosuch"}), 422, "alert_service")
    with api.client() as c:
        assert c.post(f"{RCA}/files", files=files).status_code == 401
