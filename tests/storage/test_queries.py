"""Reads on each database: full-text search, exact identifiers, sorting, counting and
pages behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from storage.queries import Count, Sort
from tests.conftest import ProjectFactory
from tests.samples import SHOP

PEOPLE = [
    ("Ana Pérez García", "ana.perez@example.com", "600111222", "ent"),
    ("Luis Pérez Soto", "luis@example.com", "600333444", "smb"),
    ("María Jesús Ortega", "mj.ortega@example.org", "+44 20 7946 0958", "ent"),
    ("Zoe Smith", "zoe@smith.co.uk", "611222333", "smb"),
]


@pytest.fixture
def shop(project: ProjectFactory):
    ficha = project.migrated(SHOP)
    for name, email, phone, segment in PEOPLE:
        ficha.records.create(
            "customer", {"name": name, "email": email, "phone": phone, "segment": segment}
        )
    return ficha


def names(ficha, **kwargs) -> list[str]:
    with ficha.storage.read() as conn:
        return [r["name"] for r in ficha.reader.list(conn, "customer", **kwargs)]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("perez", ["Ana Pérez García", "Luis Pérez Soto"]),  # accents do not matter
        ("PÉREZ ana", ["Ana Pérez García"]),  # every word must match
        ("ort", ["María Jesús Ortega"]),  # words match by prefix
        ("luis@example.com", ["Luis Pérez Soto"]),  # an email typed whole
        ("600 33 34 44", ["Luis Pérez Soto"]),  # a phone in any format
        ("nobody", []),
        ("'; DROP TABLE customer; --", []),  # just words to look for
        ('"ana" OR 1=1 *', []),
    ],
)
def test_search_finds_what_a_user_means(shop, term: str, expected: list[str]) -> None:
    assert names(shop, search=term, sort=[Sort("name")]) == expected


def test_sorting_filters_and_pages(shop) -> None:
    table = shop.storage.table("customer")
    assert names(shop, sort=[Sort("name", descending=True)], limit=2) == [
        "Zoe Smith",
        "María Jesús Ortega",
    ]
    assert names(shop, sort=[Sort("name")], limit=2, offset=2) == [
        "María Jesús Ortega",
        "Zoe Smith",
    ]
    assert names(shop, where=[table.c.segment == "ent"], sort=[Sort("name")]) == [
        "Ana Pérez García",
        "María Jesús Ortega",
    ]


def test_keyset_cursor_walks_every_record_once(shop) -> None:
    for i in range(11):
        shop.records.create("customer", {"name": f"Same name {i % 3}"})
    seen: list[int] = []
    cursor = None
    order = [Sort("name")]
    with shop.storage.read() as conn:
        while True:
            page = shop.reader.list(conn, "customer", sort=order, limit=4, after=cursor)
            if not page:
                break
            seen += [r.id for r in page]
            cursor = shop.reader.cursor_for(page[-1], order)
        everything = [r.id for r in shop.reader.list(conn, "customer", sort=order, limit=0)]
    assert seen == everything and len(seen) == 15


def test_counts_are_exact_below_the_cap_and_say_so_above(shop) -> None:
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "customer") == Count(4, True)
        assert shop.reader.count(conn, "customer", cap=3).exact is False
        assert shop.reader.count(conn, "customer", search="perez") == Count(2, True)


def test_a_linked_title_comes_in_the_same_query(shop, count_queries) -> None:
    customers = names(shop, sort=[Sort("name")])
    assert customers
    with shop.storage.read() as conn:
        first = shop.reader.list(conn, "customer", limit=1, sort=[Sort("name")])[0]
    for _ in range(30):
        shop.records.create("order", {"customer": first.id})
    with count_queries(shop.storage.engine) as counter, shop.storage.read() as conn:
        orders = shop.reader.list(conn, "order", limit=25)
    assert len(orders) == 25
    assert {o["customer"].title for o in orders} == {"Ana Pérez García"}
    assert counter.count == 1
