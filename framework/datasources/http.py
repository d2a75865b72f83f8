"""`source: {kind: http}` — an object backed by an HTTP/JSON service of a legacy system.

    source:
      kind: http
      url: http://crm-old.local/api/customers   # the collection
      key: id                 # the JSON key holding the id (default id)
      columns: {name: fullName}
      read_only: false
      timeout: 5              # seconds (default 5)
      headers: {Authorization: "Bearer …"}
      items: data             # when the list comes as {"data": [...]} (default: a bare list)
      update_method: PATCH    # or PUT
      system: the old CRM     # optional: how messages name it

The service is expected to answer the usual REST calls: GET url (every record),
GET url/ID (one; 404 when there is none), POST url (create; answers the record with
its key), PATCH|PUT url/ID, DELETE url/ID. Filters, search, sort and pages are applied
here, in Python, to the list the service gives (see predicate.py): fine for the few
thousand records such services hold; a larger system deserves its own wrapper service.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.sql import elements, operators

from framework.datasources.base import Options, unreachable
from framework.datasources.predicate import UnsupportedCondition, compile_predicate, sort_key
from framework.services import Health
from modeler.fieldtypes import CoerceContext, FieldTypeRegistry
from modeler.schema import ObjectDef
from storage.sources import LegacyRefused, LegacyUnavailable, SourceQuery
from storage.tables import column_name

KEYS = ("url", "timeout", "headers", "items", "update_method", "system")


class HttpSource:
    """A legacy HTTP/JSON collection as a RecordSource (and a service with health)."""

    def __init__(self, obj: ObjectDef, options: Options, types: FieldTypeRegistry) -> None:
        source = obj.source
        assert source is not None
        self.url = options.text("url", required=True).rstrip("/")
        if self.url and not self.url.startswith(("http://", "https://")):
            options.error("L013", "the url of an 'http' source must start with http(s)://", "url")
        timeout = options.number("timeout", 5.0)
        headers = options.mapping("headers")
        self.items = options.text("items")
        self.update_method = (options.text("update_method") or "PATCH").upper()
        if self.update_method not in ("PATCH", "PUT"):
            options.error("L012", "'update_method' must be PATCH or PUT", "update_method")
        options.done(KEYS)
        self.system = options.text("system") or self.url
        self.key = source.key
        self.read_only = source.read_only
        self.columns = {f.name: source.column_of(f.name) for f in obj.stored_fields()}
        self.types = types
        self.client = httpx.Client(timeout=timeout, headers=headers)

    # -- JSON ⇄ rows -------------------------------------------------------------------------

    def _row(self, obj: ObjectDef, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict) or self.key not in item:
            raise unreachable(
                self.system, f"it answered an item without '{self.key}': {item!r:.80}"
            )
        row: dict[str, Any] = {"id": int(item[self.key])}
        for name, key in self.columns.items():
            f = obj.fields[name]
            raw = item.get(key)
            ftype = self.types.get(f.type)
            if raw is not None and ftype.coerce is not None:
                with contextlib.suppress(ValueError, TypeError):  # else shown as given
                    raw = ftype.coerce(f, raw, CoerceContext())
            row[column_name(f)] = raw
        return row

    def _json(self, obj: ObjectDef, values: dict[str, Any]) -> dict[str, Any]:
        return {self.columns[k]: _jsonable(v) for k, v in values.items() if k in self.columns}

    # -- HTTP ------------------------------------------------------------------------------------

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.system, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise unreachable(
                self.system, f"it answered {response.status_code} {response.reason_phrase}"
            )
        return response

    def _refused(self, response: httpx.Response) -> LegacyRefused:
        try:
            body = response.json()
            said = (
                body.get("detail") or body.get("message") or body.get("error")
                if isinstance(body, dict)
                else None
            ) or body
        except ValueError:
            said = response.text[:200]
        return LegacyRefused(
            f"the legacy system {self.system} refused the change ({response.status_code}): {said}"
        )

    def _list(self, obj: ObjectDef) -> list[dict[str, Any]]:
        response = self._call("GET", self.url)
        if response.status_code != 200:
            raise unreachable(self.system, f"it answered {response.status_code} to the list")
        try:
            body = response.json()
        except ValueError as exc:
            raise unreachable(self.system, "it did not answer JSON") from exc
        items = body.get(self.items) if self.items and isinstance(body, dict) else body
        if not isinstance(items, list):
            raise unreachable(self.system, "its list is not a JSON array")
        return [self._row(obj, item) for item in items]

    def _one(self, obj: ObjectDef, ident: int) -> dict[str, Any] | None:
        response = self._call("GET", f"{self.url}/{ident}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise unreachable(self.system, f"it answered {response.status_code} for {ident}")
        return self._row(obj, response.json())

    # -- RecordSource --------------------------------------------------------------------------

    def select(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery) -> list[dict[str, Any]]:
        ident = _single_id(shape, query.where)
        if ident is not None:  # a record page: ask for that one record
            row = self._one(obj, ident)
            rows = [row] if row is not None else []
        else:
            rows = self._list(obj)
        rows = self._filter(obj, rows, query)
        for s in reversed(query.sort or ()):
            name = column_name(obj.fields[s.field]) if s.field in obj.fields else s.field

            def key(row: dict[str, Any], name: str = name) -> tuple[int, Any]:
                return sort_key(row.get(name))

            rows.sort(key=key, reverse=s.descending)
        end = query.offset + query.limit if query.limit > 0 else None
        for row in rows:
            for name in query.extra:  # computed columns are not read from a legacy list
                row.setdefault(name, None)
        return rows[query.offset : end]

    def count(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery, cap: int) -> int:
        return len(self._filter(obj, self._list(obj), query))

    def _filter(
        self, obj: ObjectDef, rows: list[dict[str, Any]], query: SourceQuery
    ) -> list[dict[str, Any]]:
        try:
            keep = compile_predicate(list(query.where))
        except UnsupportedCondition as exc:
            raise LegacyUnavailable(
                f"the legacy system {self.system} cannot be filtered by {exc}"
            ) from exc
        rows = [r for r in rows if keep(r)]
        term = (query.search or "").strip().lower()
        if term:
            names = [n for n in obj.search_fields if n in obj.fields] or list(self.columns)
            rows = [
                r
                for r in rows
                if any(term in str(r.get(n) or "").lower() for n in names)
                or (term.isdigit() and r["id"] == int(term))
            ]
        return rows

    def insert(self, obj: ObjectDef, values: dict[str, Any]) -> int:
        response = self._call("POST", self.url, json=self._json(obj, values))
        if response.status_code >= 400:
            raise self._refused(response)
        return self._row(obj, response.json())["id"]

    def update(self, obj: ObjectDef, ident: int, values: dict[str, Any]) -> bool:
        body = self._json(obj, values)
        if not body:
            return self._one(obj, ident) is not None
        response = self._call(self.update_method, f"{self.url}/{ident}", json=body)
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise self._refused(response)
        return True

    def delete(self, obj: ObjectDef, ident: int) -> bool:
        response = self._call("DELETE", f"{self.url}/{ident}")
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise self._refused(response)
        return True

    def health(self) -> Health:
        response = self._call("GET", self.url)
        if response.status_code != 200:
            return Health(False, f"{self.system} answered {response.status_code}")
        return Health(True, f"{self.system} answers")

    def close(self) -> None:
        self.client.close()


def _single_id(shape: sa.Table, where: Any) -> int | None:
    """The id when the conditions include `id == N` (a record page, a look-up by id)."""
    for clause in where:
        if (
            isinstance(clause, elements.BinaryExpression)
            and clause.operator is operators.eq
            and isinstance(clause.left, sa.Column)
            and clause.left.table is shape
            and clause.left.key == "id"
            and isinstance(clause.right, elements.BindParameter)
        ):
            value = clause.right.effective_value
            if isinstance(value, int):
                return value
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value
