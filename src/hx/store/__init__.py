"""Storage: SQLAlchemy 2 engine, tables, Alembic migrations, repository functions."""

from hx.store.db import Store, normalise_url

__all__ = ["Store", "normalise_url"]
