"""Anomaly detection: the Detector family, its registry, calibration, validation and NAB tools."""

from hx.detect import changepoint as _changepoint  # noqa: F401  (each module registers its detectors)
from hx.detect import context_novelty as _context_novelty  # noqa: F401
from hx.detect import ensemble as _ensemble  # noqa: F401
from hx.detect import forecast as _forecast  # noqa: F401
from hx.detect import iforest as _iforest  # noqa: F401
from hx.detect import likelihood as _likelihood  # noqa: F401
from hx.detect import novelty as _novelty  # noqa: F401
from hx.detect import resonance as _resonance  # noqa: F401
from hx.detect import robust as _robust  # noqa: F401
from hx.detect import seasonal as _seasonal  # noqa: F401
from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import effective_threshold
from hx.detect.validate import ValidatedSeries, read_series_csv, validate_series

__all__ = ["DETECTORS", "Detector", "ValidatedSeries", "effective_threshold", "read_series_csv", "validate_series"]
