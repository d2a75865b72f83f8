"""The banking pack's one rule action in Python: the monthly payment of a mortgage.

The expression language has no powers, and a French-system annuity needs one:
payment = P*r / (1 - (1 + r)^-n), with r the monthly rate and n the number of months.
A rule calls it (`- call: mortgage_payment`); the result is saved through the records
service like any other change, in the same transaction.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from framework.actions import ActionContext

CENT = Decimal("0.01")


def annuity(principal: Decimal, annual_rate_percent: Decimal, months: int) -> Decimal:
    """The constant monthly payment that repays `principal` in `months` months."""
    if months <= 0:
        raise ValueError("the term must be at least one month")
    rate = annual_rate_percent / Decimal(1200)
    if rate == 0:
        return (principal / months).quantize(CENT, ROUND_HALF_UP)
    payment = principal * rate / (1 - (1 + rate) ** -months)
    return payment.quantize(CENT, ROUND_HALF_UP)


def mortgage_payment(ctx: ActionContext) -> None:
    """Fill `monthly_payment` from `loan_amount`, `interest_rate` and `term_years`
    (empty when one of them is missing)."""
    record = ctx.record
    amount, rate, years = (
        record.get("loan_amount"),
        record.get("interest_rate"),
        record.get("term_years"),
    )
    payment = None
    if amount is not None and rate is not None and years:
        payment = annuity(Decimal(amount), Decimal(rate), int(years) * 12)
    if payment != record.get("monthly_payment"):
        ctx.records.update(
            ctx.object,
            int(record["id"]),
            {"monthly_payment": payment},
            ctx.actor,
            conn=ctx.conn,
        )
