"""Reproducible synthetic workload mixes (for the benchmark, the tests and training the placement model).

>>> e = standard_mix(20, seed=1)
>>> len(e.workloads), all(w.name.startswith("app") for w in e.workloads)
(20, True)
"""

from __future__ import annotations

import itertools

import numpy as np

from hx.cloud.workload import EgressPair, Estate, LatencyTarget, Spread, Workload

CITIES = {
    "london": (51.51, -0.13),
    "frankfurt": (50.11, 8.68),
    "new-york": (40.71, -74.01),
    "san-francisco": (37.77, -122.42),
    "chicago": (41.88, -87.63),
    "tokyo": (35.68, 139.69),
    "singapore": (1.35, 103.82),
    "sydney": (-33.87, 151.21),
}


def standard_mix(
    n: int,
    seed: int = 0,
    eu_share: float = 0.3,
    latency_share: float = 0.25,
    cloud_spread_share: float = 0.1,
    region_spread_share: float = 0.1,
    spot_share: float = 0.3,
) -> Estate:
    """``n`` workloads in apps of 1-5 services; services of one app exchange traffic along a chain."""
    rng = np.random.default_rng(seed)
    workloads: list[Workload] = []
    egress: list[EgressPair] = []
    app = 0
    while len(workloads) < n:
        size = min(n - len(workloads), int(rng.integers(1, 6)))
        eu = rng.random() < eu_share
        city = str(rng.choice(list(CITIES))) if rng.random() < latency_share else None
        names = [f"app{app}-s{i}" for i in range(size)]
        for name in names:
            workloads.append(_service(rng, name, eu, city, cloud_spread_share, region_spread_share, spot_share))
        for a, b in itertools.pairwise(names):
            egress.append(EgressPair(src=a, dst=b, gb_per_hour=round(float(rng.uniform(0.5, 20.0)), 2)))
        app += 1
    return Estate(workloads=workloads, egress=egress)


def _service(
    rng: np.random.Generator, name: str, eu: bool, city: str | None, cs: float, rs: float, spot: float
) -> Workload:
    vcpus = int(rng.choice([1, 2, 2, 4, 4, 8, 16]))
    mem = vcpus * int(rng.choice([1, 2, 4, 4, 8]))
    replicas = int(rng.integers(1, 5))
    u = rng.random()
    spread = None
    if u < cs:
        spread, replicas = Spread(across="cloud", min=2), max(replicas, 3)
    elif u < cs + rs:
        spread, replicas = Spread(across="region", min=2), max(replicas, 2)
    latency = []
    if city is not None:
        lat, lon = CITIES[city]
        latency = [LatencyTarget(name=city, lat=lat, lon=lon, max_ms=float(rng.choice([30.0, 45.0, 60.0])))]
        if eu and city not in ("london", "frankfurt"):
            latency = []
        if spread is not None and city in ("tokyo", "singapore", "sydney"):
            latency = []  # the catalog has one region per cloud there: a spread could never meet the target
    return Workload(
        name=name,
        vcpus=vcpus,
        memory_gib=mem,
        replicas=replicas,
        arch="any" if rng.random() < 0.15 else "x86_64",
        jurisdictions=["EU"] if eu else None,
        latency=latency,
        spot_ok=bool(rng.random() < spot),
        spread=spread,
    )
