"""Forecasting: the Forecaster family and its registry, model selection by backtest, scaling policies.

Importing this package registers every built-in forecaster in :data:`FORECASTERS` (the LSTM too; it
needs torch only when it is fitted).
"""

from hx.forecast.backtest import BacktestScore, mase, mase_scale, rolling_forecasts, select_model, smape
from hx.forecast.base import FORECASTERS, Forecast, Forecaster, regularize
from hx.forecast.combination import Combination
from hx.forecast.gbt import GradientBoosted
from hx.forecast.holt_winters import HoltWinters
from hx.forecast.hpa import HpaPolicy, hpa_desired
from hx.forecast.lstm import LSTMForecaster
from hx.forecast.naive import Naive, SeasonalNaive
from hx.forecast.plot import plot_scaling
from hx.forecast.predictive import PredictivePolicy, ScalingDecision, replicas_for

__all__ = [
    "FORECASTERS",
    "BacktestScore",
    "Combination",
    "Forecast",
    "Forecaster",
    "GradientBoosted",
    "HoltWinters",
    "HpaPolicy",
    "LSTMForecaster",
    "Naive",
    "PredictivePolicy",
    "ScalingDecision",
    "SeasonalNaive",
    "hpa_desired",
    "mase",
    "mase_scale",
    "plot_scaling",
    "regularize",
    "replicas_for",
    "rolling_forecasts",
    "select_model",
    "smape",
]
