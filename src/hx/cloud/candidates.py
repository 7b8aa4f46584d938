"""Per-workload candidate locations, with the reason each other location was rejected.

For each (cloud, region) only the cheapest instance type that fits one replica matters (prices are per
instance and replicas are independent), so a candidate is a location plus that type. Rejections are
counted by reason: ``residency`` (jurisdiction / region / cloud allow-lists), ``latency`` (estimated
round trip to a user location too long), ``capacity`` (no instance type fits, or the region's vCPU
quota is below one replica) and ``cost`` (above the workload's own hourly budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hx.cloud.catalog import Catalog, Location, Region
from hx.cloud.geo import estimate_rtt_ms
from hx.cloud.workload import Workload
from hx.errors import BadInput

REASONS = ("residency", "latency", "capacity", "cost")


class PlacementInfeasible(BadInput):
    """No placement satisfies the constraints; names the constraint and, where one is to blame, the workload."""

    title = "placement infeasible"

    def __init__(self, message: str, *, constraint: str, workload: str | None = None, **data: object) -> None:
        super().__init__(message, field=constraint, constraint=constraint, workload=workload, **data)
        self.constraint = constraint
        self.workload = workload


@dataclass(frozen=True)
class Candidate:
    """A feasible location for a workload, with the cheapest fitting instance type there."""

    location: Location
    instance_type: str
    unit_price: float  # USD/hour per replica (spot price when the workload takes spot and there is one)
    spot: bool
    on_demand_price: float
    worst_rtt_ms: float


@dataclass
class CandidateSet:
    workload: Workload
    candidates: list[Candidate]  # sorted by unit price
    rejected: dict[str, int] = field(default_factory=dict)
    groups: dict[Location, tuple[str, str]] = field(default_factory=dict)  # (cloud, continent)

    def cheapest(self) -> Candidate:
        return self.candidates[0]


def residency_ok(w: Workload, r: Region) -> bool:
    if w.clouds is not None and r.cloud not in w.clouds:
        return False
    if w.jurisdictions is not None and r.jurisdiction not in w.jurisdictions:
        return False
    return w.regions is None or str(r.location) in w.regions or r.code in w.regions


def worst_rtt(w: Workload, r: Region) -> float:
    return max((estimate_rtt_ms(t.lat, t.lon, r.lat, r.lon) for t in w.latency), default=0.0)


def latency_ok(w: Workload, r: Region) -> bool:
    return all(estimate_rtt_ms(t.lat, t.lon, r.lat, r.lon) <= t.max_ms for t in w.latency)


def build_candidates(w: Workload, catalog: Catalog, quota: dict[Location, float]) -> CandidateSet:
    """Filter every catalog location through residency, latency, capacity and cost, in that order."""
    fits = catalog.offer_table().cheapest(w.vcpus, w.memory_gib, w.arch, w.spot_ok)
    rejected = dict.fromkeys(REASONS, 0)
    stage_left = dict.fromkeys(REASONS, 0)
    out: list[Candidate] = []
    for loc, region in catalog.regions_by_loc.items():
        if not residency_ok(w, region):
            rejected["residency"] += 1
            continue
        stage_left["residency"] += 1
        if not latency_ok(w, region):
            rejected["latency"] += 1
            continue
        stage_left["latency"] += 1
        best = fits.get(loc)
        if best is None or quota.get(loc, float("inf")) < w.vcpus:
            rejected["capacity"] += 1
            continue
        stage_left["capacity"] += 1
        name, price, spot, on_demand = best
        if w.max_hourly_usd is not None and price * w.replicas > w.max_hourly_usd + 1e-9:
            rejected["cost"] += 1
            continue
        stage_left["cost"] += 1
        out.append(Candidate(loc, name, price, spot, on_demand, worst_rtt(w, region)))
    out.sort(key=lambda c: (c.unit_price, c.location))
    groups = {c.location: (c.location.cloud, catalog.regions_by_loc[c.location].continent) for c in out}
    cs = CandidateSet(w, out, rejected, groups)
    _check_nonempty(cs, stage_left)
    return cs


def _check_nonempty(cs: CandidateSet, stage_left: dict[str, int]) -> None:
    w = cs.workload
    for reason in REASONS:
        if stage_left[reason] == 0:
            what = {
                "residency": f"no region is allowed by its residency rules (jurisdictions={w.jurisdictions}, "
                f"regions={w.regions}, clouds={w.clouds})",
                "latency": "no allowed region meets its latency targets "
                + ", ".join(f"{t.name or (t.lat, t.lon)} <= {t.max_ms} ms" for t in w.latency),
                "capacity": f"no allowed region offers an instance type with >= {w.vcpus} vCPUs, "
                f">= {w.memory_gib} GiB, arch {w.arch} (or the region quotas are too small)",
                "cost": f"every remaining location costs more than its budget of {w.max_hourly_usd} USD/hour",
            }[reason]
            raise PlacementInfeasible(f"workload {w.name!r}: {what}", constraint=reason, workload=w.name)
    if w.spread is not None:
        if w.spread.across == "cloud":
            distinct = len({c.location.cloud for c in cs.candidates})
        else:
            distinct = len({c.location for c in cs.candidates})
        if distinct < w.spread.min:
            raise PlacementInfeasible(
                f"workload {w.name!r}: must spread over {w.spread.min} {w.spread.across}s but only {distinct} "
                f"remain after residency, latency, capacity and cost filters",
                constraint="availability",
                workload=w.name,
            )


def prune(
    cs: CandidateSet, egress_gb: float, max_egress_price: float, keep: set[Location], group_slack_price: float = 0.0
) -> list[Candidate]:
    """Dominance pruning: the candidates that can be optimal for this workload.

    Without traffic to other workloads a location is dominated by the cheapest one; with traffic it is
    dominated when its extra compute cost exceeds the most the traffic could ever cost. Spread rules
    keep the cheapest location per cloud (cloud spread) or the ``min`` cheapest (region spread).
    Inside one price group (same cloud and egress tier, ``group`` of a candidate) traffic prices differ
    only by the same-location saving, so a dearer member is dominated once its extra cost exceeds
    ``egress_gb * group_slack_price``. ``keep`` holds locations that must stay (the current location
    under incremental re-placement).
    """
    w, cands = cs.workload, cs.candidates
    base = cands[0].unit_price * w.replicas
    slack = egress_gb * max_egress_price
    group_min: dict[tuple[str, str], float] = {}
    for c in cands:
        group_min.setdefault(cs.groups.get(c.location, (c.location.cloud, "")), c.unit_price)
    chosen: dict[Location, Candidate] = {}
    for c in cands:
        extra = (c.unit_price - group_min[cs.groups.get(c.location, (c.location.cloud, ""))]) * w.replicas
        fits = c.unit_price * w.replicas - base <= slack + 1e-12 and extra <= egress_gb * group_slack_price + 1e-12
        if fits and (slack > 0 or not chosen):
            chosen.setdefault(c.location, c)
        if c.location in keep:
            chosen.setdefault(c.location, c)
    if w.spread is not None:
        seen: set[str] = set()
        for i, c in enumerate(cands):
            if w.spread.across == "cloud" and c.location.cloud not in seen:
                seen.add(c.location.cloud)
                chosen.setdefault(c.location, c)
            elif w.spread.across == "region" and i < w.spread.min:
                chosen.setdefault(c.location, c)
    return sorted(chosen.values(), key=lambda c: (c.unit_price, c.location))


def dominated_locations(csets: list[CandidateSet], keep: set[Location]) -> set[Location]:
    """Locations no optimal placement of this group of linked workloads needs.

    ``l`` is dominated by ``l2`` in the same (cloud, continent) price group when every workload that may
    run at ``l`` may also run at ``l2`` for no more (ties broken by name). Moving everything at ``l`` to
    ``l2`` then costs no more: compute is no dearer, workloads that shared ``l`` share ``l2``, and
    traffic to or from any other location is priced by group, which is the same. Not applied where a
    workload spreads over regions (merging two of its regions could break its spread rule).
    """
    if any(cs.workload.spread is not None and cs.workload.spread.across == "region" for cs in csets):
        return set()
    price: dict[Location, dict[int, float]] = {}
    group: dict[Location, tuple[str, str]] = {}
    for i, cs in enumerate(csets):
        for c in cs.candidates:
            price.setdefault(c.location, {})[i] = c.unit_price * cs.workload.replicas
            group[c.location] = cs.groups[c.location]
    by_group: dict[tuple[str, str], list[Location]] = {}
    for loc, g in group.items():
        by_group.setdefault(g, []).append(loc)
    out: set[Location] = set()
    for locs in by_group.values():
        for loc in locs:
            if loc in keep:
                continue
            mine = price[loc]
            for other in locs:
                if other == loc:
                    continue
                theirs = price[other]
                if all(i in theirs and theirs[i] <= p for i, p in mine.items()) and (
                    any(theirs[i] < p for i, p in mine.items()) or other < loc
                ):
                    out.add(loc)
                    break
    return out
