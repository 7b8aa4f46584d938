"""The incident classifier's learner, registered with the improvement cycle's learner family.

An incident labelled by a person (``POST /incidents/{id}/label``), or resolved by a verified runbook of
its class, labels its features with that class.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from hx.heal.classify import CLASSES, MODEL_NAME
from hx.ml.learners import LEARNERS, Examples, sorted_examples

if TYPE_CHECKING:
    from hx.heal.records import Incident
    from hx.platform import Platform


class IncidentLearner:
    """The incident classifier (a Random Forest over the incident's features)."""

    model_name = MODEL_NAME
    min_examples = 20
    labels = CLASSES

    def examples(self, platform: Platform) -> Examples:
        from hx.heal.classify import classify_rules
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
        return sorted_examples(rows, len(FEATURE_NAMES))

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


LEARNERS.add(IncidentLearner.model_name, IncidentLearner())
