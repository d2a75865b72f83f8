"""The side menu, rendered once per kind of page instead of on every request.

The menu a page shows depends only on which entries the user may open and which one is
active; starlette-admin renders it anew each time, looking up a URL per entry. Here the
rendered menu is kept per (address, what is open to the user, what is active), inside
the Admin it belongs to, so a reloaded model starts with an empty cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

KEEP = 256  # kinds of menus kept (roles x pages x host names): bounded against odd Hosts


def _state(request: Request, views: Sequence[Any]) -> tuple[Any, ...]:
    entries = []
    for view in views:
        children = getattr(view, "views", None)
        if children is not None:  # a dropdown: its entries decide what it shows
            entries.append(_state(request, children))
        else:
            entries.append((view.is_accessible(request), view.is_active(request)))
    return tuple(entries)


class MenuCache:
    def __init__(self) -> None:
        self.menus: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()

    def key(self, request: Request, views: Sequence[Any]) -> tuple[Any, ...]:
        return (str(request.base_url), _state(request, views))

    def get(self, key: tuple[Any, ...]) -> Markup | None:
        menu = self.menus.get(key)
        if menu is not None:
            self.menus.move_to_end(key)
        return menu

    def keep(self, key: tuple[Any, ...], menu: str) -> Markup:
        self.menus[key] = Markup(menu)  # noqa: S704 (the template's own output)
        while len(self.menus) > KEEP:
            self.menus.popitem(last=False)
        return self.menus[key]
