"""Small persisted engine state (cursors, breaker resets) in the shared ``engine_state`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.platform import Platform
from hx.store.tables import engine_state

ENGINE = "self-healing"


def get_state(platform: Platform, key: str) -> dict[str, Any] | None:
    with platform.store.begin() as conn:
        row = conn.execute(
            select(engine_state.c.value).where(engine_state.c.engine == ENGINE, engine_state.c.key == key)
        ).first()
    return dict(row.value) if row is not None else None


def put_state(platform: Platform, key: str, value: dict[str, Any]) -> None:
    store = platform.store
    ins = sqlite_insert(engine_state) if store.dialect == "sqlite" else pg_insert(engine_state)
    now = platform.clock.now()
    stmt = ins.values(engine=ENGINE, key=key, value=value, updated_at=now).on_conflict_do_update(
        index_elements=[engine_state.c.engine, engine_state.c.key], set_={"value": value, "updated_at": now}
    )
    with store.begin() as conn:
        conn.execute(stmt)
