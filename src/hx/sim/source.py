"""``SimSource``: the simulated fleet's recorded history as a :class:`hx.telemetry.base.SignalSource`."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from hx.errors import BadInput, NotFound, UnknownName, Unsupported
from hx.sim.engine import Simulation
from hx.sim.history import INSTANCE_SIGNALS, SERVICE_SIGNALS, VERSION_SIGNALS, resample_to_grid
from hx.telemetry.base import Series, SourceCapability

#: Signals at each level: ``signal(..., version=...)`` and ``signal(..., instance=...)`` use the latter two.
SIGNALS_BY_LEVEL: dict[str, tuple[str, ...]] = {
    "service": SERVICE_SIGNALS,
    "version": VERSION_SIGNALS,
    "instance": INSTANCE_SIGNALS,
}


def _ts(when: datetime, field: str) -> float:
    if when.tzinfo is None:
        raise BadInput(f"{field} must be timezone-aware (UTC)", field=field)
    return when.timestamp()


class SimSource:
    """Signals of a :class:`~hx.sim.engine.Simulation`, resampled to the asked step (mean of the samples in
    each step; NaN where nothing was simulated). Units: rates in requests/s, ``error_rate`` as the failed
    fraction of requests, latencies in seconds, utilisations in [0, 1], ``saturation`` = offered load over
    ready capacity (capped at 10).

    >>> from datetime import timedelta
    >>> from hx.sim.spec import make_fleet
    >>> sim = Simulation(make_fleet(2, seed=3))
    >>> sim.run(steps=5)
    >>> src = SimSource(sim)
    >>> s = src.signal("frontend", "replicas", sim.start, sim.now + timedelta(minutes=2), 60.0)
    >>> s.values.tolist()[:2], s.n_gaps
    ([nan, 8.0], 3)
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def capabilities(self) -> frozenset[SourceCapability]:
        caps = SourceCapability
        return frozenset({caps.VERSIONS, caps.INSTANCES, caps.VERSION_SIGNAL})

    def services(self) -> list[str]:
        return list(self.sim.names)

    def versions(self, service: str) -> list[str]:
        """Versions of a service that are deployed now."""
        return self.sim.versions(service)

    def instances(self, service: str, version: str | None = None) -> list[str]:
        """Live instances of a service (or of one version)."""
        return self.sim.instances(service, version)

    def signal_names(self, level: str = "service") -> list[str]:
        if level not in SIGNALS_BY_LEVEL:
            raise BadInput(f"unknown level {level!r}; valid: {', '.join(SIGNALS_BY_LEVEL)}", field="level")
        return list(SIGNALS_BY_LEVEL[level])

    def signal(
        self,
        service: str,
        name: str,
        start: datetime,
        end: datetime,
        step: float,
        *,
        version: str | None = None,
        instance: str | None = None,
    ) -> Series:
        """One signal of a service, or of one of its versions (``version``) or replicas (``instance``)."""
        t0, t1 = _ts(start, "start"), _ts(end, "end")
        if t1 < t0:
            raise BadInput("end is before start", field="end")
        if step <= 0:
            raise BadInput("step must be > 0 seconds", field="step")
        window = max(float(step), self.sim.step_s)
        try:
            times, values = self.sim.series(
                service, name, version=version, instance=instance, t_from=t0 - window, t_to=t1
            )
        except UnknownName as err:  # every signal source refuses an unknown signal with NotFound (hx.telemetry.checks)
            raise NotFound(str(err), signal=name, valid=err.data.get("valid", [])) from err
        grid = t0 + step * np.arange(int(np.floor((t1 - t0) / step + 1e-9)) + 1, dtype=np.float64)
        out = resample_to_grid(times, values, grid, window)
        out[(grid > self.sim.t) | (grid < self.sim.start.timestamp() + self.sim.step_s - 1e-9)] = np.nan
        labels = {"service": service}
        if version is not None:
            labels["version"] = version
        if instance is not None:
            labels["instance"] = instance
        return Series(name, grid, out, labels)

    def signal_by_version(self, service: str, name: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """The signal for each deployed version (``version`` label)."""
        return [self.signal(service, name, start, end, step, version=v) for v in self.versions(service)]

    def signal_by_instance(self, service: str, name: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """The signal for each live replica (``instance`` label)."""
        return [self.signal(service, name, start, end, step, instance=i) for i in self.instances(service)]

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        raise Unsupported(
            "the simulated fleet does not run PromQL; use signal(service, name, ...) or point a Prometheus at "
            "hx.sim.exposition.serve() and use the Prometheus source",
            field="promql",
        )
