"""The service manager: interfaces checked at registration, look-up by name, health, a
plugin's services through the `ficha_services` hook, and a service replaced at run time
while threads call it — no call fails, calls in flight finish on the old version."""

from __future__ import annotations

import abc
import threading
from typing import Protocol

import pytest

from framework.services import (
    Health,
    InterfaceMismatch,
    ServiceDef,
    ServiceError,
    ServiceManager,
    UnknownService,
)
from plugins import hookimpl
from plugins.manager import get_plugin_manager
from tests.conftest import ProjectFactory
from tests.samples import SHOP


class Greeter(Protocol):
    def greet(self, name: str) -> str: ...

    def version(self) -> str: ...


class Polite:
    def __init__(self, tag: str = "v1") -> None:
        self.tag = tag

    def greet(self, name: str) -> str:
        return f"good day, {name}"

    def version(self) -> str:
        return self.tag


class Rude:
    def greet(self) -> str:  # forgets the name argument
        return "what?"


class Sender(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str, text: str) -> None: ...

    @abc.abstractmethod
    def queued(self) -> int: ...


def test_registered_service_is_reached_by_name_through_a_proxy() -> None:
    services = ServiceManager()
    services.register("greeter", Polite(), interface=Greeter, version="1.0")
    greeter = services.get("greeter", Greeter)
    assert greeter.greet("Ana") == "good day, Ana"
    assert services.registration("greeter").version == "1.0"
    assert "greeter" in services and services.names() == ["greeter"]


def test_missing_and_mismatched_methods_are_named() -> None:
    services = ServiceManager()

    class Half:
        def greet(self, name: str) -> str:
            return name

    with pytest.raises(InterfaceMismatch) as missing:
        services.register("greeter", Half(), interface=Greeter)
    assert "missing method 'version'" in str(missing.value)
    assert "Greeter" in str(missing.value)

    with pytest.raises(InterfaceMismatch) as wrong:
        services.register("greeter", Rude(), interface=Greeter)
    assert "method 'greet' must accept (name)" in str(wrong.value)

    class NoQueue:
        def send(self, to: str, text: str) -> None:
            pass

    with pytest.raises(InterfaceMismatch, match="missing method 'queued'"):
        services.register("sender", NoQueue(), interface=Sender)
    assert services.names() == []  # nothing half-registered


def test_unknown_and_duplicate_names_are_clear_errors() -> None:
    services = ServiceManager()
    services.register("greeter", Polite(), interface=Greeter)
    with pytest.raises(UnknownService, match="did you mean 'greeter'"):
        services.get("greeting")
    with pytest.raises(ServiceError, match="already registered"):
        services.register("greeter", Polite(), interface=Greeter)
    with pytest.raises(InterfaceMismatch):  # a new version must keep the old interface
        services.replace("greeter", Rude(), version="2")
    assert services.get("greeter").greet("Luis") == "good day, Luis"


def test_health_reports_up_down_and_a_raising_check() -> None:
    class Up(Polite):
        def health(self) -> Health:
            return Health(True, "all fine")

    class Down(Polite):
        def health(self) -> Health:
            return Health(False, "disk full")

    class Broken(Polite):
        def health(self) -> Health:
            raise ConnectionError("connection refused by 10.0.0.9:1521")

    services = ServiceManager()
    for name, impl in (("up", Up()), ("down", Down()), ("broken", Broken()), ("plain", Polite())):
        services.register(name, impl, interface=Greeter)
    reports = {r.name: r for r in services.check_all()}
    assert (reports["up"].ok, reports["up"].detail) == (True, "all fine")
    assert (reports["down"].ok, reports["down"].detail) == (False, "disk full")
    assert not reports["broken"].ok
    assert "connection refused by 10.0.0.9:1521" in reports["broken"].detail
    assert reports["plain"].ok
    assert services.last_health("broken") == reports["broken"]


class Slow:
    """Each call waits until the test lets it finish, so calls are truly in flight
    while the service is replaced."""

    def __init__(self, tag: str, gate: threading.Event) -> None:
        self.tag = tag
        self.gate = gate
        self.started = threading.Semaphore(0)

    def greet(self, name: str) -> str:
        self.started.release()
        if not self.gate.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")
        return f"{self.tag}:{name}"

    def version(self) -> str:
        return self.tag


def test_replacing_a_service_under_concurrent_calls() -> None:
    services = ServiceManager()
    old_gate, new_gate = threading.Event(), threading.Event()
    new_gate.set()  # the new version answers at once
    old, new = Slow("v1", old_gate), Slow("v2", new_gate)
    services.register("greeter", old, interface=Greeter, version="1")
    greeter = services.get("greeter", Greeter)

    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def call(who: str) -> None:
        try:
            results[who] = greeter.greet(who)
        except BaseException as exc:  # collected: a failing call fails the test
            errors.append(exc)

    in_flight = [threading.Thread(target=call, args=(f"early{i}",)) for i in range(8)]
    for t in in_flight:
        t.start()
    for _ in in_flight:  # all eight are inside the old version's greet()
        assert old.started.acquire(timeout=10)

    services.replace("greeter", new, version="2")  # no lock held by the calls: no wait

    later = [threading.Thread(target=call, args=(f"late{i}",)) for i in range(8)]
    for t in later:
        t.start()
    for t in later:
        t.join(timeout=10)
    # the later calls finished on v2 while the early ones are still blocked on v1
    assert {k: v for k, v in results.items() if k.startswith("late")} == {
        f"late{i}": f"v2:late{i}" for i in range(8)
    }
    assert not any(k.startswith("early") for k in results)

    old_gate.set()
    for t in in_flight:
        t.join(timeout=10)
    assert errors == []
    assert {k: v for k, v in results.items() if k.startswith("early")} == {
        f"early{i}": f"v1:early{i}" for i in range(8)
    }
    assert services.registration("greeter").version == "2"
    assert [r.version for r in services.history("greeter")] == ["1", "2"]


def test_many_threads_calling_while_versions_keep_changing() -> None:
    services = ServiceManager()
    services.register("greeter", Polite("v0"), interface=Greeter, version="0")
    greeter = services.get("greeter", Greeter)
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def caller(slot: int) -> None:
        try:
            while not stop.is_set():
                seen[slot].append(int(greeter.version()[1:]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for n in range(1, 200):
        services.replace("greeter", Polite(f"v{n}"), version=str(n))
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert all(s for s in seen)
    for versions in seen:  # each thread only ever moves forward through the versions
        assert versions == sorted(versions)
    assert greeter.version() == "v199"


class ClosingService(Polite):
    closed = 0

    def close(self) -> None:
        ClosingService.closed += 1


class GreeterPlugin:
    @hookimpl
    def ficha_services(self, ficha: object) -> list[ServiceDef]:
        return [ServiceDef("greeter", ClosingService("plugin"), Greeter, "3.1")]


def test_plugins_and_ficha_itself_register_through_the_hook(
    sqlite_project: ProjectFactory,
) -> None:
    from framework.app import Ficha
    from framework.settings import Settings

    sqlite_project.write({"product": SHOP["product"]})
    pm = get_plugin_manager(entry_points_too=False, extra=(GreeterPlugin(),))
    ClosingService.closed = 0
    ficha = Ficha.load(Settings.load(sqlite_project.root), pm)
    try:
        assert ficha.services.get("greeter", Greeter).version() == "plugin"
        registration = ficha.services.registration("greeter")
        assert registration.version == "3.1"
        assert registration.source != "framework.builtin_services"
        assert {"database", "records", "reader"} <= set(ficha.services.names())
        assert ficha.services.registration("records").source == "framework.builtin_services"
        database = ficha.services.health("database")
        assert database.ok and "sqlite" in database.detail
    finally:
        ficha.close()
    assert ClosingService.closed == 1


class BadPlugin:
    @hookimpl
    def ficha_services(self, ficha: object) -> list[ServiceDef]:
        return [ServiceDef("greeter", Rude(), Greeter)]


def test_a_plugin_service_missing_a_method_stops_the_load(
    sqlite_project: ProjectFactory,
) -> None:
    from framework.app import Ficha
    from framework.settings import Settings

    sqlite_project.write({})
    pm = get_plugin_manager(entry_points_too=False, extra=(BadPlugin(),))
    with pytest.raises(InterfaceMismatch, match="greet"):
        Ficha.load(Settings.load(sqlite_project.root), pm)


def test_the_services_page_shows_health_to_admins_only(
    sqlite_project: ProjectFactory,
) -> None:
    from starlette.testclient import TestClient

    from app_builder.security import COOKIE
    from framework.app import Ficha, create_app
    from framework.settings import Settings
    from storage.migrations import migrate
    from tests.conftest import make_user, session_cookie

    class Flaky(Polite):
        def health(self) -> Health:
            raise ConnectionError("the mainframe at 10.0.0.9 refused the connection")

    class FlakyPlugin:
        @hookimpl
        def ficha_services(self, ficha: object) -> list[ServiceDef]:
            return [ServiceDef("mainframe", Flaky("v7"), Greeter, "7.2", "the old billing")]

    sqlite_project.write({"product": SHOP["product"]}, settings="")
    (sqlite_project.root / "roles.yaml").write_text(
        "roles:\n  agent:\n    objects:\n      product: {read: all}\n"
    )
    pm = get_plugin_manager(entry_points_too=False, extra=(FlakyPlugin(),))
    ficha = Ficha.load(Settings.load(sqlite_project.root), pm)
    try:
        migrate(ficha.storage, ficha.settings.migrations_dir)
        make_user(ficha)
        make_user(ficha, "agent", role="agent")
        app = create_app(ficha.settings, ficha=ficha)
        with TestClient(app) as client:
            client.cookies.set(COOKIE, session_cookie(ficha))
            page = client.get("/admin/services")
            assert page.status_code == 200
            text = page.text
            assert "1 service down" in text
            row = text[text.index('data-service="mainframe"') :]
            row = row[: row.index("</tr>")]
            assert "tests.framework.test_services.Greeter" in row
            assert "Flaky" in row and "7.2" in row and "the old billing" in row
            assert "down" in row and "the mainframe at 10.0.0.9 refused the connection" in row
            database = text[text.index('data-service="database"') :]
            assert ">up<" in database[: database.index("</tr>")]
            ficha.services.replace("mainframe", Polite("v8"), version="8.0")
            again = client.get("/admin/services").text
            row = again[again.index('data-service="mainframe"') :]
            row = row[: row.index("</tr>")]
            assert "8.0" in row and "replaced 1 time)" in row and ">up<" in row

            client.cookies.set(COOKIE, session_cookie(ficha, "agent"))
            refused = client.get("/admin/services")
            assert refused.status_code in (403, 404)
            assert "mainframe" not in refused.text
    finally:
        ficha.close()
