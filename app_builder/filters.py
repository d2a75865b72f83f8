"""List filters: starlette-admin's SQLAlchemy filters, plus "is this record" for links
(a has_many's "see them all" link and the API use it)."""

from __future__ import annotations

from typing import Any

from starlette_admin.contrib.sqla.filters import (
    IsNotNullFilter,
    IsNullFilter,
    SqlaFilterRegistry,
)
from starlette_admin.filters import FilterApplyContext, FilterValidationError, filters
from starlette_admin.filters.base import BaseFilter, FilterDataType

from app_builder.widgets import LinkField


class LinkIsFilter(BaseFilter):
    name = "eq"
    label = "Is (id)"
    data_type = FilterDataType.NUMBER

    def parse_value(self, raw: str) -> Any:
        try:
            return int(str(raw).strip().lstrip("#"))
        except ValueError:
            raise FilterValidationError(f"'{raw}' is not a record id") from None

    def apply(self, ctx: FilterApplyContext) -> Any:
        model: Any = getattr(ctx.view, "model", None)
        return getattr(model, f"{ctx.field_name}_id") == ctx.value


class FichaFilterRegistry(SqlaFilterRegistry):
    @filters(LinkField)
    def link_filters(self, field: Any) -> list[type[BaseFilter]]:
        return [LinkIsFilter, IsNullFilter, IsNotNullFilter]
