"""Baselines the optimiser is measured against.

``greedy`` is a per-workload cheapest-feasible choice in the style of SkyPilot's optimiser: each
workload independently takes its cheapest feasible location, blind to egress between workloads; a spread
rule is met by dealing replicas round-robin over the cheapest distinct clouds or regions.
"""

from __future__ import annotations

from collections.abc import Sequence

from hx.cloud.candidates import Candidate, CandidateSet
from hx.cloud.catalog import Catalog, Location
from hx.cloud.placement import as_estate, candidate_sets
from hx.cloud.plan import Assignment, Placement, PlacementPlan
from hx.cloud.verify import plan_costs
from hx.cloud.workload import Estate, Workload


def greedy(workloads: Estate | Sequence[Workload], catalog: Catalog | None = None) -> PlacementPlan:
    estate = as_estate(workloads)
    cat = catalog if catalog is not None else Catalog.builtin()
    csets = candidate_sets(estate, cat)
    assignments = [_greedy_one(csets[w.name]) for w in estate.workloads]
    compute, egress, per_c, per_e = plan_costs(assignments, estate, cat)
    for a in assignments:
        a.compute_usd_per_hour, a.egress_usd_per_hour = per_c[a.workload], per_e[a.workload]
    return PlacementPlan(
        assignments=assignments,
        compute_usd_per_hour=compute,
        egress_usd_per_hour=egress,
        total_usd_per_hour=compute + egress,
        status="heuristic",
        solver="greedy",
        catalog_taken=cat.meta.get("taken"),
    )


def _greedy_one(cs: CandidateSet) -> Assignment:
    w = cs.workload
    if w.spread is None:
        picks = [cs.cheapest()]
    else:
        picks, seen = [], set()
        for c in cs.candidates:
            key = c.location.cloud if w.spread.across == "cloud" else str(c.location)
            if key not in seen:
                seen.add(key)
                picks.append(c)
            if len(picks) == w.spread.min:
                break
    counts: dict[Location, tuple[Candidate, int]] = {}
    for i in range(w.replicas):
        c = picks[i % len(picks)]
        counts[c.location] = (c, counts.get(c.location, (c, 0))[1] + 1)
    placements = [
        Placement(
            location=str(loc),
            instance_type=c.instance_type,
            replicas=k,
            spot=c.spot,
            unit_price=c.unit_price,
            primary=len(counts) > 1 and loc == picks[0].location,
        )
        for loc, (c, k) in sorted(counts.items())
    ]
    return Assignment(workload=w.name, placements=placements, compute_usd_per_hour=0.0)
