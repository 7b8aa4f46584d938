"""``hx improve``: KPIs, quality gates, optimisation cycles and model reviews, on the configured store."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from hx.cli.session import JSON, ctx_of

improve_app = typer.Typer(help="Continuous improvement: KPIs, quality gates, optimisation cycles.",
                          no_args_is_help=True)  # fmt: skip


def fmt_value(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@improve_app.command("kpis")
def kpis(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The platform's KPIs over continuous_improvement.kpi_window_s."""
    from hx.improve import kpis as kpis_mod

    c = ctx_of(ctx, as_json)
    p = c.platform()
    values = kpis_mod.compute(kpis_mod.gather(p, p.clock.now(), p.settings.continuous_improvement.kpi_window_s))
    if c.as_json:
        c.emit(values)
        return
    table = Table("KPI", "value", "what it is")
    for d in kpis_mod.describe():
        table.add_row(d["name"], fmt_value(values[d["name"]]), d["description"])
    c.console.print(table)


def gate_notes(gates: list[dict[str, Any]]) -> list[str]:
    """A line for each gate without data, saying why (the table's status says only ``no_data``)."""
    empty = [g for g in gates if g["status"] == "no_data" and g.get("note")]
    return [f"[yellow]{g['name']}: no data[/]: {g['note']}" for g in empty]


def print_gates(console: Console, gates: list[dict[str, Any]]) -> None:
    """The gates' table, then why each gate without data has none."""
    console.print(gate_table(gates))
    for line in gate_notes(gates):
        console.print(line)


def gate_table(gates: list[dict[str, Any]]) -> Table:
    colour = {"pass": "green", "fail": "red", "no_data": "yellow"}
    table = Table("gate", "KPI", "value", "bound", "status")
    for g in gates:
        bound = " ".join(x for x in (f">= {g['min']}" if g["min"] is not None else "",
                                     f"<= {g['max']}" if g["max"] is not None else "") if x)  # fmt: skip
        table.add_row(g["name"], g["metric"], fmt_value(g["value"]), bound, f"[{colour[g['status']]}]{g['status']}[/]")
    return table


@improve_app.command("cycle")
def cycle(
    ctx: typer.Context,
    no_train: bool = typer.Option(False, "--no-train", help="review and gate only; train no new shadow model"),
    as_json: bool = JSON,
) -> None:
    """Run one optimisation cycle now: gates, live accuracy, shadow judgement, retraining. Exit 1 if a gate fails."""
    from hx.improve.cycle import ImprovementCycle

    c = ctx_of(ctx, as_json)
    report = ImprovementCycle(c.platform()).run(train=not no_train)
    if c.as_json:
        c.emit(report)
    else:
        print_gates(c.console, report["gates"])
        for m in report["models"]:
            live = m["live"]
            acc, rules = fmt_value(live.get("accuracy")), fmt_value(live.get("rules_accuracy"))
            c.console.print(f"[bold]{m['model']}[/]: {m['examples']} labelled examples; accuracy {acc} (rules {rules})")
            for a in m["actions"]:
                c.console.print(f"  - {a}")
        for r in report["recommendations"]:
            c.console.print(f"[yellow]recommendation[/] {r}")
    if not report["passed"]:
        raise typer.Exit(1)


@improve_app.command("gates")
def gates(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Evaluate the quality gates now, without acting on models. Exit 1 if one fails."""
    from hx.improve import reports

    c = ctx_of(ctx, as_json)
    now = reports.gates_now(c.platform())
    c.emit(now["gates"]) if c.as_json else print_gates(c.console, now["gates"])
    if not now["passed"]:
        raise typer.Exit(1)


@improve_app.command("report")
def report(
    ctx: typer.Context, limit: int = typer.Option(10, min=1, max=200, help="how many cycles"), as_json: bool = JSON
) -> None:
    """Past optimisation cycles, newest first."""
    from hx.improve import reports

    c = ctx_of(ctx, as_json)
    found = reports.recent(c.platform(), limit)
    if c.as_json:
        c.emit(found)
        return
    table = Table("at", "gates", "failing", "model actions")
    for r in found:
        failing = ", ".join(g["name"] for g in r["gates"] if g["status"] == "fail") or "-"
        actions = "; ".join(a for m in r["models"] for a in m["actions"]) or "-"
        table.add_row(r["at"], "pass" if r["passed"] else "fail", failing, actions)
    c.console.print(table)
