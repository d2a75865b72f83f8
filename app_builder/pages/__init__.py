"""The pages an end user lives in, beyond the generated screens: the customer file (ficha)
with the "Who is this customer?" search, the pipeline kanban, the agenda and the work
queues. A built-in plugin: registered like any outside plugin, through `ficha_views`.

The pages are built on the core pack's objects (account, opportunity, activity,
work_queue …); a project without them simply does not get the pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins import hookimpl

if TYPE_CHECKING:
    from starlette_admin.views import BaseView

    from framework.app import Ficha

#: every object a page reads; all of them must be in the model for the pages to appear
NEEDED = (
    "account",
    "contact",
    "identifier",
    "opportunity",
    "activity",
    "ticket",
    "interaction",
    "alert",
    "campaign",
    "campaign_response",
    "contract",
    "asset",
    "product",
    "work_queue",
)


@hookimpl
def ficha_views(ficha: Ficha) -> list[BaseView]:
    if not all(name in ficha.model.objects for name in NEEDED):
        return []
    from app_builder.pages.agenda import AgendaView
    from app_builder.pages.board import PipelineView, TicketBoardView
    from app_builder.pages.ficha import FichaView
    from app_builder.pages.queues import QueuesView

    return [
        FichaView(ficha),
        PipelineView(ficha),
        AgendaView(ficha),
        QueuesView(ficha),
        TicketBoardView(ficha),
    ]
