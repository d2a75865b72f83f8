"""A list page's rows, rendered in Python instead of one template include per cell.

starlette-admin renders each row with `_list_row.html`, which includes one template per
cell and the row-actions template per row: on a 25-row page that is a few hundred
template contexts, most of a list page's time. Here the row's frame (the checkbox, the
row actions, the clickable link) is rendered once per page by starlette-admin's own
template, with a placeholder key, and the cells of the common field types are written
straight in Python, with the same markup as their templates. A page with a field this
module does not know (a plugin's template, a JSON or file column, inline editing) is
rendered by the templates as before: `render_row` answers None and `ficha_list.html`
falls back to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.requests import Request

#: stands for the row's key in the frame rendered once per page: letters only, so it
#: survives HTML escaping and URL encoding unchanged
KEY = "fichaRowKeyPlaceholder"
CELLS_COLUMN = "ficha-cells-placeholder"
CELLS_MARK = "@@ficha-cells@@"
NULL_TEMPLATE = "fields/detail/_null.html"
EMPTY_TEMPLATE = "fields/detail/_empty.html"

Cell = Callable[[Any], str]


def _text(data: Any) -> str:  # fields/list/text.html
    text = escape(str(data))
    return (
        '<span class="align-middle d-inline-block text-truncate inline-edit-value" '
        'data-bs-toggle="tooltip" data-bs-placement="bottom" '
        f'title="{text}" style="max-width: 30em">{text}</span>'
    )


def _anchor(prefix: str, extra: str) -> Cell:
    """fields/list/email.html and url.html (one value, no copy button): a link in a
    truncated span whose tooltip is the text."""

    def cell(data: Any) -> str:
        text = escape(data)
        return (
            '<span class="align-middle d-inline-block text-truncate inline-edit-value" '
            'data-bs-toggle="tooltip" data-bs-placement="bottom" '
            f'title="{text}" style="max-width: 30em">'
            f'<a href="{prefix}{text}"{extra}>{text}</a></span>'
        )

    return cell


def _boolean(true_icon: str, false_icon: str) -> Cell:  # fields/list/boolean.html
    def cell(data: Any) -> str:
        mark = (
            f'<span class="text-success inline-edit-value"><i class="{true_icon} fa-lg"></i></span>'
            if data
            else f'<span class="text-danger inline-edit-value"><i class="{false_icon} fa-lg">'
            "</i></span>"
        )
        return f'<div class="d-flex"><div class="p-1">{mark}</div></div>'

    return cell


def _relation(request: Request, key: str, pk_attr: str, multiple: bool) -> Cell:
    """app_builder/templates/fields/list/relation.html: the linked titles as links."""
    from app_builder.site import detail_url

    def cell(data: Any) -> str:
        links = ", ".join(
            f'<a href="{escape(detail_url(request, key, v[pk_attr]))}">'
            f"{escape(v['_meta']['repr'])}</a>"
            for v in (data if multiple else [data])
        )
        return (
            '<span class="align-middle d-inline-block text-truncate" style="max-width: 30em">'
            f"{links}</span>"
        )

    return cell


def cell_for(field: Any, request: Request, env: Environment) -> Cell | None:
    """The Python writer of a field's list cell, or None when only its template knows."""
    template = field.list_template
    plain = not getattr(field, "copy_to_clipboard", False)
    multiple = bool(getattr(field, "multiple", False))
    if template == "fields/list/text.html" and not multiple:
        return _text
    if template == "fields/list/email.html" and plain and not multiple:
        return _anchor("mailto:", "")
    if template == "fields/list/url.html" and plain and not multiple:
        return _anchor("", ' target="_blank"')
    if template == "fields/list/boolean.html" and not multiple:
        icon: Callable[[str], str] = env.globals["icon"]  # type: ignore[assignment]
        return _boolean(icon("field.boolean_true"), icon("field.boolean_false"))
    if template == "fields/list/relation.html":
        foreign = env.filters["to_view"](field.key)
        return _relation(request, foreign.key, foreign.pk_attr, multiple)
    return None


@dataclass(frozen=True)
class Column:
    name: str
    cell: Cell


class PageRows:
    """How every row of one list page is written: the frame, then a cell per column."""

    def __init__(self, before: str, after: str, columns: Sequence[Column], actions: Any) -> None:
        self.before = before
        self.after = after
        self.columns = columns
        self.actions = actions  # the row actions the frame was rendered with
        self.null = ""
        self.empty = ""

    def render(self, row: dict[str, Any], pk: Any) -> Markup:
        key = str(pk)
        parts = [self.before.replace(KEY, key)]
        for column in self.columns:
            data = row.get(column.name)
            if data is None:
                inner = self.null
            elif isinstance(data, list | tuple) and not data:
                inner = self.empty
            else:
                inner = column.cell(data)
            parts.append(f'<td data-column="{column.name}">{inner}</td>')
        parts.append(self.after.replace(KEY, key))
        return Markup("".join(parts))  # noqa: S704 (every value above was escaped)


_CELLS = re.compile(
    r'<td data-column="' + CELLS_COLUMN + r'"\s*>\s*' + re.escape(CELLS_MARK) + r"\s*</td>"
)


def page_rows(
    env: Environment,
    request: Request,
    view: Any,
    fields: Sequence[Any],
    row_actions: list[Any],
    actions: Any,
) -> PageRows | None:
    """The writer of this page's rows, or None when a template must render them."""
    if view.inline_editable_fields:
        return None
    columns = []
    for field in fields:
        if field.null_template != NULL_TEMPLATE or field.empty_template != EMPTY_TEMPLATE:
            return None
        cell = cell_for(field, request, env)
        if cell is None:
            return None
        columns.append(Column(escape(field.name), cell))
    frame = env.get_template("@starlette-admin/_list_row.html").render(
        request=request,
        view=view,
        fields=[_CellsMark()],
        row={view.pk_attr: KEY, CELLS_COLUMN: CELLS_MARK},
        row_actions={KEY: row_actions},
        _actions=actions,
    )
    split = _CELLS.split(frame)
    if len(split) != 2:  # the library's row markup changed: let it render the rows
        return None
    rows = PageRows(split[0], split[1], columns, row_actions)
    rows.null = env.get_template(NULL_TEMPLATE).render(request=request)
    rows.empty = env.get_template(EMPTY_TEMPLATE).render(request=request)
    return rows


class _CellsMark:
    """A column standing for all the real ones in the frame: its cell is a mark the
    frame is split at."""

    name = CELLS_COLUMN
    null_template = "fields/list/_ficha_cells_mark.html"
    empty_template = null_template
    list_template = null_template


def render_row(
    env: Environment,
    request: Request,
    view: Any,
    fields: Sequence[Any],
    row: dict[str, Any],
    row_actions: dict[Any, Any],
    actions: Any,
) -> Markup | None:
    """One row of a list page, or None: the template renders it (ficha_list.html)."""
    pk = row[view.pk_attr]
    mine = row_actions.get(pk, [])
    cache: dict[Any, PageRows | None] = request.state.__dict__.setdefault("_ficha_rows", {})
    key = (view.key, id(fields))
    if key not in cache:
        cache[key] = page_rows(env, request, view, fields, mine, actions)
    rows = cache[key]
    if rows is None or rows.actions != mine:
        return None
    return rows.render(row, pk)
