"""Which objects a transaction changed, remembered on its connection until it ends (the
monitors' change feed in live.py publishes them once it has committed). Light on
purpose: the record events hook calls it for every write."""

from __future__ import annotations

from typing import Any

PENDING, COMMITTED = "ficha_changed", "ficha_committed"


def note_change(conn: Any, *object_names: str) -> None:
    """Remember, on the transaction's connection, that these objects' records changed."""
    conn.info.setdefault(PENDING, set()).update(object_names)
