"""``hx cost rightsize``: CPU and memory recommendations from usage exports (hx's CSV or Bitbrains GWA-T-12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.readers import TimeAxis, Usage, read_usage

cost_app = typer.Typer(help="Cost optimisation: right-sizing.", no_args_is_help=True)


@cost_app.command("rightsize")
def rightsize(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ...,
        exists=True,
        help="usage files or folders: CSV of time,cpu,memory_gib[,workload], or Bitbrains GWA-T-12 VM files "
        "(*.csv / *.csv.gz, semicolon separated; a folder is one file per VM)",
    ),
    fleet: bool = typer.Option(
        False, "--fleet", help="size all workloads together under one exceed budget (--risk-budget)"
    ),
    risk_budget: float | None = typer.Option(
        None, "--risk-budget", help="with --fleet: share of workload-intervals allowed above their level"
    ),
    current_cpu: float | None = typer.Option(None, min=0, help="vCPU provisioned now (for the saving)"),
    current_memory_gib: float | None = typer.Option(None, min=0, help="GiB provisioned now"),
    step: float | None = typer.Option(None, "--step", help="seconds between rows when the time column is an index"),
    time_column: str | None = typer.Option(None, "--time-column", help="the CSV's time or index column"),
    as_json: bool = JSON,
) -> None:
    """Recommend CPU and memory per workload, with the monthly saving and the risk of exceeding it.

    Alone, each workload is sized by its own history (CPU: p90 of its busiest hour, memory: p98 of its working
    set, each with a margin).  With --fleet, one exceed budget is spread over all of them (spiky workloads take
    the risk, flat ones are sized close to their level), and the totals are compared with the VPA-style rule.
    """
    from hx.cost import Prices, WorkloadHistory, recommend, rightsize_fleet
    from hx.errors import BadInput

    c = ctx_of(ctx, as_json)
    cfg = c.loaded.settings.intelligent_monitoring.cost_optimization
    prices = Prices(vcpu_hour=cfg.cpu_hour_usd, gib_hour=cfg.gib_hour_usd)
    if risk_budget is not None and not fleet:
        raise BadInput("--risk-budget applies to --fleet only", field="--risk-budget")
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("reading usage files", total=None)
        usage = read_usage(
            files,
            TimeAxis(step_s=step, time_column=time_column),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )

    def now(u: Usage) -> tuple[float | None, float | None]:
        return (
            current_cpu if current_cpu is not None else u.provisioned_cpu,
            current_memory_gib if current_memory_gib is not None else u.provisioned_memory_gib,
        )

    if fleet:
        histories = {n: WorkloadHistory(u.timestamps, u.cpu, u.memory_gib, *now(u)) for n, u in usage.items()}
        plan = rightsize_fleet(histories, risk_budget if risk_budget is not None else cfg.risk_budget, prices=prices)
        recs, totals = plan.recommendations, plan.totals
    else:
        recs = [_alone(recommend, n, u, now(u), prices) for n, u in usage.items()]
        totals = {}
    if c.as_json:
        data: Any = [r.to_dict() for r in recs]
        c.emit({"recommendations": data, "totals": totals, "risk_budget": plan.risk_budget} if fleet else data)
        return
    _print(c.console, recs, totals, plan.risk_budget if fleet else None)


def _alone(recommend: Any, name: str, u: Usage, current: tuple[float | None, float | None], prices: Any) -> Any:
    return recommend(
        name, u.timestamps, u.cpu, u.memory_gib, current_cpu=current[0], current_memory_gib=current[1], prices=prices
    )


def _print(console: Any, recs: list[Any], totals: dict[str, dict[str, float]], budget: float | None) -> None:
    title = "recommended size per workload (risk: share of intervals above it)"
    table = Table("workload", "vCPU", "memory GiB", "USD/month", "saving USD/month", "CPU exceed risk",
                  "memory exceed risk", title=title)  # fmt: skip
    for r in recs:
        saving = f"{r.monthly_saving_usd:.2f}" if r.monthly_saving_usd is not None else "-"
        table.add_row(r.workload, f"{r.cpu:.3g}", f"{r.memory_gib:.3g}", f"{r.monthly_cost_usd:.2f}", saving,
                      f"{r.cpu_risk:.1%}", f"{r.memory_risk:.1%}")  # fmt: skip
    console.print(table)
    if totals:
        title = f"fleet totals on the history given (risk budget {budget:.1%} of workload-intervals)"
        t = Table("resource", "hx (fleet budget)", "VPA p90x1.15", "less than VPA", "exceed hx", "exceed VPA",
                  title=title)  # fmt: skip
        for res, v in totals.items():
            unit = _UNITS.get(res, res)
            t.add_row(unit, f"{v['hx']:.4g}", f"{v['vpa_p90x1.15']:.4g}", f"{v['reduction_vs_vpa']:.1%}",
                      f"{v['exceed_hx']:.2%}", f"{v['exceed_vpa']:.2%}")  # fmt: skip
        console.print(t)


#: the fleet totals' resources, as the table names them (with their units)
_UNITS = {"cpu": "CPU (vCPU)", "memory_gib": "memory (GiB)"}
