""" "Who is this customer?": find a customer from whatever the caller gives — a phone in
any format, an email, a national id, a card number, a cookie id, a name.

The customer file's declaration (`identify:` in pages/customer_file.yaml) says where
identifiers live. What was typed is first read as each kind of identifier would store it
(a phone as +34600123456, an email in lowercase, a DNI with its letter, a card in
capitals without its spaces), then looked up exactly, in one statement, in every one of
those places (storage/lookup.py). Each is an indexed equality, so the answer takes a few
milliseconds whatever the number of customers. Only when nothing matches exactly is the
text searched as a name. Every lookup carries the user's read scope, and a field the
role hides is never used.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app_builder.pages.base import Show
from app_builder.pages.reads import Reads
from framework.pages.spec import CustomerFile, IdentifySource
from modeler.fieldtypes import normalize_phone
from modeler.national_ids import normalize_national_id
from storage.lookup import Lookup

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MAX_MATCHES = 20
_SEPARATORS = re.compile(r"[\s.\-/]")


@dataclass(frozen=True)
class Match:
    account_id: int  # the customer's record (of the file's object)
    name: str
    how: str  # "Customer card 400000012345", "contact's phone +34600123456", "name"
    detail: str = ""  # the declared summary: city, segment …


def readings(text: str, region: str) -> dict[str, set[str]]:
    """What the typed text would be stored as, for each kind of identifier."""
    raw = text.strip()
    found: dict[str, set[str]] = {"phone": set(), "email": set(), "national_id": set()}
    # a code as typed, and without the separators it is printed with (stored that way);
    # words without a digit among them are a name ("Ana López"), never a card or a PIN
    if re.search(r"\d", raw) or len(raw.split()) < 2:
        found["code"] = {raw.upper(), _SEPARATORS.sub("", raw).upper()} - {""}
    else:
        found["code"] = set()
    if "@" in raw:
        found["email"].add(raw.lower())
    digits = re.sub(r"\D", "", raw)
    if 6 <= len(digits) <= 15 and not re.search(r"[A-Za-z]", raw):
        with contextlib.suppress(ValueError):  # not a phone number: nothing to compare
            found["phone"].add(normalize_phone(raw, region))
    with contextlib.suppress(ValueError):
        found["national_id"].add(normalize_national_id(raw, region))
    return found


def identify(reads: Reads, conn: Connection, page: CustomerFile, text: str) -> list[Match]:
    """The customers the text identifies (exact identifiers first, then names)."""
    if not text.strip() or not reads.may(page.object):
        return []
    values = readings(text, reads.ficha.settings.phone_region)
    exact = _exact(reads, conn, page, values)
    if exact:
        return exact
    if len(text.strip()) < 2:
        return []
    return _by_name(reads, conn, page, text)


def lookups(
    reads: Reads, page: CustomerFile, values: dict[str, set[str]]
) -> list[tuple[IdentifySource, Lookup]]:
    """What to look up where, for this user: the places they may read, the values each
    place would hold."""
    found = []
    for source in page.identify:
        obj = source.object or page.object
        if not reads.may(obj) or source.field in reads.hidden(obj):
            continue
        wanted = set().union(*(values[k] for k in source.readings))
        if not wanted:
            continue
        where = list(reads.scope(obj))
        if source.filter is not None:
            where.append(source.filter.where(reads.ficha.storage))
        found.append(
            (
                source,
                Lookup(
                    obj,
                    source.field,
                    tuple(sorted(wanted)),
                    source.relation.links if source.relation is not None else (),
                    tuple(where),
                    source.label,
                    source.label_field,
                ),
            )
        )
    return found


def _exact(
    reads: Reads, conn: Connection, page: CustomerFile, values: dict[str, set[str]]
) -> list[Match]:
    asked = lookups(reads, page, values)
    if not asked:
        return []
    found = reads.ficha.reader.lookup(conn, [lookup for _, lookup in asked], limit=MAX_MATCHES)
    how: dict[int, str] = {}
    for hit in found:
        source = asked[hit.rank][0]
        label = hit.how
        if source.label_field is not None:
            f = reads.ficha.model[source.object or page.object].fields[source.label_field]
            label = f.choice_label(hit.how) if hit.how in f.choice_codes else hit.how
        how.setdefault(hit.id, f"{label} {hit.value}")
    return _customers(reads, conn, page, how)


def _by_name(reads: Reads, conn: Connection, page: CustomerFile, text: str) -> list[Match]:
    """A whole name typed from its start first (an index range where the database has a
    prefix index), then any of its words anywhere (the full-text search)."""
    reader = reads.ficha.reader
    starts = {
        name: reader.starting_with(conn, name, text)
        for name in (page.object, *(r.object for r in page.search_in))
    }
    if all(clause is not None for clause in starts.values()):
        found = _names(reads, conn, page, lambda name: {"where": [starts[name]]})
        if found:
            return found
    return _names(reads, conn, page, lambda name: {"search": text})


def _names(
    reads: Reads, conn: Connection, page: CustomerFile, how_to: Callable[[str], dict[str, Any]]
) -> list[Match]:
    obj = reads.ficha.model[page.object]
    shown = [obj.title_field, *page.summary]
    found = reads.list(conn, page.object, limit=MAX_MATCHES, fields=shown, **how_to(page.object))
    how = {r.id: "name" for r in found}
    for relation in page.search_in:
        if len(how) >= MAX_MATCHES or not reads.may(relation.object):
            break
        other = reads.ficha.model[relation.object]
        link = relation.links[0]
        people = reads.list(
            conn,
            other.name,
            limit=MAX_MATCHES,
            fields=[other.title_field, link],
            **how_to(other.name),
        )
        for person in people:
            customer = person.get(link)
            if customer is not None and customer.id not in how:
                title = person.get(other.title_field) or f"#{person.id}"
                how[customer.id] = f"{other.label.lower()} {title}"
    # the customers found by name are read already: only those found through another
    return _customers(reads, conn, page, how, {r.id: r for r in found})


def _customers(
    reads: Reads,
    conn: Connection,
    page: CustomerFile,
    how: dict[int, str],
    known: dict[int, Any] | None = None,
) -> list[Match]:
    """The matched customers the user may see, in the order they were found."""
    if not how:
        return []
    obj = reads.ficha.model[page.object]
    by_id = dict(known or {})
    missing = [i for i in list(how)[:MAX_MATCHES] if i not in by_id]
    if missing:
        table = reads.table(page.object)
        records = reads.list(
            conn,
            page.object,
            where=[table.c.id.in_(missing)],
            limit=MAX_MATCHES,
            fields=[obj.title_field, *page.summary],
        )
        by_id.update((r.id, r) for r in records)
    show = _Summary(reads, page)
    result = []
    for ident, reason in how.items():
        record = by_id.get(ident)
        if record is None:
            continue
        title = record.get(obj.title_field)
        result.append(Match(ident, str(title or f"#{ident}"), reason, show(record)))
    return result


class _Summary:
    def __init__(self, reads: Reads, page: CustomerFile) -> None:
        self.show = Show(reads.ficha)
        self.page = page

    def __call__(self, record: Any) -> str:
        parts = [self.show(record, self.page.object, name) for name in self.page.summary]
        return " · ".join(p for p in parts if p != "—")
