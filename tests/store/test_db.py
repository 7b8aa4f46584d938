"""The store suite runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from hx.errors import ConfigError, StoreError
from hx.store import Store, normalise_url
from hx.store.tables import engine_state


def test_migrations_apply_and_are_idempotent(store_url: str) -> None:
    store = Store(store_url)
    assert store.current_revision() is None
    store.upgrade()
    rev = store.current_revision()
    assert rev is not None
    store.upgrade()
    assert store.current_revision() == rev
    store.dispose()


def test_datetimes_round_trip_as_aware_utc(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    when = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    with store.begin() as conn:
        conn.execute(insert(engine_state).values(engine="e", key="k", value={"a": [1, 2]}, updated_at=when))
    with store.begin() as conn:
        row = conn.execute(select(engine_state)).one()
    assert row.updated_at == when and row.updated_at.tzinfo is not None
    assert row.value == {"a": [1, 2]}
    store.dispose()


def test_transaction_rolls_back_on_error(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), store.begin() as conn:
        conn.execute(insert(engine_state).values(engine="e", key="k", value={}, updated_at=now))
        raise RuntimeError("boom")
    with store.begin() as conn:
        assert conn.execute(select(engine_state)).all() == []
    store.dispose()


def test_naive_datetime_is_refused(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    with pytest.raises(Exception, match="naive datetime"), store.begin() as conn:
        conn.execute(insert(engine_state).values(engine="e", key="k", value={}, updated_at=datetime(2026, 1, 1)))
    store.dispose()


def test_url_normalisation_and_errors() -> None:
    assert normalise_url("postgresql://u@h:5/d") == "postgresql+psycopg://u@h:5/d"
    with pytest.raises(ConfigError, match="storage.database_url"):
        normalise_url("mysql://x")


def test_down_server_is_a_store_error() -> None:
    from tests.support.net import free_port

    port = free_port()
    store = Store(f"postgresql://postgres@127.0.0.1:{port}/nope")
    with pytest.raises(StoreError, match=f"store postgresql.*://postgres@127.0.0.1:{port}/nope unavailable"):
        store.ping()  # the database named (it said "store unavailable: unable to open database file")


def test_a_database_that_does_not_answer_is_a_store_error_for_migrations_too() -> None:
    from tests.support.net import free_port

    store = Store(f"postgresql://nobody@127.0.0.1:{free_port()}/hx")
    for call in (store.ping, store.current_revision, store.upgrade):
        with pytest.raises(StoreError, match="unavailable"):
            call()
    store.dispose()


def test_a_data_dir_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    from hx.config import load_settings
    from hx.platform import build_platform
    from hx.store.db import sqlite_url

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=f"storage.data_dir: cannot create {blocker}"):
        sqlite_url(blocker)
    with pytest.raises(ConfigError, match="storage.data_dir"):
        build_platform(load_settings(environ={"HX_HOME": str(blocker / "hx")}).settings)


def test_a_unit_commits_its_writes_together_or_not_at_all(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    now = datetime(2026, 5, 1, tzinfo=UTC)
    row = {"engine": "e", "value": {}, "updated_at": now}
    with store.unit():
        for k in ("a", "b"):
            with store.begin() as conn:
                conn.execute(insert(engine_state).values(key=k, **row))
    with pytest.raises(RuntimeError), store.unit():
        with store.begin() as conn:
            conn.execute(insert(engine_state).values(key="c", **row))
        raise RuntimeError("the second half failed")
    with store.begin() as conn:
        assert sorted(r.key for r in conn.execute(select(engine_state))) == ["a", "b"]
    with store.unit(), pytest.raises(StoreError):
        store.unit().__enter__()
    store.dispose()


def test_reads_do_not_wait_for_the_sqlite_write_lock(tmp_path: Path) -> None:
    import sqlite3
    import time

    store = Store(f"sqlite:///{tmp_path / 'hx.db'}")
    store.upgrade()
    writer = sqlite3.connect(tmp_path / "hx.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a long write (a batch, another process) holds the lock
    t0 = time.monotonic()
    store.ping()
    assert store.current_revision() is not None
    assert time.monotonic() - t0 < 2.0  # the busy timeout is 10 s: reads took a snapshot instead of waiting
    writer.execute("COMMIT")
    writer.close()
    store.dispose()
