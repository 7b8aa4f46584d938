"""Each component serves its own routes (and the shared platform ones) when it runs alone."""

from __future__ import annotations

import pytest

from hx.api.app import create_app, openapi_routes
from hx.components import COMPONENTS, get_component
from hx.errors import UnknownName
from hx.platform import Platform

OWN = {
    "ai-orchestrator": ("POST", "/api/v1/deployments"),
    "anomaly-detector": ("GET", "/api/v1/anomalies"),
    "predictive-scaler": ("GET", "/api/v1/forecasts"),
    "cost-optimizer": ("POST", "/api/v1/cost/rightsize"),
    "self-healing": ("POST", "/api/v1/alerts/alertmanager"),
    "multi-cloud": ("POST", "/api/v1/placement"),
}


@pytest.mark.parametrize("name", [c.name for c in COMPONENTS])
def test_component_alone_serves_its_routes_only(platform: Platform, name: str) -> None:
    routes = set(openapi_routes(create_app(platform, [get_component(name)])))
    assert ("GET", "/api/v1/events") in routes  # the platform's own routes are everywhere
    for other, route in OWN.items():
        assert (route in routes) == (other == name), (name, other, route)


def test_ports_and_names() -> None:
    assert [c.port for c in COMPONENTS] == list(range(8080, 8088))
    with pytest.raises(UnknownName, match="self-healing"):
        get_component("self-heal")
