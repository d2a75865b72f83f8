"""The utilities pack as a whole, on SQLite, PostgreSQL and MariaDB: it loads with the
core pack it requires, migrates to exactly its model, and every screen of every object it
declares or extends — list, create form, record page, edit form — renders for an admin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from storage.drift import drift
from tests.conftest import session_cookie
from tests.verticals.utilities.helpers import supply
from verticals.utilities import PACK

EXTENDED = ("account", "product", "contract")


def one_of_everything(ficha: Any) -> dict[str, int]:
    made = supply(ficha)
    create = ficha.records.create
    ids = {
        "account": made.account,
        "service_area": made.area,
        "premise": made.premise,
        "supply_point": made.supply_point,
        "meter": made.meter,
        "product": made.product,
        "contract": made.contract,
    }
    ids["meter_reading"] = create(
        "meter_reading", {"meter": made.meter, "read_on": "2026-01-31", "consumption": "250.5"}
    ).id
    outage = create("outage", {"area": made.area, "service": "electricity"})
    ids["outage"] = outage.id
    ids["incident_report"] = create(
        "incident_report", {"summary": "No light", "area": made.area, "account": made.account}
    ).id
    ids["billing_dispute"] = create(
        "billing_dispute",
        {"account": made.account, "disputed_amount": "80.00", "reason": "wrong_tariff"},
    ).id
    ids["service_order"] = create(
        "service_order", {"kind": "inspection", "supply_point": made.supply_point}
    ).id
    ids["move_request"] = create(
        "move_request",
        {
            "kind": "move_out",
            "account": made.account,
            "premise": made.premise,
            "supply_point": made.supply_point,
            "move_date": dt.date(2026, 6, 30),
        },
    ).id
    return ids


def test_the_pack_loads_migrates_and_every_screen_renders(utility: Any) -> None:
    assert [p.name for p in utility.model.packs][-2:] == ["core", "utilities"]
    pack_objects = [o.name for o in utility.model if o.pack == "utilities"]
    assert len(pack_objects) == 10
    assert drift(utility.storage) == []  # the migrated database is exactly the model
    assert {"churn_risk", "complaints_30d", "supply_points"} <= set(utility.model["account"].fields)
    ids = one_of_everything(utility)
    assert set(pack_objects) <= set(ids)
    with TestClient(create_app(utility.settings, ficha=utility)) as client:
        client.cookies.set(COOKIE, session_cookie(utility))
        for name in (*pack_objects, *EXTENDED):
            for page in ("list", "create"):
                response = client.get(f"/admin/{name}/{page}")
                assert response.status_code == 200, (name, page, response.text[-800:])
            for page in ("detail", "edit"):
                response = client.get(f"/admin/{name}/{page}", params={"pk": ids[name]})
                assert response.status_code == 200, (name, page, response.text[-800:])
        # what the pack adds shows where a user looks for it
        detail = client.get("/admin/account/detail", params={"pk": ids["account"]}).text
        assert "Churn risk" in detail and "Supply points held" in detail
        listed = client.get("/admin/supply_point/list").text
        assert "Supply points" in listed
        # the pack's reports, with the records above in them
        reports = sorted(p.stem for p in (PACK.path / "reports").glob("*.yaml"))
        assert len(reports) >= 2
        for name in reports:
            response = client.get(f"/admin/reports/{name}")
            assert response.status_code == 200, (name, response.text[-800:])
        wallboard = client.get("/admin/monitors/network_now")
        assert wallboard.status_code == 200, wallboard.text[-800:]
        assert "Outages not restored" in wallboard.text and "OUT-" in wallboard.text
