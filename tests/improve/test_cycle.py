from __future__ import annotations

from datetime import timedelta

from hx.clock import SimClock
from hx.deploy.decision import MODEL_NAME
from hx.events import ImprovementReport, ModelPromoted, QualityGateFailed
from hx.improve.cycle import ImprovementCycle
from hx.ml.registry import load_or_fallback
from hx.platform import Platform
from tests.improve.conftest import T0, add_history


def _stage(p: Platform, version: int) -> str:
    return p.models.get(MODEL_NAME, version).stage


def test_train_shadow_promote_then_fall_back_to_rules_on_drift(iplatform: Platform, clock: SimClock) -> None:
    p = iplatform
    cyc = ImprovementCycle(p, learners=[MODEL_NAME])
    r = cyc.run()
    assert "not trained: 0 labelled examples" in r["models"][0]["actions"][0]

    add_history(p, 50, T0 - timedelta(hours=1), seed=1)
    r = cyc.run()
    review = r["models"][0]
    assert review["shadow"] == 1 and _stage(p, 1) == "shadow"
    assert review["live"]["rules_accuracy"] is not None
    assert p.models.get(MODEL_NAME, 1).metrics["holdout_accuracy"] > 0.8  # the rule is learnable
    assert load_or_fallback(p.models, MODEL_NAME).in_use == "rules"  # a shadow is not used

    clock.advance(300)
    add_history(p, 20, clock.now() + timedelta(minutes=1), seed=2)
    clock.advance(3600)
    r = cyc.run()
    assert "waiting: 20 of 40" in r["models"][0]["actions"][0] and _stage(p, 1) == "shadow"

    add_history(p, 30, clock.now() + timedelta(minutes=1), seed=3)
    clock.advance(3600)
    r = cyc.run()
    ev = r["models"][0]["shadow_eval"]
    assert ev["n"] == 50 and ev["incumbent"] == "rules" and ev["shadow_accuracy"] > ev["incumbent_accuracy"]
    assert _stage(p, 1) == "promoted" and load_or_fallback(p.models, MODEL_NAME).in_use == "model"
    assert any(a.action == "model.promoted" for a in p.audit.records(limit=100))
    assert p.bus.read(types=[ModelPromoted])

    # the world changes: every rollout now succeeds with canary, which the rules say and the model does not
    add_history(p, 150, clock.now() + timedelta(minutes=1), seed=4, label="canary")
    clock.advance(3 * 3600)
    r = cyc.run(train=False)
    live = r["models"][0]["live"]
    assert live["accuracy"] < live["rules_accuracy"]
    assert _stage(p, 1) == "retired" and load_or_fallback(p.models, MODEL_NAME).in_use == "rules"
    assert "rules in use" in r["models"][0]["actions"][0]

    # next cycle trains a new shadow on everything, including the new behaviour
    r = cyc.run()
    assert r["models"][0]["shadow"] == 2 and _stage(p, 2) == "shadow"


def test_a_cycle_reports_gates_and_recommendations(iplatform: Platform) -> None:
    from hx.deploy.records import DeploymentRepo
    from tests.improve.conftest import deployment

    repo = DeploymentRepo(iplatform.store)
    for i in range(4):
        state = "rolled_back" if i < 2 else "promoted"
        repo.insert(deployment(T0 - timedelta(hours=i + 1), {"cpu": 0.1}, "canary", state=state))
    r = ImprovementCycle(iplatform).run()
    cfr = next(g for g in r["gates"] if g["metric"] == "deploy.change_failure_rate")
    assert cfr["status"] == "fail" and cfr["value"] == 0.5 and not r["passed"]
    assert any("change failure rate" in x for x in r["recommendations"])
    assert iplatform.bus.read(types=[QualityGateFailed])
    assert iplatform.bus.read(types=[ImprovementReport])[-1].data["kpis"]["deploy.change_failure_rate"] == 0.5


def test_self_healing_reloads_its_classifier_when_the_cycle_promotes_one(iplatform: Platform) -> None:
    import numpy as np

    from hx.heal.classify import MODEL_NAME as CLASSIFIER
    from hx.heal.classify import IncidentForest
    from hx.heal.component import heal_engine
    from hx.heal.features import FEATURE_NAMES

    eng = heal_engine(iplatform)
    assert eng.handle.in_use == "rules"
    x = np.random.default_rng(0).uniform(size=(20, len(FEATURE_NAMES)))
    model = IncidentForest(n_estimators=5).fit(x, ["memory_leak"] * 10 + ["disk_full"] * 10)
    mv = iplatform.models.save(CLASSIFIER, model, metrics={}, data_fingerprint="t", training_data="history")
    cyc = ImprovementCycle(iplatform, learners=[CLASSIFIER])
    cyc._set_stage(CLASSIFIER, mv.version, "promoted", "test")
    promoted = eng.handle  # a fresh read: the stage change reloaded the engine's model
    assert promoted.in_use == "model" and promoted.meta is not None and promoted.meta.version == mv.version
    cyc._set_stage(CLASSIFIER, mv.version, "retired", "test")
    assert eng.handle.in_use == "rules"
