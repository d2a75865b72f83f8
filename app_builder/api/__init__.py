"""The REST API under /api/v1, a built-in plugin: routes generated from the model, the
OpenAPI 3.1 document, a page to try it, problem documents and rate limits."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from plugins import hookimpl

if TYPE_CHECKING:
    from framework.app import Ficha


def build_routes(ficha: Ficha, *, per_minute: int | None = None) -> list[BaseRoute]:
    from app_builder.api.docs import console_js, docs_page
    from app_builder.api.openapi import document
    from app_builder.api.ratelimit import RateLimiter, per_minute_from_env
    from app_builder.api.routes import PREFIX, Api

    limiter = RateLimiter(
        ficha.storage, per_minute or per_minute_from_env(), os.environ.get("FICHA_REDIS_URL")
    )
    api = Api(ficha, limiter)
    cached: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        if "doc" not in cached:
            cached["doc"] = document(ficha)
        return JSONResponse(cached["doc"])

    return [
        Mount(
            PREFIX,
            routes=[
                Route("/openapi.json", openapi, methods=["GET"]),
                Route("/docs", docs_page, methods=["GET"]),
                Route("/docs/console.js", console_js, methods=["GET"]),
                Route("/{object}", api.dispatch, methods=_ALL),
                Route("/{object}/{ident}", api.dispatch, methods=_ALL),
            ],
        )
    ]


_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@hookimpl
def ficha_routes(ficha: Ficha) -> list[BaseRoute]:
    return build_routes(ficha)
