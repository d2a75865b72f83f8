"""Reads for the pages, as the signed-in user may see them: every query carries the
user's record scope (`permissions.scope`) and every record leaves out the fields the
role hides (`permissions.hidden`), exactly as the generated screens do."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from framework.permissions import Who
from framework.records import Actor
from storage.combined import ChoicesOf, CountOf
from storage.queries import Count, LinkRef, Record, Sort

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from framework.app import Ficha


def actor_of(request: Request) -> Actor:
    actor = getattr(request.state, "actor", None)
    return actor if actor is not None else Actor(None, "anonymous", "screen")


def who_of(request: Request, ficha: Ficha) -> Who:
    who = getattr(request.state, "who", None)
    return who if who is not None else ficha.permissions.who(actor_of(request))


@dataclass
class Reads:
    """The reads of one request, for one user."""

    ficha: Ficha
    who: Who
    _hidden: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request, ficha: Ficha) -> Reads:
        return cls(ficha, who_of(request, ficha))

    @property
    def user_id(self) -> int | None:
        return self.who.actor.user_id

    def may(self, object_name: str, action: str = "read") -> bool:
        return object_name in self.ficha.model.objects and self.ficha.permissions.allowed(
            self.who, object_name, action
        )

    def scope(self, object_name: str, table: Any = None) -> list[Any]:
        condition = self.ficha.permissions.scope(self.who, object_name, "read", table)
        return [] if condition is None else [condition]

    def hidden(self, object_name: str) -> frozenset[str]:
        if object_name not in self._hidden:
            self._hidden[object_name] = self.ficha.permissions.hidden(self.who, object_name)
        return self._hidden[object_name]

    def table(self, object_name: str) -> Any:
        return self.ficha.storage.table(object_name)

    def _clean(self, object_name: str, records: list[Record]) -> list[Record]:
        hidden = self.hidden(object_name)
        if hidden:
            for record in records:
                for name in hidden:
                    record.pop(name, None)
        return records

    def list(
        self,
        conn: Connection,
        object_name: str,
        *,
        where: Iterable[Any] = (),
        sort: Sequence[Sort] = (),
        limit: int = 25,
        offset: int = 0,
        after: str | None = None,
        fields: Sequence[str] | None = None,
        search: str | None = None,
    ) -> list[Record]:
        if not self.may(object_name):
            return []
        records = self.ficha.reader.list(
            conn,
            object_name,
            where=[*where, *self.scope(object_name)],
            sort=sort,
            limit=limit,
            offset=offset,
            after=after,
            fields=fields,
            search=search,
        )
        return self._clean(object_name, records)

    def count(
        self,
        conn: Connection,
        object_name: str,
        *,
        where: Iterable[Any] = (),
        search: str | None = None,
        cap: int = 999,
    ) -> Count:
        if not self.may(object_name):
            return Count(0)
        return self.ficha.reader.count(
            conn, object_name, where=[*where, *self.scope(object_name)], search=search, cap=cap
        )

    def counts(
        self, conn: Connection, asked: Sequence[tuple[str, Sequence[Any], int]]
    ) -> builtins.list[Count]:
        """Several capped counts (object, where, cap) in one statement."""
        found = iter(
            self.ficha.reader.counts(
                conn,
                [
                    CountOf(obj, (*where, *self.scope(obj)), cap)
                    for obj, where, cap in asked
                    if self.may(obj)
                ],
            )
        )
        return [next(found) if self.may(obj) else Count(0) for obj, _, _ in asked]

    def choices(
        self, conn: Connection, asked: Sequence[tuple[str, Sequence[Any]]], limit: int = 200
    ) -> builtins.list[builtins.list[LinkRef]]:
        """The records of several selects, (object, where) each, in one statement."""
        found = iter(
            self.ficha.reader.choices(
                conn,
                [
                    ChoicesOf(obj, (*where, *self.scope(obj)), limit)
                    for obj, where in asked
                    if self.may(obj)
                ],
            )
        )
        lists = [next(found) if self.may(obj) else [] for obj, _ in asked]
        for (obj, _), records in zip(asked, lists, strict=True):
            if self.ficha.model[obj].title_field in self.hidden(obj):  # a hidden title
                records[:] = [LinkRef(r.id, f"#{r.id}", r.object) for r in records]
        return lists

    def get(self, conn: Connection, object_name: str, ident: int) -> Record | None:
        table = self.table(object_name)
        found = self.list(conn, object_name, where=[table.c.id == ident], limit=1)
        return found[0] if found else None
