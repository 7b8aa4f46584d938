"""cost-optimizer routes: right-sizing of ad-hoc series and of the watched services."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Number
from hx.cost import Prices, recommend
from hx.errors import BadInput, TelemetryError
from hx.events import CostReport
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["cost-optimizer"])

register_roles(
    {
        ("POST", "/api/v1/cost/rightsize"): Role.OPERATOR,
        ("GET", "/api/v1/cost/rightsizing"): Role.VIEWER,
    }
)


#: one interval's usage: never negative
Usage = Annotated[Number, Field(ge=0)]


class WorkloadUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    timestamps: list[Number] = Field(
        min_length=12, max_length=200_000, description="unix seconds (milliseconds, above 10^11, are converted)"
    )
    cpu: list[Usage | None] = Field(description="vCPU in use per interval (null: a gap)")
    memory_gib: list[Usage | None] = Field(description="GiB in use per interval (null: a gap)")
    current_cpu: float | None = Field(None, gt=0)
    current_memory_gib: float | None = Field(None, gt=0)


class RightsizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workloads: list[WorkloadUsage] = Field(min_length=1, max_length=1000)
    vcpu_hour_usd: float | None = Field(None, ge=0)
    gib_hour_usd: float | None = Field(None, ge=0)
    fleet: bool = Field(
        False,
        description="size all workloads together under one exceed budget (as `hx cost rightsize --fleet`): the "
        "answer then carries `skipped` and `fleet` (totals against the VPA-style rule, in-sample and learn/judge)",
    )
    risk_budget: float | None = Field(
        None, gt=0, lt=0.5, description="with fleet: the budget (default: cost_optimization.risk_budget)"
    )
    keep_memory_peaks: bool = Field(False, description="with fleet: no memory below the last day's working-set peak")
    memory_cap: bool = Field(
        False,
        description="with fleet: no workload's memory above its level in more than 10 % of its intervals (a plain "
        "p90's share)",
    )
    vpa_cap: bool = Field(
        True,
        description="with fleet: spend the budget only as far as hx's levels are exceeded, on the history given, no "
        "more often than the VPA-style rule's (p90 x 1.15); false spends all of it",
    )


def _arr(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _prices(request: Request, vcpu: float | None = None, gib: float | None = None) -> Prices:
    cfg = request.app.state.platform.settings.intelligent_monitoring.cost_optimization
    return Prices(
        vcpu_hour=vcpu if vcpu is not None else cfg.cpu_hour_usd, gib_hour=gib if gib is not None else cfg.gib_hour_usd
    )


class RecommendationRow(BaseModel):
    """One workload's recommended size, with its saving and its risk."""

    workload: str
    cpu: float = Field(description="vCPU")
    memory_gib: float = Field(description="GiB")
    current_cpu: float | None
    current_memory_gib: float | None
    monthly_cost_usd: float
    monthly_saving_usd: float | None = Field(description="against the current size, when it is given")
    cpu_risk: float = Field(description="the share of learning intervals whose CPU use exceeds the recommendation")
    memory_risk: float = Field(description="the share of learning intervals that would have run out of memory")
    basis: dict[str, Any] = Field(description="how each size was reached (percentile, margin, cycles, trend)")
    notes: list[str] = Field(description="what the reader should know about this recommendation")


class SkippedRow(BaseModel):
    """A workload, or a file, that got no recommendation, and why."""

    workload: str | None
    file: str = Field(description="the file, or where in the body (workloads[i])")
    reason: str
    usable_intervals: int | None = None
    needed_intervals: int | None = None
    rows: int | None = None


class FleetCheck(BaseModel):
    """With ``fleet``: the budget, the totals on the history learned from and the learn/judge check."""

    risk_budget: float
    risk_budget_bounds: str = Field(description="what the budget bounds")
    vpa_cap: bool
    keep_memory_peaks: bool
    memory_cap: bool
    in_sample: dict[str, dict[str, Any]] = Field(description="per resource (cpu, memory): hx against the VPA rule")
    learn_judge: dict[str, Any] = Field(description="learned on the earlier days, judged on the later ones")
    warnings: list[str]


class RightsizeAnswer(BaseModel):
    """What ``hx cost rightsize [--fleet] --json`` prints."""

    recommendations: list[RecommendationRow]
    skipped: list[SkippedRow]
    fleet: FleetCheck | None = Field(description="with fleet: the fleet's totals and check (else null)")


@router.post("/cost/rightsize", response_model=RightsizeAnswer, response_model_exclude_unset=True)
def rightsize(body: RightsizeRequest, request: Request) -> dict[str, Any]:
    """CPU and memory recommendations (percentile-based, cycle- and trend-aware) with saving and risk, as
    ``hx cost rightsize`` answers them: ``{"recommendations", "skipped", "fleet"}``; a workload needs two days of
    usable intervals (fewer: skipped, with why); with ``fleet``, one exceed budget spread over all the workloads,
    as ``hx cost rightsize --fleet`` does."""
    prices = _prices(request, body.vcpu_hour_usd, body.gib_hour_usd)
    for i, w in enumerate(body.workloads):
        if not len(w.timestamps) == len(w.cpu) == len(w.memory_gib):
            raise BadInput(
                f"workload {w.name!r}: timestamps, cpu and memory_gib differ in length", field=f"workloads.{i}.cpu"
            )
    if not body.fleet:
        for flag in ("risk_budget", "keep_memory_peaks", "vpa_cap", "memory_cap"):
            if flag in body.model_fields_set and getattr(body, flag) != RightsizeRequest.model_fields[flag].default:
                raise BadInput(f"{flag} applies to fleet: true only", field=flag)
    return _report(body, request, prices)


def _report(body: RightsizeRequest, request: Request, prices: Prices) -> dict[str, Any]:
    """What ``hx cost rightsize [--fleet]`` answers for the same usage: workloads with under two days of usable
    intervals are skipped with the reason (none usable: 422), the others recommended alone or as a fleet."""
    from hx.cost.fleet import WorkloadHistory
    from hx.cost.report import rightsize_report
    from hx.readers import unix_seconds

    names = [w.name for w in body.workloads]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise BadInput(f"workload names must be unique: {dup!r} is given twice", field="workloads")
    cfg = request.app.state.platform.settings.intelligent_monitoring.cost_optimization
    histories = {
        w.name: WorkloadHistory(
            unix_seconds(w.timestamps, field=f"workloads.{i}.timestamps"), _arr(w.cpu), _arr(w.memory_gib),
            w.current_cpu, w.current_memory_gib,
        )
        for i, w in enumerate(body.workloads)
    }  # fmt: skip
    report = rightsize_report(
        histories,
        {n: f"workloads[{i}]" for i, n in enumerate(names)},
        fleet=body.fleet,
        risk_budget=body.risk_budget if body.risk_budget is not None else cfg.risk_budget,
        prices=prices,
        keep_memory_peaks=body.keep_memory_peaks,
        vpa_cap=body.vpa_cap,
        memory_cap=body.memory_cap,
        field="workloads",
    )
    return report.to_dict()


@router.get("/cost/rightsizing")
def rightsizing(
    request: Request,
    days: float = Query(7.0, gt=0, le=60),
    vcpu_per_replica: float = Query(2.0, gt=0),
    gib_per_replica: float = Query(4.0, gt=0),
) -> dict[str, Any]:
    """Recommendations for every watched service from its utilisation history (replicas x per-replica size)."""
    p = request.app.state.platform
    if p.source is None:
        raise BadInput("no signal source configured", field="telemetry.source")
    now = p.clock.now()
    start, step = now - timedelta(days=days), 300.0
    prices = _prices(request)
    out, skipped = [], {}
    for service in p.source.services():
        try:
            cpu = p.source.signal(service, "cpu_utilization", start, now, step)
            mem = p.source.signal(service, "memory_utilization", start, now, step)
            rep = p.source.signal(service, "replicas", start, now, step)
        except TelemetryError as err:
            skipped[service] = str(err)
            continue
        replicas = rep.values
        current = float(np.nanmax(replicas)) if np.isfinite(replicas).any() else None
        if current is None or np.isfinite(cpu.values).sum() < 12:
            skipped[service] = "not enough history"
            continue
        rec = recommend(
            service,
            cpu.timestamps,
            cpu.values * replicas * vcpu_per_replica,
            mem.values * replicas * gib_per_replica,
            current_cpu=current * vcpu_per_replica,
            current_memory_gib=current * gib_per_replica,
            prices=prices,
        )
        out.append(rec.to_dict())
    total = sum(r["monthly_saving_usd"] or 0.0 for r in out)
    report = {"recommendations": out, "skipped": skipped, "monthly_saving_usd": round(total, 2), "days": days}
    p.bus.publish(
        CostReport(kind="rightsizing", monthly_saving_usd=report["monthly_saving_usd"], services=len(out)),
        source="cost-optimizer",
    )
    return report
