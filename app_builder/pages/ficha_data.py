"""Everything the ficha shows about one customer, read in a dozen bounded queries: its
identity and identifiers, alerts (its own and those of every segment it falls in), what
it has contracted, open deals and tickets with their service level, the latest
interactions a page at a time, and the next activities. Nothing is read whole: each list
has a limit and says how many there are in all."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app_builder.pages.reads import Reads
from framework.expressions import Context, Expression, ExpressionError
from framework.expressions.evaluate import plain
from framework.expressions.resolver import SqlAggregateResolver
from framework.records import utcnow
from storage.queries import Count, Record, Sort
from storage.tables import column_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger("ficha.pages")

#: the fields each section shows (and the SLA reads): only these are read, and the link
#: back to the customer, known already, is never joined
SHOWN = {
    "contract": ["product", "price", "billing", "start_date", "end_date", "status"],
    "asset": ["serial_number", "product", "status", "warranty_end"],
    "opportunity": ["name", "stage", "amount", "expected_close", "owner"],
    "ticket": [
        "subject",
        "priority",
        "status",
        "opened_at",
        "first_response_at",
        "response_due",
        "resolution_due",
        "paused_since",
        "resolution_breached",
    ],
    "interaction": [
        "occurred_at",
        "channel",
        "direction",
        "subject",
        "summary",
        "outcome",
        "agent",
    ],
    "activity": ["subject", "kind", "due", "assigned_to", "done"],
}
TIMELINE_PAGE = 20
LIST_LIMIT = 20
PAUSED = ("waiting_customer", "waiting_third_party")
CLOSED_TICKET = ("resolved", "closed")
CLOSED_DEAL = ("won", "lost")


@dataclass
class Section:
    rows: list[Record]
    total: Count

    @property
    def more(self) -> bool:
        return self.total.value > len(self.rows) or not self.total.exact


@dataclass
class Alert:
    title: str
    level: str
    message: str
    why: str  # "for this customer", "segment: segment == "enterprise""
    id: int


@dataclass
class Sla:
    state: str  # on_time | at_risk | breached | paused | done
    label: str
    due: dt.datetime | None


@dataclass
class CustomerFile:
    account: Record
    identifiers: list[Record] = field(default_factory=list)
    contacts: list[Record] = field(default_factory=list)
    phones: dict[int, list[Record]] = field(default_factory=dict)
    emails: dict[int, list[Record]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    contracts: Section = field(default_factory=lambda: Section([], Count(0)))
    assets: Section = field(default_factory=lambda: Section([], Count(0)))
    opportunities: Section = field(default_factory=lambda: Section([], Count(0)))
    tickets: Section = field(default_factory=lambda: Section([], Count(0)))
    sla: dict[int, Sla] = field(default_factory=dict)
    timeline: Section = field(default_factory=lambda: Section([], Count(0)))
    page: int = 1
    activities: Section = field(default_factory=lambda: Section([], Count(0)))
    campaigns: list[Record] = field(default_factory=list)
    products: list[Record] = field(default_factory=list)
    parent: Record | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.timeline.total.value // TIMELINE_PAGE))


def _link(reads: Reads, obj: str, name: str) -> Any:
    return reads.table(obj).c[column_name(reads.ficha.model[obj].fields[name])]


def load(
    reads: Reads,
    conn: Connection,
    ident: int,
    page: int = 1,
    segments: dict[str, Any] | None = None,
) -> CustomerFile | None:
    """The customer's file as this user may see it; None when there is no such customer
    (or it is outside the user's scope). `segments` keeps compiled segment expressions
    between requests."""
    account = reads.get(conn, "account", ident)
    if account is None:
        return None
    found = CustomerFile(account, page=max(1, page))
    found.identifiers = _list(reads, conn, "identifier", ident, fields=["kind", "value", "active"])
    found.contacts = _list(
        reads, conn, "contact", ident, fields=["full_name", "job_title", "email", "phone", "mobile"]
    )
    _reach(reads, conn, found)
    found.alerts = alerts(reads, conn, account, {} if segments is None else segments)
    found.contracts = _section(
        reads, conn, "contract", ident, [reads.table("contract").c.status == "active"]
    )
    found.assets = _section(reads, conn, "asset", ident, [], sort=[Sort("warranty_end", True)])
    deal = reads.table("opportunity")
    found.opportunities = _section(
        reads,
        conn,
        "opportunity",
        ident,
        [deal.c.stage.not_in(CLOSED_DEAL)],
        sort=[Sort("expected_close")],
    )
    ticket = reads.table("ticket")
    found.tickets = _section(
        reads,
        conn,
        "ticket",
        ident,
        [ticket.c.status.not_in(CLOSED_TICKET)],
        sort=[Sort("resolution_due")],
    )
    now = utcnow()
    found.sla = {t.id: sla_of(t, now) for t in found.tickets.rows}
    found.timeline = _section(
        reads,
        conn,
        "interaction",
        ident,
        [],
        sort=[Sort("occurred_at", True)],
        limit=TIMELINE_PAGE,
        offset=(found.page - 1) * TIMELINE_PAGE,
        cap=9999,
    )
    activity = reads.table("activity")
    found.activities = _section(
        reads, conn, "activity", ident, [activity.c.done.is_not(True)], sort=[Sort("due")], limit=10
    )
    parent = account.get("parent")
    if parent is not None:
        found.parent = reads.get(conn, "account", parent.id)
    campaign = reads.table("campaign")
    found.campaigns = reads.list(
        conn, "campaign", where=[campaign.c.status == "active"], limit=50, fields=["name"]
    )
    product = reads.table("product")
    found.products = reads.list(
        conn, "product", where=[product.c.active.is_not(False)], limit=200, fields=["name", "code"]
    )
    return found


def _list(
    reads: Reads,
    conn: Connection,
    obj: str,
    ident: int,
    *,
    limit: int = LIST_LIMIT,
    fields: list[str] | None = None,
) -> list[Record]:
    return reads.list(
        conn, obj, where=[_link(reads, obj, "account") == ident], limit=limit, fields=fields
    )


def _section(
    reads: Reads,
    conn: Connection,
    obj: str,
    ident: int,
    where: list[Any],
    *,
    sort: list[Sort] | None = None,
    limit: int = LIST_LIMIT,
    offset: int = 0,
    cap: int = 999,
) -> Section:
    """A bounded list of the customer's records, and how many there are (one query for the
    page, one capped count when the page is full)."""
    if not reads.may(obj):
        return Section([], Count(0))
    conditions = [_link(reads, obj, "account") == ident, *where]
    fields = [n for n in SHOWN.get(obj, ()) if n in reads.ficha.model[obj].fields] or None
    rows = reads.list(
        conn, obj, where=conditions, sort=sort or (), limit=limit, offset=offset, fields=fields
    )
    if len(rows) < limit and (rows or offset == 0):
        return Section(rows, Count(offset + len(rows)))
    return Section(rows, reads.count(conn, obj, where=conditions, cap=cap))


def _reach(reads: Reads, conn: Connection, found: CustomerFile) -> None:
    """Each contact's phones and emails, for all the contacts in one query each."""
    ids = [c.id for c in found.contacts]
    if not ids:
        return
    for obj, target in (("contact_phone", found.phones), ("contact_email", found.emails)):
        rows = reads.list(
            conn,
            obj,
            where=[_link(reads, obj, "contact").in_(ids)],
            limit=len(ids) * 10,
            fields=["contact", "kind", "number", "address", "primary", "opt_out"],
        )
        for row in sorted(rows, key=lambda r: not r.get("primary")):
            target.setdefault(row["contact"].id, []).append(row)


def alerts(
    reads: Reads, conn: Connection, account: Record, compiled: dict[str, Any]
) -> list[Alert]:
    """Active alerts for this account, and those of every segment it belongs to (each
    segment's expression tested on this one account)."""
    if not reads.may("alert"):
        return []
    table = reads.table("alert")
    today = dt.date.today()
    live = [
        table.c.active.is_not(False),
        sa.or_(table.c.starts_on.is_(None), table.c.starts_on <= today),
        sa.or_(table.c.ends_on.is_(None), table.c.ends_on >= today),
    ]
    own = _link(reads, "alert", "account") == account.id
    segment = sa.and_(_link(reads, "alert", "account").is_(None), table.c.segment.is_not(None))
    rows = reads.list(
        conn,
        "alert",
        where=[*live, sa.or_(own, segment)],
        limit=50,
        fields=["title", "level", "message", "account", "segment"],
    )
    values = {k: plain(v) for k, v in account.items()}
    resolver = SqlAggregateResolver(reads.ficha.storage, conn)
    found = []
    for row in rows:
        if row.get("account") is not None:
            why = "for this customer"
        else:
            text = str(row.get("segment") or "")
            if text not in compiled:
                try:
                    compiled[text] = Expression.compile(text, reads.ficha.model, "account")
                except ExpressionError as exc:
                    log.warning("alert %s: its segment cannot be read: %s", row.id, exc)
                    compiled[text] = None
            condition = compiled[text]
            if condition is None or not condition.test(values, resolver, Context()):
                continue
            why = f"segment: {text}"
        found.append(
            Alert(
                str(row.get("title") or ""),
                str(row.get("level") or "info"),
                str(row.get("message") or ""),
                why,
                row.id,
            )
        )
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda a: order.get(a.level, 3))


def sla_of(ticket: Record, now: dt.datetime) -> Sla:
    """Where a ticket stands against its service level, at this moment."""
    status = ticket.get("status")
    due = ticket.get("resolution_due")
    if status in CLOSED_TICKET:
        return Sla("done", "done", due)
    if status in PAUSED or ticket.get("paused_since") is not None:
        return Sla("paused", "paused (waiting)", due)
    if ticket.get("resolution_breached") or (due is not None and due < now):
        return Sla("breached", "late", due)
    response_due = ticket.get("response_due")
    if ticket.get("first_response_at") is None and response_due is not None and response_due < now:
        return Sla("breached", "no first response in time", due)
    if due is not None and due - now < dt.timedelta(hours=4):
        return Sla("at_risk", "due within 4 hours", due)
    return Sla("on_time", "on time", due)
