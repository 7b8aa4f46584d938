"""Labelled examples for the strategy model from recorded rollouts: what a past deployment's strategy taught."""

from __future__ import annotations

import numpy as np

from hx.deploy.records import Deployment, DeploymentRepo
from hx.deploy.risk import FEATURES
from hx.platform import Platform

#: fewer labelled rollouts than this and the strategy model is trained on simulated ones (:mod:`hx.lab`)
MIN_HISTORY = 30


def labelled_rollouts(platform: Platform) -> list[Deployment]:
    """Past deployments whose strategy did its job: promoted, or a bad change caught by its canary."""
    out = []
    for d in DeploymentRepo(platform.store).list(limit=100000):
        factors = d.risk.get("factors", {})
        if d.state not in ("promoted", "rolled_back") or any(k not in factors for k in FEATURES):
            continue
        if d.state == "rolled_back" and not d.reason.startswith("canary failed"):
            continue
        out.append(d)
    return out


def history_dataset(platform: Platform) -> tuple[np.ndarray, np.ndarray]:
    """(features, strategy) of the labelled rollouts."""
    rows, labels = [], []
    for d in labelled_rollouts(platform):
        rows.append([float(d.risk["factors"][k]) for k in FEATURES])
        labels.append(d.strategy)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(labels)
