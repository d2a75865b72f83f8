"""`ficha demo --pack banking` as a consultant runs it (on SQLite, small): the project is
created and filled, and the morning rule has put yesterday's web simulations in front of
the personal managers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import cli
from verticals.banking.demo import BANK


@pytest.mark.slow
def test_the_banking_demo_is_filled_and_the_managers_alerted(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", str(folder), "--pack", "banking", "--size", "5", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "sample records created" in result.output
    engine = sa.create_engine(f"sqlite:///{folder / 'data' / 'ficha.sqlite'}")
    try:
        with engine.connect() as conn:

            def one(sql: str) -> object:
                return conn.exec_driver_sql(sql).scalar_one()

            # simulations 0-7 were made yesterday; 0, 1, 2, 4, 5, 6 on the web or the app
            # (those of the last minutes count too in the hour when the project's date is
            # already tomorrow); never those made at the branch
            alerted = one("SELECT count(*) FROM mortgage_simulation WHERE manager_alerted")
            assert isinstance(alerted, int) and alerted >= 6
            alerts = one("SELECT count(*) FROM alert WHERE title LIKE 'Simulated a mortgage%'")
            assert alerts == alerted
            branch = (
                "SELECT count(*) FROM mortgage_simulation"
                " WHERE manager_alerted AND channel = 'branch'"
            )
            assert one(branch) == 0
            assert (
                one("SELECT count(*) FROM mortgage_simulation WHERE monthly_payment IS NULL") == 0
            )
            assert one("SELECT count(*) FROM bank_complaint WHERE overdue") >= 1
            assert one("SELECT count(*) FROM contract WHERE iban IS NOT NULL") >= 1
            assert one("SELECT count(*) FROM campaign_call") == (250 if BANK.exists() else 0)
    finally:
        engine.dispose()
