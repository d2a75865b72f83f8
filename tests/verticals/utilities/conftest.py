"""Fixtures of the utilities pack's tests: a migrated project with the pack (and core,
which it requires) on each database, once per module, with an admin and a field manager."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BACKENDS, ProjectFactory, _fresh_database, make_user


@pytest.fixture(scope="module", params=BACKENDS)
def utility(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("utilities")
    database = _fresh_database(request, str(request.param), root / "db")
    factory = ProjectFactory(root / "proj", next(database))
    try:
        ficha = factory.migrated({}, packs=("utilities",))
        make_user(ficha)
        make_user(ficha, "nuria", role="field_manager", name="Nuria Field")
        yield ficha
    finally:
        factory.close()
        database.close()
