"""Demo campaigns with their responses, leads (some of them duplicates of customers we
already have), alerts for a customer and for a segment, and shared work queues."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from verticals.core.demo import Demo

CAMPAIGNS = [
    (
        "Fibre 1 Gb for small businesses",
        "phone",
        'segment == "smb" and not has(contracts, product.code == "FIB-1G")',
        "Good morning, I am calling from Ficha Telecom: your company can have 1 Gb fibre "
        "for 44.90 a month, with installation included. Shall I book the technician?",
    ),
    (
        "Cloud backup for enterprise",
        "email",
        'segment == "enterprise"',
        "Your data, safe: 30 days of free cloud backup for every seat.",
    ),
    (
        "Win back former customers",
        "mail",
        "not active",
        "We miss you: come back with three months free.",
    ),
]


def marketing(demo: Demo) -> None:
    rnd = demo.rnd
    start = demo.today - dt.timedelta(days=20)
    for name, channel, segment, script in CAMPAIGNS:
        demo.campaigns.append(
            demo.create(
                "campaign",
                {
                    "name": name,
                    "channel": channel,
                    "status": "active",
                    "segment": segment,
                    "script": script,
                    "start_date": start,
                    "end_date": start + dt.timedelta(days=60),
                    "budget": Decimal(rnd.randrange(5, 50) * 1000),
                    "owner": demo.users["carlos"],
                },
            ).id
        )
    responses = ["interested", "not_interested", "callback", "purchased", "no_answer"]
    for account in rnd.sample(demo.accounts, min(len(demo.accounts), 30)):
        demo.create(
            "campaign_response",
            {
                "campaign": rnd.choice(demo.campaigns),
                "account": account,
                "response": rnd.choice(responses),
                "responded_at": demo.moment(20),
                "agent": rnd.choice(demo.sales()),
            },
        )
    _leads(demo)
    _alerts(demo)


def _leads(demo: Demo) -> None:
    rnd = demo.rnd
    fake = demo.fakes[0]
    for i in range(12):
        company = fake.company()
        demo.create(
            "lead",
            {
                "full_name": fake.name(),
                "company": company,
                "email": f"{fake.user_name()}.{demo.next()}@{fake.free_email_domain()}",
                "phone": f"+34 6{fake.numerify('## ### ###')}",
                "source": rnd.choice(["web", "phone", "fair", "referral", "campaign"]),
                "campaign": rnd.choice(demo.campaigns) if i % 3 == 0 else None,
                "rating": rnd.choice(["cold", "warm", "hot"]),
                "interest": rnd.choice(demo.products)[0],
                "estimated_amount": Decimal(rnd.randrange(10, 400) * 100),
                "owner": rnd.choice(demo.sales()),
            },
        )
    # Two that duplicate what we have: the same company name as a customer.
    table = demo.records.storage.table("account")
    with demo.records.storage.read() as conn:
        names = [
            r.name
            for r in conn.execute(
                table.select().where(table.c.id.in_(demo.accounts[:2])).order_by(table.c.id)
            )
        ]
    for name in names:
        demo.create(
            "lead",
            {
                "full_name": fake.name(),
                "company": name,
                "phone": f"+34 6{fake.numerify('## ### ###')}",
                "source": "fair",
                "status": "working",
                "owner": demo.sales()[0],
            },
        )


def _alerts(demo: Demo) -> None:
    if demo.accounts:
        demo.create(
            "alert",
            {
                "title": "Unpaid invoice: ask for the payment before any new sale",
                "level": "critical",
                "account": demo.accounts[0],
            },
        )
    demo.create(
        "alert",
        {
            "title": "Enterprise customer: offer the premium support",
            "level": "info",
            "segment": 'segment == "enterprise"',
        },
    )
    demo.create(
        "alert",
        {
            "title": "Several open tickets: be extra careful",
            "level": "warning",
            "segment": "open_tickets >= 2",
        },
    )


def work_queues(demo: Demo) -> None:
    for name, obj, condition, sort, group in (
        (
            "Urgent tickets",
            "ticket",
            'status not in ("resolved", "closed") and priority in ("high", "urgent")',
            "resolution_due",
            "priority",
        ),
        ("New leads to call", "lead", 'status == "new"', "-id", "rating"),
        (
            "Deals closing this quarter",
            "opportunity",
            'stage not in ("won", "lost") and expected_close <= today() + 90d',
            "expected_close",
            "stage",
        ),
        ("Campaign call-backs", "campaign_response", 'response == "callback"', "responded_at", ""),
    ):
        demo.create(
            "work_queue",
            {
                "name": name,
                "object": obj,
                "filter": condition,
                "sort": sort,
                "group_by": group or None,
                "shared": True,
                "owner": demo.users["berta"],
            },
        )
