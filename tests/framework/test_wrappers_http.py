"""An object backed by the HTTP/JSON service of a legacy system: a small real one (a
Starlette app under uvicorn on 127.0.0.1, started by the test) holding customers under
its own names. The screens, the API, expressions and writes reach it like a native
object; when it is down, users read which system is not reachable, never a trace."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from framework.errors import ValidationFailed
from storage.sources import LegacyUnavailable
from tests.conftest import ProjectFactory, make_user, session_cookie


class LegacyCrm:
    """The legacy system: customers as JSON, its own key and field names."""

    def __init__(self) -> None:
        self.customers: dict[int, dict[str, Any]] = {
            7: {
                "customerId": 7,
                "fullName": "Ana Ruiz",
                "mail": "ana@old.es",
                "since": "2001-03-04",
                "vip": True,
            },
            8: {
                "customerId": 8,
                "fullName": "Luis Gil",
                "mail": "luis@old.es",
                "since": "1999-12-31",
                "vip": False,
            },
            9: {
                "customerId": 9,
                "fullName": "Marta Sanz",
                "mail": "marta@old.es",
                "since": "2010-06-01",
                "vip": True,
            },
        }
        self.next_id = 10
        self.calls: list[str] = []
        app = Starlette(
            routes=[
                Route("/api/customers", self.collection, methods=["GET", "POST"]),
                Route("/api/customers/{ident:int}", self.item, methods=["GET", "PATCH", "DELETE"]),
            ]
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the legacy server did not start"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/customers"

    async def collection(self, request: Request) -> Response:
        self.calls.append(f"{request.method} list")
        if request.method == "GET":
            return JSONResponse({"data": list(self.customers.values())})
        body = await request.json()
        if any(c["mail"] == body.get("mail") for c in self.customers.values()):
            return JSONResponse({"message": "mail already registered"}, status_code=409)
        item = {"customerId": self.next_id, **body}
        self.customers[self.next_id] = item
        self.next_id += 1
        return JSONResponse(item, status_code=201)

    async def item(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        self.calls.append(f"{request.method} {ident}")
        if ident not in self.customers:
            return JSONResponse({"message": "no such customer"}, status_code=404)
        if request.method == "PATCH":
            self.customers[ident].update(await request.json())
        elif request.method == "DELETE":
            del self.customers[ident]
            return Response(status_code=204)
        return JSONResponse(self.customers[ident])

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def legacy() -> Iterator[LegacyCrm]:
    crm = LegacyCrm()
    yield crm
    crm.stop()


def wrapped(url: str) -> str:
    return f"""
        object: old_customer
        label: Old customer
        source:
          kind: http
          url: "{url}"
          key: customerId
          items: data
          columns: {{name: fullName, email: mail}}
          timeout: 3
          system: the old CRM
        title: name
        fields:
          name: {{type: string, required: true, search: true}}
          email: {{type: email, required: true}}
          since: date
          vip: boolean
          label_text:
            type: string
            formula: 'name + (if(vip, " (VIP)", ""))'
            stored: false
        validations:
          - check: not (email like "%@example.com")
            message: the old CRM does not take test addresses
            field: email
        list:
          columns: [name, email, since, vip]
          sort: [name]
        """


def test_reads_filters_and_writes_reach_the_legacy_service(
    project: ProjectFactory, legacy: LegacyCrm
) -> None:
    ficha = project.migrated({"old_customer": wrapped(legacy.url)})
    shape = ficha.storage.table("old_customer")
    with ficha.storage.read() as conn:
        everyone = ficha.reader.list(conn, "old_customer")
        vips = ficha.reader.list(conn, "old_customer", where=[shape.c.vip.is_(True)])
        older = ficha.reader.count(conn, "old_customer", where=[shape.c.since < "2005-01-01"])
        found = ficha.reader.list(conn, "old_customer", search="GIL")
        legacy.calls.clear()
        one = ficha.reader.get(conn, "old_customer", 9)
    assert [r["name"] for r in everyone] == ["Ana Ruiz", "Luis Gil", "Marta Sanz"]
    assert [r.id for r in vips] == [7, 9]
    assert older.value == 2
    assert [r.id for r in found] == [8]
    assert one is not None and one["email"] == "marta@old.es"
    assert legacy.calls == ["GET 9"]  # one record is asked for by its key, not listed

    created = ficha.records.create(
        "old_customer", {"name": "Eva Paz", "email": "eva@old.es", "since": "2024-02-29"}
    )
    assert created.id == 10
    assert legacy.customers[10] == {
        "customerId": 10,
        "fullName": "Eva Paz",
        "mail": "eva@old.es",
        "since": "2024-02-29",
    }
    ficha.records.update("old_customer", 8, {"vip": True})
    assert legacy.customers[8]["vip"] is True
    ficha.records.delete("old_customer", 7)
    assert sorted(legacy.customers) == [8, 9, 10]

    with pytest.raises(ValidationFailed) as refused:  # the legacy system's own refusal
        ficha.records.create("old_customer", {"name": "Dup", "email": "luis@old.es"})
    assert refused.value.errors["__all__"] == (
        "the legacy system the old CRM refused the change (409): mail already registered"
    )
    with pytest.raises(ValidationFailed) as invalid:  # an expression on the record
        ficha.records.create("old_customer", {"name": "Test", "email": "t@example.com"})
    assert invalid.value.errors == {"email": "the old CRM does not take test addresses"}
    assert sorted(legacy.customers) == [8, 9, 10]


def test_an_expression_filters_a_wrapped_list(project: ProjectFactory, legacy: LegacyCrm) -> None:
    from app_builder.reports.listfilter import expression_filter

    ficha = project.migrated({"old_customer": wrapped(legacy.url)})
    who = ficha.permissions.who(_system())
    condition = expression_filter(ficha, who, "old_customer", 'vip and since >= "2005-01-01"')
    with ficha.storage.read() as conn:
        found = ficha.reader.list(conn, "old_customer", where=[condition])
    assert [r["name"] for r in found] == ["Marta Sanz"]


def _system() -> Any:
    from framework.records import SYSTEM

    return SYSTEM


@pytest.fixture
def client(project: ProjectFactory, legacy: LegacyCrm) -> Iterator[TestClient]:
    ficha = project.migrated({"old_customer": wrapped(legacy.url)})
    make_user(ficha)
    app = create_app(ficha.settings, ficha=ficha)
    with TestClient(app) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(ficha))
        yield test_client


def test_screens_and_api_like_a_native_object(client: TestClient, legacy: LegacyCrm) -> None:
    listing = client.get("/admin/old_customer/list")
    assert listing.status_code == 200
    assert "Marta Sanz" in listing.text and "luis@old.es" in listing.text
    detail = client.get("/admin/old_customer/detail?pk=7")
    assert detail.status_code == 200 and "Ana Ruiz" in detail.text
    assert client.get("/admin/old_customer/create").status_code == 200

    api = client.get("/api/v1/old_customer", params={"sort": "-since"})
    assert api.status_code == 200, api.text
    assert [r["id"] for r in api.json()["data"]] == [9, 7, 8]
    made = client.post("/api/v1/old_customer", json={"name": "Eva Paz", "email": "eva@old.es"})
    assert made.status_code == 201, made.text
    assert legacy.customers[made.json()["id"]]["fullName"] == "Eva Paz"
    changed = client.patch("/api/v1/old_customer/8", json={"name": "Luis Gil Pérez", "version": 1})
    assert changed.status_code == 200, changed.text
    assert legacy.customers[8]["fullName"] == "Luis Gil Pérez"
    assert client.get("/api/v1/old_customer/99").status_code == 404


def test_a_legacy_service_that_is_down_is_named_not_a_trace(
    client: TestClient, legacy: LegacyCrm
) -> None:
    legacy.stop()
    listing = client.get("/admin/old_customer/list")
    assert listing.status_code == 503
    assert "the legacy system the old CRM is not reachable" in listing.text
    assert "Traceback" not in listing.text
    detail = client.get("/admin/old_customer/detail?pk=7")
    assert detail.status_code == 503
    assert "the legacy system the old CRM is not reachable" in detail.text
    api = client.get("/api/v1/old_customer")
    assert api.status_code == 503
    assert api.json()["detail"].startswith("the legacy system the old CRM is not reachable: ")
    write = client.post("/api/v1/old_customer", json={"name": "X", "email": "x@old.es"})
    assert write.status_code == 503


def test_a_down_service_reports_itself_down(
    sqlite_project: ProjectFactory, legacy: LegacyCrm
) -> None:
    ficha = sqlite_project.migrated({"old_customer": wrapped(legacy.url)})
    assert ficha.services.health("legacy.old_customer").ok
    legacy.stop()
    report = ficha.services.health("legacy.old_customer")
    assert not report.ok
    assert report.detail.startswith("LegacyUnavailable: the legacy system the old CRM is not")
    with ficha.storage.read() as conn, pytest.raises(LegacyUnavailable):
        ficha.reader.count(conn, "old_customer")
