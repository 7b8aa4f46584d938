"""Least-cost placement of workloads across AWS, Azure and GCP under residency, latency, availability,
quota and budget constraints, with egress between workloads and the cost of moving.

>>> from hx.cloud.workload import Workload
>>> plan = place([Workload(name="api", vcpus=2, memory_gib=8, jurisdictions=["EU"])])
>>> a = plan.assignments[0]
>>> a.placements[0].location, a.placements[0].instance_type
('gcp:europe-north1', 'e2-standard-2')
>>> a.explanation.rejected["residency"] > 0
True
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from hx.cloud.candidates import (
    Candidate,
    CandidateSet,
    PlacementInfeasible,
    build_candidates,
    dominated_locations,
    prune,
)
from hx.cloud.catalog import Catalog, Location
from hx.cloud.milp import (
    Model,
    Solution,
    WorkloadVars,
    add_pair,
    add_quota,
    add_workload,
    extract,
    fractional_tags,
    relaxation,
    solve,
    tag_value,
)
from hx.cloud.plan import Assignment, Explanation, Placement, PlacementPlan
from hx.cloud.verify import pair_egress_cost, plan_costs
from hx.cloud.workload import Estate, Workload

Marginal = Callable[[Candidate], float]


class PlacementOptions(BaseModel):
    """Solver settings; ``amortise_hours`` spreads a one-off move cost over that many hours."""

    model_config = ConfigDict(extra="forbid")
    mip_rel_gap: float = Field(default=0.005, gt=0, lt=1)
    time_limit_s: float = Field(default=120.0, gt=0)
    amortise_hours: float = Field(default=720.0, gt=0)
    clouds: list[str] | None = None
    prune: bool = True
    explain: bool = True
    batch_workloads: int = Field(default=40, ge=1)


def as_estate(workloads: Estate | Sequence[Workload]) -> Estate:
    return workloads if isinstance(workloads, Estate) else Estate(workloads=list(workloads))


def current_layout(estate: Estate) -> dict[str, dict[Location, int]]:
    """The ``current`` section as replica counts per location."""
    by_name = {w.name: w for w in estate.workloads}
    out: dict[str, dict[Location, int]] = {}
    for name, where in estate.current.items():
        if isinstance(where, str):
            out[name] = {Location.parse(where): by_name[name].replicas}
        else:
            out[name] = {Location.parse(k): v for k, v in where.items()}
    return out


def candidate_sets(estate: Estate, catalog: Catalog) -> dict[str, CandidateSet]:
    """Feasible candidates of every workload; raises :class:`PlacementInfeasible` naming the first empty one."""
    quota = {Location.parse(k): v for k, v in estate.region_vcpu_quota.items()}
    cache: dict[str, CandidateSet] = {}  # workloads that differ only by name share their candidates
    out: dict[str, CandidateSet] = {}
    for w in estate.workloads:
        key = w.model_dump_json(exclude={"name", "move_cost_usd", "rpo_s", "rto_s", "data_gb"})
        if key not in cache:
            cache[key] = build_candidates(w, catalog, quota)
        hit = cache[key]
        out[w.name] = hit if hit.workload.name == w.name else CandidateSet(w, hit.candidates, hit.rejected, hit.groups)
    return out


def place(
    workloads: Estate | Sequence[Workload], catalog: Catalog | None = None, options: PlacementOptions | None = None
) -> PlacementPlan:
    """Solve the placement exactly (to ``mip_rel_gap``) and explain every decision."""
    t0 = time.perf_counter()
    estate = as_estate(workloads)
    opts = options or PlacementOptions()
    cat = catalog if catalog is not None else Catalog.builtin()
    if opts.clouds is not None:
        cat = cat.restricted(opts.clouds)
    csets = candidate_sets(estate, cat)
    current = current_layout(estate)
    _check_budget_floor(estate, csets)
    if estate.budget_usd_per_hour is None and not estate.region_vcpu_quota:
        sol = _solve_components(estate, cat, csets, current, opts, t0)
    else:  # budget and quotas couple every workload: one joint model
        model, wvs = _build(estate, cat, csets, current, opts)
        sol = solve(model, list(wvs.values()), estate.budget_usd_per_hour, opts.mip_rel_gap, opts.time_limit_s)
    if not sol.replicas:
        raise _joint_infeasible(estate, sol)
    return _plan(estate, cat, csets, current, sol, opts, time.perf_counter() - t0)


def components(estate: Estate) -> list[list[str]]:
    """Groups of workloads linked by egress (union-find); without budget or quotas they are independent."""
    parent = {w.name: w.name for w in estate.workloads}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in estate.egress:
        parent[find(p.src)] = find(p.dst)
    groups: dict[str, list[str]] = defaultdict(list)
    for w in estate.workloads:
        groups[find(w.name)].append(w.name)
    return list(groups.values())


def _batches(groups: list[list[str]], size: int) -> list[list[list[str]]]:
    """Independent groups packed into batches of about ``size`` workloads (one solver call each)."""
    out: list[list[list[str]]] = [[]]
    count = 0
    for g in groups:
        if out[-1] and count + len(g) > size:
            out.append([])
            count = 0
        out[-1].append(g)
        count += len(g)
    return [b for b in out if b]


def _sub_estate(estate: Estate, names: dict[str, Workload], members: list[str], by_src: dict[str, list[int]]) -> Estate:
    """The members' part of ``estate``; ``by_src`` indexes its egress pairs by sender (in estate order)."""
    keep = set(members)
    return Estate.model_construct(  # parts of a validated estate: no need to validate again
        workloads=[names[n] for n in members],
        egress=[estate.egress[i] for i in sorted(i for n in members for i in by_src.get(n, ()))],
        budget_usd_per_hour=None,
        region_vcpu_quota={},
        current={k: v for k, v in estate.current.items() if k in keep},
    )


def _solve_components(
    estate: Estate,
    cat: Catalog,
    csets: dict[str, CandidateSet],
    current: dict[str, dict[Location, int]],
    opts: PlacementOptions,
    t0: float,
) -> Solution:
    """Solve independent groups in batches: the sum of their optima is the optimum of the whole.

    Each batch is first solved as an LP; groups whose LP solution is already integral are optimal
    (their LP value is also their bound); only the others go to branch and cut, one group at a time.
    """
    total = Solution({}, 0.0, 0.0, None, "optimal", 0, 0)
    names = {w.name: w for w in estate.workloads}
    by_src: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(estate.egress):
        by_src[pair.src].append(i)
    for batch in _batches(components(estate), opts.batch_workloads):
        members = [n for g in batch for n in g]
        tag_of = {n: i for i, g in enumerate(batch) for n in g}
        model, wvs = _build(
            _sub_estate(estate, names, members, by_src), cat, {n: csets[n] for n in members}, current, opts, tag_of
        )
        total.variables += len(model.cost)
        total.constraints += len(model.rlb)
        x, _ = relaxation(model, _time_left(opts, t0, len(members), len(names)))
        frac = set(range(len(batch))) if x is None else fractional_tags(model, x)
        if x is not None:
            whole = [wvs[n] for i, g in enumerate(batch) if i not in frac for n in g]
            reps, prims = extract(x, whole)
            total.replicas.update(reps)
            total.primaries.update(prims)
            value = sum(tag_value(model, x, i) for i in range(len(batch)) if i not in frac)
            total.objective += value
            total.dual_bound = (total.dual_bound or 0.0) + value
        for i in sorted(frac):
            sub_model, sub_wvs = _build(
                _sub_estate(estate, names, batch[i], by_src), cat, {n: csets[n] for n in batch[i]}, current, opts
            )
            sol = solve(
                sub_model,
                list(sub_wvs.values()),
                None,
                opts.mip_rel_gap,
                _time_left(opts, t0, len(batch[i]), len(names)),
            )
            if not sol.replicas:
                return sol
            _merge(total, sol)
    total.gap = (total.objective - (total.dual_bound or 0.0)) / max(abs(total.objective), 1e-9)
    return total


def _time_left(opts: PlacementOptions, t0: float, part: int, whole: int) -> float:
    """What is left of the time limit, but never less than this part's fair share of it."""
    return max(opts.time_limit_s * part / max(whole, 1), opts.time_limit_s - (time.perf_counter() - t0), 2.0)


def _merge(total: Solution, sol: Solution) -> None:
    total.replicas.update(sol.replicas)
    total.primaries.update(sol.primaries)
    total.objective += sol.objective
    total.dual_bound = (total.dual_bound or 0.0) + (sol.dual_bound if sol.dual_bound is not None else sol.objective)
    if sol.status != "optimal":
        total.status = sol.status


def _check_budget_floor(estate: Estate, csets: dict[str, CandidateSet]) -> None:
    if estate.budget_usd_per_hour is None:
        return
    floor = sum(cs.cheapest().unit_price * cs.workload.replicas for cs in csets.values())
    if floor > estate.budget_usd_per_hour + 1e-9:
        raise PlacementInfeasible(
            f"budget: the cheapest feasible compute alone costs {floor:.4f} USD/hour, more than the budget of "
            f"{estate.budget_usd_per_hour} USD/hour (jointly, not one workload's fault)",
            constraint="budget",
            floor_usd_per_hour=floor,
        )


def _joint_infeasible(estate: Estate, sol: Solution) -> PlacementInfeasible:
    parts = []
    if estate.region_vcpu_quota:
        parts.append("region vCPU quotas")
    if estate.budget_usd_per_hour is not None:
        parts.append(f"the budget of {estate.budget_usd_per_hour} USD/hour (egress included)")
    if sol.status != "infeasible":
        return PlacementInfeasible(f"the solver stopped without a placement ({sol.status})", constraint="solver")
    what = " and ".join(parts) or "the combined constraints"
    constraint = "joint" if len(parts) != 1 else ("quota" if estate.region_vcpu_quota else "budget")
    return PlacementInfeasible(
        f"every workload can be placed on its own, but not all together within {what}", constraint=constraint
    )


def _build(
    estate: Estate,
    cat: Catalog,
    csets: dict[str, CandidateSet],
    current: dict[str, dict[Location, int]],
    opts: PlacementOptions,
    tag_of: dict[str, int] | None = None,
) -> tuple[Model, dict[str, WorkloadVars]]:
    tag_of = tag_of or {}
    volume: dict[str, float] = defaultdict(float)
    for p in estate.egress:
        volume[p.src] += p.gb_per_hour
        volume[p.dst] += p.gb_per_hour
    max_price = max(max(v.values()) for v in cat.egress.internet.values())
    max_local = max(max(v.values()) for v in cat.egress.inter_region_same_continent.values())
    do_prune = opts.prune and not estate.region_vcpu_quota
    if do_prune:
        keep = {loc for n in csets for loc in current.get(n, {})}
        csets = _without_dominated(estate, csets, keep)
    model = Model()
    wvs: dict[str, WorkloadVars] = {}
    for name, cs in csets.items():
        cur = current.get(name, {})
        cands = prune(cs, volume[name], max_price, set(cur), max_local) if do_prune else cs.candidates
        pen = cs.workload.move_cost_usd / opts.amortise_hours / cs.workload.replicas if cur else 0.0
        model.tag = tag_of.get(name, 0)
        wvs[name] = add_workload(model, cs.workload, cands, cur, pen)
    for pair in estate.egress:
        model.tag = tag_of.get(pair.src, 0)
        add_pair(model, cat, pair, wvs[pair.src], wvs[pair.dst])
    for loc_text, quota in estate.region_vcpu_quota.items():
        add_quota(model, Location.parse(loc_text), quota, list(wvs.values()))
    return model, wvs


def _without_dominated(estate: Estate, csets: dict[str, CandidateSet], keep: set[Location]) -> dict[str, CandidateSet]:
    """Drop locations dominated within each group of linked workloads (see ``dominated_locations``)."""
    linked = {p.src for p in estate.egress} | {p.dst for p in estate.egress}
    sub = Estate.model_construct(
        workloads=[csets[n].workload for n in csets if n in linked],
        egress=[p for p in estate.egress if p.src in csets and p.dst in csets],
        budget_usd_per_hour=None,
        region_vcpu_quota={},
        current={},
    )
    out = dict(csets)
    for group in components(sub):
        drop = dominated_locations([csets[n] for n in group], keep)
        if drop:
            for n in group:
                cs = csets[n]
                out[n] = CandidateSet(
                    cs.workload, [c for c in cs.candidates if c.location not in drop], cs.rejected, cs.groups
                )
    return out


def _plan(
    estate: Estate,
    cat: Catalog,
    csets: dict[str, CandidateSet],
    current: dict[str, dict[Location, int]],
    sol: Solution,
    opts: PlacementOptions,
    seconds: float,
) -> PlacementPlan:
    assignments = [
        _assignment(csets[w.name], sol.replicas[w.name], current.get(w.name), sol.primaries.get(w.name))
        for w in estate.workloads
    ]
    compute, egress, per_compute, per_egress = plan_costs(assignments, estate, cat)
    move = 0.0
    for a in assignments:
        a.compute_usd_per_hour = per_compute[a.workload]
        a.egress_usd_per_hour = per_egress[a.workload]
        if a.moved:
            move += csets[a.workload].workload.move_cost_usd / opts.amortise_hours
    if opts.explain:
        explain(assignments, estate, cat, csets)
    total = compute + egress
    dual = None if sol.dual_bound is None else sol.dual_bound + _move_constant(estate, current, opts)
    return PlacementPlan(
        assignments=assignments,
        compute_usd_per_hour=compute,
        egress_usd_per_hour=egress,
        move_usd_per_hour=move,
        total_usd_per_hour=total,
        status=sol.status,
        mip_gap=sol.gap,
        dual_bound_usd_per_hour=dual,
        solve_seconds=seconds,
        variables=sol.variables,
        constraints=sol.constraints,
        catalog_taken=cat.meta.get("taken"),
    )


def _move_constant(estate: Estate, current: dict[str, dict[Location, int]], opts: PlacementOptions) -> float:
    by = {w.name: w for w in estate.workloads}
    return sum(by[n].move_cost_usd / opts.amortise_hours for n in current)


def _assignment(
    cs: CandidateSet,
    chosen: dict[Location, tuple[Candidate, int]],
    cur: dict[Location, int] | None,
    primary: Location | None,
) -> Assignment:
    multi = len(chosen) > 1
    placements = [
        Placement(
            location=str(loc),
            instance_type=c.instance_type,
            replicas=k,
            spot=c.spot,
            unit_price=c.unit_price,
            primary=multi and loc == primary,
        )
        for loc, (c, k) in sorted(chosen.items())
    ]
    moved = cur is not None and {loc: k for loc, (_, k) in chosen.items()} != cur
    return Assignment(workload=cs.workload.name, placements=placements, compute_usd_per_hour=0.0, moved=moved)


def explain(assignments: list[Assignment], estate: Estate, cat: Catalog, csets: dict[str, CandidateSet]) -> None:
    """Attach the runner-up (with partners fixed where they are) and rejection counts to each assignment."""
    shares = {a.workload: {a.primary(): 1.0} for a in assignments}
    out_pairs: dict[str, list[tuple[str, float]]] = defaultdict(list)
    in_pairs: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for p in estate.egress:
        out_pairs[p.src].append((p.dst, p.gb_per_hour))
        in_pairs[p.dst].append((p.src, p.gb_per_hour))
    for a in assignments:
        cs = csets[a.workload]
        w = cs.workload

        def marginal(c: Candidate, name: str = a.workload, w: Workload = w) -> float:
            here = {c.location: 1.0}
            eg = sum(pair_egress_cost(cat, gb, here, shares[d]) for d, gb in out_pairs[name])
            eg += sum(pair_egress_cost(cat, gb, shares[s], here) for s, gb in in_pairs[name])
            return c.unit_price * w.replicas + eg

        a.explanation = _explanation(a, cs, marginal)


def _explanation(a: Assignment, cs: CandidateSet, marginal: Marginal) -> Explanation:
    chosen = {p.location for p in a.placements}
    others = [c for c in cs.candidates if str(c.location) not in chosen]
    rejected = dict(cs.rejected)
    rejected["cost"] = rejected.get("cost", 0) + len(others)
    if not others:
        return Explanation(
            chosen=sorted(chosen), rejected=rejected, candidates=len(cs.candidates), note="no other feasible location"
        )
    if cs.workload.spread is None:
        mine = a.compute_usd_per_hour + _own_egress(a, cs, marginal)
        best = min(others, key=lambda c: (marginal(c), c.location))
        extra = marginal(best) - mine
        note = "cheapest feasible location" if not a.egress_usd_per_hour else "cheapest including egress to partners"
    else:
        swap = _runner_up_swap(a, cs, others)
        if swap is None:
            note = f"spread over {len(chosen)} locations; no other location keeps the spread"
            return Explanation(chosen=sorted(chosen), rejected=rejected, candidates=len(cs.candidates), note=note)
        extra, best, replaced = swap
        note = f"spread over {len(chosen)} locations; runner-up takes the replicas at {replaced}"
    return Explanation(
        chosen=sorted(chosen),
        runner_up=f"{best.location} ({best.instance_type})",
        runner_up_extra_usd_per_hour=round(extra, 6),
        rejected=rejected,
        candidates=len(cs.candidates),
        note=note,
    )


def _runner_up_swap(a: Assignment, cs: CandidateSet, others: list[Candidate]) -> tuple[float, Candidate, str] | None:
    """The cheapest move of one chosen location's replicas to another candidate that keeps the spread rule (still
    ``min`` clouds, for a spread over clouds): (extra USD/h, that candidate, the location it replaces).  It used to
    replace the dearest replica by the cheapest other location whatever its cloud, so a runner-up that broke the
    spread read as cheaper than the plan."""
    spread = cs.workload.spread

    def keeps(c: Candidate, p: Placement) -> bool:
        if spread is None or spread.across != "cloud":
            return True  # another location: as many distinct regions as before
        clouds = {q.loc.cloud for q in a.placements if q is not p} | {c.location.cloud}
        return len(clouds) >= spread.min

    swaps = [
        ((c.unit_price - p.unit_price) * p.replicas, str(c.location), c, p.location)
        for c in others
        for p in a.placements
        if keeps(c, p)
    ]
    if not swaps:
        return None
    extra, _, best, replaced = min(swaps, key=lambda x: (x[0], x[1], x[3]))
    return extra, best, replaced


def _own_egress(a: Assignment, cs: CandidateSet, marginal: Marginal) -> float:
    """Egress in and out of the chosen (single) location, priced like the alternatives."""
    loc = a.placements[0].loc
    for c in cs.candidates:
        if c.location == loc:
            return float(marginal(c)) - c.unit_price * cs.workload.replicas
    return 0.0
