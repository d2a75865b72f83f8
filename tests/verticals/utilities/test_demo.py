"""`ficha demo --pack utilities` as a consultant runs it (on SQLite, small): the project
is created and filled, and the pack's rules have left their marks in the sample data."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import cli


@pytest.mark.slow
def test_the_utilities_demo_is_filled_and_the_rules_have_run(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", str(folder), "--pack", "utilities", "--size", "5", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "sample records created" in result.output
    engine = sa.create_engine(f"sqlite:///{folder / 'data' / 'ficha.sqlite'}")
    try:
        with engine.connect() as conn:

            def one(sql: str) -> object:
                return conn.exec_driver_sql(sql).scalar_one()

            assert one("SELECT count(*) FROM supply_point") >= 10
            assert one("SELECT count(*) FROM alert WHERE title = '3 complaints in 30 days'") == 2
            assert one("SELECT count(*) FROM meter_reading WHERE above_average") >= 1
            assert one("SELECT count(*) FROM activity WHERE subject LIKE 'Check meter %'") >= 1
            assert one("SELECT status FROM outage WHERE kind = 'unplanned'") == "confirmed"
            assert one("SELECT count(*) FROM account WHERE churn_risk = 'high'") >= 2
    finally:
        engine.dispose()
