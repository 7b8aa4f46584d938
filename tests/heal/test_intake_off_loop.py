"""The intake stores alerts in a worker thread: while its database write waits, the server keeps answering.

On PostgreSQL another session locks the alerts table; the intake's insert waits for it, and ``/health`` (which
reads other tables) must answer meanwhile.  Before, the write ran on the event loop and held every request."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from hx.api.app import create_app
from hx.config import load_settings
from hx.platform import Platform, bootstrap_admin, build_platform
from tests.support.live import live_server
from tests.support.postgres import create_database

ALERT = {"status": "firing", "labels": {"alertname": "HighErrors", "service": "api"},
         "startsAt": "2026-03-03T09:58:00Z", "fingerprint": "fp1"}  # fmt: skip


@pytest.fixture
def pg_platform(tmp_path: Path, pg_server: str) -> Iterator[tuple[Platform, str]]:
    url = create_database(pg_server, f"hx_{uuid.uuid4().hex[:12]}")
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")},
                             overrides={"storage.database_url": url}).settings  # fmt: skip
    platform = build_platform(settings)
    yield platform, url
    platform.store.dispose()


def _post(url: str, token: str, out: dict[str, httpx.Response]) -> None:
    body = json.dumps({"version": "4", "groupKey": "g", "alerts": [ALERT]})
    out["intake"] = httpx.post(f"{url}/api/v1/alerts/alertmanager", content=body, timeout=30,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def test_health_answers_while_an_intake_write_waits(pg_platform: tuple[Platform, str]) -> None:
    platform, db_url = pg_platform
    token = (bootstrap_admin(platform) or Path()).read_text().strip()
    answers: dict[str, httpx.Response] = {}
    with live_server(create_app(platform)) as url, psycopg.connect(db_url) as holder:
        httpx.get(f"{url}/health", timeout=10)  # warm: the engine and its health check are built
        holder.execute("LOCK TABLE heal_alerts IN ACCESS EXCLUSIVE MODE")  # held until the commit below
        post = threading.Thread(target=_post, args=(url, token, answers))
        post.start()
        time.sleep(1.0)  # the intake is now waiting for the lock
        t0 = time.monotonic()
        health = httpx.get(f"{url}/health", timeout=8)
        took = time.monotonic() - t0
        still_waiting = post.is_alive()
        holder.commit()
        post.join(timeout=30)
    assert health.status_code == 200
    assert still_waiting, "the intake did not wait for the lock: the test proves nothing"
    assert took < 3.0, f"/health took {took:.1f} s while an intake write waited"
    assert answers["intake"].json()["accepted"] == 1
