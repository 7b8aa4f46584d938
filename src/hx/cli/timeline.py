"""``hx timeline SERVICE``: one service's deploys, anomalies, incidents, remediation and scaling, in time order,
with a sparkline of its key signal (through a running server's API)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.table import Table

from hx.cli.client import ApiClient
from hx.cli.session import JSON, ctx_of
from hx.clock import EARLIEST, in_era
from hx.errors import BadInput

URL = typer.Option(None, "--url", help="hx server (default $HX_URL or http://127.0.0.1:8080)")
TOKEN = typer.Option(None, "--token", help="API token (default $HX_TOKEN or the data dir's admin.token)")
SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
COLOURS = {"deploy": "cyan", "anomaly": "yellow", "incident": "red", "remediation": "magenta", "scaling": "green"}


def parse_since(text: str, now: datetime, option: str = "--since") -> datetime:
    """``6h``, ``30m``, ``2d``, ``90s`` before now, or an ISO-8601 time with its zone.

    >>> t = datetime(2026, 1, 2, tzinfo=UTC)
    >>> parse_since("6h", t).isoformat(), parse_since("2026-01-01T00:00:00Z", t).isoformat()
    ('2026-01-01T18:00:00+00:00', '2026-01-01T00:00:00+00:00')
    """
    m = SPAN.match(text.strip())
    if m:
        try:
            return in_era(now - timedelta(seconds=float(m.group(1)) * UNIT_S[m.group(2)]))
        except (OverflowError, ValueError):
            raise BadInput(f"{option} {text!r}: reaches before {EARLIEST:%Y-%m-%d}", field=option) from None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise BadInput(f"{option} {text!r}: expected a span (6h, 30m, 2d) or an ISO-8601 time", field=option) from err
    if at.tzinfo is None:
        raise BadInput(f"{option} {text!r}: give the time zone (2026-01-01T00:00:00Z)", field=option)
    try:
        return in_era(at)
    except ValueError as err:
        raise BadInput(f"{option}: {err}", field=option) from None


def _show(c: Any, data: dict[str, Any]) -> None:
    series = data.get("series") or {}
    c.console.print(f"[bold]{data['subject']}[/bold] {data['since']} -> {data['until']}")
    if series.get("signal"):
        vals = [v for v in series["values"] if v is not None]
        rng = f"{min(vals):.4g} .. {max(vals):.4g}" if vals else "no data"
        c.console.print(f"{series['signal']:>14} {series['sparkline']}  ({rng})")
    table = Table("time", "kind", "event", title=f"{len(data['entries'])} events")
    for e in data["entries"]:
        colour = COLOURS.get(e["kind"], "white")
        table.add_row(e["ts"], f"[{colour}]{e['kind']}[/{colour}]", e["summary"])
    c.console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("timeline")
    def timeline(
        ctx: typer.Context,
        service: str = typer.Argument(..., help="the service"),
        since: str = typer.Option("24h", "--since", help="a span before now (6h, 30m, 2d) or an ISO-8601 time"),
        signal: str | None = typer.Option(None, "--signal", help="the key signal (default: latency_p95, ...)"),
        url: str | None = URL,
        token: str | None = TOKEN,
        as_json: bool = JSON,
    ) -> None:
        """A service's deploys, anomalies, incidents, remediation and scaling in time order, with its key signal."""
        c = ctx_of(ctx, as_json)
        client = ApiClient.from_env(url, token, c.loaded.settings.data_dir)
        start = parse_since(since, datetime.now(UTC))
        params = {"subject": service, "since": start.isoformat(), **({"signal": signal} if signal else {})}
        data = client.request("GET", "/api/v1/timeline", params=params)
        if c.as_json:
            c.emit(data)
        else:
            _show(c, data)
