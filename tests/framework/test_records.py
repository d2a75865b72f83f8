"""The records service on SQLite, PostgreSQL and MariaDB: every write checked, one
transaction each, and a reason for every refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from framework.errors import Conflict, NotFound, ValidationFailed
from framework.records import Actor
from tests.conftest import ProjectFactory
from tests.samples import SHOP

M2M = {
    "contact": """
        object: contact
        fields:
          name: {type: string, required: true}
          deals: {type: many_to_many, object: deal, via: contacts}
        """,
    "deal": """
        object: deal
        fields:
          title: {type: string, required: true}
          contacts:
            type: many_to_many
            object: contact
            fields:
              role: {type: choice, values: [decision_maker, user]}
        """,
}


def rows(ficha, table: str) -> int:
    with ficha.storage.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(ficha.storage.table(table))
        ).scalar_one()


def test_create_applies_types_defaults_and_autonumbers(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    records = ficha.records
    ana = records.create(
        "customer",
        {
            "name": " Ana López ",
            "email": "ANA@example.com",
            "phone": "600 123 456",
            "credit_limit": "1.500,00".replace(".", "").replace(",", "."),
            "tags": "vip, partner",
        },
    )
    assert ana["name"] == "Ana López"
    assert ana["email"] == "ana@example.com"
    assert ana["phone"] == "+34600123456"
    assert ana["credit_limit"] == Decimal("1500.00")
    assert ana["segment"] == "smb"  # default
    assert ana["active"] is True
    assert ana["since"] == dt.date.today()
    assert ana["tags"] == ["vip", "partner"]
    assert ana["version"] == 1
    first = records.create("order", {"customer": ana.id})
    second = records.create("order", {"customer": ana.id, "quantity": 3})
    year = dt.date.today().year
    assert first["number"] == f"ORD-{year}-00001"
    assert second["number"] == f"ORD-{year}-00002"
    assert first["customer"].title == "Ana López"  # a link comes back with its title
    assert first["quantity"] == 1


def test_a_refused_write_names_each_field_and_changes_nothing(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    with pytest.raises(ValidationFailed) as info:
        ficha.records.create(
            "customer",
            {"email": "not-an-email", "credit_limit": "-5", "segment": "gold", "colour": "red"},
        )
    assert info.value.errors == {
        "name": "is required",
        "email": "'not-an-email' is not a valid email address: An email address must have an "
        "@-sign.",
        "credit_limit": "must be at least 0",
        "segment": "'gold' is not one of: smb, ent",
        "colour": "Customer has no field 'colour'",
    }
    assert rows(ficha, "customer") == 0


UNIQUE_PAIR = {
    "team": "object: team_x\nfields:\n  name: string\n",
    "member": """
        object: member
        fields:
          name: string
          team: {type: link, object: team_x}
        unique:
          - [name, team]
        """,
}


def test_a_unique_combination_is_refused_in_words_on_its_first_field(
    project: ProjectFactory,
) -> None:
    ficha = project.migrated(UNIQUE_PAIR)
    records = ficha.records
    north, south = (records.create("team_x", {"name": n}) for n in ("North", "South"))
    ana = records.create("member", {"name": "Ana", "team": north.id})
    records.create("member", {"name": "Ana", "team": south.id})  # another team: fine
    records.create("member", {"name": "Ana"})  # no team: an empty part never clashes
    with pytest.raises(ValidationFailed) as info:
        records.create("member", {"name": "Ana", "team": north.id})
    assert info.value.errors == {
        "name": f"member #{ana.id} already has this name and team; "
        "the name and team together must be unique"
    }
    other = records.create("member", {"name": "Bea", "team": north.id})
    with pytest.raises(ValidationFailed) as info:
        records.update("member", other.id, {"name": "Ana"})
    assert "already has this name and team" in info.value.errors["name"]
    records.update("member", ana.id, {"name": "Ana"})  # itself is no clash
    assert rows(ficha, "member") == 4


def test_a_field_named_with_a_word_one_database_reserves_works(project: ProjectFactory) -> None:
    ficha = project.migrated({"dish": "object: dish\nfields:\n  portion: integer\n"})
    dish = ficha.records.create("dish", {"portion": 2})
    assert ficha.records.get("dish", dish.id)["portion"] == 2


def test_unique_values_and_links_are_checked(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    records = ficha.records
    ana = records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    with pytest.raises(ValidationFailed) as info:
        records.create("customer", {"name": "Ana 2", "email": "ana@example.com"})
    assert info.value.errors == {
        "email": f"'ana@example.com' is already used by customer #{ana.id}"
    }
    with pytest.raises(ValidationFailed) as info:
        records.create("order", {"customer": 999})
    assert info.value.errors == {"customer": "there is no customer with id 999"}
    with pytest.raises(ValidationFailed) as info:
        records.create("product", {"code": "bad code", "name": "X"})
    assert info.value.errors == {"code": "does not have the expected form ([A-Z0-9-]+)"}
    assert rows(ficha, "order") == 0


def test_update_records_changes_and_refuses_stale_versions(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    records = ficha.records
    seen = []
    records.subscribe(seen.append)
    ana = records.create("customer", {"name": "Ana"}, Actor(7, "maria", "screen"))
    updated = records.update(
        "customer",
        ana.id,
        {"segment": "ent", "name": "Ana"},
        Actor(8, "luis", "api"),
        expected_version=1,
    )
    assert updated["version"] == 2
    assert updated["updated_by"] == 8 and updated["created_by"] == 7
    assert seen[-1].kind == "updated"
    assert dict(seen[-1].changes) == {"segment": ("smb", "ent")}
    assert seen[-1].actor.channel == "api"
    with pytest.raises(Conflict, match="changed by someone else"):
        records.update("customer", ana.id, {"name": "Ana M."}, expected_version=1)
    assert records.get("customer", ana.id)["name"] == "Ana"
    unchanged = records.update("customer", ana.id, {"name": "Ana"})
    assert unchanged["version"] == 2  # nothing changed, nothing written


def test_delete_is_soft_restorable_and_respects_links(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    records = ficha.records
    ana = records.create("customer", {"name": "Ana"})
    pen = records.create("product", {"code": "PEN", "name": "Pen"})
    order = records.create("order", {"customer": ana.id, "product": pen.id})
    with pytest.raises(
        ValidationFailed,
        match=r"1 order still links to it through 'Customer'; delete it or change its "
        r"customer first",
    ):
        records.delete("customer", ana.id)
    records.delete("product", pen.id)  # on_delete: set_null
    assert records.get("order", order.id)["product"] is None
    with pytest.raises(NotFound):
        records.get("product", pen.id)
    records.restore("product", pen.id)
    assert records.get("product", pen.id)["name"] == "Pen"
    records.delete("order", order.id)
    records.delete("customer", ana.id)
    assert rows(ficha, "customer") == 1  # still there, only marked deleted
    with ficha.storage.read() as conn:
        assert ficha.reader.count(conn, "customer").value == 0


def test_many_to_many_with_both_sides(project: ProjectFactory) -> None:
    ficha = project.migrated(M2M)
    records = ficha.records
    ana = records.create("contact", {"name": "Ana"})
    luis = records.create("contact", {"name": "Luis"})
    deal = records.create("deal", {"title": "Fibre", "contacts": [ana.id, luis.id]})
    assert [r.title for r in deal["contacts"]] == ["Ana", "Luis"]
    with ficha.storage.read() as conn:
        back = ficha.reader.m2m_links(conn, "contact", "deals", [ana.id, luis.id])
    assert [r.title for r in back[ana.id]] == ["Fibre"]
    records.update("deal", deal.id, {"contacts": [luis.id]})
    with ficha.storage.read() as conn:
        back = ficha.reader.m2m_links(conn, "contact", "deals", [ana.id, luis.id])
    assert back[ana.id] == [] and [r.title for r in back[luis.id]] == ["Fibre"]
    with pytest.raises(ValidationFailed, match="there is no contact with id 999"):
        records.update("deal", deal.id, {"contacts": [luis.id, 999]})
