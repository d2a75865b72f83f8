""" "Who is this customer?": find a customer from whatever the caller gives — a phone in
any format, an email, a national id, a card number, a cookie id, a name.

What was typed is first read as each kind of identifier would store it (a phone as
+34600123456, an email in lowercase, a DNI with its letter, a card in capitals), then
looked up exactly, in one statement, in every place an identifier lives: the customer's
identifiers, its contacts' phones and emails, and its own phone, email and tax id. Each
of these is an indexed equality, so the answer takes a few milliseconds whatever the
number of customers. Only when nothing matches exactly is the text searched as a name.
Every lookup carries the user's read scope, and a field the role hides is never used.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app_builder.pages.reads import Reads
from modeler.fieldtypes import normalize_phone
from modeler.national_ids import normalize_national_id
from storage.tables import column_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CUSTOMER = "account"
MAX_MATCHES = 20


@dataclass(frozen=True)
class Source:
    """One place an identifier lives: `object.field`, and the path to the customer."""

    object: str
    field: str
    kinds: tuple[str, ...]  # which readings of the text to compare with
    via: str | None = None  # the object's link to the customer (None: it is the customer)
    via_contact: bool = False  # the link goes through the object's contact
    label: str = ""


#: Where the core pack keeps identifiers, cheapest and most precise first.
SOURCES = (
    Source("identifier", "value", ("national_id", "phone", "email", "code"), "account", False),
    Source("contact_phone", "number", ("phone",), "contact", True, "contact's phone"),
    Source("contact_email", "address", ("email",), "contact", True, "contact's email"),
    Source("contact", "phone", ("phone",), "account", False, "contact's phone"),
    Source("contact", "mobile", ("phone",), "account", False, "contact's mobile"),
    Source("contact", "email", ("email",), "account", False, "contact's email"),
    Source("contact", "national_id", ("national_id",), "account", False, "contact's id"),
    Source("account", "phone", ("phone",), None, False, "phone"),
    Source("account", "email", ("email",), None, False, "email"),
    Source("account", "tax_id", ("national_id",), None, False, "tax id"),
)


@dataclass(frozen=True)
class Match:
    account_id: int
    name: str
    how: str  # "card 40000012", "phone +34600123456", "name"
    detail: str = ""  # segment, city …


def readings(text: str, region: str) -> dict[str, set[str]]:
    """What the typed text would be stored as, for each kind of identifier."""
    raw = text.strip()
    found: dict[str, set[str]] = {"phone": set(), "email": set(), "national_id": set()}
    found["code"] = {raw.upper(), re.sub(r"[\s.\-/]", "", raw).upper()} - {""}
    if "@" in raw:
        found["email"].add(raw.lower())
    digits = re.sub(r"\D", "", raw)
    if 6 <= len(digits) <= 15 and not re.search(r"[A-Za-z]", raw):
        with contextlib.suppress(ValueError):  # not a phone number: nothing to compare
            found["phone"].add(normalize_phone(raw, region))
    with contextlib.suppress(ValueError):
        found["national_id"].add(normalize_national_id(raw, region))
    return found


def identify(reads: Reads, conn: Connection, text: str) -> list[Match]:
    """The customers the text identifies (exact identifiers first, then names)."""
    if not text.strip() or not reads.may(CUSTOMER):
        return []
    region = reads.ficha.settings.phone_region
    values = readings(text, region)
    exact = _exact(reads, conn, values)
    if exact:
        return exact
    if len(text.strip()) < 2:
        return []
    return _by_name(reads, conn, text)


def _exact(reads: Reads, conn: Connection, values: dict[str, set[str]]) -> list[Match]:
    model = reads.ficha.model
    selects = []
    for n, source in enumerate(SOURCES):
        if source.object not in model.objects or not reads.may(source.object):
            continue
        obj = model[source.object]
        f = obj.fields.get(source.field)
        if f is None or source.field in reads.hidden(source.object):
            continue
        wanted = sorted(set().union(*(values[k] for k in source.kinds)))
        if not wanted:
            continue
        table = reads.table(source.object)
        column = table.c[column_name(f)]
        if source.via is None:
            customer = table.c.id
            base: Any = table
        elif source.via_contact:
            contacts = reads.table("contact")
            contact_link = table.c[column_name(obj.fields[source.via])]
            base = table.join(contacts, contacts.c.id == contact_link)
            customer = contacts.c[column_name(model["contact"].fields["account"])]
        else:
            customer = table.c[column_name(obj.fields[source.via])]
            base = table
        kind = table.c.kind if source.object == "identifier" else sa.literal(source.label)
        where = [column.in_(wanted), table.c.deleted_at.is_(None), *reads.scope(source.object)]
        if source.object == "identifier":
            where.append(table.c.active.is_not(False))
        found = (
            sa.select(
                customer.label("account_id"),
                sa.literal(n).label("rank"),
                sa.cast(kind, sa.String(60)).label("how"),
                sa.cast(column, sa.String(254)).label("value"),
            )
            .select_from(base)
            .where(*where, customer.is_not(None))
            .limit(MAX_MATCHES)
            .subquery(f"s{n}")  # SQLite takes no LIMIT inside a UNION member
        )
        selects.append(sa.select(found))
    if not selects:
        return []
    union = sa.union_all(*selects).subquery("found")
    rows = conn.execute(
        sa.select(union.c.account_id, union.c.rank, union.c.how, union.c.value)
        .order_by(union.c.rank)
        .limit(MAX_MATCHES * 2)
    ).all()
    how: dict[int, str] = {}
    for row in rows:
        how.setdefault(int(row.account_id), f"{_kind_label(reads, row.how)} {row.value}")
    return _customers(reads, conn, how)


def _kind_label(reads: Reads, code: str) -> str:
    f = (
        reads.ficha.model["identifier"].fields.get("kind")
        if "identifier" in reads.ficha.model.objects
        else None
    )
    return f.choice_label(code) if f is not None and code in f.choice_codes else code


def _by_name(reads: Reads, conn: Connection, text: str) -> list[Match]:
    found = reads.list(
        conn, CUSTOMER, search=text, limit=MAX_MATCHES, fields=["name", "city", "segment"]
    )
    how = {r.id: "name" for r in found}
    if reads.may("contact") and len(found) < MAX_MATCHES:
        people = reads.list(
            conn, "contact", search=text, limit=MAX_MATCHES, fields=["full_name", "account"]
        )
        for person in people:
            account = person.get("account")
            if account is not None and account.id not in how:
                how[account.id] = f"contact {person['full_name']}"
    # the customers found by name are read already: only those found through a contact
    return _customers(reads, conn, how, {r.id: r for r in found})


def _customers(
    reads: Reads, conn: Connection, how: dict[int, str], known: dict[int, Any] | None = None
) -> list[Match]:
    """The matched customers the user may see, in the order they were found."""
    if not how:
        return []
    by_id = dict(known or {})
    missing = [i for i in list(how)[:MAX_MATCHES] if i not in by_id]
    if missing:
        table = reads.table(CUSTOMER)
        records = reads.list(
            conn,
            CUSTOMER,
            where=[table.c.id.in_(missing)],
            limit=MAX_MATCHES,
            fields=["name", "city", "segment"],
        )
        by_id.update((r.id, r) for r in records)
    segment = reads.ficha.model[CUSTOMER].fields.get("segment")
    result = []
    for ident, reason in how.items():
        record = by_id.get(ident)
        if record is None:
            continue
        parts = [str(record.get("city") or "")]
        if segment is not None and record.get("segment"):
            parts.append(segment.choice_label(record["segment"]))
        result.append(
            Match(
                ident,
                str(record.get("name") or f"#{ident}"),
                reason,
                " · ".join(p for p in parts if p),
            )
        )
    return result
