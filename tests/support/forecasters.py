"""Forecasters whose forecasts are fixed, to drive the plausibility guard from tests."""

from __future__ import annotations

import numpy as np

from hx.forecast.base import Forecaster


def fixed(name: str, mean: float, lower: float, upper: float) -> type[Forecaster]:
    """A forecaster named ``name`` that learns nothing and forecasts ``mean`` with the band ``[lower, upper]``."""

    class Fixed(Forecaster):
        def _fit(self, y: np.ndarray) -> None:
            return None

        def _forecast(self, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return np.full(h, mean), np.full(h, lower), np.full(h, upper)

    Fixed.name = name
    Fixed.__name__ = Fixed.__qualname__ = f"Fixed_{name}"
    return Fixed


#: a Holt-Winters blow-up after a dropout: 46,115 where the history spans 2,000-3,000
EXPLODING = fixed("exploding", 46_115.0, 46_115.0 * 0.9, 46_115.0 * 1.1)
