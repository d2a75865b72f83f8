"""Who may run a report, and running it for them: the role's record scope on the source
is part of the statement, and a role that hides a field the report reads (groups,
filters, measures) cannot run it at all — a hidden salary must not be averaged either."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from framework.errors import PermissionDenied
from framework.permissions import Who
from framework.reports.compile import Report
from framework.reports.params import resolve
from framework.reports.query import ReportQuery, ReportResult

if TYPE_CHECKING:
    from framework.app import Ficha


class ReportRefused(PermissionDenied):
    """The viewer's role does not let them run this report; the message says why."""


def user_of(who: Who) -> dict[str, Any]:
    """`user.…` in expressions, as the permissions module gives it."""
    actor = who.actor
    return {
        "id": actor.user_id,
        "name": actor.name,
        "team": actor.team,
        "territory": actor.territory,
        "role": actor.role,
        "email": actor.email,
    }


def refusal(ficha: Ficha, who: Who, roles: tuple[str, ...], reads: Any, objects: Any) -> str | None:
    """Why `who` may not see something reading these fields, or None when they may."""
    permissions = ficha.permissions
    trusted = permissions.trusted(who)
    if roles and not trusted and (who.role is None or who.role.name not in roles):
        return "this page is for other roles"
    for obj in sorted(objects):
        if not permissions.allowed(who, obj, "read"):
            return f"your role does not let you see {ficha.model[obj].plural.lower()}"
    for obj, name in sorted(reads):
        if name in permissions.hidden(who, obj):
            label = ficha.model[obj].fields[name].label if name in ficha.model[obj].fields else name
            return f"it uses {label}, which your role cannot see"
    return None


def check_report(ficha: Ficha, who: Who, report: Report) -> None:
    why = refusal(ficha, who, report.spec.roles, report.reads, report.objects)
    if why is not None:
        raise ReportRefused(f"you cannot run the report {report.spec.label}: {why}")


def may_run(ficha: Ficha, who: Who, report: Report) -> bool:
    return refusal(ficha, who, report.spec.roles, report.reads, report.objects) is None


def _query(ficha: Ficha) -> ReportQuery:
    found = ficha.__dict__.get("_ficha_report_query")
    if found is None:
        found = ficha.__dict__["_ficha_report_query"] = ReportQuery(ficha.storage)
    return found


def run_report(
    ficha: Ficha, who: Who, report: Report, given: Mapping[str, str] | None = None
) -> ReportResult:
    """Check, read the parameters, and compute the report in the database."""
    check_report(ficha, who, report)
    params = resolve(report.spec.params, given or {})
    scope = ficha.permissions.scope(who, report.source, "read")
    return _query(ficha).run(report, params, scope=scope, user=user_of(who))
