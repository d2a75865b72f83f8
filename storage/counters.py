"""Named counters in the system `counter` table: autonumbers, round-robin turns and API
rate-limit windows, shared by every process that writes to the database."""

from __future__ import annotations

import sqlalchemy as sa


def increment(conn: sa.Connection, counters: sa.Table, name: str) -> int:
    """Add one to the counter `name` (created at 1) and return its new value, inside the
    caller's transaction, so two writers never get the same value."""
    bump = counters.update().where(counters.c.name == name).values(value=counters.c.value + 1)
    if not conn.execute(bump).rowcount:
        try:
            with conn.begin_nested():
                conn.execute(counters.insert().values(name=name, value=1))
        except sa.exc.IntegrityError:  # another writer created it first
            conn.execute(bump)
    return int(
        conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar_one()
    )


def forget(conn: sa.Connection, counters: sa.Table, prefix: str, keep_suffix: str) -> None:
    """Drop counters named `prefix…` that do not end with `keep_suffix` (windows that
    ended), at most a thousand at a time."""
    names = conn.execute(sa.select(counters.c.name).where(counters.c.name.like(f"{prefix}%")))
    stale = [n for n in names.scalars() if not n.endswith(keep_suffix)]
    if stale:
        conn.execute(counters.delete().where(counters.c.name.in_(stale[:1000])))
