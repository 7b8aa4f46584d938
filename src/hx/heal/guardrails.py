"""Guardrails on automatic remediation: rate limits, the circuit breaker, one run per target, blast radius.

Each check is a pure function over the executions already recorded, so a second replica (or a
restarted one) reaches the same verdict from the store.  A refusal says which guardrail and why.

>>> batch_size(10, 0.34), batch_size(2, 0.34)
(3, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hx.heal.records import EXEC_ACTIVE, Execution

FAILED = ("failed", "escalated")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    guardrail: str = ""
    reason: str = ""


OK = Verdict(True)


def batch_size(instances: int, blast_radius: float) -> int:
    """How many of ``instances`` may be touched at once (at least one)."""
    return max(1, math.floor(instances * blast_radius + 1e-9))


def one_at_a_time(existing: Sequence[Execution], target: str) -> Verdict:
    active = [e for e in existing if e.target == target and e.state in EXEC_ACTIVE]
    if active:
        return Verdict(
            False, "one_at_a_time", f"execution {active[0].id} ({active[0].runbook}) is still running on {target}"
        )
    return OK


def rate_limit(existing: Sequence[Execution], runbook: str, target: str, now: datetime, max_per_hour: int) -> Verdict:
    hour_ago = now - timedelta(hours=1)
    recent = [e for e in existing if e.target == target and e.created_at >= hour_ago]
    same = [e for e in recent if e.runbook == runbook]
    if len(same) >= max_per_hour:
        return Verdict(False, "rate_limit", f"{runbook} already ran {len(same)} times on {target} in the last hour "
                       f"(max_runs_per_hour={max_per_hour})")  # fmt: skip
    if len(recent) >= max_per_hour:
        return Verdict(False, "rate_limit", f"{len(recent)} remediations on {target} in the last hour "
                       f"(max_runs_per_hour={max_per_hour})")  # fmt: skip
    return OK


def circuit_breaker(existing: Sequence[Execution], target: str, failures: int, reset_at: datetime | None) -> Verdict:
    """Open (refuse) when the last ``failures`` finished runs on ``target`` since the last reset all failed."""
    done = sorted(
        (e for e in existing if e.target == target and e.finished_at is not None and e.state != "rejected"
         and not e.dry_run and (reset_at is None or e.created_at > reset_at)),
        key=lambda e: e.id,
    )  # fmt: skip
    last = done[-failures:]
    if len(last) == failures and all(e.state in FAILED for e in last):
        ids = ", ".join(str(e.id) for e in last)
        return Verdict(False, "circuit_breaker", f"the last {failures} remediations on {target} failed ({ids}): "
                       "automation stopped for this service until a person resets the breaker")  # fmt: skip
    return OK


def blast_radius(touching: int, total: int, limit: float) -> Verdict:
    if total <= 0 or touching / total <= limit + 1e-9:
        return OK
    return Verdict(False, "blast_radius", f"would touch {touching} of {total} instances at once "
                   f"({touching / total:.0%} > blast_radius {limit:.0%})")  # fmt: skip
