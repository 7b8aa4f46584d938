"""``hx catalog``, ``hx place``, ``hx dr`` and ``hx terraform``: the multi-cloud component, locally.

Every command works offline on an estate YAML file (see ``src/hx/cloud/data/example_estate.yml``);
bad input (an unknown region, a negative size, an impossible constraint) exits 2 naming the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hx.cli.session import JSON, Ctx, ctx_of, number
from hx.files import writing
from hx.security.private import export_dir

catalog_app = typer.Typer(help="The cloud catalog: clouds, regions, instance types, SkyPilot imports.")
dr_app = typer.Typer(help="Disaster recovery: plans from RPO/RTO, drills in simulated time.", no_args_is_help=True)
terraform_app = typer.Typer(help="Terraform JSON for a placement.", no_args_is_help=True)

ESTATE = typer.Argument(..., exists=True, dir_okay=False, help="estate YAML (workloads, egress, budget)")


def register(app: typer.Typer) -> None:
    """Add ``hx catalog``, ``hx place``, ``hx dr`` and ``hx terraform`` to ``app``."""
    app.add_typer(catalog_app, name="catalog")
    app.command("place")(place_cmd)
    app.add_typer(dr_app, name="dr")
    app.add_typer(terraform_app, name="terraform")


def _catalog(c: Ctx) -> Any:
    from hx.cloud.planning import catalog_for

    return catalog_for(c.loaded.settings)


def _estate(c: Ctx, file: Path) -> tuple[Any, Any]:
    """(estate, catalog) with every name the estate gives checked against the catalog."""
    from hx.cloud.planning import check_estate
    from hx.cloud.workload import load_estate

    estate = load_estate(file)
    cat = _catalog(c)
    check_estate(estate, cat)
    return estate, cat


# ---- hx catalog ---------------------------------------------------------------------------------------


@catalog_app.callback(invoke_without_command=True)
def catalog_root(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Without a subcommand: the clouds of the catalog in force (as ``hx catalog list``)."""
    ctx_of(ctx, as_json)
    if ctx.invoked_subcommand is None:
        catalog_list(ctx, as_json=False)


@catalog_app.command("list")
def catalog_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Clouds with their counts of regions, instance types and priced offers."""
    c = ctx_of(ctx, as_json)
    s = _catalog(c).summary()
    if c.as_json:
        c.emit(s)
        return
    table = Table("cloud", "regions", "instance types", "offers", title=f"catalog (prices taken {s['taken']})")
    for name, v in s["clouds"].items():
        table.add_row(name, str(v["regions"]), str(v["instance_types"]), str(v["offers"]))
    c.console.print(table)


@catalog_app.command("regions")
def catalog_regions(
    ctx: typer.Context,
    cloud: str | None = typer.Option(None, help="aws, azure or gcp"),
    jurisdiction: str | None = typer.Option(None, help="e.g. EU, US, UK"),
    as_json: bool = JSON,
) -> None:
    """Regions with country, jurisdiction and continent."""
    from hx.errors import UnknownName

    c = ctx_of(ctx, as_json)
    cat = _catalog(c)
    if cloud is not None and cloud not in cat.clouds():
        raise UnknownName("cloud", cloud, cat.clouds())
    known = sorted({r.jurisdiction for r in cat.regions()})
    if jurisdiction is not None and jurisdiction not in known:  # it listed "0 regions" and exited 0
        raise UnknownName("jurisdiction", jurisdiction, known, field="--jurisdiction")
    regions = cat.regions(cloud=cloud, jurisdiction=jurisdiction)
    if c.as_json:
        c.emit({"regions": [r.model_dump() for r in regions]})
        return
    table = Table("location", "name", "country", "jurisdiction", "continent", title=f"{len(regions)} regions")
    for r in regions:
        table.add_row(str(r.location), r.name, r.country, r.jurisdiction, r.continent)
    c.console.print(table)


@catalog_app.command("types")
def catalog_types(
    ctx: typer.Context,
    cloud: str | None = typer.Option(None, help="aws, azure or gcp"),
    min_vcpus: float = typer.Option(0.0, parser=number(0.0)),
    min_memory_gib: float = typer.Option(0.0, parser=number(0.0)),
    as_json: bool = JSON,
) -> None:
    """Instance types with at least the given vCPUs and memory."""
    from hx.errors import UnknownName

    c = ctx_of(ctx, as_json)
    cat = _catalog(c)
    if cloud is not None and cloud not in cat.clouds():
        raise UnknownName("cloud", cloud, cat.clouds())
    types = cat.instance_types(cloud=cloud, min_vcpus=min_vcpus, min_memory_gib=min_memory_gib)
    if c.as_json:
        c.emit({"instance_types": [t.model_dump() for t in types]})
        return
    table = Table("cloud", "type", "vCPUs", "GiB", "arch", "category", title=f"{len(types)} instance types")
    for t in types:
        table.add_row(t.cloud, t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}", t.arch, t.category)
    c.console.print(table)


@catalog_app.command("import")
def catalog_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a SkyPilot catalog CSV (vms.csv)"),
    cloud: str = typer.Option(..., "--cloud", help="aws, azure or gcp"),
    out: Path | None = typer.Option(None, "--out", help="catalog file to write (default: <data dir>/catalog.json)"),
    skip_unknown_regions: bool = typer.Option(False, help="skip rows of regions the catalog does not know"),
    as_json: bool = JSON,
) -> None:
    """Merge a SkyPilot CSV into the catalog (the data dir's, else the built-in one) and save it."""
    from hx.cloud.catalog import load_catalog, save_catalog
    from hx.cloud.planning import CATALOG_FILE
    from hx.cloud.skypilot import import_skypilot_csv

    c = ctx_of(ctx, as_json)
    data_dir = c.loaded.settings.data_dir
    target = out or data_dir / CATALOG_FILE
    base = load_catalog(target if target.exists() else None)
    merged = import_skypilot_csv(file, cloud, base, unknown_regions="skip" if skip_unknown_regions else "error")
    with writing("--out"):
        export_dir(target.parent)
        save_catalog(merged, target)
    before = sum(1 for k in base.offers if k[0] == cloud)
    after = sum(1 for k in merged.offers if k[0] == cloud)
    data = {"file": str(target), "cloud": cloud, "offers_before": before, "offers_after": after}
    data["imports"] = merged.meta.get("imports")
    c.emit(data, f"merged {file.name} into {target}: {cloud} offers {before} -> {after}")


# ---- hx place ------------------------------------------------------------------------------------------


def place_cmd(
    ctx: typer.Context,
    file: Path = ESTATE,
    time_limit_s: float = typer.Option(60.0, parser=number(1.0), help="solver time limit"),
    as_json: bool = JSON,
) -> None:
    """Least-cost placement of an estate, with the runner-up and rejections of every workload."""
    from hx.cloud.placement import PlacementOptions, place
    from hx.cloud.planning import plan_report

    c = ctx_of(ctx, as_json)
    estate, cat = _estate(c, file)
    plan = place(estate, cat, PlacementOptions(time_limit_s=time_limit_s))
    report = plan_report(estate, cat, plan)
    if c.as_json:
        c.emit(report)
        return
    print_plan(c.console, report)


def print_plan(console: Any, report: dict[str, Any]) -> None:
    """The plan as a rich table, then its totals against greedy and the best single cloud."""
    plan, cmp = report["plan"], report["comparison"]
    table = Table("workload", "where (instance x replicas)", "USD/h", "runner-up (+USD/h)", "rejected", "why")
    for a in plan["assignments"]:
        ex = a.get("explanation") or {}
        where = "\n".join(
            f"{p['location']} {p['instance_type']} x{p['replicas']}" + (" spot" if p["spot"] else "")
            for p in a["placements"]
        )
        extra = ex.get("runner_up_extra_usd_per_hour")
        runner = f"{ex.get('runner_up')} ({extra:+.4f})" if ex.get("runner_up") else "-"
        rejected = ", ".join(f"{k} {v}" for k, v in (ex.get("rejected") or {}).items() if v)
        cost = a["compute_usd_per_hour"] + a["egress_usd_per_hour"]
        table.add_row(a["workload"], where, f"{cost:.4f}", runner, rejected or "-", ex.get("note", ""))
    table.title = f"placement ({plan['status']}, gap {plan['mip_gap'] or 0:.2%}, catalog {plan['catalog_taken']})"
    console.print(table)
    console.print(
        f"total [bold]{plan['total_usd_per_hour']:.4f}[/bold] USD/h (compute {plan['compute_usd_per_hour']:.4f}, "
        f"egress {plan['egress_usd_per_hour']:.4f}); greedy {cmp['greedy_usd_per_hour']:.4f} "
        f"(saves {cmp['savings_vs_greedy_pct']:.1f}%)"
    )
    singles = ", ".join(
        f"{k} {v:.4f}" if v is not None else f"{k} infeasible" for k, v in cmp["single_cloud_usd_per_hour"].items()
    )
    best = cmp["best_single_cloud"]
    tail = f"; best single cloud {best} (saves {cmp['savings_vs_best_single_cloud_pct']:.1f}%)" if best else ""
    console.print(f"single cloud: {singles}{tail}")


# ---- hx dr -----------------------------------------------------------------------------------------------


@dr_app.command("plan")
def dr_plan(ctx: typer.Context, file: Path = ESTATE, as_json: bool = JSON) -> None:
    """A DR plan per workload: strategy from RPO/RTO, the standby location, its extra cost and runbook."""
    from hx.cloud.dr import plan_dr
    from hx.cloud.placement import place

    c = ctx_of(ctx, as_json)
    estate, cat = _estate(c, file)
    plans = plan_dr(estate, place(estate, cat), cat)
    if c.as_json:
        c.emit({"plans": [p.model_dump() for p in plans]})
        return
    table = Table("workload", "strategy", "RPO/RTO s", "primary", "standby", "+USD/h", "runbook", title="DR plans")
    for p in plans:
        steps = " -> ".join(f"{s.verb} {s.target}" for s in p.runbook)
        table.add_row(
            p.workload,
            p.strategy,
            f"{p.rpo_s:g}/{p.rto_s:g}",
            p.primary,
            f"{p.standby} ({p.standby_instance_type})",
            f"{p.extra_usd_per_hour:.4f}",
            steps,
        )
    c.console.print(table)


@dr_app.command("drill")
def dr_drill(
    ctx: typer.Context,
    file: Path = ESTATE,
    workload: str = typer.Option(..., "--workload", "-w", help="the workload whose failover to drill"),
    as_json: bool = JSON,
) -> None:
    """Run the workload's failover runbook on a fresh simulated fleet in simulated time; exit 1 if the
    achieved RTO misses the target or a step fails."""
    from hx.cloud.planning import plan_for
    from hx.lab.dr_drill import drill_on_fresh_sim

    c = ctx_of(ctx, as_json)
    estate, cat = _estate(c, file)
    plan = plan_for(estate, cat, workload)
    w = next(x for x in estate.workloads if x.name == workload)
    out = drill_on_fresh_sim(plan, w)
    if c.as_json:
        c.emit(out)
    else:
        print_drill(c.console, out)
    if not out["met"]:
        raise typer.Exit(1)


def print_drill(console: Any, out: dict[str, Any]) -> None:
    table = Table("at s", "verb", "target", "ok", "detail", title=f"DR drill of {out['workload']} ({out['strategy']})")
    for s in out["steps"]:
        table.add_row(f"{s['at_s']:.0f}", s["verb"], s["target"], "yes" if s["ok"] else "NO", s["detail"])
    console.print(table)
    verdict = "[green]met[/green]" if out["met"] else "[red]missed[/red]"
    console.print(
        f"{out['primary']} -> {out['standby']}: achieved RTO [bold]{out['achieved_rto_s']:.0f} s[/bold] "
        f"vs target {out['target_rto_s']:.0f} s: {verdict} (simulated time, {out['target']})"
    )


# ---- hx terraform -------------------------------------------------------------------------------------------


@terraform_app.command("export")
def terraform_export(
    ctx: typer.Context,
    file: Path = ESTATE,
    out: Path = typer.Option(..., "--out", file_okay=False, help="directory for hx-<cloud>.tf.json"),
    as_json: bool = JSON,
) -> None:
    """Place the estate and write one Terraform JSON file per cloud used; prints the paths."""
    from hx.cloud.placement import PlacementOptions, place
    from hx.cloud.terraform import export_terraform, schema_errors, terraform_documents

    c = ctx_of(ctx, as_json)
    estate, cat = _estate(c, file)
    plan = place(estate, cat, PlacementOptions(explain=False))
    errors = {cloud: schema_errors(doc) for cloud, doc in terraform_documents(plan).items()}
    with writing("--out"):
        paths = export_terraform(plan, out)
    data = {"files": [str(p) for p in paths], "schema_errors": {k: v for k, v in errors.items() if v}}
    c.emit(data, "\n".join(str(p) for p in paths))
