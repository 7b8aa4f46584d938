"""Demo scene: an optimisation cycle over everything the earlier scenes recorded -- the platform's KPIs
against its quality gates, each model's accuracy on live outcomes against the rules, and what the cycle
did about it (train a shadow, wait for outcomes, promote, or fall back to the rules)."""

from __future__ import annotations

from typing import Any

from hx.cli.improve import fmt_value, print_gates
from hx.demo.context import DemoContext
from hx.improve.component import engine


def scene_improve(ctx: DemoContext) -> dict[str, Any]:
    eng = engine(ctx.platform)
    report = eng.cycle.run(ctx.clock.now())
    eng.last = report
    print_gates(ctx.console, report["gates"])
    for m in report["models"]:
        live = m["live"]
        ctx.console.print(
            f"[bold]{m['model']}[/]: {m['examples']} labelled outcomes; live accuracy "
            f"{fmt_value(live.get('accuracy'))} (rules {fmt_value(live.get('rules_accuracy'))}, "
            f"in use: {live.get('in_use', 'rules')})"
        )
        for a in m["actions"]:
            ctx.console.print(f"  - {a}")
    for r in report["recommendations"]:
        ctx.console.print(f"[yellow]recommendation[/] {r}")
    return {
        "passed": report["passed"],
        "gates": {g["name"]: g["status"] for g in report["gates"]},
        "models": {m["model"]: m["actions"] for m in report["models"]},
    }
