from __future__ import annotations

import httpx

from tests.api.conftest import Api


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
