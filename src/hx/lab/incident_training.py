"""Training the incident classifier on the simulated fault history and keeping it in the model registry."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from hx.events import ModelTrained
from hx.heal.classify import MODEL_NAME, IncidentForest
from hx.heal.features import vector
from hx.lab.heal_scenarios import training_set
from hx.ml.registry import ModelVersion, fingerprint, register_trained
from hx.platform import Platform


def fit_forest(examples: list[dict[str, Any]], seed: int = 0) -> tuple[IncidentForest, dict[str, Any]]:
    """Fit on a stratified 75 % and report held-out accuracy on the rest (then refit on everything)."""
    rng = np.random.default_rng(seed)
    x = np.stack([vector(e["features"]) for e in examples])
    y = [str(e["label"]) for e in examples]
    test = np.zeros(len(y), dtype=bool)
    for label in set(y):
        idx = [i for i, v in enumerate(y) if v == label]
        chosen: Any = rng.choice(idx, size=max(1, len(idx) // 4), replace=False) if len(idx) > 1 else []
        test[list(chosen)] = True
    model = IncidentForest(random_state=seed).fit(x[~test], [y[i] for i in np.flatnonzero(~test)])
    pred = model.predict(x[test]) if test.any() else []
    truth = [y[i] for i in np.flatnonzero(test)]
    acc = float(np.mean([p == t for p, t in zip(pred, truth, strict=True)])) if truth else float("nan")
    final = IncidentForest(random_state=seed).fit(x, y)
    metrics = {"holdout_accuracy": acc, "n_train": int((~test).sum()), "n_holdout": int(test.sum()),
               "classes": dict(Counter(y))}  # fmt: skip
    return final, metrics


def train(platform: Platform, n_per_kind: int = 12, seed: int = 100, force: bool = False,
          actor: str = "hx:self-healing") -> ModelVersion:  # fmt: skip
    """Generate the simulated training set, fit the forest, save it in the registry in shadow (or, when
    ``force``, promoted at once: audited as a forced promotion)."""
    examples = training_set(n_per_kind, seed)
    model, metrics = fit_forest(examples, seed)
    fp = fingerprint(np.stack([vector(e["features"]) for e in examples]), [e["label"] for e in examples])
    mv = register_trained(platform.models, platform.audit, MODEL_NAME, model, metrics=metrics, data_fingerprint=fp,
                          training_data="simulated", actor=actor, force=force)  # fmt: skip
    platform.bus.publish(ModelTrained.model_validate(mv.to_json()), source="self-healing", subject=MODEL_NAME)
    return mv
