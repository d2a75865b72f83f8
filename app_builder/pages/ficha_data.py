"""Everything a customer file shows about one record, as its declaration says
(pages/customer_file.yaml): the record, its alerts (its own and those of every segment it
falls in), each section's related records — a bounded list that says how many there are
in all, one page at a time for the paged one — and the choices of the quick actions'
forms. Nothing is read whole, and a section's badges and states are the declared
conditions tested on each row."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app_builder.pages.reads import Reads
from framework.expressions import Context, Expression, ExpressionError
from framework.expressions.evaluate import plain
from framework.expressions.resolver import SqlAggregateResolver
from framework.pages.spec import Badge, CustomerFile, Relation, Section
from modeler.fieldtypes import COLUMN, LINK
from storage.queries import Count, LinkRef, Record
from storage.tables import column_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger("ficha.pages")

CHOICES = 200  # a quick action's link offers at most this many records
ALERTS = 50


@dataclass
class Rows:
    """A section's records, how many there are in all, and what each row's badges say."""

    section: Section
    rows: list[Record]
    total: Count
    badges: dict[int, list[Badge]] = field(default_factory=dict)
    states: dict[int, Badge] = field(default_factory=dict)
    #: nested section → parent id → its rows (a contact's phones), and their badges
    nested: dict[str, dict[int, list[Record]]] = field(default_factory=dict)
    nested_badges: dict[tuple[str, int], list[Badge]] = field(default_factory=dict)

    def children(self, nested: Section, parent: int) -> list[Record]:
        return self.nested.get(nested.name, {}).get(parent, [])

    @property
    def more(self) -> bool:
        return self.total.value > len(self.rows) or not self.total.exact

    @property
    def pages(self) -> int:
        size = self.section.page_size or 1
        return max(1, -(-self.total.value // size))


@dataclass
class Alert:
    title: str
    level: str
    color: str
    message: str
    why: str  # "for this customer", "segment: segment == "enterprise""
    id: int


@dataclass
class CustomerData:
    page: CustomerFile
    record: Record
    sections: dict[str, Rows] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    header_badges: list[Badge] = field(default_factory=list)
    #: action → field → the records its select offers
    options: dict[str, dict[str, list[LinkRef]]] = field(default_factory=dict)
    page_no: int = 1

    @property
    def paged(self) -> Rows | None:
        section = self.page.paged
        return self.sections.get(section.name) if section is not None else None


def load(
    reads: Reads,
    conn: Connection,
    page: CustomerFile,
    ident: int,
    page_no: int = 1,
    segments: dict[str, Any] | None = None,
    context: Context | None = None,
) -> CustomerData | None:
    """The file as this user may see it; None when there is no such record (or it is
    outside the user's scope). `segments` keeps compiled segment conditions between
    requests."""
    record = reads.get(conn, page.object, ident)
    if record is None:
        return None
    context = context or Context()
    tests = _Tests(reads, conn, context)
    found = CustomerData(page, record, page_no=max(1, page_no))
    found.header_badges = tests.badges(page.header.badges, record, page.object)
    if page.alerts is not None:
        found.alerts = alerts(reads, conn, page, record, {} if segments is None else segments)
    uncounted: list[tuple[Rows, tuple[str, list[Any], int]]] = []
    for section in page.sections:
        rows = _section(reads, conn, page, section, record, found.page_no, uncounted)
        if rows is not None:
            tests.mark(rows)
            found.sections[section.name] = rows
    # the lists that filled their page say how many there are in all: one statement
    totals = reads.counts(conn, [c for _, c in uncounted])
    for (rows, _), total in zip(uncounted, totals, strict=True):
        rows.total = total
    found.options = _options(reads, conn, page, ident, found.sections)
    return found


class _Tests:
    """The declared conditions of badges and states, tested on each row."""

    def __init__(self, reads: Reads, conn: Connection, context: Context) -> None:
        self.resolver = SqlAggregateResolver(reads.ficha.storage, conn)
        self.context = context

    def holds(self, badge: Badge, record: Record, values: dict[str, Any] | None) -> bool:
        if badge.field is not None and record.get(badge.field) in (None, "", []):
            return False
        if badge.when is None:
            return True
        return badge.when.test(values or _plain(record), self.resolver, self.context)

    def badges(self, badges: tuple[Badge, ...], record: Record, obj: str) -> list[Badge]:
        values = _plain(record) if any(b.when is not None for b in badges) else None
        return [b for b in badges if self.holds(b, record, values)]

    def mark(self, rows: Rows) -> None:
        section = rows.section
        obj = section.object or ""
        for row in rows.rows:
            if section.badges:
                rows.badges[row.id] = self.badges(section.badges, row, obj)
            values = _plain(row) if section.states else None
            state = next((s for s in section.states if self.holds(s, row, values)), None)
            if state is not None:
                rows.states[row.id] = state
        for nested in section.nested:
            for children in rows.nested.get(nested.name, {}).values():
                for child in children:
                    key = (nested.name, child.id)
                    rows.nested_badges[key] = self.badges(nested.badges, child, "")


def _plain(record: Record) -> dict[str, Any]:
    return {k: plain(v) for k, v in record.items()}


def _belongs(reads: Reads, relation: Relation, ident: int) -> Any:
    """The condition on `relation.object`'s table: its records that lead to `ident`
    (through the records in between, none of them deleted)."""
    model = reads.ficha.model
    objects = [relation.object]
    for link in relation.links[:-1]:
        objects.append(model[objects[-1]].fields[link].target or "")
    hops = list(zip(objects, relation.links, strict=True))
    last_obj, last_link = hops[-1]
    table = reads.table(last_obj)
    condition: Any = table.c[column_name(model[last_obj].fields[last_link])] == ident
    for obj, link in reversed(hops[:-1]):
        inner = table
        table = reads.table(obj)
        column = table.c[column_name(model[obj].fields[link])]
        condition = column.in_(sa.select(inner.c.id).where(condition, inner.c.deleted_at.is_(None)))
    return condition


def _wanted(reads: Reads, obj: str, names: tuple[str, ...], *extra: str) -> list[str]:
    fields = reads.ficha.model[obj].fields
    hidden = reads.hidden(obj)
    return [
        n
        for n in dict.fromkeys((*names, *extra))
        if n in fields and fields[n].kind in (COLUMN, LINK) and n not in hidden
    ]


def _section(
    reads: Reads,
    conn: Connection,
    page: CustomerFile,
    section: Section,
    record: Record,
    page_no: int,
    uncounted: list[tuple[Rows, tuple[str, list[Any], int]]],
) -> Rows | None:
    relation = section.relation
    if relation is None:
        return Rows(section, [record], Count(1))
    obj = relation.object
    if not reads.may(obj):
        return None
    where = [_belongs(reads, relation, record.id)]
    if section.filter is not None:
        where.append(section.filter.where(reads.ficha.storage))
    limit = section.page_size or section.limit
    offset = (page_no - 1) * section.page_size if section.page_size else 0
    rows = reads.list(
        conn,
        obj,
        where=where,
        sort=section.sort,
        limit=limit,
        offset=offset,
        fields=_wanted(reads, obj, section.reads, reads.ficha.model[obj].title_field),
    )
    found = Rows(section, rows, Count(offset + len(rows)))
    if len(rows) == limit or (not rows and offset > 0):  # more than these, or past the end
        uncounted.append((found, (obj, where, 9999 if section.page_size else 999)))
    ids = [r.id for r in rows]
    for nested in section.nested:
        if nested.relation is None or not ids or not reads.may(nested.relation.object):
            continue
        child = nested.relation.object
        link = nested.relation.links[0]
        column = reads.table(child).c[column_name(reads.ficha.model[child].fields[link])]
        children = reads.list(
            conn,
            child,
            where=[column.in_(ids)],
            sort=nested.sort,
            limit=len(ids) * nested.limit,
            fields=_wanted(reads, child, nested.reads, link, reads.ficha.model[child].title_field),
        )
        by_parent: dict[int, list[Record]] = {}
        for row in children:
            parent = row.get(link)
            if parent is not None:
                by_parent.setdefault(parent.id, []).append(row)
        found.nested[nested.name] = by_parent
    return found


def _options(
    reads: Reads, conn: Connection, page: CustomerFile, ident: int, shown: dict[str, Rows]
) -> dict[str, dict[str, list[LinkRef]]]:
    """The records each quick action's link fields offer: the customer's own (its
    contacts, read for their section already) or those meeting the declared condition,
    all read in one statement."""
    model = reads.ficha.model
    found: dict[str, dict[str, list[LinkRef]]] = {a.name: {} for a in page.actions}
    asked: list[tuple[str, str, str, list[Any]]] = []  # action, field, object, where
    for action in page.actions:
        obj = model[action.relation.object]
        for item in action.fields:
            f = obj.fields[item.field]
            if f.kind != LINK:
                continue
            target = model[f.target or ""]
            if item.options_from is not None:
                same = next(
                    (
                        rows
                        for rows in shown.values()
                        if rows.section.relation == item.options_from
                        and rows.section.filter is None
                        and not rows.more
                    ),
                    None,
                )
                if same is not None:
                    title = target.title_field
                    found[action.name][item.field] = [
                        LinkRef(r.id, str(r.get(title) or f"#{r.id}"), target.name)
                        for r in same.rows
                    ]
                    continue
                where = [_belongs(reads, item.options_from, ident)]
            else:
                where = (
                    [item.options.where(reads.ficha.storage)] if item.options is not None else []
                )
            asked.append((action.name, item.field, target.name, where))
    lists = reads.choices(conn, [(obj, where) for _, _, obj, where in asked], CHOICES)
    for (action_name, field_name, _, _), records in zip(asked, lists, strict=True):
        found[action_name][field_name] = records
    return found


def alerts(
    reads: Reads, conn: Connection, page: CustomerFile, record: Record, compiled: dict[str, Any]
) -> list[Alert]:
    """Active alerts for this record, and those of every segment it belongs to (each
    segment's condition tested on this one record)."""
    spec = page.alerts
    if spec is None or not reads.may(spec.relation.object):
        return []
    obj = spec.relation.object
    table = reads.table(obj)
    link = table.c[column_name(reads.ficha.model[obj].fields[spec.relation.links[0]])]
    own = link == record.id
    where: list[Any] = []
    if spec.filter is not None:
        where.append(spec.filter.where(reads.ficha.storage))
    segment_column = None
    if spec.segment is not None:
        segment_column = table.c[column_name(reads.ficha.model[obj].fields[spec.segment])]
        where.append(sa.or_(own, sa.and_(link.is_(None), segment_column.is_not(None))))
    else:
        where.append(own)
    fields = [n for n in (spec.title, spec.message, spec.level, spec.segment) if n]
    rows = reads.list(
        conn,
        obj,
        where=where,
        limit=ALERTS,
        fields=[*fields, spec.relation.links[0]],
    )
    values = {k: plain(v) for k, v in record.items()}
    resolver = SqlAggregateResolver(reads.ficha.storage, conn)
    colors = dict(spec.levels)
    order = {code: n for n, code in enumerate(colors)}
    found = []
    for row in rows:
        if row.get(spec.relation.links[0]) is not None:
            why = "for this customer"
        else:
            text = str(row.get(spec.segment or "") or "")
            if text not in compiled:
                try:
                    compiled[text] = Expression.compile(text, reads.ficha.model, page.object)
                except ExpressionError as exc:
                    log.warning("alert %s: its segment cannot be read: %s", row.id, exc)
                    compiled[text] = None
            condition = compiled[text]
            if condition is None or not condition.test(values, resolver, Context()):
                continue
            why = f"segment: {text}"
        level = str(row.get(spec.level or "") or "")
        found.append(
            Alert(
                str(row.get(spec.title) or ""),
                level,
                colors.get(level, "azure"),
                str(row.get(spec.message or "") or ""),
                why,
                row.id,
            )
        )
    return sorted(found, key=lambda a: order.get(a.level, len(order)))
