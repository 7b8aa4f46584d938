"""Shared fixtures: settings and platform in a temporary directory, a real PostgreSQL server."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from hx.config import Settings, load_settings
from hx.platform import Platform, build_platform
from tests.support.postgres import create_database, postgres_server


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped by SIGTERM (``timeout``, CI's cancel, ``kill``) stops as Ctrl-C does: pytest then tears the
    fixtures down, so the servers they started in sessions of their own (PostgreSQL, Prometheus, the lab's HAProxy,
    supervisord, ``hx serve``) are stopped, not left running.  Python's default for SIGTERM exits with no cleanup."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the run at once
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the group into each test's id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs two workers, ``--dist loadgroup``) the tests that start real servers
    (marked ``integration``) run one after another on one worker, as they were written to, while the other worker
    takes the rest; without xdist the mark does nothing."""
    for item in items:
        if item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.xdist_group("servers"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={"HX_HOME": str(tmp_path / "hx")}).settings


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = build_platform(settings)
    yield p
    p.store.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hx.db'}"
    server: str = request.getfixturevalue("pg_server")
    return create_database(server, f"hx_{uuid.uuid4().hex[:12]}")
