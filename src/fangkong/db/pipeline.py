"""Several independent statements in one round trip to the database.

On PostgreSQL the statements go out together in psycopg's pipeline mode and their rows come
back together: a batch of lookups costs one network round trip (each one costs a wake-up of
the server process, which on a busy machine is milliseconds). On SQLite (in process) they run
one after the other. Rows come back as plain tuples, in the columns' order.

The statements run in the session's transaction, after its pending changes are flushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable

Statement = Executable | tuple[str, dict[str, Any]]


def fetch_all(session: Session, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement, in one round trip: SQLAlchemy statements that return rows
    (SELECT, possibly FOR UPDATE; INSERT/UPDATE … RETURNING), or — PostgreSQL only —
    (SQL text, parameters) in psycopg's `%(name)s` style."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        if any(isinstance(s, tuple) for s in statements):
            raise ValueError("SQL text statements run on PostgreSQL only")
        return [[tuple(r) for r in session.execute(cast(Executable, s))] for s in statements]
    raw = conn.connection.driver_connection
    assert raw is not None
    queries: list[tuple[str, dict[str, Any]]] = []
    for s in statements:
        if isinstance(s, tuple):
            queries.append(s)
            continue
        c = cast(ClauseElement, s).compile(dialect=conn.dialect)
        processors = getattr(c, "_bind_processors", {})
        queries.append(
            (str(c), {k: (processors[k](v) if k in processors else v) for k, v in c.params.items()})
        )
    cursors = []
    with raw.pipeline():
        for sql, params in queries:
            cur = raw.cursor()
            cur.execute(sql, params)
            cursors.append(cur)
    try:
        return [list(cur.fetchall()) for cur in cursors]
    finally:
        for cur in cursors:
            cur.close()
