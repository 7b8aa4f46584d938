"""The ai-orchestrator component: its engine and the service its API and CLI use."""

from __future__ import annotations

from hx.deploy.rollout import RolloutEngine
from hx.deploy.service import DeploymentService
from hx.engine import Engine
from hx.errors import ConfigError
from hx.platform import Platform
from hx.telemetry.common import signal_step_s

KEY = "deploy.service"


def service(platform: Platform) -> DeploymentService:
    """The deployment service of this platform (built once)."""
    existing = platform.services.get(KEY, DeploymentService)
    if existing is not None:
        return existing
    if platform.actuator is None:
        raise ConfigError("the ai-orchestrator needs an actuator", key="actuator.kind")
    engine = RolloutEngine(platform, platform.actuator, signal_step_s=signal_step_s(platform.settings))
    svc = DeploymentService(platform, platform.actuator, engine)
    platform.services.put(KEY, svc)
    return svc


def engines(platform: Platform) -> list[Engine]:
    return [service(platform).engine]
