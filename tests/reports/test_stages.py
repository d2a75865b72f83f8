"""Reports grouped by a time bucket of a date, computed in two stages (by the date, then
by its bucket), on each database: the same figures as one GROUP BY, for every measure that
combines from parts, with the viewer's scope, a parameter, sorting and top-N; chosen by
default only where it pays (SQLite, with an index of live records holding the report);
and the drill-down still opens the records behind each figure."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import textwrap
from decimal import Decimal
from html import unescape
from typing import Any

import pytest

from framework.records import Actor
from framework.reports import catalog_of, run_report
from framework.reports.access import user_of
from framework.reports.params import resolve
from framework.reports.query import ReportQuery
from tests.conftest import make_user
from tests.reports.test_reports import client, listed

DEAL = """
object: deal
title: name
fields:
  name: string
  stage: {type: choice, values: {open: Open, won: Won, lost: Lost}, filter: true}
  amount: money
  closed: date
  at: datetime
indexes:
  - {fields: [closed, stage], include: [amount], live: true}
"""
ROLES = """
roles:
  rep:
    objects: {deal: {read: own, create: yes}}
"""
REPORTS = {
    "monthly": """
        source: deal
        rows: [{field: closed, by: month}]
        columns: [stage]
        measures:
          deals: count
          won: {count: 'stage == "won"'}
          won_share: {ratio: [won, deals]}
          total: {sum: amount}
          mean: {avg: amount}
          biggest: {max: amount}
          smallest: {min: amount}
    """,
    "weekdays": """
        source: deal
        rows: [{field: closed, by: weekday}, {field: at, by: hour_of_day, name: hour}]
        measures: {deals: count, total: {sum: amount}}
    """,
    "quarters": """
        source: deal
        params: {since: {type: date, label: Since}}
        filter: closed >= :since
        rows: [{field: closed, by: quarter}]
        measures: {total: {sum: amount}, deals: count, first: {min: closed}}
        sort: [-total]
        top: 3
    """,
    "years": """
        source: deal
        rows: [{field: closed, by: year}, stage]
        measures: {deals: count, mean: {avg: amount, where: 'amount > 100'}}
    """,
    "weeks": """
        source: deal
        rows: [{field: closed, by: week}, {field: closed, by: day_of_month, name: day}]
        measures: {deals: count}
    """,
    "median": """
        source: deal
        rows: [{field: closed, by: month}, stage]
        measures: {deals: count, median: {median: amount}}
    """,
    "moments": """
        source: deal
        rows: [{field: at, by: month}, stage]
        measures: {deals: count, total: {sum: amount}}
    """,
}


def deals() -> list[dict[str, Any]]:
    rnd = random.Random(7)
    found = []
    for i in range(90):
        closed = dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(700))
        found.append(
            {
                "name": f"D{i}",
                "stage": rnd.choice(["open", "won", "won", "lost"]),
                "amount": None if i % 17 == 0 else str(Decimal(rnd.randrange(1, 90_000)) / 100),
                "closed": None if i % 11 == 0 else closed.isoformat(),
                "at": f"{closed} {rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00",
            }
        )
    return found


@pytest.fixture
def ficha(project: Any) -> Any:
    root = project.write({"deal": DEAL})
    (root / "roles.yaml").write_text(ROLES)
    (root / "reports").mkdir(exist_ok=True)
    for name, text in REPORTS.items():
        (root / "reports" / f"{name}.yaml").write_text(textwrap.dedent(text))
    ficha = project.migrated()
    make_user(ficha, "admin")
    rep = make_user(ficha, "rita", role="rep")
    for i, values in enumerate(deals()):
        actor = Actor(rep.id, "Rita", "screen", "rep") if i % 3 == 0 else Actor()
        ficha.records.create("deal", values, actor)
    deleted = ficha.records.create("deal", {"name": "gone", "closed": "2024-05-05", "amount": "1"})
    ficha.records.delete("deal", deleted.id)  # never counted
    return ficha


def computed(ficha: Any, name: str, two_stages: bool | None, who: Actor, **given: str) -> Any:
    report = catalog_of(ficha).reports[name]
    viewer = ficha.permissions.who(who)
    scope = ficha.permissions.scope(viewer, "deal", "read")
    params = resolve(report.spec.params, given)
    query = ReportQuery(ficha.storage, two_stages=two_stages)
    return query.run(report, params, scope=scope, user=user_of(viewer))


def rows(result: Any) -> list[tuple[Any, ...]]:
    return [
        (g.keys, g.column_keys, g.labels, g.column_labels, tuple(g.values)) for g in result.groups
    ]


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("monthly", {}),
        ("weekdays", {}),
        ("quarters", {}),
        ("quarters", {"since": "2024-09-01"}),
        ("years", {}),
        ("weeks", {}),
    ],
)
def test_two_stages_give_the_figures_of_one_group_by(ficha: Any, name: str, given: Any) -> None:
    with ficha.storage.read() as conn:
        rita = next(u for u in ficha.reader.list(conn, "user") if u.username == "rita")
    for who in (Actor(None, "test", "cli"), Actor(rita.id, "Rita", "screen", "rep")):
        once = computed(ficha, name, False, who, **given)
        twice = computed(ficha, name, True, who, **given)
        assert once.groups and rows(twice) == rows(once)
        for a, b in zip(twice.groups, once.groups, strict=True):
            for key, value in b.values.items():
                if isinstance(value, float):  # a mean: summed in another order
                    assert a.values[key] == pytest.approx(value, rel=1e-12), key
                else:  # counts, sums, minima and maxima: exactly
                    assert a.values[key] == value and type(a.values[key]) is type(value), key


def test_the_figures_are_those_of_the_records(ficha: Any) -> None:
    result = computed(ficha, "monthly", True, Actor(None, "test", "cli"))
    got = {(g.keys[0], g.column_keys[0]): g.values for g in result.groups}
    expected: dict[tuple[Any, Any], list[Decimal | None]] = {}
    for deal in deals():
        closed = deal["closed"] and dt.date.fromisoformat(deal["closed"]).replace(day=1)
        amount = None if deal["amount"] is None else Decimal(deal["amount"])
        expected.setdefault((closed or None, deal["stage"]), []).append(amount)
    assert set(got) == set(expected)
    for key, amounts in expected.items():
        given = [a for a in amounts if a is not None]
        assert got[key]["deals"] == len(amounts)
        assert got[key]["total"] == sum(given, Decimal(0))
        assert got[key]["biggest"] == (max(given) if given else None)
        if given:
            assert got[key]["mean"] == pytest.approx(float(sum(given) / len(given)), rel=1e-12)
        assert got[key]["won_share"] == (1.0 if key[1] == "won" else 0.0)


def group_bys(ficha: Any, name: str, who: Actor) -> int:
    report = catalog_of(ficha).reports[name]
    viewer = ficha.permissions.who(who)
    scope = ficha.permissions.scope(viewer, "deal", "read")
    stmt = ReportQuery(ficha.storage).statement(report, {}, scope=scope, user=user_of(viewer))
    return str(stmt.compile(ficha.storage.engine)).count("GROUP BY")


def test_two_stages_only_where_they_pay(ficha: Any) -> None:
    admin = Actor(None, "test", "cli")
    # SQLite sorts to group: reading the live index in order saves that; PostgreSQL and
    # MariaDB group by hashing and always get one stage
    stages = 2 if ficha.storage.backend == "sqlite" else 1
    assert group_bys(ficha, "monthly", admin) == stages
    assert group_bys(ficha, "median", admin) == 1  # a median needs every value at once
    assert group_bys(ficha, "moments", admin) == 1  # a date-time: by-the-moment shrinks nothing
    assert group_bys(ficha, "weekdays", admin) == 1  # grouped by an hour: not in the index
    with ficha.storage.read() as conn:
        rita = next(u for u in ficha.reader.list(conn, "user") if u.username == "rita")
    # her scope reads created_by, which the index does not hold
    assert group_bys(ficha, "monthly", Actor(rita.id, "Rita", "screen", "rep")) == 1


@pytest.mark.parametrize("backend", ["sqlite"])  # a plan of SQLite
def test_the_sqlite_plan_reads_the_index_in_order(backend: str, request: Any) -> None:
    ficha = request.getfixturevalue("ficha")
    report = catalog_of(ficha).reports["monthly"]
    stmt = ReportQuery(ficha.storage).statement(report, {})
    sql = str(stmt.compile(ficha.storage.engine, compile_kwargs={"literal_binds": True}))
    with ficha.storage.read() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert any("USING COVERING INDEX ix_deal_closed_stage_amount" in p for p in plan) or any(
        "USING INDEX ix_deal_closed_stage_amount" in p for p in plan
    ), plan
    # one sort, of the days (not of the records): the first stage streams from the index
    assert sum("TEMP B-TREE FOR GROUP BY" in p for p in plan) == 1, plan


def test_the_drill_down_opens_the_records_of_each_figure(ficha: Any) -> None:
    web = client(ficha)
    page = web.get("/admin/reports/years")
    assert page.status_code == 200
    links = [unescape(u) for u in re.findall(r'href="(/admin/deal/list\?expr=[^"]+)"', page.text)]
    who = ficha.permissions.who(Actor(None, "test", "cli"))
    result = run_report(ficha, who, catalog_of(ficha).reports["years"], {})
    counts = [g.values["deals"] for g in result.groups]
    assert len(links) >= len(counts) > 3
    shown = [listed(web.get(link).text) for link in dict.fromkeys(links)]
    assert shown[: len(counts)] == counts


def test_ficha_report_index_says_what_to_declare(ficha: Any, project: Any) -> None:
    from click.testing import CliRunner

    from cli import cli

    root = str(ficha.settings.project_dir)
    runner = CliRunner()
    served = runner.invoke(cli, ["report", "monthly", "-p", root, "--index"])
    assert served.exit_code == 0, served.output
    assert "served by the index declared at objects/deal.yaml:11:5" in served.output
    wanted = runner.invoke(cli, ["report", "moments", "-p", root, "--index"])
    assert "declare in objects/deal.yaml" in wanted.output, wanted.output
    entry = "  - {fields: [at, stage], include: [amount], live: true}"
    assert entry in wanted.output
    # declared as said, the report is served by it
    project.write({"deal": DEAL + entry + "\n"})
    migrated = project.migrated()
    again = runner.invoke(cli, ["report", "moments", "-p", root, "--index"])
    assert "served by the index declared at objects/deal.yaml:12:5" in again.output, again.output
    table = migrated.storage.table("deal")
    assert "ix_deal_at_stage_amount" in {str(i.name) for i in table.indexes}


def test_a_slow_report_page_tells_an_admin_the_index(
    ficha: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app_builder.reports import pages

    monkeypatch.setattr(pages, "SLOW_REPORT_MS", 0.0)  # every run counts as slow
    advice = 'data-ficha="index-advice"'
    page = client(ficha).get("/admin/reports/moments").text
    assert advice in page and "include: [amount], live: true}" in unescape(page)
    assert "objects/deal.yaml" in page
    assert advice not in client(ficha).get("/admin/reports/monthly").text  # served already
    assert advice not in client(ficha, "rita").get("/admin/reports/moments").text  # not admin
    monkeypatch.setattr(pages, "SLOW_REPORT_MS", float("inf"))
    assert advice not in client(ficha).get("/admin/reports/moments").text  # fast enough


@pytest.mark.parametrize("backend", ["sqlite"])  # a setting of SQLite's sorter
def test_sqlite_sorts_in_small_runs_and_gives_the_cache_back(backend: str, request: Any) -> None:
    ficha = request.getfixturevalue("ficha")
    import sqlalchemy as sa

    from storage.reporting import SORT_RUN_KIB

    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("PRAGMA"):
            sent.append(statement)
        elif statement.startswith("SELECT"):
            sent.append("SELECT")

    engine = ficha.storage.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        computed(ficha, "median", None, Actor(None, "test", "cli"))  # sorts to group and rank
        grouped = list(sent)
        sent.clear()
        report = catalog_of(ficha).reports["median"]
        ungrouped = dataclasses.replace(report, rows=(), columns=(), measures=report.measures[:1])
        ReportQuery(ficha.storage).run(ungrouped, {})  # a count: nothing to sort
        counted = list(sent)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    with ficha.storage.read() as conn:
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    assert grouped == [
        "PRAGMA cache_size",
        f"PRAGMA cache_size=-{SORT_RUN_KIB}",
        "SELECT",
        f"PRAGMA cache_size={cache}",
    ]
    assert cache == -65536  # storage.manager's page cache, given back
    assert counted == ["SELECT"]
