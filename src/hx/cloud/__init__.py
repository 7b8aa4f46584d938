"""Multi-cloud: catalog, placement optimiser, DR planner, terraform generator, cost analysis."""

from hx.cloud.baselines import greedy
from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog, InstanceType, Location, Offer, Region, load_catalog, save_catalog
from hx.cloud.costs import CostReport, cost_report
from hx.cloud.dr import DrillResult, DrPlan, drill, plan_dr
from hx.cloud.placement import PlacementOptions, place
from hx.cloud.plan import Assignment, Explanation, Placement, PlacementPlan
from hx.cloud.skypilot import import_skypilot_csv
from hx.cloud.terraform import export_terraform, terraform_documents
from hx.cloud.verify import plan_costs, violations
from hx.cloud.workload import EgressPair, Estate, LatencyTarget, Spread, Workload, example_estate_path, load_estate

__all__ = [
    "Assignment",
    "Catalog",
    "CostReport",
    "DrPlan",
    "DrillResult",
    "EgressPair",
    "Estate",
    "Explanation",
    "InstanceType",
    "LatencyTarget",
    "Location",
    "Offer",
    "Placement",
    "PlacementInfeasible",
    "PlacementOptions",
    "PlacementPlan",
    "Region",
    "Spread",
    "Workload",
    "cost_report",
    "drill",
    "example_estate_path",
    "export_terraform",
    "greedy",
    "import_skypilot_csv",
    "load_catalog",
    "load_estate",
    "place",
    "plan_costs",
    "plan_dr",
    "save_catalog",
    "terraform_documents",
    "violations",
]
