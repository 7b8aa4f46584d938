"""Independent checks of a placement: its cost recomputed from the catalog, and every constraint re-checked.

Nothing here reuses the optimiser's model: egress is priced directly from the catalog's price of each
(sender location, nearest receiver location) pair.
"""

from __future__ import annotations

from hx.cloud.catalog import Catalog, Location
from hx.cloud.geo import estimate_rtt_ms
from hx.cloud.plan import Assignment
from hx.cloud.workload import Estate, Workload

TOL = 1e-6


def pair_egress_cost(catalog: Catalog, gb: float, fa: dict[Location, float], fb: dict[Location, float]) -> float:
    """USD/hour for ``gb`` GB/hour sent by a workload with location shares ``fa`` to one with shares ``fb``.

    Each share of the sender sends to the cheapest location where the receiver has a share. Plans send
    from and to each workload's primary location (one share of 1.0).
    """
    dst = [b for b, share in fb.items() if share > 0]
    return gb * sum(sa * min(catalog.egress_price(a, b) for b in dst) for a, sa in fa.items())


def plan_costs(
    assignments: list[Assignment], estate: Estate, catalog: Catalog
) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """(compute, egress, compute per workload, egress per sending workload) in USD/hour, from the catalog."""
    compute: dict[str, float] = {}
    for a in assignments:
        total = 0.0
        for p in a.placements:
            offer = catalog.offer(p.loc.cloud, p.loc.region, p.instance_type)
            total += p.replicas * offer.hourly(p.spot)
        compute[a.workload] = total
    shares = {a.workload: {a.primary(): 1.0} for a in assignments}
    egress: dict[str, float] = dict.fromkeys(compute, 0.0)
    for pair in estate.egress:
        egress[pair.src] += pair_egress_cost(catalog, pair.gb_per_hour, shares[pair.src], shares[pair.dst])
    return sum(compute.values()), sum(egress.values()), compute, egress


def violations(assignments: list[Assignment], estate: Estate, catalog: Catalog) -> list[str]:
    """Every broken constraint, as readable lines; an empty list means the plan is valid."""
    out: list[str] = []
    by_name = {w.name: w for w in estate.workloads}
    seen = [a.workload for a in assignments]
    for name in sorted(set(by_name) - set(seen)):
        out.append(f"{name}: not placed")
    for name in sorted({n for n in seen if seen.count(n) > 1}):
        out.append(f"{name}: placed more than once")
    vcpus_at: dict[Location, float] = {}
    for a in assignments:
        w = by_name.get(a.workload)
        if w is None:
            out.append(f"{a.workload}: not a workload of the estate")
            continue
        out.extend(_check_workload(w, a, catalog))
        for p in a.placements:
            vcpus_at[p.loc] = vcpus_at.get(p.loc, 0.0) + w.vcpus * p.replicas
    for loc_text, quota in estate.region_vcpu_quota.items():
        used = vcpus_at.get(Location.parse(loc_text), 0.0)
        if used > quota + TOL:
            out.append(f"quota {loc_text}: {used} vCPUs > {quota}")
    if estate.budget_usd_per_hour is not None and not out:
        compute, egress, _, _ = plan_costs(assignments, estate, catalog)
        if compute + egress > estate.budget_usd_per_hour + TOL:
            out.append(f"budget: {compute + egress:.4f} USD/hour > {estate.budget_usd_per_hour}")
    return out


def _check_workload(w: Workload, a: Assignment, catalog: Catalog) -> list[str]:
    out: list[str] = []
    total = sum(p.replicas for p in a.placements)
    if total != w.replicas:
        out.append(f"{w.name}: {total} replicas placed, {w.replicas} wanted")
    cost = 0.0
    for p in a.placements:
        loc = p.loc
        region = catalog.regions_by_loc.get(loc)
        offer = catalog.offers.get((loc.cloud, loc.region, p.instance_type))
        itype = catalog.types.get((loc.cloud, p.instance_type))
        if region is None or offer is None or itype is None:
            out.append(f"{w.name}: {p.instance_type} is not offered at {loc}")
            continue
        if itype.vcpus < w.vcpus or itype.memory_gib < w.memory_gib or (w.arch not in ("any", itype.arch)):
            out.append(f"{w.name}: {p.instance_type} does not fit {w.vcpus} vCPU / {w.memory_gib} GiB / {w.arch}")
        if p.spot and (not w.spot_ok or offer.spot is None):
            out.append(f"{w.name}: runs on spot at {loc} without spot tolerance or offer")
        if w.jurisdictions is not None and region.jurisdiction not in w.jurisdictions:
            out.append(f"{w.name}: {loc} is in {region.jurisdiction}, allowed {w.jurisdictions}")
        if w.regions is not None and str(loc) not in w.regions and loc.region not in w.regions:
            out.append(f"{w.name}: {loc} not in allowed regions {w.regions}")
        if w.clouds is not None and loc.cloud not in w.clouds:
            out.append(f"{w.name}: cloud {loc.cloud} not in allowed clouds {w.clouds}")
        for t in w.latency:
            rtt = estimate_rtt_ms(t.lat, t.lon, region.lat, region.lon)
            if rtt > t.max_ms + TOL:
                out.append(f"{w.name}: {loc} is {rtt:.1f} ms from {t.name or (t.lat, t.lon)} > {t.max_ms} ms")
        cost += p.replicas * offer.hourly(p.spot)
    if w.spread is not None:
        keys = {p.loc.cloud if w.spread.across == "cloud" else str(p.loc) for p in a.placements}
        if len(keys) < w.spread.min:
            out.append(f"{w.name}: spread over {len(keys)} {w.spread.across}s < {w.spread.min}")
    if w.max_hourly_usd is not None and cost > w.max_hourly_usd + TOL:
        out.append(f"{w.name}: costs {cost:.4f} USD/hour > its budget {w.max_hourly_usd}")
    return out
