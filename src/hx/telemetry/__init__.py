"""Signals: the Series type, the SignalSource protocol and its implementations."""

from hx.telemetry.base import CANONICAL_SIGNALS, Series, SignalSource

__all__ = ["CANONICAL_SIGNALS", "Series", "SignalSource"]
