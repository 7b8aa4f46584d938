"""The model registry: a saved model is its config + state + evaluation metrics + data fingerprint.

Models follow one persistence contract (``get_config()``, ``get_state()``, ``set_state()``,
``clone()``); the registry stores the class path, the config as JSON and the state pickled.
Engines load the latest *promoted* version and fall back to rules when there is none or it
fails to load -- ``ModelHandle.in_use`` says which, and ``/health`` shows it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import func, insert, select, update

from hx.clock import Clock, WallClock
from hx.errors import BadInput, ModelError, NotFound
from hx.store import Store
from hx.store.tables import models as models_table

log = logging.getLogger(__name__)

TrainingData = Literal["simulated", "history", "benchmark", "mixed"]


class Persistable(Protocol):
    def get_config(self) -> dict[str, Any]: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


def fingerprint(*arrays: Any) -> str:
    """A SHA-256 fingerprint of the training data (arrays or JSON-able objects)."""
    h = hashlib.sha256()
    for a in arrays:
        if isinstance(a, np.ndarray):
            h.update(str(a.dtype).encode())
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(json.dumps(a, sort_keys=True, default=str).encode())
    return h.hexdigest()


def class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> type[Any]:
    module, _, name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ModelError(f"cannot import model class {path}: {err}") from err
    if not isinstance(cls, type):
        raise ModelError(f"{path} is not a class")
    return cls


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    kind: str
    created_at: datetime
    stage: str
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    fingerprint: str
    training_data: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "stage": self.stage,
            "config": dict(self.config),
            "metrics": dict(self.metrics),
            "fingerprint": self.fingerprint,
            "training_data": self.training_data,
        }


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        row.name,
        int(row.version),
        row.kind,
        row.created_at,
        row.stage,
        row.config,
        row.metrics,
        row.fingerprint,
        row.training_data,
    )


class ModelRegistry:
    STAGES = ("candidate", "shadow", "promoted", "retired")

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()

    def save(
        self,
        name: str,
        model: Persistable,
        *,
        metrics: Mapping[str, Any],
        data_fingerprint: str,
        training_data: TrainingData,
        promote: bool = False,
    ) -> ModelVersion:
        config = json.loads(json.dumps(model.get_config(), default=str))
        state = pickle.dumps(model.get_state(), protocol=pickle.HIGHEST_PROTOCOL)
        metrics_json = json.loads(json.dumps(dict(metrics), default=float))
        with self.store.begin() as conn:
            current = conn.execute(
                select(func.coalesce(func.max(models_table.c.version), 0)).where(models_table.c.name == name)
            ).scalar_one()
            version = int(current) + 1
            conn.execute(
                insert(models_table).values(
                    name=name,
                    version=version,
                    kind=class_path(model),
                    created_at=self.clock.now(),
                    stage="candidate",
                    config=config,
                    state=state,
                    metrics=metrics_json,
                    fingerprint=data_fingerprint,
                    training_data=training_data,
                )
            )
        if promote:
            self.promote(name, version)
        return self.get(name, version)

    def set_stage(self, name: str, version: int, stage: str) -> None:
        if stage not in self.STAGES:
            raise BadInput(f"unknown stage {stage!r}; valid: {', '.join(self.STAGES)}", field="stage")
        with self.store.begin() as conn:
            if stage == "promoted":
                conn.execute(
                    update(models_table)
                    .where(models_table.c.name == name, models_table.c.stage == "promoted")
                    .values(stage="retired")
                )
            res = conn.execute(
                update(models_table)
                .where(models_table.c.name == name, models_table.c.version == version)
                .values(stage=stage)
            )
        if res.rowcount == 0:
            raise NotFound(f"no model {name!r} version {version}")

    def promote(self, name: str, version: int) -> None:
        self.set_stage(name, version, "promoted")

    def get(self, name: str, version: int) -> ModelVersion:
        with self.store.begin() as conn:
            row = conn.execute(
                select(models_table).where(models_table.c.name == name, models_table.c.version == version)
            ).first()
        if row is None:
            raise NotFound(f"no model {name!r} version {version}")
        return _version(row)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        q = select(models_table).order_by(models_table.c.name, models_table.c.version)
        if name:
            q = q.where(models_table.c.name == name)
        with self.store.begin() as conn:
            return [_version(r) for r in conn.execute(q)]

    def latest(self, name: str, stage: str = "promoted") -> ModelVersion | None:
        with self.store.begin() as conn:
            row = conn.execute(
                select(models_table)
                .where(models_table.c.name == name, models_table.c.stage == stage)
                .order_by(models_table.c.version.desc())
                .limit(1)
            ).first()
        return _version(row) if row else None

    def load(self, name: str, version: int | None = None, stage: str = "promoted") -> tuple[Any, ModelVersion]:
        """Rebuild a model from its class, config and state."""
        meta = self.get(name, version) if version is not None else self.latest(name, stage)
        if meta is None:
            raise NotFound(f"no {stage} version of model {name!r}")
        with self.store.begin() as conn:
            blob = conn.execute(
                select(models_table.c.state).where(models_table.c.name == name, models_table.c.version == meta.version)
            ).scalar_one()
        cls = _import_class(meta.kind)
        try:
            model = cls(**meta.config)
            model.set_state(pickle.loads(blob))  # the store is hx's own, written by save()
        except (TypeError, ValueError, KeyError, pickle.UnpicklingError, AttributeError) as err:
            raise ModelError(f"model {name!r} v{meta.version} failed to load: {err}") from err
        return model, meta


@dataclass
class ModelHandle:
    """What an engine uses: the promoted model if it loads, else the rule-based fallback."""

    name: str
    model: Any | None
    meta: ModelVersion | None
    in_use: Literal["model", "rules"]
    reason: str

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"in_use": self.in_use, "reason": self.reason}
        if self.meta is not None:
            out.update(version=self.meta.version, training_data=self.meta.training_data)
        return out


def load_or_fallback(registry: ModelRegistry, name: str) -> ModelHandle:
    """Load the promoted model, or explain why the rules are in use."""
    try:
        model, meta = registry.load(name)
    except NotFound:
        return ModelHandle(name, None, None, "rules", "no promoted model")
    except ModelError as err:
        log.error("model %s failed to load, using rules: %s", name, err)
        return ModelHandle(name, None, None, "rules", f"model failed to load: {err}")
    return ModelHandle(name, model, meta, "model", f"promoted version {meta.version}")
