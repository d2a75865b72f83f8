"""Reports on each database: time buckets, measures, sorting and top-N, parameters, the
viewer's permissions, drill-down to the list, exports and the command line."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from cli import cli
from framework.app import create_app
from framework.records import Actor
from framework.reports import BadParameter, ReportRefused, catalog_of, run_report
from tests.conftest import make_user, session_cookie

DEAL = """
object: deal
title: name
fields:
  name: string
  stage: {type: choice, values: {open: Open, won: Won, lost: Lost}, filter: true}
  amount: money
  closed: date
  at: datetime
  region: string
"""
ROLES = """
roles:
  rep:
    objects: {deal: {read: own, create: yes}}
  viewer:
    objects: {deal: {read: all}}
    hidden: {deal: [amount]}
"""
REPORTS = {
    "by_month": """
        source: deal
        params: {since: {type: date, label: Since}}
        filter: closed >= :since
        rows: [{field: closed, by: month}]
        measures:
          deals: count
          won: {count: 'stage == "won"'}
          won_share: {ratio: [won, deals]}
    """,
    "by_stage": """
        source: deal
        rows: [stage]
        measures:
          deals: count
          total: {sum: amount}
          median: {median: amount}
          biggest: {max: amount}
          won_total: {sum: amount, where: 'stage == "won"'}
        sort: [-total]
        top: 2
    """,
    "buckets": """
        source: deal
        rows: [{field: at, by: week}, {field: at, by: hour_of_day, name: hour}]
        measures: {deals: count}
    """,
    "quarters": """
        source: deal
        rows: [{field: at, by: quarter}]
        measures: {deals: count}
        chart: line
    """,
}
#: (name, stage, amount, closed, at, region)
DEALS = [
    ("A", "won", "100.00", "2025-01-05", "2025-01-06 09:15:00", "north"),
    ("B", "won", "300.00", "2025-01-20", "2025-01-07 09:45:00", "south"),
    ("C", "lost", "50.00", "2025-02-02", "2025-04-02 17:00:00", "north"),
    ("D", "open", "1000.00", "2025-02-14", "2025-04-03 09:05:00", "north"),
    ("E", "open", "400.00", "2025-03-01", "2025-12-31 23:59:00", "south"),
    ("F", "won", "200.00", None, "2025-01-12 10:00:00", None),
]


def build(project: Any) -> Any:
    root = project.write({"deal": DEAL})
    (root / "roles.yaml").write_text(ROLES)
    (root / "reports").mkdir(exist_ok=True)
    for name, text in REPORTS.items():
        (root / "reports" / f"{name}.yaml").write_text(textwrap.dedent(text))
    ficha = project.migrated()
    make_user(ficha, "admin")
    rep = make_user(ficha, "rita", role="rep")
    make_user(ficha, "vera", role="viewer")
    for i, (name, stage, amount, closed, at, region) in enumerate(DEALS):
        values = {"name": name, "stage": stage, "amount": amount, "closed": closed, "at": at}
        actor = Actor(rep.id, "Rita", "screen", "rep") if i < 2 else Actor()
        ficha.records.create("deal", {**values, "region": region}, actor)
    return ficha


def run(ficha: Any, name: str, actor: Actor | None = None, **params: str) -> Any:
    who = ficha.permissions.who(actor or Actor(None, "test", "cli"))
    return run_report(ficha, who, catalog_of(ficha).reports[name], params)


def table(result: Any) -> list[tuple[Any, ...]]:
    return [(*g.labels, *g.column_labels, *g.values.values()) for g in result.groups]


def test_grouped_by_month_with_counts_ratios_and_a_parameter(project: Any) -> None:
    ficha = build(project)
    assert table(run(ficha, "by_month")) == [
        ("2025-01", 2, 2, 1.0),
        ("2025-02", 2, 0, 0.0),
        ("2025-03", 1, 0, 0.0),
        ("(empty)", 1, 1, 1.0),
    ]
    # a filter whose parameter is filled in applies; left empty, it is skipped
    assert [g.labels[0] for g in run(ficha, "by_month", since="2025-02-01").groups] == [
        "2025-02",
        "2025-03",
    ]
    with pytest.raises(BadParameter, match="Since: '1st of May' is not valid"):
        run(ficha, "by_month", since="1st of May")


def test_sums_medians_maxima_conditions_sorting_and_top(project: Any) -> None:
    from decimal import Decimal

    rows = table(run(build(project), "by_stage"))
    assert rows == [
        ("Open", 2, Decimal("1400.00"), 700.0, Decimal("1000.00"), 0),
        ("Won", 3, Decimal("600.00"), 200.0, Decimal("300.00"), Decimal("600.00")),
    ]  # top 2 by total: Lost (50) is left out


def test_weeks_hours_and_quarters(project: Any) -> None:
    ficha = build(project)
    rows = table(run(ficha, "buckets"))
    assert rows == [
        ("2025-01-06", "09:00", 2),
        ("2025-01-06", "10:00", 1),
        ("2025-03-31", "09:00", 1),
        ("2025-03-31", "17:00", 1),
        ("2025-12-29", "23:00", 1),
    ]
    assert table(run(ficha, "quarters")) == [("2025 Q1", 3), ("2025 Q2", 2), ("2025 Q4", 1)]


def test_the_viewers_scope_and_hidden_fields_are_respected(project: Any) -> None:
    ficha = build(project)
    with ficha.storage.read() as conn:
        users = {u.username: u for u in ficha.reader.list(conn, "user")}
    rita = Actor(users["rita"].id, "Rita", "screen", "rep")
    mine = run(ficha, "by_month", rita)
    assert sum(g.values["deals"] for g in mine.groups) == 2  # only her own deals
    vera = Actor(users["vera"].id, "Vera", "screen", "viewer")
    assert sum(g.values["deals"] for g in run(ficha, "by_month", vera).groups) == 6
    with pytest.raises(ReportRefused, match="it uses Amount, which your role cannot see"):
        run(ficha, "by_stage", vera)


def client(ficha: Any, username: str = "admin") -> TestClient:
    app = create_app(ficha.settings, ficha=ficha)
    test = TestClient(app)
    test.cookies.set(COOKIE, session_cookie(ficha, username))
    return test


def listed(page: str) -> int:
    found = re.search(r"Showing \d+ to \d+ of (\d+)", page)
    return int(found.group(1)) if found else 0


def test_drill_down_opens_the_records_behind_a_figure(project: Any) -> None:
    ficha = build(project)
    web = client(ficha)
    page = web.get("/admin/reports/buckets")
    assert page.status_code == 200 and 'data-ficha="report-table"' in page.text
    links = [unescape(u) for u in re.findall(r'href="(/admin/deal/list\?expr=[^"]+)"', page.text)]
    # the first row: the week of 2025-01-06, 09:00 → deals A and B
    assert "hour%28at%29+%3D%3D+9" in links[0]
    assert listed(web.get(links[0]).text) == 2
    by_month = web.get("/admin/reports/by_month?since=2025-02-01").text
    first = unescape(re.findall(r'href="(/admin/deal/list\?expr=[^"]+)"', by_month)[0])
    assert "2025-02-01" in first and listed(web.get(first).text) == 2
    assert web.get("/admin/deal/list?expr=stge == 1").status_code == 400
    assert client(ficha, "vera").get("/admin/deal/list?expr=amount > 1").status_code == 403


def test_exports_and_the_printable_page(project: Any) -> None:
    ficha = build(project)
    web = client(ficha)
    text = web.get("/admin/reports/by_month/csv").text
    assert list(csv.reader(io.StringIO(text)))[:2] == [
        ["Closed (month)", "Deals", "Won", "Won share"],
        ["2025-01", "2", "2", "1.0"],
    ]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(web.get("/admin/reports/by_month/xlsx").content))
    assert [c.value for c in book.active[2]] == ["2025-01", 2, 2, 1]
    printed = web.get("/admin/reports/quarters/print")
    assert printed.status_code == 200 and "2025 Q2" in printed.text
    # a role that may not run the report gets neither the page nor the exports
    assert client(ficha, "vera").get("/admin/reports/by_stage/csv").status_code == 403


def test_ficha_report_on_the_command_line(project: Any, tmp_path: Path) -> None:
    ficha = build(project)
    root = str(ficha.settings.project_dir)
    runner = CliRunner()
    shown = runner.invoke(cli, ["report", "by_month", "-p", root, "--param", "since=2025-02-01"])
    assert shown.exit_code == 0, shown.output
    assert "2025-02" in shown.output and "2025-01" not in shown.output
    as_csv = runner.invoke(cli, ["report", "by_stage", "-p", root, "--format", "csv"])
    assert as_csv.output.splitlines()[0] == "Stage,Deals,Total,Median,Biggest,Won total"
    target = tmp_path / "out.xlsx"
    runner.invoke(cli, ["report", "quarters", "-p", root, "--format", "xlsx", "-o", str(target)])
    assert target.stat().st_size > 0
    wrong = runner.invoke(cli, ["report", "by_mnth", "-p", root])
    assert wrong.exit_code == 1 and "did you mean 'by_month'?" in wrong.output
