"""AuditedActuator: wraps any Actuator and records the result of every call, failures included.

A call that raises (an unsupported verb, bad input, a timeout, an unreachable backend) is recorded
as a result with ``ok=False``, ``changed=False`` and ``output["error"]`` naming the exception, and the
exception is raised again: nothing is swallowed.  If ``record`` itself raises, that error propagates
(an audit log that cannot be written must not be ignored).

>>> from hx.actuate.shell import ShellActuator
>>> seen = []
>>> act = AuditedActuator(ShellActuator({"scale": ["true"]}), seen.append)
>>> act.scale("api", 2, timeout=10).ok
True
>>> try:
...     act.restart("api-1")
... except Exception as err:
...     print(type(err).__name__)
Unsupported
>>> [(r.verb, r.ok, r.output.get("error")) for r in seen]
[('scale', True, None), ('restart', False, 'Unsupported')]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from hx.actuate.base import ActionResult, Actuator, Capability
from hx.errors import ActuatorTimeout


class AuditedActuator:
    """Forwards every verb to ``inner`` and hands each outcome to ``record``."""

    def __init__(self, inner: Actuator, record: Callable[[ActionResult], None]) -> None:
        self.inner = inner
        self.name = inner.name
        self._record = record

    def capabilities(self) -> frozenset[Capability]:
        return self.inner.capabilities()

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        return self._call("scale", service, lambda: self.inner.scale(service, replicas, timeout=timeout))

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        return self._call(
            "set_traffic_split", service, lambda: self.inner.set_traffic_split(service, weights, timeout=timeout)
        )

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        return self._call("deploy", service, lambda: self.inner.deploy(service, version, instances, timeout=timeout))

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        return self._call("restart", instance, lambda: self.inner.restart(instance, timeout=timeout))

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        return self._call("run", action, lambda: self.inner.run(action, params, timeout=timeout))

    def _call(self, verb: str, target: str, call: Callable[[], ActionResult]) -> ActionResult:
        t0 = time.monotonic()
        try:
            result = call()
        except BaseException as err:
            self._record(
                ActionResult(
                    verb=verb,
                    target=str(target),
                    ok=False,
                    detail=f"{type(err).__name__}: {err}",
                    changed=False,
                    output={
                        "error": type(err).__name__,
                        "actuator": self.name,
                        "outcome_unknown": isinstance(err, ActuatorTimeout),
                    },
                    duration_s=time.monotonic() - t0,
                )
            )
            raise
        self._record(result)
        return result
