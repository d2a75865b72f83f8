"""What the utilities pack's YAML declares, on SQLite, PostgreSQL and MariaDB: unusual
readings open a check task, three complaints in 30 days put an alert on the customer,
incident reports gather into their area's outage, moves change a supply's holder,
service orders connect and cut, disputes and the churn risk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from framework.errors import ValidationFailed
from framework.expressions.evaluate import Context
from framework.records import utcnow
from storage.tables import column_name
from tests.verticals.utilities.helpers import supply


def project_today() -> dt.date:
    """Today on the project's clock (ficha.yaml timezone), as `today()` in rules sees it."""
    return Context().today


def rows(ficha: Any, name: str, **where: Any) -> list[Any]:
    table, obj = ficha.storage.table(name), ficha.model[name]
    query = sa.select(table).where(
        *(table.c[column_name(obj.fields[k])] == v for k, v in where.items())
    )
    with ficha.storage.read() as conn:
        return list(conn.execute(query.order_by(table.c.id)))


def test_a_reading_far_above_the_meters_average_opens_a_check_task(utility: Any) -> None:
    made = supply(utility, "Consumo Alto")
    create = utility.records.create

    def read(day: int, consumption: str) -> Any:
        reading = create(
            "meter_reading",
            {"meter": made.meter, "read_on": dt.date(2026, 1, day), "consumption": consumption},
        )
        return utility.records.get("meter_reading", reading.id)

    # the first readings have no history to compare with, however high
    assert not read(1, "100")["above_average"]
    assert not read(2, "900")["above_average"]
    assert not read(3, "110")["above_average"]
    # earlier average (100 + 900 + 110) / 3 = 370: 700 is not twice that
    assert not read(4, "700")["above_average"]
    assert rows(utility, "activity", account=made.account) == []
    # earlier average (100 + 900 + 110 + 700) / 4 = 452.5: 906 is more than twice that
    high = read(5, "906")
    assert high["above_average"]
    tasks = rows(utility, "activity", account=made.account)
    assert len(tasks) == 1
    assert tasks[0].kind == "task" and "MTR-" in tasks[0].subject
    assert not tasks[0].done and tasks[0].due > utcnow() + dt.timedelta(days=1)
    meter = utility.records.get("meter", made.meter)
    assert meter["reading_count"] == 5
    assert meter["consumption_total"] == pytest.approx(2716)


def complaint(ficha: Any, account: int, days_ago: float = 0) -> Any:
    return ficha.records.create(
        "ticket",
        {
            "subject": "Bad service",
            "account": account,
            "category": "complaint",
            "opened_at": utcnow() - dt.timedelta(days=days_ago),
        },
    )


def test_three_complaints_in_30_days_put_an_alert_on_the_customer(utility: Any) -> None:
    made = supply(utility, "Quejas Frecuentes")
    utility.records.create(  # a question is not a complaint
        "ticket", {"subject": "How do I pay?", "account": made.account, "category": "question"}
    )
    complaint(utility, made.account, days_ago=45)  # too long ago to count
    complaint(utility, made.account, days_ago=10)
    complaint(utility, made.account)
    account = utility.records.get("account", made.account)
    assert account["complaints_30d"] == 2
    assert account["churn_risk"] == "high"  # two complaints in a month
    assert rows(utility, "alert", account=made.account) == []
    complaint(utility, made.account)
    assert utility.records.get("account", made.account)["complaints_30d"] == 3
    alerts = rows(utility, "alert", account=made.account)
    assert [(a.title, a.level, a.active) for a in alerts] == [
        ("3 complaints in 30 days", "critical", True)
    ]
    assert "Quejas Frecuentes" in alerts[0].message
    complaint(utility, made.account)  # a fourth does not raise a second alert
    assert len(rows(utility, "alert", account=made.account)) == 1


def test_the_churn_risk_follows_disputes_tenure_and_the_contract(utility: Any) -> None:
    made = supply(utility, "Riesgo Medio")
    rec = utility.records
    rec.update("account", made.account, {"tenure_months": 40})
    assert rec.get("account", made.account)["churn_risk"] == "low"
    rec.update("contract", made.contract, {"term": "month_to_month"})
    assert rec.get("account", made.account)["churn_risk"] == "medium"
    dispute = rec.create(
        "billing_dispute",
        {"account": made.account, "disputed_amount": "120.00", "reason": "double_charge"},
    )
    assert rec.get("account", made.account)["churn_risk"] == "high"
    assert rec.get("account", made.account)["open_disputes"] == 1
    with pytest.raises(ValidationFailed) as refused:
        rec.update("billing_dispute", dispute.id, {"refund_amount": "150.00"})
    assert refused.value.errors == {
        "refund_amount": "The refund cannot be more than the amount disputed"
    }
    with pytest.raises(ValidationFailed) as no_reason:
        rec.update("billing_dispute", dispute.id, {"status": "upheld"})
    assert "resolution" in no_reason.value.errors
    rec.update(
        "billing_dispute",
        dispute.id,
        {"status": "upheld", "refund_amount": "60.00", "resolution": "Charged twice in May"},
    )
    decided = rec.get("billing_dispute", dispute.id)
    assert decided["resolved_on"] == project_today()
    assert decided["response_due"] == decided["opened_on"] + dt.timedelta(days=30)
    assert rec.get("account", made.account)["churn_risk"] == "medium"


def test_a_dispute_over_an_estimated_reading_orders_a_real_one(utility: Any) -> None:
    made = supply(utility, "Lectura Estimada")
    dispute = utility.records.create(
        "billing_dispute",
        {
            "account": made.account,
            "supply_point": made.supply_point,
            "disputed_amount": "75.00",
            "reason": "estimated_reading",
        },
    )
    orders = rows(utility, "service_order", supply_point=made.supply_point)
    assert [(o.kind, o.status, o.account_id) for o in orders] == [("reading", "open", made.account)]
    reference = utility.records.get("billing_dispute", dispute.id)["reference"]
    assert reference in orders[0].notes


def test_incident_reports_gather_into_the_areas_outage(utility: Any) -> None:
    made = supply(utility, "Sin Luz")
    other = supply(utility, "Otra Zona")
    rec = utility.records
    outage = rec.create("outage", {"area": made.area, "service": "electricity"})

    def report(area: int) -> Any:
        return rec.get(
            "incident_report",
            rec.create("incident_report", {"summary": "No light", "area": area}).id,
        )

    assert report(made.area)["outage"].id == outage.id
    assert report(other.area)["outage"] is None  # no outage there
    report(made.area)
    assert rec.get("outage", outage.id)["status"] == "reported"  # two reports: not yet
    report(made.area)
    confirmed = rec.get("outage", outage.id)
    assert (confirmed["report_count"], confirmed["status"]) == (3, "confirmed")
    assert rec.get("service_area", made.area)["open_outages"] == 1
    rec.update("outage", outage.id, {"status": "restored"})
    restored = rec.get("outage", outage.id)
    assert restored["restored_at"] is not None and not restored["open"]
    assert rec.get("service_area", made.area)["open_outages"] == 0
    assert report(made.area)["outage"] is None  # a restored outage takes no more reports


def test_moving_in_and_out_changes_the_holder_and_ends_the_contract(utility: Any) -> None:
    made = supply(utility, "Se Muda")
    rec = utility.records
    out = rec.create(
        "move_request",
        {
            "kind": "move_out",
            "account": made.account,
            "premise": made.premise,
            "supply_point": made.supply_point,
            "move_date": dt.date(2026, 6, 30),
        },
    )
    rec.update("premise", made.premise, {"occupant": made.account})
    assert rec.get("supply_point", made.supply_point)["status"] == "connected"
    rec.update("move_request", out.id, {"status": "done"})
    point = rec.get("supply_point", made.supply_point)
    assert (point["account"], point["status"]) == (None, "vacant")
    contract = rec.get("contract", made.contract)
    assert (contract["status"], contract["end_date"]) == ("ended", dt.date(2026, 6, 30))
    assert rec.get("premise", made.premise)["occupant"] is None

    newcomer = rec.create("account", {"name": "Recién Llegada", "kind": "person"})
    moving_in = rec.create(
        "move_request",
        {
            "kind": "move_in",
            "account": newcomer.id,
            "premise": made.premise,
            "supply_point": made.supply_point,
            "move_date": dt.date(2026, 7, 1),
        },
    )
    rec.update("move_request", moving_in.id, {"status": "done"})
    point = rec.get("supply_point", made.supply_point)
    assert (point["account"].id, point["status"]) == (newcomer.id, "connected")
    assert rec.get("premise", made.premise)["occupant"].id == newcomer.id

    elsewhere = supply(utility, "Otra Casa")
    with pytest.raises(ValidationFailed) as wrong:
        rec.create(
            "move_request",
            {
                "kind": "move_in",
                "account": newcomer.id,
                "premise": made.premise,
                "supply_point": elsewhere.supply_point,
                "move_date": dt.date(2026, 7, 1),
            },
        )
    assert wrong.value.errors == {"supply_point": "The supply point is not at this premise"}


def test_service_orders_cut_and_reconnect_the_supply(utility: Any) -> None:
    made = supply(utility, "Corte")
    rec = utility.records
    cut = rec.create("service_order", {"kind": "disconnection", "supply_point": made.supply_point})
    rec.update("service_order", cut.id, {"status": "scheduled"})
    assert rec.get("supply_point", made.supply_point)["status"] == "connected"
    rec.update("service_order", cut.id, {"status": "done"})
    assert rec.get("supply_point", made.supply_point)["status"] == "disconnected"
    assert rec.get("service_order", cut.id)["completed_at"] is not None
    back = rec.create("service_order", {"kind": "reconnection", "supply_point": made.supply_point})
    rec.update("service_order", back.id, {"status": "done"})
    assert rec.get("supply_point", made.supply_point)["status"] == "connected"
    with pytest.raises(ValidationFailed):  # a finished order stays finished
        rec.update("service_order", back.id, {"status": "open"})
