"""The API's own documentation page: every operation of the OpenAPI document with a form
to try it, served by Ficha (no CDN, works offline)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

STATIC = Path(__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
details {{ border: 1px solid #ddd; border-radius: 6px; margin: .4rem 0; padding: .4rem .8rem; }}
summary {{ cursor: pointer; }} label {{ display: block; margin: .4rem 0; font-size: .9rem; }}
input, textarea {{ width: 100%; font-family: monospace; }} pre.out {{ background: #f6f6f6;
padding: .6rem; white-space: pre-wrap; max-height: 24rem; overflow: auto; }}
</style></head>
<body><h1>{title}</h1>
<p>Every object of the model, read and written through the same checks and permissions as
the screens. The machine-readable description is <a href="openapi.json">openapi.json</a>
(OpenAPI 3.1); the integrator's guide is docs/integrators.md.</p>
<label>API token (or leave empty to use your signed-in session)
<input id="token" type="password" autocomplete="off" placeholder="ficha_…"></label>
<div id="operations"></div>
<script src="docs/console.js"></script>
</body></html>"""


async def docs_page(request: Request) -> Response:
    ficha = request.app.state.ficha_state["ficha"]
    return HTMLResponse(PAGE.format(title=escape(f"{ficha.settings.name} API")))


async def console_js(request: Request) -> Response:
    return FileResponse(STATIC / "console.js", media_type="text/javascript")
