"""Small persisted engine state (cursors, breaker resets, detector tracks) in the shared ``engine_state`` table.

One row per (engine, key) holding a JSON object.  An object that is not JSON (a fitted detector's state) goes
into it as ``pack(obj)``: a pickle in base64, read back with ``unpack`` -- only ever from hx's own store.
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.store.db import Store
from hx.store.tables import engine_state

StateValue = dict[str, Any]


def pack(obj: object) -> str:
    """A Python object as base64 text for a JSON state value."""
    return base64.b64encode(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)).decode()


def unpack(text: str) -> Any:
    """The object :func:`pack` wrote (hx's own store only: never unpack text from elsewhere)."""
    return pickle.loads(base64.b64decode(text))  # written by pack() into hx's own store


class EngineStateStore:
    """The ``engine_state`` rows of one engine: ``get``/``put`` one key, ``all`` of them, ``put_many`` at once."""

    def __init__(self, store: Store, engine: str) -> None:
        self.store = store
        self.engine = engine

    def get(self, key: str) -> StateValue | None:
        where = (engine_state.c.engine == self.engine, engine_state.c.key == key)
        with self.store.begin() as conn:
            row = conn.execute(select(engine_state.c.value).where(*where)).first()
        return dict(row.value) if row is not None else None

    def all(self) -> dict[str, StateValue]:
        with self.store.begin() as conn:
            rows = conn.execute(select(engine_state).where(engine_state.c.engine == self.engine)).all()
        return {r.key: dict(r.value) for r in rows}

    def put(self, key: str, value: StateValue, now: datetime) -> None:
        self.put_many({key: value}, now)

    def put_many(self, values: Mapping[str, StateValue], now: datetime) -> None:
        """Insert or replace every key in one transaction."""
        ins = sqlite_insert(engine_state) if self.store.dialect == "sqlite" else pg_insert(engine_state)
        with self.store.begin() as conn:
            for key, value in values.items():
                stmt = ins.values(engine=self.engine, key=key, value=value, updated_at=now)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[engine_state.c.engine, engine_state.c.key],
                        set_={"value": stmt.excluded.value, "updated_at": now},
                    )
                )
