"""``hx cost rightsize``: CPU and memory recommendations from usage exports (hx's CSV or Bitbrains GWA-T-12)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.progress import Progress
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.errors import BadInput
from hx.readers import TimeAxis, Usage, read_usage, usage_files

if TYPE_CHECKING:
    from hx.cost.history import Skipped
    from hx.cost.report import Report

cost_app = typer.Typer(help="Cost optimisation: right-sizing.", no_args_is_help=True)


@cost_app.command("rightsize")
def rightsize(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ...,
        exists=True,
        help="usage files or folders: CSV of time,cpu,memory_gib[,workload] (cpu in cores used, not percent; "
        "memory in GiB), or Bitbrains GWA-T-12 VM files (*.csv / *.csv.gz, semicolon separated; a folder is one "
        "file per VM)",
    ),
    fleet: bool = typer.Option(
        False, "--fleet", help="size all workloads together under one exceed budget (--risk-budget)"
    ),
    risk_budget: float | None = typer.Option(
        None,
        "--risk-budget",
        help="with --fleet: share of learning intervals allowed above the level (default: "
        "cost_optimization.risk_budget); alone, risks above it are noted",
    ),
    keep_memory_peaks: bool = typer.Option(
        False, "--keep-memory-peaks", help="with --fleet: no memory below the working set's peak of the last day"
    ),
    vpa_cap: bool = typer.Option(
        True,
        "--vpa-cap/--no-vpa-cap",
        help="with --fleet: spend the budget only as far as hx's levels are exceeded, on the history given, no more "
        "often than the VPA-style rule's (p90 x 1.15)",
    ),
    memory_cap: bool = typer.Option(
        False,
        "--memory-cap",
        help="with --fleet: no workload's memory above its level in more than 10 % of its intervals (a plain "
        "p90's share): the budget may not buy the saving with a few workloads' out-of-memory kills",
    ),
    current_cpu: float | None = typer.Option(None, min=0, help="vCPU provisioned now (for the saving)"),
    current_memory_gib: float | None = typer.Option(None, min=0, help="GiB provisioned now"),
    step: float | None = typer.Option(None, "--step", help="seconds between rows when the time column is an index"),
    time_column: str | None = typer.Option(None, "--time-column", help="the CSV's time or index column"),
    as_json: bool = JSON,
) -> None:
    """Recommend CPU and memory per workload, with the monthly saving and the risk of exceeding it.

    Alone, each workload is sized by its own history (CPU: p90 of its busiest hour, memory: p98 of its working
    set, never below its peak of the last day, each with a margin).  With --fleet, one exceed budget is spread
    over all of them (spiky workloads take the risk, flat ones are sized close to their level; by default no
    further than the VPA-style rule is exceeded on the same history, --no-vpa-cap spends it all), and the totals
    are compared with the VPA-style rule on the history given and on the last 30 % of it when learned from the
    first 70 %.  A workload with under two days of usable samples is skipped, with the reason; so is a file
    that cannot be read, while the others are still recommended.
    """
    from hx.cost import Prices, WorkloadHistory
    from hx.cost.report import rightsize_report

    c = ctx_of(ctx, as_json)
    cfg = c.loaded.settings.intelligent_monitoring.cost_optimization
    prices = Prices(vcpu_hour=cfg.cpu_hour_usd, gib_hour=cfg.gib_hour_usd)
    flags = ((risk_budget is not None, "--risk-budget"), (keep_memory_peaks, "--keep-memory-peaks"),
             (not vpa_cap, "--no-vpa-cap"), (memory_cap, "--memory-cap"))  # fmt: skip
    for given, flag in flags:
        if given and not fleet:
            raise BadInput(f"{flag} applies to --fleet only", field=flag)
    for size, flag in ((current_cpu, "--current-cpu"), (current_memory_gib, "--current-memory-gib")):
        if size is not None and not math.isfinite(size):  # inf passed min=0 and priced an infinite saving
            raise BadInput(f"{flag} must be a finite size, got {size:g}", field=flag)
    if risk_budget is not None and not 0.0 < risk_budget < 0.5:
        raise BadInput(
            f"--risk-budget must be a share in (0, 0.5), e.g. 0.04, got {risk_budget:g}", field="--risk-budget"
        )
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("reading usage files", total=None)
        usage, origin, skipped = read_each(
            files,
            TimeAxis(step_s=step, time_column=time_column),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )

    def history(u: Usage) -> WorkloadHistory:
        now_cpu = current_cpu if current_cpu is not None else u.provisioned_cpu
        now_mem = current_memory_gib if current_memory_gib is not None else u.provisioned_memory_gib
        return WorkloadHistory(u.timestamps, u.cpu, u.memory_gib, now_cpu, now_mem)

    report = rightsize_report(
        {n: history(u) for n, u in usage.items()},
        origin,
        skipped=skipped,
        fleet=fleet,
        risk_budget=risk_budget if risk_budget is not None else cfg.risk_budget,
        prices=prices,
        keep_memory_peaks=keep_memory_peaks,
        vpa_cap=vpa_cap,
        memory_cap=memory_cap,
    )
    if c.as_json:
        c.emit(report.to_dict())
        return
    _print(c.console, report)


def read_each(
    paths: list[Path], axis: TimeAxis, *, progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, Usage], dict[str, str], list[Skipped]]:
    """Usage per workload, the file each came from, and the files that could not be read (with why).

    One file given that cannot be read is refused (its error, exit 2); among several, it is skipped.
    """
    from hx.cost.history import Skipped

    files = usage_files(paths)
    usage: dict[str, Usage] = {}
    origin: dict[str, str] = {}
    skipped: list[Skipped] = []
    for i, f in enumerate(files, 1):
        try:
            found = read_usage([f], axis)
        except BadInput as err:
            if len(files) == 1:
                raise
            skipped.append(Skipped(None, str(f), str(err).removeprefix(f"{f}: ")))
            found = {}
        for name, u in found.items():
            if name in usage:
                skipped.append(Skipped(name, str(f), f"workload {name!r} is also in {origin[name]}: kept that one"))
                continue
            usage[name], origin[name] = u, str(f)
        if progress is not None:
            progress(i, len(files))
    return usage, origin, skipped


def _print(console: Any, report: Report) -> None:
    title = "size per workload, now and recommended (exceed: share of intervals above it)"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    width = max((len(r.workload) + 2 for r in report.recommendations), default=8)
    table.add_column("workload", overflow="fold", min_width=min(width, 24))
    for col in ("vCPU\nnow", "vCPU\nrec.", "GiB\nnow", "GiB\nrec.", "saving\nUSD/month", "CPU\nexceed",
                "memory\nexceed\n(OOM)"):  # fmt: skip
        table.add_column(col, justify="right", no_wrap=True)
    recs = sorted(report.recommendations, key=lambda r: _natural(r.workload))
    for r in recs:
        saving = f"{r.monthly_saving_usd:.2f}" if r.monthly_saving_usd is not None else "-"
        table.add_row(r.workload + (" *" if r.notes else ""), _size(r.current_cpu), _size(r.cpu),
                      _size(r.current_memory_gib), _size(r.memory_gib), saving,
                      f"{r.cpu_risk:.1%}", f"{r.memory_risk:.1%}")  # fmt: skip
    console.print(table)
    for r in recs:
        for note in r.notes:
            console.print(f"* {r.workload}: {note}")
    if report.skipped:
        t = Table(title=f"skipped: {len(report.skipped)} (no recommendation)")
        for col in ("file", "workload", "why"):
            t.add_column(col, overflow="fold")
        for s in report.skipped:
            t.add_row(s.file, s.workload or "-", s.reason)
        console.print(t)
    if report.fleet is not None:
        _print_fleet(console, report.fleet)


def _natural(name: str) -> tuple[tuple[int, str], ...]:
    """A sort key putting workload 2 before 10.

    >>> sorted(["10", "2", "vm-1"], key=_natural)
    ['2', '10', 'vm-1']
    """
    import re

    return tuple((0, f"{int(p):020d}") if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def _size(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}" if v < 10 else f"{v:.1f}"


def _print_fleet(console: Any, fleet: dict[str, Any]) -> None:
    check = fleet["learn_judge"]
    title = (
        f"fleet totals against the VPA-style rule (p90 x 1.15); risk budget {fleet['risk_budget']:.1%}: "
        f"{fleet['risk_budget_bounds']}"
    )
    t = Table(title=title, box=box.SIMPLE_HEAD)
    t.add_column("resource", overflow="fold")
    t.add_column("exceed counted on", overflow="fold", min_width=16)
    for col in ("hx", "VPA\np90x1.15", "change\nvs VPA", "exceed\nhx", "exceed\nVPA", "workloads\n>10% hx",
                "workloads\n>10% VPA"):  # fmt: skip
        t.add_column(col, justify="right", no_wrap=True)
    judged = f"out-of-sample: last {check['judge_days']:.3g} d, learned on first {check['learn_days']:.3g} d"
    for res, unit in _UNITS.items():
        for where, v in (("in-sample: all days", fleet["in_sample"][res]), (judged, check.get(res) or {})):
            if not v:
                continue
            t.add_row(unit, where, f"{v['hx']:.4g}", f"{v['vpa_p90x1.15']:.4g}", f"{-v['reduction_vs_vpa']:+.1%}",
                      f"{v['exceed_hx']:.2%}", f"{v['exceed_vpa']:.2%}", str(v.get("workloads_over_tail_hx", "-")),
                      str(v.get("workloads_over_tail_vpa", "-")))  # fmt: skip
    console.print(t)
    console.print(
        f"out-of-sample rows: the {check['workloads_judged']} workloads with a day of samples in each part "
        f"({len(check['excluded'])} others are recommended but not judged)"
    )
    for res, unit in _UNITS.items():
        spent = fleet["in_sample"][res].get("budget_allowed", fleet["risk_budget"])
        if spent < fleet["risk_budget"]:
            console.print(f"{unit}: budget held to {spent:.2%} so that hx is exceeded no more often than the "
                          "VPA-style rule on this history (--no-vpa-cap spends all of it)")  # fmt: skip
    tail = fleet["in_sample"]["memory_gib"]
    if not fleet.get("memory_cap") and tail.get("workloads_over_tail_hx", 0) > tail.get("workloads_over_tail_vpa", 0):
        console.print(
            f"[bold yellow]memory:[/bold yellow] {tail['workloads_over_tail_hx']} workload(s) above their level in "
            f"more than 10% of intervals (out of memory), against {tail['workloads_over_tail_vpa']} under the "
            "VPA-style rule: the pooled budget concentrates the risk on spiky workloads (--memory-cap prevents it, "
            "at the cost of most of the memory saving)"
        )
    below = fleet["in_sample"]["memory_gib"].get("below_recent_peak", 0)
    if below:
        console.print(f"{below} workload(s) get less memory than their working set's peak of the last day "
                      "(--keep-memory-peaks prevents it)")  # fmt: skip
    for w in fleet["warnings"]:
        console.print(f"[bold yellow]warning:[/bold yellow] {w}")
    met = [r for r in ("cpu", "memory_gib") if (check.get(r) or {}).get("target_met")]
    if len(met) == 2:
        console.print("target met on the judged days for CPU and memory: >= 20% less than VPA at no higher exceed")


#: the fleet totals' resources, as the table names them (with their units)
_UNITS = {"cpu": "CPU (vCPU)", "memory_gib": "memory (GiB)"}
