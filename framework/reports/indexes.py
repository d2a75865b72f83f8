"""The index a report needs to stay fast on a big table, said as the YAML to declare.

A report reads every live record of its source that its filters keep. An index holding
what it groups by and what it measures (`include:`), on live records only (`live:
true`), lets the database read that narrow index instead of the wide table; on SQLite it
also spares sorting every record (storage/reporting.py groups in two stages over it).
`ficha report NAME --index` prints it; the admin decides whether a report is worth an
index (every index costs a little on each save).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from framework.expressions import binding as b
from framework.reports.compile import Report
from modeler.schema import IndexDef, Model


@dataclass(frozen=True)
class IndexAdvice:
    object: str
    file: str  # where the object is declared
    fields: tuple[str, ...]  # what the report groups by
    include: tuple[str, ...]  # what else it reads: measures, conditions, filters
    served_by: IndexDef | None  # an index already declared that holds all of it

    @property
    def yaml(self) -> str:
        entry = f"{{fields: [{', '.join(self.fields)}]"
        if self.include:
            entry += f", include: [{', '.join(self.include)}]"
        return f"indexes:\n  - {entry}, live: true}}"


def _plain(expression: b.Bound, source: str) -> str | None:
    """The field a group is of, when it is a field of the source itself."""
    if (
        isinstance(expression, b.BField)
        and not expression.links
        and expression.objects == (source,)
    ):
        return expression.name
    return None


def advise(report: Report, model: Model) -> IndexAdvice | None:
    """The index for `report`, or None when no index of its source can hold what it reads
    (it follows a link, or groups by a computed value)."""
    if report.source not in model:
        return None
    fields: list[str] = []
    for dim in (*report.rows, *report.columns):
        name = _plain(dim.expression.bound, report.source)
        if name is None:
            return None
        if name not in fields:
            fields.append(name)
    if any(obj != report.source for obj, _ in report.reads):
        return None
    obj = model[report.source]
    include = sorted(name for _, name in report.reads if name not in fields and name != "id")
    held = _served(obj.indexes, fields, include)
    return IndexAdvice(obj.name, obj.pos.file, tuple(fields), tuple(include), held)


def _served(indexes: Iterable[IndexDef], fields: list[str], include: list[str]) -> IndexDef | None:
    for index in indexes:
        if not index.live or index.unique:
            continue
        if set(index.columns[: len(fields)]) == set(fields) and set(include) <= set(index.columns):
            return index
    return None
