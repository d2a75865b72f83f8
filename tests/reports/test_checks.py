"""Report, dashboard and monitor YAML is checked at load like objects: a stable id,
file:line:column, and a did-you-mean; `ficha check` lists the problems."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import cli
from modeler.problems import ModelError

DEAL = """
object: deal
fields:
  name: string
  stage: {type: choice, values: {open: Open, won: Won, lost: Lost}}
  amount: money
  closed: date
"""


def write(root: Path, folder: str, name: str, text: str) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{name}.yaml").write_text(textwrap.dedent(text))


def problems(sqlite_project: Any) -> list[str]:
    with pytest.raises(ModelError) as caught:
        sqlite_project.load()
    return [str(p) for p in caught.value.problems]


def test_a_misspelt_field_is_named_with_its_position_and_a_suggestion(sqlite_project: Any) -> None:
    root = sqlite_project.write({"deal": DEAL})
    write(
        root,
        "reports",
        "won",
        """\
        source: deal
        rows: [stage]
        measures:
          total: {sum: amout}
        """,
    )
    found = problems(sqlite_project)
    assert len(found) == 1
    assert found[0].startswith("reports/won.yaml:4:10: in the measure 'amout'")
    assert "did you mean 'amount'?" in found[0] and found[0].endswith("[P010]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("source: dael\n", "unknown object 'dael' (did you mean 'deal'?) [P003]"),
        ("source: deal\nrows: [{field: stage, by: month}]\n", "cannot be grouped by month"),
        ("source: deal\nrows: [{field: closed, by: mnth}]\n", "(did you mean 'month'?) [P005]"),
        ("source: deal\nmeasures: {x: {avg: name}}\n", "avg needs a number, and 'name' is text"),
        ("source: deal\nmeasures: {r: {ratio: [won, all]}}\n", "unknown measure 'won'"),
        ("source: deal\nsort: [-total]\n", "cannot sort by 'total'"),
        ("source: deal\nchart: pi\n", "'pi' is not a chart (did you mean 'pie'?) [P005]"),
        ("source: deal\nfilter: closed >= :form\nparams: {from: date}\n", "did you mean 'from'?"),
        ("source: deal\nrows: [stage]\nmesures: {}\n", "unknown key 'mesures' in report 'r'"),
    ],
)
def test_each_problem_has_its_id_and_hint(sqlite_project: Any, text: str, expected: str) -> None:
    root = sqlite_project.write({"deal": DEAL})
    write(root, "reports", "r", text)
    found = problems(sqlite_project)
    assert any(expected in p for p in found), found


def test_dashboards_and_monitors_are_checked_against_reports_and_objects(
    sqlite_project: Any,
) -> None:
    root = sqlite_project.write({"deal": DEAL})
    write(root, "reports", "pipeline", "source: deal\nrows: [stage]\n")
    write(
        root,
        "dashboards",
        "sales",
        "widgets:\n  - {report: pipelin}\n  - {kpi: pipeline, measure: sum}\n",
    )
    write(root, "monitors", "live", "tiles:\n  open: {source: deal, count: 'stge == \"open\"'}\n")
    found = problems(sqlite_project)
    assert any(p.startswith("dashboards/sales.yaml:2:5: unknown report 'pipelin'") for p in found)
    assert any("has no measure 'sum'" in p for p in found)
    assert any(p.startswith("monitors/live.yaml:2:9:") and "'stge'" in p for p in found)


def test_ficha_check_lists_report_problems(sqlite_project: Any) -> None:
    root = sqlite_project.write({"deal": DEAL})
    write(root, "reports", "won", "source: deal\nrows: [stag]\n")
    result = CliRunner().invoke(cli, ["check", "--project", str(root)])
    assert result.exit_code == 1
    assert "reports/won.yaml:2:8" in result.output
    assert "did you mean 'stage'?" in result.output and "P010" in result.output


def test_a_pack_may_bring_reports(sqlite_project: Any) -> None:
    from framework.reports import catalog_of

    sqlite_project.write({}, packs=("core",))
    ficha = sqlite_project.load()
    core = next(p for p in ficha.model.packs if p.name == "core")
    assert core.path is not None
    # the catalog reads <pack>/reports next to <pack>/objects
    from framework.reports.catalog import folders

    assert (core.path / "reports", "core") in folders(ficha, "reports")
    assert catalog_of(ficha) is catalog_of(ficha)
