"""Model → SQLAlchemy tables, foreign keys, indexes and run-time mapped classes.

Nothing here is generated as Python files: the tables exist as SQLAlchemy `MetaData`
built from the model each time a project is loaded. Object tables are named after the
object; Ficha's own tables start with `ficha_`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import registry, relationship

from modeler.fieldtypes import LINK, MANY_TO_MANY
from modeler.schema import FieldDef, IndexDef, Model, ObjectDef

MAX_IDENTIFIER = 60  # PostgreSQL allows 63, MariaDB 64: stay below both


def short_name(name: str) -> str:
    """A deterministic identifier of at most MAX_IDENTIFIER characters, the same on every
    database, so a migration written on SQLite replays on PostgreSQL and MariaDB."""
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]  # noqa: S324 - a name, not a secret
    return f"{name[: MAX_IDENTIFIER - 9]}_{digest}"


def _named(prefix: str) -> Any:
    def name(constraint: Any, table: sa.Table) -> str:
        cols = "_".join(c.name for c in constraint.columns) or "expr"
        return short_name(f"{prefix}_{table.name}_{cols}")

    return name


NAMING = {
    "ix_n": _named("ix"),
    "uq_n": _named("uq"),
    "fk_n": _named("fk"),
    "ix": "%(ix_n)s",
    "uq": "%(uq_n)s",
    "fk": "%(fk_n)s",
    "pk": "pk_%(table_name)s",
}


def column_name(f: FieldDef) -> str:
    """The column that holds a field: links keep the target's id in `<name>_id`."""
    return f"{f.name}_id" if f.kind == LINK else f.name


def link_table_name(obj: ObjectDef, f: FieldDef) -> str:
    return short_name(f"{obj.name}__{f.name}")


@dataclass
class Tables:
    """The MetaData of one model, with lookups by object name."""

    metadata: sa.MetaData
    objects: dict[str, sa.Table] = field(default_factory=dict)
    #: (object, many_to_many field) → the link table (shared by both sides)
    links: dict[tuple[str, str], sa.Table] = field(default_factory=dict)
    #: (object, many_to_many field) → True when this side is the target side of the table
    reversed_links: dict[tuple[str, str], bool] = field(default_factory=dict)
    classes: dict[str, type] = field(default_factory=dict)
    system: dict[str, sa.Table] = field(default_factory=dict)

    def __getitem__(self, name: str) -> sa.Table:
        return self.objects[name]

    def owned_table_names(self) -> set[str]:
        """Tables Ficha created and may change; anything else in the database is left alone."""
        return set(self.metadata.tables)


def _id_type() -> sa.types.TypeEngine[int]:
    # SQLite only auto-increments an INTEGER PRIMARY KEY; the others get 64 bits.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _system_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("updated_by", sa.Integer, nullable=True),
        # indexed as the first column of every list index (see _list_indexes)
        sa.Column("deleted_at", sa.DateTime, nullable=True),
    ]


_ON_DELETE = {"restrict": "RESTRICT", "cascade": "CASCADE", "set_null": "SET NULL"}


def build_tables(model: Model) -> Tables:
    metadata = sa.MetaData(naming_convention=NAMING)
    tables = Tables(metadata)
    _system_tables(tables)
    deferred = deferred_links(model)
    for obj in model:
        if obj.source is not None:
            # A wrapped object's records live in a legacy system: its table is only the
            # shape reads and filters are written against, outside the MetaData that
            # migrations compare, so no table is ever created for it.
            tables.objects[obj.name] = _shape(model, obj)
            continue
        columns: list[Any] = _system_columns()
        for f in obj.stored_fields():
            columns.append(_column(model, obj, f, (obj.name, f.name) in deferred))
        # No comments on tables or columns: labels live in the YAML, and a label change
        # must not show up as a schema difference.
        table = sa.Table(obj.table_name, metadata, *columns)
        _list_indexes(model, obj, table)
        for index in obj.indexes:
            _declared_index(obj, index, table)
        tables.objects[obj.name] = table
    for obj in model:
        for f in obj.fields.values():
            if f.kind == MANY_TO_MANY:
                _link_table(model, obj, f, tables)
    _map_classes(model, tables)
    return tables


def _shape(model: Model, obj: ObjectDef) -> sa.Table:
    columns = [*_system_columns(), *(_column(model, obj, f) for f in obj.stored_fields())]
    return sa.Table(obj.table_name, sa.MetaData(), *columns)


def _list_indexes(model: Model, obj: ObjectDef, table: sa.Table) -> None:
    """Indexes for what lists do: show live records (deleted_at IS NULL), filtered by a
    value or a link, in order.

    They are partial indexes (WHERE deleted_at IS NULL) on SQLite and PostgreSQL, so one
    index serves the filter, the live-record condition and the order; PostgreSQL cannot
    take a row order from an index whose first column is only tested IS NULL. MariaDB
    has no partial indexes and ignores the condition: live rows are nearly all rows, so
    walking the plain index in order and skipping the deleted ones is as good. There is
    deliberately no index on deleted_at alone: nearly every row has it empty, and such an
    index misleads the planners into reading all of them."""
    wanted: list[tuple[str, ...]] = []
    lookups: list[str] = []
    for f in obj.stored_fields():
        ftype = model.field_types.get(f.type)
        if f.unique or not ftype.orderable:
            continue
        if f.index:
            lookups.append(column_name(f))
        elif f.kind == LINK or f.filter:
            wanted.append((column_name(f),))
    sort = [name for name, _ in obj.list.sort if name != "id"]
    if sort and all(
        (n in obj.fields and obj.fields[n].kind != LINK) or n in ("created_at", "updated_at")
        for n in sort
    ):
        wanted.append(tuple(column_name(obj.fields[n]) if n in obj.fields else n for n in sort))
    # `index: true` marks an identifier looked up whole (a phone, a card number): a plain
    # index, which SQLite can also use inside an OR (the search box ORs the identifiers).
    for name in lookups:
        sa.Index(None, table.c[name], table.c.id)
    live = table.c.deleted_at.is_(None)
    for cols in dict.fromkeys(wanted):
        # named by the naming convention, like every other index (renames follow it)
        sa.Index(
            None, *(table.c[c] for c in cols), table.c.id, sqlite_where=live, postgresql_where=live
        )


def _declared_index(obj: ObjectDef, index: IndexDef, table: sa.Table) -> None:
    """An entry of `indexes:` / `unique:`. What it includes comes after its fields as
    ordinary key columns on every database (PostgreSQL's INCLUDE would be a little
    smaller, but a revision file replays on all three and SQLite and MariaDB have no
    INCLUDE). A live index is partial like the list indexes; MariaDB ignores that."""
    cols = [column_name(obj.fields[n]) if n in obj.fields else n for n in index.columns]
    condition = table.c.deleted_at.is_(None)
    live: dict[str, Any] = (
        {"sqlite_where": condition, "postgresql_where": condition} if index.live else {}
    )
    sa.Index(
        index.name or short_name(f"ix_{obj.name}_{'_'.join(cols)}"),
        *(table.c[c] for c in cols),
        unique=index.unique,
        **live,
    )


def deferred_links(model: Model) -> set[tuple[str, str]]:
    """Links that close a cycle between objects (user.team → team, team.manager → user).

    Their foreign keys are added after both tables exist (`use_alter`), so tables can be
    created in an order; each cycle is broken at the links that point forward in the
    model's order."""
    order = {obj.name: i for i, obj in enumerate(model)}
    graph = {
        obj.name: {
            f.target
            for f in obj.fields.values()
            if f.kind == LINK and f.target in order and f.target != obj.name
        }
        for obj in model
    }

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    return {
        (obj.name, f.name)
        for obj in model
        for f in obj.fields.values()
        if f.kind == LINK
        and f.target in order
        and f.target != obj.name
        and order[f.target] > order[obj.name]
        and reaches(f.target or "", obj.name)
    }


def _column(model: Model, obj: ObjectDef, f: FieldDef, deferred: bool = False) -> sa.Column[Any]:
    ftype = model.field_types.get(f.type)
    assert ftype.sql_type is not None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if f.kind == LINK:
        target = model[f.target or ""]
        args.append(
            sa.ForeignKey(
                f"{target.table_name}.id", ondelete=_ON_DELETE[f.on_delete], use_alter=deferred
            )
        )
        sql_type: Any = _id_type()
        kwargs["index"] = False  # indexed with deleted_at in front, see _list_indexes
    else:
        sql_type = ftype.sql_type(f)
        kwargs["index"] = False
    return sa.Column(
        column_name(f),
        sql_type,
        *args,
        # required is enforced by the records service with a clear message; the column
        # stays nullable so that adding a required field never needs a table rebuild.
        nullable=True,
        unique=f.unique or f.type == "autonumber",
        **kwargs,
    )


def _link_table(model: Model, obj: ObjectDef, f: FieldDef, tables: Tables) -> None:
    if f.via:  # the other side declared the table
        tables.reversed_links[(obj.name, f.name)] = True
        other = model[f.target or ""]
        key = (other.name, f.via)
        if key not in tables.links:
            _link_table(model, other, other.fields[f.via], tables)
        tables.links[(obj.name, f.name)] = tables.links[key]
        return
    if (obj.name, f.name) in tables.links:
        return
    target = model[f.target or ""]
    columns: list[Any] = [
        sa.Column(
            "source_id",
            _id_type(),
            sa.ForeignKey(f"{obj.table_name}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "target_id",
            _id_type(),
            sa.ForeignKey(f"{target.table_name}.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    ]
    for attr in f.link_fields:
        ftype = model.field_types.get(attr.type)
        assert ftype.sql_type is not None
        columns.append(sa.Column(attr.name, ftype.sql_type(attr), nullable=True))
    table = sa.Table(link_table_name(obj, f), tables.metadata, *columns)
    tables.links[(obj.name, f.name)] = table
    tables.reversed_links[(obj.name, f.name)] = False


def _system_tables(tables: Tables) -> None:
    md = tables.metadata
    tables.system["counter"] = sa.Table(
        "ficha_counter",
        md,
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )  # autonumber counters: one row per object, field and period
    tables.system["audit"] = sa.Table(
        "ficha_audit",
        md,
        sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("object", sa.String(60), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("changes", sa.JSON(none_as_null=True), nullable=True),
        sa.Index(None, "object", "record_id", "id"),
        sa.Index(None, "at"),
    )  # the audit trail: who changed what, when, through which channel
    tables.system["job"] = sa.Table(
        "ficha_job",
        md,
        sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("run_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.String(80), nullable=True),
        sa.Column("claimed_until", sa.DateTime, nullable=True),
        sa.Column("done_at", sa.DateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("error", sa.Text, nullable=True),
        sa.Index(None, "done_at", "run_at"),
    )  # timed rules and jobs, claimed in the database by one worker at a time
    tables.system["credential"] = sa.Table(
        "ficha_credential",
        md,
        sa.Column(
            "user_id", _id_type(), sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("must_change", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", sa.DateTime, nullable=True),
    )  # sign-in secrets, kept apart from the user object (never shown by any screen)
    tables.system["session"] = sa.Table(
        "ficha_session",
        md,
        sa.Column("id", sa.String(64), primary_key=True),  # a hash of the cookie's token
        sa.Column(
            "user_id",
            _id_type(),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
    )  # server-side sessions: a cookie is only good while its row says so
    tables.system["token"] = sa.Table(
        "ficha_token",
        md,
        sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            _id_type(),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(60), nullable=True),  # narrower than the user's role
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=True),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
    )  # API tokens: only their hash is kept
    tables.system["login_attempt"] = sa.Table(
        "ficha_login_attempt",
        md,
        sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Index(None, "ip", "at"),
    )  # for throttling sign-in attempts per address, across web workers
    tables.system["meta"] = sa.Table(
        "ficha_meta",
        md,
        sa.Column("key", sa.String(120), primary_key=True),
        # the applied model as JSON: over MariaDB's 64 KB TEXT for a pack of 30 objects
        sa.Column("value", _LONG_TEXT, nullable=False),
    )  # what Ficha keeps about this database: the applied model, search index layout


_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _map_classes(model: Model, tables: Tables) -> None:
    """Plain classes mapped imperatively, for plugins that prefer the ORM.

    Relationships load with `raise_on_sql`: touching an unloaded relation raises instead
    of quietly running one query per row (the N+1 trap)."""
    reg = registry()
    classes = {
        obj.name: type(_class_name(obj.name), (), {"__module__": "ficha.records"}) for obj in model
    }
    for obj in model:
        props: dict[str, Any] = {}
        for f in obj.fields.values():
            if f.kind == LINK and f.target in classes:
                table = tables[obj.name]
                props[f.name] = relationship(
                    classes[f.target],
                    foreign_keys=[table.c[column_name(f)]],
                    lazy="raise_on_sql",
                    viewonly=True,
                )
        reg.map_imperatively(classes[obj.name], tables[obj.name], properties=props)
    tables.classes.update(classes)


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
