"""Cost optimisation: right-sizing, the cost model, and cost/risk trade-offs."""

from hx.cost.cost_model import CostModel, arithmetic_cost, compare, synthetic_bills
from hx.cost.fleet import FleetPlan, WorkloadHistory, rightsize_fleet
from hx.cost.pareto import Choice, InstanceType, SizingOption, choose, options, pareto_front
from hx.cost.rightsizing import (
    Allocation,
    DecayingHistogram,
    Prices,
    Recommendation,
    allocate_risk,
    exceed_rate,
    recommend,
    trend_factor,
)

__all__ = [
    "Allocation",
    "Choice",
    "CostModel",
    "DecayingHistogram",
    "FleetPlan",
    "InstanceType",
    "Prices",
    "Recommendation",
    "SizingOption",
    "WorkloadHistory",
    "allocate_risk",
    "arithmetic_cost",
    "choose",
    "compare",
    "exceed_rate",
    "options",
    "pareto_front",
    "recommend",
    "rightsize_fleet",
    "synthetic_bills",
    "trend_factor",
]
