"""Demo scene: the example estate placed across AWS, Azure and GCP (its EU-only workloads in EU regions) with the
reasons and savings, the DR plan of the EU checkout service drilled on the demo fleet in simulated time, and the
Terraform files written for the plan."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from hx.cli.cloud import print_drill, print_plan
from hx.cloud.dr import DrPlan, plan_dr
from hx.cloud.placement import place
from hx.cloud.planning import catalog_for, plan_report
from hx.cloud.terraform import export_terraform
from hx.cloud.workload import Workload, example_estate_path, load_estate
from hx.demo.context import DemoContext
from hx.events import DrDrill, PlacementDecided
from hx.lab.dr_drill import SimDrillActuator, drill_on_fresh_sim, platform_sim, run_sim_drill

DRILLED = "checkout-api"  # the EU-only workload of the example estate, with RTO 5 min


def scene_cloud(ctx: DemoContext) -> dict[str, Any]:
    estate = load_estate(example_estate_path())
    cat = catalog_for(ctx.settings)
    plan = place(estate, cat)
    report = plan_report(estate, cat, plan)
    print_plan(ctx.console, report)
    where = {a.workload: [p.location for p in a.placements] for a in plan.assignments}
    versus = {k: v for k, v in report["comparison"].items() if not k.startswith("single")}  # as the placement API
    ctx.platform.bus.publish(
        PlacementDecided.model_validate({**report["summary"], **versus, "where": where}),
        source="multi-cloud",
        subject="estate",
    )
    plans = plan_dr(estate, plan, cat)
    dr = next(p for p in plans if p.workload == DRILLED)
    _print_dr(ctx, dr)
    w = next(x for x in estate.workloads if x.name == DRILLED)
    out = _drill(ctx, dr, w)
    print_drill(ctx.console, out)
    event = {k: out[k] for k in ("workload", "ok", "met", "achieved_rto_s", "target_rto_s", "strategy", "target")}
    ctx.platform.bus.publish(DrDrill.model_validate(event), source="multi-cloud", subject=DRILLED)
    out_dir = ctx.settings.data_dir / "terraform"  # the demo's own (temporary) data directory
    files = export_terraform(plan, out_dir)
    ctx.console.print(f"terraform: {', '.join(p.name for p in files)} written to {out_dir}")
    eu_regions = {str(r.location) for r in cat.regions(jurisdiction="EU")}
    return {
        "total_usd_per_hour": round(plan.total_usd_per_hour, 4),
        "comparison": report["comparison"],
        "where": where,
        "eu_only_in_eu": all(loc in eu_regions for loc in where[DRILLED]),
        "dr_strategy": dr.strategy,
        "drill": {k: out[k] for k in ("target", "service", "ok", "met", "achieved_rto_s", "target_rto_s")},
        "terraform_files": [p.name for p in files],
    }


def _print_dr(ctx: DemoContext, dr: DrPlan) -> None:
    table = Table("#", "verb", "target", "params", title=f"DR plan of {dr.workload}: {dr.strategy}")
    for i, s in enumerate(dr.runbook):
        table.add_row(str(i), s.verb, s.target, ", ".join(f"{k}={v}" for k, v in s.params.items()))
    ctx.console.print(
        f"{dr.workload}: RPO {dr.rpo_s:g} s, RTO {dr.rto_s:g} s -> {dr.strategy} ({dr.reason}); standby "
        f"{dr.standby} ({dr.standby_instance_type}) costs {dr.extra_usd_per_hour:.4f} USD/h more"
    )
    ctx.console.print(table)


def _drill(ctx: DemoContext, dr: DrPlan, w: Workload) -> dict[str, Any]:
    """On the demo fleet's first service (standing in for the workload) through the platform's actuator, with
    the runtime's engines running while it fails over; traffic goes back afterwards. A fresh sim otherwise."""
    sim = platform_sim(ctx.platform.actuator)
    if sim is None or ctx.platform.actuator is None:
        return drill_on_fresh_sim(dr, w)
    service = sim.names[0]
    desired = float(sim.groups.col("desired")[sim.primary_group(sim.service_id(service))])
    step = float(ctx.settings.sim.step_s)

    def wait(seconds: float) -> None:
        ctx.run_for(seconds, tick_s=min(seconds, step) if seconds > 0 else step)

    adapter = SimDrillActuator(
        ctx.platform.actuator, sim, service, dr, wait, data_gb=w.data_gb, factor=desired / w.replicas
    )
    ctx.console.print(f"drill on the demo fleet: [bold]{service}[/bold] stands in for {w.name}")
    return {**run_sim_drill(dr, w, adapter, ctx.clock, failback=True), "target": "platform-sim"}
