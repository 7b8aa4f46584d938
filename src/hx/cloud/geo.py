"""Great-circle distance and a round-trip latency estimate from it.

>>> round(great_circle_km(51.51, -0.13, 48.86, 2.35))
343
>>> round(estimate_rtt_ms(51.51, -0.13, 48.86, 2.35), 1)
10.2
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
#: light in fibre covers about 200 km per millisecond; routes run about 1.5x the great circle
FIBRE_KM_PER_MS = 200.0
ROUTE_FACTOR = 1.5
#: fixed overhead per round trip (last mile, switching)
BASE_RTT_MS = 5.0


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def estimate_rtt_ms(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Estimated round-trip time between two points: base + 2 x route length / fibre speed."""
    return BASE_RTT_MS + 2 * ROUTE_FACTOR * great_circle_km(lat1, lon1, lat2, lon2) / FIBRE_KM_PER_MS
