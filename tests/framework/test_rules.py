"""Behaviour declared in YAML, on SQLite, PostgreSQL and MariaDB: computed fields and
roll-ups, validation rules, conditional fields, workflows, business rules with each
trigger and action, the scheduler, and the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from framework.errors import Conflict, ValidationFailed
from framework.records import Actor, utcnow
from framework.scheduler import next_time
from modeler.problems import ModelError
from tests.conftest import ProjectFactory

ACCOUNT = """
object: account
title: name
fields:
  name: {type: string, required: true}
  owner: {type: link, object: user}
  tier: {type: choice, values: [bronze, gold]}
  won_amount: {type: money, formula: 'sum(opportunities.amount where stage == "won")'}
  open_deals: {type: integer, formula: 'count(opportunities where stage not in ("won", "lost"))'}
  opportunities: {type: has_many, object: opportunity}
rules:
  - name: gold when big
    on: {change: won_amount}
    if: won_amount >= 100000
    do:
      - set: {tier: gold}
"""
OPPORTUNITY = """
object: opportunity
title: name
fields:
  name: {type: string, required: true}
  account: {type: link, object: account, required: true}
  owner: {type: link, object: user}
  amount: {type: money, min: 0}
  probability: {type: percent}
  weighted: {type: money, formula: amount * probability / 100}
  age_days: {type: integer, formula: 'days_between(created_at, today())', stored: false}
  stage:
    type: choice
    default: prospecting
    values: [prospecting, qualification, rfp_received, proposal, won, lost]
  lost_reason: {type: text, required_when: 'stage == "lost"'}
  closed_note: {type: string, read_only_when: 'stage in ("won", "lost")'}
validations:
  - check: probability is null or probability <= 100
    message: A probability cannot be above 100%
    field: probability
  - check: amount > 0
    when: stage == "won"
    message: A won deal needs an amount
workflow:
  field: stage
  transitions:
    - {from: prospecting, to: qualification}
    - {from: [prospecting, qualification], to: rfp_received}
    - {from: rfp_received, to: proposal}
    - {from: proposal, to: won, when: "amount > 0", roles: [sales_manager]}
    - {from: "*", to: lost}
rules:
  - name: senior review
    on: {transition: stage, to: rfp_received}
    if: amount > 50000
    do:
      - create:
          object: task
          values:
            subject: '="Review with a senior manager: " + name'
            opportunity: =id
            assigned_to: =owner.manager
            due: =now() + 2d
      - notify: {to: =owner.manager, message: 'Review {name} ({amount} EUR) within 2 days'}
  - name: welcome mail
    on: create
    do:
      - email: {to: "sales@example.com", subject: 'New deal {name}', body: 'Stage {stage}'}
  - name: follow up
    on: {after: create, minutes: 30}
    if: stage == "prospecting"
    do:
      - set: {probability: 10}
  - name: round robin
    on: create
    if: owner is null
    do:
      - assign: {field: owner, team: Sales}
"""
TASK = """
object: task
title: subject
fields:
  subject: {type: string, required: true}
  opportunity: {type: link, object: opportunity, on_delete: cascade}
  assigned_to: {type: link, object: user}
  due: datetime
"""
CRM = {"account": ACCOUNT, "opportunity": OPPORTUNITY, "task": TASK}


@pytest.fixture
def crm(project: ProjectFactory):
    ficha = project.migrated(CRM)
    rec = ficha.records
    team = rec.create("team", {"name": "Sales"})
    boss = rec.create("user", {"username": "boss", "name": "Berta Boss", "role": "sales_manager"})
    ana = rec.create(
        "user",
        {"username": "ana", "name": "Ana", "team": team.id, "manager": boss.id, "role": "sales"},
    )
    luis = rec.create(
        "user",
        {"username": "luis", "name": "Luis", "team": team.id, "manager": boss.id, "role": "sales"},
    )
    acme = rec.create("account", {"name": "Acme", "owner": ana.id})
    return ficha, {"boss": boss.id, "ana": ana.id, "luis": luis.id, "acme": acme.id}


def tasks(ficha) -> list:
    with ficha.storage.read() as conn:
        return ficha.reader.list(conn, "task", limit=0)


def test_the_seed_example_is_one_declarative_rule(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    big = rec.create(
        "opportunity",
        {"name": "Fibre for Acme", "account": ids["acme"], "owner": ids["ana"], "amount": "60000"},
    )
    small = rec.create(
        "opportunity",
        {"name": "Router", "account": ids["acme"], "owner": ids["ana"], "amount": "40000"},
    )
    for opp in (big, small):
        rec.update(
            "opportunity", opp.id, {"stage": "rfp_received"}, Actor(ids["ana"], "Ana", "screen")
        )
    [task] = tasks(ficha)
    assert task["subject"] == "Review with a senior manager: Fibre for Acme"
    assert task["assigned_to"].id == ids["boss"]
    assert task["opportunity"].id == big.id
    due = task["due"] - utcnow()
    assert dt.timedelta(days=1, hours=23) < due <= dt.timedelta(days=2)
    with ficha.storage.read() as conn:
        [note] = ficha.reader.list(conn, "notification", limit=0)
    assert note["recipient"].id == ids["boss"]
    assert note["message"] == "Review Fibre for Acme (60000.00 EUR) within 2 days"


def test_the_record_a_write_returns_holds_what_its_rules_saved(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    deal = rec.create("opportunity", {"name": "Unowned", "account": ids["acme"]})
    stored = rec.get("opportunity", deal.id)
    assert deal["owner"] is not None  # the round-robin rule assigned it while saving
    assert (deal["owner"].id, deal["version"]) == (stored["owner"].id, stored["version"])
    # the version returned is the one to edit from: no "changed by someone else"
    edited = rec.update("opportunity", deal.id, {"amount": "10"}, expected_version=deal["version"])
    assert edited["version"] == deal["version"] + 1


METERS = {
    "meter": """
        object: meter
        fields:
          code: string
          last_read: {type: date, formula: max(readings.taken_on)}
          last_seen: {type: datetime, formula: max(readings.seen_at)}
          readings: {type: has_many, object: reading}
        """,
    "reading": """
        object: reading
        fields:
          meter: {type: link, object: meter}
          taken_on: date
          seen_at: datetime
        """,
}


def test_a_rollup_of_dates_keeps_dates(project: ProjectFactory) -> None:
    ficha = project.migrated(METERS)
    rec = ficha.records
    meter = rec.create("meter", {"code": "M-1"})
    for day in ("2025-01-31", "2025-03-02", "2025-02-14"):
        rec.create("reading", {"meter": meter.id, "taken_on": day, "seen_at": f"{day} 10:30"})
    stored = rec.get("meter", meter.id)
    assert stored["last_read"] == dt.date(2025, 3, 2)
    assert stored["last_seen"] == dt.datetime(2025, 3, 2, 10, 30)


def test_formulas_and_rollups_stay_current(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    opp = rec.create(
        "opportunity", {"name": "A", "account": ids["acme"], "amount": "80000", "probability": "25"}
    )
    assert opp["weighted"] == Decimal("20000.00")
    opp = rec.update("opportunity", opp.id, {"probability": "50"})
    assert opp["weighted"] == Decimal("40000.00")
    boss = Actor(ids["boss"], "Berta", "screen", role="sales_manager")
    for stage in ("rfp_received", "proposal", "won"):
        rec.update("opportunity", opp.id, {"stage": stage}, boss)
    other = rec.create("opportunity", {"name": "B", "account": ids["acme"], "amount": "30000"})
    account = rec.get("account", ids["acme"])
    assert account["won_amount"] == Decimal("80000.00")
    assert account["open_deals"] == 1
    rec.update("opportunity", other.id, {"stage": "rfp_received"})
    rec.update("opportunity", other.id, {"stage": "proposal"})
    rec.update("opportunity", other.id, {"stage": "won"}, boss)
    account = rec.get("account", ids["acme"])
    assert account["won_amount"] == Decimal("110000.00")
    assert account["open_deals"] == 0
    assert account["tier"] == "gold"  # a rule on the roll-up's change fired
    rec.delete("opportunity", other.id)
    assert rec.get("account", ids["acme"])["won_amount"] == Decimal("80000.00")


def test_validation_rules_and_conditional_fields(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    with pytest.raises(ValidationFailed) as info:
        rec.create("opportunity", {"name": "X", "account": ids["acme"], "probability": "150"})
    assert info.value.errors == {"probability": "A probability cannot be above 100%"}
    opp = rec.create("opportunity", {"name": "X", "account": ids["acme"]})
    with pytest.raises(ValidationFailed) as info:
        rec.update("opportunity", opp.id, {"stage": "lost"})
    assert info.value.errors == {"lost_reason": 'is required when stage == "lost"'}
    rec.update("opportunity", opp.id, {"stage": "lost", "lost_reason": "Price"})
    with pytest.raises(ValidationFailed) as info:
        rec.update("opportunity", opp.id, {"closed_note": "late edit"})
    assert info.value.errors == {"closed_note": 'cannot be changed now (stage in ("won", "lost"))'}


def test_workflow_allows_only_declared_transitions(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    opp = rec.create("opportunity", {"name": "W", "account": ids["acme"]})
    with pytest.raises(ValidationFailed) as info:
        rec.update("opportunity", opp.id, {"stage": "won"})
    assert info.value.errors == {
        "stage": "cannot go from Prospecting to Won; from "
        "Prospecting it can go to: Lost, Qualification, "
        "Rfp received"
    }
    rec.update("opportunity", opp.id, {"stage": "rfp_received"})
    rec.update("opportunity", opp.id, {"stage": "proposal"})
    sales = Actor(ids["ana"], "Ana", "screen", role="sales")
    with pytest.raises(ValidationFailed, match="only sales_manager may move it to Won"):
        rec.update("opportunity", opp.id, {"stage": "won", "amount": "10"}, sales)
    boss = Actor(ids["boss"], "Berta", "screen", role="sales_manager")
    with pytest.raises(ValidationFailed) as info:
        rec.update("opportunity", opp.id, {"stage": "won"}, boss)
    assert "it can move to Won only when amount > 0" in info.value.errors["stage"]
    rec.update("opportunity", opp.id, {"stage": "won", "amount": "10"}, boss)
    with ficha.storage.read() as conn:
        record = ficha.reader.get(conn, "opportunity", opp.id)
        assert ficha.records.enforcer.allowed_states(
            conn, ficha.model["opportunity"], record, sales
        ) == ["won", "lost"]


def test_email_and_assign_actions(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    first = rec.create("opportunity", {"name": "One", "account": ids["acme"]})
    second = rec.create("opportunity", {"name": "Two", "account": ids["acme"]})
    owners = [rec.get("opportunity", o.id)["owner"].id for o in (first, second)]
    assert sorted(owners) == sorted([ids["ana"], ids["luis"]])  # round-robin in the team
    with ficha.storage.read() as conn:
        mails = ficha.reader.list(conn, "email_message", limit=0, sort=[])
    assert {m["subject"] for m in mails} == {"New deal One", "New deal Two"}
    assert {m["status"] for m in mails} == {"queued"}
    assert mails[0]["body"] == "Stage Prospecting"


def test_a_timed_rule_runs_once_even_with_two_workers(crm) -> None:
    ficha, ids = crm
    opp = ficha.records.create("opportunity", {"name": "Later", "account": ids["acme"]})
    scheduler = ficha.scheduler
    assert scheduler.tick() == 0  # not due yet
    soon = utcnow() + dt.timedelta(minutes=31)
    [job] = scheduler.due(soon)
    assert scheduler.claim(job, soon)
    assert not scheduler.claim(job, soon)  # a second worker cannot take it
    assert scheduler.run_one(job)
    assert ficha.records.get("opportunity", opp.id)["probability"] == Decimal("10.0000")
    assert scheduler.due(soon) == []


def test_a_crashed_workers_job_is_taken_again(crm) -> None:
    ficha, ids = crm
    ficha.records.create("opportunity", {"name": "Crash", "account": ids["acme"]})
    scheduler = ficha.scheduler
    soon = utcnow() + dt.timedelta(minutes=31)
    [job] = scheduler.due(soon)
    assert scheduler.claim(job, soon)  # … and the worker dies without finishing
    assert scheduler.due(soon) == []
    later = soon + dt.timedelta(minutes=6)  # the claim has expired
    assert scheduler.due(later) == [job]
    assert scheduler.claim(job, later) and scheduler.run_one(job)


def test_scheduled_rules_select_their_records_in_sql(project: ProjectFactory) -> None:
    daily = ACCOUNT.replace(
        """rules:
  - name: gold when big""",
        """rules:
  - name: nightly gold
    on: {schedule: daily 07:00}
    if: 'open_deals == 0 and tier is null'
    do:
      - set: {tier: bronze}
  - name: gold when big""",
    )
    ficha = project.migrated({**CRM, "account": daily})
    rec = ficha.records
    quiet = rec.create("account", {"name": "Quiet"})
    busy = rec.create("account", {"name": "Busy"})
    rec.create("opportunity", {"name": "Open", "account": busy.id})
    with ficha.storage.write() as conn:
        assert ficha.rules.run_scheduled(conn, "account", "nightly gold") == 1
    assert rec.get("account", quiet.id)["tier"] == "bronze"
    assert rec.get("account", busy.id)["tier"] is None
    ficha.start_schedules()
    ficha.start_schedules()  # idempotent: one pending job per schedule
    jobs = ficha.storage.tables.system["job"]
    with ficha.storage.read() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(jobs).where(jobs.c.kind == "recurring")
            ).scalar()
            == 1
        )


def test_the_audit_trail_records_who_what_and_how(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    opp = rec.create(
        "opportunity",
        {"name": "Audited", "account": ids["acme"], "amount": "100"},
        Actor(ids["ana"], "Ana", "api"),
    )
    rec.update("opportunity", opp.id, {"amount": "250"}, Actor(ids["luis"], "Luis", "screen"))
    with ficha.storage.read() as conn:
        history = ficha.audit.history(conn, "opportunity", opp.id)
    update = history[0]
    assert update.action == "updated"
    assert (update.actor_name, update.channel) == ("Luis", "screen")
    assert update.changes["amount"] == ("100.00", "250.00")
    created = next(h for h in history if h.action == "created")
    assert (created.actor_name, created.channel) == ("Ana", "api")
    rule_writes = [h for h in history if h.channel == "rule"]
    assert rule_writes and "round robin" in rule_writes[0].actor_name


def test_a_stale_edit_says_what_changed(crm) -> None:
    ficha, ids = crm
    rec = ficha.records
    opp = rec.create("opportunity", {"name": "Stale", "account": ids["acme"], "owner": ids["ana"]})
    rec.update("opportunity", opp.id, {"amount": "5"}, Actor(ids["luis"], "Luis", "screen"))
    with pytest.raises(Conflict) as info:
        rec.update("opportunity", opp.id, {"name": "Mine"}, expected_version=opp["version"])
    assert "amount (by Luis)" in str(info.value)


def test_rule_loops_are_stopped(project: ProjectFactory) -> None:
    looping = (
        TASK.rstrip()
        + """
  count: integer
rules:
  - name: ping
    on: save
    do:
      - set: {count: '=coalesce(count, 0) + 1'}
"""
    )
    ficha = project.migrated({"task": looping, "opportunity": OPPORTUNITY, "account": ACCOUNT})
    task = ficha.records.create("task", {"subject": "loop"})
    # a rule fires once per record and kind of event within one change: once for the
    # creation, once for the update it caused itself, then never again: no ping-pong
    assert ficha.records.get("task", task.id)["count"] == 2


def test_expression_problems_are_reported_at_load(sqlite_project: ProjectFactory) -> None:
    broken = OPPORTUNITY.replace("if: amount > 50000", "if: amout > 50000").replace(
        "- set: {probability: 10}", "- set: {probabilty: 10}"
    )
    sqlite_project.write({**CRM, "opportunity": broken})
    with pytest.raises(ModelError) as info:
        sqlite_project.load()
    text = [str(p) for p in info.value.problems]
    assert any(
        "in the 'if' of rule 'senior review', character 1 of 'amout > 50000': "
        "Opportunity has no field 'amout' (did you mean 'amount'?)" in t
        for t in text
    )
    assert any(
        "Opportunity has no field 'probabilty' to set" in t and "did you mean 'probability'" in t
        for t in text
    )


def test_schedules_come_due_in_local_time() -> None:
    # 06:30 UTC on a Monday in winter is 07:30 in Madrid: the next 07:00 is tomorrow
    monday = dt.datetime(2026, 11, 23, 6, 30)
    assert next_time("daily 07:00", monday, "Europe/Madrid") == dt.datetime(2026, 11, 24, 6, 0)
    friday = dt.datetime(2026, 11, 27, 9, 0)  # 10:00 in Madrid: past 08:30
    assert next_time("weekdays 08:30", friday, "Europe/Madrid") == dt.datetime(2026, 11, 30, 7, 30)
    assert next_time("every 15 minutes", monday, "UTC") == monday + dt.timedelta(minutes=15)
