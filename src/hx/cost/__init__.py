"""Cost optimisation: right-sizing, the cost model, and cost/risk trade-offs."""

from hx.cost.backtest import Backtest, backtest
from hx.cost.cost_model import CostModel, arithmetic_cost, compare, synthetic_bills
from hx.cost.fleet import FleetPlan, WorkloadHistory, rightsize_fleet
from hx.cost.history import MIN_HISTORY_S, Grid, Skipped, common_grid
from hx.cost.pareto import Choice, InstanceType, SizingOption, choose, options, pareto_front
from hx.cost.report import Report, rightsize_report
from hx.cost.rightsizing import (
    MIN_CPU,
    MIN_MEMORY_GIB,
    Allocation,
    DecayingHistogram,
    Prices,
    Recommendation,
    allocate_risk,
    exceed_rate,
    recommend,
    settle,
    trend_factor,
)

__all__ = [
    "MIN_CPU",
    "MIN_HISTORY_S",
    "MIN_MEMORY_GIB",
    "Allocation",
    "Backtest",
    "Choice",
    "CostModel",
    "DecayingHistogram",
    "FleetPlan",
    "Grid",
    "InstanceType",
    "Prices",
    "Recommendation",
    "Report",
    "SizingOption",
    "Skipped",
    "WorkloadHistory",
    "allocate_risk",
    "arithmetic_cost",
    "backtest",
    "choose",
    "common_grid",
    "compare",
    "exceed_rate",
    "options",
    "pareto_front",
    "recommend",
    "rightsize_fleet",
    "rightsize_report",
    "settle",
    "synthetic_bills",
    "trend_factor",
]
