"""predictive-scaler routes over a live server: forecast with a band, recommendations, decisions, roles."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from hx.api.app import create_app
from hx.components import Component
from hx.config import load_settings
from hx.platform import Platform, bootstrap_admin, build_platform
from hx.runtime import Runtime
from hx.scale.component import engine
from hx.security.roles import Role
from hx.sim import SimActuator, SimSource, Simulation
from hx.wiring import embed_sim
from tests.api.conftest import Api
from tests.support.live import live_server

SCALER = Component("predictive-scaler", 8082, "forecasts", routers=("hx.api.routers.scale:router",))
_BASE: list[Simulation] = []


def _sim() -> Simulation:
    from tests.scale.test_engine import RUN_DAY, history_sim

    if not _BASE:
        _BASE.append(history_sim(False))
    sim = copy.deepcopy(_BASE[0])
    assert sim.now == RUN_DAY + timedelta(hours=9)
    return sim


@pytest.fixture
def scaler_platform(tmp_path: Path) -> Iterator[Platform]:
    sim = _sim()
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}).settings
    p = build_platform(settings, clock=sim.clock, source=SimSource(sim), actuator=SimActuator(sim))
    embed_sim(p, sim)
    yield p
    p.store.dispose()


def test_routes(scaler_platform: Platform) -> None:
    p = scaler_platform
    eng = engine(p)
    assert eng is not None and p.embedded is not None
    runtime = Runtime(p, [p.embedded, eng])
    runtime.run_simulated(p.clock, p.clock.now() + timedelta(hours=1, minutes=25), tick_s=60.0)  # type: ignore[arg-type]
    admin = (bootstrap_admin(p) or Path()).read_text().strip()
    viewer, _ = p.tokens.create("v", Role.VIEWER)
    with live_server(create_app(p, components=[SCALER])) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {viewer}"}, timeout=30) as c:
            r = c.get("/api/v1/forecasts", params={"service": "shop", "horizon": 3600, "model": "seasonal_naive"})
            assert r.status_code == 200, r.text
            fc = r.json()
            assert len(fc["mean"]) == 12 and all(
                lo <= m <= hi for lo, m, hi in zip(fc["lower"], fc["mean"], fc["upper"], strict=True)
            )
            assert max(fc["upper"]) >= 290.0  # tomorrow's 10:00 ramp is in the next hour
            # ISO 8601 like every other time in the API, not epoch floats
            times = [datetime.fromisoformat(t) for t in fc["timestamps"]]
            assert len(times) == 12 and all(t.utcoffset() == timedelta(0) for t in times)
            assert times[0] > datetime.fromisoformat(fc["issued_at"]) and times == sorted(times)
            assert c.get("/api/v1/forecasts", params={"service": "nope"}).status_code == 404
            r = c.get("/api/v1/forecasts", params={"service": "shop", "model": "nope"})
            assert r.status_code == 422 and r.json()["field"] == "model" and "holt_winters" in r.json()["detail"]
            assert c.get("/api/v1/forecasts", params={"service": "shop", "horizon": -5}).status_code == 422
            recs = c.get("/api/v1/scaling/recommendations").json()["recommendations"]
            assert recs[0]["service"] == "shop" and recs[0]["replicas"] >= 8
            r = c.get("/api/v1/scaling/recommendations", params={"service": "nope"})
            assert r.status_code == 404 and r.json()["field"] == "service" and "shop" in r.json()["detail"]
            dec = c.get("/api/v1/scaling/decisions", params={"type": "acted"}).json()["decisions"]
            assert dec and all(d["type"] == "scaling.acted" for d in dec)
            assert c.get("/api/v1/scaling/decisions", params={"type": "x"}).status_code == 422
        assert httpx.get(f"{url}/api/v1/scaling/decisions").status_code == 401
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            p.services.pop("forecast.engine")  # another process: recommendations come from the events
            recs = c.get("/api/v1/scaling/recommendations", params={"service": "shop"}).json()["recommendations"]
            assert recs and recs[0]["replicas"] >= 8 and "event_id" in recs[0]


def test_forecast_a_series_given_in_the_body_as_the_cli_does(api: Api) -> None:
    """POST /forecasts: an hourly series forecast hour by hour, with the evaluation; the same document as
    ``hx forecast --trace FILE --json``; bad bodies name the field."""
    from hx.forecast.report import forecast_report

    t = 1_700_006_400.0 + np.arange(0.0, 8 * 86400.0, 3600.0)
    y = 200.0 + 100.0 * np.sin(2 * np.pi * t / 86400.0)
    body = {"timestamps": t.tolist(), "values": y.tolist(), "horizon_s": 10800, "eval": True, "label": "api-01"}
    with api.client("operator") as c:
        r = c.post("/api/v1/forecasts", json=body)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["grid_s"] == 3600.0 and len(got["forecast"]) == 3 and got["eval"]["horizon_steps"] == 3
        want = forecast_report(t, y, 10800.0, label="api-01", evaluate=True)
        assert got == want  # the whole document: the answer's schema drops and renames nothing
        for per_second in (1e3, 1e6, 1e9):  # milli-, micro-, nanoseconds: read from their size
            scaled = c.post("/api/v1/forecasts", json={**body, "timestamps": (t * per_second).tolist()}).json()
            assert scaled["forecast"] == got["forecast"], per_second
        r = c.post("/api/v1/forecasts", json={**body, "timestamps": (t * 1e12).tolist()})
        assert r.status_code == 422 and r.json()["field"].startswith("timestamps")  # beyond any Unix time
        late = (t + 32_503_680_000.0 - t[0]).tolist()  # seconds from 3000-01-01 on: Unix times beyond hx's era
        r = c.post("/api/v1/forecasts", json={**body, "timestamps": late})
        assert r.status_code == 422 and r.json()["field"] == f"timestamps.{t.size - 1}", r.json()
        assert "outside the times hx takes" in r.json()["detail"]
        # a row index: refused without the step between rows, read with it
        index = np.arange(float(t.size)).tolist()
        r = c.post("/api/v1/forecasts", json={**body, "timestamps": index})
        assert r.status_code == 422 and r.json()["field"] == "step_s" and "row index" in r.json()["detail"]
        stepped = c.post("/api/v1/forecasts", json={**body, "timestamps": index, "step_s": 3600}).json()
        assert stepped["grid_s"] == 3600.0  # the same forecast, dated from the day before now
        r = c.post("/api/v1/forecasts", json={**body, "step_s": 60})  # real hourly times: 60 contradicts them
        assert r.status_code == 422 and r.json()["field"] == "step_s" and "60 min apart" in r.json()["detail"]
        assert c.post("/api/v1/forecasts", json={**body, "step_s": 3600, "eval": False}).status_code == 200
        assert [f["mean"] for f in stepped["forecast"]] == [f["mean"] for f in got["forecast"]]
        r = c.post("/api/v1/forecasts", json={**body, "model": "prophet"})
        assert r.status_code == 422 and r.json()["field"] == "model"
        r = c.post("/api/v1/forecasts", json={**body, "values": y.tolist()[:-1]})
        assert r.status_code == 422 and r.json()["field"] == "values"
        r = c.post("/api/v1/forecasts", json={**body, "timestamps": t[:30].tolist(), "values": y[:30].tolist()})
        assert r.status_code == 422 and r.json()["field"] == "eval" and "two days" in r.json()["detail"]
        r = c.post("/api/v1/forecasts", json={**body, "values": [42.0] * t.size})  # MASE has nothing to scale by
        assert r.status_code == 422 and r.json()["field"] == "eval" and "constant" in r.json()["detail"], r.json()
        assert c.post("/api/v1/forecasts", json={**body, "values": [42.0] * t.size, "eval": False}).status_code == 200
    with api.client("viewer") as c:
        assert c.post("/api/v1/forecasts", json=body).status_code == 403


def test_a_forecast_the_guard_replaced_is_answered_whole_and_as_documented(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /forecasts with a model whose forecast leaves the history's range: the answer carries the fallback
    and the backtest exactly as ``forecast_report`` builds them, and the OpenAPI document describes both."""
    from hx.forecast import FORECASTERS
    from hx.forecast.report import forecast_report
    from tests.support.forecasters import EXPLODING

    monkeypatch.setitem(FORECASTERS._items, "exploding", EXPLODING)
    t = 1_700_006_400.0 + np.arange(0.0, 4 * 86400.0, 300.0)
    y = 2500.0 + 500.0 * np.sin(2 * np.pi * t / 86400.0)
    body = {"timestamps": t.tolist(), "values": y.tolist(), "horizon_s": 3600, "model": "exploding", "eval": True}
    with api.client("operator") as c:
        r = c.post("/api/v1/forecasts", json=body)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["fallback"]["fallback_from"] == "exploding" and got["model"] == "seasonal_naive"
        scores = {m["model"]: m for m in got["eval"]["models"]}
        assert scores["exploding"]["guard_fired"] > 0 and scores["exploding"]["max_range_excess"] > 10
        assert got == forecast_report(t, y, 3600.0, model="exploding", evaluate=True)
        assert "fallback" not in c.post("/api/v1/forecasts", json={**body, "model": "seasonal_naive"}).json()
        schema = c.get("/openapi.json").json()
    answer = schema["paths"]["/api/v1/forecasts"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/ForecastAnswer"}
    props = schema["components"]["schemas"]["ForecastAnswer"]["properties"]
    assert set(got) <= set(props) and {"fallback", "eval"} <= set(props)
