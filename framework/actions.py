"""What a business rule can do: set fields, create a related record, notify a user,
queue an email, assign a record round-robin, or call an action a plugin provides. Every
write goes through the records service, in the transaction of the change that fired it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.behaviour import (
    RECIPIENT_KINDS,
    CompiledAction,
    CompiledRule,
    Value,
    render_template,
)
from framework.expressions import Context
from framework.expressions.evaluate import plain
from framework.expressions.resolver import SqlAggregateResolver
from framework.match_actions import run_create, run_lookup, run_update
from framework.privacy import consent_allows
from storage import counters
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.records import Actor, RecordService


@dataclass
class ActionContext:
    """What an action (built-in or a plugin's) receives."""

    records: RecordService
    conn: Connection
    rule: CompiledRule
    action: CompiledAction
    object: str
    record: Mapping[str, Any]  # plain values: links as ids
    actor: Actor
    context: Context

    def value(self, value: Value) -> Any:
        if value.expression is None:
            return value.literal
        resolver = SqlAggregateResolver(self.records.storage, self.conn)
        return value.expression.evaluate(self.record, resolver, self.context)

    def text(self, template: str) -> str:
        from framework.expressions import Expression

        model = self.records.model

        def lookup(name: str) -> Any:
            expression = Expression.compile(name, model, self.object, condition=False)
            resolver = SqlAggregateResolver(self.records.storage, self.conn)
            value = expression.evaluate(self.record, resolver, self.context)
            f = model[self.object].fields.get(name)
            if f is not None and f.values:
                return f.choice_label(value)
            return value

        return render_template(template, lookup)


PluginAction = Callable[[ActionContext], Any]


def run_action(ctx: ActionContext, plugin_actions: Mapping[str, PluginAction]) -> None:
    kind = ctx.action.kind
    if kind == "set":
        values = {k: ctx.value(v) for k, v in ctx.action.values.items()}
        ctx.records.update(ctx.object, int(ctx.record["id"]), values, ctx.actor, conn=ctx.conn)
    elif kind == "create":
        run_create(ctx)
    elif kind == "lookup":
        run_lookup(ctx)
    elif kind == "update":
        run_update(ctx)
    elif kind == "notify":
        _notify(ctx)
    elif kind == "email":
        _email(ctx)
    elif kind == "assign":
        _assign(ctx)
    elif kind == "call":
        name = str(ctx.action.options["action"])
        plugin_actions[name](ctx)


def _recipients(ctx: ActionContext, value: Any) -> list[int]:
    """User ids from what `to:` gave: a user id, a username, a list of them, or
    'role:x' / 'team:x' / 'group:x' / 'territory:x'."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        found: list[int] = []
        for item in value:
            found += [i for i in _recipients(ctx, plain(item)) if i not in found]
        return found
    value = plain(value)
    if isinstance(value, str):
        text = value.strip()
        if ":" in text:
            kind, _, name = text.partition(":")
            key = RECIPIENT_KINDS.get(kind.strip().lower())
            if key is None:
                raise ValueError(
                    f"rule '{ctx.rule.name}': cannot notify '{text}' (write a username, "
                    "or role:, team:, group: or territory: before a name)"
                )
            return _users_in(ctx, **{key: name.strip()})
        if text.isdigit():
            return [int(text)]
        return _users_named(ctx, text)
    return [int(value)]


def _users_named(ctx: ActionContext, username: str) -> list[int]:
    users = ctx.records.storage.table("user")
    found = ctx.conn.execute(
        sa.select(users.c.id).where(users.c.username == username, users.c.deleted_at.is_(None))
    ).scalar()
    return [] if found is None else [int(found)]


def _users_in(
    ctx: ActionContext,
    *,
    role: str | None = None,
    team: str | None = None,
    territory: str | None = None,
) -> list[int]:
    storage = ctx.records.storage
    users = storage.table("user")
    stmt = sa.select(users.c.id).where(users.c.deleted_at.is_(None), users.c.active.is_not(False))
    if role:
        stmt = stmt.where(users.c.role == role)
    if territory:
        stmt = stmt.where(users.c.territory == territory)
    if team:
        teams = storage.table("team")
        stmt = stmt.where(
            users.c[column_name(storage.model["user"].fields["team"])].in_(
                sa.select(teams.c.id).where(teams.c.name == team)
            )
        )
    return [int(i) for i in ctx.conn.execute(stmt.order_by(users.c.id)).scalars()]


def _notify(ctx: ActionContext) -> None:
    message = ctx.text(str(ctx.action.options["message"]))
    level = str(ctx.action.options.get("level", "info"))
    for user_id in _recipients(ctx, ctx.value(ctx.action.values["to"])):
        ctx.records.create(
            "notification",
            {
                "recipient": user_id,
                "message": message[:500],
                "level": level,
                "about_object": ctx.object,
                "about_id": ctx.record.get("id"),
            },
            ctx.actor,
            conn=ctx.conn,
        )


def _email(ctx: ActionContext) -> None:
    to = ctx.value(ctx.action.values["to"])
    addresses = to if isinstance(to, list) else [to]
    purpose = str(ctx.action.options.get("purpose", "service"))
    for address in addresses:
        if not address:
            continue
        # Consent is checked at every send: a person who opted out is never written to;
        # the message is kept, marked blocked, as the trace of why it was not sent.
        allowed = consent_allows(ctx.records, ctx.conn, str(address), "email", purpose)
        ctx.records.create(
            "email_message",
            {
                "status": "queued" if allowed else "blocked",
                "to": address,
                "subject": ctx.text(str(ctx.action.options["subject"]))[:200],
                "body": ctx.text(str(ctx.action.options.get("body", ""))),
                "about_object": ctx.object,
                "about_id": ctx.record.get("id"),
            },
            ctx.actor,
            conn=ctx.conn,
        )


def _assign(ctx: ActionContext) -> None:
    """Round-robin among the active users of a team, role or territory."""
    options = ctx.action.options
    territory = options.get("territory")
    if isinstance(territory, str) and territory.startswith("="):
        from framework.behaviour import Value as V
        from framework.expressions import Expression

        territory = ctx.value(
            V(
                expression=Expression.compile(
                    territory[1:], ctx.records.model, ctx.object, condition=False
                )
            )
        )
    candidates = _users_in(
        ctx, role=options.get("role"), team=options.get("team"), territory=territory
    )
    if not candidates:
        return
    key = f"assign:{ctx.object}.{ctx.rule.name}"[:120]
    turn = counters.increment(ctx.conn, ctx.records.storage.tables.system["counter"], key)
    chosen = candidates[(int(turn) - 1) % len(candidates)]
    ctx.records.update(
        ctx.object,
        int(ctx.record["id"]),
        {str(options.get("field", "owner")): chosen},
        ctx.actor,
        conn=ctx.conn,
    )
