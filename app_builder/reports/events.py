"""The server-sent events of a monitor page, and the pages' script."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from app_builder.reports.live import KEEPALIVE_SECONDS, hub_of
from app_builder.reports.pages import monitor_refusal, who_of
from framework.reports import catalog_of

if TYPE_CHECKING:
    from framework.app import Ficha

SCRIPT = Path(__file__).parent / "static" / "ficha-reports.js"


async def script(request: Request) -> Response:
    return FileResponse(SCRIPT, media_type="text/javascript")


def _current(request: Request, loaded: Ficha) -> Ficha:
    """The project being served now (a reload may have replaced the one loaded first)."""
    state = getattr(request.app.state, "ficha_state", None)
    return state["ficha"] if state else loaded


def monitor_events(loaded: Ficha) -> Callable[[Request], Awaitable[Response]]:
    async def events(request: Request) -> Response:
        ficha = _current(request, loaded)
        if getattr(request.state, "actor", None) is None:
            return PlainTextResponse("sign in first", status_code=401)
        monitor = catalog_of(ficha).monitors.get(request.path_params["name"])
        if monitor is None:
            return PlainTextResponse("there is no such monitor", status_code=404)
        who = who_of(ficha, request)
        why = monitor_refusal(ficha, who, monitor)
        if why is not None:
            return PlainTextResponse(why, status_code=403)
        hub = hub_of(ficha)
        stream, queue = await hub.open(monitor, who)

        async def body() -> AsyncIterator[str]:
            ticker = None
            if monitor.spec.refresh_seconds:
                ticker = asyncio.get_running_loop().create_task(
                    hub.periodic(stream, monitor.spec.refresh_seconds)
                )
            try:
                yield f"retry: 2000\ndata: {stream.payload}\n\n"
                while True:
                    try:
                        payload = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": still here\n\n"
                        continue
                    yield f"data: {payload}\n\n"
            finally:
                hub.close(stream, queue)
                if ticker is not None:
                    ticker.cancel()
                    with contextlib.suppress(BaseException):
                        await ticker

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return events
