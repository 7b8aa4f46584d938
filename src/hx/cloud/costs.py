"""Cost analysis: current versus optimal per workload, per cloud and in total, and what-ifs."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog, Location
from hx.cloud.placement import PlacementOptions, as_estate, place
from hx.cloud.plan import PlacementPlan
from hx.cloud.workload import Estate, Workload, single_cloud_variant


class WorkloadCost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workload: str
    current_usd_per_hour: float | None
    optimal_usd_per_hour: float
    optimal_location: list[str]


class WhatIf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    total_usd_per_hour: float | None
    delta_vs_optimal_pct: float | None
    note: str = ""


class CostReport(BaseModel):
    """What the estate costs now, what it would cost placed optimally, and what-if scenarios (USD/hour)."""

    model_config = ConfigDict(extra="forbid")
    catalog_taken: str | None
    current_total_usd_per_hour: float | None
    optimal_total_usd_per_hour: float
    savings_usd_per_hour: float | None
    per_workload: list[WorkloadCost]
    per_cloud_optimal: dict[str, float]
    per_cloud_current: dict[str, float]
    what_if: list[WhatIf]


def _per_cloud(plan: PlacementPlan) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in plan.assignments:
        share = a.shares()
        for loc, s in share.items():
            out[loc.cloud] = out.get(loc.cloud, 0.0) + s * (a.compute_usd_per_hour + a.egress_usd_per_hour)
    return {k: round(v, 6) for k, v in sorted(out.items())}


def _try(name: str, estate: Estate, cat: Catalog, opts: PlacementOptions, base: float, note: str = "") -> WhatIf:
    try:
        total = place(estate, cat, opts).total_usd_per_hour
    except PlacementInfeasible as err:
        return WhatIf(name=name, total_usd_per_hour=None, delta_vs_optimal_pct=None, note=f"infeasible: {err}")
    return WhatIf(
        name=name,
        total_usd_per_hour=round(total, 6),
        delta_vs_optimal_pct=round(100 * (total / base - 1), 3),
        note=note,
    )


def cost_report(
    workloads: Estate | Sequence[Workload],
    catalog: Catalog | None = None,
    price_changes: dict[str, float] | None = None,
    options: PlacementOptions | None = None,
) -> CostReport:
    """Current (from ``estate.current``, priced on the cheapest fitting type there) versus optimal, plus what-ifs:
    everything on one cloud, everything spot-tolerant, and a price change of X% on a cloud (``{"aws": 10}``)."""
    estate = as_estate(workloads)
    cat = catalog if catalog is not None else Catalog.builtin()
    opts = (options or PlacementOptions()).model_copy(update={"explain": False})
    fresh = estate.model_copy(update={"current": {}})
    optimal = place(fresh, cat, opts)
    current_plan = _current_plan(estate, cat, opts)
    base = optimal.total_usd_per_hour
    what_if = [
        _try(
            f"all on {c}",
            single_cloud_variant(fresh),
            cat,
            opts.model_copy(update={"clouds": [c]}),
            base,
            "cloud-spread rules become region spread",
        )
        for c in cat.clouds()
    ]
    spot = fresh.model_copy(update={"workloads": [w.model_copy(update={"spot_ok": True}) for w in fresh.workloads]})
    what_if.append(_try("all spot", spot, cat, opts, base))
    for cloud, pct in (price_changes or {}).items():
        what_if.append(
            _try(f"{cloud} prices {pct:+g}%", fresh, cat.with_price_factor(cloud, 1 + pct / 100), opts, base)
        )
    cur_by = current_plan.by_workload() if current_plan else {}
    per = [
        WorkloadCost(
            workload=a.workload,
            current_usd_per_hour=None
            if a.workload not in cur_by
            else round(cur_by[a.workload].compute_usd_per_hour + cur_by[a.workload].egress_usd_per_hour, 6),
            optimal_usd_per_hour=round(a.compute_usd_per_hour + a.egress_usd_per_hour, 6),
            optimal_location=[p.location for p in a.placements],
        )
        for a in optimal.assignments
    ]
    cur_total = current_plan.total_usd_per_hour if current_plan else None
    return CostReport(
        catalog_taken=cat.meta.get("taken"),
        current_total_usd_per_hour=None if cur_total is None else round(cur_total, 6),
        optimal_total_usd_per_hour=round(base, 6),
        savings_usd_per_hour=None if cur_total is None else round(cur_total - base, 6),
        per_workload=per,
        per_cloud_optimal=_per_cloud(optimal),
        per_cloud_current=_per_cloud(current_plan) if current_plan else {},
        what_if=what_if,
    )


def _current_plan(estate: Estate, cat: Catalog, opts: PlacementOptions) -> PlacementPlan | None:
    """Price the current layout: each workload pinned to its current locations (all workloads must have one)."""
    if not estate.current or set(estate.current) != {w.name for w in estate.workloads}:
        return None
    pinned = []
    for w in estate.workloads:
        where = estate.current[w.name]
        locs = [where] if isinstance(where, str) else list(where)
        regions = [str(Location.parse(x)) for x in locs]
        pinned.append(
            w.model_copy(
                update={
                    "regions": regions,
                    "jurisdictions": None,
                    "latency": [],
                    "spread": None,
                    "max_hourly_usd": None,
                }
            )
        )
    try:
        return place(
            estate.model_copy(update={"workloads": pinned, "current": {}, "budget_usd_per_hour": None}), cat, opts
        )
    except PlacementInfeasible:
        return None
