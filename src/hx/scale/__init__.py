"""Scaling: the predictive scaler engine, its replica policy, the conformal demand bound, the HPA reference and the
calibrated mode's own choice of alpha (:mod:`hx.scale.alpha`).

The forecasts it acts on come from :mod:`hx.forecast`.
"""

from hx.scale.conformal import ConformalUpper
from hx.scale.hpa import HpaPolicy, hpa_desired
from hx.scale.policy import PredictivePolicy, ScalingDecision, replicas_for

__all__ = ["ConformalUpper", "HpaPolicy", "PredictivePolicy", "ScalingDecision", "hpa_desired", "replicas_for"]
