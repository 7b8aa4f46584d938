"""The component table: every service of the platform, its port, its routers and its engines.

``hx serve`` runs them all in one process on 8080; ``hx serve --component NAME`` runs one on its
own port.  Routers and engines are named by import path and loaded lazily, so a component's
heavy dependencies are imported only where it runs.  A component's ``learners`` modules register its model
families with the improvement cycle; :func:`register_learners` imports those of every component (the
continuous-improvement process improves every component's models, wherever they run).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from hx.errors import UnknownName


@dataclass(frozen=True)
class Component:
    name: str
    port: int
    summary: str
    routers: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


COMPONENTS: tuple[Component, ...] = (
    Component(
        "ai-orchestrator",
        8080,
        "deployments: risk, strategy decision, rollouts, approvals",
        routers=("hx.api.routers.deploy:router",),
        engines=("hx.deploy.component:engines",),
        learners=("hx.deploy.learner",),
    ),
    Component(
        "anomaly-detector",
        8081,
        "streaming detection over signals, anomaly events",
        routers=("hx.api.routers.detect:router", "hx.api.routers.labels:router"),
        engines=("hx.detect.component:engines",),
    ),
    Component(
        "predictive-scaler",
        8082,
        "forecasts, scaling recommendations and actions",
        routers=("hx.api.routers.scale:router",),
        engines=("hx.scale.component:engines",),
    ),
    Component(
        "cost-optimizer", 8083, "right-sizing, cost analysis and prediction", routers=("hx.api.routers.cost:router",)
    ),
    Component(
        "monitoring-dashboard",
        8084,
        "dashboards: a live page over the API",
        routers=("hx.api.routers.dashboard:router", "hx.api.routers.timeline:router"),
    ),
    Component(
        "self-healing",
        8085,
        "alert intake, incidents, runbooks, remediation, escalation",
        routers=(
            "hx.api.routers.heal:router",
            "hx.api.routers.rca:router",
            "hx.api.routers.quiet:router",
            "hx.api.routers.paging:router",
        ),
        engines=("hx.heal.component:engines",),
        learners=("hx.heal.learner",),
    ),
    Component("multi-cloud", 8086, "catalog, placement, DR, terraform", routers=("hx.api.routers.cloud:router",)),
    Component(
        "continuous-improvement",
        8087,
        "quality gates, optimisation cycles, reports, model registry",
        routers=("hx.api.routers.improve:router",),
        engines=("hx.improve.component:engines",),
    ),
)

ALL_IN_ONE_PORT = 8080


def register_learners() -> list[str]:
    """Import every component's learner modules (each registers its learner once); return the module names."""
    modules = [m for c in COMPONENTS for m in c.learners]
    for module in modules:
        importlib.import_module(module)
    return modules


def get_component(name: str) -> Component:
    for c in COMPONENTS:
        if c.name == name:
            return c
    raise UnknownName("component", name, [c.name for c in COMPONENTS])
