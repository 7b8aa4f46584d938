"""Contract checks for learners, shipped with the library (as river ships ``check_estimator``).

A plugin author runs :func:`check_learner` on their own learner before registering it; hx's test suite runs
it over every registered learner.  Each check raises :class:`LearnerCheckFailed` naming the learner, the
check and what was expected.  The checks run on a temporary, empty store and on synthetic features.

>>> from hx.components import register_learners
>>> from hx.ml.learners import LEARNERS
>>> modules = register_learners()
>>> check_learner(LEARNERS.get("deploy-strategy"))  # silent when the learner keeps the contract
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from hx.config import load_settings
from hx.errors import HxError, LearnerCheckFailed
from hx.ml.learners import Examples, Learner
from hx.ml.registry import ModelRegistry
from hx.platform import Platform, build_platform

Check = Callable[[Learner, Platform], None]


def _fail(learner: Learner, check: str, why: str) -> LearnerCheckFailed:
    name = getattr(learner, "model_name", type(learner).__name__)
    return LearnerCheckFailed(f"learner {name!r} fails {check}: {why}")


def _synthetic(learner: Learner, platform: Platform, seed: int) -> tuple[np.ndarray, list[str]]:
    """Features of the learner's width with every label represented, enough rows for ``min_examples``."""
    width = learner.examples(platform).x.shape[1]
    n = max(2 * learner.min_examples, 4 * len(learner.labels), 20)
    x = np.random.default_rng(seed).uniform(size=(n, width))
    return x, [learner.labels[i % len(learner.labels)] for i in range(n)]


def check_attributes(learner: Learner, platform: Platform) -> None:
    if not isinstance(learner.model_name, str) or not learner.model_name:
        raise _fail(learner, "check_attributes", "model_name must be a non-empty string")
    if not isinstance(learner.min_examples, int) or learner.min_examples < 1:
        raise _fail(learner, "check_attributes", f"min_examples must be an int >= 1, got {learner.min_examples!r}")
    if len(learner.labels) < 2 or not all(isinstance(v, str) for v in learner.labels):
        raise _fail(learner, "check_attributes", "labels must name at least two string labels")


def check_examples_of_an_empty_history(learner: Learner, platform: Platform) -> None:
    ex = learner.examples(platform)
    if not isinstance(ex, Examples):
        raise _fail(learner, "check_examples_of_an_empty_history", f"examples() returned {type(ex).__name__}")
    if len(ex) != 0 or ex.x.ndim != 2 or ex.x.shape[1] < 1:
        raise _fail(learner, "check_examples_of_an_empty_history",
                    f"an empty history gives no examples of a fixed width, got shape {ex.x.shape}")  # fmt: skip


def check_fit_predict(learner: Learner, platform: Platform) -> None:
    x, y = _synthetic(learner, platform, 0)
    model = learner.fit(x, y, 0)
    pred = learner.predict(model, x)
    if len(pred) != len(x) or not all(isinstance(p, str) and p in learner.labels for p in pred):
        raise _fail(learner, "check_fit_predict", "predict() must give one known string label per row")
    if learner.predict(model, x[:0]) != []:
        raise _fail(learner, "check_fit_predict", "predict() on no rows must give []")


def check_deterministic_under_a_seed(learner: Learner, platform: Platform) -> None:
    x, y = _synthetic(learner, platform, 1)
    fresh = np.random.default_rng(2).uniform(size=x.shape)
    a, b = (learner.predict(learner.fit(x, y, 7), fresh) for _ in range(2))
    if a != b:
        raise _fail(learner, "check_deterministic_under_a_seed", "two fits with one seed predict differently")


def check_registry_round_trip(learner: Learner, platform: Platform) -> None:
    """The fitted model follows the persistence contract: saved and loaded, it predicts the same."""
    x, y = _synthetic(learner, platform, 3)
    model = learner.fit(x, y, 0)
    registry = ModelRegistry(platform.store, platform.sealer, platform.clock)
    try:
        registry.save(learner.model_name, model, metrics={}, data_fingerprint="check", training_data="simulated")
        loaded, _ = registry.load(learner.model_name, version=registry.versions(learner.model_name)[-1].version)
    except (AttributeError, HxError) as err:
        raise _fail(learner, "check_registry_round_trip", f"{type(err).__name__}: {err}") from err
    if learner.predict(loaded, x) != learner.predict(model, x):
        raise _fail(learner, "check_registry_round_trip", "the loaded model predicts differently")


def yield_checks(learner: Learner) -> Iterator[Check]:
    """Every check, in order (the first ones are what the later ones rely on)."""
    yield check_attributes
    yield check_examples_of_an_empty_history
    yield check_fit_predict
    yield check_deterministic_under_a_seed
    yield check_registry_round_trip


def check_learner(learner: Learner, platform: Platform | None = None) -> None:
    """Run every check on ``learner`` (on ``platform``, else a temporary empty one); raise on the first failure."""
    if platform is not None:
        _run(learner, platform)
        return
    with tempfile.TemporaryDirectory(prefix="hx-check-learner-") as tmp:
        p = build_platform(load_settings(environ={"HX_HOME": str(Path(tmp) / "hx")}).settings)
        try:
            _run(learner, p)
        finally:
            p.store.dispose()


def _run(learner: Learner, platform: Platform) -> None:
    for check in yield_checks(learner):
        check(learner, platform)
