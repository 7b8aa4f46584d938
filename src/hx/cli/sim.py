"""``hx sim``: replay days of traffic through the simulated fleet, or serve it to Prometheus in real time."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from hx.cli.session import JSON, binding, ctx_of, named_options, number, seed_option
from hx.errors import BadInput

sim_app = typer.Typer(help="The simulated fleet: replay traces, serve metrics to Prometheus.", no_args_is_help=True)


#: the simulation's argument names and the options that set them (refusals name what the user typed)
_OPTIONS = {"days": "--days", "services": "--services", "seed": "--seed", "trace": "--trace", "step_s": "--step-s"}


@sim_app.command("run")
def run(
    ctx: typer.Context,
    days: float = typer.Option(7.0, parser=number(0.01, 366.0), help="simulated days (at most a year: 366)"),
    services: int = typer.Option(5, min=1, max=10000),
    seed: int = seed_option(1),
    trace: str = typer.Option("nasa", help="profile (vendored), nasa, alibaba or azure"),
    step_s: float = typer.Option(60.0, parser=number(1.0, 3600.0), help="simulated seconds per step (1 .. 3600)"),
    faults: bool = typer.Option(True, help="inject one seeded fault a day"),
    as_json: bool = JSON,
) -> None:
    """Replay DAYS of TRACE-shaped traffic over a seeded fleet and print a summary per service."""
    from hx.sim import run_summary

    c = ctx_of(ctx, as_json)
    if days * 86400.0 < step_s:  # no step at all: an empty summary
        raise BadInput(f"--days {days:g} ({days * 86400.0:g} s) is shorter than one --step-s ({step_s:g} s)",
                       field="--days")  # fmt: skip
    with Progress(console=c.err, transient=True) as bar, named_options(_OPTIONS):
        task = bar.add_task(f"simulating {days:g} days of {services} services", total=None)
        summary = run_summary(
            days,
            services,
            seed,
            trace,
            lambda done, total: bar.update(task, completed=done, total=total),
            faults=faults,
            step_s=step_s,
        )
    if c.as_json:
        c.emit(summary)
        return
    _print(c, summary)


def _print(c: Any, summary: dict[str, Any]) -> None:
    rows = summary.get("per_service", [])
    table = Table(
        title=f"{summary.get('days')} days ({summary.get('steps')} steps of {summary.get('step_s')} s), "
        f"seed {summary.get('seed')}, trace {summary.get('trace')}"
    )
    if rows:
        for key in rows[0]:
            table.add_column(_HEADERS.get(str(key), str(key)), justify="left" if key == "service" else "right")
        for r in rows:  # faults by id in the table ("f0001:cp…" at 120 columns), each told in full below it
            shown = {**r, "faults": [str(f).split(":")[0] for f in r.get("faults", [])]} if "faults" in r else r
            table.add_row(*(_cell(v) for v in shown.values()))
    c.console.print(table)
    for f in summary.get("faults", []):  # it printed the fault's dict as Python shows it
        healed = f"healed {f['healed_at']} by {f['healed_by']}" if f.get("healed_at") else "not healed"
        c.console.print(f"fault {f['id']}: {f['kind']} on {f['service']} (magnitude {f['magnitude']:g}), injected "
                        f"{f['injected_at']}, {healed}", markup=False)  # fmt: skip


#: short column titles (the keys cut to "mean_util…" in 120 columns); --json keeps the keys
_HEADERS = {"mean_utilization": "mean util", "peak_utilization": "peak util", "p99_latency_s_median": "p99 s (median)",
            "slo_p99_s": "SLO p99 s", "slo_violation_minutes": "SLO viol. min", "peak_rps": "peak req/s"}  # fmt: skip


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "-"
    return str(v)


@sim_app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(9464, min=0, max=65535, help="0 picks a free port"),
    services: int = typer.Option(5, min=1, max=10000),
    seed: int = seed_option(1),
    speed: float = typer.Option(
        1.0, parser=number(0.001, 3600.0), help="simulated seconds per wall second (at most 3600: an hour a second)"
    ),
    step_s: float = typer.Option(15.0, parser=number(0.1, 3600.0), help="simulated seconds per step (0.1 .. 3600)"),
) -> None:
    """Serve the fleet in Prometheus exposition format in real time (one target per instance at /targets)."""
    from hx.sim import Simulation, make_fleet, serve

    c = ctx_of(ctx)
    with named_options(_OPTIONS):
        sim = Simulation(make_fleet(services, seed=seed, step_s=step_s), step_s=step_s)
    with binding(host, port):
        server = serve(sim, host=host, port=port, speed=speed)
    c.err.print(f"hx sim serving {services} services at http://{server.address}/metrics (targets: /targets)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
