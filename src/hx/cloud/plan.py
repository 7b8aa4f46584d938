"""The result of placement: where each workload runs, what it costs, and why."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hx.cloud.catalog import Location


class Placement(BaseModel):
    """Replicas of one workload at one location."""

    model_config = ConfigDict(extra="forbid", strict=True)
    location: str  # "cloud:region"
    instance_type: str
    replicas: int = Field(ge=1)
    spot: bool = False
    unit_price: float = 0.0
    primary: bool = False

    @property
    def loc(self) -> Location:
        return Location.parse(self.location)


class Explanation(BaseModel):
    """Why this location: the runner-up and what it would have cost, and rejection counts by reason."""

    model_config = ConfigDict(extra="forbid", strict=True)
    chosen: list[str]
    runner_up: str | None = None
    runner_up_extra_usd_per_hour: float | None = None
    rejected: dict[str, int] = Field(default_factory=dict)
    candidates: int = 0
    note: str = ""


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    workload: str
    placements: list[Placement]
    compute_usd_per_hour: float
    egress_usd_per_hour: float = 0.0
    moved: bool = False
    explanation: Explanation | None = None

    def primary(self) -> Location:
        """Where the workload serves and sends traffic: the flagged primary, else where most replicas run."""
        flagged = [p for p in self.placements if p.primary]
        best = flagged[0] if flagged else max(self.placements, key=lambda p: (p.replicas, p.location))
        return best.loc

    def shares(self) -> dict[Location, float]:
        total = sum(p.replicas for p in self.placements)
        out: dict[Location, float] = {}
        for p in self.placements:
            out[p.loc] = out.get(p.loc, 0.0) + p.replicas / total
        return out


class PlacementPlan(BaseModel):
    """A placement of every workload, its hourly cost and how the solver got there.

    Strict (with its parts): a plan sent back to the API (``POST /terraform``) with ``true`` for a count is refused,
    not read as 1."""

    model_config = ConfigDict(extra="forbid", strict=True)
    assignments: list[Assignment]
    compute_usd_per_hour: float
    egress_usd_per_hour: float
    move_usd_per_hour: float = 0.0
    total_usd_per_hour: float
    status: str = "optimal"
    solver: str = "highs-milp"
    mip_gap: float | None = None
    dual_bound_usd_per_hour: float | None = None
    solve_seconds: float = 0.0
    variables: int = 0
    constraints: int = 0
    catalog_taken: str | None = None
    notes: list[str] = Field(default_factory=list)

    def by_workload(self) -> dict[str, Assignment]:
        return {a.workload: a for a in self.assignments}

    def summary(self) -> dict[str, Any]:
        per_cloud: dict[str, float] = {}
        for a in self.assignments:
            for p in a.placements:
                per_cloud[p.loc.cloud] = per_cloud.get(p.loc.cloud, 0.0) + p.unit_price * p.replicas
        return {
            "workloads": len(self.assignments),
            "total_usd_per_hour": round(self.total_usd_per_hour, 4),
            "compute_usd_per_hour_by_cloud": {k: round(v, 4) for k, v in sorted(per_cloud.items())},
            "egress_usd_per_hour": round(self.egress_usd_per_hour, 4),
            "status": self.status,
            "mip_gap": self.mip_gap,
        }
