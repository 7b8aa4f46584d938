"""``hx deploy`` (through a running server) and ``hx canary judge`` (local)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from hx.cli.client import ApiClient
from hx.cli.session import JSON, Ctx, ctx_of, seed_option
from hx.deploy.risk import MIN_ROWS

deploy_app = typer.Typer(help="Ship a version: risk, strategy, rollout, canary judgement.", no_args_is_help=True)
canary_app = typer.Typer(help="Judge a canary against its baseline.", no_args_is_help=True)

URL = typer.Option(None, "--url", help="hx server (default $HX_URL or http://127.0.0.1:8080)")
TOKEN = typer.Option(None, "--token", help="API token (default $HX_TOKEN or the data dir's admin.token)")


def _client(c: Ctx, url: str | None, token: str | None) -> ApiClient:
    return ApiClient.from_env(url, token, c.loaded.settings.data_dir)


def _show(c: Ctx, d: dict[str, Any]) -> None:
    if c.as_json:
        c.emit(d)
        return
    risk = d.get("risk", {})
    c.console.print(
        f"[bold]deployment {d['id']}[/bold] {d['service']} {d['from_version']} -> {d['version']} "
        f"({d['environment']}) strategy [bold]{d['strategy']}[/bold] state [bold]{d['state']}[/bold]"
    )
    c.console.print(f"risk {risk.get('score')} (top: {', '.join(risk.get('top', []))}); {d['decision'].get('reason')}")
    table = Table("#", "step", "detail")
    for i, step in enumerate(d["plan"] if d["phase"] == "forward" else d["rollback_plan"]):
        mark = "->" if i == d["step_index"] else ("ok" if i < d["step_index"] else "")
        table.add_row(f"{mark} {i}", step["kind"], json.dumps({k: v for k, v in step.items() if k != "kind"}))
    c.console.print(table)
    if d.get("reason"):
        c.console.print(f"reason: {d['reason']}")


@deploy_app.command("create")
def create(
    ctx: typer.Context,
    service: str = typer.Argument(...),
    version: str = typer.Argument(...),
    env: str = typer.Option(..., "--environment", "-e", help="target environment (dev, staging, prod, ...)"),
    strategy: str | None = typer.Option(None, help="rolling, blue_green, canary, recreate, conservative"),
    lines_changed: int = typer.Option(0, min=0),
    files_changed: int = typer.Option(0, min=0),
    migration: bool = typer.Option(False, help="the change migrates data: rollback is unsafe"),
    url: str | None = URL,
    token: str | None = TOKEN,
    as_json: bool = JSON,
) -> None:
    """Request a deployment; hx scores its risk, picks the strategy and starts the rollout."""
    c = ctx_of(ctx, as_json)
    body = {
        "service": service,
        "version": version,
        "environment": env,
        "strategy": strategy,
        "change": {"lines_changed": lines_changed, "files_changed": files_changed, "migration": migration},
    }
    _show(c, _client(c, url, token).request("POST", "/api/v1/deployments", json=body))


@deploy_app.command("status")
def status(
    ctx: typer.Context,
    dep_id: int | None = typer.Argument(None),
    url: str | None = URL,
    token: str | None = TOKEN,
    as_json: bool = JSON,
) -> None:
    """One deployment with its plan and analyses, or the latest ones."""
    c = ctx_of(ctx, as_json)
    api = _client(c, url, token)
    if dep_id is not None:
        _show(c, api.request("GET", f"/api/v1/deployments/{dep_id}"))
        return
    deps = api.request("GET", "/api/v1/deployments")["deployments"]
    if c.as_json:
        c.emit(deps)
        return
    table = Table("id", "service", "version", "env", "strategy", "state")
    for d in deps:
        table.add_row(str(d["id"]), d["service"], d["version"], d["environment"], d["strategy"], d["state"])
    c.console.print(table)


def _action(name: str, help_text: str) -> None:
    def command(
        ctx: typer.Context,
        dep_id: int = typer.Argument(...),
        otp: str | None = typer.Option(None, "--otp", help="TOTP code (production approvals)"),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        c = ctx_of(ctx, as_json)
        headers = {"X-HX-OTP": otp} if otp else {}
        _show(c, _client(c, url, token).request("POST", f"/api/v1/deployments/{dep_id}/{name}", headers=headers))

    command.__doc__ = help_text
    deploy_app.command(name)(command)


for _name, _help in (
    ("approve", "Approve the waiting step (approver role; prod: not the requester, and --otp)."),
    ("pause", "Pause a running rollout."),
    ("resume", "Resume a paused rollout."),
    ("promote", "Skip the remaining analysis and promote."),
    ("abort", "Stop the rollout and return to the old version."),
    ("rollback", "Roll back (also after promotion)."),
):
    _action(_name, _help)


@deploy_app.command("train")
def train(
    ctx: typer.Context,
    scenarios: int = typer.Option(
        40,
        min=MIN_ROWS,
        help=f"simulated scenarios when history is too short (at least {MIN_ROWS}: the model's minimum)",
    ),
    seed: int = seed_option(0),
    force: bool = typer.Option(
        False, "--force", help="promote the new version at once, skipping the shadow stage (audited as forced)"
    ),
    as_json: bool = JSON,
) -> None:
    """Retrain the strategy model from the store's deployment history (or the simulator's outcomes).

    The new version goes to shadow: the improvement cycle promotes it once it beats the one in use on live
    outcomes.  --force promotes it at once."""
    from rich.progress import Progress

    from hx.lab.strategy_training import train_decision_model

    c = ctx_of(ctx, as_json)
    p = c.platform()
    with Progress(console=c.err, transient=True) as bar:
        task = bar.add_task("training", total=None)
        meta = train_decision_model(
            p,
            scenarios=scenarios,
            seed=seed,
            force=force,
            actor="cli",
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    c.emit(meta.to_json(), f"trained {meta.name} v{meta.version} on {meta.training_data} data: {dict(meta.metrics)}")


@canary_app.command("judge")
def judge_cmd(
    ctx: typer.Context,
    baseline: Path = typer.Option(
        ...,
        exists=True,
        dir_okay=False,
        help="the baseline's window: CSV with one column per metric and one row per interval (an optional "
        "timestamp column), or JSON {metric: \\[values]}, \\[{metric: value}, ...], or either under a 'baseline' key",
    ),
    canary: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="the canary's window, as --baseline (JSON: under a 'canary' key)"
    ),
    config: Path = typer.Option(
        ...,
        exists=True,
        dir_okay=False,
        help="YAML or JSON: metrics: [{name: COLUMN, kind: continuous|count, direction: increase|decrease|either "
        "(the bad one), critical: true|false, tolerance: 0.02, denominator: COLUMN (counts)}]; guards: "
        "max_increase, max_decrease (relative), max_increase_abs, max_decrease_abs, max_value, min_value; Kayenta "
        "thresholds: effect_measure (mean_ratio|cles), allowed_increase, allowed_decrease, critical_increase, "
        "critical_decrease; alpha, min_points (the README's canary section has them all)",
    ),
    history: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="CSV (or JSON, as --baseline) of the baseline's values before the canary started (same columns), "
        "used only to estimate autocorrelation and noise: much more power on short, autocorrelated windows",
    ),
    block_points: int = typer.Option(
        240, "--history-block-points", min=1, help="history is cut into blocks of this many rows, each demeaned"
    ),
    as_json: bool = JSON,
) -> None:
    """Judge the canary's metrics against the baseline's.

    Exit 0 when the verdict is pass or marginal, 1 when it is fail, 3 when it is inconclusive (too little data
    to judge: never a pass), 2 on bad input.  A metric a guard fails (a gross regression) fails the verdict
    whatever the score.
    """
    from hx.deploy.judge import history_note, judge, load_metrics_config, load_series_csv
    from hx.deploy.judge import levels as side_levels
    from hx.deploy.judge_stats import blocks_of
    from hx.errors import BadInput

    c = ctx_of(ctx, as_json)
    cfg = load_metrics_config(config)
    b, k = _window(load_series_csv, baseline, "baseline"), _window(load_series_csv, canary, "canary")
    need = {m.name for m in cfg.metrics} | {m.denominator for m in cfg.metrics if m.denominator}
    for _side, data, path in (("baseline", b, baseline), ("canary", k, canary)):
        missing = sorted(n for n in need if n not in data)
        if missing:
            held = _columns_held(data, missing)
            raise BadInput(f"{path}: no column for metric(s) {', '.join(missing)} named in {config} ({held})",
                           field=missing[0])  # fmt: skip
    past, note = None, None
    if history is not None:
        read = _window(load_series_csv, history, "history")
        try:
            note = history_note(cfg, read, f"--history {history}")
        except BadInput as err:
            raise BadInput(str(err), field="--history") from None
        past = {m: blocks_of(values, block_points) for m, values in read.items()}
    v = judge(b, k, cfg, history=past)
    levels = side_levels(b, k, cfg)
    if c.as_json:
        c.emit({**v.model_dump(), "levels": levels, **({"history_note": note} if note else {})})
    else:
        _print_verdict(c, v, levels)
        if note:
            c.console.print(f"[yellow]{escape(note)}[/yellow]")
    if v.status == "fail":
        raise typer.Exit(1)
    if v.status == "inconclusive":
        raise typer.Exit(INCONCLUSIVE)


def _columns_held(data: dict[str, Any], missing: list[str]) -> str:
    """What a window holds instead, for a refusal: its columns, and a name that differs from a metric's only in case.

    >>> _columns_held({"Latency_P95": [1.0], "errors": [0.0]}, ["latency_p95"])
    "the file has: Latency_P95, errors; names are matched exactly: 'Latency_P95' is not 'latency_p95'"
    """
    held = f"the file has: {', '.join(data) or 'no metric column'}"
    cased = {k.lower(): k for k in data}
    near = [f"{cased[m.lower()]!r} is not {m!r}" for m in missing if m.lower() in cased]
    return f"{held}; names are matched exactly: {', '.join(near)}" if near else held


#: the exit code of an inconclusive canary verdict (0 pass or marginal, 1 fail, 2 bad input)
INCONCLUSIVE = 3


def _window(load_csv: Any, path: Path, side: str) -> dict[str, Any]:
    from hx.readers import read_windows

    return read_windows(path, side) if path.suffix.lower() == ".json" else load_csv(path)


def _pct(x: float | None) -> str:
    """A relative effect as a signed percentage; none when the baseline is about zero (no ratio exists)."""
    if x is None:
        return "-"
    return f"{x:+.1%}" if abs(x) < 1e4 else "n/a (baseline ~0)"


def _print_verdict(c: Ctx, v: Any, levels: dict[str, dict[str, float | None]]) -> None:
    table = Table(
        "metric", "status", "baseline (median)", "canary (median)", "change (test)", "interval", "test", "reason",
        title=f"verdict: {v.status} (score {'-' if v.score is None else f'{v.score:.1f}'} of 100"
        f"{' over the metrics that could be judged' if v.status == 'inconclusive' and v.score is not None else ''})",
    )  # fmt: skip
    for col in table.columns:  # a narrow terminal folds a long word (a test's name) instead of cutting it
        col.overflow = "fold"
    for m in v.metrics:
        lv = levels.get(m.name, {})
        b, k = (f"{x:.4g}" if x is not None else "-" for x in (lv.get("baseline"), lv.get("canary")))
        ci = (_pct(m.ci_low), _pct(m.ci_high))
        interval = "-" if "-" in ci or "n/a (baseline ~0)" in ci else f"[{ci[0]}, {ci[1]}]"
        change = "from 0" if m.effect_infinite else _pct(m.effect)
        table.add_row(*(escape(x) for x in (m.name, m.status, b, k, change, interval, m.test, m.reason)))
    c.console.print(table)
    for r in v.reasons:
        c.console.print(f"- {r}", soft_wrap=True)
