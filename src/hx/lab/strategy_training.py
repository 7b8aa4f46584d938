"""Training the strategy model: from the store's deployment history (:mod:`hx.deploy.examples`), or -- before
real history exists -- from the simulator's deployment outcomes (``training_data: simulated``).

Simulated outcomes are real rollouts: each scenario builds a small simulated fleet, sets up its history
(earlier failed deployments, incidents, a time of week, a load level), ships the same change to four
services with the four candidate strategies at once through the real rollout engine, and -- when the
scenario's change is bad, which happens more often for riskier changes -- injects the regression into
the new version.  Each strategy's cost is measured from the sim: bad-request exposure, duration, false
rollbacks, a bad version promoted.  The label is the cheapest strategy.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hx.clock import SimClock
from hx.components import COMPONENTS
from hx.config import load_settings
from hx.deploy.decision import CANDIDATES, MODEL_NAME, StrategyModel
from hx.deploy.examples import MIN_HISTORY, history_dataset
from hx.deploy.records import TERMINAL, Deployment, DeploymentRepo
from hx.deploy.risk import FEATURES
from hx.errors import ModelError
from hx.events import IncidentOpened, ModelTrained
from hx.ml.registry import ModelVersion, TrainingData, fingerprint, register_trained
from hx.platform import Platform, build_platform

Progress = Callable[[int, int], None]


def _cost(d: Deployment, bad: bool, exposure: float) -> float:
    minutes = ((d.finished_at or d.updated_at) - d.created_at).total_seconds() / 60
    if d.state not in TERMINAL:
        return 50.0 + minutes * 0.02
    if bad and d.state == "promoted":
        return 100.0
    if not bad and d.state != "promoted":
        return 8.0 + minutes * 0.02
    return exposure + minutes * 0.02


def _scenario(i: int, rng: np.random.Generator, start: datetime) -> dict[str, Any]:
    lines = int(rng.choice([5, 40, 200, 800, 3000]))
    prior_failures = int(rng.integers(0, 4))
    incidents = int(rng.integers(0, 4))
    hour = float(rng.uniform(0, 24 * 7))
    when = start + timedelta(hours=hour)
    size = math.log10(1 + lines) / 4
    odd_hours = 1.0 if when.weekday() >= 5 or not 9 <= when.hour < 16 else 0.0
    logit = -3.0 + 3.0 * size + 0.6 * prior_failures + 0.4 * incidents + 0.8 * odd_hours
    bad = bool(rng.random() < 1 / (1 + math.exp(-logit)))
    kind = str(rng.choice(["latency_regression", "error_spike"]))
    magnitude = float(rng.uniform(0.08, 0.4) if kind == "latency_regression" else rng.uniform(0.03, 0.3))
    return {
        "seed": 1000 + i,
        "lines": lines,
        "prior_failures": prior_failures,
        "incidents": incidents,
        "when": when,
        "bad": bad,
        "kind": kind,
        "magnitude": magnitude,
    }


def _seed_history(platform: Platform, service: str, sc: dict[str, Any], now: datetime) -> None:
    repo = DeploymentRepo(platform.store)
    for k in range(sc["prior_failures"]):
        at = now - timedelta(days=2 + k)
        repo.insert(
            Deployment(
                id=0,
                service=service,
                environment="dev",
                version=f"old{k}",
                from_version="v0",
                strategy="canary",
                state="rolled_back",
                phase="rollback",
                step_index=0,
                step_started_at=None,
                replicas=1,
                plan=[],
                rollback_plan=[],
                requested_by="history",
                approvals=[],
                risk={},
                decision={},
                change={},
                unsafe_rollback=False,
                analyses=[],
                reason="canary failed",
                created_at=at,
                updated_at=at,
                finished_at=at,
            )
        )
    for _ in range(sc["incidents"]):
        platform.bus.publish(IncidentOpened(incident_class="history"), source="training", subject=service)


def run_scenario(
    sc: dict[str, Any], workdir: Path, debug: dict[str, Any] | None = None
) -> tuple[list[float], dict[str, float]]:
    """Ship one change with every candidate strategy at once; return (features, cost per strategy)."""
    from hx.deploy.component import service as deploy_service
    from hx.deploy.service import Change, DeploymentRequest
    from hx.security.roles import Role
    from hx.sim import Fault
    from hx.wiring import build_runtime, build_world, embed_sim

    overrides = {
        "sim.services": len(CANDIDATES),
        "sim.seed": sc["seed"],
        "sim.step_s": 15.0,
        "ai_orchestrator.canary.analysis_interval_s": 300.0,
    }
    settings = load_settings(environ={"HX_HOME": str(workdir)}, overrides=overrides).settings
    clock = SimClock(sc["when"] - timedelta(hours=3))
    source, actuator, sim = build_world(settings, clock)
    if sim is None:
        raise ModelError("training needs the embedded sim")
    sim.run_until(sc["when"])
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    embed_sim(platform, sim)
    runtime = build_runtime(platform, COMPONENTS)
    svc = deploy_service(platform)
    bot = platform.tokens.authenticate(platform.tokens.create("trainer", Role.OPERATOR)[0])
    deps: dict[str, Deployment] = {}
    for strategy, name in zip(CANDIDATES, sim.names, strict=False):
        _seed_history(platform, name, sc, clock.now())
        req = DeploymentRequest(
            service=name,
            version="v2",
            environment="dev",
            strategy=strategy,
            change=Change(lines_changed=sc["lines"], files_changed=max(1, sc["lines"] // 40)),
        )
        deps[strategy] = svc.create(req, bot)
        if sc["bad"]:
            sim.inject(Fault(sc["kind"], service=name, version="v2", magnitude=sc["magnitude"]))
    features = [float(deps[CANDIDATES[0]].risk["factors"][k]) for k in FEATURES]
    exposure = dict.fromkeys(CANDIDATES, 0.0)
    for _ in range(8 * 60):  # at most 8 simulated hours, one-minute ticks
        current = {s: svc.repo.get(d.id) for s, d in deps.items()}
        for s, d in current.items():
            if d.state == "awaiting_approval":  # a person approves after a quarter of an hour
                waited = (clock.now() - d.updated_at).total_seconds()
                if waited >= 900:
                    approver = platform.tokens.authenticate(platform.tokens.create(f"a{s}", Role.APPROVER)[0])
                    svc.approve(d.id, approver, None)
            if sc["bad"] and "v2" in sim.versions(d.service):
                w = sim.series(d.service, "traffic_weight", version="v2")[1]
                w = w[np.isfinite(w)]
                exposure[s] += float(w[-1]) if len(w) else 0.0
        if all(d.state in TERMINAL or d.state == "needs_person" for d in current.values()):
            break
        runtime.run_simulated(clock, clock.now() + timedelta(minutes=1), tick_s=60)
    final = {s: svc.repo.get(d.id) for s, d in deps.items()}
    costs = {s: _cost(final[s], sc["bad"], exposure[s]) for s in final}
    if debug is not None:
        debug.update({s: (d.state, d.reason[:120], len(d.analyses)) for s, d in final.items()})
    platform.close()  # the audit head's export timer too: the scenario's directory is removed next
    return features, costs


def simulated_dataset(scenarios: int, seed: int = 0, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    rows, labels = [], []
    with tempfile.TemporaryDirectory(prefix="hx-train-") as tmp:
        for i in range(scenarios):
            sc = _scenario(i, rng, start)
            features, costs = run_scenario(sc, Path(tmp) / f"s{i}")
            rows.append(features)
            labels.append(min(costs, key=lambda s: (costs[s], CANDIDATES.index(s))))
            if progress is not None:
                progress(i + 1, scenarios)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels)


def train_decision_model(
    platform: Platform,
    scenarios: int = 40,
    seed: int = 0,
    force: bool = False,
    progress: Progress | None = None,
    actor: str = "hx:ai-orchestrator",
) -> ModelVersion:
    """Train on history when there is enough of it, else on simulated outcomes; save the model in shadow (or,
    when ``force``, promote it at once: audited as a forced promotion)."""
    x, y = history_dataset(platform)
    source: TrainingData = "history"
    if len(x) < MIN_HISTORY or len(set(y.tolist())) < 2:
        x, y = simulated_dataset(scenarios, seed, progress)
        source = "simulated"
    if len(set(y.tolist())) < 2:
        raise ModelError(f"all {len(y)} {source} examples have the same best strategy; nothing to learn")
    model = StrategyModel(seed=seed).fit(x, y)
    acc = _cv_accuracy(x, y, seed)
    counts = {str(k): int(v) for k, v in zip(*np.unique(y, return_counts=True), strict=True)}
    metrics = {"cv_accuracy": acc, "examples": len(y), "labels": counts}
    meta = register_trained(
        platform.models,
        platform.audit,
        MODEL_NAME,
        model,
        metrics=metrics,
        data_fingerprint=fingerprint(x, y.astype(str)),
        training_data=source,
        actor=actor,
        force=force,
    )
    platform.bus.publish(ModelTrained.model_validate(meta.to_json()), source="ai-orchestrator", subject=MODEL_NAME)
    return meta


def _cv_accuracy(x: np.ndarray, y: np.ndarray, seed: int) -> float | None:
    from sklearn.model_selection import cross_val_score

    _, counts = np.unique(y, return_counts=True)
    folds = int(min(5, counts.min()))
    if folds < 2:
        return None
    scores = cross_val_score(StrategyModel(seed=seed).fit(x, y).model, x, y, cv=folds)
    return round(float(scores.mean()), 4)
