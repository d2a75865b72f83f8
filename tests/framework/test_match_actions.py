"""Rule actions that reach other records — lookup, update, create with save_as and
for_each — and a rule whose condition fails on a nested write still firing for the outer
one; on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt

import pytest

from framework.records import utcnow
from modeler.problems import ModelError
from tests.conftest import ProjectFactory

PERSON = """
object: person
title: name
fields:
  name: {type: string, required: true}
  email: {type: email, index: true}
  main_phone: phone
  phones: {type: has_many, object: phone_number}
"""
PHONE = """
object: phone_number
title: number
fields:
  person: {type: link, object: person, required: true, on_delete: cascade}
  number: {type: phone, required: true}
  primary: {type: boolean, default: false}
rules:
  - name: one primary
    on: save
    if: primary and changed(primary)
    do:
      - update: {object: phone_number, match: {person: =person}, values: {primary: false}}
      - update: {object: person, match: {id: =person}, values: {main_phone: =number}}
"""
LEAD = """
object: lead
title: name
fields:
  name: {type: string, required: true}
  email: email
  status: {type: choice, values: [new, converted], default: new}
  same_email: {type: link, object: person, on_delete: set_null}
  same_lead: {type: link, object: lead, on_delete: set_null}
  person: {type: link, object: person, on_delete: set_null}
  waiting_since: datetime
  waited_hours: {type: decimal, scale: 0}
rules:
  - name: duplicates
    on: save
    if: changed(email)
    do:
      - lookup: {object: person, match: {email: =email}, field: same_email}
      - lookup: {object: lead, match: {email: =email}, field: same_lead}
  - name: convert
    on: {transition: status, to: converted}
    if: same_email is null
    do:
      - create: {object: person, values: {name: =name, email: =email}, save_as: person}
      - create: {object: phone_number, values: {person: =person, number: "600 00 00 01"}}
"""
ORDER = """
object: basket
title: name
fields:
  name: {type: string, required: true}
  status: {type: choice, values: [open, ordered], default: open}
  order: {type: link, object: shop_order, on_delete: set_null}
  items: {type: has_many, object: basket_item}
rules:
  - name: order it
    on: {transition: status, to: ordered}
    do:
      - create: {object: shop_order, values: {name: =name}, save_as: order}
      - create:
          object: order_item
          for_each: items
          values: {order: =basket.order, what: =what, quantity: =quantity}
---
object: basket_item
title: what
fields:
  basket: {type: link, object: basket, required: true, on_delete: cascade}
  what: {type: string, required: true}
  quantity: integer
---
object: shop_order
title: name
fields:
  name: string
  items: {type: has_many, object: order_item}
---
object: order_item
title: what
fields:
  order: {type: link, object: shop_order, required: true, on_delete: cascade}
  what: string
  quantity: integer
"""


def test_update_keeps_one_primary_phone(project: ProjectFactory) -> None:
    ficha = project.migrated({"person": PERSON, "phone": PHONE})
    rec = ficha.records
    ana = rec.create("person", {"name": "Ana"})
    first = rec.create("phone_number", {"person": ana.id, "number": "600111222", "primary": True})
    other = rec.create("person", {"name": "Eva"})
    hers = rec.create("phone_number", {"person": other.id, "number": "600999999", "primary": True})
    second = rec.create("phone_number", {"person": ana.id, "number": "600111333", "primary": True})
    assert rec.get("phone_number", first.id)["primary"] is False
    assert rec.get("phone_number", second.id)["primary"] is True
    assert rec.get("phone_number", hers.id)["primary"] is True  # another person's: untouched
    assert rec.get("person", ana.id)["main_phone"] == "+34600111333"


def test_lookup_finds_duplicates_and_never_itself(project: ProjectFactory) -> None:
    ficha = project.migrated({"person": PERSON, "phone": PHONE, "lead": LEAD})
    rec = ficha.records
    eva = rec.create("person", {"name": "Eva", "email": "eva@example.com"})
    lead = rec.create("lead", {"name": "Eva L.", "email": "EVA@example.com"})
    found = rec.get("lead", lead.id)
    assert found["same_email"].id == eva.id
    assert found["same_lead"] is None  # the lead itself is not its own duplicate
    twin = rec.create("lead", {"name": "Eva again", "email": "eva@example.com"})
    assert rec.get("lead", twin.id)["same_lead"].id == lead.id
    rec.update("lead", twin.id, {"email": None})  # an empty value matches nothing
    assert rec.get("lead", twin.id)["same_email"] is None
    assert rec.get("lead", twin.id)["same_lead"] is None


def test_create_save_as_gives_later_actions_the_new_record(project: ProjectFactory) -> None:
    ficha = project.migrated({"person": PERSON, "phone": PHONE, "lead": LEAD})
    rec = ficha.records
    lead = rec.create("lead", {"name": "Luis", "email": "luis@example.com"})
    rec.update("lead", lead.id, {"status": "converted"})
    person = rec.get("lead", lead.id)["person"]
    assert person is not None and person.title == "Luis"
    with ficha.storage.read() as conn:
        phones, _ = ficha.reader.related(conn, "person", person.id, "phones")
    assert [p["number"] for p in phones] == ["+34600000001"]


def test_create_for_each_copies_the_related_records(project: ProjectFactory) -> None:
    ficha = project.migrated({"order": ORDER})
    rec = ficha.records
    basket = rec.create("basket", {"name": "Weekly"})
    for what, quantity in (("bread", 2), ("milk", 6)):
        rec.create("basket_item", {"basket": basket.id, "what": what, "quantity": quantity})
    rec.update("basket", basket.id, {"status": "ordered"})
    order = rec.get("basket", basket.id)["order"]
    with ficha.storage.read() as conn:
        items, total = ficha.reader.related(conn, "shop_order", order.id, "items")
    assert total.value == 2
    assert sorted((i["what"], i["quantity"]) for i in items) == [("bread", 2), ("milk", 6)]


def test_time_between_two_moments_moves_a_due_date(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(
        {
            "case": """
            object: case
            fields:
              name: string
              due: datetime
              paused_since: datetime
              status: {type: choice, values: [open, waiting], default: open}
            rules:
              - name: resume
                on: update
                if: changed(status) and status == "open" and paused_since is not null
                do:
                  - set: {due: '=due + (now() - paused_since)', paused_since: null}
            """
        }
    )
    rec = ficha.records
    due = utcnow() + dt.timedelta(hours=4)
    paused = utcnow() - dt.timedelta(hours=3)
    case = rec.create(
        "case", {"name": "x", "due": due, "paused_since": paused, "status": "waiting"}
    )
    rec.update("case", case.id, {"status": "open"})
    moved = rec.get("case", case.id)["due"]
    assert abs((moved - (due + dt.timedelta(hours=3))).total_seconds()) <= 2


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            "lookup: {object: persn, match: {email: =email}, field: same_email}",
            "lookup in rule 'r' names unknown object 'persn'",
        ),
        (
            "lookup: {object: person, match: {emial: =email}, field: same_email}",
            "Person has no field 'emial' to match in lookup of rule 'r'",
        ),
        (
            "lookup: {object: person, match: {email: =email}, field: name}",
            "field of lookup in rule 'r' must be a link of lead to person ('name' is not one)",
        ),
        (
            "update: {object: person, values: {name: x}}",
            "update in rule 'r' needs match: the fields that must be equal",
        ),
        (
            "create: {object: person, values: {name: x}, save_as: same_lead}",
            "save_as of create in rule 'r' must be a link of lead to person",
        ),
        (
            "create: {object: person, values: {name: x}, for_each: name}",
            "for_each of create in rule 'r' must be a has_many or many_to_many of lead",
        ),
    ],
)
def test_wrong_settings_are_reported_at_load(
    sqlite_project: ProjectFactory, action: str, message: str
) -> None:
    lead = f"""
    object: lead
    title: name
    fields:
      name: {{type: string, required: true}}
      email: email
      same_email: {{type: link, object: person}}
      same_lead: {{type: link, object: lead}}
    rules:
      - name: r
        on: save
        do:
          - {action}
    """
    sqlite_project.write({"person": PERSON, "phone": PHONE, "lead": lead})
    with pytest.raises(ModelError) as info:
        sqlite_project.load()
    assert message in str(info.value)


def test_a_rule_not_run_on_a_nested_write_still_runs_for_the_change(
    sqlite_project: ProjectFactory,
) -> None:
    # The first rule's write is seen by the second rule first (nothing it watches
    # changed there): the second must still run for the user's own change.
    ficha = sqlite_project.migrated(
        {
            "case": """
            object: case
            fields:
              status: {type: choice, values: [new, open, waiting], default: new}
              answered: boolean
              paused: boolean
            rules:
              - name: first answer
                on: update
                if: changed(status) and answered is null
                do:
                  - set: {answered: true}
              - name: pause
                on: update
                if: changed(status) and status == "waiting"
                do:
                  - set: {paused: true}
            """
        }
    )
    case = ficha.records.create("case", {})
    ficha.records.update("case", case.id, {"status": "waiting"})
    found = ficha.records.get("case", case.id)
    assert found["answered"] is True and found["paused"] is True
