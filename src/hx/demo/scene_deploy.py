"""Demo scene: a good version promoted through canary steps, a bad one rolled back with the judge's reasons."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from hx.demo.context import DemoContext
from hx.deploy.component import service
from hx.deploy.records import TERMINAL, Deployment
from hx.deploy.service import Change, DeploymentRequest
from hx.security.roles import Role
from hx.sim import Fault


def _until_done(ctx: DemoContext, dep_id: int, limit_s: float = 4 * 3600) -> Deployment:
    svc = service(ctx.platform)
    waited = 0.0
    d = svc.repo.get(dep_id)
    while d.state not in TERMINAL and d.state != "needs_person" and waited < limit_s:
        ctx.run_for(60)
        waited += 60
        d = svc.repo.get(dep_id)
    return d


def _show(ctx: DemoContext, d: Deployment) -> None:
    ctx.console.print(
        f"deployment {d.id}: {d.service} {d.from_version} -> {d.version} via [bold]{d.strategy}[/bold] "
        f"(risk {d.risk['score']:.2f}, top factors {', '.join(d.risk['top'])}; decision: {d.decision['reason']})"
    )
    table = Table("analysis", "basis", "status", "score", "per-metric reasons", title=f"canary analyses of {d.version}")
    for i, a in enumerate(d.analyses, 1):
        reasons = "\n".join(f"{m['name']}: {m['status']} -- {m['reason']}" for m in a.get("metrics", []))
        table.add_row(str(i), a.get("basis", "-"), a["status"], _score(a.get("score")), reasons or a.get("error", ""))
    ctx.console.print(table)
    colour = "green" if d.state == "promoted" else "red"
    ctx.console.print(f"final state: [{colour}]{d.state}[/{colour}] {d.reason}")


def _train(ctx: DemoContext, scenarios: int = 10) -> dict[str, Any]:
    """No deployment history yet: the strategy model learns from real rollouts in small simulated fleets."""
    from rich.progress import Progress

    from hx.lab.strategy_training import train_decision_model

    with Progress(console=ctx.console, transient=True) as bar:
        task = bar.add_task(f"training the strategy model on {scenarios} simulated rollout scenarios", total=scenarios)
        meta = train_decision_model(  # the demo has no live outcomes to judge a shadow on: it forces (audited)
            ctx.platform,
            scenarios=scenarios,
            seed=0,
            force=True,
            actor="demo",
            progress=lambda done, total: bar.update(task, completed=done),
        )
    ctx.console.print(
        f"strategy model {meta.name} v{meta.version}: training_data={meta.training_data}, "
        f"{meta.metrics['examples']} examples, best strategies {meta.metrics['labels']}, "
        f"cross-validated accuracy {meta.metrics['cv_accuracy']}"
    )
    return meta.to_json()


def scene_deploy(ctx: DemoContext) -> dict[str, Any]:
    svc = service(ctx.platform)
    model = _train(ctx)
    bot = ctx.platform.tokens.authenticate(ctx.platform.tokens.create("demo-ci", Role.OPERATOR)[0])
    target = ctx.sim.names[1]
    good = svc.create(
        DeploymentRequest(
            service=target,
            version="v2",
            environment="dev",
            strategy="canary",
            change=Change(lines_changed=120, files_changed=4, description="feature flag cleanup"),
        ),
        bot,
    )
    good = _until_done(ctx, good.id)
    _show(ctx, good)
    bad = svc.create(
        DeploymentRequest(
            service=target,
            version="v3",
            environment="dev",
            strategy="canary",
            change=Change(lines_changed=900, files_changed=31, description="new query planner"),
        ),
        bot,
    )
    # v3 carries a latency regression: the sim slows every request it serves (ground truth recorded).
    ctx.sim.inject(Fault("latency_regression", service=target, version="v3", magnitude=0.25))
    bad = _until_done(ctx, bad.id)
    _show(ctx, bad)
    return {
        "model": {"version": model["version"], "training_data": model["training_data"]},
        "good": {"id": good.id, "state": good.state, "analyses": len(good.analyses)},
        "bad": {"id": bad.id, "state": bad.state, "reason": bad.reason, "analyses": len(bad.analyses)},
    }


def _score(score: object) -> str:
    """A canary score as people read it (33.3, not 33.333333333333336); '-' when the analysis has none."""
    return f"{score:.1f}" if isinstance(score, int | float) else "-"
