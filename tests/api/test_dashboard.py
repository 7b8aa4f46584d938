from __future__ import annotations

import httpx

from hx.api.app import create_app
from hx.components import Component
from hx.platform import Platform
from tests.api.conftest import Api
from tests.support.live import live_server


def test_dashboard_page_is_served_and_holds_no_data(api: Api) -> None:
    r = httpx.get(api.url + "/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for section in (
        "Health",
        "Open anomalies",
        "Deployments",
        "Incidents",
        "Live events",
        "/api/v1/events/stream",
        "Quality gates",
        "/api/v1/improve/gates",
        "/api/v1/improve/models",
    ):
        assert section in r.text
    assert "hx_" not in r.text  # no token is ever embedded in the page


def test_dashboard_apart_reads_each_api_from_its_component(platform: Platform) -> None:
    """Per-component layout: the page on 8084 reads anomalies from the detector, incidents from self-healing..., its
    CSP allows exactly those origins, and a component lets the dashboard's origin read its API."""
    urls = {
        "monitoring-dashboard": "https://hx.example:8084",
        "anomaly-detector": "https://hx.example:8081/",
        "self-healing": "https://hx.example:8085",
    }
    platform.settings.server.component_urls = urls
    dash = Component("monitoring-dashboard", 8084, "", routers=("hx.api.routers.dashboard:router",))
    with live_server(create_app(platform, [dash])) as url:
        r = httpx.get(url + "/dashboard")
        probe = httpx.options(
            url + "/health",
            headers={"Origin": "https://hx.example:8084", "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"},
        )  # fmt: skip
        act = httpx.options(
            url + "/api/v1/incidents/1/acknowledge",
            headers={"Origin": "https://hx.example:8084", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,x-hx-otp"},
        )  # fmt: skip
    assert act.status_code == 200 and act.headers.get("access-control-allow-origin") == "https://hx.example:8084"
    assert '"anomalies": "https://hx.example:8081"' in r.text and '"incidents": "https://hx.example:8085"' in r.text
    assert "deployments" not in r.text.split("API_BASES = ")[1].split(";")[0]  # not given: read from this process
    assert "connect-src 'self' https://hx.example:8081 https://hx.example:8085" in r.headers["content-security-policy"]
    assert probe.headers.get("access-control-allow-origin") == "https://hx.example:8084"
