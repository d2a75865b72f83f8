"""The pack's mapping of the UCI bank-marketing file, on its first 500 calls, on each
database: every call imported with its profile and outcome, the file's codes and its
"999 = never contacted" read as the pack's values."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from framework.importing import Importer, load_mapping
from framework.records import Actor
from verticals.banking import PACK

BANK = Path(__file__).resolve().parents[4] / "shared" / "data" / "bank-additional-full.csv"


def test_bank_marketing_calls_import(bank: Any, tmp_path: Path) -> None:
    if not BANK.exists():
        pytest.skip(f"the shared bank-marketing data set is not at {BANK}")
    sample = tmp_path / "bank.csv"
    with BANK.open(encoding="utf-8") as source:
        sample.write_text("".join(itertools.islice(source, 501)), encoding="utf-8")
    assert PACK.path is not None
    mapping = load_mapping(PACK.path / "mappings" / "bank_marketing.yaml", bank.model)
    calls = bank.storage.table("campaign_call")
    with bank.storage.read() as conn:
        before = conn.execute(sa.select(sa.func.max(calls.c.id))).scalar() or 0
    report = Importer(bank, mapping, Actor(None, "tests", "cli")).run(sample)
    assert (report.rows, report.created, report.failed) == (500, 500, 0), report.errors[:3]
    with bank.storage.read() as conn:
        first = conn.execute(
            sa.select(calls).where(calls.c.id > before).order_by(calls.c.id).limit(1)
        ).one()
        counts = dict(
            conn.execute(
                sa.select(calls.c.job, sa.func.count())
                .where(calls.c.id > before)
                .group_by(calls.c.job)
            ).all()
        )
    # 56;"housemaid";"married";"basic.4y";"no";"no";"no";"telephone";"may";"mon";261;1;999;
    # 0;"nonexistent";1.1;93.994;-36.4;4.857;5191;"no"
    assert (first.age, first.job, first.education, first.contact, first.month) == (
        56,
        "housemaid",
        "basic_4y",
        "telephone",
        "may",
    )
    assert (first.duration_seconds, first.days_since_last_campaign, first.subscribed) == (
        261,
        None,
        False,
    )
    assert first.consumer_price_index == Decimal("93.994")
    assert first.euribor_3m == Decimal("4.857")
    assert None not in counts and sum(counts.values()) == 500
    assert {"admin", "blue_collar"} <= set(counts)  # the file's "admin." and "blue-collar"
