"""The call-centre example project and its real data, for the report tests.

The importer (issue 7) cannot yet join the CSV's day and time columns into one moment,
so this loader reads the CSV itself and inserts the rows in bulk (the records service
would take minutes for 33,344 calls on each database; what is tested here is the
reports, not the write path)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "callcentre"
DATA = REPO.parent / "shared" / "data" / "anonymous_bank_callcenter_1999_02.csv"
if not DATA.exists():  # a clone elsewhere: the shared folder beside the repository
    DATA = Path("/work/shared/data/anonymous_bank_callcenter_1999_02.csv")

MOMENTS = ("vru_entry", "vru_exit", "q_start", "q_exit", "ser_start", "ser_exit")


def data_file() -> Path:
    if not DATA.exists():
        pytest.skip(f"the call-centre data set is not there ({DATA}); see shared/data/README.md")
    return DATA


def copy_example(root: Path, with_yaml: bool = True) -> dict[str, str]:
    """The example's objects as ProjectFactory input; its reports, dashboards and
    monitors copied into the project folder."""
    if with_yaml:
        for sub in ("reports", "dashboards", "monitors"):
            target = root / sub
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(EXAMPLE / sub, target)
    return {"call": (EXAMPLE / "objects" / "call.yaml").read_text()}


def _moment(day: dt.date, text: str, after: dt.datetime | None) -> dt.datetime | None:
    if text == "0:00:00":
        return None
    h, m, s = (int(x) for x in text.split(":"))
    moment = dt.datetime.combine(day, dt.time(h, m, s))
    if after is not None and moment < after - dt.timedelta(hours=12):
        moment += dt.timedelta(days=1)  # past midnight
    return moment


def rows(limit: int | None = None) -> list[dict[str, Any]]:
    now = dt.datetime(2026, 1, 1)
    found = []
    with data_file().open(newline="") as handle:
        for i, raw in enumerate(csv.DictReader(handle)):
            if limit is not None and i >= limit:
                break
            day = dt.datetime.strptime(raw["date"], "%y%m%d").date()
            entry = _moment(day, raw["vru_entry"], None)
            row: dict[str, Any] = {
                "vru_line": raw["vru+line"],
                "call_id": int(raw["call_id"]),
                "customer_id": raw["customer_id"] or None,
                "priority": int(raw["priority"]),
                "type": raw["type"],
                "date": day,
                "vru_time": int(raw["vru_time"]),
                "q_time": int(raw["q_time"]),
                "outcome": raw["outcome"],
                "ser_time": int(raw["ser_time"]),
                "server": raw["server"],
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for name in MOMENTS:
                row[name] = _moment(day, raw[name], entry)
            found.append(row)
    return found


def load(ficha: Any, limit: int | None = None) -> int:
    table = ficha.storage.table("call")
    data = rows(limit)
    with ficha.storage.write() as conn:
        for start in range(0, len(data), 5000):
            conn.execute(sa.insert(table), data[start : start + 5000])
    return len(data)
