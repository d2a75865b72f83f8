"""What differs between SQLite, PostgreSQL and MariaDB: full-text search structures and
queries, and cheap row-count estimates. The rest of Ficha asks these through storage.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.mysql.reserved_words import RESERVED_WORDS_MARIADB
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

WORD_RE = re.compile(r"\w+", re.UNICODE)
_bind_counter = itertools.count()


def _words(term: str) -> list[str]:
    return WORD_RE.findall(term)[:8]


def fts_table_name(table: str) -> str:
    from storage.tables import short_name

    return short_name(f"{table}__fts")


def fts_index_name(table: str) -> str:
    from storage.tables import short_name

    return short_name(f"ft_{table}")


# Words MariaDB reserves that SQLAlchemy's list (which decides what it quotes) lacks: a
# field named `portion` (MariaDB 10.3's FOR PORTION OF) broke CREATE TABLE. The list is a
# module-level set the MariaDB identifier preparer reads.
RESERVED_WORDS_MARIADB.update({"portion"})


class Dialect:
    """Base behaviour; each database overrides what it does differently."""

    name = "generic"

    def fulltext_ddl(self, table: str, columns: Sequence[str]) -> list[str]:
        """Statements that build the full-text structure over `columns` (none: dropped)."""
        return []

    def fulltext_drop_ddl(self, table: str) -> list[str]:
        return []

    def fulltext_clause(self, table: sa.Table, columns: Sequence[str], term: str) -> Any:
        """A WHERE clause matching rows whose search columns contain every word of `term`
        (as word prefixes). Values are always bound, never spliced into the SQL."""
        words = _words(term)
        if not words:
            return sa.true()
        return sa.and_(
            *[
                sa.or_(*[sa.func.lower(table.c[c]).like(f"%{w.lower()}%") for c in columns])
                for w in words
            ]
        )

    def prefix_clause(self, table: sa.Table, column: str, term: str) -> Any | None:
        """A WHERE clause matching the rows whose `column`, case and accents folded,
        starts with `term` — through an index, or None where there is none (a caller
        saying their whole name is found at once, before the full-text search)."""
        return None

    def has_prefix_index(self, conn: Connection, table: str) -> bool:
        """Whether the table's prefix index is there."""
        return False

    def fulltext_complete(self, conn: Connection, table: str) -> bool:
        """Whether the table's full-text structure is all there is to it now (one built
        by an earlier version may lack a part: `ficha migrate` builds it again)."""
        return True

    def estimate_rows(self, conn: Connection, table: sa.Table) -> int | None:
        """A fast approximate row count of the whole table, or None if unknown."""
        return None

    # -- expression helpers: the same meaning on every database ---------------------------

    def exact_text(self, expr: Any) -> Any:
        """Text compared character by character (case and accents matter)."""
        return expr

    def ordered_text(self, expr: Any) -> Any:
        """Text ordered by code point, as Python orders it."""
        return self.exact_text(expr)

    def text_equal(self, left: Any, right: Any) -> Any:
        """`left == right` for text, exactly as Python compares it."""
        return self.exact_text(left) == self.exact_text(right)

    def text_in(self, operand: Any, items: list[Any]) -> Any:
        """`operand in (items)` for text, exactly as Python compares it."""
        return self.exact_text(operand).in_([self.exact_text(i) for i in items])

    def divide(self, left: Any, right: Any) -> Any:
        """Division with decimals, empty when dividing by zero."""
        return sa.cast(left, sa.Numeric(36, 12)) / sa.func.nullif(right, 0)

    def add_interval(self, expr: Any, delta: dt.timedelta, is_date: bool) -> Any:
        raise NotImplementedError

    def days_between(self, later: Any, earlier: Any) -> Any:
        raise NotImplementedError

    def date_part(self, part: str, expr: Any) -> Any:
        return sa.cast(sa.extract(part, expr), sa.Integer)

    def char_length(self, expr: Any) -> Any:
        return sa.func.char_length(expr)

    def position(self, haystack: Any, needle: Any) -> Any:
        """1-based position of needle in haystack, 0 when absent."""
        return sa.func.strpos(haystack, needle)

    def list_contains(self, column: Any, value: Any) -> Any:
        """A multichoice (JSON list) column holds `value`."""
        raise NotImplementedError

    def round_to(self, expr: Any, scale: int) -> Any:
        """Round half away from zero to `scale` decimals (the scale is a constant)."""
        return sa.func.round(expr, sa.literal_column(str(int(scale))))

    def order_after_filter(self, expr: Any) -> Any:
        """A sort key the planner should not walk an index for: used when a search has
        already narrowed the rows to a few, so they are found first and sorted after."""
        return expr

    def frequent(self, condition: Any) -> Any:
        """A condition that holds for a large share of the rows (a team's records): the
        planner should walk the index of the order and test it row by row rather than
        seek the rows by it and sort them all. The condition itself when the planner
        weighs a LIMIT by itself."""
        return condition

    def fence(self, select: sa.Select[Any]) -> sa.Select[Any]:
        """A subquery the planner must run on its own rather than merge into the query
        around it (so the rows it selects drive the rest)."""
        return select


class SQLiteDialect(Dialect):
    """FTS5 external-content table kept in step by triggers."""

    name = "sqlite"

    def order_after_filter(self, expr: Any) -> Any:
        # SQLite's documented way to keep a term from using an index: unary plus (a no-op
        # on every type). Without it an exact lookup walked the whole sort index.
        return UnaryExpression(expr, operator=operators.custom_op("+"), type_=expr.type)

    def frequent(self, condition: Any) -> Any:
        # likelihood() tells SQLite how often a term holds. At 0.5 a page walks the sort
        # index and keeps the matching rows (1,000,000 rows, 12% matching: 0.2 ms where
        # seeking the term's index and sorting its rows took 2 s), while a count still
        # reads the term's index (1 ms where a unary + made it scan: 20 ms).
        # (untyped: typed Boolean, SQLAlchemy would add "= 1", which hides the term)
        return sa.func.likelihood(condition, sa.literal_column("0.5"))

    def fulltext_ddl(self, table: str, columns: Sequence[str]) -> list[str]:
        fts = fts_table_name(table)
        cols = ", ".join(f'"{c}"' for c in columns)
        new = ", ".join(f'new."{c}"' for c in columns)
        old = ", ".join(f'old."{c}"' for c in columns)
        return [
            *self.fulltext_drop_ddl(table),
            f'CREATE VIRTUAL TABLE "{fts}" USING fts5({cols}, content="{table}", '
            "content_rowid=\"id\", tokenize='unicode61 remove_diacritics 2', "
            "prefix='2 3')",
            f'CREATE TRIGGER "{fts}_ai" AFTER INSERT ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"(rowid, {cols}) VALUES (new."id", {new}); END',
            f'CREATE TRIGGER "{fts}_ad" AFTER DELETE ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"("{fts}", rowid, {cols}) VALUES (\'delete\', old."id", {old}); '
            "END",
            f'CREATE TRIGGER "{fts}_au" AFTER UPDATE ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"("{fts}", rowid, {cols}) VALUES (\'delete\', old."id", {old}); '
            f'INSERT INTO "{fts}"(rowid, {cols}) VALUES (new."id", {new}); END',
            f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')',
        ]

    def fulltext_drop_ddl(self, table: str) -> list[str]:
        fts = fts_table_name(table)
        return [
            f'DROP TRIGGER IF EXISTS "{fts}_ai"',
            f'DROP TRIGGER IF EXISTS "{fts}_ad"',
            f'DROP TRIGGER IF EXISTS "{fts}_au"',
            f'DROP TABLE IF EXISTS "{fts}"',
        ]

    def fulltext_clause(self, table: sa.Table, columns: Sequence[str], term: str) -> Any:
        words = _words(term)
        if not words:
            return sa.true()
        # Each word is quoted as an FTS5 string, so no user text is read as FTS syntax.
        query = " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)
        fts = sa.table(fts_table_name(table.name), sa.column("rowid"))
        match = sa.select(fts.c.rowid).where(
            sa.literal_column(f'"{fts.name}"').op("MATCH")(sa.bindparam(None, query))
        )
        return table.c.id.in_(match.scalar_subquery())

    def divide(self, left: Any, right: Any) -> Any:
        return sa.cast(left, sa.REAL) / sa.func.nullif(right, 0)

    def add_interval(self, expr: Any, delta: dt.timedelta, is_date: bool) -> Any:
        if is_date:
            return sa.func.date(expr, f"{delta.days:+d} days")
        # The same text form SQLAlchemy stores date-times in (seconds, then .000000).
        return sa.func.strftime(
            "%Y-%m-%d %H:%M:%S.000000", expr, f"{int(delta.total_seconds()):+d} seconds"
        )

    def days_between(self, later: Any, earlier: Any) -> Any:
        # whole days between the calendar days, whatever the times of day
        return sa.cast(
            sa.func.julianday(sa.func.date(later)) - sa.func.julianday(sa.func.date(earlier)),
            sa.Integer,
        )

    def date_part(self, part: str, expr: Any) -> Any:
        code = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H"}[part]
        return sa.cast(sa.func.strftime(code, expr), sa.Integer)

    def char_length(self, expr: Any) -> Any:
        return sa.func.length(expr)

    def position(self, haystack: Any, needle: Any) -> Any:
        return sa.func.instr(haystack, needle)

    def list_contains(self, column: Any, value: Any) -> Any:
        each = sa.func.json_each(column).table_valued("value")
        return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == value))

    def estimate_rows(self, conn: Connection, table: sa.Table) -> int | None:
        # Ids only grow; max - min + 1 is close to the count unless many rows were purged.
        # Two scalar subqueries: each reads one end of the primary key (one min-max
        # statement would scan a whole index).
        low = sa.select(sa.func.min(table.c.id)).scalar_subquery()
        high = sa.select(sa.func.max(table.c.id)).scalar_subquery()
        first, last = conn.execute(sa.select(low, high)).one()
        return 0 if last is None else int(last - first + 1)


PG_SEARCH_CONFIG = "ficha_search"

# A text search configuration like 'simple' (no stemming: names, not prose) that also
# removes accents, so "perez" finds "Pérez" as it does on SQLite and MariaDB. Without
# the unaccent extension (no privilege to create it) it falls back to plain 'simple'.
PG_SEARCH_SETUP = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config
                 WHERE cfgname = '{PG_SEARCH_CONFIG}'
                   AND cfgnamespace = current_schema()::regnamespace) THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
      CREATE TEXT SEARCH CONFIGURATION {PG_SEARCH_CONFIG} (COPY = simple);
      ALTER TEXT SEARCH CONFIGURATION {PG_SEARCH_CONFIG}
        ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, simple;
    EXCEPTION WHEN insufficient_privilege OR undefined_file THEN
      CREATE TEXT SEARCH CONFIGURATION {PG_SEARCH_CONFIG} (COPY = simple);
    END;
  END IF;
END $$"""


PG_FOLD = "ficha_fold"

# ficha_fold(text): lowercase without accents, IMMUTABLE so an index can hold it. Without
# the unaccent extension it only lowercases (and the full-text config keeps accents too).
PG_FOLD_SETUP = f"""
DO $$
BEGIN
  IF to_regprocedure(quote_ident(current_schema()) || '.{PG_FOLD}(text)') IS NULL THEN
    BEGIN
      EXECUTE 'CREATE FUNCTION {PG_FOLD}(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT '
        'PARALLEL SAFE AS $f$ SELECT lower(public.unaccent(''public.unaccent''::regdictionary, '
        '$1)) $f$';
    EXCEPTION WHEN undefined_function OR undefined_object OR invalid_schema_name THEN
      EXECUTE 'CREATE FUNCTION {PG_FOLD}(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT '
        'PARALLEL SAFE AS $f$ SELECT lower($1) $f$';
    END;
  END IF;
END $$"""


def fold_index_name(table: str) -> str:
    from storage.tables import short_name

    return short_name(f"fp_{table}")


class PostgreSQLDialect(Dialect):
    """A GIN index over to_tsvector('ficha_search', …) of the search columns."""

    name = "postgresql"

    @staticmethod
    def _document(columns: Sequence[str], qualifier: str = "") -> str:
        prefix = f'"{qualifier}".' if qualifier else ""
        parts = " || ' ' || ".join(f"coalesce({prefix}\"{c}\"::text, '')" for c in columns)
        return f"to_tsvector('{PG_SEARCH_CONFIG}'::regconfig, {parts})"

    def fulltext_ddl(self, table: str, columns: Sequence[str]) -> list[str]:
        # the GIN finds words anywhere; the B-tree over the first search column, folded,
        # finds a whole name typed from its start (a GIN prefix search of three common
        # words reads thousands of entries: 13 ms on a million names, against 0.1 ms)
        return [
            PG_SEARCH_SETUP,
            PG_FOLD_SETUP,
            *self.fulltext_drop_ddl(table),
            f'CREATE INDEX "{fts_index_name(table)}" ON "{table}" USING gin '
            f"(({self._document(columns)}))",
            f'CREATE INDEX "{fold_index_name(table)}" ON "{table}" '
            f'({PG_FOLD}("{columns[0]}") text_pattern_ops)',
        ]

    def fulltext_drop_ddl(self, table: str) -> list[str]:
        return [
            f'DROP INDEX IF EXISTS "{fts_index_name(table)}"',
            f'DROP INDEX IF EXISTS "{fold_index_name(table)}"',
        ]

    def prefix_clause(self, table: sa.Table, column: str, term: str) -> Any | None:
        text = " ".join(term.split())
        if not text:
            return None
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # folded by the database itself, so the text is folded as the index is; a
        # constant once bound, so the planner reads it as a prefix of the index
        # (|| is immutable, concat() is not: the planner would leave it unevaluated)
        fold = getattr(sa.func, PG_FOLD)
        pattern = fold(sa.bindparam(None, escaped, type_=sa.Text)).concat("%")
        return fold(table.c[column]).like(pattern, escape="\\")

    def fulltext_complete(self, conn: Connection, table: str) -> bool:
        return self.has_prefix_index(conn, table)

    def has_prefix_index(self, conn: Connection, table: str) -> bool:
        found = conn.execute(
            sa.text("SELECT to_regclass(:name) IS NOT NULL"),
            {"name": f'"{fold_index_name(table)}"'},
        ).scalar()
        return bool(found)

    def fulltext_clause(self, table: sa.Table, columns: Sequence[str], term: str) -> Any:
        pieces = term.split()[:8]
        if not pieces:
            return sa.true()
        # The same expression as the index (qualified, which the planner treats alike).
        document: Any = sa.literal_column(self._document(columns, table.name))
        config: Any = sa.literal_column(f"'{PG_SEARCH_CONFIG}'::regconfig")
        conditions = []
        for piece in pieces:
            if WORD_RE.fullmatch(piece):
                query = sa.func.to_tsquery(config, sa.bindparam(None, f"'{piece}':*"))
            else:  # an email, a phone, a hyphenated name: parsed as the document was
                query = sa.func.plainto_tsquery(config, sa.bindparam(None, piece))
            conditions.append(document.op("@@")(query))
        return sa.and_(*conditions)

    def ordered_text(self, expr: Any) -> Any:
        return sa.collate(expr, "C")  # code point order, whatever the database's locale

    def fence(self, select: sa.Select[Any]) -> sa.Select[Any]:
        return select.offset(0)  # PostgreSQL never pulls up a subquery with an OFFSET

    def add_interval(self, expr: Any, delta: dt.timedelta, is_date: bool) -> Any:
        moved = expr + sa.bindparam(None, delta, type_=sa.Interval())
        return sa.cast(moved, sa.Date) if is_date else moved

    def days_between(self, later: Any, earlier: Any) -> Any:
        return sa.cast(later, sa.Date) - sa.cast(earlier, sa.Date)

    def list_contains(self, column: Any, value: Any) -> Any:
        return sa.cast(column, JSONB).op("?", is_comparison=True)(value)

    def round_to(self, expr: Any, scale: int) -> Any:
        # PostgreSQL rounds numeric only (not double precision), with an int scale.
        return sa.func.round(sa.cast(expr, sa.Numeric), sa.literal_column(str(int(scale))))

    def estimate_rows(self, conn: Connection, table: sa.Table) -> int | None:
        value = conn.execute(
            sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": f'"{table.name}"'},
        ).scalar()
        return None if value is None or value < 0 else int(value)


class MariaDBDialect(Dialect):
    """An InnoDB FULLTEXT index over the search columns, queried in boolean mode."""

    name = "mariadb"

    def fulltext_ddl(self, table: str, columns: Sequence[str]) -> list[str]:
        cols = ", ".join(f"`{c}`" for c in columns)
        return [
            *self.fulltext_drop_ddl(table),
            f"CREATE FULLTEXT INDEX `{fts_index_name(table)}` ON `{table}` ({cols})",
        ]

    def fulltext_drop_ddl(self, table: str) -> list[str]:
        return [f"DROP INDEX IF EXISTS `{fts_index_name(table)}` ON `{table}`"]

    def fulltext_clause(self, table: sa.Table, columns: Sequence[str], term: str) -> Any:
        words = _words(term)
        if not words:
            return sa.true()
        # Only word characters reach the boolean-mode query: no operator can be injected.
        query = " ".join(f"+{w}*" for w in words)
        cols = ", ".join(f"`{table.name}`.`{c}`" for c in columns)
        name = f"ft_{next(_bind_counter)}"
        return sa.text(f"MATCH ({cols}) AGAINST (:{name} IN BOOLEAN MODE)").bindparams(
            sa.bindparam(name, query)
        )

    def fence(self, select: sa.Select[Any]) -> sa.Select[Any]:
        # MariaDB merges derived tables into the outer query unless they have a LIMIT
        return select.limit(2**62)

    def exact_text(self, expr: Any) -> Any:
        # Tables use a case- and accent-blind collation (good for sorting and search);
        # expressions compare like Python does.
        return sa.collate(expr, "utf8mb4_bin")

    # A column under COLLATE cannot use its index: compare with the table's collation
    # first (index-friendly, finds the candidates) and then exactly. Text equal byte for
    # byte is equal under the table's collation, so the result is the same.

    def text_equal(self, left: Any, right: Any) -> Any:
        return sa.and_(left == right, self.exact_text(left) == self.exact_text(right))

    def text_in(self, operand: Any, items: list[Any]) -> Any:
        return sa.and_(operand.in_(items), super().text_in(operand, items))

    def divide(self, left: Any, right: Any) -> Any:
        return left / sa.func.nullif(right, 0)

    def add_interval(self, expr: Any, delta: dt.timedelta, is_date: bool) -> Any:
        if is_date:
            return sa.func.date_add(expr, sa.text(f"INTERVAL {int(delta.days)} DAY"))
        return sa.func.date_add(expr, sa.text(f"INTERVAL {int(delta.total_seconds())} SECOND"))

    def days_between(self, later: Any, earlier: Any) -> Any:
        return sa.func.datediff(later, earlier)

    def position(self, haystack: Any, needle: Any) -> Any:
        return sa.func.instr(self.exact_text(haystack), self.exact_text(needle))

    def list_contains(self, column: Any, value: Any) -> Any:
        return sa.func.json_contains(column, sa.func.json_quote(value)) == 1

    def estimate_rows(self, conn: Connection, table: sa.Table) -> int | None:
        value = conn.execute(
            sa.text(
                "SELECT table_rows FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = :t"
            ),
            {"t": table.name},
        ).scalar()
        return None if value is None else int(value)


def dialect_for(backend: str) -> Dialect:
    return {
        "sqlite": SQLiteDialect,
        "postgresql": PostgreSQLDialect,
        "mariadb": MariaDBDialect,
    }.get(backend, Dialect)()
