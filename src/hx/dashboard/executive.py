"""The executive dashboard: the platform's KPIs over time, each against its quality gate.

Every KPI is :mod:`hx.improve.kpis` evaluated at evenly spaced moments of the window, each over the configured
KPI window ending at that moment (the same figure ``/api/v1/improve/kpis`` gives now); every gate is the
configured one.  Savings come from the cost and placement events, the share of actions taken without a person
from the audit log.  What hx does not measure is listed as such, never filled in.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from hx.dashboard.window import Window, audit_actors, event_rows, latest_event_at
from hx.events import EventType
from hx.improve import kpis
from hx.improve.gates import evaluate, no_data_note

if TYPE_CHECKING:
    from hx.platform import Platform

#: the seed's KPIs that hx has no measurement for yet, and why
NOT_MEASURED = {
    "availability / SLO attainment": "hx records no SLO objectives yet; no figure is shown rather than a made-up one",
}
#: an actor that is a person's (or a script's) API token, as the audit log writes it
TOKEN_ACTOR = "token:"


def moments(window: Window, points: int) -> list[Any]:
    """``points`` evenly spaced moments ending at the window's end."""
    step = window.seconds / max(1, points - 1)
    return [window.since + timedelta(seconds=step * i) for i in range(points)]


def kpi_series(platform: Platform, window: Window, points: int = 12) -> list[dict[str, Any]]:
    """Each KPI at each moment, with its gate when one is configured."""
    cfg = platform.settings.continuous_improvement
    at = moments(window, points)
    values = [kpis.compute(kpis.gather(platform, t, cfg.kpi_window_s)) for t in at]
    gates = {g.metric: g for g in cfg.quality_gates}
    out = []
    for item in kpis.describe():
        name = item["name"]
        gate = gates.get(name)
        series = [v[name] for v in values]
        out.append(
            {
                **item,
                "t": [t.isoformat() for t in at],
                "values": series,
                "gate": None if gate is None else {"name": gate.name, "min": gate.min, "max": gate.max},
                # the gate's verdict on the last moment, by the gate's own rule (not re-implemented in the page)
                "status": None if gate is None else evaluate([gate], {name: series[-1]})[0].status,
                "no_data": no_data_note(name),  # why a moment without a value has none
            }
        )
    return out


def savings(platform: Platform, window: Window) -> list[dict[str, Any]]:
    """Cost reports and placement decisions in the window, with the savings each recorded."""
    types = (EventType.COST_REPORT.value, EventType.PLACEMENT_DECIDED.value)
    keep = ("monthly_saving_usd", "savings_usd_per_hour", "savings_vs_greedy_pct", "savings_vs_best_single_cloud_pct")
    return [
        {"ts": r["ts"], "type": r["type"], **{k: r["data"].get(k) for k in keep}}
        for r in event_rows(platform, types, window)
    ]


def autonomy(platform: Platform, window: Window, buckets: int = 12) -> dict[str, Any]:
    """Share of audited actions taken by hx itself (an actor that is no API token), per slice of the window."""
    rows = audit_actors_in_slices(platform, window, buckets)
    return {
        "t": [r[0] for r in rows],
        "share": [(r[2] / r[1]) if r[1] else None for r in rows],
        "actions": [r[1] for r in rows],
    }


def audit_actors_in_slices(platform: Platform, window: Window, buckets: int) -> list[tuple[str, int, int]]:
    """(slice end, audited actions, of which by hx itself) for each slice of the window."""
    edges = moments(window, buckets + 1)
    out = []
    for lo, hi in pairwise(edges):
        acts = audit_actors(platform, Window(lo, hi))
        out.append((hi.isoformat(), len(acts), sum(not actor.startswith(TOKEN_ACTOR) for actor, _ in acts)))
    return out


def executive(platform: Platform, window: Window) -> dict[str, Any]:
    """Everything the executive page draws."""
    return {
        "window": window.to_json(),
        "latest_event_at": latest_event_at(platform),
        "kpi_window_s": platform.settings.continuous_improvement.kpi_window_s,
        "kpis": kpi_series(platform, window),
        "savings": savings(platform, window),
        "autonomy": autonomy(platform, window),
        "not_measured": NOT_MEASURED,
    }
