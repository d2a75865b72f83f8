"""The pages an end user lives in, beyond the generated screens, as the project's packs
and the project itself declare them in pages/*.yaml (framework/pages): the customer file
(ficha) with the "Who is this customer?" search, boards (the pipeline kanban), agendas
and work queues. A built-in plugin: registered like any outside plugin, through
`ficha_views`; a project declaring no pages gets none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins import hookimpl

if TYPE_CHECKING:
    from starlette_admin.views import BaseView

    from framework.app import Ficha


@hookimpl
def ficha_startup(ficha: Ficha) -> None:
    from framework.pages import pages_of

    pages_of(ficha)  # a problem in pages/ stops the load, like one in objects/


@hookimpl
def ficha_views(ficha: Ficha) -> list[BaseView]:
    from app_builder.pages.agenda import AgendaView
    from app_builder.pages.board import BoardView
    from app_builder.pages.ficha import FichaView
    from app_builder.pages.queues import QueuesView
    from framework.pages import pages_of
    from framework.pages.spec import Agenda, Board, CustomerFile, WorkQueues

    pages = pages_of(ficha)
    file = pages.customer_file
    file_object = file.object if file is not None else None
    views: dict[str, Any] = {}
    for page in pages:
        if isinstance(page, CustomerFile):
            views[page.name] = FichaView(ficha, page, views)
        elif isinstance(page, Board):
            views[page.name] = BoardView(ficha, page)
        elif isinstance(page, Agenda):
            views[page.name] = AgendaView(ficha, page, file_object)
        elif isinstance(page, WorkQueues):
            views[page.name] = QueuesView(ficha, page, file_object)
    return list(views.values())
