"""``hx lab up | status | down | scenario NAME``: a real fleet on loopback for hx to run (:mod:`hx.lab.fleet_lab`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hx.cli.session import JSON, Ctx, ctx_of, number

lab_app = typer.Typer(help="A real fleet on this machine (HAProxy, supervisord, Prometheus, Alertmanager, hx).",
                      no_args_is_help=True)  # fmt: skip
LAB_DIR = typer.Option(None, "--lab-dir", help="where the lab lives (default: <data dir>/lab)")


def _root(c: Ctx, lab_dir: Path | None) -> Path:
    from hx.lab.fleet_lab import lab_root

    return lab_root(c.loaded.settings.data_dir, lab_dir)


@lab_app.command("up")
def up(
    ctx: typer.Context,
    lab_dir: Path | None = LAB_DIR,
    instances: int = typer.Option(2, "--instances", help="instances of v1 per tier at start"),
    rps: float = typer.Option(20.0, "--rps", help="mean requests per second of the load"),
    compression: float = typer.Option(144.0, "--compression", help="trace seconds per second (144: a day in 10 min)"),
    analysis_interval: float = typer.Option(20.0, "--analysis-interval", help="canary analysis interval, seconds"),
    workers: int = typer.Option(
        2, "--workers", help="worker pool of each bottom-tier instance (requests served at once; 0: unbounded)"
    ),
    service_ms: float = typer.Option(
        50.0, "--service-ms", help="bottom tier's time per request, waiting (a database call), in ms"
    ),
    as_json: bool = JSON,
) -> None:
    """Start the lab: HAProxy, supervisord + the sample service, node exporter, Prometheus, Alertmanager, hx, load.

    An instance of the bottom tier serves about --workers / --service-ms requests a second: raise --workers with
    --rps (e.g. --rps 300 --workers 24) so that the load fits a few instances."""
    from hx.lab.fleet_lab import LabOptions
    from hx.lab.fleet_lab import up as lab_up

    c = ctx_of(ctx, as_json)
    opts = LabOptions(instances=instances, rps=rps, compression=compression, analysis_interval_s=analysis_interval,
                      workers=workers, service_ms=service_ms)  # fmt: skip
    say = c.err.print if c.as_json else c.console.print
    state = lab_up(_root(c, lab_dir), opts, log=lambda m: say(m, highlight=False))
    c.emit({"root": state.root, "ports": state.ports}, f"lab up in {state.root}; `hx lab status`, `hx lab down`")


@lab_app.command("status")
def status(ctx: typer.Context, lab_dir: Path | None = LAB_DIR, as_json: bool = JSON) -> None:
    """Every component (up or down, port, pid) and each tier's instances and HAProxy shares."""
    from hx.lab.fleet_lab import status as lab_status

    c = ctx_of(ctx, as_json)
    found = lab_status(_root(c, lab_dir))
    if c.as_json:
        c.emit(found)
        return
    c.console.print(_table(found))
    for tier, st in found["tiers"].items():
        insts = ", ".join(f"{i['name']}:{i['port']}({'ready' if i['ready'] else i['state']})"
                          for i in st.get("instances", []))  # fmt: skip
        shares = ", ".join(f"{v}={s:.0%}" for v, s in sorted(st.get("shares", {}).items()))
        c.console.print(f"{tier:<10} {insts or st.get('error', '-')}  shares {shares or '-'}", highlight=False)
    if not all(v["up"] for v in found["components"].values()):
        raise typer.Exit(1)


def _table(found: dict[str, Any]) -> Table:
    t = Table("component", "state", "port", "pid", "url")
    for name, comp in found["components"].items():
        state = "[green]up[/]" if comp["up"] else "[red]down[/]"
        t.add_row(name, state, str(comp["port"] or "-"), str(comp["pid"]), comp["url"])
    return t


@lab_app.command("down")
def down(ctx: typer.Context, lab_dir: Path | None = LAB_DIR, as_json: bool = JSON) -> None:
    """Stop everything the lab started (the instances stop with supervisord)."""
    from hx.lab.fleet_lab import down as lab_down

    c = ctx_of(ctx, as_json)
    stopped = lab_down(_root(c, lab_dir), log=(lambda _m: None) if c.as_json else c.console.print)
    c.emit({"stopped": stopped}, f"stopped {len(stopped)} component(s)")


@lab_app.command("scenario")
def scenario(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="good-rollout, bad-rollout, kill-instance, traffic-triple, error-burst"),
    lab_dir: Path | None = LAB_DIR,
    timeout: float = typer.Option(600.0, "--timeout", parser=number(1.0), help="seconds to follow hx's events"),
    as_json: bool = JSON,
) -> None:
    """Inject a fault or start a rollout in the running lab, and print what hx did (its events)."""
    from hx.lab.fleet_lab import LabState
    from hx.lab.scenarios import run

    c = ctx_of(ctx, as_json)
    state = LabState.load(_root(c, lab_dir))
    say = c.err.print if c.as_json else c.console.print
    out = run(state, name, timeout_s=timeout, say=lambda m: say(m, highlight=False, markup=False))
    c.emit({"scenario": name, "done": out.done, "figures": out.figures, "events": out.events},
           f"{name}: {'done' if out.done else 'no outcome within the timeout'}")  # fmt: skip
    if not out.done:
        raise typer.Exit(1)


@lab_app.command("tour")
def tour(
    ctx: typer.Context,
    lab_dir: Path | None = LAB_DIR,
    timeout: float = typer.Option(420.0, "--timeout", parser=number(1.0), help="seconds to follow each scenario"),
    as_json: bool = JSON,
) -> None:
    """Every scenario in turn (good and bad rollout, a killed instance, an error burst, traffic tripling)."""
    from hx.lab.fleet_lab import LabState
    from hx.lab.scenarios import SCENARIOS, Lab, run

    c = ctx_of(ctx, as_json)
    state = LabState.load(_root(c, lab_dir))
    say = c.err.print if c.as_json else c.console.print
    results = []
    for name in ("good-rollout", "bad-rollout", "kill-instance", "error-burst", "traffic-triple"):
        say(f"[bold]== {name}[/]")
        out = run(state, name, timeout_s=timeout, say=lambda m: say(m, highlight=False, markup=False))
        if name == "error-burst":
            Lab(state).set_faults("inventory", {"error_rate": 0.0})
        if name == "traffic-triple":
            Lab(state).load(1.0, 60.0)
        results.append({"scenario": name, "done": out.done, "figures": out.figures})
    failed = [r["scenario"] for r in results if not r["done"]]
    c.emit({"scenarios": results, "failed": failed},
           f"tour: {len(SCENARIOS) - len(failed)} of {len(SCENARIOS)} scenarios reached their outcome")  # fmt: skip
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
