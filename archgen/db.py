"""The service database: jobs and API keys, through SQLAlchemy Core.

SQLite (the default, in WAL mode so that the server and its worker processes
read while one writes) and PostgreSQL (``postgresql+psycopg://...``) run the
same statements. Times are stored as Unix seconds (floats), which both compare
and sort the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from archgen.errors import DatabaseError

metadata = sa.MetaData()

#: API keys: only a SHA-256 of the secret part is stored.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

#: Jobs. ``lease_token`` fences writes: a worker whose lease was taken over
#: (it was presumed dead and the job resumed elsewhere) can no longer write.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("checkpoint", sa.JSON, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("lease_token", sa.String(32), nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("cancel_requested_at", sa.Float, nullable=True),
    #: Higher runs first; the service's own jobs are below users' (see :mod:`archgen.jobs.store`).
    sa.Column("priority", sa.Integer, nullable=False, default=0, server_default="0"),
    #: When the current attempt was claimed (the maximum run time counts from it).
    sa.Column("claimed_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
)


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def get_engine(url: str) -> Engine:
    """The (process-wide, cached) engine for ``url``, with the tables created.

    Raises:
        DatabaseError: for a URL SQLAlchemy cannot parse, a driver that is not
            installed, or a database that cannot be reached.
    """
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            return engine
        try:
            parsed = make_url(url)
        except Exception as e:  # sqlalchemy.exc.ArgumentError
            raise DatabaseError(f"invalid database URL {url!r}: {e}") from None
        kwargs: dict[str, object] = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            engine = sa.create_engine(url, **kwargs)
            if parsed.get_backend_name() == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            metadata.create_all(engine)
            _add_missing_columns(engine)
        except ModuleNotFoundError as e:
            raise DatabaseError(f"database URL {url!r} needs the driver {e.name!r}, which is not installed") from None
        except sa.exc.SQLAlchemyError as e:
            raise DatabaseError(f"cannot open database {parsed.render_as_string(hide_password=True)}: {e}") from None
        _ENGINES[url] = engine
        return engine


def _add_missing_columns(engine: Engine) -> None:
    """Add columns a newer archgen declares to tables an older one created (never drops or changes any)."""
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for col in table.columns:
            if col.name in have:
                continue
            if not col.nullable and col.server_default is None:
                raise DatabaseError(f"table {table.name!r} lacks column {col.name!r}, which cannot be added in place")
            ddl = sa.schema.CreateColumn(col).compile(dialect=engine.dialect)
            with engine.begin() as c:
                c.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))


def dispose_engines() -> None:
    """Close every cached engine (worker processes call this before they exit)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
