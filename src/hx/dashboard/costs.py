"""The cost dashboard: spend by service and by cloud, right-sizing with the capacity saved and the risk of
exceeding it, and placement plans with their savings against greedy and the best single cloud.

Spend by service and right-sizing are :func:`hx.cost.recommend` over each service's utilisation and replicas
from the signal source in the window (as ``GET /api/v1/cost/rightsizing``, with its per-replica size and the
configured prices, without publishing a report); spend by cloud and the plans are the placement decisions and
cost reports recorded in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hx.cost import Prices, recommend
from hx.dashboard.window import Window, event_rows, latest_event_at
from hx.errors import HxError
from hx.events import EventType

if TYPE_CHECKING:
    from hx.platform import Platform
    from hx.telemetry.base import SignalSource

#: the fewest finite utilisation points a recommendation is made from
MIN_POINTS = 12


@dataclass(frozen=True)
class ReplicaSize:
    """What one replica of a service is sized at (the rightsizing route's defaults)."""

    vcpu: float = 2.0
    gib: float = 4.0


def _usage(source: SignalSource, service: str, window: Window) -> tuple[np.ndarray, ...]:
    step = max(300.0, window.step_s())
    cpu = source.signal(service, "cpu_utilization", window.since, window.until, step)
    mem = source.signal(service, "memory_utilization", window.since, window.until, step)
    rep = source.signal(service, "replicas", window.since, window.until, step)
    return cpu.timestamps, cpu.values, mem.values, rep.values


def _one(service: str, usage: tuple[np.ndarray, ...], size: ReplicaSize, prices: Prices) -> dict[str, Any] | str:
    ts, cpu, mem, replicas = usage
    if not np.isfinite(replicas).any() or np.isfinite(cpu).sum() < MIN_POINTS:
        return "not enough history in the window"
    current = float(np.nanmax(replicas))
    spend = float(np.nanmean(replicas)) * (size.vcpu * prices.vcpu_hour + size.gib * prices.gib_hour)
    rec = recommend(service, ts, cpu * replicas * size.vcpu, mem * replicas * size.gib,
                    current_cpu=current * size.vcpu, current_memory_gib=current * size.gib, prices=prices)  # fmt: skip
    out = rec.to_dict()
    out.pop("basis", None)
    out["spend_usd_per_hour"] = round(spend, 4)
    out["cpu_saved"] = round(current * size.vcpu - rec.cpu, 3)
    out["memory_gib_saved"] = round(current * size.gib - rec.memory_gib, 3)
    return out


def rightsizing(platform: Platform, window: Window, size: ReplicaSize) -> dict[str, Any]:
    """Per service: spend in the window and the right-sizing recommendation; services skipped, with why."""
    cfg = platform.settings.intelligent_monitoring.cost_optimization
    prices = Prices(vcpu_hour=cfg.cpu_hour_usd, gib_hour=cfg.gib_hour_usd)
    source = platform.source
    if source is None:
        return {"services": [], "skipped": {"*": "this component has no signal source (telemetry.source)"}}
    found, skipped = [], {}
    for service in source.services():
        try:
            res = _one(service, _usage(source, service, window), size, prices)
        except HxError as err:
            res = str(err)
        if isinstance(res, str):
            skipped[service] = res
        else:
            found.append(res)
    return {"services": found, "skipped": skipped, "replica": size.__dict__, "prices": prices.__dict__}


def placements(platform: Platform, window: Window) -> list[dict[str, Any]]:
    """Placement decisions in the window: spend by cloud, total, and the savings against the references."""
    return [{"ts": r["ts"], **r["data"]} for r in event_rows(platform, (EventType.PLACEMENT_DECIDED.value,), window)]


def reports(platform: Platform, window: Window) -> list[dict[str, Any]]:
    return [{"ts": r["ts"], **r["data"]} for r in event_rows(platform, (EventType.COST_REPORT.value,), window)]


def costs(platform: Platform, window: Window, size: ReplicaSize) -> dict[str, Any]:
    """Everything the cost page draws."""
    return {
        "window": window.to_json(),
        "latest_event_at": latest_event_at(platform),
        "rightsizing": rightsizing(platform, window, size),
        "placements": placements(platform, window),
        "reports": reports(platform, window),
    }
