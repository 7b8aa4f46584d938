"""Alembic migrations, run programmatically on a SQLAlchemy engine (:meth:`hx.store.db.Store.upgrade` calls them)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from hx.errors import BadInput

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration for hx's migrations (the connection is passed in ``attributes``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``; an unknown revision is refused naming the valid ones."""
    with engine.connect() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
        except CommandError as err:  # alembic's word for a target revision it cannot resolve
            valid = ", ".join(["head", *sorted(s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions())])
            raise BadInput(
                f"cannot upgrade to revision {revision!r}: {err} (valid: {valid})", field="revision"
            ) from err
        conn.commit()


def current_revision(conn: Connection) -> str | None:
    """The revision the database behind ``conn`` is at (``None``: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()
