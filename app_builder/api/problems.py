"""Errors as RFC 9457 problem details (`application/problem+json`): a type, a title, the
status, a detail a person can act on and, for refused values, `errors` naming each field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Changed by someone else",
    413: "Too large",
    415: "Unsupported media type",
    422: "Not saved",
    428: "Version required",
    429: "Too many requests",
    500: "Internal error",
}
TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    428: "version-required",
    429: "rate-limited",
    500: "internal",
}


class ApiProblem(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(
    status: int,
    detail: str,
    errors: Mapping[str, str] | None = None,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:ficha:problem:{TYPES.get(status, 'error')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [
            {"field": None if name == "__all__" else name, "detail": message}
            for name, message in errors.items()
        ]
    body.update(extra or {})
    return body


def problem(
    status: int,
    detail: str,
    *,
    errors: Mapping[str, str] | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, errors, instance, extra),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each refused field.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}
