"""monitoring-dashboard: one live page.  The page itself holds no data; it reads the API with the token
the user types in (kept in the browser's session storage) and streams events over server-sent events."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["monitoring-dashboard"])


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    html = (resources.files("hx.dashboard") / "page.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": "default-src 'self' 'unsafe-inline'"})
