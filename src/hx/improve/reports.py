"""Past optimisation cycles, read back from their ``improvement.cycle`` events (newest first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hx.events import EventType
from hx.store.tables import events

if TYPE_CHECKING:
    from hx.platform import Platform


def recent(platform: Platform, limit: int = 10) -> list[dict[str, Any]]:
    q = (
        select(events.c.id, events.c.data)
        .where(events.c.type == EventType.IMPROVEMENT_CYCLE.value)
        .order_by(events.c.id.desc())
        .limit(max(1, limit))
    )
    with platform.store.begin() as conn:
        return [{"event": int(r.id), **r.data} for r in conn.execute(q)]


def latest(platform: Platform) -> dict[str, Any] | None:
    found = recent(platform, 1)
    return found[0] if found else None


def gates_now(platform: Platform) -> dict[str, Any]:
    """Every quality gate against the KPIs now, without acting on models: model gates use the latest cycle's
    live accuracy.  A gate on a KPI nobody computes is a :class:`~hx.errors.ConfigError`."""
    from hx.improve import gates, kpis
    from hx.ml.learners import LEARNERS

    cfg = platform.settings.continuous_improvement
    gates.check_metrics(cfg.quality_gates, kpis.KPIS, LEARNERS.names())
    now = platform.clock.now()
    values = kpis.compute(kpis.gather(platform, now, cfg.kpi_window_s))
    last = latest(platform)
    values.update({k: v for k, v in (last or {}).get("kpis", {}).items() if k.startswith("model.")})
    results = [g.to_json() for g in gates.evaluate(cfg.quality_gates, values)]
    return {"at": now.isoformat(), "passed": all(g["status"] != "fail" for g in results), "gates": results,
            "models_reviewed_at": last["at"] if last else None}  # fmt: skip


def model_status(platform: Platform, names: list[str]) -> list[dict[str, Any]]:
    """Each learner's versions and stages, and what the latest cycle measured of it."""
    last = latest(platform)
    reviews = {m["model"]: m for m in (last or {}).get("models", [])}
    out = []
    for name in names:
        versions = platform.models.versions(name)
        out.append(
            {
                "model": name,
                "versions": [
                    {
                        "version": v.version,
                        "stage": v.stage,
                        "training_data": v.training_data,
                        "created_at": v.created_at.isoformat(),
                        "metrics": dict(v.metrics),
                    }
                    for v in versions
                ],
                "last_review": reviews.get(name),
                "reviewed_at": last["at"] if last else None,
            }
        )
    return out
