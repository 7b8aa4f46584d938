"""monitoring-dashboard: one live page.  The page itself holds no data; it reads the API with the token
the user types in (kept in the browser's session storage) and streams events over server-sent events.

In the one-service-per-component layout the API the page reads lives on the other components: the page is served
with the external URL of each (``server.component_urls``), and those components allow the dashboard's origin."""

from __future__ import annotations

import json
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hx.config import Server

router = APIRouter(tags=["monitoring-dashboard"])

#: which component serves each API the page reads
PAGE_APIS: dict[str, str] = {
    "anomalies": "anomaly-detector",
    "deployments": "ai-orchestrator",
    "incidents": "self-healing",
    "improve": "continuous-improvement",
}


def api_bases(server: Server) -> dict[str, str]:
    """API family -> base URL of the component serving it; empty when every component is in this process."""
    urls = server.component_urls
    return {family: urls[comp].rstrip("/") for family, comp in PAGE_APIS.items() if comp in urls}


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    bases = api_bases(request.app.state.platform.settings.server)
    html = (resources.files("hx.dashboard") / "page.html").read_text(encoding="utf-8")
    html = html.replace("/*HX_API_BASES*/{}", json.dumps(bases).replace("<", "\\u003c"))
    connect = " ".join(["'self'", *sorted(set(bases.values()))])
    csp = f"default-src 'self' 'unsafe-inline'; connect-src {connect}"
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})
