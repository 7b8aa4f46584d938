"""The signal-source contract, shipped with the library so the author of a source can run it on their own.

A source under check is described by a :class:`Probe`: a service it knows, one of that service's signals, and a
window ``[start, end]`` where it has data and before which it has none.  ``yield_checks()`` yields the checks one by
one; ``check_signal_source(source, probe)`` runs them all.  The promises:

- ``services()`` lists the probed service;
- ``signal(...)`` returns a :class:`~hx.telemetry.base.Series` on the grid ``start, start+step, ...`` up to ``end``
  (:func:`~hx.telemetry.common.step_grid`), labelled with its service;
- a time without data is a NaN on the grid, never a missing point or a made-up value;
- an unknown signal is refused with :class:`~hx.errors.NotFound` naming it; an unknown service with ``NotFound`` or,
  from a source that cannot tell an unknown service from one without data (Prometheus),
  :class:`~hx.errors.EmptyResult`, naming it; a window that ends before it starts, or a step <= 0, with
  :class:`~hx.errors.BadInput`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from hx.checks import expect, expect_raises
from hx.errors import BadInput, EmptyResult, NotFound
from hx.telemetry.base import Series, SignalSource
from hx.telemetry.common import step_grid, to_unix


@dataclass(frozen=True)
class Probe:
    """Where the source under check has data: ``service``'s ``signal`` over ``[start, end]``, none before ``start``."""

    service: str
    signal: str
    start: datetime
    end: datetime
    step: float


Check = Callable[[SignalSource, Probe], None]


def check_services_list_the_probed_one(source: SignalSource, p: Probe) -> None:
    names = source.services()
    expect(isinstance(names, list) and all(isinstance(n, str) for n in names), "services() returns a list of str")
    expect(p.service in names, f"services() must list {p.service!r}, got {names}")


def check_series_on_the_declared_grid(source: SignalSource, p: Probe) -> None:
    s = source.signal(p.service, p.signal, p.start, p.end, p.step)
    expect(isinstance(s, Series), f"signal() must return a Series, got {type(s).__name__}")
    grid = step_grid(to_unix(p.start, field="start"), to_unix(p.end, field="end"), p.step)
    expect(s.timestamps.shape == grid.shape, f"{len(s)} points for a grid of {grid.size}")
    np.testing.assert_allclose(s.timestamps, grid, rtol=0, atol=1e-3, err_msg="timestamps must be the step grid")
    expect(s.values.dtype == np.float64, f"values must be float64, got {s.values.dtype}")
    expect(s.name == p.signal and s.labels.get("service") == p.service, f"name/labels: {s.name!r} {dict(s.labels)}")
    expect(bool(np.isfinite(s.values).any()), "the probed window must hold data")


def check_gaps_are_nan_not_missing(source: SignalSource, p: Probe) -> None:
    early = p.start - timedelta(seconds=5 * p.step)
    s = source.signal(p.service, p.signal, early, p.end, p.step)
    grid = step_grid(to_unix(early, field="start"), to_unix(p.end, field="end"), p.step)
    expect(s.timestamps.shape == grid.shape, f"a window reaching before the data must keep every grid point, {len(s)}")
    before = s.values[s.timestamps < to_unix(p.start, field="start")]
    expect(before.size >= 4 and bool(np.isnan(before).all()), "a time without data must be NaN on the grid")


def check_refuses_an_unknown_signal(source: SignalSource, p: Probe) -> None:
    err = expect_raises(
        NotFound, lambda: source.signal(p.service, "no_such_signal", p.start, p.end, p.step), "an unknown signal"
    )
    expect("no_such_signal" in str(err), f"the error must name the signal: {err}")


def check_refuses_an_unknown_service(source: SignalSource, p: Probe) -> None:
    err = expect_raises(
        (NotFound, EmptyResult),
        lambda: source.signal("no-such-service", p.signal, p.start, p.end, p.step),
        "an unknown service",
    )
    expect("no-such-service" in str(err), f"the error must name the service: {err}")


def check_refuses_a_bad_window(source: SignalSource, p: Probe) -> None:
    expect_raises(BadInput, lambda: source.signal(p.service, p.signal, p.end, p.start, p.step), "end before start")
    expect_raises(BadInput, lambda: source.signal(p.service, p.signal, p.start, p.end, 0.0), "a step of 0")


def yield_checks() -> Iterator[Check]:
    """Every signal-source check."""
    yield check_services_list_the_probed_one
    yield check_series_on_the_declared_grid
    yield check_gaps_are_nan_not_missing
    yield check_refuses_an_unknown_signal
    yield check_refuses_an_unknown_service
    yield check_refuses_a_bad_window


def check_signal_source(source: SignalSource, probe: Probe) -> None:
    """Run every check on ``source``; AssertionError on the first broken promise."""
    for check in yield_checks():
        check(source, probe)
