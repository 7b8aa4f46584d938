"""The learner family: the models the optimisation cycle keeps improving, one small uniform interface each.

A learner says how to read its labelled examples from the platform's history (each with the time it
was labelled and the rule-based fallback's answer), how to fit a model and how a model predicts.
Labels come from outcomes, never from the model itself being used.

Each model family registers its own learner, in its own package, into :data:`LEARNERS`
(``hx.deploy.learner``: the deployment strategy model; ``hx.heal.learner``: the incident classifier);
the component table names those modules and :func:`hx.components.register_learners` imports them, so the
improvement cycle sees only this protocol.  :func:`hx.improve.checks.check_learner` checks a learner
against the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hx.registry import Registry

if TYPE_CHECKING:
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


def sorted_examples(rows: list[tuple[datetime, list[float], str, str]], width: int) -> Examples:
    """Examples from ``(labelled_at, features, label, rules' answer)`` rows, in time order."""
    rows.sort(key=lambda r: r[0])
    x = np.asarray([r[1] for r in rows], dtype=np.float64).reshape(-1, width)
    return Examples(x, [r[2] for r in rows], [r[0] for r in rows], [r[3] for r in rows])


class Learner(Protocol):
    """A model family the improvement cycle trains, judges in shadow and promotes (see the module docstring)."""

    model_name: str
    min_examples: int
    #: every label the model can be trained on and predict
    labels: tuple[str, ...]

    def examples(self, platform: Platform) -> Examples: ...

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any: ...

    def predict(self, model: Any, x: np.ndarray) -> list[str]: ...


LEARNERS: Registry[Learner] = Registry("learner")
