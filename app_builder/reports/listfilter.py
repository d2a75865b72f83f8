"""`?expr=` on a generated list: the records meeting an expression (what a report's
drill-down opens). Checked like everything the user sends: a bad expression, or one
reading a field the role hides, is refused with the reason, never run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException

from framework.expressions import Context, Expression, ExpressionError
from framework.permissions import Who
from framework.reports.access import refusal, user_of
from framework.reports.compile import fields_read

if TYPE_CHECKING:
    from framework.app import Ficha

MAX_LENGTH = 4_000


def expression_filter(ficha: Ficha, who: Who, object_name: str, text: str) -> Any:
    if len(text) > MAX_LENGTH:
        raise HTTPException(400, "the list filter is too long")
    try:
        expression = Expression.compile(text, ficha.model, object_name)
    except ExpressionError as exc:
        raise HTTPException(
            400, f"the list filter '{text}' cannot be used: {exc.message}"
        ) from None
    reads = fields_read(expression)
    why = refusal(ficha, who, (), reads, {obj for obj, _ in reads} | {object_name})
    if why is not None:
        raise HTTPException(403, f"the list filter cannot be used: {why}")
    try:
        return expression.where(ficha.storage, context=Context(user=user_of(who)))
    except ValueError as exc:  # NotCompilable: rules-only functions
        raise HTTPException(400, f"the list filter cannot be used: {exc}") from None
