"""The customer file's cells as HTML, written in Python: a value (a link when it leads to
another customer file), a badge, a row's data- attributes. The file shows a few hundred
of them; as template macros they took most of the page's rendering time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from app_builder.pages.base import Show
from framework.pages.spec import Badge, Section

#: a badge's colour → its classes, light (in a row) or strong (a state)
LIGHT = {
    "red": "bg-red-lt",
    "yellow": "bg-yellow-lt",
    "green": "bg-green-lt",
    "blue": "bg-blue-lt",
    "azure": "bg-azure-lt",
    "orange": "bg-orange-lt",
    "purple": "bg-purple-lt",
}
STRONG = {
    "red": "bg-red",
    "yellow": "bg-yellow",
    "green": "bg-green",
    "gray": "bg-secondary",
    "blue": "bg-blue",
    "azure": "bg-azure",
    "orange": "bg-orange",
    "purple": "bg-purple",
}


class Cells:
    def __init__(self, show: Show, file_object: str, ficha_url: Callable[[int], str]) -> None:
        self.show = show
        self.model = show.model
        self.file_object = file_object
        self.ficha_url = ficha_url

    def value(self, record: Any, obj: str, name: str) -> Markup:
        text = escape(self.show(record, obj, name))
        f = self.model[obj].fields.get(name)
        link = record.get(name)
        if f is not None and f.target == self.file_object and link is not None:
            return Markup('<a href="{}">{}</a>').format(self.ficha_url(link.id), text)
        return text

    def joined(self, record: Any, obj: str, names: tuple[str, ...]) -> Markup:
        """The values that are there, "a · b"."""
        shown = [self.value(record, obj, n) for n in names if record.get(n) not in (None, "", [])]
        return Markup(" · ").join(shown)

    def badge(self, badge: Badge, record: Any, obj: str, strong: bool = False) -> Markup:
        colors = STRONG if strong else LIGHT
        text = self.show(record, obj, badge.field) if badge.field else badge.label
        name = Markup(' data-badge="{}"').format(badge.name) if badge.name else Markup("")
        return Markup('<span class="badge {}"{}>{}</span>').format(
            colors.get(badge.color, ""), name, text
        )

    def badges(self, badges: list[Badge], record: Any, obj: str) -> Markup:
        return Markup(" ").join(self.badge(b, record, obj) for b in badges)

    def data(self, section: Section, record: Any) -> Markup:
        """data-<field>="<stored value>" of the row's field badges (for styles and tests)."""
        parts = []
        for badge in section.badges:
            if badge.field:
                value = record.get(badge.field)
                parts.append(
                    Markup(' data-{}="{}"').format(badge.field, "" if value is None else value)
                )
        return Markup("").join(parts)
