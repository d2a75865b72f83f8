"""What pages/*.yaml declare — the customer file, boards, agendas and work queues — as
frozen values, checked against the model when they were read (load.py): every name here
is a field or object that exists, every condition a compiled expression.

The pages in app_builder/pages/ render these; they know no business object by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from framework.expressions import Expression
from modeler.schema import UNKNOWN_POS, SourcePos
from storage.queries import Sort

KINDS = ("customer_file", "board", "agenda", "work_queues")
#: badge and alert colours (the screens' palette)
COLORS = ("blue", "azure", "green", "yellow", "orange", "red", "purple", "gray")
#: how a section shows its records
STYLES = ("table", "list", "facts")
PLACES = ("main", "side")
#: how a typed text is read before it is compared with a stored identifier
READINGS = ("phone", "email", "national_id", "code")


@dataclass(frozen=True)
class Relation:
    """Records related to the page's record through has_many fields, in turn
    (`contacts.phones`), and the links that lead back from them to it."""

    path: tuple[str, ...]  # has_many fields from the page's object: ("contacts", "phones")
    object: str  # the object at the end: "contact_phone"
    links: tuple[str, ...]  # link fields back, from `object` to the page's object

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Badge:
    """A field's value shown as a badge, or a label shown when a condition holds."""

    field: str | None = None
    when: Expression | None = None
    label: str = ""
    color: str = ""
    name: str = ""  # a state's name (the row's data-state)


@dataclass(frozen=True)
class PageLink:
    """A link to another declared page; `record` passes the row's id (plan from it)."""

    page: str
    label: str = ""
    icon: str = ""
    record: bool = False


@dataclass(frozen=True)
class Section:
    """One card of the customer file: the record's own fields, or its related records."""

    name: str
    label: str
    relation: Relation | None  # None: the page's record itself
    fields: tuple[str, ...]
    style: str = "table"
    place: str = "main"
    title: str | None = None  # list: the field shown as the row's link
    time: str | None = None  # list: a moment shown before the row
    details: tuple[str, ...] = ()  # list: a second, smaller line
    badges: tuple[Badge, ...] = ()  # every one that applies
    states: tuple[Badge, ...] = ()  # the first that applies, in a column of its own
    state_label: str = ""
    filter: Expression | None = None
    sort: tuple[Sort, ...] = ()
    limit: int = 20
    page_size: int = 0  # paged (the history): this many a page; 0: the first `limit`
    nested: tuple[Section, ...] = ()  # each row's own related records (a contact's phones)
    row_link: PageLink | None = None
    page_link: PageLink | None = None
    empty: str = "Nothing yet."
    pos: SourcePos = UNKNOWN_POS

    @property
    def object(self) -> str | None:
        return self.relation.object if self.relation is not None else None

    @cached_property
    def reads(self) -> tuple[str, ...]:
        """The fields read for each row: those shown and those the badges test."""
        names = [*self.fields, *self.details]
        for extra in (self.title, self.time):
            if extra:
                names.append(extra)
        for badge in (*self.badges, *self.states):
            if badge.field:
                names.append(badge.field)
            if badge.when is not None:
                names.extend(sorted(_fields_of(badge.when)))
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Alerts:
    """Alerts for the record (its own) and for every segment it falls in."""

    relation: Relation
    title: str
    message: str | None
    level: str | None
    levels: tuple[tuple[str, str], ...]  # level code → colour, in the order shown
    segment: str | None  # a text field holding a condition on the page's object
    filter: Expression | None
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True)
class IdentifySource:
    """One place an identifier lives: a field of the record or of its related records."""

    relation: Relation | None
    field: str
    readings: tuple[str, ...]
    label: str
    label_field: str | None = None  # a choice field naming the match ("Customer card")
    filter: Expression | None = None
    pos: SourcePos = UNKNOWN_POS

    @property
    def object(self) -> str | None:
        return self.relation.object if self.relation is not None else None


@dataclass(frozen=True)
class ActionField:
    field: str
    label: str
    required: bool = False
    placeholder: str = ""
    factor: Decimal | None = None  # the typed number times this is stored (minutes → s)
    options: Expression | None = None  # a link's choices: the records that meet this
    options_from: Relation | None = None  # a link's choices: the record's related ones


@dataclass(frozen=True)
class Action:
    """A quick action: a form that creates one related record of the page's record."""

    name: str
    label: str
    button: str
    done: str
    relation: Relation  # one has_many: the record made is linked straight to the page's
    fields: tuple[ActionField, ...]
    values: tuple[tuple[str, Any], ...] = ()  # set on every record made (value or Expression)
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True)
class Header:
    pretitle: str | None = None
    badges: tuple[Badge, ...] = ()
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    name: str
    kind: str
    label: str
    icon: str
    object: str
    pos: SourcePos
    pack: str

    @property
    def path(self) -> str:
        return "/" + self.name.replace("_", "-")

    @property
    def needs(self) -> tuple[str, ...]:
        """The objects a user must be allowed to read to have the page in the menu."""
        return (self.object,)


@dataclass(frozen=True)
class CustomerFile(Page):
    identify: tuple[IdentifySource, ...] = ()
    search_in: tuple[Relation, ...] = ()  # a name also finds the record through these
    summary: tuple[str, ...] = ()  # what a match shows beside the name
    create: tuple[str, ...] = ()  # what is offered to create when nothing matches
    header: Header = Header()
    alerts: Alerts | None = None
    sections: tuple[Section, ...] = ()
    actions: tuple[Action, ...] = ()

    @property
    def path(self) -> str:
        return "/ficha"  # the header's "Who is this customer?" box opens it

    @property
    def paged(self) -> Section | None:
        return next((s for s in self.sections if s.page_size), None)


@dataclass(frozen=True)
class Board(Page):
    columns: str = ""  # a choice field: one column per value
    card: tuple[str, ...] = ()
    sort: tuple[Sort, ...] = ()
    sum: str | None = None
    mine: str | None = None  # a link to the user: "Only mine"
    limit: int = 50
    limits: tuple[tuple[str, int], ...] = ()
    filter: Expression | None = None

    def limit_of(self, code: str) -> int:
        return dict(self.limits).get(code, self.limit)


@dataclass(frozen=True)
class AgendaItems:
    """Other records shown in the agenda (planned service visits …)."""

    object: str
    when: str
    who: str
    label: str
    fields: tuple[str, ...] = ()
    filter: Expression | None = None


@dataclass(frozen=True)
class PlanFrom:
    """What the agenda plans for: its record links to one of these."""

    object: str
    link: str  # the agenda object's link field to `object`
    filter: Expression | None = None
    mine: str | None = None  # a link to the user: only the user's own are offered
    copy: tuple[str, ...] = ()  # fields copied from it to the planned record
    sort: tuple[Sort, ...] = ()


@dataclass(frozen=True)
class Agenda(Page):
    when: str = ""  # a date-time field
    who: str = ""  # a link to the user whose agenda it is
    done: str | None = None  # a yes/no field: the "Done" button sets it
    badge: str | None = None  # a choice field shown as the item's badge (and planned)
    offer: tuple[str, ...] = ()  # the badge's values offered when planning
    duration: str | None = None  # a whole number of minutes
    fields: tuple[str, ...] = ()
    plan_from: PlanFrom | None = None
    also: tuple[AgendaItems, ...] = ()


@dataclass(frozen=True)
class WorkQueues(Page):
    """The saved queues are records of `object` (name, object, filter, sort, group_by,
    shared, owner)."""


def _fields_of(expression: Expression) -> set[str]:
    from framework.expressions.walk import fields_read

    return {name for obj, name in fields_read(expression) if obj == expression.object}
