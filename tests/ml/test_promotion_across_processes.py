"""A model promoted in one process is used by the engines of another process on their next step.

Two platforms on one store stand for two ``hx serve --component`` processes: continuous-improvement (A) changes
the stage; the process running self-healing and the ai-orchestrator (B) never sees A's in-process bus.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from hx.deploy.component import service
from hx.deploy.decision import MODEL_NAME as STRATEGY
from hx.deploy.decision import StrategyModel
from hx.deploy.risk import FEATURES
from hx.errors import Conflict
from hx.heal.classify import MODEL_NAME as CLASSIFIER
from hx.heal.classify import IncidentForest
from hx.heal.component import heal_engine
from hx.heal.features import FEATURE_NAMES
from hx.ml.registry import FORCED_ACTION, ModelHandle, StageChange, promote_checked
from hx.platform import Platform, build_platform
from tests.deploy.conftest import World, make_world


@pytest.fixture
def two(tmp_path: Path) -> tuple[Platform, World]:
    b = make_world(tmp_path / "hx")
    a = build_platform(b.platform.settings, clock=b.clock)
    return a, b


def _classifier() -> IncidentForest:
    x = np.random.default_rng(0).uniform(size=(20, len(FEATURE_NAMES)))
    return IncidentForest(n_estimators=5).fit(x, ["memory_leak"] * 10 + ["disk_full"] * 10)


def _strategy() -> StrategyModel:
    x = np.random.default_rng(1).uniform(size=(20, len(FEATURES)))
    return StrategyModel(n_estimators=5).fit(x, np.asarray(["canary"] * 10 + ["rolling"] * 10))


def in_use(handle: ModelHandle) -> str:
    return handle.in_use


def _step(b: World) -> None:
    b.runtime.run_simulated(b.clock, b.clock.now() + timedelta(seconds=15), tick_s=15)


def test_a_promotion_in_one_process_is_used_by_the_other_within_one_step(two: tuple[Platform, World]) -> None:
    a, b = two
    heal, rollouts = heal_engine(b.platform), service(b.platform).engine
    assert in_use(heal.handle) == "rules" and in_use(rollouts.model.handle) == "rules"
    clf = a.models.save(CLASSIFIER, _classifier(), metrics={}, data_fingerprint="t", training_data="history")
    strat = a.models.save(STRATEGY, _strategy(), metrics={}, data_fingerprint="t", training_data="history")
    for name, mv in ((CLASSIFIER, clf), (STRATEGY, strat)):
        a.models.set_stage(name, mv.version, "shadow", StageChange(actor="test"))
        promote_checked(a.models, name, mv.version, actor="test")
    assert in_use(heal.handle) == "rules"  # nothing crossed yet: B's bus never saw A's events
    _step(b)
    assert in_use(heal.handle) == "model" and heal.handle.meta is not None
    assert heal.handle.meta.version == clf.version
    assert in_use(rollouts.model.handle) == "model" and b.platform.model_handles[STRATEGY].in_use == "model"
    a.models.set_stage(CLASSIFIER, clf.version, "retired", StageChange(actor="test", reason="drift"))
    _step(b)
    assert in_use(heal.handle) == "rules" and b.platform.model_handles[CLASSIFIER].in_use == "rules"


def test_every_stage_change_is_published_whoever_makes_it(two: tuple[Platform, World]) -> None:
    a, _ = two
    v1 = a.models.save(CLASSIFIER, _classifier(), metrics={}, data_fingerprint="t", training_data="history")
    v2 = a.models.save(CLASSIFIER, _classifier(), metrics={}, data_fingerprint="t", training_data="history")
    with pytest.raises(Conflict, match="not in shadow"):
        promote_checked(a.models, CLASSIFIER, v1.version, actor="bob")
    assert promote_checked(a.models, CLASSIFIER, v1.version, actor="bob", force=True) == FORCED_ACTION
    a.models.set_stage(CLASSIFIER, v2.version, "shadow")
    assert promote_checked(a.models, CLASSIFIER, v2.version, actor="bob") == "model.promoted"
    seen = [(e.type, e.data["version"], e.data["forced"]) for e in a.bus.read(types=["model.*"])]
    assert seen == [
        ("model.promoted", v1.version, True),
        ("model.retired", v1.version, False),  # displaced by v2
        ("model.promoted", v2.version, False),
    ]


def test_training_goes_to_shadow_unless_forced_and_a_forced_promotion_is_audited(
    two: tuple[Platform, World],
) -> None:
    from hx.lab.incident_training import train

    a, _ = two
    mv = train(a, n_per_kind=2, seed=1)
    assert mv.stage == "shadow" and not a.bus.read(types=["model.promoted"])
    forced = train(a, n_per_kind=2, seed=1, force=True, actor="cli")
    assert forced.stage == "promoted"
    [event] = a.bus.read(types=["model.promoted"])
    assert event.data["forced"] and event.data["actor"] == "cli"
    actions = [r.action for r in a.audit.records(limit=20)]
    assert FORCED_ACTION in actions and "model.shadow" in actions
