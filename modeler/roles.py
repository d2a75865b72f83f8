"""roles.yaml → who may do what: per role and object, each action with a scope (all,
own, team, none or an expression), and fields hidden or read-only per role. Checked at
load like the objects (ids R001-R019); scope expressions are compiled by the framework.

    roles:
      sales:
        label: Sales representative
        objects:
          account: {read: all, create: yes, update: own, delete: no}
          "*": {read: all}
        hidden: {account: [annual_revenue]}
        read_only: {account: [segment]}
      sales_manager:
        inherits: sales
        objects:
          opportunity: {read: team, update: team, delete: team, export: yes}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from modeler.loader import Node, load_yaml
from modeler.problems import Problem, did_you_mean
from modeler.schema import UNKNOWN_POS, ExprText, Model, SourcePos

ACTIONS = ("read", "create", "update", "delete", "export", "import")
SCOPES = ("all", "own", "team", "none")
ROLE_KEYS = ("label", "everything", "inherits", "objects", "hidden", "read_only")
ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Grant:
    """One action on one object: a scope name, or an expression (ExprText)."""

    scope: str | ExprText

    @property
    def none(self) -> bool:
        return self.scope == "none"


@dataclass(frozen=True, slots=True)
class RoleDef:
    name: str
    label: str
    everything: bool = False
    grants: Mapping[str, Mapping[str, Grant]] = field(
        default_factory=lambda: MappingProxyType({})
    )  # object (or "*") → action → grant
    hidden: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    read_only: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    pos: SourcePos = UNKNOWN_POS

    def grant(self, object_name: str, action: str) -> Grant:
        if self.everything:
            return Grant("all")
        for key in (object_name, "*"):
            found = self.grants.get(key, {}).get(action)
            if found is not None:
                return found
        return Grant("none")


@dataclass(frozen=True, slots=True)
class Roles:
    roles: Mapping[str, RoleDef]
    declared: bool  # False: no roles.yaml, every user is an administrator

    def get(self, name: str | None) -> RoleDef | None:
        if not self.declared:
            return self.roles[ADMIN]
        return self.roles.get(name or "")


OPEN = Roles(
    MappingProxyType({ADMIN: RoleDef(ADMIN, "Administrator", everything=True)}), declared=False
)


def _scope(node: Node, problems: list[Problem]) -> Grant | None:
    value = node.value
    if value is True:
        return Grant("all")
    if value is False or value is None:
        return Grant("none")
    text = str(value).strip()
    if text in ("yes",):
        return Grant("all")
    if text in ("no",):
        return Grant("none")
    if text in SCOPES:
        return Grant(text)
    if any(ch in text for ch in "=<>()") or " " in text:
        return Grant(ExprText(text, node.pos))
    problems.append(
        Problem(
            "R004",
            f"'{text}' is not a scope",
            node.pos,
            did_you_mean(text, SCOPES)
            or "use all, own, team, none, or a condition such as territory == user.territory",
        )
    )
    return None


def load_roles(path: Path, root: Path, model: Model) -> tuple[Roles, list[Problem]]:
    if not path.exists():
        return OPEN, []
    docs, problems = load_yaml(path, root)
    if not docs:
        return OPEN, problems
    doc = docs[0]
    roles_node = doc.get("roles") if doc.is_map else None
    if roles_node is None or not roles_node.is_map:
        problems.append(
            Problem(
                "R001",
                "roles.yaml must start with 'roles:' and one entry per role",
                doc.pos,
                "e.g. roles: {sales: {objects: {account: {read: all}}}}",
            )
        )
        return OPEN, problems
    for key, child in doc.items():
        if key != "roles":
            problems.append(
                Problem(
                    "M010",
                    f"unknown key '{key}' in roles.yaml",
                    child.key_pos or child.pos,
                    "only 'roles:' is read",
                )
            )
    raw: dict[str, RoleDef] = {}
    inherits: dict[str, tuple[str, SourcePos]] = {}
    for name, node in roles_node.items():
        role = _role(name, node, model, problems)
        if role is not None:
            raw[name] = role
            parent = node.get("inherits")
            if parent is not None:
                inherits[name] = (str(parent.value), parent.pos)
    resolved = {name: _inherit(name, raw, inherits, problems, ()) for name in raw}
    if ADMIN not in resolved:
        resolved[ADMIN] = RoleDef(ADMIN, "Administrator", everything=True)
    return Roles(MappingProxyType(resolved), declared=True), problems


def _role(name: str, node: Node, model: Model, problems: list[Problem]) -> RoleDef | None:
    if not node.is_map:
        problems.append(Problem("R002", f"role '{name}' must be a mapping", node.pos))
        return None
    for key, child in node.items():
        if key not in ROLE_KEYS:
            problems.append(
                Problem(
                    "M010",
                    f"unknown key '{key}' in role '{name}'",
                    child.key_pos or child.pos,
                    did_you_mean(key, ROLE_KEYS) or f"allowed keys: {', '.join(ROLE_KEYS)}",
                )
            )
    grants: dict[str, dict[str, Grant]] = {}
    objects = node.get("objects")
    for obj_name, spec in objects.items() if objects is not None else ():
        if obj_name != "*" and obj_name not in model:
            problems.append(
                Problem(
                    "R003",
                    f"role '{name}' names unknown object '{obj_name}'",
                    spec.key_pos or spec.pos,
                    did_you_mean(obj_name, model.objects),
                )
            )
            continue
        if not spec.is_map:
            grant = _scope(spec, problems)  # `account: all` grants every action
            if grant is not None:
                grants[obj_name] = dict.fromkeys(ACTIONS, grant)
            continue
        actions: dict[str, Grant] = {}
        for action, value in spec.items():
            if action not in ACTIONS:
                problems.append(
                    Problem(
                        "R005",
                        f"unknown action '{action}'",
                        value.key_pos or value.pos,
                        did_you_mean(action, ACTIONS) or f"actions: {', '.join(ACTIONS)}",
                    )
                )
                continue
            grant = _scope(value, problems)
            if grant is not None:
                actions[action] = grant
        grants[obj_name] = actions
    hidden = _fields(name, node.get("hidden"), model, problems, "hidden")
    read_only = _fields(name, node.get("read_only"), model, problems, "read_only")
    everything = node.get("everything")
    label = node.get("label")
    return RoleDef(
        name,
        str(label.value) if label is not None else name.replace("_", " ").capitalize(),
        everything=bool(everything and everything.value is True),
        grants=MappingProxyType({k: MappingProxyType(v) for k, v in grants.items()}),
        hidden=MappingProxyType(hidden),
        read_only=MappingProxyType(read_only),
        pos=node.key_pos or node.pos,
    )


def _fields(
    role: str, node: Node | None, model: Model, problems: list[Problem], what: str
) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for obj_name, names in node.items() if node is not None else ():
        if obj_name not in model:
            problems.append(
                Problem(
                    "R003",
                    f"{what} of role '{role}' names unknown object '{obj_name}'",
                    names.key_pos or names.pos,
                    did_you_mean(obj_name, model.objects),
                )
            )
            continue
        obj = model[obj_name]
        listed = (
            [str(n.value) for n in names]
            if names.is_list
            else [p.strip() for p in str(names.value).split(",")]
        )
        for field_name in listed:
            if field_name not in obj.fields:
                problems.append(
                    Problem(
                        "R006",
                        f"{what} of role '{role}' names unknown field '{obj_name}.{field_name}'",
                        names.pos,
                        did_you_mean(field_name, obj.fields),
                    )
                )
            elif what == "hidden" and field_name in obj.search_fields:
                problems.append(
                    Problem(
                        "R007",
                        f"'{obj_name}.{field_name}' is searched, so it cannot be hidden "
                        f"from role '{role}': its text would still find records",
                        names.pos,
                        f"remove search: true from {field_name}, or do not hide it",
                    )
                )
        found[obj_name] = frozenset(listed)
    return found


def _inherit(
    name: str,
    raw: Mapping[str, RoleDef],
    inherits: Mapping[str, tuple[str, SourcePos]],
    problems: list[Problem],
    seen: tuple[str, ...],
) -> RoleDef:
    role = raw[name]
    if name not in inherits:
        return role
    parent_name, pos = inherits[name]
    if parent_name in seen or parent_name == name:
        problems.append(
            Problem(
                "R008",
                f"role '{name}' inherits from itself through {' → '.join((*seen, name))}",
                pos,
            )
        )
        return role
    if parent_name not in raw:
        problems.append(
            Problem(
                "R008",
                f"role '{name}' inherits unknown role '{parent_name}'",
                pos,
                did_you_mean(parent_name, raw),
            )
        )
        return role
    parent = _inherit(parent_name, raw, inherits, problems, (*seen, name))
    grants = {k: dict(v) for k, v in parent.grants.items()}
    for obj_name, actions in role.grants.items():
        grants.setdefault(obj_name, {}).update(actions)
    hidden = dict(parent.hidden)
    hidden.update(role.hidden)
    read_only = dict(parent.read_only)
    read_only.update(role.read_only)
    return RoleDef(
        name,
        role.label,
        role.everything or parent.everything,
        MappingProxyType({k: MappingProxyType(v) for k, v in grants.items()}),
        MappingProxyType(hidden),
        MappingProxyType(read_only),
        role.pos,
    )
