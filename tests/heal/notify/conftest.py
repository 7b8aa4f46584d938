"""Fixtures for the notifier tests: a notification, fake time, a transport, the recording servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hx.clock import SimClock
from hx.heal.notify import ActionTaken, Link, Notification, RetryPolicy, RootCause, Transport
from tests.heal.notify.receivers import FakeTime, RecordingServer, recording_http_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_notification(**overrides: Any) -> Notification:
    values: dict[str, Any] = {
        "incident_id": "inc-42",
        "title": "checkout p99 latency above SLO",
        "severity": "error",
        "service": "checkout",
        "environment": "prod",
        "incident_class": "latency_regression",
        "summary": "p99 latency 2.4 s (SLO 0.8 s) since 11:52 after deploy v1.8.3",
        "root_causes": (RootCause("payments", "latency_p99", 0.91), RootCause("checkout", "cpu", 0.42)),
        "actions": (ActionTaken("rollback", True, "to v1.8.2", target="checkout"),),
        "links": (Link("Runbook", "https://runbooks.example.com/latency"), Link("Dashboard", "https://hx.example/d/1")),
        "opened_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Notification(**values)


@pytest.fixture
def note() -> Notification:
    return make_notification()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def http() -> Iterator[RecordingServer]:
    with recording_http_server() as server:
        yield server


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    """One client for the session: building one loads the CA bundle, which is slow on a busy machine."""
    with httpx.Client() as c:
        yield c


@pytest.fixture
def transport(fake_time: FakeTime, client: httpx.Client) -> Transport:
    return Transport(
        client=client,
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        clock=SimClock(T0),
        retry=RetryPolicy(max_attempts=5, backoff_s=1.0, max_backoff_s=8.0, max_retry_after_s=60.0, timeout_s=5.0),
    )
