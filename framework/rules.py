"""The rule engine: listens to record events, decides which rules fire (created,
updated, a field changed, a workflow transition), checks their condition and runs their
actions in the same transaction; timed rules go to the scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.actions import ActionContext, PluginAction, run_action
from framework.behaviour import Behaviour, CompiledRule
from framework.enforce import user_context
from framework.errors import ValidationFailed
from framework.expressions import Context
from framework.expressions.evaluate import plain
from framework.expressions.resolver import SqlAggregateResolver
from framework.match_actions import writes_own_record
from framework.records import Actor, RecordEvent, utcnow

if TYPE_CHECKING:
    from framework.records import RecordService
    from framework.scheduler import Scheduler

log = logging.getLogger("ficha.rules")

_FIRES_ON = {
    "create": ("created",),
    "update": ("updated",),
    "save": ("created", "updated"),
    "delete": ("deleted",),
}


@dataclass(frozen=True, slots=True)
class _Seen:
    """A record as rules see it: plain values, the context, a resolver for aggregates."""

    values: dict[str, Any]
    context: Context
    resolver: SqlAggregateResolver


def _plain(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else {k: plain(v) for k, v in record.items()}


class RuleEngine:
    def __init__(
        self,
        records: RecordService,
        behaviour: Behaviour,
        plugin_actions: Mapping[str, PluginAction],
        scheduler: Scheduler,
    ) -> None:
        self.records = records
        self.behaviour = behaviour
        self.plugin_actions = plugin_actions
        self.scheduler = scheduler

    def on_events(self, events: Sequence[RecordEvent]) -> None:
        """A batch write's events, in order; an object without rules is passed over once
        for all of its events instead of once each."""
        ruled: dict[str, bool] = {}
        for event in events:
            has_rules = ruled.get(event.object)
            if has_rules is None:
                has_rules = ruled[event.object] = bool(self.behaviour.of(event.object).rules)
            if has_rules:
                self.on_event(event)

    def on_event(self, event: RecordEvent) -> None:
        seen: _Seen | None = None  # what every rule of this event sees, made once
        for rule in self.behaviour.of(event.object).rules:
            if not self._triggered(rule, event):
                continue
            if rule.rule.on == "after":
                self.scheduler.schedule(
                    event.conn,
                    "rule",
                    f"{event.object}.{rule.name}",
                    utcnow() + dt.timedelta(minutes=rule.rule.delay_minutes),
                    {
                        "object": event.object,
                        "id": event.record.get("id"),
                        "rule": rule.name,
                        "actor": event.actor.user_id,
                    },
                )
                continue
            fired: set[tuple[str, str, Any, str]] = event.conn.info.setdefault("ficha_fired", set())
            key = (event.object, rule.name, event.record.get("id"), event.kind)
            if key in fired:
                continue  # a rule fires once per record and event within one change
            fired.add(key)
            if seen is None:
                seen = self._seen(event.conn, event.record, event.before, event.actor)
            if not self._run(rule, event.conn, seen, event.actor):
                # its condition did not hold: the same event may still fire it later in
                # this change (when another rule's write, seen first, did not concern it)
                fired.discard(key)

    def _triggered(self, rule: CompiledRule, event: RecordEvent) -> bool:
        on = rule.rule.on
        if on in _FIRES_ON:
            return event.kind in _FIRES_ON[on]
        if on == "after":
            return event.kind in _FIRES_ON.get(rule.rule.after_event, ())
        if on in ("change", "transition") and event.kind in ("created", "updated"):
            name = rule.rule.field or ""
            if name not in event.changes:
                return False
            if on == "transition":
                old, new = event.changes[name]
                return plain(new) == rule.rule.to and plain(old) != rule.rule.to
            return True
        return False

    def run(
        self,
        rule: CompiledRule,
        conn: Connection,
        record: Mapping[str, Any],
        before: Mapping[str, Any] | None,
        actor: Actor,
    ) -> bool:
        """Check the rule's condition on the record and run its actions; True if it ran."""
        return self._run(rule, conn, self._seen(conn, record, before, actor), actor)

    def _seen(
        self,
        conn: Connection,
        record: Mapping[str, Any],
        before: Mapping[str, Any] | None,
        actor: Actor,
    ) -> _Seen:
        return _Seen(
            _plain(record) or {},
            Context(user=user_context(actor), before=_plain(before)),
            SqlAggregateResolver(self.records.storage, conn),
        )

    def _run(self, rule: CompiledRule, conn: Connection, seen: _Seen, actor: Actor) -> bool:
        values, context = seen.values, seen.context
        if rule.condition is not None and not rule.condition.test(values, seen.resolver, context):
            return False
        as_rule = Actor(
            actor.user_id,
            f"{actor.name} (rule {rule.name})",
            "rule",
            actor.role,
            actor.team,
            actor.territory,
            actor.email,
        )
        for action in rule.actions:
            try:
                run_action(
                    ActionContext(
                        self.records, conn, rule, action, rule.object, values, as_rule, context
                    ),
                    self.plugin_actions,
                )
            except ValidationFailed as exc:
                if exc.object_name == rule.object:
                    raise
                # refused on another record (the task it creates, say): the form of this
                # record has no field for that, so the message goes to the whole form
                raise ValidationFailed(
                    rule.object, {"__all__": f"rule '{rule.name}' could not run: {exc}"}
                ) from exc
            if writes_own_record(action):  # later actions see the values just set
                fresh = self.records.reader.get(conn, rule.object, int(values["id"]))
                values = _plain(fresh) or values
        return True

    def run_timed(self, conn: Connection, payload: Mapping[str, Any]) -> None:
        """An `after` rule whose time has come: it runs if its condition still holds."""
        rule = self._rule(str(payload["object"]), str(payload["rule"]))
        if rule.rule.after_event == "delete":
            # `after: delete` is about a deleted record: it runs unless it was restored
            record = self.records.reader.get(
                conn, rule.object, int(payload["id"]), include_deleted=True
            )
            if record is None or record.get("deleted_at") is None:
                return
        else:
            record = self.records.reader.get(conn, rule.object, int(payload["id"]))
            if record is None:
                return  # deleted meanwhile
        self.run(rule, conn, record, None, self._actor(conn, payload.get("actor")))

    def run_scheduled(self, conn: Connection, object_name: str, rule_name: str) -> int:
        """A `schedule` rule: runs for every record its condition selects (found by one
        query), returns how many."""
        rule = self._rule(object_name, rule_name)
        table = self.records.storage.table(object_name)
        stmt = sa.select(table.c.id).where(table.c.deleted_at.is_(None))
        if rule.condition is not None:
            stmt = stmt.where(rule.condition.where(self.records.storage))
        count = 0
        for ident in conn.execute(stmt.order_by(table.c.id)).scalars().all():
            record = self.records.reader.get(conn, object_name, int(ident))
            if record is not None:
                system = Actor(None, f"schedule {rule_name}", "rule")
                count += self.run(rule, conn, record, None, system)
        return count

    def notify_admins(self, message: str) -> None:
        """An in-app alert to every active administrator (a scheduled rule stopped)."""
        users = self.records.storage.table("user")
        live = [users.c.deleted_at.is_(None), users.c.active.is_not(False)]
        permissions = self.records.permissions
        if permissions is None or permissions.roles.declared:
            roles = permissions.roles.roles if permissions is not None else {}
            admins = [name for name, role in roles.items() if role.everything] or ["admin"]
            live.append(users.c.role.in_(admins))
        # without roles.yaml everyone is an administrator: everyone is told
        with self.records.storage.write() as conn:
            ids = conn.execute(sa.select(users.c.id).where(*live)).scalars()
            for user_id in ids.all():
                self.records.create(
                    "notification",
                    {"recipient": int(user_id), "message": message[:500], "level": "alert"},
                    conn=conn,
                )

    def _rule(self, object_name: str, rule_name: str) -> CompiledRule:
        for rule in self.behaviour.of(object_name).rules:
            if rule.name == rule_name:
                return rule
        raise LookupError(f"no rule '{rule_name}' on {object_name} any more")

    def _actor(self, conn: Connection, user_id: Any) -> Actor:
        if user_id is None:
            return Actor(None, "scheduler", "rule")
        user = self.records.reader.get(conn, "user", int(user_id))
        if user is None:
            return Actor(int(user_id), "a former user", "rule")
        team = user.get("team")
        return Actor(
            int(user_id),
            str(user.get("name")),
            "rule",
            user.get("role"),
            getattr(team, "title", None),
            user.get("territory"),
            user.get("email"),
        )
