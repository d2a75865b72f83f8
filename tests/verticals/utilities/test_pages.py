"""A second pack's board, declared in YAML only (verticals/utilities/pages/): the field
team's service orders by status, on SQLite, PostgreSQL and MariaDB. A move goes through
the order's workflow and rules; a refused one says why and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from tests.verticals.core.conftest import client_for
from tests.verticals.utilities.helpers import supply

COLUMN = re.compile(r'<section class="ficha-column" data-state="(\w+)"')


def _column_of(page: str, order: int) -> str | None:
    """The column a card is in, read from the page."""
    column = None
    for part in re.split(r"(?=<section class=\"ficha-column\")", page):
        found = COLUMN.match(part)
        if found:
            column = found.group(1)
            if f'data-id="{order}"' in part:
                return column
    return None


def test_the_utilities_board_moves_orders_through_their_workflow(utility: Any) -> None:
    made = supply(utility, "Tablero")
    cut = utility.records.create(
        "service_order", {"kind": "disconnection", "supply_point": made.supply_point}
    )
    with client_for(utility) as client:
        page = client.get("/admin/service-orders")
        assert page.status_code == 200, page.text[-500:]
        assert "Service orders by status" in page.text
        assert COLUMN.findall(page.text) == ["open", "scheduled", "done", "cancelled"]
        assert _column_of(page.text, cut.id) == "open"
        token = client.cookies.get("starlette_admin_csrftoken") or ""

        def move(to: str) -> Any:
            version = utility.records.get("service_order", cut.id)["version"]
            return client.post(
                "/admin/service-orders/move",
                json={"id": cut.id, "to": to, "version": version},
                headers={"X-CSRFToken": token},
            )

        moved = move("done")
        assert moved.status_code == 200, moved.text
        assert moved.json()["label"] == "Done"
        # the pack's rules ran: the cut is finished and the supply point disconnected
        assert utility.records.get("service_order", cut.id)["completed_at"] is not None
        assert utility.records.get("supply_point", made.supply_point)["status"] == "disconnected"
        refused = move("open")
        assert refused.status_code == 409
        assert "cannot go from Done to Open" in refused.json()["error"]
        assert utility.records.get("service_order", cut.id)["status"] == "done"
        assert _column_of(client.get("/admin/service-orders").text, cut.id) == "done"
