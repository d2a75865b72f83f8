"""Fixtures of the API tests: a core-pack project with an administrator and a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from framework.app import create_app
from tests.conftest import ProjectFactory, _fresh_database, make_user


@pytest.fixture(params=("sqlite", "postgresql"))
def crm_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The core pack's API is held to its OpenAPI on SQLite and PostgreSQL."""
    yield from _fresh_database(request, str(request.param), tmp_path / "db")


@pytest.fixture
def crm(tmp_path: Path, crm_database: str) -> Iterator[Any]:
    factory = ProjectFactory(tmp_path / "crm", crm_database)
    factory.write({}, packs=("core",))
    yield factory.migrated()
    factory.close()


@pytest.fixture
def shop_project(sqlite_project: ProjectFactory) -> Any:
    from tests.samples import SHOP

    return sqlite_project.migrated(SHOP)


class Api:
    """A test client with a token, and the project behind it."""

    def __init__(self, ficha: Any, client: TestClient, token: str) -> None:
        self.ficha = ficha
        self.client = client
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


def api_for(ficha: Any, *, role: str | None = "admin", username: str = "admin") -> Api:
    user = make_user(ficha, username, role=role)
    token = ficha.auth.create_token(user.id, "tests")
    client = TestClient(create_app(ficha.settings, ficha=ficha))
    return Api(ficha, client, token)


@pytest.fixture
def shop_api(shop_project: Any) -> Iterator[Api]:
    api = api_for(shop_project)
    with api.client:
        yield api
