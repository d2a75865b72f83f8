"""Sign-in for the screens and the HTTP hardening around every response.

`SecurityMiddleware` (outermost) finds the user of each request from the session cookie
or an API token, sends a user who must change their password to that page, refuses
oversized bodies, and adds security headers to every response. `FichaAuth` plugs the
sign-in into starlette-admin's login and logout pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_admin.auth import AdminUser, AuthProvider, LoginFailed

from framework.auth import LoginRefused, actor_of
from framework.errors import ValidationFailed

COOKIE = "ficha_session"
MAX_BODY = 25 * 1024 * 1024  # uploads included; anything bigger is refused before reading
ALWAYS_OPEN = ("/admin/login", "/admin/statics/", "/healthz", "/static/")
PASSWORD_PAGE = "/admin/password"  # noqa: S105 - a page address, not a secret

# Scripts and styles come from Ficha itself (no CDN: it must work offline); starlette-admin
# writes small inline scripts, hence 'unsafe-inline' for scripts and styles.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, ficha_of: Callable[[], Any]) -> None:
        self.app = app
        self.ficha_of = ficha_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            too_big = PlainTextResponse("the request is too large", status_code=413)
            await too_big(scope, receive, self._with_headers(send))
            return
        ficha = self.ficha_of()
        request = Request(scope)
        found = await anyio.to_thread.run_sync(lambda: self._identify(ficha, request))
        state = scope.setdefault("state", {})
        if found is not None:
            user, must_change, channel, token_role = found
            actor = actor_of(user, channel)
            if token_role:  # a token limited to a role acts with that role only
                from dataclasses import replace

                actor = replace(actor, role=token_role)
            state["user"] = user
            state["actor"] = actor
            state["who"] = ficha.permissions.who(actor)
            path = scope.get("path", "")
            if must_change and not path.startswith((PASSWORD_PAGE, "/admin/logout", *ALWAYS_OPEN)):
                response = RedirectResponse(PASSWORD_PAGE, status_code=303)
                await response(scope, receive, self._with_headers(send))
                return
        await self.app(scope, receive, self._with_headers(send))

    def _identify(self, ficha: Any, request: Request) -> tuple[Any, bool, str, str | None] | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            found = ficha.auth.token_user(auth[7:].strip())
            return None if found is None else (found[0], False, "api", found[1])
        cookie = request.cookies.get(COOKIE)
        if cookie:
            session = ficha.auth.session_user(cookie)
            if session is not None:
                return session[0], session[1], "screen", None
        return None

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in HEADERS if k not in existing
                ]
            await send(message)

        return wrapped


class FichaAuth(AuthProvider):
    """starlette-admin's sign-in page, backed by Ficha's users, sessions and throttling."""

    def __init__(self, ficha_of: Callable[[], Any]) -> None:
        super().__init__(login_path="/login", logout_path="/logout", allow_routes=["password"])
        self.ficha_of = ficha_of

    async def login(
        self, username: str, password: str, remember_me: bool, request: Request
    ) -> Response | None:
        ficha = self.ficha_of()
        try:
            signed = await anyio.to_thread.run_sync(
                lambda: ficha.auth.login(
                    username,
                    password,
                    ip=client_ip(request),
                    user_agent=request.headers.get("user-agent", ""),
                    remember=remember_me,
                )
            )
        except LoginRefused as exc:
            raise LoginFailed(str(exc)) from exc
        target = (
            PASSWORD_PAGE
            if signed.must_change
            else _same_site(request, request.query_params.get("next") or "/admin/")
        )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            signed.token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
            max_age=int((signed.expires_at - _now()).total_seconds()),
        )
        return response

    async def logout(self, request: Request) -> Response | None:
        ficha = self.ficha_of()
        cookie = request.cookies.get(COOKIE)
        if cookie:
            await anyio.to_thread.run_sync(lambda: ficha.auth.logout(cookie))
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def authenticate(self, request: Request) -> AdminUser | None:
        user = getattr(request.state, "user", None)
        if user is None:
            return None
        return AdminUser(username=str(user.get("name") or user.get("username")))

    def get_routes(self, templates: Jinja2Templates) -> list[Route]:
        routes = super().get_routes(templates)

        async def password(request: Request) -> Response:
            return await self.password_page(request, templates)

        routes.append(Route("/password", password, methods=["GET", "POST"], name="password"))
        return routes

    async def password_page(self, request: Request, templates: Jinja2Templates) -> Response:
        user = getattr(request.state, "user", None)
        if user is None:
            return RedirectResponse("/admin/login", status_code=303)
        ficha = self.ficha_of()
        context: dict[str, Any] = {"user": user}
        if request.method == "POST":
            form = await request.form()
            current = str(form.get("current_password") or "")
            new = str(form.get("password") or "")
            if new != str(form.get("password_again") or ""):
                context["errors"] = {"password_again": "the two new passwords differ"}
            else:
                try:
                    await anyio.to_thread.run_sync(
                        lambda: ficha.auth.change_password(int(user["id"]), current, new)
                    )
                except ValidationFailed as exc:
                    context["errors"] = exc.errors
                else:
                    if form.get("everywhere") == "on":
                        await anyio.to_thread.run_sync(
                            lambda: ficha.auth.logout_everywhere(int(user["id"]))
                        )
                        response = RedirectResponse("/admin/login", status_code=303)
                        response.delete_cookie(COOKIE, path="/")
                        return response
                    return RedirectResponse("/admin/", status_code=303)
        return templates.TemplateResponse(
            request,
            "ficha_password.html",
            context,
            status_code=422 if context.get("errors") else 200,
        )


def _same_site(request: Request, target: str) -> str:
    """Where to go after signing in: a page of this site, never another site."""
    base = str(request.base_url)
    if target.startswith(base):
        target = "/" + target[len(base) :]
    if not target.startswith("/") or target.startswith("//"):
        return "/admin/"
    return target


def _now() -> Any:
    from framework.records import utcnow

    return utcnow()
