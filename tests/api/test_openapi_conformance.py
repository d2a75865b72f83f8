"""Schemathesis against the generated OpenAPI document of the core pack, on SQLite and
PostgreSQL: generated requests to every operation never get a server error, and every
response (status, content type, headers, body) matches the document."""

from __future__ import annotations

import collections
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from framework.app import create_app
from tests.conftest import make_user

#: examples per operation: enough to reach every status of each, kept modest for `make test`
EXAMPLES = int(os.environ.get("FICHA_API_EXAMPLES", "4"))
STATS: collections.Counter[tuple[str, int]] = collections.Counter()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
def test_every_operation_conforms(crm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHA_API_RATE_LIMIT", "1000000")
    STATS.clear()
    user = make_user(crm)
    token = crm.auth.create_token(user.id, "schemathesis")
    account = crm.records.create("account", {"name": "Seed account"})
    crm.records.create("opportunity", {"name": "Seed deal", "account": account.id})
    app = create_app(crm.settings, ficha=crm)
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        headers = {"Authorization": f"Bearer {token}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 6 * len(list(crm.model))
        for operation in operations:
            _exercise(operation, headers)
    # the run reached records, not only refusals
    assert STATS[("GET", 200)] and STATS[("POST", 201)], STATS


def _exercise(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        STATS[(operation.method.upper(), response.status_code)] += 1

    run()
