"""The example of the CRM texts, end to end in a browser: an opportunity reaches "RFP
received" with an amount above 50,000, and a review task appears for the senior manager,
due in two days; below 50,000 it does not."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Site, sign_in

pytestmark = pytest.mark.browser


def opportunity(site: Site, name: str, amount: str) -> int:
    ficha = site.ficha
    with ficha.storage.read() as conn:
        ana = ficha.reader.list(
            conn, "user", where=[ficha.storage.table("user").c.username == "ana"]
        )[0]
    account = ficha.records.create("account", {"name": f"{name} S.L."})
    return ficha.records.create(
        "opportunity",
        {
            "name": name,
            "account": account.id,
            "owner": ana.id,
            "amount": amount,
            "stage": "qualification",
        },
    ).id


def move_to_rfp(page: Page, site: Site, ident: int) -> None:
    sign_in(page, site)
    page.goto(site.admin(f"opportunity/edit?pk={ident}"))
    stage = page.get_by_label("Stage", exact=True)
    # Only the moves the workflow allows from Qualification are offered.
    options = [o.strip() for o in stage.locator("option").all_inner_texts()]
    assert "Won" not in options and "RFP received" in options, options
    stage.select_option(label="RFP received")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was changed successfully")).to_be_visible()


def test_a_big_rfp_gets_a_review_task_for_the_senior_manager(page: Page, crm_site: Site) -> None:
    name = f"Fibre rollout {secrets.token_hex(3)}"
    move_to_rfp(page, crm_site, opportunity(crm_site, name, "60000"))
    page.goto(crm_site.admin("activity/list"))
    row = page.get_by_role("row").filter(has_text=f"Review with a senior manager: {name}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Berta Ortega")
    # shown in the project's timezone (Europe/Madrid)
    due = (dt.datetime.now(ZoneInfo("Europe/Madrid")) + dt.timedelta(days=2)).strftime("%B %-d, %Y")
    expect(row).to_contain_text(re.compile(due.split(",")[0]))
    page.goto(crm_site.admin("notification/list"))
    expect(page.get_by_role("row").filter(has_text=f"RFP received for {name}")).to_contain_text(
        "Berta Ortega"
    )


def test_a_small_rfp_gets_no_review_task(page: Page, crm_site: Site) -> None:
    name = f"Router swap {secrets.token_hex(3)}"
    move_to_rfp(page, crm_site, opportunity(crm_site, name, "40000"))
    page.goto(crm_site.admin("activity/list"))
    expect(page.get_by_role("heading", name="Activities")).to_be_visible()  # the list is shown
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)
