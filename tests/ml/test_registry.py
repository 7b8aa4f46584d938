from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sqlalchemy import select, update

from hx.errors import BadInput, ModelError, NotFound
from hx.ml.registry import ModelRegistry, fingerprint, load_or_fallback
from hx.security.sealing import Sealer
from hx.store import Store
from hx.store.tables import models as models_table


class TinyForest:
    """A persistable wrapper used by the test (the engines' models follow the same contract)."""

    def __init__(self, n_estimators: int = 5, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.seed = seed
        self.model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)

    def get_config(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "seed": self.seed}

    def get_state(self) -> dict[str, Any]:
        return {"model": self.model}

    def set_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]


class Broken(TinyForest):
    def set_state(self, state: dict[str, Any]) -> None:
        raise ValueError("corrupt state")


@pytest.fixture
def registry(store_url: str) -> ModelRegistry:
    store = Store(store_url)
    store.upgrade()
    return ModelRegistry(store, Sealer.derive(b"k" * 32, "state"))


def test_save_load_promote(registry: ModelRegistry) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    m = TinyForest()
    m.model.fit(x, y)
    fp = fingerprint(x, y)
    v1 = registry.save("clf", m, metrics={"accuracy": 0.9}, data_fingerprint=fp, training_data="simulated")
    assert v1.version == 1 and v1.stage == "candidate"
    assert load_or_fallback(registry, "clf").in_use == "rules"
    registry.promote("clf", 1)
    handle = load_or_fallback(registry, "clf")
    assert handle.in_use == "model" and handle.meta is not None
    assert handle.meta.training_data == "simulated"
    assert handle.model is not None and np.array_equal(handle.model.model.predict(x), m.model.predict(x))
    v2 = registry.save("clf", m, metrics={"accuracy": 0.95}, data_fingerprint=fp, training_data="history", promote=True)
    assert v2.version == 2
    stages = {v.version: v.stage for v in registry.versions("clf")}
    assert stages == {1: "retired", 2: "promoted"}
    assert fingerprint(x, y) == fp and fingerprint(x, y[::-1]) != fp


def test_broken_model_falls_back_to_rules(registry: ModelRegistry) -> None:
    registry.save("b", Broken(), metrics={}, data_fingerprint="x", training_data="simulated", promote=True)
    handle = load_or_fallback(registry, "b")
    assert handle.in_use == "rules" and "failed to load" in handle.reason


def test_errors(registry: ModelRegistry) -> None:
    with pytest.raises(NotFound):
        registry.promote("nope", 1)
    with pytest.raises(BadInput, match="unknown stage"):
        registry.set_stage("nope", 1, "prod")


class _Exploit:
    """Unpickling this writes a file: what a forged state row would do if it were ever unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def _write_state(registry: ModelRegistry, name: str, version: int, blob: bytes) -> None:
    with registry.store.begin() as conn:
        conn.execute(
            update(models_table)
            .where(models_table.c.name == name, models_table.c.version == version)
            .values(state=blob)
        )


def test_a_forged_or_old_pickle_in_the_store_is_refused_not_unpickled(registry: ModelRegistry, tmp_path: Path) -> None:
    registry.save("clf", TinyForest(), metrics={}, data_fingerprint="x", training_data="simulated", promote=True)
    marker = tmp_path / "pwned"
    _write_state(registry, "clf", 1, pickle.dumps(_Exploit(str(marker))))  # an old-style (unsealed) row
    handle = load_or_fallback(registry, "clf")
    assert handle.in_use == "rules" and "not sealed state" in handle.reason and "retrain" in handle.reason
    forged = Sealer.derive(b"x" * 32, "state").dumps(_Exploit(str(marker)), "model:clf:1")
    _write_state(registry, "clf", 1, forged)  # sealed, but with another key
    with pytest.raises(ModelError, match="MAC does not hold"):
        registry.load("clf")
    assert not marker.exists()


def test_a_state_copied_from_another_version_is_refused(registry: ModelRegistry) -> None:
    registry.save("clf", TinyForest(), metrics={}, data_fingerprint="x", training_data="simulated")
    registry.save("clf", TinyForest(seed=1), metrics={}, data_fingerprint="x", training_data="simulated")
    with registry.store.begin() as conn:
        v1 = conn.execute(select(models_table.c.state).where(models_table.c.version == 1)).scalar_one()
    _write_state(registry, "clf", 2, bytes(v1))
    registry.load("clf", 1)
    with pytest.raises(ModelError, match="model:clf:2"):
        registry.load("clf", 2)
