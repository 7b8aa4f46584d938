"""Small persisted state of one engine (cursors) in the shared ``engine_state`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.clock import Clock
from hx.store.db import Store
from hx.store.tables import engine_state


class EngineState:
    """One engine's keyed JSON values, read and written in one statement each (upsert on write)."""

    def __init__(self, store: Store, clock: Clock, engine: str) -> None:
        self.store = store
        self.clock = clock
        self.engine = engine

    def get(self, key: str) -> dict[str, Any] | None:
        where = (engine_state.c.engine == self.engine, engine_state.c.key == key)
        with self.store.begin() as conn:
            row = conn.execute(select(engine_state.c.value).where(*where)).first()
        return dict(row.value) if row is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        ins = sqlite_insert(engine_state) if self.store.dialect == "sqlite" else pg_insert(engine_state)
        now = self.clock.now()
        stmt = ins.values(engine=self.engine, key=key, value=value, updated_at=now).on_conflict_do_update(
            index_elements=[engine_state.c.engine, engine_state.c.key], set_={"value": value, "updated_at": now}
        )
        with self.store.begin() as conn:
            conn.execute(stmt)
