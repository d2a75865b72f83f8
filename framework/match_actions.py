"""Rule actions that reach other records: `lookup` (find a record of another object and
keep it in a link), `update` (change the records of another object that match this one),
and the `save_as` and `for_each` settings of `create` (keep the new record in a link;
create one record per related record).

They let packs declare duplicate detection, lead conversion, "one primary phone per
contact" and quote-to-order copies in YAML. Records are matched by equality on the
target's fields, with values computed on the record that fired the rule; an empty value
matches nothing (two leads without an email are not duplicates of each other).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from framework.behaviour import CompiledAction, Value
from framework.expressions.evaluate import plain
from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY
from modeler.problems import did_you_mean
from modeler.schema import ActionDef, ObjectDef, RuleDef
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.actions import ActionContext
    from framework.behaviour import _Compiler

MATCH_HINT = "e.g. match: {email: =email}"


# -- checking the YAML ----------------------------------------------------------------------


def _target(compiler: _Compiler, action: ActionDef, where: str) -> ObjectDef | None:
    name = action.options.get("object")
    target = compiler.model.objects.get(str(name))
    if target is None:
        compiler.error(
            "M082",
            f"{action.kind} in {where} names unknown object '{name}'",
            action.pos,
            did_you_mean(str(name), compiler.model.objects) or "e.g. object: contact",
        )
    return target


def _match(
    compiler: _Compiler, obj: ObjectDef, target: ObjectDef, action: ActionDef, where: str
) -> dict[str, Value] | None:
    raw = action.options.get("match")
    if not isinstance(raw, Mapping) or not raw:
        compiler.error(
            "M082",
            f"{action.kind} in {where} needs match: the fields that must be equal",
            action.pos,
            MATCH_HINT,
        )
        return None
    for name in raw:
        f = target.fields.get(str(name))
        if name != "id" and (f is None or f.kind not in (COLUMN, LINK)):
            compiler.error(
                "M082",
                f"{target.label} has no field '{name}' to match in {action.kind} of {where}",
                action.pos,
                did_you_mean(str(name), list(target.fields)),
            )
            return None
    result: dict[str, Value] = {}
    for name, raw_value in raw.items():
        value = compiler.value(raw_value, obj, f"{action.kind}.match.{name} of {where}", action.pos)
        if value is None:
            return None
        result[str(name)] = value
    return result


def _own_link(
    compiler: _Compiler, obj: ObjectDef, target: ObjectDef, action: ActionDef, key: str, where: str
) -> str | None:
    name = str(action.options.get(key))
    f = obj.fields.get(name)
    if f is None or f.kind != LINK or f.target != target.name:
        compiler.error(
            "M082",
            f"{key} of {action.kind} in {where} must be a link of {obj.name} to "
            f"{target.name} ('{name}' is not one)",
            action.pos,
            did_you_mean(
                name,
                [n for n, g in obj.fields.items() if g.kind == LINK and g.target == target.name],
            ),
        )
        return None
    return name


def compile_lookup(
    compiler: _Compiler, obj: ObjectDef, rule: RuleDef, action: ActionDef
) -> CompiledAction | None:
    where = f"rule '{rule.name}'"
    target = _target(compiler, action, where)
    if target is None:
        return None
    match = _match(compiler, obj, target, action, where)
    field = _own_link(compiler, obj, target, action, "field", where)
    if match is None or field is None:
        return None
    options = {"object": target.name, "field": field, "match": match}
    return CompiledAction("lookup", options, {}, action.pos)


def compile_update(
    compiler: _Compiler, obj: ObjectDef, rule: RuleDef, action: ActionDef
) -> CompiledAction | None:
    where = f"rule '{rule.name}'"
    target = _target(compiler, action, where)
    if target is None:
        return None
    match = _match(compiler, obj, target, action, where)
    if match is None:
        return None
    values = compiler.values(
        action.options.get("values") or {},
        obj,
        target,
        f"update {target.name} of {where}",
        action.pos,
    )
    if values is None:
        return None
    return CompiledAction("update", {"object": target.name, "match": match}, values, action.pos)


def compile_create_options(
    compiler: _Compiler, obj: ObjectDef, target: ObjectDef, action: ActionDef, where: str
) -> tuple[dict[str, Any], ObjectDef] | None:
    """`save_as` and `for_each` of a create; returns the options and the object the
    values' expressions are computed on (the related record with for_each)."""
    options: dict[str, Any] = {"object": target.name}
    source = obj
    if "for_each" in action.options:
        name = str(action.options["for_each"])
        f = obj.fields.get(name)
        if f is None or f.kind not in (HAS_MANY, MANY_TO_MANY):
            compiler.error(
                "M082",
                f"for_each of create in {where} must be a has_many or many_to_many of "
                f"{obj.name} ('{name}' is not one)",
                action.pos,
                did_you_mean(
                    name,
                    [n for n, g in obj.fields.items() if g.kind in (HAS_MANY, MANY_TO_MANY)],
                ),
            )
            return None
        options["for_each"] = name
        source = compiler.model[f.target or ""]
    if "save_as" in action.options:
        if "for_each" in options:
            compiler.error(
                "M082",
                f"create in {where} cannot keep several new records in one link",
                action.pos,
                "use save_as or for_each, not both",
            )
            return None
        field = _own_link(compiler, obj, target, action, "save_as", where)
        if field is None:
            return None
        options["save_as"] = field
    unknown = sorted(set(action.options) - {"object", "values", "save_as", "for_each"})
    if unknown:
        compiler.error(
            "M082",
            f"create in {where} has unknown setting '{unknown[0]}'",
            action.pos,
            did_you_mean(unknown[0], ["object", "values", "save_as", "for_each"]),
        )
        return None
    return options, source


# -- running ------------------------------------------------------------------------------


def _matching_ids(ctx: ActionContext, limit: int | None) -> list[int]:
    options = ctx.action.options
    target = ctx.records.model[str(options["object"])]
    table = ctx.records.storage.table(target.name)
    clauses: list[Any] = [table.c.deleted_at.is_(None)]
    for name, value in options["match"].items():
        wanted = plain(ctx.value(value))
        if wanted is None or wanted == "":
            return []  # an empty value matches nothing
        column = table.c.id if name == "id" else table.c[column_name(target.fields[name])]
        clauses.append(column == wanted)
    if target.name == ctx.object and ctx.record.get("id") is not None:
        clauses.append(table.c.id != int(ctx.record["id"]))  # never itself
    stmt = sa.select(table.c.id).where(*clauses).order_by(table.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(i) for i in ctx.conn.execute(stmt).scalars()]


def run_lookup(ctx: ActionContext) -> None:
    found = _matching_ids(ctx, 1)
    value = found[0] if found else None
    field = str(ctx.action.options["field"])
    if plain(ctx.record.get(field)) != value:
        ctx.records.update(
            ctx.object, int(ctx.record["id"]), {field: value}, ctx.actor, conn=ctx.conn
        )


def run_update(ctx: ActionContext) -> None:
    values = {k: ctx.value(v) for k, v in ctx.action.values.items()}
    target = str(ctx.action.options["object"])
    for ident in _matching_ids(ctx, None):
        ctx.records.update(target, ident, values, ctx.actor, conn=ctx.conn)


def run_create(ctx: ActionContext) -> None:
    options = ctx.action.options
    target = str(options["object"])
    relation = options.get("for_each")
    if relation is None:
        values = {k: ctx.value(v) for k, v in ctx.action.values.items()}
        created = ctx.records.create(target, values, ctx.actor, conn=ctx.conn)
        if options.get("save_as"):
            ctx.records.update(
                ctx.object,
                int(ctx.record["id"]),
                {str(options["save_as"]): created.id},
                ctx.actor,
                conn=ctx.conn,
            )
        return
    related, _ = ctx.records.reader.related(
        ctx.conn, ctx.object, int(ctx.record["id"]), str(relation), limit=0
    )
    child_object = ctx.records.model[ctx.object].fields[str(relation)].target or ""
    children = ctx.records.reader.get_many(ctx.conn, child_object, [r.id for r in related])
    for child in children:
        each = dataclasses.replace(
            ctx, object=child_object, record={k: plain(v) for k, v in child.items()}
        )
        values = {k: each.value(v) for k, v in ctx.action.values.items()}
        ctx.records.create(target, values, ctx.actor, conn=ctx.conn)


def writes_own_record(action: CompiledAction) -> bool:
    """Whether an action changes the record that fired the rule (later actions of the
    same rule then see the new values)."""
    return action.kind in ("set", "lookup") or bool(action.options.get("save_as"))
