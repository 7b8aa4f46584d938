"""The placement mixed-integer program, built sparse and solved by HiGHS through ``scipy.optimize.milp``.

Variables per workload ``w`` and candidate location ``l``:

* not spread: binary ``x[w,l]``;
* spread: integer replicas ``n[w,l]``, binary use ``y[w,l]``, binary primary ``p[w,l]`` (exactly one,
  at a used location) and, for cloud spread, binary ``z[w,c]`` per cloud.

Traffic between workloads flows between their locations; a spread workload serves and sends it from
its primary (its other replicas are there for availability). Egress is quadratic in the decisions; it
is linearised on the price hierarchy (same location: free; same cloud and continent; same cloud; other
cloud) with continuous "kept-close" variables per pair and level, each bounded by both endpoints'
binaries in that group and by the level above: traffic is billed at the internet rate, minus what
stays inside the sender's cloud, minus what stays in its continent, minus what stays in its location.
Every price grows with distance, so this is exact for 0/1 values, and for chains and trees of traffic
the LP relaxation is tight in practice (it is the local relaxation of a tree-structured labelling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from hx.cloud.candidates import Candidate
from hx.cloud.catalog import Catalog, Location
from hx.cloud.workload import EgressPair, Spread, Workload

Share = list[tuple[int, float]]  # (column, coefficient)


@dataclass
class Model:
    """A growing sparse MILP: columns with bounds/integrality/cost, rows as triplets."""

    cost: list[float] = field(default_factory=list)
    move: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integ: list[int] = field(default_factory=list)
    r: list[int] = field(default_factory=list)
    c: list[int] = field(default_factory=list)
    v: list[float] = field(default_factory=list)
    rlb: list[float] = field(default_factory=list)
    rub: list[float] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)  # independent group of each column
    tag: int = 0

    def col(self, cost: float, lb: float, ub: float, integer: bool) -> int:
        self.tags.append(self.tag)
        self.cost.append(cost)
        self.move.append(0.0)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integ.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, terms: Share, lo: float, hi: float) -> int:
        i = len(self.rlb)
        self.r.extend([i] * len(terms))
        self.c.extend([t[0] for t in terms])
        self.v.extend([t[1] for t in terms])
        self.rlb.append(lo)
        self.rub.append(hi)
        return i


@dataclass
class WorkloadVars:
    workload: Workload
    cands: list[Candidate]
    cols: list[int]  # x (not spread) or n (spread), one per candidate
    share: dict[Location, Share]  # where the workload sends from: its location, or its primary when spread
    presence: dict[Location, Share]  # where it receives traffic (the same binaries)
    primary_cols: list[int]  # x, or the primary binaries p when spread


@dataclass
class Solution:
    replicas: dict[str, dict[Location, tuple[Candidate, int]]]
    objective: float
    dual_bound: float | None
    gap: float | None
    status: str
    variables: int
    constraints: int
    primaries: dict[str, Location] = field(default_factory=dict)


def add_workload(
    m: Model, w: Workload, cands: list[Candidate], current: dict[Location, int], pen: float
) -> WorkloadVars:
    """Columns and rows of one workload; ``pen`` is the hourly move penalty per replica moved."""
    r = w.replicas
    if w.spread is None:
        cols = [m.col(c.unit_price * r, 0, 1, True) for c in cands]
        m.row([(j, 1.0) for j in cols], 1, 1)
        share = {c.location: [(j, 1.0)] for c, j in zip(cands, cols, strict=True)}
        for c, j in zip(cands, cols, strict=True):
            m.move[j] -= pen * r * (1 if c.location in current else 0)
        return WorkloadVars(w, cands, cols, share, share, cols)
    cols = [m.col(c.unit_price, 0, r, True) for c in cands]
    ys = [m.col(0.0, 0, 1, True) for _ in cands]
    ps = [m.col(0.0, 0, 1, True) for _ in cands]
    m.row([(j, 1.0) for j in cols], r, r)
    m.row([(p, 1.0) for p in ps], 1, 1)
    for j, y, p in zip(cols, ys, ps, strict=True):
        m.row([(j, 1.0), (y, -float(r))], -np.inf, 0)  # replicas only where used
        m.row([(y, 1.0), (j, -1.0)], -np.inf, 0)  # used means at least one replica
        m.row([(p, 1.0), (y, -1.0)], -np.inf, 0)  # the primary is used
    _spread_rows(m, w.spread, cands, ys)
    for c, j in zip(cands, cols, strict=True):
        if current.get(c.location, 0) > 0:  # kept replicas k <= n, k <= current count
            k = m.col(0.0, 0, current[c.location], False)
            m.move[k] = -pen
            m.row([(k, 1.0), (j, -1.0)], -np.inf, 0)
    primary = {c.location: [(p, 1.0)] for c, p in zip(cands, ps, strict=True)}
    return WorkloadVars(w, cands, cols, primary, primary, ps)


def _spread_rows(m: Model, spread: Spread, cands: list[Candidate], ys: list[int]) -> None:
    if spread.across == "region":
        m.row([(y, 1.0) for y in ys], spread.min, np.inf)
        return
    by_cloud: dict[str, list[int]] = defaultdict(list)
    for c, y in zip(cands, ys, strict=True):
        by_cloud[c.location.cloud].append(y)
    zs = []
    for cloud_ys in by_cloud.values():
        z = m.col(0.0, 0, 1, True)
        m.row([(z, 1.0)] + [(y, -1.0) for y in cloud_ys], -np.inf, 0)
        zs.append(z)
    m.row([(z, 1.0) for z in zs], spread.min, np.inf)


def _group_shares(share: dict[Location, Share], key: Callable[[Location], Hashable]) -> dict[Hashable, Share]:
    out: dict[Hashable, Share] = defaultdict(list)
    for loc, terms in share.items():
        out[key(loc)].extend(terms)
    return out


def add_pair(m: Model, catalog: Catalog, pair: EgressPair, a: WorkloadVars, b: WorkloadVars) -> None:
    """Egress cost of ``pair`` (linearised, see the module docstring)."""
    gb = pair.gb_per_hour
    cont = {loc: catalog.region(loc).continent for loc in set(a.share) | set(b.share)}
    tiers = {loc: catalog.egress.tiers(catalog.region(loc)) for loc in a.share}
    for loc, terms in a.share.items():  # everything billed at the internet rate first
        for col, coef in terms:
            m.cost[col] += gb * tiers[loc][2] * coef
    a_cc = _group_shares(a.share, lambda loc: (loc.cloud, cont[loc]))
    b_cc = _group_shares(b.presence, lambda loc: (loc.cloud, cont[loc]))
    b_cloud = _group_shares(b.presence, lambda loc: loc.cloud)
    rep = {(loc.cloud, cont[loc]): tiers[loc] for loc in a.share}
    s_cont: dict[Hashable, int] = {}
    for g, terms in a_cc.items():
        cloud = g[0]  # type: ignore[index]
        if cloud not in b_cloud:
            continue
        same, other, internet = rep[g]  # type: ignore[index]
        sc = m.col(-gb * (internet - other), 0, 1, False)
        m.row([(sc, 1.0)] + [(col, -coef) for col, coef in terms], -np.inf, 0)
        m.row([(sc, 1.0)] + [(col, -coef) for col, coef in b_cloud[cloud]], -np.inf, 0)
        if g in b_cc:
            s_cont[g] = m.col(-gb * (other - same), 0, 1, False)
            m.row([(s_cont[g], 1.0), (sc, -1.0)], -np.inf, 0)
            m.row([(s_cont[g], 1.0)] + [(col, -coef) for col, coef in b_cc[g]], -np.inf, 0)
    _add_local(m, gb, a, b, tiers, cont, s_cont)


def _add_local(
    m: Model,
    gb: float,
    a: WorkloadVars,
    b: WorkloadVars,
    tiers: dict[Location, tuple[float, float, float]],
    cont: dict[Location, str],
    s_cont: dict[Hashable, int],
) -> None:
    locals_by_group: dict[Hashable, list[int]] = defaultdict(list)
    for loc, terms in a.share.items():
        if loc not in b.presence or tiers[loc][0] <= 0:
            continue
        sl = m.col(-gb * tiers[loc][0], 0, 1, False)
        m.row([(sl, 1.0)] + [(col, -coef) for col, coef in terms], -np.inf, 0)
        m.row([(sl, 1.0)] + [(col, -coef) for col, coef in b.presence[loc]], -np.inf, 0)
        locals_by_group[(loc.cloud, cont[loc])].append(sl)
    for g, sls in locals_by_group.items():
        m.row([(s, 1.0) for s in sls] + [(s_cont[g], -1.0)], -np.inf, 0)


def add_quota(m: Model, loc: Location, quota: float, wvs: list[WorkloadVars]) -> None:
    terms: Share = []
    for wv in wvs:
        for c, col in zip(wv.cands, wv.cols, strict=True):
            if c.location == loc:
                mult = wv.workload.replicas if wv.workload.spread is None else 1
                terms.append((col, wv.workload.vcpus * mult))
    if terms:
        m.row(terms, -np.inf, quota)


def _run(m: Model, budget: float | None, gap: float, time_limit: float, relax: bool = False) -> Any:
    cost = np.array(m.cost)
    obj = cost + np.array(m.move)
    rlb, rub = list(m.rlb), list(m.rub)
    r, c, v = list(m.r), list(m.c), list(m.v)
    if budget is not None:
        nz = np.flatnonzero(cost)
        r.extend([len(rlb)] * len(nz))
        c.extend(nz.tolist())
        v.extend(cost[nz].tolist())
        rlb.append(-np.inf)
        rub.append(budget)
    a = coo_array((v, (r, c)), shape=(len(rlb), len(obj))).tocsr()
    res = milp(
        obj,
        integrality=np.zeros(len(obj)) if relax else np.array(m.integ),
        bounds=Bounds(np.array(m.lb), np.array(m.ub)),
        constraints=[LinearConstraint(a, np.array(rlb), np.array(rub))] if rlb else [],
        options={"mip_rel_gap": gap, "time_limit": time_limit, "disp": False},
    )
    return res


def extract(
    x: np.ndarray, wvs: list[WorkloadVars]
) -> tuple[dict[str, dict[Location, tuple[Candidate, int]]], dict[str, Location]]:
    out: dict[str, dict[Location, tuple[Candidate, int]]] = {}
    primaries: dict[str, Location] = {}
    for wv in wvs:
        chosen: dict[Location, tuple[Candidate, int]] = {}
        for c, col in zip(wv.cands, wv.cols, strict=True):
            k = round(float(x[col]) * (wv.workload.replicas if wv.workload.spread is None else 1))
            if k > 0:
                chosen[c.location] = (c, k)
        out[wv.workload.name] = chosen
        prim = max(zip(wv.cands, wv.primary_cols, strict=True), key=lambda cp: float(x[cp[1]]))[0].location
        primaries[wv.workload.name] = prim
    return out, primaries


def solve(m: Model, wvs: list[WorkloadVars], budget: float | None, gap: float, time_limit: float) -> Solution:
    """Solve as a MILP (HiGHS branch and cut); the dual bound and gap come from HiGHS."""
    res = _run(m, budget, gap, time_limit)
    n_rows = len(m.rlb) + (budget is not None)
    if res.x is None:
        return Solution({}, float("nan"), None, None, _status(res.status), len(m.cost), n_rows, {})
    out, primaries = extract(res.x, wvs)
    dual = getattr(res, "mip_dual_bound", None)
    mgap = getattr(res, "mip_gap", None)
    return Solution(out, float(res.fun), dual, mgap, _status(res.status), len(m.cost), n_rows, primaries)


def relaxation(m: Model, time_limit: float) -> tuple[np.ndarray | None, float]:
    """The LP relaxation's solution and value (a lower bound on the MILP optimum)."""
    res = _run(m, None, 0.0, time_limit, relax=True)
    return (None, float("nan")) if res.x is None else (np.asarray(res.x), float(res.fun))


def fractional_tags(m: Model, x: np.ndarray, tol: float = 1e-6) -> set[int]:
    """Tags (independent groups) whose integer columns are not integral in ``x``."""
    integ = np.array(m.integ, dtype=bool)
    frac = integ & (np.abs(x - np.round(x)) > tol)
    tags = np.array(m.tags)
    return set(tags[frac].tolist())


def tag_value(m: Model, x: np.ndarray, tag: int) -> float:
    obj = np.array(m.cost) + np.array(m.move)
    sel = np.array(m.tags) == tag
    return float(obj[sel] @ x[sel])


def _status(code: int) -> str:
    return {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "other"}.get(code, "other")
