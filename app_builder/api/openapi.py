"""The OpenAPI 3.1 document of the REST API, generated from the model: one schema per
object (as read, as created, as changed), the operations of each, and the problem
documents every error is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app_builder.api.problems import MEDIA_TYPE, PROBLEM_SCHEMA
from app_builder.api.routes import DEFAULT_LIMIT, MAX_BULK, MAX_LIMIT, PREFIX, SORTABLE_SYSTEM
from app_builder.api.schema import INT64, field_schema, writable
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from modeler.schema import ObjectDef

if TYPE_CHECKING:
    from framework.app import Ficha

RATE_HEADERS = {
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests a minute"},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Left this minute"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "A parameter cannot be read (the problem names it)",
        401: "No valid token or session",
        403: "The role does not allow it",
        404: "No such record (or not one the caller may see)",
        409: "Changed by someone else meanwhile, or still linked from other records",
        413: "Too many items",
        415: "The body is not JSON",
        422: "Refused values; `errors` names each field",
        428: "The record's version is missing",
    }
    responses = {str(c): _problem(text[c]) for c in codes}
    responses["429"] = {
        **_problem("Too many requests this minute"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
    return responses


def _name(obj: ObjectDef) -> str:
    return "".join(part.capitalize() for part in obj.name.split("_"))


def object_schemas(obj: ObjectDef) -> dict[str, Any]:
    name = _name(obj)
    props: dict[str, Any] = {
        "id": {"type": "integer"},
        "version": {"type": "integer", "description": "Send it back with a change"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    inputs: dict[str, Any] = {}
    for f in obj.fields.values():
        if f.kind not in (COLUMN, LINK, MANY_TO_MANY):
            continue
        props[f.name] = {**field_schema(f, output=True), "title": f.label}
        if writable(obj, f):
            inputs[f.name] = {**field_schema(f, output=False), "title": f.label}
    required_in = [
        f.name for f in obj.fields.values() if f.required and f.name in inputs and f.default is None
    ]
    return {
        name: {
            "type": "object",
            "title": obj.label,
            "description": obj.description
            or f"A {obj.label.lower()} as the API returns it "
            "(fields the caller's role hides are left out).",
            "properties": props,
            "required": ["id", "version"],
        },
        f"{name}New": {
            "type": "object",
            "title": f"New {obj.label.lower()}",
            "properties": inputs,
            "required": required_in,
            "additionalProperties": False,
        },
        f"{name}Change": {
            "type": "object",
            "title": f"Change of a {obj.label.lower()}",
            "properties": {
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": INT64,
                    "description": "The version you read (optimistic locking)",
                },
                **inputs,
            },
            "required": ["version"],
            "additionalProperties": False,
        },
        f"{name}Page": {
            "type": "object",
            "required": ["data", "next", "limit"],
            "properties": {
                "data": {"type": "array", "items": _ref(name)},
                "next": {
                    "type": ["string", "null"],
                    "description": "Pass as `after` for the next page",
                },
                "limit": {"type": "integer"},
            },
        },
    }


def _list_parameters(obj: ObjectDef, ficha: Ficha) -> list[dict[str, Any]]:
    types = ficha.model.field_types
    sortable = [
        *SORTABLE_SYSTEM,
        *(f.name for f in obj.fields.values() if f.kind == COLUMN and types.get(f.type).orderable),
    ]
    params: list[dict[str, Any]] = [
        {
            "name": "where",
            "in": "query",
            "schema": {"type": "string"},
            "description": "A filter in Ficha's expression language, e.g. "
            '`amount > 1000 and stage == "won"`',
        },
        {
            "name": "q",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Full-text search",
        },
        {
            "name": "sort",
            "in": "query",
            "schema": {"type": "string"},
            "description": f"Fields, comma-separated, `-` for descending: {', '.join(sortable)}",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "after",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The `next` cursor of the previous page",
        },
        {
            "name": "fields",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Only these fields, comma-separated",
        },
        {
            "name": "expand",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Links to return whole (one level)",
        },
    ]
    for f in obj.fields.values():
        if f.kind not in (COLUMN, LINK) or not (f.filter or f.kind == LINK or f.unique or f.index):
            continue
        schema: dict[str, Any] = {"type": "string"}
        if f.kind == LINK:
            schema = {"type": "integer", "minimum": 1, "maximum": INT64}
        elif f.type == "choice":
            schema = {"type": "string", "enum": list(f.choice_codes)}
        elif f.type == "boolean":
            schema = {"type": "boolean"}
        params.append(
            {
                "name": f.name,
                "in": "query",
                "schema": schema,
                "description": f"Only records whose {f.label.lower()} is this",
            }
        )
    return params


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": INT64},
}
VIEW_PARAMS = [
    {"name": "fields", "in": "query", "schema": {"type": "string"}},
    {"name": "expand", "in": "query", "schema": {"type": "string"}},
]


def document(ficha: Ficha, base_url: str = "") -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA, "BulkResult": BULK_RESULT}
    paths: dict[str, Any] = {}
    for obj in ficha.model:
        name = _name(obj)
        schemas.update(object_schemas(obj))
        tag = obj.plural
        ok = lambda schema, text="OK": {  # noqa: E731 - a small local helper
            "description": text,
            "headers": RATE_HEADERS,
            "content": {"application/json": {"schema": schema}},
        }
        paths[f"{PREFIX}/{obj.name}"] = {
            "get": {
                "operationId": f"list_{obj.name}",
                "summary": f"List {obj.plural.lower()}",
                "tags": [tag],
                "parameters": _list_parameters(obj, ficha),
                "responses": {"200": ok(_ref(f"{name}Page")), **_errors(400, 401, 403)},
            },
            "post": {
                "operationId": f"create_{obj.name}",
                "summary": f"Create a {obj.label.lower()}",
                "tags": [tag],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(f"{name}New")}},
                },
                "responses": {
                    "201": {
                        **ok(_ref(name), "Created"),
                        "headers": {**RATE_HEADERS, "Location": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 403, 415, 422),
                },
            },
        }
        paths[f"{PREFIX}/{obj.name}/{{id}}"] = {
            "get": {
                "operationId": f"get_{obj.name}",
                "summary": f"One {obj.label.lower()}",
                "tags": [tag],
                "parameters": [ID_PARAM, *VIEW_PARAMS],
                "responses": {"200": ok(_ref(name)), **_errors(400, 401, 403, 404)},
            },
            "patch": {
                "operationId": f"update_{obj.name}",
                "summary": f"Change a {obj.label.lower()} (send the version you read)",
                "tags": [tag],
                "parameters": [ID_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(f"{name}Change")}},
                },
                "responses": {
                    "200": ok(_ref(name)),
                    **_errors(400, 401, 403, 404, 409, 415, 422, 428),
                },
            },
            "delete": {
                "operationId": f"delete_{obj.name}",
                "summary": f"Delete a {obj.label.lower()}",
                "tags": [tag],
                "parameters": [ID_PARAM],
                "responses": {
                    "204": {"description": "Deleted", "headers": RATE_HEADERS},
                    **_errors(401, 403, 404, 409),
                },
            },
        }
        paths[f"{PREFIX}/{obj.name}/bulk"] = {
            "post": {
                "operationId": f"bulk_{obj.name}",
                "summary": f"Create or change up to {MAX_BULK:,} {obj.plural.lower()}",
                "tags": [tag],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["items"],
                                "additionalProperties": False,
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "maxItems": MAX_BULK,
                                        "items": {"type": "object"},
                                        "description": "Each a new record, or with `id` "
                                        "(and `version`) a change",
                                    },
                                    "key": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "description": "Fields that find an existing record "
                                        "to update (upsert)",
                                    },
                                    "all_or_nothing": {"type": "boolean", "default": False},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": ok(_ref("BulkResult"), "A result for each item"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{ficha.settings.name} API",
            "version": "1",
            "description": "Generated from the project's objects. Authenticate with "
            "`Authorization: Bearer <token>` (`ficha user token USERNAME`) or a signed-in "
            "session. Errors are RFC 9457 problem documents.",
        },
        "servers": [{"url": base_url or "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ficha_session"},
            },
        },
    }


BULK_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "action", "status", "id", "errors"],
                "properties": {
                    "index": {"type": "integer"},
                    "action": {
                        "type": "string",
                        "enum": ["created", "updated", "unchanged", "skipped", "failed"],
                    },
                    "status": {"type": "integer"},
                    "id": {"type": ["integer", "null"]},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        **{
            k: {"type": "integer"} for k in ("created", "updated", "unchanged", "skipped", "failed")
        },
    },
}
