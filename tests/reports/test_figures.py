"""The call-centre statistics of CARUSO from the YAML reports of docs/examples/callcentre,
on the real data (33,344 calls), each figure checked against the same computation done
independently with pandas on the CSV — on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from framework.records import Actor
from framework.reports import catalog_of, run_report
from tests.conftest import BACKENDS, ProjectFactory, _fresh_database
from tests.reports import calls

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = pd.read_csv(calls.data_file())
    df["day"] = pd.to_datetime(df["date"].astype(str), format="%y%m%d").dt.date
    df["hour"] = df["vru_entry"].str.split(":").str[0].astype(int)
    return df


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The example project with every call, once per database for the whole module."""
    root: Path = tmp_path_factory.mktemp(f"calls-{request.param}")
    databases = _fresh_database(request, request.param, root / "db")
    url = next(databases)
    factory = ProjectFactory(root / "proj", url)
    factory.write(calls.copy_example(root / "proj"))
    ficha = factory.migrated()
    assert calls.load(ficha) == 33_344
    try:
        yield ficha
    finally:
        factory.close()
        next(databases, None)


def run(ficha: Any, name: str, **params: str) -> Any:
    who = ficha.permissions.who(Actor(None, "test", "cli"))
    return run_report(ficha, who, catalog_of(ficha).reports[name], params)


def test_calls_offered_per_hour_of_day(loaded: Any, frame: pd.DataFrame) -> None:
    result = run(loaded, "calls_per_hour")
    got = {g.keys[0]: g.values["offered"] for g in result.groups}
    expected = frame.groupby("hour").size().to_dict()
    assert got == expected
    assert sum(got.values()) == 33_344


def test_abandoned_share_per_day(loaded: Any, frame: pd.DataFrame) -> None:
    result = run(loaded, "abandoned_per_day")
    got = {g.keys[0]: g.values for g in result.groups}
    by_day = frame.groupby("day")
    expected = (by_day["outcome"].apply(lambda s: (s == "HANG").sum()) / by_day.size()).to_dict()
    assert set(got) == set(expected) and len(got) == 28
    for day, share in expected.items():
        assert got[day]["abandoned_share"] == pytest.approx(share, rel=1e-9)
        assert got[day]["offered"] == by_day.size()[day]


def test_queue_wait_mean_and_90th_percentile(loaded: Any, frame: pd.DataFrame) -> None:
    queued = frame[frame["q_start"] != "0:00:00"]["q_time"]
    result = run(loaded, "queue_wait")
    values = result.groups[0].values
    assert values["queued"] == len(queued)
    assert values["mean_wait"] == pytest.approx(queued.mean(), rel=1e-9)
    assert values["p90_wait"] == pytest.approx(queued.quantile(0.9), rel=1e-9)


def test_queue_wait_for_a_period_given_as_parameters(loaded: Any, frame: pd.DataFrame) -> None:
    week = frame[
        (frame["q_start"] != "0:00:00") & (frame["date"] >= 990208) & (frame["date"] < 990215)
    ]
    values = (
        run(loaded, "queue_wait", **{"from": "1999-02-08", "until": "1999-02-15"}).groups[0].values
    )
    assert values["queued"] == len(week)
    assert values["p90_wait"] == pytest.approx(week["q_time"].quantile(0.9), rel=1e-9)


def test_mean_service_time_per_agent(loaded: Any, frame: pd.DataFrame) -> None:
    served = frame[(frame["outcome"] == "AGENT") & (frame["server"] != "NO_SERVER")]
    expected = served.groupby("server")["ser_time"].agg(["mean", "median", "size"])
    result = run(loaded, "service_time_per_agent")
    assert len(result.groups) == len(expected)
    for group in result.groups:
        agent = group.keys[0]
        assert group.values["mean_service"] == pytest.approx(expected.loc[agent, "mean"], rel=1e-9)
        assert group.values["median_service"] == pytest.approx(expected.loc[agent, "median"])
        assert group.values["served"] == expected.loc[agent, "size"]
    means = [g.values["mean_service"] for g in result.groups]
    assert means == sorted(means, reverse=True)  # sort: [-mean_service]


def test_pivot_of_calls_by_type_and_outcome(loaded: Any, frame: pd.DataFrame) -> None:
    result = run(loaded, "calls_by_type")
    expected = frame.groupby(["type", "outcome"]).size().to_dict()
    got = {(g.keys[0], g.column_keys[0]): g.values["calls"] for g in result.groups}
    assert got == expected
    first_rows = list(dict.fromkeys(g.keys[0] for g in result.groups))
    assert first_rows[0] == "PS"  # sorted by the row's total, biggest first


WEEKLY = """
label: Calls per week and type
source: call
rows: [{field: date, by: week}, type]
measures:
  calls: count
  abandoned: {count: 'outcome == "HANG"'}
  abandoned_share: {ratio: [abandoned, calls]}
  mean_wait: {avg: q_time, where: 'q_start is not null'}
  longest_service: {max: ser_time}
  shortest_vru: {min: vru_time}
  service: {sum: ser_time}
"""


@pytest.mark.parametrize("two_stages", [True, False], ids=["two stages", "one stage"])
def test_weekly_figures_per_type(
    loaded: Any, frame: pd.DataFrame, tmp_path: Path, two_stages: bool
) -> None:
    from framework.reports.compile import compile_report
    from framework.reports.load import load_reports
    from framework.reports.query import ReportQuery

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "weekly.yaml").write_text(WEEKLY)
    problems: list[Any] = []
    specs = load_reports([(tmp_path / "reports", "test")], tmp_path, problems)
    report = compile_report(specs[0], loaded.model, problems)
    assert report is not None, problems
    result = ReportQuery(loaded.storage, two_stages=two_stages).run(report, {})
    df = frame.assign(week=[d - pd.Timedelta(days=d.weekday()) for d in frame["day"]])
    queued = df[df["q_start"] != "0:00:00"].groupby(["week", "type"])["q_time"].mean()
    by = df.groupby(["week", "type"])
    expected = pd.DataFrame(
        {
            "calls": by.size(),
            "abandoned": by["outcome"].apply(lambda s: int((s == "HANG").sum())),
            "longest_service": by["ser_time"].max(),
            "shortest_vru": by["vru_time"].min(),
            "service": by["ser_time"].sum(),
        }
    )
    got = {tuple(g.keys): g.values for g in result.groups}
    assert set(got) == set(expected.index) and len(got) > 20
    for key, row in expected.iterrows():
        values = got[key]
        for name in ("calls", "abandoned", "longest_service", "shortest_vru", "service"):
            assert values[name] == row[name], (key, name)
        assert values["abandoned_share"] == pytest.approx(row["abandoned"] / row["calls"])
        if key in queued.index:
            assert values["mean_wait"] == pytest.approx(queued[key], rel=1e-9)
        else:
            assert values["mean_wait"] is None
