"""The engine-state store: one row per (engine, key), JSON values, pickled objects sealed and packed as base64."""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from hx.errors import IntegrityError
from hx.security.sealing import Sealer
from hx.store import Store
from hx.store.state import EngineStateStore, pack, unpack
from hx.store.tables import engine_state

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SEALER = Sealer.derive(b"k" * 32, "state")


def test_put_get_replace_and_engines_are_apart(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    heal, detect = EngineStateStore(store, "self-healing"), EngineStateStore(store, "anomaly-detector")
    assert heal.get("cursor") is None
    heal.put("cursor", {"after": 3}, NOW)
    heal.put("cursor", {"after": 7}, NOW + timedelta(seconds=1))
    detect.put_many({"api/cpu": {"n": 1}, "db/cpu": {"n": 2}}, NOW)
    assert heal.get("cursor") == {"after": 7}
    assert detect.get("cursor") is None
    assert detect.all() == {"api/cpu": {"n": 1}, "db/cpu": {"n": 2}}
    with store.begin() as conn:
        stamp = conn.execute(select(engine_state.c.updated_at).where(engine_state.c.key == "cursor")).scalar_one()
    assert stamp == NOW + timedelta(seconds=1)
    store.dispose()


def test_rows_written_before_the_store_existed_still_read_but_old_pickles_are_refused(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    old_blob = base64.b64encode(pickle.dumps({"mean": 1.5}, protocol=pickle.HIGHEST_PROTOCOL)).decode()
    with store.begin() as conn:
        row = {"engine": "anomaly-detector", "key": "api/cpu", "value": {"blob": old_blob}, "updated_at": NOW}
        conn.execute(insert(engine_state).values(**row))
    value = EngineStateStore(store, "anomaly-detector").get("api/cpu")
    assert value is not None and value["blob"] == old_blob
    with pytest.raises(IntegrityError, match="not sealed"):
        unpack(value["blob"], SEALER, "anomaly-detector/api/cpu")  # an unauthenticated pickle is never loaded
    assert unpack(pack([1, "a"], SEALER, "k"), SEALER, "k") == [1, "a"]
    store.dispose()


def test_delete_removes_only_the_named_keys(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    jobs = EngineStateStore(store, "jobs:x")
    jobs.put_many({"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}}, NOW)
    jobs.delete(["a", "c", "missing"])
    jobs.delete([])
    assert jobs.all() == {"b": {"n": 2}}
    store.dispose()
