"""The optimisation cycle: KPIs and quality gates, then for each learner: track the promoted model's
accuracy on live outcomes (falling back to the rules when they do better), judge the shadow model on
outcomes that arrived after it was trained (promote or retire it), and train a new shadow when there
is new labelled history and the retraining interval has passed.

Every step is recorded: an ``improvement.cycle`` event with the whole report, an
``improvement.quality_gate`` event per failing gate, ``model.trained`` events, the registry's
``model.promoted`` / ``model.retired`` events and an audit record for every change of a model's stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hx.errors import ModelError
from hx.events import ImprovementReport, ModelTrained, QualityGateFailed
from hx.improve import detection
from hx.improve import gates as gates_mod
from hx.improve import kpis as kpis_mod
from hx.improve.shadow import accuracy, judge_live, judge_shadow
from hx.ml.learners import LEARNERS, Examples, Learner
from hx.ml.registry import ModelVersion, StageChange, fingerprint

if TYPE_CHECKING:
    from hx.platform import Platform

log = logging.getLogger(__name__)

ACTOR = "hx:continuous-improvement"
SOURCE = "continuous-improvement"
HOLDOUT_SHARE = 0.2


@dataclass
class ModelReview:
    """What one cycle found and did for one model."""

    model: str
    examples: int
    promoted: int | None = None
    shadow: int | None = None
    live: dict[str, Any] = field(default_factory=dict)
    shadow_eval: dict[str, Any] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ImprovementCycle:
    """One cycle over the platform's history; :meth:`run` is what the engine, API and CLI call."""

    def __init__(self, platform: Platform, learners: list[str] | None = None, seed: int = 0) -> None:
        self.platform = platform
        self.cfg = platform.settings.continuous_improvement
        self.learners = [LEARNERS.get(n) for n in (learners if learners is not None else LEARNERS.names())]
        self.seed = seed
        gates_mod.check_metrics(self.cfg.quality_gates, kpis_mod.KPIS, LEARNERS.names())

    # ---- KPIs and gates ----------------------------------------------------------------------------

    def kpis(self, now: datetime) -> dict[str, float | None]:
        return kpis_mod.compute(kpis_mod.gather(self.platform, now, self.cfg.kpi_window_s))

    def run(self, now: datetime | None = None, *, train: bool = True) -> dict[str, Any]:
        now = now or self.platform.clock.now()
        values = self.kpis(now)
        reviews = [self.review(lr, now, train=train) for lr in self.learners]
        for r in reviews:
            values[f"model.{r.model}.live_accuracy"] = r.live.get("accuracy")
            values[f"model.{r.model}.rules_accuracy"] = r.live.get("rules_accuracy")
        results = gates_mod.evaluate(self.cfg.quality_gates, values)
        for g in results:
            if g.status == "fail":
                failed = QualityGateFailed.model_validate(g.to_json())
                self.platform.bus.publish(failed, source=SOURCE, subject=g.metric)
        report = {
            "at": now.isoformat(),
            "window_s": self.cfg.kpi_window_s,
            "kpis": values,
            "gates": [g.to_json() for g in results],
            "passed": all(g.status != "fail" for g in results),
            "models": [r.to_json() for r in reviews],
            "detector": self.detector_review(now),
            "recommendations": [f"{g.name}: {g.advice}" for g in results if g.advice],
        }
        self.platform.bus.publish(ImprovementReport.model_validate(report), source=SOURCE, subject="cycle")
        return report

    def detector_review(self, now: datetime) -> dict[str, Any]:
        """The anomaly detector evaluated on the window's labelled anomalies (see :mod:`hx.improve.detection`)."""
        ad = self.platform.settings.intelligent_monitoring.anomaly_detection
        targets = [g.min for g in self.cfg.quality_gates if g.metric == "detect.precision" and g.min is not None]
        rows = detection.gather(self.platform, now, self.cfg.kpi_window_s)
        return detection.review(rows, ad.alert_threshold, max(targets) if targets else None)

    # ---- models ------------------------------------------------------------------------------------

    def review(self, learner: Learner, now: datetime, *, train: bool = True) -> ModelReview:
        models = self.platform.models
        name = learner.model_name
        ex = learner.examples(self.platform).until(now)
        promoted, shadow = models.latest(name, "promoted"), models.latest(name, "shadow")
        rv = ModelReview(name, len(ex), promoted.version if promoted else None, shadow.version if shadow else None)
        incumbent = self._load(name, promoted)
        if promoted is not None and incumbent is not None:
            live = ex.since(promoted.created_at)
            rv.live = self._score(learner, incumbent, live)
            verdict = judge_live(n=len(live), model_acc=rv.live["accuracy"], rules_acc=rv.live["rules_accuracy"],
                                 min_samples=self.cfg.shadow_min_samples)  # fmt: skip
            if verdict == "fallback":
                why = f"live accuracy {rv.live['accuracy']} < rules {rv.live['rules_accuracy']} on {len(live)} outcomes"
                self._set_stage(name, promoted.version, "retired", why)
                rv.actions.append(f"retired v{promoted.version}, rules in use: {why}")
                promoted, incumbent = None, None
        elif len(ex):
            rv.live = {"n": len(ex), "accuracy": None, "rules_accuracy": accuracy(ex.rules, ex.y), "in_use": "rules"}
        if shadow is not None:
            self._judge_shadow(learner, rv, ex, shadow, incumbent)
        elif train:
            self._maybe_train(learner, rv, ex, now)
        return rv

    def _score(self, learner: Learner, model: Any, ex: Examples) -> dict[str, Any]:
        pred = learner.predict(model, ex.x)
        return {"n": len(ex), "accuracy": accuracy(pred, ex.y), "rules_accuracy": accuracy(ex.rules, ex.y),
                "in_use": "model"}  # fmt: skip

    def _judge_shadow(self, learner: Learner, rv: ModelReview, ex: Examples, shadow: ModelVersion,
                      incumbent: Any) -> None:  # fmt: skip
        name = learner.model_name
        model = self._load(name, shadow)
        if model is None:
            self._set_stage(name, shadow.version, "retired", "failed to load")
            rv.actions.append(f"retired shadow v{shadow.version}: it failed to load")
            return
        live = ex.since(shadow.created_at)
        s_acc = accuracy(learner.predict(model, live.x), live.y)
        inc_pred = learner.predict(incumbent, live.x) if incumbent is not None else live.rules
        i_acc = accuracy(inc_pred, live.y)
        rv.shadow_eval = {"n": len(live), "shadow_accuracy": s_acc, "incumbent_accuracy": i_acc,
                          "incumbent": "model" if incumbent is not None else "rules",
                          "needs": self.cfg.shadow_min_samples}  # fmt: skip
        verdict = judge_shadow(n=len(live), shadow_acc=s_acc, incumbent_acc=i_acc,
                               min_samples=self.cfg.shadow_min_samples, margin=self.cfg.promotion_margin)  # fmt: skip
        why = f"shadow {s_acc} vs {rv.shadow_eval['incumbent']} {i_acc} on {len(live)} live outcomes"
        if verdict == "promote":
            self._set_stage(name, shadow.version, "promoted", why)
            rv.actions.append(f"promoted v{shadow.version}: {why}")
        elif verdict == "retire":
            self._set_stage(name, shadow.version, "retired", why)
            rv.actions.append(f"retired shadow v{shadow.version}: {why}")
        else:
            need = self.cfg.shadow_min_samples
            rv.actions.append(f"shadow v{shadow.version} waiting: {len(live)} of {need} live outcomes")

    def _maybe_train(self, learner: Learner, rv: ModelReview, ex: Examples, now: datetime) -> None:
        name = learner.model_name
        versions = self.platform.models.versions(name)
        last = versions[-1] if versions else None
        if len(ex) < learner.min_examples or len(set(ex.y)) < 2:
            rv.actions.append(f"not trained: {len(ex)} labelled examples, {len(set(ex.y))} label(s)")
            return
        if last is not None and last.training_data == "history":
            if (now - last.created_at).total_seconds() < self.cfg.retrain_interval_s:
                rv.actions.append(f"not trained: v{last.version} is younger than retrain_interval_s")
                return
            if int(last.metrics.get("examples", 0)) >= len(ex):
                rv.actions.append("not trained: no new labelled examples since the last training")
                return
        metrics = self._holdout(learner, ex)
        model = learner.fit(ex.x, ex.y, self.seed)
        mv = self.platform.models.save(name, model, metrics=metrics, data_fingerprint=fingerprint(ex.x, ex.y),
                                       training_data="history")  # fmt: skip
        self._set_stage(name, mv.version, "shadow", f"trained on {len(ex)} labelled outcomes")
        self.platform.bus.publish(ModelTrained.model_validate({**mv.to_json(), "stage": "shadow"}), source=SOURCE,
                                  subject=name)  # fmt: skip
        rv.shadow = mv.version
        rv.actions.append(f"trained shadow v{mv.version} on {len(ex)} examples (holdout {metrics['holdout_accuracy']})")

    def _holdout(self, learner: Learner, ex: Examples) -> dict[str, Any]:
        """Fit on the older 80 %, score on the newest 20 % (time order: no look-ahead)."""
        n_test = int(len(ex) * HOLDOUT_SHARE)
        out: dict[str, Any] = {"examples": len(ex), "holdout_accuracy": None, "holdout_rules_accuracy": None}
        train, test = ex.take(range(len(ex) - n_test)), ex.take(range(len(ex) - n_test, len(ex)))
        if n_test >= 5 and len(train) >= learner.min_examples and len(set(train.y)) >= 2:
            model = learner.fit(train.x, train.y, self.seed)
            out["holdout_accuracy"] = accuracy(learner.predict(model, test.x), test.y)
            out["holdout_rules_accuracy"] = accuracy(test.rules, test.y)
        return out

    def _load(self, name: str, meta: ModelVersion | None) -> Any:
        if meta is None:
            return None
        try:
            return self.platform.models.load(name, meta.version)[0]
        except ModelError as err:
            log.error("model %s v%s failed to load for review: %s", name, meta.version, err)
            return None

    def _set_stage(self, name: str, version: int, stage: str, why: str) -> None:
        """The registry publishes ``model.promoted`` / ``model.retired``; the cycle audits its reason."""
        self.platform.models.set_stage(name, version, stage, StageChange(actor=ACTOR, reason=why))
        self.platform.audit.append(ACTOR, f"model.{stage}", f"{name} v{version}", "ok", {"reason": why})


class ImprovementEngine:
    """Runs a cycle every ``continuous_improvement.cycle_interval_s``."""

    name = "improvement"

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.cycle = ImprovementCycle(platform)
        self.interval_s = platform.settings.continuous_improvement.cycle_interval_s
        self.last: dict[str, Any] | None = None

    def step(self, now: datetime) -> None:
        if self.platform.settings.continuous_improvement.enabled:
            self.last = self.cycle.run(now)

    def health(self) -> dict[str, Any]:
        if self.last is None:
            return {"status": "ok", "cycles": "none yet"}
        failing = [g["name"] for g in self.last["gates"] if g["status"] == "fail"]
        return {"status": "ok", "last_cycle": self.last["at"], "failing_gates": failing}
