"""Permissions: what a user's role lets them do, as SQL conditions.

Every path that reads records (lists, counts, search, relation pickers, record pages,
exports, the API, reports) adds `scope(…)` to its query, so a record outside the user's
scope is never read at all — not filtered out afterwards. Writes are checked by the
records service with the same conditions. Rules and system jobs act with full rights.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.errors import PermissionDenied
from framework.expressions import Context, Expression, ExpressionError
from framework.records import Actor
from modeler.problems import Problem
from modeler.roles import ACTIONS, ExprText, RoleDef, Roles
from modeler.schema import Model
from storage.manager import StorageManager
from storage.tables import column_name

#: channels that act for Ficha itself (rules, jobs, the command line), not for a person
TRUSTED = frozenset({"system", "rule", "script", "cli"})
#: above this many records a team's records are found by walking the list's order
SHARE = 5_000
SHARE_TTL = 600.0  # seconds
VERBS = {
    "read": "see",
    "create": "create",
    "update": "change",
    "delete": "delete",
    "export": "export",
    "import": "import",
}


@dataclass
class Who:
    """A person's rights worked out once per request: role, and whose records are theirs."""

    actor: Actor
    role: RoleDef | None
    team_members: frozenset[int] | None = None  # computed on first use
    cache: dict[Any, Any] = field(default_factory=dict)


class Permissions:
    def __init__(self, storage: StorageManager, roles: Roles) -> None:
        self.storage = storage
        self.model: Model = storage.model
        self.roles = roles
        self.expressions: dict[tuple[str, str, str], Expression] = {}
        #: (object, team members) → (owns more than SHARE records, when that was counted)
        self._shares: dict[tuple[str, frozenset[int]], tuple[bool, float]] = {}

    def compile(self) -> list[Problem]:
        """Compile the expression scopes of roles.yaml against the model."""
        problems: list[Problem] = []
        for role in self.roles.roles.values():
            for obj_name, actions in role.grants.items():
                targets = list(self.model.objects) if obj_name == "*" else [obj_name]
                for action, grant in actions.items():
                    if not isinstance(grant.scope, ExprText):
                        continue
                    for target in targets:
                        try:
                            self.expressions[(role.name, target, action)] = Expression.compile(
                                grant.scope.text, self.model, target
                            )
                        except ExpressionError as exc:
                            problems.append(
                                Problem(
                                    "R010",
                                    f"in the {action} scope of role '{role.name}' on "
                                    f"{target}, character {exc.offset + 1}: {exc.message}",
                                    grant.scope.pos,
                                    exc.hint,
                                )
                            )
        return problems

    # -- who ------------------------------------------------------------------------------

    def who(self, actor: Actor) -> Who:
        return Who(actor, self.roles.get(actor.role))

    def trusted(self, who: Who) -> bool:
        return who.actor.channel in TRUSTED or (who.role is not None and who.role.everything)

    def allowed(self, who: Who, object_name: str, action: str) -> bool:
        if self.trusted(who):
            return True
        return who.role is not None and not who.role.grant(object_name, action).none

    def require(self, who: Who, object_name: str, action: str) -> None:
        if not self.allowed(who, object_name, action):
            label = self.model[object_name].plural.lower()
            raise PermissionDenied(f"your role does not let you {VERBS[action]} {label}")

    # -- scopes as SQL ------------------------------------------------------------------------

    def scope(
        self, who: Who, object_name: str, action: str = "read", table: sa.FromClause | None = None
    ) -> Any | None:
        """A WHERE condition selecting the records `who` may act on, or None for all."""
        if self.trusted(who):
            return None
        if who.role is None:
            return sa.false()
        grant = who.role.grant(object_name, action)
        table = table if table is not None else self.storage.table(object_name)
        if grant.none:
            return sa.false()
        if grant.scope == "all":
            return None
        if isinstance(grant.scope, ExprText):
            expression = self.expressions[(who.role.name, object_name, action)]
            user = {
                "id": who.actor.user_id,
                "name": who.actor.name,
                "team": who.actor.team,
                "territory": who.actor.territory,
                "role": who.actor.role,
                "email": who.actor.email,
            }
            return expression.where(self.storage, table, Context(user=user))
        owner = self._owner_column(object_name, table)
        if grant.scope == "own":
            return owner == who.actor.user_id
        members = self.team_members(who)
        if len(members) <= 1:
            return owner == who.actor.user_id
        condition = owner.in_(sorted(members))
        if self._big_share(object_name, condition, table, members):
            # The team owns many records: walking the list's sort index and keeping the
            # team's rows fills a page at once, while seeking each member's rows in the
            # owner's index and sorting them all reads the team's whole share (SQLite,
            # 1,000,000 rows of which the team owns 12%: 2 s instead of 1 ms, see
            # bench/permissions.py). A small share is best sought, and left as it is.
            return self.storage.dialect.frequent(condition)
        return condition

    def _big_share(
        self, object_name: str, condition: Any, table: sa.FromClause, members: frozenset[int]
    ) -> bool:
        """Whether a team owns more than SHARE live records of an object: counted (at most
        SHARE + 1 index entries) only where the database needs the hint, and remembered
        for a few minutes, since a team's share changes slowly."""
        if self.storage.dialect.frequent(condition) is condition:
            return False  # this database's planner needs no hint
        key = (object_name, members)
        now = time.monotonic()
        known = self._shares.get(key)
        if known is not None and now - known[1] < SHARE_TTL:
            return known[0]
        probe = (
            sa.select(sa.literal(1))
            .select_from(table)
            .where(condition, table.c.deleted_at.is_(None))
            .limit(SHARE + 1)
        )
        with self.storage.read() as conn:
            found = conn.execute(sa.select(sa.func.count()).select_from(probe.subquery())).scalar()
        big = int(found or 0) > SHARE
        if len(self._shares) > 1000:
            self._shares.clear()
        self._shares[key] = (big, now)
        return big

    def _owner_column(self, object_name: str, table: sa.FromClause) -> Any:
        """Whose record it is: its `owner` link to a user, else who created it."""
        obj = self.model[object_name]
        owner = obj.fields.get("owner")
        if owner is not None and owner.target == "user":
            return table.c[column_name(owner)]
        return table.c.created_by

    def team_members(self, who: Who) -> frozenset[int]:
        """The user, everyone in their team and the teams below it, and everyone who
        reports to them (directly or not): whose records a `team` scope covers."""
        if who.team_members is not None:
            return who.team_members
        me = who.actor.user_id
        users = self.storage.table("user")
        teams = self.storage.table("team")
        team_col = users.c[column_name(self.model["user"].fields["team"])]
        manager_col = users.c[column_name(self.model["user"].fields["manager"])]
        parent_col = teams.c[column_name(self.model["team"].fields["parent"])]
        team_manager = teams.c[column_name(self.model["team"].fields["manager"])]
        with self.storage.read() as conn:
            people = conn.execute(
                sa.select(users.c.id, team_col, manager_col).where(users.c.deleted_at.is_(None))
            ).all()
            team_rows = conn.execute(
                sa.select(teams.c.id, parent_col, team_manager).where(teams.c.deleted_at.is_(None))
            ).all()
        mine = {p.id: p for p in people}.get(me)
        roots = {t.id for t in team_rows if t[2] == me}  # teams I manage
        if mine is not None and mine[1] is not None:
            roots.add(mine[1])
        below = set(roots)
        changed = True
        while changed:
            changed = False
            for t in team_rows:
                if t[1] in below and t.id not in below:
                    below.add(t.id)
                    changed = True
        members = {p.id for p in people if p[1] in below}
        reports = {me}
        changed = True
        while changed:
            changed = False
            for p in people:
                if p[2] in reports and p.id not in reports:
                    reports.add(p.id)
                    changed = True
        everyone: set[int] = {int(i) for i in members | reports if i is not None}
        who.team_members = frozenset(everyone)
        return who.team_members

    def record_allowed(
        self, conn: Connection, who: Who, object_name: str, action: str, ident: int
    ) -> bool:
        condition = self.scope(who, object_name, action)
        if condition is None:
            return True
        table = self.storage.table(object_name)
        return (
            conn.execute(sa.select(table.c.id).where(table.c.id == ident, condition)).first()
            is not None
        )

    # -- fields -------------------------------------------------------------------------------

    def hidden(self, who: Who, object_name: str) -> frozenset[str]:
        if self.trusted(who) or who.role is None:
            return frozenset()
        return frozenset(who.role.hidden.get(object_name, ()))

    def read_only(self, who: Who, object_name: str) -> frozenset[str]:
        if self.trusted(who) or who.role is None:
            return frozenset()
        return frozenset(who.role.read_only.get(object_name, ())) | self.hidden(who, object_name)

    def check_write(
        self,
        conn: Connection,
        actor: Actor,
        object_name: str,
        action: str,
        ident: int | None,
        values: Mapping[str, Any],
    ) -> None:
        """Refuse a write the actor's role does not allow (before anything is written)."""
        who = self.who(actor)
        self.require(who, object_name, action)
        if ident is not None and not self.record_allowed(conn, who, object_name, action, ident):
            obj = self.model[object_name]
            raise PermissionDenied(
                f"this {obj.label.lower()} is not one your role lets you {VERBS[action]}"
            )
        blocked = sorted(set(values) & self.read_only(who, object_name))
        if blocked:
            fields = ", ".join(
                self.model[object_name].fields[n].label
                for n in blocked
                if n in self.model[object_name].fields
            )
            raise PermissionDenied(f"your role cannot change {fields}")


def actions_for(permissions: Permissions, who: Who, object_name: str) -> dict[str, bool]:
    return {a: permissions.allowed(who, object_name, a) for a in ACTIONS}
