"""Small persisted engine state (cursors, breaker resets, detector tracks) in the shared ``engine_state`` table.

One row per (engine, key) holding a JSON object.  An object that is not JSON (a fitted detector's state) goes
into it as ``pack(obj, sealer, context)``: a pickle sealed with an HMAC under hx's key (:mod:`hx.security.sealing`),
in base64; ``unpack`` checks the MAC before anything is unpickled, so a row written by someone without the key
(or an old unsealed one) is refused with :class:`~hx.errors.IntegrityError`, never loaded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.errors import IntegrityError
from hx.security.sealing import Sealer
from hx.store.db import Store
from hx.store.tables import engine_state

StateValue = dict[str, Any]


def pack(obj: object, sealer: Sealer, context: str) -> str:
    """A Python object as sealed base64 text for a JSON state value; ``context`` names where it is kept."""
    return base64.b64encode(sealer.dumps(obj, context)).decode()


def unpack(text: str, sealer: Sealer, context: str) -> Any:
    """The object :func:`pack` wrote under the same ``context``, once its MAC holds (else IntegrityError)."""
    try:
        blob = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as err:
        raise IntegrityError(f"{context}: the stored state is not base64; refused to load it", context=context) from err
    return sealer.loads(blob, context)


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

    def delete(self, keys: list[str]) -> None:
        """Remove these keys of the engine (missing ones are ignored)."""
        if not keys:
            return
        where = (engine_state.c.engine == self.engine, engine_state.c.key.in_(keys))
        with self.store.begin() as conn:
            conn.execute(sa_delete(engine_state).where(*where))
