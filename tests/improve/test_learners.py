from __future__ import annotations

from datetime import timedelta

from hx.deploy.learner import StrategyLearner
from hx.heal.learner import IncidentLearner
from hx.heal.records import IncidentRepo
from hx.ml.learners import LEARNERS
from hx.platform import Platform
from tests.improve.conftest import T0, add_history, add_incident, deployment


def test_registry_lists_both_learners() -> None:
    assert LEARNERS.names() == ["deploy-strategy", "heal.incident_classifier"]


def test_strategy_examples_come_from_rollouts_that_did_their_job(iplatform: Platform) -> None:
    from hx.deploy.records import DeploymentRepo

    add_history(iplatform, 5, T0, seed=1)
    repo = DeploymentRepo(iplatform.store)
    f = {k: 0.2 for k in ("cpu", "memory", "error_rate", "traffic", "time_of_week", "change_size",
                          "recent_incidents", "failed_deployments", "error_budget", "migration")}  # fmt: skip
    repo.insert(deployment(T0 + timedelta(hours=1), f, "rolling", state="rolled_back", reason="step failed"))
    repo.insert(deployment(T0 + timedelta(hours=2), f, "rolling", state="rolled_back", reason="canary failed: x"))
    ex = StrategyLearner().examples(iplatform)
    assert len(ex) == 6 and ex.y[-1] == "rolling" and ex.at == sorted(ex.at)
    assert set(ex.rules) == {"canary"}  # a risk score of 0.3


def test_incident_labels_come_from_people_or_verified_fixes(iplatform: Platform) -> None:
    fixed = add_incident(iplatform, T0, "memory_leak", "fixed by runbook restart on api, verified")
    add_incident(iplatform, T0 + timedelta(minutes=1), "unknown", "every alert resolved")  # no label: skipped
    relabelled = add_incident(iplatform, T0 + timedelta(minutes=2), "memory_leak", "resolved by bob")
    IncidentRepo(iplatform.store).note(relabelled, T0 + timedelta(hours=1), "labelled", {"class": "disk_full"})
    ex = IncidentLearner().examples(iplatform)
    assert ex.y == ["memory_leak", "disk_full"] and fixed
    assert ex.at[1] == T0 + timedelta(hours=1)
    assert ex.rules == ["unknown", "unknown"]
