"""A monitor's figures and lists, computed for one audience (viewers who see the same
records and fields), as a JSON-ready payload. The web layer pushes it to every open page
of that audience; it is computed once per change burst, not once per viewer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from framework.permissions import Who
from framework.reports.access import refusal, user_of
from framework.reports.compile import Monitor, Report
from framework.reports.export import format_value
from framework.reports.query import ReportQuery
from framework.reports.spec import ReportDef
from storage.queries import LinkRef, Sort

if TYPE_CHECKING:
    from framework.app import Ficha


def audience(ficha: Ficha, who: Who, monitor: Monitor) -> tuple[Any, ...]:
    """Viewers with the same key see the same payload: everyone whose role reads all
    records and hides nothing shares one; others get their role's (and own) view."""
    permissions = ficha.permissions
    if permissions.trusted(who):
        return ("all",)
    scoped = any(permissions.scope(who, obj, "read") is not None for obj in monitor.objects)
    hidden = any(permissions.hidden(who, obj) for obj in monitor.objects)
    role = who.role.name if who.role is not None else ""
    if not scoped and not hidden:
        return ("role", role)
    return ("user", role, who.actor.user_id)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, LinkRef):
        return value.title
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def compute(ficha: Ficha, who: Who, monitor: Monitor) -> dict[str, Any]:
    query = ReportQuery(ficha.storage)
    user = user_of(who)
    tiles: dict[str, Any] = {}
    for tile in monitor.tiles:
        if refusal(ficha, who, (), tile.reads, {tile.spec.source}) is not None:
            continue
        spec = ReportDef(tile.spec.name, tile.spec.label, tile.spec.source, tile.spec.pos)
        report = Report(spec, {}, tile.filters, (), (), (tile.measure,), tile.reads)
        scope = ficha.permissions.scope(who, tile.spec.source, "read")
        result = query.run(report, {}, scope=scope, user=user)
        value = result.groups[0].values[tile.measure.name] if result.groups else None
        tiles[tile.spec.name] = {
            "label": tile.spec.label,
            "text": format_value(tile.measure, value),
            "value": None if value is None else float(value),
        }
    lists: dict[str, Any] = {}
    for item in monitor.lists:
        if refusal(ficha, who, (), item.reads, {item.spec.source}) is not None:
            continue
        obj = ficha.model[item.spec.source]
        table = ficha.storage.table(obj.name)
        where: list[Any] = []
        scope = ficha.permissions.scope(who, obj.name, "read")
        if scope is not None:
            where.append(scope)
        from framework.expressions import Context

        ctx = Context(user=user)
        where += [f.expression.where(ficha.storage, table, ctx) for f in item.filters]
        with ficha.storage.read() as conn:
            found = ficha.reader.list(
                conn,
                obj.name,
                where=where,
                sort=[Sort(s.key, s.descending) for s in item.spec.sort],
                limit=item.spec.limit,
            )
        labels = [obj.fields[c].label if c in obj.fields else c for c in item.spec.columns]
        lists[item.spec.name] = {
            "label": item.spec.label,
            "object": obj.name,
            "columns": labels,
            "rows": [
                {"id": r.id, "cells": [_cell(r.get(c)) for c in item.spec.columns]} for r in found
            ],
        }
    return {"tiles": tiles, "lists": lists}
