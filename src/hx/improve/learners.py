"""The models the optimisation cycle keeps improving, one small uniform interface each.

A learner says how to read its labelled examples from the platform's history (each with the time it
was labelled and the rule-based fallback's answer), how to fit a model and how a model predicts.
Labels come from outcomes, never from the model itself being used:

- ``deploy-strategy``: a finished rollout whose strategy did its job (promoted, or a bad change caught
  by its canary) labels its risk factors with that strategy (as ``hx deploy train`` does);
- ``heal.incident_classifier``: an incident labelled by a person (``POST /incidents/{id}/label``), or
  resolved by a verified runbook of its class, labels its features with that class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hx.registry import Registry

if TYPE_CHECKING:
    from hx.heal.records import Incident
    from hx.platform import Platform


@dataclass(frozen=True)
class Examples:
    """Labelled examples in time order: features, label, when it was labelled, the rules' answer."""

    x: np.ndarray
    y: list[str]
    at: list[datetime]
    rules: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def since(self, t: datetime) -> Examples:
        keep = [i for i, a in enumerate(self.at) if a > t]
        return self.take(keep)

    def until(self, t: datetime) -> Examples:
        return self.take([i for i, a in enumerate(self.at) if a <= t])

    def take(self, idx: Sequence[int]) -> Examples:
        ix = np.asarray(idx, dtype=np.int64)
        return Examples(
            self.x[ix] if len(ix) else self.x[:0],
            [self.y[i] for i in idx],
            [self.at[i] for i in idx],
            [self.rules[i] for i in idx] if self.rules else [],
        )


def _sorted(rows: list[tuple[datetime, list[float], str, str]], width: int) -> Examples:
    rows.sort(key=lambda r: r[0])
    x = np.asarray([r[1] for r in rows], dtype=np.float64).reshape(-1, width)
    return Examples(x, [r[2] for r in rows], [r[0] for r in rows], [r[3] for r in rows])


class Learner(Protocol):
    model_name: str
    min_examples: int

    def examples(self, platform: Platform) -> Examples: ...

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any: ...

    def predict(self, model: Any, x: np.ndarray) -> list[str]: ...


LEARNERS: Registry[Learner] = Registry("learner")


class StrategyLearner:
    """The deployment strategy model (a Random Forest over the risk factors)."""

    model_name = "deploy-strategy"
    min_examples = 10

    def examples(self, platform: Platform) -> Examples:
        from hx.deploy.decision import rule_strategy
        from hx.deploy.examples import labelled_rollouts
        from hx.deploy.risk import FEATURES, Risk

        rows = []
        for d in labelled_rollouts(platform):
            risk = Risk(float(d.risk.get("score", 0.0)), {k: float(d.risk["factors"][k]) for k in FEATURES})
            rows.append((d.finished_at or d.updated_at, risk.features(), d.strategy, rule_strategy(risk)))
        return _sorted(rows, len(FEATURES))

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any:
        from hx.deploy.decision import StrategyModel

        return StrategyModel(seed=seed).fit(x, np.asarray(y))

    def predict(self, model: Any, x: np.ndarray) -> list[str]:
        return [str(c) for c in model.model.predict(x)] if len(x) else []


class IncidentLearner:
    """The incident classifier (a Random Forest over the incident's features)."""

    model_name = "heal.incident_classifier"
    min_examples = 20

    def examples(self, platform: Platform) -> Examples:
        from hx.heal.classify import CLASSES, classify_rules
        from hx.heal.features import FEATURE_NAMES, vector
        from hx.heal.records import IncidentRepo

        repo = IncidentRepo(platform.store)
        rows = []
        for inc in repo.list(status=("resolved",), limit=100_000):
            if not inc.features or inc.resolved_at is None:
                continue
            label, at = _incident_label(repo.timeline(inc.id), inc)
            if label is None or label not in CLASSES:
                continue
            rows.append((at, vector(inc.features).tolist(), label, classify_rules(inc.features)[0]))
        return _sorted(rows, len(FEATURE_NAMES))

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any:
        from hx.heal.classify import IncidentForest

        return IncidentForest(random_state=seed).fit(x, list(y))

    def predict(self, model: Any, x: np.ndarray) -> list[str]:
        return list(model.predict(x)) if len(x) else []


def _incident_label(timeline: Sequence[dict[str, Any]], inc: Incident) -> tuple[str | None, datetime]:
    """A person's label wins (the latest one); else a verified runbook's fix confirms the class it was run for."""
    for entry in reversed(timeline):
        if entry["kind"] == "labelled":
            return str(entry["detail"]["class"]), datetime.fromisoformat(entry["ts"])
    return (inc.incident_class if inc.healed_by_runbook else None), inc.resolved_at or inc.updated_at


LEARNERS.add(StrategyLearner.model_name, StrategyLearner())
LEARNERS.add(IncidentLearner.model_name, IncidentLearner())
