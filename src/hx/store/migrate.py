"""Alembic migrations, run programmatically against the store's engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from hx.errors import BadInput

if TYPE_CHECKING:
    from hx.store.db import Store

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(store: Store) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["store"] = store
    return cfg


def upgrade(store: Store, revision: str = "head") -> None:
    with store.engine.connect() as conn:
        cfg = alembic_config(store)
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
        except CommandError as err:  # alembic's word for a target revision it cannot resolve
            valid = ", ".join(["head", *sorted(s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions())])
            raise BadInput(
                f"cannot upgrade to revision {revision!r}: {err} (valid: {valid})", field="revision"
            ) from err
        conn.commit()


def current_revision(store: Store) -> str | None:
    with store.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()
