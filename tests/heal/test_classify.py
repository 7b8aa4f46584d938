from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.heal.classify import MODEL_NAME, IncidentForest, classify, classify_rules
from hx.heal.features import FEATURE_NAMES, signal_features
from hx.ml.registry import ModelRegistry, load_or_fallback
from hx.security.sealing import Sealer
from hx.store import Store


def base(**kw: float) -> dict[str, float]:
    return dict.fromkeys(FEATURE_NAMES, 0.0) | {"deploy_age_min": 999.0, "ready_ratio": 1.0} | kw


HOG_WHILE_LOAD_FELL = base(
    cpu_utilization_post=0.66, cpu_utilization_rel=0.3, saturation_pre=0.5, saturation_post=0.18,
    memory_utilization_slope=0.3, memory_utilization_rel=0.1, kw_memory=1.0,
)  # fmt: skip


@pytest.mark.parametrize(
    ("feats", "expected"),
    [
        (base(kw_node=1.0), "node_failure"),
        (base(restarts_pre=0.0, restarts_post=10.0), "crash_loop"),
        (base(disk_utilization_post=0.9), "disk_full"),
        (base(memory_utilization_slope=0.6, memory_utilization_rel=0.5, kw_memory=1.0), "memory_leak"),
        (base(memory_utilization_slope=0.3, memory_utilization_rel=0.2, kw_cpu=1.0), "unknown"),  # no memory alert
        (base(error_rate_post=0.3, error_rate_rel=20.0, deploy_recent=1.0), "error_spike"),
        (base(latency_p99_rel=3.0, deploy_recent=1.0), "latency_regression"),
        (base(error_rate_post=0.9, error_rate_rel=50.0, latency_p99_rel=6.0), "dependency_failure"),
        (base(request_rate_rel=4.0, saturation_post=0.9), "traffic_surge"),
        (base(cpu_utilization_post=0.7, cpu_utilization_rel=5.0), "cpu_saturation"),
        # CPU up while the load fell: the excess over saturation gives the hog away (memory rising with it too)
        (HOG_WHILE_LOAD_FELL, "cpu_saturation"),
        # CPU high because the load is high: not a hog
        (base(cpu_utilization_post=0.8, cpu_utilization_rel=0.3, saturation_pre=0.6, saturation_post=0.78), "unknown"),
        (base(), "unknown"),
    ],
)
def test_rules(feats: dict[str, float], expected: str) -> None:
    assert classify_rules(feats)[0] == expected


def test_signal_features_see_a_rise() -> None:
    t = np.arange(0.0, 7200.0, 60.0)
    v = np.where(t < 3600, 0.3, 0.3 + (t - 3600) / 3600 * 0.5)
    f = signal_features("memory_utilization", t, v, 3600.0)
    assert f["memory_utilization_slope"] == pytest.approx(0.5, rel=0.05)
    assert f["memory_utilization_pre"] == pytest.approx(0.3)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(n):
        if rng.random() < 0.5:
            f = base(disk_utilization_post=rng.uniform(0.7, 1.0), kw_disk=1.0)
            labels.append("disk_full")
        else:
            f = base(memory_utilization_slope=rng.uniform(0.3, 1.0), kw_memory=1.0)
            labels.append("memory_leak")
        rows.append([f[k] for k in FEATURE_NAMES])
    return np.array(rows), labels


def test_forest_round_trips_through_the_registry_and_falls_back_when_unsure(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    store.upgrade()
    registry = ModelRegistry(store, Sealer.derive(b"k" * 32, "state"))
    assert load_or_fallback(registry, MODEL_NAME).in_use == "rules"
    x, y = synthetic(60, 1)
    model = IncidentForest(n_estimators=20).fit(x, y)
    registry.save(
        MODEL_NAME, model, metrics={"acc": 1.0}, data_fingerprint="t", training_data="simulated", promote=True
    )
    handle = load_or_fallback(registry, MODEL_NAME)
    assert handle.in_use == "model" and handle.meta is not None and handle.meta.training_data == "simulated"
    got = classify(base(disk_utilization_post=0.95, kw_disk=1.0), handle, 0.6)
    assert (got.incident_class, got.by) == ("disk_full", "model")
    unsure = classify(base(disk_utilization_post=0.95), handle, 1.01)
    assert unsure.by == "rules" and "below" in unsure.reason
    assert model.clone().get_config() == model.get_config() and not model.clone().fitted
