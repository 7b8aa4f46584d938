"""monitoring-dashboard: four live dashboards (executive, operations, AI/ML, cost) and the overview page.

The pages hold no data and no token: each reads its JSON from ``/api/v1/dashboard/...`` with the token the user
signs in with (kept in the browser's session storage, sent as an ``Authorization`` header, never in a URL), and
every action (approve, pause, abort, acknowledge, label an anomaly, add or remove a silence, maintenance window or
freeze) calls the component's own API route, so roles, the second factor and the audit apply unchanged.  Charts are
drawn with the plotly.js shipped inside the ``plotly`` package, served from here (no CDN).

In the one-service-per-component layout the actions go to the other components: the page is served with the
external URL of each (``server.component_urls``), and those components allow the dashboard's origin.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Instant
from hx.config import Server
from hx.dashboard.aiml import aiml
from hx.dashboard.costs import ReplicaSize, costs
from hx.dashboard.executive import executive
from hx.dashboard.operations import operations
from hx.dashboard.window import Window
from hx.errors import BadInput, NotFound
from hx.security.roles import Role

router = APIRouter(tags=["monitoring-dashboard"])
data = APIRouter(prefix="/api/v1/dashboard", dependencies=[Depends(authorize)], tags=["monitoring-dashboard"])

register_roles(
    {("GET", f"/api/v1/dashboard/{name}"): Role.VIEWER for name in ("executive", "operations", "aiml", "cost")}
)

#: which component serves each API the pages read or act on
PAGE_APIS: dict[str, str] = {
    "anomalies": "anomaly-detector",
    "deployments": "ai-orchestrator",
    "incidents": "self-healing",
    "improve": "continuous-improvement",
    "quiet": "self-healing",
    "silences": "self-healing",
    "maintenance": "self-healing",
    "freezes": "self-healing",
}
#: the pages: path segment -> (file, title)
PAGES: dict[str, tuple[str, str]] = {
    "executive": ("executive.html", "Executive"),
    "operations": ("operations.html", "Operations"),
    "aiml": ("aiml.html", "AI/ML"),
    "cost": ("cost.html", "Cost"),
}
#: static assets the pages load: name -> media type (plotly.min.js comes from the plotly package)
ASSETS: dict[str, str] = {"hx.js": "text/javascript", "hx.css": "text/css", "plotly.min.js": "text/javascript"}


def api_bases(server: Server) -> dict[str, str]:
    """API family -> base URL of the component serving it; empty when every component is in this process."""
    urls = server.component_urls
    return {family: urls[comp].rstrip("/") for family, comp in PAGE_APIS.items() if comp in urls}


def render_page(page: str, bases: dict[str, str]) -> str:
    """One dashboard page: its body (``<page>.html``) inside the shared layout, with the API bases filled in."""
    file, title = PAGES.get(page, ("page.html", "Overview"))
    pkg = resources.files("hx.dashboard")
    scripts = "" if page not in PAGES else '<script src="/dashboard/static/plotly.min.js"></script>\n'
    fill = {
        "{{title}}": title,
        "{{page}}": page,
        "{{scripts}}": scripts,
        "{{body}}": (pkg / file).read_text(encoding="utf-8"),
    }
    html = (pkg / "_layout.html").read_text(encoding="utf-8")
    for key, value in fill.items():
        html = html.replace(key, value, 1)
    return html.replace("/*HX_API_BASES*/{}", json.dumps(bases).replace("<", "\\u003c"), 1)


def _html(request: Request, page: str) -> HTMLResponse:
    bases = api_bases(request.app.state.platform.settings.server)
    html = render_page(page, bases)
    connect = " ".join(["'self'", *sorted(set(bases.values()))])
    csp = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; connect-src {connect}"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    """The overview: health, tables and the live event stream."""
    return _html(request, "overview")


@router.get("/dashboard/static/{name}", include_in_schema=False)
def asset(name: str, request: Request) -> Response:
    """The pages' scripts and styles, and plotly.js from the installed plotly package (gzip when accepted)."""
    if name not in ASSETS:
        raise NotFound(f"no dashboard asset {name!r}; assets: {', '.join(sorted(ASSETS))}")
    body, zipped = _asset(name)
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(zipped, media_type=ASSETS[name], headers={**headers, "Content-Encoding": "gzip"})
    return Response(body, media_type=ASSETS[name], headers=headers)


@cache
def _asset(name: str) -> tuple[bytes, bytes]:
    if name == "plotly.min.js":
        body = plotly_js().read_bytes()
    else:
        body = (resources.files("hx.dashboard") / name).read_bytes()
    return body, gzip.compress(body, compresslevel=6)


def plotly_js() -> Path:
    """plotly.min.js as the plotly package ships it (its package_data), for pages that work offline."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise NotFound(f"plotly.min.js is not in the installed plotly package ({path}); reinstall plotly")
    return path


@router.get("/dashboard/{page}", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(page: str, request: Request) -> HTMLResponse:
    if page not in PAGES:
        raise NotFound(f"no dashboard {page!r}; dashboards: {', '.join(PAGES)}")
    return _html(request, page)


def window_of(request: Request, until: datetime | None, hours: float) -> Window:
    end = until or request.app.state.platform.clock.now()
    if end.tzinfo is None:
        raise BadInput("until needs a time zone (e.g. 2026-03-03T12:00:00Z)", field="until")
    return Window.ending(end, hours)


UNTIL = Query(None, description="the window's end (ISO-8601 with a zone); default now")
HOURS = Query(24.0, gt=0, le=24 * 31, description="the window's length in hours")


@data.get("/executive")
def executive_data(request: Request, until: Instant | None = UNTIL, hours: float = HOURS) -> dict[str, Any]:
    """KPIs over time against their gates, savings, the share of actions taken without a person."""
    return executive(request.app.state.platform, window_of(request, until, hours))


@data.get("/operations")
def operations_data(
    request: Request,
    service: str | None = Query(None, max_length=200),
    until: Instant | None = UNTIL,
    hours: float = HOURS,
) -> dict[str, Any]:
    """One service's signals with its marks, rollouts in progress, open incidents, the window's anomalies with their
    labels, the quiet rules in force or to come and the rollouts freezes refused."""
    return operations(request.app.state.platform, window_of(request, until, hours), service)


@data.get("/aiml")
def aiml_data(request: Request, until: Instant | None = UNTIL, hours: float = HOURS) -> dict[str, Any]:
    """Models and versions, accuracy against the rules, shadow comparisons, forecasts, detector scores."""
    return aiml(request.app.state.platform, window_of(request, until, hours))


@data.get("/cost")
def cost_data(
    request: Request,
    until: Instant | None = UNTIL,
    hours: float = HOURS,
    vcpu_per_replica: float = Query(2.0, gt=0, le=1024),
    gib_per_replica: float = Query(4.0, gt=0, le=16384),
) -> dict[str, Any]:
    """Spend by service and by cloud, right-sizing, placement plans and their savings."""
    size = ReplicaSize(vcpu_per_replica, gib_per_replica)
    return costs(request.app.state.platform, window_of(request, until, hours), size)


router.include_router(data)
