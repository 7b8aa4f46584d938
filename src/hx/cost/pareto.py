"""Multi-objective sizing: the Pareto set of (instance type x replicas) over cost and SLO risk.

Risk of an option is the share of history intervals in which the demand would have pushed its
utilisation over ``utilization_limit`` (CPU or memory, whichever is worse).  Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hx.cost.rightsizing import HOURS_PER_MONTH
from hx.errors import BadInput


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: float
    memory_gib: float
    usd_per_hour: float


@dataclass(frozen=True)
class SizingOption:
    instance: str
    replicas: int
    vcpu: float
    memory_gib: float
    monthly_usd: float
    risk: float


def options(
    instance_types: Sequence[InstanceType],
    cpu_demand: npt.ArrayLike,
    memory_demand_gib: npt.ArrayLike | None = None,
    *,
    replicas: range = range(1, 21),
    utilization_limit: float = 0.8,
) -> list[SizingOption]:
    """Every (instance type x replicas) option with its monthly cost and risk.

    ``cpu_demand`` (vCPU in use) and ``memory_demand_gib`` are samples over time (NaN = gap).
    """
    cpu = np.asarray(cpu_demand, dtype=np.float64)
    mem = None if memory_demand_gib is None else np.asarray(memory_demand_gib, dtype=np.float64)
    if cpu.ndim != 1 or not np.any(np.isfinite(cpu)):
        raise BadInput("cpu_demand needs at least one sample", field="cpu_demand")
    if mem is not None and mem.shape != cpu.shape:
        raise BadInput("memory_demand_gib must be like cpu_demand", field="memory_demand_gib")
    if not 0 < utilization_limit <= 1:
        raise BadInput(f"utilization_limit must be in (0, 1], got {utilization_limit}", field="utilization_limit")
    ok = np.isfinite(cpu) if mem is None else np.isfinite(cpu) & np.isfinite(mem)
    out = []
    for it in instance_types:
        if it.vcpu <= 0 or it.memory_gib <= 0 or it.usd_per_hour < 0:
            raise BadInput(
                f"instance type {it.name!r} needs positive vCPU and memory and a price >= 0", field="instance_types"
            )
        for r in replicas:
            over = cpu[ok] > utilization_limit * r * it.vcpu
            if mem is not None:
                over |= mem[ok] > utilization_limit * r * it.memory_gib
            out.append(
                SizingOption(
                    it.name,
                    r,
                    r * it.vcpu,
                    r * it.memory_gib,
                    HOURS_PER_MONTH * r * it.usd_per_hour,
                    float(over.mean()),
                )
            )
    return out


def pareto_front(opts: Sequence[SizingOption]) -> list[SizingOption]:
    """The options no other option beats on both cost and risk, cheapest first.

    >>> a = SizingOption("a", 1, 1, 1, 10.0, 0.5)
    >>> b = SizingOption("b", 2, 2, 2, 20.0, 0.1)
    >>> c = SizingOption("c", 2, 2, 2, 25.0, 0.2)   # dominated by b
    >>> [o.instance for o in pareto_front([c, b, a])]
    ['a', 'b']
    """
    front: list[SizingOption] = []
    best_risk = float("inf")
    for o in sorted(opts, key=lambda o: (o.monthly_usd, o.risk)):
        if o.risk < best_risk:
            front.append(o)
            best_risk = o.risk
    return front


@dataclass(frozen=True)
class Choice:
    option: SizingOption
    reason: str
    front: list[SizingOption]


def choose(opts: Sequence[SizingOption], *, max_risk: float | None = 0.01, cost_weight: float | None = None) -> Choice:
    """Pick from the Pareto set: the cheapest with ``risk <= max_risk`` (default policy), or, with
    ``cost_weight`` in [0, 1], the minimum of ``w x cost/max cost + (1 - w) x risk``.

    When no option meets ``max_risk`` the least risky one is chosen and the reason says so.
    """
    front = pareto_front(opts)
    if not front:
        raise BadInput("no sizing options to choose from", field="options")
    if cost_weight is not None:
        if not 0 <= cost_weight <= 1:
            raise BadInput(f"cost_weight must be in [0, 1], got {cost_weight}", field="cost_weight")
        top = max(o.monthly_usd for o in front) or 1.0
        best = min(front, key=lambda o: cost_weight * o.monthly_usd / top + (1 - cost_weight) * o.risk)
        return Choice(best, f"weighted sum: cost weight {cost_weight}, risk weight {1 - cost_weight:.2f}", front)
    limit = 0.0 if max_risk is None else max_risk
    ok = [o for o in front if o.risk <= limit]
    if ok:
        best = ok[0]
        return Choice(best, f"cheapest option with risk {best.risk:.2%} <= {limit:.2%}", front)
    best = min(front, key=lambda o: (o.risk, o.monthly_usd))
    return Choice(best, f"no option keeps risk <= {limit:.2%}; least risky is {best.risk:.2%}", front)
