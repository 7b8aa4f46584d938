from __future__ import annotations

from datetime import timedelta

from hx.heal.records import IncidentRepo
from tests.api.conftest import Api
from tests.improve.conftest import add_history, incident


def test_kpis_gates_and_cycles_over_the_api(api: Api) -> None:
    now = api.platform.clock.now()
    add_history(api.platform, 30, now - timedelta(hours=2), seed=1)
    with api.client("viewer") as c:
        k = c.get("/api/v1/improve/kpis").json()
        assert k["kpis"]["deploy.change_failure_rate"] == 0.0 and k["definitions"]
        g = c.get("/api/v1/improve/gates").json()
        assert g["passed"] and {x["metric"] for x in g["gates"]} >= {"deploy.change_failure_rate"}
        assert c.post("/api/v1/improve/cycles").status_code == 403
        assert c.get("/api/v1/improve/cycles").json() == {"cycles": []}
    with api.client("operator") as c:
        r = c.post("/api/v1/improve/cycles")
        assert r.status_code == 200, r.text
        models = {m["model"]: m for m in r.json()["models"]}
        assert models["deploy-strategy"]["shadow"] == 1
    with api.client("viewer") as c:
        cycles = c.get("/api/v1/improve/cycles").json()["cycles"]
        assert len(cycles) == 1 and cycles[0]["passed"]
        m = {x["model"]: x for x in c.get("/api/v1/improve/models").json()["models"]}
        assert m["deploy-strategy"]["versions"][0]["stage"] == "shadow"
        assert m["heal.incident_classifier"]["last_review"]["examples"] == 0


def test_labelling_an_incident(api: Api) -> None:
    now = api.platform.clock.now()
    inc = IncidentRepo(api.platform.store).insert(incident(now, {"kw_memory": 1.0}, "unknown", "resolved by bob"))
    with api.client("operator") as c:
        bad = c.post(f"/api/v1/incidents/{inc.id}/label", json={"class": "gremlins"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert "gremlins" in bad.text and "memory_leak" in bad.text
        assert c.post("/api/v1/incidents/999/label", json={"class": "disk_full"}).status_code == 404
        assert c.post(f"/api/v1/incidents/{inc.id}/label", json={"klass": "disk_full"}).status_code == 422
        ok = c.post(f"/api/v1/incidents/{inc.id}/label", json={"class": "disk_full"})
        assert ok.status_code == 200, ok.text
        tl = c.get(f"/api/v1/incidents/{inc.id}").json()["timeline"]
        assert tl[-1]["kind"] == "labelled" and tl[-1]["detail"]["class"] == "disk_full"
    with api.client("viewer") as c:
        assert c.post(f"/api/v1/incidents/{inc.id}/label", json={"class": "disk_full"}).status_code == 403


def test_a_stage_change_over_the_api_is_published_and_a_promotion_past_shadow_must_be_forced(api: Api) -> None:
    import numpy as np

    from hx.heal.classify import MODEL_NAME, IncidentForest
    from hx.heal.features import FEATURE_NAMES

    x = np.random.default_rng(0).uniform(size=(20, len(FEATURE_NAMES)))
    model = IncidentForest(n_estimators=5).fit(x, ["memory_leak"] * 10 + ["disk_full"] * 10)
    mv = api.platform.models.save(MODEL_NAME, model, metrics={}, data_fingerprint="t", training_data="history")
    url = f"/api/v1/models/{MODEL_NAME}/{mv.version}/stage"
    with api.client("admin") as c:
        refused = c.post(url, json={"stage": "promoted"})
        assert refused.status_code == 409 and "shadow" in refused.text
        assert c.post(url, json={"stage": "promoted", "force": True}).json()["stage"] == "promoted"
        assert c.post(url, json={"stage": "retired"}).json()["stage"] == "retired"
    types = [(e.type, e.data["forced"]) for e in api.platform.bus.read(types=["model.*"])]
    assert types == [("model.promoted", True), ("model.retired", False)]
    assert any(r.action == "model.promoted_forced" for r in api.platform.audit.records(limit=50))
