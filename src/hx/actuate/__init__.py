"""Actuators: the only way hx changes the world."""

from hx.actuate.base import ActionResult, Actuator, Capability

__all__ = ["ActionResult", "Actuator", "Capability"]
