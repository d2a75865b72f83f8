"""The REST API's handlers, generated for every object of the model under /api/v1:

    GET    /api/v1/{object}             list: filters, sort, keyset pages, fields, expand
    POST   /api/v1/{object}             create
    GET    /api/v1/{object}/{id}        one record
    PATCH  /api/v1/{object}/{id}        update (send the `version` you read)
    DELETE /api/v1/{object}/{id}        delete
    POST   /api/v1/{object}/bulk        up to 1,000 creates/updates, a result for each

Reads go through the permission filters (scope, hidden fields), writes through the
records service; every refusal is a problem document naming the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app_builder.api.problems import ApiProblem, problem
from app_builder.api.ratelimit import RateLimiter
from app_builder.api.schema import (
    BadValue,
    check_text,
    precheck,
    readable_fields,
    record_json,
    reject_constant,
)
from framework.auth import token_hash
from framework.batch import BatchFailed
from framework.errors import Conflict, NotFound, PermissionDenied, StorageError, ValidationFailed
from framework.expressions import Context, Expression, ExpressionError
from framework.permissions import Who
from framework.records import Actor
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from modeler.schema import ObjectDef
from storage.queries import Sort
from storage.sources import LegacyUnavailable
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha

log = logging.getLogger("ficha.api")

PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_BULK = 1000
RESERVED_PARAMS = {"where", "q", "sort", "limit", "after", "fields", "expand"}
SORTABLE_SYSTEM = ("id", "created_at", "updated_at")

Handler = Callable[[Request, "Call"], Awaitable[Response]]


class Call:
    """Who is calling and what they may see of one object."""

    def __init__(self, api: Api, request: Request, obj: ObjectDef, actor: Actor) -> None:
        self.api = api
        self.ficha = api.ficha
        self.request = request
        self.obj = obj
        self.actor = actor
        self.who: Who = api.ficha.permissions.who(actor)

    def require(self, action: str) -> None:
        self.ficha.permissions.require(self.who, self.obj.name, action)

    @property
    def hidden(self) -> frozenset[str]:
        return self.ficha.permissions.hidden(self.who, self.obj.name)

    def scope(self, action: str = "read") -> list[Any]:
        condition = self.ficha.permissions.scope(self.who, self.obj.name, action)
        return [] if condition is None else [condition]


class Api:
    def __init__(self, ficha: Ficha, limiter: RateLimiter) -> None:
        self.ficha = ficha
        self.limiter = limiter

    # -- the wrapper every request goes through ---------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        name = request.path_params["object"]
        ident = request.path_params.get("ident")
        instance = request.url.path
        verdict = await anyio.to_thread.run_sync(lambda: self.limiter.hit(_caller(request)))
        rate = verdict.headers()
        if not verdict.allowed:
            return problem(
                429,
                f"more than {verdict.limit} requests a minute; wait {verdict.retry_after} s",
                instance=instance,
                headers=rate,
            )
        actor = getattr(request.state, "actor", None)
        if actor is None:
            return problem(
                401,
                "send an API token (Authorization: Bearer …) or sign in",
                instance=instance,
                headers={**rate, "WWW-Authenticate": 'Bearer realm="ficha"'},
            )
        obj = self.ficha.model.objects.get(name)
        if obj is None:
            return problem(404, f"there is no object '{name}'", instance=instance, headers=rate)
        call = Call(self, request, obj, actor.via("api") if actor.channel != "api" else actor)
        handler = self._handler(request.method, ident)
        try:
            if handler is None:
                allowed = (
                    "GET, PATCH, DELETE"
                    if ident not in (None, "bulk")
                    else ("POST" if ident == "bulk" else "GET, POST")
                )
                raise ApiProblem(
                    405, f"{request.method} is not allowed here", headers={"Allow": allowed}
                )
            response = await handler(request, call)
        except ApiProblem as exc:
            return problem(
                exc.status,
                exc.detail,
                errors=exc.errors,
                instance=instance,
                headers={**rate, **exc.headers},
                extra=exc.extra,
            )
        except PermissionDenied as exc:
            return problem(403, str(exc), instance=instance, headers=rate)
        except NotFound:
            return problem(
                404,
                f"there is no {obj.label.lower()} with id {ident}",
                instance=instance,
                headers=rate,
            )
        except Conflict as exc:
            return problem(
                409,
                str(exc),
                instance=instance,
                headers=rate,
                extra={"changed": sorted(exc.changed)},
            )
        except ValidationFailed as exc:
            return problem(
                422,
                f"the {obj.label.lower()} was not saved",
                errors=exc.errors,
                instance=instance,
                headers=rate,
            )
        except ExpressionError as exc:
            return problem(
                400,
                f"the filter cannot be read at character {exc.offset + 1}: {exc.message}",
                errors={"where": exc.message},
                instance=instance,
                headers=rate,
            )
        except LegacyUnavailable as exc:  # a wrapped object's legacy system is down
            return problem(503, str(exc), instance=instance, headers=rate)
        except (sa.exc.DataError, sa.exc.ProgrammingError, StorageError) as exc:
            log.warning("API %s %s: the database refused: %s", request.method, instance, exc)
            return problem(
                400,
                "the database refused the request (a value it cannot compare or store)",
                instance=instance,
                headers=rate,
            )
        response.headers.update(rate)
        return response

    def _handler(self, method: str, ident: str | None) -> Handler | None:
        if ident is None:
            return {"GET": self.list_records, "POST": self.create}.get(method)
        if ident == "bulk":
            return self.bulk if method == "POST" else None
        return {"GET": self.get, "PATCH": self.update, "DELETE": self.delete}.get(method)

    # -- reads ------------------------------------------------------------------------------------

    async def list_records(self, request: Request, call: Call) -> Response:
        call.require("read")
        params = request.query_params
        obj = call.obj
        for key, value in params.multi_items():
            _clean_param(key, value)
        fields = self._fields(call, params.get("fields"))
        expand = self._expand(call, params.get("expand"), fields)
        sort = self._sort(call, params.get("sort"))
        limit = _int_param("limit", params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        where = call.scope() + self._filters(call, params)
        search = params.get("q") or None
        after = params.get("after") or None
        stored = [n for n in fields if obj.fields[n].kind != MANY_TO_MANY]

        def run() -> dict[str, Any]:
            ficha = self.ficha
            with ficha.storage.read() as conn:
                try:
                    records = ficha.reader.list(
                        conn,
                        obj.name,
                        where=where,
                        search=search,
                        sort=sort,
                        limit=limit + 1,
                        after=after,
                        fields=stored,
                    )
                except ValueError as exc:  # a cursor that is not one of ours
                    raise ApiProblem(400, str(exc), errors={"after": str(exc)}) from exc
                more = len(records) > limit
                records = records[:limit]
                self._attach(conn, call, records, fields)
                expanded = self._expanded(conn, call, records, expand)
                data = [record_json(obj, r, fields, expanded) for r in records]
                cursor = ficha.reader.cursor_for(records[-1], sort) if more and records else None
            return {"data": data, "next": cursor, "limit": limit}

        return JSONResponse(await anyio.to_thread.run_sync(run))

    async def get(self, request: Request, call: Call) -> Response:
        call.require("read")
        ident = _ident(request)
        params = request.query_params
        for key, value in params.multi_items():
            _clean_param(key, value)
        fields = self._fields(call, params.get("fields"))
        expand = self._expand(call, params.get("expand"), fields)
        return JSONResponse(
            await anyio.to_thread.run_sync(lambda: self._one(call, ident, fields, expand))
        )

    def _one(
        self,
        call: Call,
        ident: int,
        fields: list[str] | None = None,
        expand: list[str] | None = None,
    ) -> dict[str, Any]:
        obj = call.obj
        fields = fields if fields is not None else readable_fields(obj, call.hidden)
        table = self.ficha.storage.table(obj.name)
        with self.ficha.storage.read() as conn:
            found = self.ficha.reader.list(
                conn,
                obj.name,
                where=[table.c.id == ident, *call.scope()],
                limit=1,
                fields=[n for n in fields if obj.fields[n].kind != MANY_TO_MANY],
            )
            if not found:
                raise NotFound(obj.name, ident)
            self._attach(conn, call, found, fields)
            expanded = self._expanded(conn, call, found, expand or [])
            return record_json(obj, found[0], fields, expanded)

    def _fields(self, call: Call, text: str | None) -> list[str]:
        readable = readable_fields(call.obj, call.hidden)
        if not text:
            return readable
        wanted = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [
            n
            for n in wanted
            if n not in readable and n not in ("id", "version", "created_at", "updated_at")
        ]
        if unknown:
            raise ApiProblem(
                400,
                f"{call.obj.label} has no field {', '.join(repr(n) for n in unknown)} to return",
                errors={"fields": f"choose from: {', '.join(readable)}"},
            )
        return [n for n in readable if n in wanted]

    def _expand(self, call: Call, text: str | None, fields: list[str]) -> list[str]:
        if not text:
            return []
        wanted = [n.strip() for n in text.split(",") if n.strip()]
        links = [n for n in fields if call.obj.fields[n].kind == LINK]
        bad = [n for n in wanted if n not in links]
        if bad:
            raise ApiProblem(
                400,
                f"only links can be expanded (one level): {', '.join(links) or 'none'}",
                errors={"expand": f"not a link: {', '.join(bad)}"},
            )
        for name in wanted:
            target = call.obj.fields[name].target or ""
            self.ficha.permissions.require(call.who, target, "read")
        return wanted

    def _sort(self, call: Call, text: str | None) -> list[Sort]:
        obj = call.obj
        if not text:
            declared = [Sort(n, d) for n, d in obj.list.sort]
            if declared and all(self._sortable(call, s.field) for s in declared):
                return declared
            return [Sort("id")]
        result = []
        for part in text.split(","):
            part = part.strip()
            name = part.lstrip("-+")
            if not part:
                continue
            if not self._sortable(call, name):
                choices = [
                    *SORTABLE_SYSTEM,
                    *(f.name for f in obj.fields.values() if self._sortable(call, f.name)),
                ]
                raise ApiProblem(
                    400,
                    f"cannot sort by '{name}'",
                    errors={"sort": f"sortable: {', '.join(choices)}"},
                )
            result.append(Sort(name, part.startswith("-")))
        return result or [Sort("id")]

    def _sortable(self, call: Call, name: str) -> bool:
        if name in SORTABLE_SYSTEM:
            return True
        f = call.obj.fields.get(name)
        return (
            f is not None
            and f.kind == COLUMN
            and self.ficha.model.field_types.get(f.type).orderable
            and f.name not in call.hidden
        )

    def _filters(self, call: Call, params: Any) -> list[Any]:
        obj = call.obj
        table = self.ficha.storage.table(obj.name)
        clauses: list[Any] = []
        text = params.get("where")
        if text:
            hidden = call.hidden
            words = set(text.replace(".", " ").replace("(", " ").replace(")", " ").split())
            if hidden & words:
                raise ApiProblem(
                    400,
                    "the filter uses a field your role cannot see",
                    errors={"where": ", ".join(sorted(hidden & words))},
                )
            expression = Expression.compile(text, self.ficha.model, obj.name)
            clauses.append(expression.where(self.ficha.storage, table, Context()))
        for key in params:
            if key in RESERVED_PARAMS:
                continue
            f = obj.fields.get(key)
            if key == "id":
                clauses.append(table.c.id == _int_param("id", params.get(key), 0, 1, 2**63 - 1))
                continue
            if f is None or f.kind not in (COLUMN, LINK) or f.name in call.hidden:
                raise ApiProblem(
                    400,
                    f"unknown parameter '{key}'",
                    errors={key: "filter by a field's name, or use where="},
                )
            raw = params.get(key)
            column = table.c[column_name(f)]
            if raw in ("", "null"):
                clauses.append(column.is_(None))
                continue
            ftype = self.ficha.model.field_types.get(f.type)
            try:
                value = ftype.coerce(f, raw, self.ficha.records.ctx) if ftype.coerce else raw
            except (ValueError, ArithmeticError, OverflowError) as exc:
                raise ApiProblem(400, f"{key}: {exc}", errors={key: str(exc)}) from exc
            if isinstance(value, list) or not _storable(value):
                raise ApiProblem(
                    400, f"{key}: cannot filter by that value", errors={key: "not a single value"}
                )
            clauses.append(column == value)
        return clauses

    def _attach(self, conn: Any, call: Call, records: list[Any], fields: list[str]) -> None:
        ids = [r.id for r in records]
        if not ids:
            return
        for name in fields:
            if call.obj.fields[name].kind == MANY_TO_MANY:
                links = self.ficha.reader.m2m_links(conn, call.obj.name, name, ids)
                for record in records:
                    record[name] = links.get(record.id, [])

    def _expanded(
        self, conn: Any, call: Call, records: list[Any], expand: list[str]
    ) -> dict[str, dict[int, dict[str, Any]]]:
        result: dict[str, dict[int, dict[str, Any]]] = {}
        permissions = self.ficha.permissions
        for name in expand:
            target = self.ficha.model[call.obj.fields[name].target or ""]
            ids = sorted({r[name].id for r in records if r.get(name) is not None})
            if not ids:
                result[name] = {}
                continue
            table = self.ficha.storage.table(target.name)
            scope = permissions.scope(call.who, target.name, "read")
            hidden = permissions.hidden(call.who, target.name)
            fields = [
                n for n in readable_fields(target, hidden) if target.fields[n].kind != MANY_TO_MANY
            ]
            found = self.ficha.reader.list(
                conn,
                target.name,
                where=[table.c.id.in_(ids), *([] if scope is None else [scope])],
                limit=0,
                fields=fields,
            )
            result[name] = {r.id: record_json(target, r, fields) for r in found}
        return result

    # -- writes ----------------------------------------------------------------------------------

    async def create(self, request: Request, call: Call) -> Response:
        values = await _body(request)
        self._precheck(call, values)

        def run() -> dict[str, Any]:
            record = self.ficha.records.create(call.obj.name, values, call.actor)
            return (
                self._one(call, record.id) if self._visible(call, record.id) else {"id": record.id}
            )

        body = await anyio.to_thread.run_sync(run)
        location = f"{PREFIX}/{call.obj.name}/{body['id']}"
        return JSONResponse(body, status_code=201, headers={"Location": location})

    def _visible(self, call: Call, ident: int) -> bool:
        return self.ficha.permissions.allowed(call.who, call.obj.name, "read")

    async def update(self, request: Request, call: Call) -> Response:
        ident = _ident(request)
        values = await _body(request)
        version = values.pop("version", None)
        if version is None:
            raise ApiProblem(
                428,
                "send the record's `version` (as you read it) with the change, so that "
                "nobody's change is overwritten unseen",
                errors={"version": "is required"},
            )
        if isinstance(version, bool) or not isinstance(version, int):
            raise ApiProblem(
                422, "the version must be a whole number", errors={"version": "must be an integer"}
            )
        self._precheck(call, values)

        def run() -> dict[str, Any]:
            self._exists(call, ident, "update")
            self.ficha.records.update(
                call.obj.name, ident, values, call.actor, expected_version=version
            )
            return self._one(call, ident)

        return JSONResponse(await anyio.to_thread.run_sync(run))

    async def delete(self, request: Request, call: Call) -> Response:
        ident = _ident(request)

        def run() -> None:
            self._exists(call, ident, "delete")
            try:
                self.ficha.records.delete(call.obj.name, ident, call.actor)
            except ValidationFailed as exc:
                raise ApiProblem(409, "; ".join(exc.errors.values())) from exc

        await anyio.to_thread.run_sync(run)
        return Response(status_code=204)

    def _exists(self, call: Call, ident: int, action: str) -> None:
        """A record outside the caller's read scope is 'not found', as in the screens."""
        call.require(action)
        table = self.ficha.storage.table(call.obj.name)
        with self.ficha.storage.read() as conn:  # through the Reader: wrapped objects too
            found = self.ficha.reader.list(
                conn, call.obj.name, where=[table.c.id == ident, *call.scope()], limit=1, fields=[]
            )
        if not found:
            raise NotFound(call.obj.name, ident)

    def _precheck(self, call: Call, values: dict[str, Any]) -> None:
        errors = precheck(self.ficha.model, call.obj, values, self.ficha.records.ctx)
        if errors:
            raise ApiProblem(422, f"the {call.obj.label.lower()} was not saved", errors=errors)

    async def bulk(self, request: Request, call: Call) -> Response:
        body = await _body(request)
        items = body.get("items")
        if not isinstance(items, list):
            raise ApiProblem(422, 'send {"items": [ … ]}', errors={"items": "must be a list"})
        if len(items) > MAX_BULK:
            raise ApiProblem(
                413,
                f"at most {MAX_BULK} items per request ({len(items)} sent)",
                errors={"items": f"at most {MAX_BULK}"},
            )
        key = body.get("key") or []
        if isinstance(key, str):
            key = [key]
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise ApiProblem(
                422,
                "key must be a list of field names",
                errors={"key": "must be a list of field names"},
            )
        for name in key:
            f = call.obj.fields.get(name)
            if f is None or f.kind not in (COLUMN, LINK):
                raise ApiProblem(
                    422,
                    f"{call.obj.label} has no stored field '{name}' to use as a key",
                    errors={"key": name},
                )
        atomic = body.get("all_or_nothing", False)
        if not isinstance(atomic, bool):
            raise ApiProblem(
                422,
                "all_or_nothing must be true or false",
                errors={"all_or_nothing": "must be a boolean"},
            )
        unknown = set(body) - {"items", "key", "all_or_nothing"}
        if unknown:
            raise ApiProblem(
                422,
                f"unknown member {', '.join(sorted(unknown))}",
                errors=dict.fromkeys(sorted(unknown), "unknown"),
            )
        results: list[dict[str, Any] | None] = [None] * len(items)
        by_id: list[tuple[int, dict[str, Any]]] = []
        others: list[tuple[int, dict[str, Any]]] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                results[i] = _result(i, "failed", None, {"__all__": "each item must be an object"})
                continue
            errors = precheck(self.ficha.model, call.obj, item, self.ficha.records.ctx)
            if "id" in item and not errors:
                ident = item["id"]
                if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
                    errors = {"id": "must be the id of a record"}
            if errors:
                results[i] = _result(i, "failed", None, errors)
            elif "id" in item:
                by_id.append((i, item))
            else:
                others.append((i, item))
        if atomic and any(r is not None for r in results):
            raise ApiProblem(
                422,
                "nothing was saved: some items were refused",
                extra={"results": [r for r in results if r is not None]},
            )

        def run() -> None:
            records = self.ficha.records
            with records.transaction() as conn:
                for group, group_key in ((by_id, ["id"]), (others, key)):
                    if not group:
                        continue
                    outcome = records.write_many(
                        call.obj.name,
                        [item for _, item in group],
                        call.actor,
                        key=group_key,
                        all_or_nothing=atomic,
                        conn=conn,
                    )
                    for (i, _), r in zip(group, outcome, strict=True):
                        results[i] = _result(i, r.action, r.id, r.errors)

        try:
            await anyio.to_thread.run_sync(run)
        except BatchFailed as exc:
            failed = [_result(r.index, r.action, r.id, r.errors) for r in exc.results if not r.ok]
            raise ApiProblem(
                422, "nothing was saved: some items were refused", extra={"results": failed}
            ) from exc
        done = [r for r in results if r is not None]
        summary = {
            action: sum(1 for r in done if r["action"] == action)
            for action in ("created", "updated", "unchanged", "skipped", "failed")
        }
        return JSONResponse({"results": done, **summary})


def _result(index: int, action: str, ident: int | None, errors: Any) -> dict[str, Any]:
    status = {"created": 201, "updated": 200, "unchanged": 200, "skipped": 200}.get(action, 422)
    return {
        "index": index,
        "action": action,
        "status": status,
        "id": ident,
        "errors": [
            {"field": None if k == "__all__" else k, "detail": v} for k, v in (errors or {}).items()
        ],
    }


def _caller(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return "t:" + token_hash(auth[7:].strip())[:24]
    actor = getattr(request.state, "actor", None)
    if actor is not None and actor.user_id is not None:
        return f"u:{actor.user_id}"
    return "ip:" + (request.client.host if request.client else "-")


def _ident(request: Request) -> int:
    text = str(request.path_params.get("ident", ""))
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise ApiProblem(404, f"'{text[:40]}' is not a record id")
    return int(text)


def _int_param(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiProblem(
            400, f"{name} must be a whole number", errors={name: "must be a whole number"}
        ) from None
    if not low <= value <= high:
        raise ApiProblem(
            400,
            f"{name} must be between {low} and {high}",
            errors={name: f"between {low} and {high}"},
        )
    return value


def _clean_param(key: str, value: str) -> None:
    try:
        check_text(key)
        check_text(value)
    except BadValue as exc:
        raise ApiProblem(400, f"parameter '{key[:40]}' {exc}", errors={key[:40]: str(exc)}) from exc


def _storable(value: Any) -> bool:
    try:
        check_text(value)
    except BadValue:
        return False
    return not (isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63)


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/merge-patch+json"):
        raise ApiProblem(415, "send JSON (Content-Type: application/json)")
    raw = await request.body()
    try:
        data = json.loads(raw or b"null", parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiProblem(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiProblem(422, "the body must be a JSON object of field: value")
    try:
        check_text(list(data))
    except BadValue as exc:
        raise ApiProblem(422, f"a field name {exc}") from exc
    return data
