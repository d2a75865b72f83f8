"""What reports ask of the database that differs between SQLite, PostgreSQL and MariaDB:
time buckets, parts of a date, and percentiles.

Every bucket is the start of its period (a date, or a date-time for `hour`), whatever
the database returns it as; `bucket_value` turns the raw value into a Python one.
Percentiles follow PostgreSQL's `percentile_cont` (linear interpolation between the two
nearest ranks, as pandas' `quantile` does). PostgreSQL computes them itself; SQLite and
MariaDB get them from window functions: each row's rank in its group and the group's
size, then one SUM picks (and weighs) the one or two rows around the percentile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import visitors


class Reporting:
    """Base (PostgreSQL-like) behaviour; the other databases override what differs."""

    native_percentile = False

    # -- time buckets ----------------------------------------------------------------------

    def bucket(self, unit: str, expr: Any, is_date: bool) -> Any:
        raise NotImplementedError

    def part(self, unit: str, expr: Any) -> Any:
        """hour_of_day 0-23, weekday 1 (Monday)-7, day_of_month 1-31, month_of_year 1-12."""
        raise NotImplementedError

    @staticmethod
    def bucket_value(unit: str, raw: Any) -> dt.date | dt.datetime | None:
        if raw is None:
            return None
        if isinstance(raw, dt.datetime):
            value: dt.date | dt.datetime = raw
        elif isinstance(raw, dt.date):
            value = raw
        else:
            text = str(raw).strip().replace("T", " ")
            value = (
                dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
            )
        if unit == "hour":
            if not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time())
            return value.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        return value.date() if isinstance(value, dt.datetime) else value

    # -- grouping ----------------------------------------------------------------------------

    def groups_twice(self, table: sa.Table, groups: Sequence[Any], rows: sa.Select[Any]) -> bool:
        """Whether this database computes a report faster by grouping its records by the
        plain `groups` first (then by their buckets), for the records `rows` selects.
        PostgreSQL and MariaDB group by hashing: one pass whatever the groups are."""
        return False

    @contextlib.contextmanager
    def sorting(self, conn: sa.Connection) -> Iterator[None]:
        """Around a statement that sorts many records (to group them, to rank them):
        what this database needs to do that well. Nothing, but on SQLite."""
        yield

    # -- measures --------------------------------------------------------------------------

    def mean(self, value: Any) -> Any:
        return sa.func.avg(value)

    def ratio(self, numerator: Any, denominator: Any) -> Any:
        """A share in full floating precision, empty when dividing by zero."""
        return sa.cast(numerator, sa.Float) / sa.func.nullif(denominator, 0)

    # -- percentiles -----------------------------------------------------------------------

    def percentile(self, value: Any, fraction: float) -> Any:
        """An aggregate (PostgreSQL only: see `native_percentile`)."""
        raise NotImplementedError

    @staticmethod
    def rank_columns(value: Any, partition: list[Any]) -> tuple[Any, Any]:
        """The row's rank among the group's non-empty values, and how many there are."""
        rank = sa.func.row_number().over(partition_by=[*partition, value.is_(None)], order_by=value)
        size = sa.func.count(value).over(partition_by=partition or None)
        return rank, size

    def pick_percentile(self, value: Any, rank: Any, size: Any, fraction: float) -> Any:
        """SUM() of this over a group gives the percentile (NULL for an empty group).

        With n values, the percentile sits at 0-based position h = (n - 1) * p: the
        rows ranked floor(h) + 1 and floor(h) + 2, weighed by the fractional part.
        p is kept as an exact fraction so that h is computed in whole numbers."""
        exact = Fraction(fraction).limit_denominator(10_000)
        num, den = exact.numerator, exact.denominator
        scaled = (size - 1) * sa.literal_column(str(num), sa.Integer)
        # integer division: SQLAlchemy writes // as / on SQLite and DIV on MariaDB
        low = scaled // sa.literal_column(str(den), sa.Integer)
        frac = (
            (scaled % sa.literal_column(str(den), sa.Integer))
            * sa.literal_column("1.0")
            / sa.literal_column(str(den))
        )
        return sa.case(
            (value.is_(None), sa.null()),
            (rank == low + 1, value * (sa.literal_column("1.0") - frac)),
            (rank == low + 2, value * frac),
            else_=sa.literal_column("0"),
        )


#: the memory SQLite sorts a run of records in before it writes the run out and sorts
#: the next (kibibytes; its least is 250 pages, 1 MB with 4 KB pages)
SORT_RUN_KIB = 1024


class SQLiteReporting(Reporting):
    """Date-times are stored as ISO text ('2025-01-31 09:15:00.000000'): most buckets
    are a prefix of it, which is much cheaper than date functions."""

    def bucket(self, unit: str, expr: Any, is_date: bool) -> Any:
        if unit == "hour":
            return sa.func.substr(expr, 1, 13).op("||")(sa.literal_column("':00:00'"))
        if unit == "day":
            return sa.func.substr(expr, 1, 10)
        if unit == "week":  # back to Monday: 6 days back, then forward to a Monday
            return sa.func.date(expr, "-6 days", "weekday 1")
        if unit == "month":
            return sa.func.substr(expr, 1, 7).op("||")(sa.literal_column("'-01'"))
        if unit == "quarter":
            month = sa.cast(sa.func.substr(expr, 6, 2), sa.Integer)
            first = (month - 1) / 3 * 3 + 1
            # printf() writes an empty date as '-00-01': the year's || keeps it empty
            return sa.func.substr(expr, 1, 4).op("||")(sa.func.printf("-%02d-01", first))
        if unit == "year":
            return sa.func.substr(expr, 1, 4).op("||")(sa.literal_column("'-01-01'"))
        raise ValueError(unit)

    def groups_twice(self, table: sa.Table, groups: Sequence[Any], rows: sa.Select[Any]) -> bool:
        """SQLite groups by sorting every record, unless it reads them in the order of an
        index (it has no hash aggregation). Grouping by the plain columns first lets it
        read them so when an index of live records (`live: true`) starts with exactly
        those columns and holds everything else the records are read for: the report is
        then one pass over that index, and the second stage sorts a few rows per day.
        Without such an index both stages would sort: one stage is better."""
        names = set()
        for group in groups:
            if not isinstance(group, sa.Column) or group.table is not table:
                return False
            names.add(group.name)
        read = _columns_read(rows)
        if any(column.table is not table for column in read):
            return False  # a link followed, a subquery: not one index
        # every SQLite index holds the rowid (the id), and a live index leaves out the
        # records deleted_at IS NULL would skip
        needed = {column.name for column in read} - {"id", "deleted_at"}
        for index in table.indexes:
            if index.dialect_kwargs.get("sqlite_where") is None or index.unique:
                continue
            held = [column.name for column in index.columns]
            if set(held[: len(names)]) == names and needed <= set(held):
                return True
        return False

    @contextlib.contextmanager
    def sorting(self, conn: sa.Connection) -> Iterator[None]:
        """SQLite sorts in memory in runs as big as the connection's page cache, then
        merges the runs. With Ficha's 64 MB cache (storage/manager.py) a million records
        make one run, sorted by chasing pointers far outside the processor's caches; runs
        of 1 MB (the least SQLite takes) sort in half the time: grouping 1,000,000
        customers by month and segment took 0.9 s of CPU instead of 1.85 s (SQLite
        3.40). The page cache is set back afterwards; the statement's scan of the table
        has pushed most of it out anyway."""
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SORT_RUN_KIB}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")

    def part(self, unit: str, expr: Any) -> Any:
        if unit == "hour_of_day":
            return sa.cast(sa.func.strftime("%H", expr), sa.Integer)
        if unit == "weekday":
            return (sa.cast(sa.func.strftime("%w", expr), sa.Integer) + 6) % 7 + 1
        if unit == "day_of_month":
            return sa.cast(sa.func.strftime("%d", expr), sa.Integer)
        if unit == "month_of_year":
            return sa.cast(sa.func.strftime("%m", expr), sa.Integer)
        raise ValueError(unit)


class PostgreSQLReporting(Reporting):
    native_percentile = True

    def bucket(self, unit: str, expr: Any, is_date: bool) -> Any:
        # date_trunc on a date would go through timestamp WITH time zone: cast first
        moment = sa.cast(expr, sa.DateTime) if is_date else expr
        start = sa.func.date_trunc(sa.literal_column(f"'{unit}'"), moment)
        return start if unit == "hour" else sa.cast(start, sa.Date)

    def part(self, unit: str, expr: Any) -> Any:
        field = {
            "hour_of_day": "hour",
            "weekday": "isodow",
            "day_of_month": "day",
            "month_of_year": "month",
        }[unit]
        return sa.cast(sa.extract(field, expr), sa.Integer)

    def percentile(self, value: Any, fraction: float) -> Any:
        return sa.func.percentile_cont(sa.literal_column(repr(float(fraction)))).within_group(value)


class MariaDBReporting(Reporting):
    """Decimal division keeps 4 decimals on MariaDB: measures divide in DOUBLE."""

    def mean(self, value: Any) -> Any:
        return sa.func.avg(sa.cast(value, sa.Double))

    def ratio(self, numerator: Any, denominator: Any) -> Any:
        return sa.cast(numerator, sa.Double) / sa.func.nullif(denominator, 0)

    def bucket(self, unit: str, expr: Any, is_date: bool) -> Any:
        if unit == "hour":
            return sa.func.date_format(expr, sa.literal_column("'%Y-%m-%d %H:00:00'"))
        if unit == "day":
            return sa.func.date(expr)
        if unit == "week":
            return sa.func.subdate(sa.func.date(expr), sa.func.weekday(expr))
        if unit == "month":
            return sa.func.date_format(expr, sa.literal_column("'%Y-%m-01'"))
        if unit == "quarter":
            first = (sa.func.quarter(expr) - 1) * 3 + 1
            return sa.func.concat(sa.func.year(expr), "-", sa.func.lpad(first, 2, "0"), "-01")
        if unit == "year":
            return sa.func.date_format(expr, sa.literal_column("'%Y-01-01'"))
        raise ValueError(unit)

    def part(self, unit: str, expr: Any) -> Any:
        if unit == "weekday":
            return sa.func.weekday(expr) + 1
        return {
            "hour_of_day": sa.func.hour,
            "day_of_month": sa.func.dayofmonth,
            "month_of_year": sa.func.month,
        }[unit](expr)


def _columns_read(rows: sa.Select[Any]) -> set[sa.Column[Any]]:
    """The table columns a SELECT reads, in what it selects and in its WHERE."""
    found: set[sa.Column[Any]] = set()
    parts = [*rows.selected_columns]
    if rows.whereclause is not None:
        parts.append(rows.whereclause)
    for part in parts:
        for element in visitors.iterate(part):
            if isinstance(element, sa.Column):
                found.add(element)
    return found


def reporting_for(backend: str) -> Reporting:
    return {
        "sqlite": SQLiteReporting,
        "postgresql": PostgreSQLReporting,
        "mariadb": MariaDBReporting,
    }.get(backend, Reporting)()
