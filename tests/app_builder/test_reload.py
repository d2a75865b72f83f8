"""`ficha serve --reload`: a changed YAML swaps in new screens behind the same address; a
broken one keeps the running screens; one that needs `ficha migrate` waits for it."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from app_builder.security import COOKIE
from app_builder.site import ReloadWatcher
from framework.app import create_app
from storage.migrations import migrate
from tests.conftest import ProjectFactory, make_user, session_cookie
from tests.samples import CUSTOMER, SHOP

NOTE = """
object: note
fields:
  text: {type: string, required: true}
"""


def signed_in(app, ficha) -> TestClient:
    make_user(ficha)
    client = TestClient(app)
    client.cookies.set(COOKIE, session_cookie(ficha))
    return client


def watcher_of(app) -> ReloadWatcher:
    return ReloadWatcher(
        app.state.ficha_state["ficha"].settings, app.state.admin, app.state.ficha_state
    )


def test_a_label_change_is_served_without_a_restart(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(SHOP)
    app = create_app(ficha.settings, ficha=ficha)
    client = signed_in(app, ficha)
    assert "Customers" in client.get("/admin/customer/list").text
    sqlite_project.write({**SHOP, "customer": CUSTOMER.replace("label: Customer", "label: Client")})
    assert watcher_of(app).reload()
    page = client.get("/admin/customer/list")
    assert page.status_code == 200 and "Clients" in page.text


def test_a_broken_yaml_keeps_the_running_screens(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(SHOP)
    app = create_app(ficha.settings, ficha=ficha)
    client = signed_in(app, ficha)
    sqlite_project.write({**SHOP, "customer": CUSTOMER.replace("type: email", "type: emial")})
    watcher = watcher_of(app)
    assert not watcher.reload()
    assert "objects/customer.yaml:7:17: unknown field type 'emial'" in watcher.last_error
    assert client.get("/admin/customer/list").status_code == 200


def test_a_new_object_waits_for_migrate(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(SHOP)
    app = create_app(ficha.settings, ficha=ficha)
    client = signed_in(app, ficha)
    sqlite_project.write({**SHOP, "note": NOTE})
    watcher = watcher_of(app)
    assert not watcher.reload()
    assert "run 'ficha migrate'" in watcher.last_error and "create note" in watcher.last_error
    assert client.get("/admin/note/list").status_code == 404
    fresh = sqlite_project.load()
    migrate(fresh.storage, fresh.settings.migrations_dir)
    assert watcher.reload()
    assert client.get("/admin/note/list").status_code == 200


def test_the_watcher_thread_notices_changes(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(SHOP)
    app = create_app(ficha.settings, ficha=ficha, reload=True)
    watcher: ReloadWatcher = app.state.reload_watcher
    try:
        generation = app.state.admin.generation
        sqlite_project.write(
            {**SHOP, "customer": CUSTOMER.replace("label: Customer", "label: Client")}
        )
        deadline = time.monotonic() + 10
        while app.state.admin.generation == generation and time.monotonic() < deadline:
            time.sleep(0.1)
        assert app.state.admin.generation == generation + 1
    finally:
        watcher.stop()
