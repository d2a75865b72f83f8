"""The generated screens in a real browser: what a user of the Shop project sees when they
create, edit, find, filter and delete records, and when the form refuses their input.

Each test makes its own records, named with a token no other test uses, so it can look for
exactly those rows whatever else is in the list.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from framework.expressions.evaluate import Context
from tests.e2e.conftest import Screenshot, Site

pytestmark = pytest.mark.browser


def token() -> str:
    """A word no other record contains (letters only, so search reads it as one word)."""
    return "Zq" + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))


def customer(site: Site, name: str, **values: Any) -> int:
    """A customer written straight through the records service (not what is tested)."""
    record = site.ficha.records.create("customer", {"name": name, **values})
    return int(record.id)


def rows(page: Page) -> Locator:
    """The data rows of the list on screen."""
    return page.locator("table tbody tr")


def row(page: Page, text: str) -> Locator:
    return rows(page).filter(has_text=text)


def form_group(page: Page, label: str) -> Locator:
    """The block of a form that holds one field: its label, input and messages."""
    return page.locator("form .mb-3").filter(
        has=page.locator("label.form-label", has_text=re.compile(rf"^\s*{label}\s*$"))
    )


def expect_field_error(page: Page, label: str, message: str | re.Pattern[str]) -> None:
    """The message is shown in the field's own block, and the input is marked invalid."""
    group = form_group(page, label)
    expect(group.locator(".invalid-feedback")).to_be_visible()
    expect(group.locator(".invalid-feedback")).to_have_text(message)
    expect(page.get_by_label(label, exact=True)).to_have_class(re.compile(r"\bis-invalid\b"))


# The pages are rendered on the server, so their rows and messages are there before their
# scripts have run; a helper that leaves a page waits for the next one to finish loading, so
# the test never types into, or clicks in, a page whose scripts are still starting.


def save(page: Page) -> None:
    """Submit the form and wait for the page that answers (the list, or the form again)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()


def follow(page: Page, link: Locator) -> None:
    """Click a link (or a button that is one) and wait for the page it opens."""
    with page.expect_navigation():
        link.click()


def search(page: Page, text: str) -> None:
    box = page.get_by_placeholder("Search...")
    box.fill(text)
    with page.expect_navigation():
        box.press("Enter")


def open_list(page: Page, site: Site, object_name: str) -> None:
    page.goto(site.admin(f"{object_name}/list"))
    expect(page.get_by_role("table").first).to_be_visible()


# -- create, read, edit, delete ------------------------------------------------------------


def test_create_a_customer_through_the_new_customer_form(
    page: Page, site: Site, screenshot: Screenshot
) -> None:
    word = token()
    name = f"Dana {word} Ortega"
    email = f"dana.{word.lower()}@example.com"
    open_list(page, site, "customer")
    follow(page, page.get_by_role("link", name="New Customer"))
    expect(page.get_by_role("heading", name="New Customer")).to_be_visible()

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Segment", exact=True).select_option(label="Enterprise")
    page.get_by_label("Phone", exact=True).fill("600 123 456")
    page.get_by_label("Credit limit", exact=True).fill("2500")
    page.get_by_label("Active", exact=True).check()
    save(page)

    expect(page.get_by_text(f'The item "{name}" was added successfully')).to_be_visible()
    new_row = row(page, name)
    expect(new_row).to_have_count(1)
    expect(new_row).to_contain_text(email)
    expect(new_row).to_contain_text("Enterprise")
    screenshot(page, "customer-list")

    follow(page, new_row.get_by_role("link", name="View"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    details = page.get_by_role("table").first
    expect(details.get_by_role("row", name="Email")).to_contain_text(email)
    expect(details.get_by_role("row", name="Segment")).to_contain_text("Enterprise")
    expect(details.get_by_role("row", name="Phone")).to_contain_text("+34600123456")
    expect(details.get_by_role("row", name="Credit limit")).to_contain_text("2500.00")
    assert site.count("customer", email=email) == 1


def test_edit_a_customer_and_see_the_new_value(page: Page, site: Site) -> None:
    word = token()
    name = f"Elena {word} Vidal"
    ident = customer(site, name, email=f"elena.{word.lower()}@example.com", segment="smb")
    page.goto(site.admin(f"customer/detail?pk={ident}"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    follow(page, page.get_by_role("button", name="Edit"))

    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    new_email = f"elena.vidal.{word.lower()}@example.org"
    page.get_by_label("Email", exact=True).fill(new_email)
    page.get_by_label("Segment", exact=True).select_option(label="Enterprise")
    save(page)

    expect(page.get_by_text(f'The item "{name}" was changed successfully')).to_be_visible()
    expect(page.get_by_role("heading", name=name)).to_be_visible()  # back on its record
    details = page.get_by_role("table").first
    expect(details.get_by_role("row", name="Email")).to_contain_text(new_email)
    expect(details.get_by_role("row", name="Segment")).to_contain_text("Enterprise")
    open_list(page, site, "customer")
    search(page, word)
    expect(row(page, name)).to_contain_text(new_email)


def test_search_by_a_name_word_and_by_the_exact_email(page: Page, site: Site) -> None:
    word = token()
    first = f"Fabio {word} Marín"
    second = f"Gloria {word} Peña"
    other = f"Hugo {token()} Sanz"
    customer(site, first, email=f"fabio.{word.lower()}@example.com")
    customer(site, second, email=f"gloria.{word.lower()}@example.com")
    other_email = f"hugo.{word.lower()}@example.net"  # shares the word only in its email
    customer(site, other, email=other_email)
    open_list(page, site, "customer")

    search(page, word)
    expect(rows(page)).to_have_count(3)  # the name word matches the third one's email too
    expect(row(page, first)).to_have_count(1)
    expect(row(page, second)).to_have_count(1)

    search(page, f"{word} Peña")
    expect(rows(page)).to_have_count(1)
    expect(row(page, second)).to_have_count(1)

    search(page, other_email)
    expect(rows(page)).to_have_count(1)
    expect(row(page, other)).to_contain_text(other_email)
    expect(page.get_by_text("Showing 1 to 1 of 1 entries")).to_be_visible()

    search(page, f"nobody.{word.lower()}@example.com")
    expect(rows(page).filter(has_text=word)).to_have_count(0)
    expect(page.get_by_text("No data")).to_be_visible()


def test_filter_the_list_by_segment_with_the_filters_builder(page: Page, site: Site) -> None:
    word = token()
    big = f"Iker {word} Holdings"
    small = f"Julia {word} Taller"
    customer(site, big, segment="ent")
    customer(site, small, segment="smb")
    open_list(page, site, "customer")

    page.get_by_role("button", name="Filters").click()
    builder = page.locator("#filter-builder-dropdown")
    condition = builder.locator(".filter-row").first
    condition.get_by_label("Field", exact=True).select_option(label="Segment")
    condition.get_by_label("Filter", exact=True).select_option(label="Equal")
    condition.get_by_label("Value", exact=True).filter(visible=True).select_option(
        label="Enterprise"
    )
    with page.expect_navigation():
        builder.get_by_role("button", name="Apply filters").click()

    expect(page.get_by_text("Segment: Equal Enterprise")).to_be_visible()
    expect(row(page, big)).to_have_count(1)
    expect(row(page, small)).to_have_count(0)
    expect(rows(page).filter(has_text="Small business")).to_have_count(0)
    expect(row(page, "Borja Seed Industries")).to_have_count(1)  # a seeded Enterprise

    follow(page, page.get_by_role("link", name="Clear all"))
    expect(page.get_by_text("Segment: Equal Enterprise")).to_have_count(0)
    expect(row(page, small)).to_have_count(1)


def test_delete_a_customer_from_its_row(page: Page, site: Site) -> None:
    word = token()
    name = f"Kevin {word} Lago"
    keep = f"Lucia {word} Lago"
    customer(site, name)
    customer(site, keep)
    open_list(page, site, "customer")
    search(page, word)
    expect(rows(page)).to_have_count(2)

    row(page, name).get_by_role("link", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Are you sure you want to delete this item?")
    with page.expect_navigation():  # the list reloads once the record is deleted
        dialog.get_by_role("button", name="Yes, delete").click()

    expect(page.get_by_text(f'The item "{name}" was successfully deleted.')).to_be_visible()
    expect(row(page, keep)).to_have_count(1)
    expect(row(page, name)).to_have_count(0)
    assert site.count("customer", name=name) == 0


def test_a_customer_with_orders_cannot_be_deleted_and_the_reason_is_shown(
    page: Page, site: Site
) -> None:
    word = token()
    name = f"Teo {word} Prieto"
    ident = customer(site, name)
    site.ficha.records.create("order", {"customer": ident})
    open_list(page, site, "customer")
    search(page, word)

    row(page, name).get_by_role("link", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Are you sure you want to delete this item?")
    dialog.get_by_role("button", name="Yes, delete").click()

    refusal = page.get_by_role("alert").filter(has_text="cannot be deleted")
    expect(refusal).to_contain_text(re.compile(r"\b1 order\b.*'Customer'"))
    expect(row(page, name)).to_have_count(1)
    page.reload()
    expect(row(page, name)).to_have_count(1)
    assert site.count("customer", name=name) == 1


def test_tags_chosen_in_the_form_are_shown_by_their_labels(page: Page, site: Site) -> None:
    name = f"Ulises {token()} Mora"
    page.goto(site.admin("customer/create"))
    page.get_by_label("Name", exact=True).fill(name)
    tags = form_group(page, "Tags")
    for label in ("Vip", "Partner"):
        tags.get_by_role("combobox").click()
        page.get_by_role("listbox").get_by_role("option", name=label).click()
    expect(tags.get_by_role("listitem")).to_have_count(2)
    save(page)
    follow(page, row(page, name).get_by_role("link", name="View"))

    shown = page.get_by_role("table").first.get_by_role("row", name="Tags")
    expect(shown).to_contain_text("Vip")
    expect(shown).to_contain_text("Partner")
    expect(shown).not_to_contain_text("[", timeout=1_000)  # the page has loaded
    follow(page, page.get_by_role("button", name="Edit"))
    expect(form_group(page, "Tags").get_by_role("listitem")).to_have_count(2)


# -- validation ----------------------------------------------------------------------------


def test_invalid_email_and_missing_name_are_shown_next_to_their_fields(
    page: Page, site: Site, screenshot: Screenshot
) -> None:
    word = token()
    page.goto(site.admin("customer/create"))
    before = site.count("customer")

    # An empty required name: the browser itself refuses to send the form.
    page.get_by_label("Email", exact=True).fill(f"m.{word.lower()}@example.com")
    page.get_by_role("button", name="Save", exact=True).click()
    name = page.get_by_label("Name", exact=True)
    assert name.evaluate("el => el.validity.valueMissing") is True
    expect(page).to_have_url(re.compile(r"/customer/create"))

    # An address the browser accepts but Ficha does not (no dot in the domain).
    name.fill(f"Marta {word}")
    page.get_by_label("Segment", exact=True).select_option(label="Enterprise")
    page.get_by_label("Email", exact=True).fill("marta@example")
    save(page)
    expect_field_error(page, "Email", re.compile(r"\S"))
    expect(form_group(page, "Email")).to_contain_text(re.compile("email", re.IGNORECASE))
    expect(page.get_by_label("Email", exact=True)).to_have_value("marta@example")
    expect(page.get_by_label("Name", exact=True)).to_have_value(f"Marta {word}")
    expect(page.get_by_label("Segment", exact=True)).to_have_value("ent")
    expect(form_group(page, "Name").locator(".invalid-feedback")).to_have_count(0)
    screenshot(page, "customer-form-error")

    # A name of blanks only is no name: Ficha says so next to the name.
    page.get_by_label("Email", exact=True).fill(f"m.{word.lower()}@example.com")
    page.get_by_label("Name", exact=True).fill("   ")
    save(page)
    expect_field_error(page, "Name", "is required")
    expect(form_group(page, "Email").locator(".invalid-feedback")).to_have_count(0)

    assert site.count("customer") == before


def test_every_error_of_a_form_is_shown_at_once(page: Page, site: Site) -> None:
    page.goto(site.admin("customer/create"))
    page.get_by_label("Name", exact=True).fill("   ")
    page.get_by_label("Email", exact=True).fill("nadia@example")
    page.get_by_label("Credit limit", exact=True).fill("-5")
    save(page)
    expect_field_error(page, "Email", re.compile(r"\S"))
    # The page has answered: what is not there now will not come.
    expect(form_group(page, "Name").locator(".invalid-feedback")).to_have_text(
        "is required", timeout=500
    )
    expect_field_error(page, "Credit limit", "must be at least 0")


@pytest.mark.parametrize(
    ("object_name", "fill", "label"),
    [
        pytest.param(
            "product", {"Code": "P-{word}", "Name": "Gadget {word}"}, "Price", id="decimal"
        ),
        pytest.param("customer", {"Name": "Olga {word}"}, "Credit limit", id="money"),
    ],
)
def test_a_negative_amount_is_refused_next_to_its_field(
    page: Page, site: Site, object_name: str, fill: dict[str, str], label: str
) -> None:
    word = token()
    page.goto(site.admin(f"{object_name}/create"))
    for field, value in fill.items():
        page.get_by_label(field, exact=True).fill(value.format(word=word.upper()))
    page.get_by_label(label, exact=True).fill("-5")
    save(page)

    expect_field_error(page, label, "must be at least 0")
    expect(page.get_by_label(label, exact=True)).to_have_value("-5")
    assert site.count(object_name, name=fill["Name"].format(word=word.upper())) == 0


# -- links between records -----------------------------------------------------------------


def test_create_an_order_choosing_its_customer_in_the_picker(page: Page, site: Site) -> None:
    word = token()
    name = f"Pablo {word} Ibáñez"
    ident = customer(site, name)
    customer(site, f"Quique {token()} Ibáñez")  # shares the surname, not the word
    page.goto(site.admin("order/create"))
    expect(page.get_by_role("heading", name="New Order")).to_be_visible()

    form_group(page, "Customer").get_by_role("combobox").click()
    page.get_by_role("searchbox").fill(word)
    results = page.get_by_role("listbox")
    choice = results.get_by_role("option", name=name)
    expect(choice).to_be_visible()
    expect(results.get_by_role("option")).to_have_count(1)
    choice.click()
    expect(form_group(page, "Customer")).to_contain_text(name)
    page.get_by_label("Quantity", exact=True).fill("4")
    page.get_by_label("Status", exact=True).select_option(label="Paid")
    save(page)

    expect(page.get_by_text("was added successfully")).to_be_visible()
    new_row = row(page, name)
    expect(new_row).to_have_count(1)
    expect(new_row).to_contain_text("Paid")
    number = new_row.locator("td[data-column=number]").inner_text().strip()
    assert re.fullmatch(rf"ORD-{dt.date.today().year}-\d{{5}}", number)

    follow(page, new_row.get_by_role("link", name=name))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("table").first.get_by_role("row", name="Orders")).to_contain_text(
        number
    )
    assert site.count("order", customer_id=ident) == 1


def test_see_all_the_orders_of_a_customer_from_its_record_page(page: Page, site: Site) -> None:
    name = f"Rosa {token()} Gil"
    ident = customer(site, name)
    for quantity in range(1, 13):
        site.ficha.records.create("order", {"customer": ident, "quantity": quantity})
    page.goto(site.admin(f"customer/detail?pk={ident}"))
    see_all = page.get_by_role("link", name=re.compile("see them all"))
    expect(see_all).to_contain_text("12 in all")
    follow(page, see_all)
    expect(rows(page)).to_have_count(12)
    expect(rows(page).filter(has_text=name)).to_have_count(12)


# -- defaults ------------------------------------------------------------------------------


def test_a_new_customer_form_starts_with_the_declared_defaults(page: Page, site: Site) -> None:
    name = f"Sara {token()} Rey"
    page.goto(site.admin("customer/create"))
    expect(page.get_by_label("Segment", exact=True)).to_have_value("smb")
    expect(page.get_by_label("Active", exact=True)).to_be_checked()
    # the project's clock: an hour before midnight UTC it is already tomorrow in Madrid
    today = Context(timezone=site.ficha.settings.timezone).today
    long_today = f"{today:%B} {today.day}, {today.year}"
    expect(form_group(page, "Since").locator("input:visible")).to_have_value(long_today)
    page.get_by_label("Name", exact=True).fill(name)
    save(page)

    expect(page.get_by_text(f'The item "{name}" was added successfully')).to_be_visible()
    follow(page, row(page, name).get_by_role("link", name="View"))
    details = page.get_by_role("table").first
    expect(details.get_by_role("row", name="Segment")).to_contain_text("Small business")
    # the record page writes the day with two digits (starlette-admin's date format)
    expect(details.get_by_role("row", name="Since")).to_contain_text(f"{today:%B %d, %Y}")
    expect(details.get_by_role("row", name="Active").locator(".fa-check-circle")).to_be_visible()
