"""``hx validate``'s component checks: each component's own URL, or the all-in-one process that serves them all."""

from __future__ import annotations

from typing import Any

import httpx

from hx.components import ALL_IN_ONE_PORT, COMPONENTS
from hx.config import load_settings
from hx.validation import check_components


def _fetch(up: dict[str, dict[str, Any]]) -> Any:
    """A GET that answers the /health bodies in ``up`` (by URL) and refuses every other URL."""

    def get(url: str) -> httpx.Response:
        base = url.removesuffix("/health")
        if base not in up:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return httpx.Response(200, json=up[base])

    return get


def _body(component: str, names: list[str]) -> dict[str, Any]:
    return {"status": "ok", "component": component, "components": names, "checks": {"engines": {}}}


def test_hx_serve_alone_serves_every_component_on_one_port_and_validate_finds_them_there() -> None:
    settings = load_settings(environ={}).settings
    names = [c.name for c in COMPONENTS]
    one = f"http://127.0.0.1:{ALL_IN_ONE_PORT}"
    checks, bodies = check_components(settings, COMPONENTS, _fetch({one: _body("all", names)}))
    health = [c for c in checks if c.name.startswith("health ")]
    assert len(health) == len(COMPONENTS) and all(c.ok for c in health), [c.detail for c in health if not c.ok]
    assert all(c.detail.startswith(one) for c in health) and set(bodies) == set(names)


def test_a_component_down_on_its_own_port_is_still_a_failure() -> None:
    settings = load_settings(environ={}).settings
    one = f"http://127.0.0.1:{ALL_IN_ONE_PORT}"
    # the process on the all-in-one port serves only the orchestrator: the others are down, and say so
    checks, _ = check_components(settings, COMPONENTS, _fetch({one: _body(COMPONENTS[0].name, [COMPONENTS[0].name])}))
    failed = [c for c in checks if c.name.startswith("health ") and not c.ok]
    assert len(failed) == len(COMPONENTS) - 1 and all("Connection refused" in c.detail for c in failed)
