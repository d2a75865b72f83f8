"""Planning type changes: which conversion each changed field needs, how many live
values would not convert (with examples), and the steps that convert and convert back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from modeler.fieldtypes import LINK, MANY_TO_MANY
from storage import conversions as conv
from storage.evolution import FieldDiff, field_diffs, type_changed
from storage.steps import CONVERT, PlanState, Step, call, old_column, plural
from storage.tables import column_name, short_name


@dataclass
class Conversion:
    diff: FieldDiff
    how: str
    live_table: str
    live_column: str | None  # None when the old field was a many_to_many
    compare_column: str | None  # the new column under the live table's name
    column: str | None  # the old column once renames ran (what the step converts)
    final: str | None  # the new column (None when the new field is a many_to_many)
    params: dict[str, Any] = field(default_factory=dict)


def _shape(f: Any) -> str:
    """A field's type as a plan names it: `string (255 characters)` when only the size
    changes tells more than `string to string`."""

    def get(key: str) -> Any:
        return f.get(key) if isinstance(f, dict) else getattr(f, key, None)

    kind = get("type")
    if kind == "string":
        return f"string ({get('max_length') or 255} characters)"
    if kind in ("decimal", "money", "percent") and get("precision"):
        return f"{kind} ({get('precision')} digits, {get('scale') or 0} decimals)"
    return str(kind)


class ConversionPlanning(PlanState):
    def _conversions(self) -> list[Conversion]:
        found = []
        for diff in field_diffs(self.model, self.old, self.renames, self.new):
            if diff.old is None or not type_changed(diff, self.renames):
                continue
            kind = conv.classify(diff.old, diff.new)
            label = f"{diff.label} from {_shape(diff.old)} to {_shape(diff.field)}"
            if kind.how is None:
                self.add(
                    Step(
                        f"change {label}",
                        "change_type",
                        phase=CONVERT,
                        refused=kind.why,
                        hint=f"put back 'type: {diff.old.get('type')}', or add a new "
                        "field, copy the values, and remove the old one",
                    )
                )
                continue
            found.append(self._conversion(diff, kind.how))
        return found

    def _conversion(self, diff: FieldDiff, how: str) -> Conversion:
        assert diff.old is not None
        obj, f = diff.obj, diff.field
        live_table = self.renames.old_object(obj.name)
        old_name = self.renames.old_field(obj.name, f.name)
        old_kind = diff.old.get("kind")
        live_column = None if old_kind == MANY_TO_MANY else old_column(diff.old, old_name)
        after_rename = (
            None if old_kind == MANY_TO_MANY else (f"{f.name}_id" if old_kind == LINK else f.name)
        )
        compare_column = (
            None if f.kind == MANY_TO_MANY else (f"{old_name}_id" if f.kind == LINK else old_name)
        )
        final = None if f.kind == MANY_TO_MANY else column_name(f)
        params: dict[str, Any] = {"source": diff.old.get("type")}
        if f.type in ("string", "text"):
            params["max_length"] = f.max_length or (255 if f.type == "string" else None)
        if f.type in conv.NUMERIC:
            params["precision"] = f.precision or 18
            params["scale"] = f.scale if f.scale is not None else conv.DEFAULT_SCALE[f.type]
        if f.values:
            params["codes"] = [v.code for v in f.values]
            params["labels"] = {v.code: v.label for v in f.values}
        if how in ("match", "relink"):
            params["target"] = f.target
            params["match"] = self._match_field(f)
        if how in ("relink", "title"):
            old_target = diff.old.get("target") or ""
            params["old_target"] = self.names.table(old_target)
            params["match"] = params.get("match") or self._match_field(
                f, self.old.get(self.renames.old_object(old_target), {})
            )
        if how == "pairs":
            link = self.target.links[(obj.name, f.name)]
            reverse = self.target.reversed_links[(obj.name, f.name)]
            params.update(
                link_table=link.name,
                this="target_id" if reverse else "source_id",
                other="source_id" if reverse else "target_id",
            )
        if how == "single_pair":
            params.update(
                link_table=self._live_link_table(live_table, old_name),
                this="source_id",
                other="target_id",
            )
        return Conversion(
            diff,
            how,
            live_table,
            live_column,
            compare_column,
            after_rename,
            final,
            params,
        )

    def _live_link_table(self, table: str, field_name: str) -> str:
        return short_name(f"{table}__{field_name}")

    def _match_field(self, f: Any, old_target: Mapping[str, Any] | None = None) -> str:
        match = f.convert.get("match")
        if match:
            return str(match)
        target = self.model.objects.get(f.target or "")
        return target.title_field if target is not None else "id"

    def _convert(self, c: Conversion) -> None:
        diff = c.diff
        assert diff.old is not None
        f = diff.field
        mapping = dict(f.convert.get("map", {}))
        if f.renamed_values and c.how in ("choice", "multichoice"):
            for old_code, new_code in f.renamed_values.items():
                mapping.setdefault(old_code, [new_code] if c.how == "multichoice" else new_code)
        label = f"{diff.label} from {_shape(diff.old)} to {_shape(f)}"
        notes: list[str] = []
        failures, examples = self._failures(c, mapping)
        coerce = bool(failures) and self.options.coerce_null
        step_kwargs: dict[str, Any] = {}
        if failures and c.how == "single_pair":
            ids = ", ".join(str(ident) for ident, _ in examples)
            notes.append(f"{plural(failures, 'record')} link to several, e.g. ids {ids}")
            if not self.options.coerce_null:
                step_kwargs["refused"] = (
                    f"{plural(failures, 'record')} of {diff.obj.name} link to several "
                    f"records through {f.name} (ids {ids}); a link holds one"
                )
                step_kwargs["hint"] = (
                    "keep one link on each (in the screens), or run ficha migrate --coerce "
                    "null to empty theirs"
                )
            elif not self.options.allow_data_loss:
                step_kwargs["refused"] = (
                    f"--coerce null would empty {f.name} on {plural(failures, 'record')}"
                )
                step_kwargs["hint"] = "add --allow-data-loss to accept that"
        elif failures:
            shown = conv.describe_examples(examples)
            notes.append(f"{failures:,} value(s) do not convert, e.g. {shown}")
            if not self.options.coerce_null:
                step_kwargs["refused"] = (
                    f"{failures:,} value(s) of {diff.label} do not convert to {f.type}, "
                    f"e.g. {shown}"
                )
                step_kwargs["hint"] = (
                    f"add convert: {{map: {{{_example_key(examples)}: <new value>}}}} under "
                    f"{f.name} in the YAML, or run ficha migrate --coerce null to empty them"
                )
            elif not self.options.allow_data_loss:
                step_kwargs["refused"] = (
                    f"--coerce null would empty {failures:,} value(s) of {diff.label}"
                )
                step_kwargs["hint"] = (
                    "add --allow-data-loss to accept that (a backup is written first)"
                )
        if mapping:
            notes.append(f"{len(mapping)} value(s) mapped by convert: map")
        target_table = diff.obj.name
        indexes = self._indexes_on(target_table, c.final) if c.final else []
        fk = self._foreign_key(target_table, c.final) if c.final else None
        code = call(
            "convert_column",
            target_table,
            c.column or "",
            how=c.how,
            to=f.type,
            params=c.params,
            new_name=c.final,
            mapping=mapping,
            coerce_null=coerce,
            foreign_key=fk,
            indexes=indexes,
        )
        undo, why = self._undo_conversion(c, target_table)
        if coerce:
            why = (
                f"{plural(failures, 'value')} of {diff.label} were emptied by --coerce null (in "
                "the backup taken before)"
            )
        self.add(
            Step(
                f"change {label}"
                + (
                    " (values converted in SQL)"
                    if c.how != "python"
                    else " (values converted in Python)"
                ),
                "change_type",
                phase=CONVERT,
                code=code,
                undo=undo,
                irreversible=why,
                destructive=(
                    f"{plural(failures, 'value')} of {diff.label} that do not convert"
                    if coerce
                    else None
                ),
                backup=(target_table,) if coerce or c.how in ("pairs", "single_pair") else (),
                notes=tuple(notes),
                subject=(c.live_table, c.live_column or ""),
                **step_kwargs,
            )
        )

    def _failures(self, c: Conversion, mapping: Mapping[str, Any]) -> tuple[int, list[Any]]:
        """How many live values would not convert, and a few of them (id, value)."""
        if (c.live_column is None and c.how != "single_pair") or not self._has_table(c.live_table):
            return 0, []
        if c.how == "pairs":
            return 0, []
        column = c.live_column or "id"
        params = dict(c.params)
        if c.how in ("relink", "title") and "old_target" in params:
            params["old_target"] = self.renames.old_object(params["old_target"])
        if c.how == "single_pair":
            params["link_table"] = c.params["link_table"]
        t = sa.table(c.live_table, sa.column("id"), sa.column(column))
        if c.how == "python":
            return self._python_failures(c, t, column, mapping)
        where = conv.failing(self.backend, c.how, t, column, params, list(mapping))
        count = self.conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar()
        examples = self.conn.execute(
            sa.select(t.c.id, t.c[column]).where(where).order_by(t.c.id).limit(conv.EXAMPLES)
        ).all()
        return int(count or 0), [tuple(r) for r in examples]

    def _python_failures(
        self, c: Conversion, t: Any, column: str, mapping: Mapping[str, Any]
    ) -> tuple[int, list[Any]]:
        convert = conv.python_converter(c.diff.field.type, c.params)
        count = 0
        examples: list[Any] = []
        rows = self.conn.execution_options(stream_results=True, yield_per=5000).execute(
            sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None)).order_by(t.c.id)
        )
        for ident, value in rows:
            if str(value).strip() in mapping:
                continue
            try:
                convert(value)
            except ValueError:
                count += 1
                if len(examples) < conv.EXAMPLES:
                    examples.append((ident, value))
        return count, examples

    def _undo_conversion(self, c: Conversion, table: str) -> tuple[tuple[str, ...], str | None]:
        diff = c.diff
        assert diff.old is not None
        back = conv.classify(diff.new, diff.old)
        if back.how is None or c.how in ("pairs", "single_pair"):
            reason = back.why or "a rollback cannot turn the links back"
            return (), f"{diff.label} cannot be converted back to {diff.old.get('type')}: {reason}"
        params: dict[str, Any] = {"source": diff.field.type}
        old = diff.old
        if old.get("type") in ("string", "text"):
            params["max_length"] = old.get("max_length") or (
                255 if old.get("type") == "string" else None
            )
        if old.get("type") in conv.NUMERIC:
            params["precision"] = old.get("precision") or 18
            params["scale"] = (
                old.get("scale")
                if old.get("scale") is not None
                else (conv.DEFAULT_SCALE[old["type"]])
            )
        if old.get("values"):
            params["codes"] = list(old["values"])
            params["labels"] = {code: code for code in old["values"]}
        if back.how in ("relink", "title", "match"):
            params["target"] = old.get("target")
            params["old_target"] = diff.field.target
            params["match"] = c.params.get("match")
        back_column = c.column if c.column else None
        return call(
            "convert_column",
            table,
            c.final or "",
            how=back.how,
            to=old.get("type"),
            params=params,
            new_name=back_column,
        ), None

    def _indexes_on(self, table: str, column: str) -> list[tuple[Any, ...]]:
        """The indexes and unique constraints the converted column must get back, as
        (name, columns, unique[, condition of a partial index])."""
        t = self.target.metadata.tables[table]
        found: list[tuple[Any, ...]] = []
        for i in t.indexes:
            if column not in i.columns:
                continue
            where = i.dialect_kwargs.get("sqlite_where")
            if where is None:
                where = i.dialect_kwargs.get("postgresql_where")
            entry: tuple[Any, ...] = (str(i.name), list(i.columns.keys()), bool(i.unique))
            if where is not None:
                entry += (str(where.compile(compile_kwargs={"literal_binds": True})),)
            found.append(entry)
        found += [
            (str(u.name), [col.name for col in u.columns], True)
            for u in t.constraints
            if isinstance(u, sa.UniqueConstraint) and column in u.columns
        ]
        return sorted(found)

    def _foreign_key(self, table: str, column: str) -> tuple[str, str, str] | None:
        col = self.target.metadata.tables[table].c[column]
        fk = next(iter(col.foreign_keys), None)
        if fk is None or fk.constraint is None:
            return None
        return (str(fk.constraint.name), fk.column.table.name, fk.ondelete or "NO ACTION")


def _example_key(examples: list[Any]) -> str:
    if not examples:
        return "<old value>"
    text = str(examples[0][1]).strip()
    return f"'{text}'" if any(ch in text for ch in ":{}[],'\"#") or not text else text
