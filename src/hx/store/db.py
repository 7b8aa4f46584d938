"""The store: one SQLAlchemy engine, SQLite (WAL) by default or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from hx.errors import ConfigError, StoreError
from hx.security.private import private_dir, private_file


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and use the psycopg 3 driver.

    >>> normalise_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql+psycopg://", "sqlite://"):
        if url.startswith(prefix):
            return url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ConfigError(
        "unsupported database URL", key="storage.database_url", expected="sqlite:///PATH or postgresql://..."
    )


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700: it holds keys, tokens and the database); one that cannot be made
    (a file is there, no permission) names the key."""
    try:
        private_dir(data_dir)
    except OSError as err:
        raise ConfigError(
            f"cannot create {data_dir}: {err.strerror}",
            key="storage.data_dir",
            expected="a directory path, from HX_HOME or storage.data_dir",
        ) from err
    return data_dir


def sqlite_url(data_dir: Path) -> str:
    """The default database, ``hx.db`` in the data directory, created 0600 before SQLite opens it (its WAL and
    shared-memory files take the database file's mode)."""
    path = ensure_data_dir(data_dir) / "hx.db"
    private_file(path)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE: writers serialise at the start of a transaction, so read-modify-write
    # sequences (the audit hash chain, leases) cannot interleave.  A read-only connection (Store.read) begins a
    # deferred transaction instead: in WAL mode it reads a snapshot without waiting for the write lock.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


#: execution option of the connections :meth:`Store.read` hands out
READ_ONLY = "hx_read_only"


def _private_sqlite_file(database: str | None) -> None:
    """A SQLite database file hx creates is 0600 (an in-memory one has no file; a missing directory is left
    for SQLite to report)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        private_file(path)


class Store:
    """Owns the engine; hands out transactions; applies migrations."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        kwargs: dict[str, Any] = {"future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "isolation_level": None, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _private_sqlite_file(self.engine.url.database)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._lock = threading.RLock()
        self._unit = threading.local()

    @classmethod
    def from_settings(cls, database_url: str | None, data_dir: Path) -> Store:
        return cls(database_url or sqlite_url(data_dir))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed on success, rolled back on error (inside :meth:`unit`, the unit's)."""
        outer: Connection | None = getattr(self._unit, "conn", None)
        if outer is not None:
            yield outer
            return
        with self._answering(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it never waits for the write lock (health checks, counts)."""
        with self._answering(), self.engine.connect().execution_options(**{READ_ONLY: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def unit(self) -> Iterator[Connection]:
        """One transaction for everything this thread does through :meth:`begin` in the block (a batch of small
        writes commits once).  Keep units short: on SQLite the unit holds the write lock until it ends."""
        if getattr(self._unit, "conn", None) is not None:
            raise StoreError("a store unit is already open in this thread", url=self.safe_url)
        with self._answering(), self.engine.begin() as conn:
            self._unit.conn = conn
            try:
                yield conn
            finally:
                self._unit.conn = None

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """A database that does not answer is a :class:`StoreError` naming it (not a driver traceback)."""
        try:
            yield
        except OperationalError as err:
            raise StoreError(f"store {self.safe_url} unavailable: {err.orig}", url=self.safe_url) from err

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def ping(self) -> None:
        """Raise StoreError when the database does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def upgrade(self, revision: str = "head") -> None:
        from hx.store.migrate import upgrade  # alembic is imported only when a migration runs

        with self._answering():
            upgrade(self.engine, revision)

    def current_revision(self) -> str | None:
        from hx.store.migrate import current_revision

        with self.read() as conn:
            return current_revision(conn)

    def dispose(self) -> None:
        self.engine.dispose()
