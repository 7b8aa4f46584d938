"""``hx cost rightsize``: CPU and memory recommendations from a usage export."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from hx.cli.session import JSON, ctx_of
from hx.errors import BadInput
from hx.files import open_text

cost_app = typer.Typer(help="Cost optimisation: right-sizing.", no_args_is_help=True)


def read_usage(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """CSV with columns timestamp, cpu (vCPU used), memory_gib and an optional workload column."""
    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    reader = csv.DictReader(open_text(path))
    missing = {"timestamp", "cpu", "memory_gib"} - set(reader.fieldnames or [])
    if missing:
        raise BadInput(f"{path}: missing column(s) {', '.join(sorted(missing))}", field=sorted(missing)[0])
    for line, r in enumerate(reader, start=2):
        t, cpu, mem = (_number(path, line, r, column) for column in ("timestamp", "cpu", "memory_gib"))
        rows[r.get("workload") or path.stem].append((t, cpu, mem))
    if not rows:
        raise BadInput(f"{path}: no usage rows after the header", field="path")
    out = {}
    for name, vals in rows.items():
        a = np.array(sorted(vals))
        out[name] = (a[:, 0], a[:, 1], a[:, 2])
    return out


def _number(path: Path, line: int, row: dict[str, str | None], column: str) -> float:
    """One cell as a number (nan is a gap); a missing or non-numeric cell, or negative usage, names its row and
    column."""
    cell = row.get(column)
    where = f"{path}: row {line}, column {column!r}"
    if cell is None:
        raise BadInput(f"{where}: missing (the row is short)", field=column)
    try:
        value = float(cell)
    except ValueError:
        raise BadInput(f"{where}: {cell!r} is not a number", field=column) from None
    if value < 0 and column != "timestamp":
        raise BadInput(f"{where}: negative usage {cell!r}", field=column)
    return value


@cost_app.command("rightsize")
def rightsize(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: timestamp,cpu,memory_gib[,workload]"),
    current_cpu: float | None = typer.Option(None, min=0, help="vCPU provisioned now (for the saving)"),
    current_memory_gib: float | None = typer.Option(None, min=0, help="GiB provisioned now"),
    as_json: bool = JSON,
) -> None:
    """Recommend CPU and memory per workload, with the monthly saving and the risk of exceeding it."""
    from hx.cost import Prices, recommend

    c = ctx_of(ctx, as_json)
    cfg = c.loaded.settings.intelligent_monitoring.cost_optimization
    prices = Prices(vcpu_hour=cfg.cpu_hour_usd, gib_hour=cfg.gib_hour_usd)
    recs = [
        recommend(name, ts, cpu, mem, current_cpu=current_cpu, current_memory_gib=current_memory_gib, prices=prices)
        for name, (ts, cpu, mem) in read_usage(file).items()
    ]
    if c.as_json:
        c.emit([r.to_dict() for r in recs])
        return
    table = Table("workload", "cpu", "memory GiB", "USD/month", "saving", "cpu risk", "memory risk")
    for r in recs:
        saving = f"{r.monthly_saving_usd:.2f}" if r.monthly_saving_usd is not None else "-"
        table.add_row(
            r.workload,
            f"{r.cpu:.2f}",
            f"{r.memory_gib:.2f}",
            f"{r.monthly_cost_usd:.2f}",
            saving,
            f"{r.cpu_risk:.1%}",
            f"{r.memory_risk:.1%}",
        )
    c.console.print(table)
