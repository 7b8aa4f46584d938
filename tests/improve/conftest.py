"""A platform on simulated time with labelled deployment and incident history written straight to the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hx.clock import SimClock
from hx.components import register_learners
from hx.config import load_settings
from hx.deploy.records import Deployment, DeploymentRepo
from hx.deploy.risk import FEATURES
from hx.heal.records import Incident, IncidentRepo
from hx.platform import Platform, build_platform

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

register_learners()  # as the platform does: the learners of every component (tests here also use the registry alone)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def iplatform(tmp_path: Path, clock: SimClock) -> Iterator[Platform]:
    overrides = {"continuous_improvement.retrain_interval_s": 60.0, "continuous_improvement.shadow_min_samples": 40}
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}, overrides=overrides).settings
    p = build_platform(settings, clock=clock)
    yield p
    p.store.dispose()


def deployment(at: datetime, factors: dict[str, float], strategy: str, state: str = "promoted",
               reason: str = "promoted", minutes: float = 30.0) -> Deployment:  # fmt: skip
    return Deployment(
        id=0, service="api", environment="dev", version="v2", from_version="v1", strategy=strategy, state=state,
        phase="done", step_index=0, step_started_at=None, replicas=2, plan=[], rollback_plan=[],
        requested_by="test", approvals=[], risk={"score": 0.3, "factors": factors}, decision={}, change={},
        unsafe_rollback=False, analyses=[], reason=reason, created_at=at - timedelta(minutes=minutes),
        updated_at=at, finished_at=at,
    )  # fmt: skip


def add_history(p: Platform, n: int, start: datetime, seed: int, label: str = "learnable") -> None:
    """``n`` finished rollouts one minute apart.  "learnable": blue_green when change_size > 0.5, else canary
    (the risk rules, seeing a score of 0.3, always say canary); "canary": every label is canary."""
    rng = np.random.default_rng(seed)
    repo = DeploymentRepo(p.store)
    for i in range(n):
        f = {k: float(rng.uniform(0, 1)) for k in FEATURES}
        f["migration"] = 0.0
        strategy = ("blue_green" if f["change_size"] > 0.5 else "canary") if label == "learnable" else "canary"
        repo.insert(deployment(start + timedelta(minutes=i), f, strategy))


def incident(at: datetime, features: dict[str, float], cls: str, resolution: str) -> Incident:
    return Incident(
        id=0, service="api", environment="dev", title="t", severity="warning", status="resolved", kind="reactive",
        incident_class=cls, confidence=0.9, classified_by="rules", root_causes=[], labels={}, firing=[],
        features=features, escalation={}, opened_at=at - timedelta(minutes=10), updated_at=at, resolved_at=at,
        resolution=resolution,
    )  # fmt: skip


def add_incident(p: Platform, at: datetime, cls: str, resolution: str, features: dict[str, float] | None = None) -> int:
    return IncidentRepo(p.store).insert(incident(at, features or {"kw_memory": 1.0}, cls, resolution)).id
