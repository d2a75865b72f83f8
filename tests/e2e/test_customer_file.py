"""The seed scenario of the CRM texts, in a browser, on the core pack: a customer calls,
the agent identifies them by a phone number typed in another format in the header's
"Who is this customer?" box, reads the customer file (identity, segment and value,
alerts, products and equipment, deals, tickets with their service level, the history a
page at a time, what is planned), logs the call, creates an opportunity, drags it on the
pipeline to "RFP received" above 50,000, and the review task for the senior manager
appears. Then the agenda (plan a visit from an opportunity) and a work queue worked
through with "Next".

With FICHA_SCREENSHOTS=1 the tests save the screenshots of the end user's tour
(docs/tour.md) as docs/img/tour-*.png.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from modeler.national_ids import spanish_dni
from tests.conftest import PASSWORD
from tests.e2e.conftest import Site, sign_in

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def tour(page: Page, name: str, part: Locator | None = None, *, top: int = 0) -> None:
    """docs/img/tour-<name>.png, only when FICHA_SCREENSHOTS is set: a part of the page,
    its `top` pixels, or all of it."""
    if not os.environ.get("FICHA_SCREENSHOTS"):
        return
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    path = str(DOCS_IMG / f"tour-{name}.png")
    if part is not None:
        part.screenshot(path=path)
    elif top:
        size = page.viewport_size or {"width": 1280}
        page.screenshot(path=path, clip={"x": 0, "y": 0, "width": size["width"], "height": top})
    else:
        page.screenshot(path=path, full_page=True)


def user_id(site: Site, username: str) -> int:
    table = site.ficha.storage.table("user")
    with site.ficha.storage.read() as conn:
        return int(conn.execute(table.select().where(table.c.username == username)).first().id)


def a_customer(site: Site) -> dict[str, Any]:
    """A customer with a past: identifiers, a contact whose mobile is stored as
    +34 6xx xxx xxx, an alert of their own and one of their segment, a contract, a router
    under warranty, an open deal, an urgent ticket, 25 earlier contacts and a call planned."""
    create = site.ficha.records.create
    tag = secrets.token_hex(3).upper()
    n = secrets.randbelow(9_000_000) + 1_000_000
    ana = user_id(site, "ana")
    account = create(
        "account",
        {
            "name": f"Talleres Ruiz {tag}",
            "kind": "company",
            "segment": "smb",
            "value_tier": "gold",
            "owner": ana,
            "city": "Sevilla",
        },
    )
    contact = create("contact", {"full_name": f"Rosa Ruiz {tag}", "account": account.id})
    mobile = f"6{n % 100_000_000:08d}"
    create("contact_phone", {"contact": contact.id, "number": f"+34 {mobile}", "primary": True})
    create("contact_email", {"contact": contact.id, "address": f"rosa.{tag}@talleres.example"})
    create("identifier", {"account": account.id, "kind": "card", "code": f"4000 {n:08d}"})
    dni = spanish_dni(n)
    create("identifier", {"account": account.id, "kind": "national_id", "national_id": dni})
    create("alert", {"title": f"Pays late {tag}", "account": account.id, "level": "critical"})
    create(
        "alert",
        {"title": f"Offer fibre to small businesses {tag}", "segment": 'segment == "smb"'},
    )
    product = create("product", {"code": f"RT-{tag}", "name": f"Router T{tag}"})
    create("contract", {"account": account.id, "product": product.id, "price": "29.90"})
    create(
        "asset",
        {
            "serial_number": f"SN-{tag}",
            "account": account.id,
            "product": product.id,
            "warranty_end": dt.date.today() + dt.timedelta(days=200),
        },
    )
    create(
        "opportunity",
        {"name": f"Cloud backup {tag}", "account": account.id, "owner": ana, "amount": "900"},
    )
    create(
        "ticket",
        {"subject": f"No internet {tag}", "account": account.id, "priority": "urgent"},
    )
    start = dt.datetime(2026, 1, 1, 9, 0)
    for k in range(25):
        create(
            "interaction",
            {
                "account": account.id,
                "subject": f"Earlier contact {k:02d}",
                "channel": ("phone", "email", "chat")[k % 3],
                "occurred_at": start + dt.timedelta(days=k),
            },
        )
    create(
        "activity",
        {
            "subject": f"Call Rosa back {tag}",
            "kind": "call",
            "account": account.id,
            "assigned_to": ana,
            "due": dt.datetime.now() + dt.timedelta(days=3),
        },
    )
    return {"id": account.id, "tag": tag, "name": account["name"], "mobile": mobile, "dni": dni}


def as_ana(page: Page, site: Site) -> None:
    """Sign in as Ana, a sales representative who reports to Berta (the senior manager)."""
    site.ficha.auth.set_password(user_id(site, "ana"), PASSWORD)
    sign_in(page, site, "ana")


def section(page: Page, name: str) -> Locator:
    return page.locator(f'[data-ficha="{name}"]')


def card_in(page: Page, state: str, title: str) -> Locator:
    return page.locator(f'.ficha-column[data-state="{state}"] .ficha-card').filter(has_text=title)


def test_a_customer_calls_and_the_agent_works_from_their_file(page: Page, crm_site: Site) -> None:
    who = a_customer(crm_site)
    tag = who["tag"]
    as_ana(page, crm_site)

    # 1. A call: the caller's number, as the switchboard shows it, in the header's box.
    page.goto(crm_site.admin("opportunity/list"))
    box = page.get_by_role("searchbox", name="Who is this customer?")
    spaced = re.sub(r"(\d{3})(\d{2})(\d{2})(\d{2})", r"\1 \2 \3 \4", who["mobile"])
    box.fill(f"0034 {spaced}")
    tour(page, "identify", top=220)
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/admin/ficha/{who['id']}$"))
    expect(page.get_by_text(re.compile("identified by .*phone"))).to_be_visible()

    # 2. The file: everything the agent needs to know, on one page.
    expect(page.get_by_role("heading", name=who["name"])).to_be_visible()
    expect(section(page, "segment")).to_have_text("Small business")
    expect(page.locator('[data-ficha="identity"] [data-ficha="value_tier"]')).to_have_text("Gold")
    identity = section(page, "identifiers")
    expect(identity).to_contain_text(who["dni"])
    expect(identity).to_contain_text("4000")
    alerts = section(page, "alerts")
    expect(alerts).to_contain_text(f"Pays late {tag}")
    expect(alerts).to_contain_text(f"Offer fibre to small businesses {tag}")
    expect(section(page, "contacts")).to_contain_text(f"+34{who['mobile']}")
    expect(section(page, "contracts")).to_contain_text(f"Router T{tag}")
    expect(section(page, "assets")).to_contain_text(f"SN-{tag}")
    expect(section(page, "opportunities")).to_contain_text(f"Cloud backup {tag}")
    tickets = section(page, "tickets")
    expect(tickets).to_contain_text(f"No internet {tag}")
    expect(tickets.locator("[data-state]")).to_have_attribute(
        "data-state", re.compile("on_time|at_risk|breached")
    )
    timeline = section(page, "timeline")
    expect(timeline.locator(".list-group-item")).to_have_count(20)  # a page, never all
    expect(timeline).to_contain_text("25 in all")
    expect(timeline.locator(".list-group-item").first).to_contain_text("Earlier contact 24")
    expect(section(page, "activities")).to_contain_text(f"Call Rosa back {tag}")
    tour(page, "ficha")
    section(page, "timeline-pages").get_by_role("link", name="Older").click()
    expect(timeline.locator(".list-group-item")).to_have_count(5)
    expect(timeline).to_contain_text("Earlier contact 00")
    expect(timeline).not_to_contain_text("Earlier contact 24")

    # 3. The agent logs the call (quick action)…
    page.goto(crm_site.admin(f"ficha/{who['id']}"))
    call = section(page, "action-call")
    call.get_by_label("Subject").fill(f"Wants fibre for the new workshop {tag}")
    call.get_by_label("Minutes").fill("6.5")
    call.get_by_label("Who called").select_option(label=f"Rosa Ruiz {tag}")
    tour(page, "quick-actions", section(page, "actions"))
    call.get_by_role("button", name="Log the call").click()
    expect(page.get_by_text("The call was logged")).to_be_visible()
    latest = section(page, "timeline").locator(".list-group-item").first
    expect(latest).to_contain_text(f"Wants fibre for the new workshop {tag}")
    expect(latest).to_contain_text("Ana López")
    assert crm_site.count("interaction", account_id=who["id"], duration_seconds=390) == 1

    # 4. …and creates an opportunity for it.
    page.get_by_role("tab", name="New opportunity").click()
    deal = section(page, "action-opportunity")
    name = f"Fibre for the workshop {tag}"
    deal.get_by_label("Name").fill(name)
    deal.get_by_label("Amount").fill("75000")
    deal.get_by_role("button", name="Create the opportunity").click()
    expect(page.get_by_text("The opportunity was created")).to_be_visible()
    expect(section(page, "opportunities")).to_contain_text(name)
    expect(section(page, "opportunities")).to_contain_text("75,000.00")

    # 5. On the pipeline, the card goes from Prospecting to "RFP received".
    page.set_viewport_size({"width": 1920, "height": 900})  # all seven columns in view
    page.goto(crm_site.admin(f"pipeline?q={tag}"))
    card = card_in(page, "prospecting", name)
    expect(card).to_have_count(1)
    card.drag_to(page.locator('.ficha-column[data-state="rfp_received"]'))
    message = page.locator('[data-ficha="board-message"]')
    expect(message).to_have_text(f"“{name}” moved to RFP received.")
    expect(card_in(page, "rfp_received", name)).to_have_count(1)
    rfp = page.locator('.ficha-column[data-state="rfp_received"]')
    expect(rfp.locator("[data-count]")).to_have_text("1")
    expect(rfp.locator("[data-sum]")).to_have_text("75,000.00")
    tour(page, "pipeline")

    # 6. A refused move says why, and changes nothing.
    card_in(page, "rfp_received", name).drag_to(page.locator('.ficha-column[data-state="won"]'))
    expect(message).to_contain_text(f"“{name}” was not moved: ")
    expect(message).to_contain_text("cannot go from RFP received to Won")
    page.reload()
    expect(card_in(page, "rfp_received", name)).to_have_count(1)
    expect(card_in(page, "won", name)).to_have_count(0)
    assert crm_site.count("opportunity", name=name, stage="rfp_received") == 1

    # 7. The review task of the big RFP is on the customer's file, for the senior manager.
    page.goto(crm_site.admin(f"ficha/{who['id']}"))
    task = (
        section(page, "activities")
        .locator("a")
        .filter(has_text=f"Review with a senior manager: {name}")
    )
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Berta Ortega")
    expect(section(page, "opportunities").get_by_role("row").filter(has_text=name)).to_contain_text(
        "RFP received"
    )


def test_a_small_deal_moved_to_rfp_gets_no_review(page: Page, crm_site: Site) -> None:
    who = a_customer(crm_site)
    name = f"Router swap {who['tag']}"
    crm_site.ficha.records.create(
        "opportunity",
        {"name": name, "account": who["id"], "owner": user_id(crm_site, "ana"), "amount": "400"},
    )
    as_ana(page, crm_site)
    page.goto(crm_site.admin(f"pipeline?q={who['tag']}"))
    card_in(page, "prospecting", name).get_by_label(f"Move {name} to").select_option(
        label="RFP received"
    )
    expect(page.locator('[data-ficha="board-message"]')).to_have_text(
        f"“{name}” moved to RFP received."
    )
    page.goto(crm_site.admin(f"ficha/{who['id']}"))
    expect(section(page, "activities")).to_contain_text(f"Call Rosa back {who['tag']}")
    expect(section(page, "activities")).not_to_contain_text("Review with a senior manager")


def test_identify_by_national_id_and_name_lists_the_candidates(page: Page, crm_site: Site) -> None:
    who = a_customer(crm_site)
    as_ana(page, crm_site)
    page.goto(crm_site.admin("ficha"))
    page.get_by_label("Identifier or name").fill(who["dni"].lower())
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(rf"/admin/ficha/{who['id']}$"))
    # two customers share most of a name: both are offered, with how each was found
    twin = crm_site.ficha.records.create("account", {"name": f"{who['name']} Norte"})
    page.goto(crm_site.admin(f"ficha?q=Talleres Ruiz {who['tag']}"))
    matches = page.locator('[data-ficha="matches"] a')
    expect(matches).to_have_count(2)
    expect(matches.filter(has_text=f"{who['name']} Norte")).to_have_attribute(
        "href", re.compile(rf"/admin/ficha/{twin.id}$")
    )
    page.goto(crm_site.admin("ficha?q=nobody-has-this-zz9"))
    expect(page.locator('[data-ficha="no-match"]')).to_contain_text(
        "No customer is known by “nobody-has-this-zz9”"
    )


def test_plan_a_visit_from_an_opportunity_on_the_agenda(page: Page, crm_site: Site) -> None:
    who = a_customer(crm_site)
    name = f"Cloud backup {who['tag']}"
    as_ana(page, crm_site)
    page.goto(crm_site.admin(f"ficha/{who['id']}"))
    row = section(page, "opportunities").get_by_role("row").filter(has_text=name)
    row.get_by_role("link", name="Plan").click()
    expect(page).to_have_url(re.compile(r"/admin/agenda\?opportunity=\d+$"))
    plan = page.locator('[data-ficha="plan"]')
    expect(plan.get_by_label("For the opportunity")).to_have_value(
        re.compile(r"^\d+$")  # the deal is chosen already
    )
    expect(plan.get_by_label("For the opportunity").locator("option:checked")).to_contain_text(name)
    day = dt.date.today() + dt.timedelta(days=1)
    plan.get_by_label("What").select_option(label="Visit")
    plan.get_by_label("Day").fill(day.isoformat())
    plan.get_by_label("Time").fill("10:30")
    tour(page, "agenda-plan", plan)
    plan.get_by_role("button", name="Plan it").click()
    expect(page.get_by_text("Planned")).to_be_visible()
    cell = page.locator(f'[data-day="{day.isoformat()}"]')
    item = cell.locator('[data-item="activity"]').filter(has_text=f"Visit: {name}")
    expect(item).to_contain_text("10:30")
    expect(item).to_contain_text(who["name"])  # the opportunity's account came with it
    tour(page, "agenda")
    page.get_by_role("link", name="Day", exact=True).click()
    expect(page.locator('[data-item="activity"]').filter(has_text=f"Visit: {name}")).to_be_visible()
    page.locator('[data-item="activity"]').filter(has_text=f"Visit: {name}").get_by_role(
        "button", name="✓ Done"
    ).click()
    expect(page.get_by_text("Marked as done")).to_be_visible()
    done = page.locator('[data-item="activity"]').filter(has_text=f"Visit: {name}")
    expect(done.get_by_role("link", name=f"Visit: {name}")).to_have_class(
        re.compile("text-decoration-line-through")
    )
    assert crm_site.count("activity", account_id=who["id"], kind="visit", done=True) == 1


def test_a_work_queue_is_worked_through_with_next(page: Page, crm_site: Site) -> None:
    who = a_customer(crm_site)
    tag = who["tag"]
    create = crm_site.ficha.records.create
    tickets = [
        create("ticket", {"subject": f"Q{tag} {letter}", "account": who["id"], "priority": p})
        for letter, p in (("a", "urgent"), ("b", "high"), ("c", "high"))
    ]
    berta = user_id(crm_site, "berta")
    queue = create(
        "work_queue",
        {
            "name": f"New tickets of {who['name']}",
            "object": "ticket",
            "filter": f'account == {who["id"]} and status == "new" and subject like "Q{tag}%"',
            "sort": "subject",
            "group_by": "priority",
            "shared": True,
            "owner": berta,
        },
    )
    create(
        "work_queue",
        {"name": f"Berta's own {tag}", "object": "ticket", "shared": False, "owner": berta},
    )
    as_ana(page, crm_site)
    page.goto(crm_site.admin("queues"))
    listed = page.locator('[data-ficha="queues"] tr').filter(has_text=queue["name"])
    expect(listed).to_contain_text("3")
    expect(page.locator('[data-ficha="queues"]')).not_to_contain_text(f"Berta's own {tag}")
    listed.get_by_role("link", name=queue["name"]).click()
    groups = page.locator('[data-ficha="queue"] [data-group]')
    expect(groups).to_have_text(["Priority: High", "Priority: Urgent"])
    tour(page, "queue")
    page.locator('[data-ficha="start"]').click()
    expect(page.get_by_role("heading", name=f"Q{tag} b")).to_be_visible()
    expect(page.locator('[data-ficha="position"]')).to_have_text("1 of 3")
    # the agent deals with it: it leaves the queue, and Next must not skip the one after
    crm_site.ficha.records.update("ticket", tickets[1].id, {"status": "open"})
    page.locator('[data-ficha="next"]').click()
    expect(page.get_by_role("heading", name=f"Q{tag} c")).to_be_visible()
    expect(page.locator('[data-ficha="position"]')).to_have_text("1 of 2")
    tour(page, "queue-work")
    page.locator('[data-ficha="next"]').click()
    expect(page.get_by_role("heading", name=f"Q{tag} a")).to_be_visible()
    expect(page.locator('[data-ficha="position"]')).to_have_text("2 of 2")
    page.locator('[data-ficha="work"]').get_by_role("link", name="Customer file").click()
    expect(page).to_have_url(re.compile(rf"/admin/ficha/{who['id']}$"))
    page.go_back()
    page.locator('[data-ficha="next"]').click()
    expect(page.get_by_role("heading", name="Nothing left in the queue")).to_be_visible()
