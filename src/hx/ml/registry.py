"""The model registry: a saved model is its config + state + evaluation metrics + data fingerprint.

Models follow one persistence contract (``get_config()``, ``get_state()``, ``set_state()``,
``clone()``); the registry stores the class path, the config as JSON and the state pickled and sealed with
an HMAC under hx's key, bound to the model's name and version (:mod:`hx.security.sealing`): a state row
written by someone without the key, or copied from another version, is refused before it is unpickled, and
an old unsealed row is refused with a message to retrain (the engine falls back to its rules meanwhile).
Engines load the latest *promoted* version and fall back to rules when there is none or it
fails to load -- ``ModelHandle.in_use`` says which, and ``/health`` shows it.

Every change of stage, whoever makes it (API, CLI, the improvement cycle), is published by the registry
itself as ``model.promoted`` (the version became the promoted one) or ``model.retired`` (a version left
the promoted stage or was retired).  A :class:`ModelWatch` reads those events by cursor, so an engine in
another process uses a newly promoted version on its next step.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from sqlalchemy import func, insert, select, update

from hx.clock import Clock, WallClock
from hx.errors import BadInput, Conflict, IntegrityError, ModelError, NotFound
from hx.events import ModelPromoted, ModelRetired, ModelStageChanged
from hx.security.sealing import Sealer
from hx.store import Store
from hx.store.tables import models as models_table

if TYPE_CHECKING:
    from hx.events import EventBus
    from hx.security.audit import AuditLog

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


@dataclass(frozen=True)
class StageChange:
    """Who changed a model's stage, why, and whether they forced a promotion past the shadow stage."""

    actor: str = "system"
    reason: str = ""
    forced: bool = False


class ModelRegistry:
    """Model versions in the store; publishes ``model.promoted`` / ``model.retired`` on every change of stage."""

    STAGES = ("candidate", "shadow", "promoted", "retired")
    SOURCE = "model-registry"

    def __init__(self, store: Store, sealer: Sealer, clock: Clock | None = None, bus: EventBus | None = None) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock or WallClock()
        self.bus = bus

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
        state = model.get_state()
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
                    state=self.sealer.dumps(state, model_context(name, version)),
                    metrics=metrics_json,
                    fingerprint=data_fingerprint,
                    training_data=training_data,
                )
            )
        if promote:
            self.promote(name, version)
        return self.get(name, version)

    def set_stage(self, name: str, version: int, stage: str, change: StageChange | None = None) -> None:
        """Move a version to ``stage`` (promoting retires the promoted one) and publish what changed."""
        if stage not in self.STAGES:
            raise BadInput(f"unknown stage {stage!r}; valid: {', '.join(self.STAGES)}", field="stage")
        change = change or StageChange()
        with self.store.begin() as conn:
            before = conn.execute(
                select(models_table.c.stage).where(models_table.c.name == name, models_table.c.version == version)
            ).first()
            if before is None:
                raise NotFound(f"no model {name!r} version {version}")
            displaced: list[int] = []
            if stage == "promoted":
                displaced = [int(v) for v in conn.execute(
                    select(models_table.c.version).where(models_table.c.name == name,
                                                         models_table.c.stage == "promoted",
                                                         models_table.c.version != version)
                ).scalars()]  # fmt: skip
                conn.execute(
                    update(models_table)
                    .where(models_table.c.name == name, models_table.c.stage == "promoted")
                    .values(stage="retired")
                )
            conn.execute(
                update(models_table)
                .where(models_table.c.name == name, models_table.c.version == version)
                .values(stage=stage)
            )
        for old in displaced:
            self._publish(name, old, "retired", "promoted", replace(change, reason=f"replaced by v{version}"))
        self._publish(name, version, stage, str(before.stage), change)

    def _publish(self, name: str, version: int, stage: str, previous: str, change: StageChange) -> None:
        """``model.promoted`` when a version becomes the promoted one; ``model.retired`` when one is retired or
        leaves the promoted stage (what engines using the model must know); other moves publish nothing."""
        if self.bus is None or stage == previous:
            return
        kind: type[ModelStageChanged]
        if stage == "promoted":
            kind = ModelPromoted
        elif stage == "retired" or previous == "promoted":
            kind = ModelRetired
        else:
            return
        payload = kind(model=name, version=version, stage=stage, previous_stage=previous, actor=change.actor,
                       reason=change.reason, forced=change.forced)  # fmt: skip
        self.bus.publish(payload, source=self.SOURCE, subject=name)

    def promote(self, name: str, version: int, change: StageChange | None = None) -> None:
        self.set_stage(name, version, "promoted", change)

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
        try:
            state = self.sealer.loads(bytes(blob), model_context(name, meta.version))
        except IntegrityError as err:
            raise ModelError(
                f"model {name!r} v{meta.version} refused: {err}; retrain the model to replace it",
                model=name,
                version=meta.version,
            ) from err
        cls = _import_class(meta.kind)
        try:
            model = cls(**meta.config)
            model.set_state(state)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise ModelError(f"model {name!r} v{meta.version} failed to load: {err}") from err
        return model, meta


def model_context(name: str, version: int) -> str:
    """What a model's sealed state is bound to: its name and version."""
    return f"model:{name}:{version}"


FORCED_ACTION = "model.promoted_forced"


def register_trained(
    registry: ModelRegistry,
    audit: AuditLog,
    name: str,
    model: Persistable,
    *,
    metrics: Mapping[str, Any],
    data_fingerprint: str,
    training_data: TrainingData,
    actor: str,
    force: bool = False,
) -> ModelVersion:
    """Save a newly trained model in *shadow* (the improvement cycle judges it on live outcomes before it is
    promoted), or promote it at once when the user forces it -- audited as ``model.promoted_forced``."""
    mv = registry.save(name, model, metrics=metrics, data_fingerprint=data_fingerprint, training_data=training_data)
    target = f"{name} v{mv.version}"
    if force:
        why = f"forced by {actor}: promoted without a shadow evaluation"
        registry.promote(name, mv.version, StageChange(actor=actor, reason=why, forced=True))
        audit.append(actor, FORCED_ACTION, target, "ok", {"reason": why, "training_data": training_data})
    else:
        why = "trained: in shadow until the improvement cycle judges it on live outcomes"
        registry.set_stage(name, mv.version, "shadow", StageChange(actor=actor, reason=why))
        audit.append(actor, "model.shadow", target, "ok", {"reason": why, "training_data": training_data})
    return registry.get(name, mv.version)


def promote_checked(registry: ModelRegistry, name: str, version: int, *, actor: str, force: bool = False) -> str:
    """A person promotes a version: one in shadow (or already promoted) as usual; any other only when forced.
    Returns the audit action to record (``model.promoted`` or ``model.promoted_forced``)."""
    stage = registry.get(name, version).stage
    if stage not in ("shadow", "promoted") and not force:
        raise Conflict(
            f"model {name!r} v{version} is {stage}, not in shadow: evaluate it in shadow first, or force the "
            "promotion (--force / force=true; audited as forced)"
        )
    forced = stage not in ("shadow", "promoted")
    registry.promote(name, version, StageChange(actor=actor, reason=f"promoted by {actor}", forced=forced))
    return FORCED_ACTION if forced else "model.promoted"


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


MODEL_STAGE_EVENTS = (ModelPromoted, ModelRetired)


class ModelWatch:
    """An engine's handle on the promoted version of one model, kept current across processes.

    :meth:`refresh` reads ``model.promoted`` / ``model.retired`` by cursor (from the last event id seen when
    the model was loaded) and reloads when one names this model, so a promotion made by the API, the CLI or
    the improvement cycle in any process is used on the engine's next step.  ``handles`` (the platform's
    ``model_handles``) is kept in step for ``/health``.
    """

    def __init__(self, registry: ModelRegistry, bus: EventBus, name: str,
                 handles: dict[str, ModelHandle] | None = None) -> None:  # fmt: skip
        self.registry = registry
        self.bus = bus
        self.name = name
        self.handles = handles if handles is not None else {}
        self.cursor = bus.last_id()  # read before loading: a change made in between is seen on the next refresh
        self.handle = self.reload()

    def reload(self) -> ModelHandle:
        """Load the promoted version now (or fall back to the rules)."""
        self.handle = load_or_fallback(self.registry, self.name)
        self.handles[self.name] = self.handle
        return self.handle

    def refresh(self) -> bool:
        """Catch up on stage changes; reload (once) when one concerns this model.  True when it reloaded."""
        changed = False
        while True:
            events = self.bus.read(after=self.cursor, types=MODEL_STAGE_EVENTS, limit=1000)
            if not events:
                break
            self.cursor = events[-1].id
            changed = changed or any(
                isinstance(e.payload, ModelStageChanged) and e.payload.model == self.name for e in events
            )
        if changed:
            self.reload()
        return changed
