"""Report parameters in the expression language (`:since`), hour(), and parameters
written back as values for a drill-down."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from framework.expressions import Context, Expression, ExpressionError
from framework.expressions import binding as b
from framework.reports.drill import with_values
from framework.reports.params import BadParameter, resolve
from framework.reports.spec import ParamDef

DEAL = """
object: deal
fields:
  name: string
  closed: date
  at: datetime
  amount: money
"""


@pytest.fixture
def model(sqlite_project: Any) -> Any:
    sqlite_project.write({"deal": DEAL})
    return sqlite_project.load().model


def test_a_parameter_is_typed_and_read_from_the_context(model: Any) -> None:
    expr = Expression.compile("closed >= :since", model, "deal", params={"since": b.DATE})
    record = {"closed": dt.date(2025, 3, 1)}
    assert expr.test(record, context=Context(params={"since": dt.date(2025, 2, 1)}))
    assert not expr.test(record, context=Context(params={"since": dt.date(2025, 4, 1)}))
    assert Expression.compile("hour(at) == 9", model, "deal").test(
        {"at": dt.datetime(2025, 1, 1, 9, 30)}
    )


@pytest.mark.parametrize(
    ("text", "params", "message"),
    [
        ("closed >= :sinse", {"since": b.DATE}, "unknown parameter ':sinse' (did you mean"),
        ("closed >= :since", {}, "only reports have parameters"),
        ("name == :since", {"since": b.DATE}, "cannot compare text with a date"),
        ("hour(closed) == 1", {}, "hour() needs datetime here, not a date"),
    ],
)
def test_wrong_parameters_are_explained(
    model: Any, text: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        Expression.compile(text, model, "deal", params=params)
    assert message in str(caught.value)


def test_parameters_written_back_as_values() -> None:
    text = 'closed >= :from and name != ":from" and amount > :min'
    assert (
        with_values(text, {"from": dt.date(2025, 1, 31), "min": 10})
        == 'closed >= "2025-01-31" and name != ":from" and amount > 10'
    )


def test_values_typed_in_a_form_are_read_or_refused() -> None:
    params = (
        ParamDef("from", "date", "From", default="start_of_month"),
        ParamDef("min", "number", "Minimum"),
        ParamDef("agent", "text", "Agent", required=True),
    )
    today = dt.date(2025, 5, 17)
    found = resolve(params, {"min": "12.5", "agent": "DORIT"}, today)
    assert found == {"from": dt.date(2025, 5, 1), "min": 12.5, "agent": "DORIT"}
    with pytest.raises(BadParameter, match="Agent is required"):
        resolve(params, {}, today)
    with pytest.raises(BadParameter, match="unknown parameter 'minimum'"):
        resolve(params, {"minimum": "1", "agent": "x"}, today)
