"""A report's result as a table (headers and rows), as CSV text or an XLSX workbook, and
each figure formatted as a person reads it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from framework.reports.compile import Measure
from framework.reports.query import ReportResult


def format_value(measure: Measure, value: Any) -> str:
    if value is None:
        return "—"
    spec = measure.spec
    if spec.format == "percent":
        return f"{float(value) * 100:.{1 if spec.decimals is None else spec.decimals}f} %"
    if isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, float | Decimal):
        default = 0 if spec.func == "count" else 2
        text = f"{float(value):,.{default if spec.decimals is None else spec.decimals}f}"
    else:
        text = str(value)
    return f"{text} s" if spec.format == "seconds" else text


@dataclass
class Cell:
    text: str
    value: Any = None  # the number behind a figure (exports write it as a number)
    measure: str | None = None
    group: int | None = None  # index of the group in result.groups (for drill-down)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]


def table(result: ReportResult) -> Table:
    """Rows by measures; with a pivot, one column per column key and measure."""
    report = result.report
    measures = result.measures
    headers = [d.label for d in report.rows]
    if not result.pivot:
        headers += [m.spec.label for m in measures]
        rows = []
        for i, g in enumerate(result.groups):
            cells = [Cell(label, group=i) for label in g.labels]
            cells += [
                Cell(format_value(m, g.values[m.name]), g.values[m.name], m.name, i)
                for m in measures
            ]
            rows.append(cells)
        return Table(headers, rows)
    many = len(measures) > 1
    for _, label in result.column_keys:
        headers += [f"{label} · {m.spec.label}" if many else label for m in measures]
    by_row: dict[tuple[Any, ...], dict[tuple[Any, ...], int]] = {}
    for i, g in enumerate(result.groups):
        by_row.setdefault(g.keys, {})[g.column_keys] = i
    body = []
    for keys, cells_at in by_row.items():
        first = result.groups[next(iter(cells_at.values()))]
        cells = [Cell(label, group=next(iter(cells_at.values()))) for label in first.labels]
        del keys
        for column, _ in result.column_keys:
            index = cells_at.get(column)
            for m in measures:
                if index is None:
                    cells.append(Cell("—", None, m.name))
                else:
                    value = result.groups[index].values[m.name]
                    cells.append(Cell(format_value(m, value), value, m.name, index))
        body.append(cells)
    return Table(headers, body)


def _plain(cell: Cell) -> Any:
    if cell.measure is None:
        return cell.text
    value = cell.value
    if isinstance(value, Decimal):
        return float(value)
    return value


def to_csv(result: ReportResult) -> str:
    found = table(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(found.headers)
    for row in found.rows:
        writer.writerow(["" if _plain(c) is None else _plain(c) for c in row])
    return out.getvalue()


def to_xlsx(result: ReportResult) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    found = table(result)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = result.report.spec.label[:31]
    sheet.append(found.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in found.rows:
        sheet.append([_plain(c) for c in row])
    for i, m in enumerate(result.measures):
        if m.spec.format == "percent" and not result.pivot:
            column = sheet.cell(row=1, column=len(result.report.rows) + i + 1).column_letter
            for cell in sheet[column][1:]:
                cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
