"""The end user's pages on the core pack, over HTTP, on SQLite, PostgreSQL and MariaDB:
"Who is this customer?" finds a customer by every kind of identifier typed the way a
caller gives it, the file shows what it must, quick actions save through the records
service (and a bad one saves nothing), and a kanban move goes through the workflow."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from tests.verticals.core.conftest import csrf, customer

FICHA = re.compile(r"/admin/ficha/(\d+)$")


def identified(client: TestClient, text: str) -> int | None:
    """The customer whose file the search opens, or None when it offers no single one."""
    answer = client.get("/admin/ficha", params={"q": text}, follow_redirects=False)
    if answer.status_code != 303:
        assert answer.status_code == 200, answer.text[-500:]
        return None
    found = FICHA.search(answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def test_a_customer_is_identified_by_whatever_the_caller_gives(crm: Any, client: Any) -> None:
    made = customer(crm, "Ferretería Ruiz")
    digits = made.phone.removeprefix("+34")  # stored +346xxxxxxxx
    typed = {
        "a phone with the international prefix and spaces": f"0034 {digits[:3]} {digits[3:6]} "
        f"{digits[6:]}",
        "a second phone of a contact, national format": f"7{digits[1:]}",
        "an email in capitals": made.email.upper(),
        "a DNI in lowercase with a hyphen": f"{made.dni[:-1]}-{made.dni[-1].lower()}",
        "a card as printed": made.card,
        "a card typed without its spaces": made.card.replace(" ", ""),
        "a card typed with hyphens": made.card.replace(" ", "-"),
        "a cookie id in capitals": made.cookie.upper(),
        "the tax id": made.tax_id.lower(),
    }
    for what, text in typed.items():
        assert identified(client, text) == made.account, what


def test_a_name_lists_the_candidates_and_nothing_is_found_politely(crm: Any, client: Any) -> None:
    first = customer(crm, "Cerrajería Quintanilla Norte")
    second = customer(crm, "Cerrajería Quintanilla Sur")
    page = client.get("/admin/ficha", params={"q": "Cerrajería Quintanilla"})
    assert page.status_code == 200
    assert f"/admin/ficha/{first.account}" in page.text
    assert f"/admin/ficha/{second.account}" in page.text
    assert identified(client, "Quintanilla Sur") == second.account
    page = client.get("/admin/ficha", params={"q": "+34 699 000 000"})
    assert "No customer is known by" in page.text


def test_the_file_shows_the_customer_and_pages_the_history(crm: Any, client: Any) -> None:
    made = customer(crm, "Talleres Vidal")
    for k in range(25):
        crm.records.create(
            "interaction", {"account": made.account, "subject": f"Call number {k:02d}"}
        )
    crm.records.create("alert", {"title": "Pays late, ask first", "account": made.account})
    page = client.get(f"/admin/ficha/{made.account}").text
    for shown in (
        "Talleres Vidal",
        made.dni,
        "Pays late, ask first",
        "Fibre for Talleres Vidal",  # the open deal
        "No internet",  # the open ticket
        "SN-",  # the installed router
        "28 in all",  # 25 + 3 earlier calls
    ):
        assert shown in page, shown
    assert page.count('data-channel="') == 20  # a page of the history, never all of it
    older = client.get(f"/admin/ficha/{made.account}", params={"page": 2}).text
    assert older.count('data-channel="') == 8
    assert client.get("/admin/ficha/999999999").status_code == 200  # told, not a crash


def test_quick_actions_save_through_the_records_service(crm: Any, client: Any) -> None:
    made = customer(crm, "Bodegas Ruiz")
    url = f"/admin/ficha/{made.account}"
    token = csrf(client, url)
    interactions = crm.storage.table("interaction")

    def calls() -> int:
        with crm.storage.read() as conn:
            return len(
                conn.execute(
                    interactions.select().where(interactions.c.account_id == made.account)
                ).all()
            )

    before = calls()
    refused = client.post(f"{url}/call", data={"csrftoken": token, "minutes": "3"})
    assert refused.status_code == 200  # back to the file, which says why
    assert "Not saved: Subject is required" in refused.text
    assert calls() == before
    saved = client.post(
        f"{url}/call", data={"csrftoken": token, "subject": "Asked for a quote", "minutes": "2,5"}
    )
    assert "The call was logged" in saved.text
    assert calls() == before + 1
    deal = client.post(
        f"{url}/opportunity", data={"csrftoken": token, "name": "Cellar sensors", "amount": "-4"}
    )
    assert "Not saved: Amount" in deal.text
    assert "Cellar sensors" not in deal.text.split('data-ficha="opportunities"')[1]


def test_a_kanban_move_goes_through_the_workflow(crm: Any, client: Any) -> None:
    made = customer(crm, "Hornos Ruiz")
    client.get("/admin/pipeline")  # the page sets the CSRF cookie the board's script sends
    token = client.cookies.get("starlette_admin_csrftoken") or ""

    def move(to: str, version: int) -> Any:
        return client.post(
            "/admin/pipeline/move",
            json={"id": made.deal, "to": to, "version": version},
            headers={"X-CSRFToken": token},
        )

    version = crm.records.get("opportunity", made.deal)["version"]
    refused = move("won", version)
    assert refused.status_code == 409
    assert refused.json()["error"].startswith("Stage cannot go from Qualification to Won; ")
    assert crm.records.get("opportunity", made.deal)["stage"] == "qualification"
    moved = move("rfp_received", version)
    assert moved.status_code == 200, moved.text
    assert moved.json()["label"] == "RFP received"
    assert set(moved.json()["allowed"]) >= {"proposal", "lost"}
    # the version the card gets back is the stored one, rules' saves included: the next
    # move is not taken for someone else's change
    assert moved.json()["version"] == crm.records.get("opportunity", made.deal)["version"]
    again = move("proposal", moved.json()["version"])
    assert again.status_code == 200, again.text
    stale = move("negotiation", version)
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["error"]


def test_a_whole_name_is_found_from_its_start_whatever_its_case_and_accents(
    crm: Any, client: Any
) -> None:
    first = customer(crm, "Cerrajería Álvarez Peña")
    percent = customer(crm, "100% Fibra Álvarez")
    customer(crm, "100X Fibra Álvarez")  # what a % read as a wildcard would find too
    with crm.storage.read() as conn:
        prefix = crm.reader.starting_with(conn, "account", "x")
    # PostgreSQL's migrated full-text structure has a folded prefix index; the others
    # search the words (SQLite's FTS5 and MariaDB's FULLTEXT are fast on names)
    assert (prefix is not None) == (crm.storage.backend == "postgresql")
    assert identified(client, "cerrajeria alvarez pena") == first.account
    page = client.get("/admin/ficha", params={"q": "100% fibra alvarez"}, follow_redirects=False)
    if prefix is not None:  # the % is a character typed, not a wildcard
        assert page.headers["location"].endswith(f"/admin/ficha/{percent.account}")
    else:
        assert page.status_code in (200, 303)
        listed = page.text if page.status_code == 200 else page.headers["location"]
        assert f"/admin/ficha/{percent.account}" in listed
