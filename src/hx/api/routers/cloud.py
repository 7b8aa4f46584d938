"""multi-cloud routes: catalog queries, placement, DR plans and drills, Terraform, cost reports.

The operations behind them live in :mod:`hx.cloud.planning` (drills: :mod:`hx.lab.dr_drill`), shared with
``hx.cli.cloud`` and the demo.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hx.api.auth import authorize, register_roles
from hx.cloud.catalog import Catalog
from hx.cloud.costs import cost_report
from hx.cloud.dr import plan_dr
from hx.cloud.placement import PlacementOptions, place
from hx.cloud.plan import PlacementPlan
from hx.cloud.planning import SOURCE, catalog_for, check_estate, check_plan, plan_for, plan_report
from hx.cloud.terraform import schema_errors, terraform_documents
from hx.cloud.workload import Estate
from hx.errors import BadInput, UnknownName
from hx.events import CostReport, DrDrill, PlacementDecided
from hx.lab.dr_drill import (
    DrillTimings,
    SimDrillActuator,
    drill_jobs,
    drill_on_fresh_sim,
    platform_sim,
    run_sim_drill,
    sim_waiter,
)
from hx.lab.jobs import JobControl, JobState
from hx.platform import Platform
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["multi-cloud"])

register_roles(
    {
        ("GET", "/api/v1/catalog/clouds"): Role.VIEWER,
        ("GET", "/api/v1/catalog/regions"): Role.VIEWER,
        ("GET", "/api/v1/catalog/instance-types"): Role.VIEWER,
        ("POST", "/api/v1/placement"): Role.OPERATOR,
        ("POST", "/api/v1/dr/plans"): Role.OPERATOR,
        ("POST", "/api/v1/dr/drills"): Role.OPERATOR,
        ("GET", "/api/v1/dr/drills"): Role.VIEWER,
        ("GET", "/api/v1/dr/drills/{job_id}"): Role.VIEWER,
        ("DELETE", "/api/v1/dr/drills/{job_id}"): Role.OPERATOR,
        ("POST", "/api/v1/dr/drills/{job_id}/cancel"): Role.OPERATOR,
        ("POST", "/api/v1/terraform"): Role.OPERATOR,
        ("POST", "/api/v1/cost/report"): Role.OPERATOR,
    }
)


class EstateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    estate: Estate
    time_limit_s: float = Field(30.0, gt=0, le=300, description="solver time limit")

    def options(self) -> PlacementOptions:
        return PlacementOptions(time_limit_s=self.time_limit_s)


class DrPlansRequest(EstateRequest):
    default_rpo_s: float = Field(3600.0, gt=0)
    default_rto_s: float = Field(4 * 3600.0, gt=0)


class DrillRequest(EstateRequest):
    workload: str = Field(min_length=1)
    service: str | None = Field(None, description="sim service standing in for the workload (platform sim)")
    failback: bool = Field(True, description="after measuring, route traffic back and remove the standby")
    promote_s: float = Field(30.0, ge=0, le=3600)
    restore_s_per_gb: float = Field(2.0, ge=0, le=600)
    timeout_s: float = Field(1800.0, gt=0, le=4 * 3600)


class TerraformRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlacementPlan | None = None
    estate: Estate | None = None
    time_limit_s: float = Field(30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one(self) -> TerraformRequest:
        if (self.plan is None) == (self.estate is None):
            raise ValueError("give exactly one of 'plan' or 'estate'")
        return self


class CostRequest(EstateRequest):
    price_changes: dict[str, Annotated[float, Field(gt=-100.0, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="cloud -> price change in percent (above -100: a price stays positive)"
    )


# ---- routes ---------------------------------------------------------------------------------------------


def _catalog(request: Request) -> Catalog:
    p: Platform = request.app.state.platform
    cat = p.services.get("cloud.catalog", Catalog)
    if cat is None:
        cat = catalog_for(p.settings)
        p.services.put("cloud.catalog", cat)
    return cat


def _known_cloud(cat: Catalog, cloud: str | None) -> None:
    if cloud is not None and cloud not in cat.clouds():
        raise UnknownName("cloud", cloud, cat.clouds())


@router.get("/catalog/clouds")
def catalog_clouds(request: Request) -> dict[str, Any]:
    s = _catalog(request).summary()
    return {"taken": s["taken"], "clouds": [{"name": k, **v} for k, v in s["clouds"].items()]}


@router.get("/catalog/regions")
def catalog_regions(request: Request, cloud: str | None = None, jurisdiction: str | None = None) -> dict[str, Any]:
    cat = _catalog(request)
    _known_cloud(cat, cloud)
    return {"regions": [r.model_dump() for r in cat.regions(cloud=cloud, jurisdiction=jurisdiction)]}


@router.get("/catalog/instance-types")
def catalog_types(
    request: Request,
    cloud: str | None = None,
    min_vcpus: float = Query(0, ge=0),
    min_memory_gib: float = Query(0, ge=0),
    arch: Literal["x86_64", "arm64"] | None = None,
) -> dict[str, Any]:
    cat = _catalog(request)
    _known_cloud(cat, cloud)
    types = cat.instance_types(cloud=cloud, min_vcpus=min_vcpus, min_memory_gib=min_memory_gib, arch=arch)
    return {"instance_types": [t.model_dump() for t in types]}


@router.post("/placement")
def placement(body: EstateRequest, request: Request) -> dict[str, Any]:
    """Least-cost placement with explanations; an infeasible estate is a 422 naming the constraint."""
    cat = _catalog(request)
    check_estate(body.estate, cat)
    plan = place(body.estate, cat, body.options())
    out = plan_report(body.estate, cat, plan)
    summary = {**out["summary"], **{k: v for k, v in out["comparison"].items() if not k.startswith("single")}}
    summary["where"] = {a.workload: [p.location for p in a.placements] for a in plan.assignments}
    request.app.state.platform.bus.publish(PlacementDecided.model_validate(summary), source=SOURCE, subject="estate")
    return out


@router.post("/dr/plans")
def dr_plans(body: DrPlansRequest, request: Request) -> dict[str, Any]:
    cat = _catalog(request)
    check_estate(body.estate, cat)
    plan = place(body.estate, cat, body.options())
    plans = plan_dr(body.estate, plan, cat, body.default_rpo_s, body.default_rto_s)
    return {"placement": plan.summary(), "plans": [p.model_dump() for p in plans]}


@router.post("/dr/drills", status_code=202)
def dr_drill(body: DrillRequest, request: Request, response: Response) -> dict[str, Any]:
    """Start a drill of one workload's failover as a background job (202, its URL in ``Location``): on the
    platform's simulated fleet, or a fresh one when the platform's actuator is not the sim's (a real fleet is
    never driven by a drill from here).  The request is checked here; the drill runs in a job worker."""
    p: Platform = request.app.state.platform
    cat = _catalog(request)
    check_estate(body.estate, cat)
    plan = plan_for(body.estate, cat, body.workload, body.options())
    w = next(x for x in body.estate.workloads if x.name == body.workload)
    timings = DrillTimings(body.promote_s, body.restore_s_per_gb, body.timeout_s)
    actuator, sim = p.actuator, platform_sim(p.actuator)
    if sim is None or actuator is None:

        def work(control: JobControl) -> dict[str, Any]:
            return drill_on_fresh_sim(plan, w, timings, control)
    else:
        name = body.service or (w.name if w.name in sim.names else sim.names[0])
        if name not in sim.names:
            raise UnknownName("sim service", name, sim.names)
        g = sim.primary_group(sim.service_id(name))
        factor = float(sim.groups.col("desired")[g]) / w.replicas

        def work(control: JobControl) -> dict[str, Any]:
            wait = sim_waiter(sim, p.clock, control)
            adapter = SimDrillActuator(
                actuator, sim, name, plan, wait, data_gb=w.data_gb, factor=factor, timings=timings
            )
            return {**run_sim_drill(plan, w, adapter, p.clock, body.failback), "target": "platform-sim"}

    def publish(out: dict[str, Any]) -> None:
        event = {k: out[k] for k in ("workload", "ok", "met", "achieved_rto_s", "target_rto_s", "strategy", "target")}
        p.bus.publish(DrDrill.model_validate(event), source=SOURCE, subject=w.name)

    job = drill_jobs(p).submit(f"drill {w.name}", {"workload": w.name, "service": body.service}, work, publish)
    url = f"/api/v1/dr/drills/{job['id']}"
    response.headers["Location"] = url
    return {**job, "url": url}


@router.get("/dr/drills")
def dr_drill_jobs(request: Request, state: JobState | None = None) -> dict[str, Any]:
    """Drill jobs, newest first (``state``: only those in it)."""
    return {"jobs": drill_jobs(request.app.state.platform).list(state)}


@router.get("/dr/drills/{job_id}")
def dr_drill_job(job_id: str, request: Request) -> dict[str, Any]:
    """One drill job: state, progress, and the result when done (or the error when failed)."""
    return drill_jobs(request.app.state.platform).get(job_id)


@router.delete("/dr/drills/{job_id}", status_code=202)
def dr_drill_delete(job_id: str, request: Request) -> dict[str, Any]:
    """Cancel a drill job (a queued one at once, a running one at its next wait)."""
    return drill_jobs(request.app.state.platform).cancel(job_id)


@router.post("/dr/drills/{job_id}/cancel", status_code=202)
def dr_drill_cancel(job_id: str, request: Request) -> dict[str, Any]:
    """Cancel a drill job (the same as ``DELETE``)."""
    return drill_jobs(request.app.state.platform).cancel(job_id)


@router.post("/terraform")
def terraform(body: TerraformRequest, request: Request) -> dict[str, Any]:
    """Terraform JSON per cloud for a plan (or for the placement of an estate), with schema check results."""
    cat = _catalog(request)
    if body.plan is not None:
        plan = body.plan
        check_plan(plan, cat)
    else:
        estate = body.estate
        if estate is None:  # the validator guarantees one of the two
            raise BadInput("give 'plan' or 'estate'", field="estate")
        check_estate(estate, cat)
        plan = place(estate, cat, PlacementOptions(time_limit_s=body.time_limit_s, explain=False))
    docs = terraform_documents(plan)
    return {
        "documents": {
            cloud: {"file": f"hx-{cloud}.tf.json", "document": doc, "schema_errors": schema_errors(doc)}
            for cloud, doc in sorted(docs.items())
        },
        "total_usd_per_hour": round(plan.total_usd_per_hour, 6),
    }


@router.post("/cost/report")
def cost(body: CostRequest, request: Request) -> dict[str, Any]:
    cat = _catalog(request)
    check_estate(body.estate, cat)
    for c in body.price_changes:
        _known_cloud(cat, c)
    rep = cost_report(body.estate, cat, body.price_changes, body.options())
    out = rep.model_dump()
    event = CostReport(
        current_total_usd_per_hour=rep.current_total_usd_per_hour,
        optimal_total_usd_per_hour=rep.optimal_total_usd_per_hour,
        savings_usd_per_hour=rep.savings_usd_per_hour,
        per_cloud_optimal=rep.per_cloud_optimal,
    )
    request.app.state.platform.bus.publish(event, source=SOURCE, subject="estate")
    return out
