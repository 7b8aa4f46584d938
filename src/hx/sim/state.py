"""Struct-of-arrays state: replicas (instances) and version groups as numpy columns, never Python objects.

Slots are appended and never reused, so a slot index names the same instance (or version group) for the
whole run; a removed instance keeps its slot with ``alive`` False.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_INSTANCE_COLUMNS: dict[str, Any] = {
    "group": np.int64,
    "service": np.int64,
    "node": np.int64,
    "alive": np.bool_,
    "crash": np.bool_,
    "created": np.float64,
    "ready_at": np.float64,
    "hog": np.float64,
    "leak_rate": np.float64,  # memory fraction per minute
    "leak_mem": np.float64,
    "disk": np.float64,
    "disk_rate": np.float64,  # disk fraction per minute
    "restarts": np.float64,
    "req_total": np.float64,
    "err_total": np.float64,
    "served_total": np.float64,  # requests answered (admitted), the count of the latency summary
    "latency_sum": np.float64,  # seconds spent answering them (mean M/M/1 time plus median dependency time)
}

_GROUP_COLUMNS: dict[str, Any] = {
    "service": np.int64,
    "active": np.bool_,
    "weight": np.float64,
    "desired": np.int64,
    "slowdown": np.float64,
    "extra_latency": np.float64,
    "error_extra": np.float64,
    "deployed_at": np.float64,
}


class Table:
    """Named numpy columns that grow by doubling; ``n`` rows are in use."""

    def __init__(self, columns: dict[str, Any], capacity: int = 64) -> None:
        self._dtypes = columns
        self._cols: dict[str, np.ndarray] = {k: np.zeros(capacity, dtype=d) for k, d in columns.items()}
        self.n = 0

    def col(self, name: str) -> np.ndarray:
        """The in-use part of a column (a view: writes go to the table)."""
        return self._cols[name][: self.n]

    def append(self, **values: float | int | bool) -> int:
        if self.n == next(iter(self._cols.values())).size:
            for k, arr in self._cols.items():
                grown = np.zeros(arr.size * 2, dtype=arr.dtype)
                grown[: arr.size] = arr
                self._cols[k] = grown
        row = self.n
        self.n += 1
        for k, v in values.items():
            self._cols[k][row] = v
        return row


class Instances(Table):
    """One row per replica ever created: which group/service/node, liveness, fault effects, counters."""

    def __init__(self, capacity: int = 64) -> None:
        super().__init__(_INSTANCE_COLUMNS, capacity)
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, name: str, **values: float | int | bool) -> int:
        row = self.append(**values)
        self.names.append(name)
        self.index[name] = row
        return row


class Groups(Table):
    """One row per (service, version) ever deployed: traffic weight, desired replicas, version-tied faults."""

    def __init__(self, capacity: int = 64) -> None:
        super().__init__(_GROUP_COLUMNS, capacity)
        self.versions: list[str] = []
        self.index: dict[tuple[int, str], int] = {}

    def add(self, service: int, version: str, **values: float | int | bool) -> int:
        row = self.append(service=service, **values)
        self.versions.append(version)
        self.index[(service, version)] = row
        return row
