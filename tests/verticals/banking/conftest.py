"""Fixtures of the banking pack's tests: a migrated project with the pack (and core, which
it requires) on each database, once per module, with an admin, a personal manager and a
compliance officer."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BACKENDS, ProjectFactory, _fresh_database, make_user


@pytest.fixture(scope="module", params=BACKENDS)
def bank(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("banking")
    database = _fresh_database(request, str(request.param), root / "db")
    factory = ProjectFactory(root / "proj", next(database))
    try:
        ficha = factory.migrated({}, packs=("banking",))
        make_user(ficha)
        make_user(ficha, "marta", role="admin", name="Marta Gestora")
        make_user(ficha, "carmen", role="compliance", name="Carmen Cumplimiento")
        yield ficha
    finally:
        factory.close()
        database.close()


_N = itertools.count(1)


def user_id(ficha: Any, username: str) -> int:
    table = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        return int(conn.execute(table.select().where(table.c.username == username)).one().id)


def customer(ficha: Any, name: str, *, kyc: str = "verified", kind: str = "person") -> int:
    """An account managed by Marta, with the KYC status given."""
    account = ficha.records.create(
        "account", {"name": name, "kind": kind, "owner": user_id(ficha, "marta")}
    )
    if kyc != "pending":
        ficha.records.update("account", account.id, {"kyc_status": kyc})
    return int(account.id)


def product(ficha: Any, family: str) -> int:
    n = next(_N) * 10_000 + secrets.randbelow(10_000)
    return int(
        ficha.records.create(
            "product",
            {"code": f"BNK-{n}", "name": f"{family} {n}", "family": family, "kind": "service"},
        ).id
    )
