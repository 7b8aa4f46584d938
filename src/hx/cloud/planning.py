"""Multi-cloud planning shared by the API, the CLI and the demo: catalog resolution, estate checks, plan
reports against the baselines, one workload's DR plan.  No HTTP concerns here.  DR drills on a simulated
fleet are lab work: :mod:`hx.lab.dr_drill`."""

from __future__ import annotations

from typing import Any

from hx.cloud import providers
from hx.cloud.baselines import greedy
from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog, load_catalog
from hx.cloud.dr import DrPlan, plan_dr
from hx.cloud.placement import PlacementOptions, place
from hx.cloud.plan import PlacementPlan
from hx.cloud.workload import Estate, single_cloud_variant
from hx.config import Settings
from hx.errors import UnknownName

SOURCE = "multi-cloud"
CATALOG_FILE = "catalog.json"  # in the data dir: written by ``hx catalog import``, read by every surface


# ---- catalog and estate checks (shared with the CLI) -------------------------------------------------


def catalog_for(settings: Settings) -> Catalog:
    """The catalog in force: the last of ``multi_cloud.catalog_files``, else ``<data dir>/catalog.json``
    (``hx catalog import``), else the built-in one; restricted to ``multi_cloud.clouds``."""
    files = settings.multi_cloud.catalog_files
    local = settings.data_dir / CATALOG_FILE
    cat = load_catalog(files[-1]) if files else load_catalog(local if local.exists() else None)
    clouds = settings.multi_cloud.clouds
    if clouds is None:
        return cat
    for name in clouds:
        providers.get(name, field="multi_cloud.clouds")
    return cat if set(clouds) >= set(cat.clouds()) else cat.restricted(clouds)


def check_estate(estate: Estate, cat: Catalog) -> None:
    """Names the estate gives (clouds, regions, jurisdictions, quota and current locations) must exist in
    the catalog; raises :class:`UnknownName` naming the workload and the item otherwise."""
    clouds = cat.clouds()
    locs = {str(k) for k in cat.regions_by_loc}
    codes = {k.region for k in cat.regions_by_loc}
    juris = sorted({r.jurisdiction for r in cat.regions_by_loc.values()})
    for w in estate.workloads:
        for c in w.clouds or []:
            if c not in clouds:
                raise UnknownName(f"cloud in workload {w.name!r}", c, clouds)
        for r in w.regions or []:
            if r not in locs and r not in codes:
                raise UnknownName(f"region in workload {w.name!r}", r, sorted(locs))
        for j in w.jurisdictions or []:
            if j not in juris:
                raise UnknownName(f"jurisdiction in workload {w.name!r}", j, juris)
    for key in estate.region_vcpu_quota:
        if key not in locs:
            raise UnknownName("region in region_vcpu_quota", key, sorted(locs))
    for name, where in estate.current.items():
        for loc in [where] if isinstance(where, str) else list(where):
            if loc not in locs:
                raise UnknownName(f"current location of {name!r}", loc, sorted(locs))


def check_plan(plan: PlacementPlan, cat: Catalog) -> None:
    """Every placement of ``plan`` must name a catalog location and an instance type offered there."""
    for a in plan.assignments:
        for p in a.placements:
            loc = p.loc
            cat.region(loc)
            cat.offer(loc.cloud, loc.region, p.instance_type)


def comparisons(estate: Estate, cat: Catalog, plan: PlacementPlan) -> dict[str, Any]:
    """The plan against the greedy baseline and the best single cloud (USD/hour and savings)."""
    g = greedy(estate, cat).total_usd_per_hour
    single: dict[str, float | None] = {}
    why: dict[str, str] = {}
    fresh = single_cloud_variant(estate.model_copy(update={"current": {}}))
    for c in cat.clouds():
        try:
            opts = PlacementOptions(clouds=[c], explain=False)
            single[c] = round(place(fresh, cat, opts).total_usd_per_hour, 6)
        except PlacementInfeasible as err:
            single[c], why[c] = None, str(err)
    feasible = {c: v for c, v in single.items() if v is not None}
    best = min(feasible, key=lambda c: feasible[c]) if feasible else None
    total = plan.total_usd_per_hour
    return {
        "greedy_usd_per_hour": round(g, 6),
        "savings_vs_greedy_pct": round(100 * (1 - total / g), 2) if g > 0 else 0.0,
        "single_cloud_usd_per_hour": single,
        "single_cloud_infeasible": why,
        "best_single_cloud": best,
        "savings_vs_best_single_cloud_pct": round(100 * (1 - total / feasible[best]), 2) if best else None,
    }


def plan_report(estate: Estate, cat: Catalog, plan: PlacementPlan) -> dict[str, Any]:
    """The plan as JSON with its summary and comparisons (what the API returns and ``hx place --json`` prints)."""
    return {
        "summary": plan.summary(),
        "comparison": comparisons(estate, cat, plan),
        "plan": plan.model_dump(),
    }


def plan_for(estate: Estate, cat: Catalog, workload: str, options: PlacementOptions | None = None) -> DrPlan:
    """Place ``estate`` and return the DR plan of one of its workloads."""
    names = [w.name for w in estate.workloads]
    if workload not in names:
        raise UnknownName("workload", workload, names)
    plan = place(estate, cat, options)
    w = next(x for x in estate.workloads if x.name == workload)
    only = estate.model_copy(update={"workloads": [w], "egress": [], "current": {}})  # other workloads' DR aside
    return plan_dr(only, plan, cat)[0]


# ---- request bodies -------------------------------------------------------------------------------------
