"""Planning what happens to the data of fields that keep their type: new fields that
existing records must fill, fields that become required, choice codes renamed or
removed; and the full-text search structures that follow the model.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from modeler.fieldtypes import LINK
from storage.evolution import FieldDiff, field_diffs
from storage.plan_conversions import Conversion
from storage.steps import DATA, FULLTEXT, PAUSE, PlanState, Step, call, old_column, plural
from storage.tables import column_name


class DataPlanning(PlanState):
    def _field_data(self, conversions: list[Conversion]) -> None:
        converted = {c.diff.label for c in conversions}
        for obj in self.model:
            if self.renames.old_object(obj.name) not in self.old:
                continue
            for diff in field_diffs(self.model, self.old, self.renames, self.new):
                if diff.obj.name != obj.name or diff.label in converted:
                    continue
                if diff.is_new:
                    self._new_field(diff)
                else:
                    self._values(diff)
                    self._newly_required(diff)

    def _new_field(self, diff: FieldDiff) -> None:
        f = diff.field
        if f.kind not in ("column", LINK) or f.type == "autonumber":
            return
        value = f.backfill if f.backfill is not None else (f.default if f.required else None)
        if value is None:
            # counted only when it matters: adding an optional field reads no rows
            existing = self._count(self.renames.old_object(diff.obj.name)) if f.required else 0
            if existing:
                self.add(
                    Step(
                        f"add required field {diff.label}",
                        "add_column",
                        phase=DATA,
                        refused=f"{diff.label} is required, but the {plural(existing, 'record')}"
                        " that exist would have no value",
                        hint="give it 'default: <value>' (new and existing records get it), or "
                        "'backfill: <value>' (only existing records get it), or make it "
                        "optional first",
                    )
                )
            return
        if isinstance(value, str) and value.startswith("=") and value not in ("=today()", "=now()"):
            self.add(
                Step(
                    f"fill {diff.label}",
                    "backfill",
                    refused=f"the default of {diff.label} is an expression, which "
                    "existing records cannot take",
                    hint="add 'backfill: <value>'",
                )
            )
            return
        self.add(
            Step(
                f"fill {diff.label} with {value!r} on existing records",
                "backfill",
                phase=DATA,
                code=call(
                    "backfill",
                    diff.obj.name,
                    column_name(f),
                    value,
                    type_=f.type,
                    params=_type_params(f),
                ),
            )
        )

    def _newly_required(self, diff: FieldDiff) -> None:
        f = diff.field
        assert diff.old is not None
        if not f.required or diff.old.get("required", True) or f.kind not in ("column", LINK):
            return
        live = self.renames.old_object(diff.obj.name)
        empty = self._count(
            live, old_column(diff.old, self.renames.old_field(diff.obj.name, f.name)), empty=True
        )
        if not empty:
            return
        if f.backfill is not None:
            self.add(
                Step(
                    f"fill {diff.label} with {f.backfill!r} where it is empty "
                    f"({plural(empty, 'record')})",
                    "backfill",
                    phase=DATA,
                    code=call(
                        "backfill",
                        diff.obj.name,
                        column_name(f),
                        f.backfill,
                        type_=f.type,
                        params=_type_params(f),
                    ),
                )
            )
        else:
            self.add(
                Step(
                    f"{diff.label} becomes required",
                    "note",
                    notes=(
                        f"{empty:,} records have no value; they must get one when next edited "
                        "(or add 'backfill: <value>' to fill them now)",
                    ),
                )
            )

    def _values(self, diff: FieldDiff) -> None:
        f = diff.field
        assert diff.old is not None
        if f.type not in ("choice", "multichoice") or "values" not in diff.old:
            return
        old_codes = list(diff.old["values"])
        new_codes = [v.code for v in f.values]
        renamed = {o: n for o, n in f.renamed_values.items() if o in old_codes}
        removed = [c for c in old_codes if c not in new_codes and c not in renamed]
        mapped = {c: f.convert["map"][c] for c in removed if c in f.convert.get("map", {})}
        live = self.renames.old_object(diff.obj.name)
        column = old_column(diff.old, self.renames.old_field(diff.obj.name, f.name))
        in_use = self._codes_in_use(
            live, column, [c for c in removed if c not in mapped], multi=f.type == "multichoice"
        )
        mapping: dict[str, str | None] = {**renamed, **mapped}
        kwargs: dict[str, Any] = {}
        if in_use:
            listing = ", ".join(f"'{code}' ({plural(n, 'record')})" for code, n in in_use.items())
            if not self.options.coerce_null:
                kwargs = {
                    "refused": f"values of {diff.label} removed from the YAML are still "
                    f"used: {listing}",
                    "hint": f"map them to a kept value with convert: {{map: "
                    f"{{{next(iter(in_use))}: <value>}}}}, rename with renamed_values:"
                    ", or run ficha migrate --coerce null to empty them",
                }
            elif not self.options.allow_data_loss:
                kwargs = {
                    "refused": f"--coerce null would empty {listing} of {diff.label}",
                    "hint": "add --allow-data-loss to accept that",
                }
            else:
                kwargs = {"destructive": f"{listing} of {diff.label}", "backup": (live,)}
            mapping.update(dict.fromkeys(in_use))
        if not mapping:
            return
        words = ", ".join(
            f"{o} → {n}" if n is not None else f"{o} → (empty)" for o, n in mapping.items()
        )
        reverse = {n: o for o, n in mapping.items() if n is not None}
        reversible = len(reverse) == len(mapping) and not set(reverse) & set(old_codes)
        self.add(
            Step(
                f"change values of {diff.label}: {words}",
                "change_values",
                phase=DATA,
                code=call(
                    "change_values",
                    diff.obj.name,
                    column_name(f),
                    mapping,
                    multi=f.type == "multichoice",
                ),
                undo=call(
                    "change_values",
                    diff.obj.name,
                    column_name(f),
                    reverse,
                    multi=f.type == "multichoice",
                )
                if reversible
                else (),
                irreversible=None
                if reversible
                else (f"values of {diff.label} were merged or emptied"),
                **kwargs,
            )
        )

    def _codes_in_use(
        self, table: str, column: str, codes: list[str], multi: bool
    ) -> dict[str, int]:
        if not codes or not self._has_table(table):
            return {}
        t = sa.table(table, sa.column(column, sa.JSON if multi else sa.String))
        if not multi:
            rows = self.conn.execute(
                sa.select(t.c[column], sa.func.count())
                .where(t.c[column].in_(codes))
                .group_by(t.c[column])
            ).all()
            return {str(code): int(n) for code, n in rows if n}
        counts: dict[str, int] = {}
        for (values,) in self.conn.execute(sa.select(t.c[column]).where(t.c[column].is_not(None))):
            for code in set(values or []) & set(codes):
                counts[code] = counts.get(code, 0) + 1
        return counts

    # -- full-text search ---------------------------------------------------------------------

    def _fulltext(self) -> None:
        touched = self._tables_whose_search_moves()
        for live in sorted(touched):
            before = self.fulltext_now.get(live, [])
            if before:
                self.add(
                    Step(
                        f"pause the full-text search of {live} while it changes",
                        "fulltext",
                        phase=PAUSE,
                        code=call("set_fulltext", live, []),
                        undo=call("set_fulltext", live, before),
                    )
                )
        for obj in self.model:
            wanted = self.new[obj.name]["search"]
            live = self.renames.old_object(obj.name)
            before = self.fulltext_now.get(obj.name, []) if live == obj.name else []
            if live in touched and self.fulltext_now.get(live):
                before = []
            if wanted == before:
                continue
            words = (
                f"full-text search on {obj.name}: {', '.join(wanted)}"
                if wanted
                else f"remove the full-text search of {obj.name}"
            )
            self.add(
                Step(
                    words,
                    "fulltext",
                    phase=FULLTEXT,
                    code=call("set_fulltext", obj.name, wanted),
                    undo=call("set_fulltext", obj.name, before),
                )
            )

    def _tables_whose_search_moves(self) -> set[str]:
        touched = {old for old, new in self.names.tables.items() if old != new}
        for step in self.steps:
            if step.kind in ("drop_column", "rename_column", "change_type") and step.subject:
                table, column = step.subject
                if column in self.fulltext_now.get(table, []):
                    touched.add(table)
        return {t for t in touched if self.fulltext_now.get(t)}


def _type_params(f: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("max_length", "precision", "scale"):
        if getattr(f, key) is not None:
            params[key] = getattr(f, key)
    if f.values:
        params["codes"] = [v.code for v in f.values]
    return params
