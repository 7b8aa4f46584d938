"""Forecasting: the Forecaster family and its registry, model selection by backtest.

The scaler that acts on the forecasts is :mod:`hx.scale`.

Importing this package registers every built-in forecaster in :data:`FORECASTERS` (the LSTM too; it
needs torch only when it is fitted).
"""

from hx.forecast.backtest import BacktestScore, mase, mase_scale, rolling_forecasts, select_model, smape
from hx.forecast.base import FORECASTERS, Forecast, Forecaster, regularize
from hx.forecast.combination import Combination
from hx.forecast.gbt import GradientBoosted
from hx.forecast.holt_winters import HoltWinters
from hx.forecast.lstm import LSTMForecaster
from hx.forecast.naive import Naive, SeasonalNaive

__all__ = [
    "FORECASTERS",
    "BacktestScore",
    "Combination",
    "Forecast",
    "Forecaster",
    "GradientBoosted",
    "HoltWinters",
    "LSTMForecaster",
    "Naive",
    "SeasonalNaive",
    "mase",
    "mase_scale",
    "regularize",
    "rolling_forecasts",
    "select_model",
    "smape",
]
