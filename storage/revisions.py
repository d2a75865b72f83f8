"""Revision files: how a plan is written down, and what `ficha migrate` reads back from
one (which steps remove data, what to back up first, what a rollback cannot undo).

A revision file is an ordinary Alembic revision. Its `upgrade()` runs numbered steps,
one function each with the step's plain-words description as docstring; `downgrade()`
runs the undo functions in reverse order. Module constants state what applying the file
means for the data, so that a file replayed elsewhere (from git, on another database)
is held to the same rules as one written now.
"""

from __future__ import annotations

import datetime as dt
import pprint
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from storage.steps import Step

TEMPLATE = '''"""{message}

Written by `ficha migrate` on {date}. Review it like code: it replays on SQLite,
PostgreSQL and MariaDB (storage/revision_helpers.py does what differs between them).

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy import Text  # noqa: F401  (rendered inside JSONB types)
from sqlalchemy.dialects import mysql  # noqa: F401  (long texts use LONGTEXT there)
from sqlalchemy.dialects import postgresql  # noqa: F401  (JSON columns use JSONB there)

from storage.revision_helpers import *  # noqa: F403

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None

#: data that applying this file removes: `ficha migrate` asks for --allow-data-loss and
#: backs up these tables first
DESTRUCTIVE = {destructive}
BACKUP = {backup}
#: steps that `ficha migrate --rollback` cannot undo, and why
IRREVERSIBLE = {irreversible}
#: data that a rollback removes (table, column or None): values entered since
UNDO_REMOVES = {undo_removes}
#: the tables Ficha owns once this file is applied
TABLES = {tables}


def upgrade() -> None:
    run_steps(revision, [{steps}])


def downgrade() -> None:
    run_steps(revision, [{undos}], undo=True)

{functions}

def record() -> None:
    """record the model in ficha_meta"""
    record_model(MODEL, TABLES)


def restore() -> None:
    """record the model of the revision before"""
    restore_model(revision)


MODEL = {model}
'''


def new_revision_id(number: int) -> str:
    return f"{number:04d}_{secrets.token_hex(3)}"


def render(
    steps: Sequence[Step],
    *,
    rev: str,
    down: str | None,
    message: str,
    snapshot: dict[str, Any],
    tables: Sequence[str],
) -> str:
    functions: list[str] = []
    step_names: list[str] = []
    undo_names: list[str] = []
    for number, step in enumerate((s for s in steps if s.code), start=1):
        body = "\n".join(f"    {line}" for line in step.code)
        functions.append(
            f'\ndef step_{number}() -> None:\n    """{_doc(step.description)}"""\n{body}\n'
        )
        step_names.append(f"step_{number}")
        if step.irreversible:
            undo = f"    irreversible({step.description!r}, {step.irreversible!r})"
        elif step.undo:
            undo = "\n".join(f"    {line}" for line in step.undo)
        else:
            undo = "    pass  # nothing to undo"
        functions.append(
            f'\ndef undo_{number}() -> None:\n    """undo: {_doc(step.description)}"""\n{undo}\n'
        )
        undo_names.insert(0, f"undo_{number}")
    return TEMPLATE.format(
        message=_doc(message),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        rev=rev,
        down=down,
        destructive=_literal([s.destructive for s in steps if s.destructive]),
        backup=_literal(sorted({t for s in steps if s.destructive for t in s.backup})),
        irreversible=_literal({s.description: s.irreversible for s in steps if s.irreversible}),
        undo_removes=_literal(sorted({s.undo_removes for s in steps if s.undo_removes})),
        tables=_literal(sorted(tables)),
        steps=", ".join([*step_names, "record"]),
        undos=", ".join([*undo_names, "restore"]),
        functions="".join(functions),
        model=pprint.pformat(snapshot, indent=4, width=96, sort_dicts=True),
    )


def _doc(text: str) -> str:
    return text.replace("\\", "/").replace('"""', "'''")


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=88, sort_dicts=True)


def file_name(rev: str, first_step: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", first_step.lower()).strip("_")[:40]
    return f"{rev}_{slug}.py"


@dataclass(frozen=True)
class RevisionInfo:
    """What a revision file says about itself (older files say nothing: all empty)."""

    revision: str
    doc: str
    path: Path
    destructive: tuple[str, ...]
    backup: tuple[str, ...]
    irreversible: dict[str, str]
    undo_removes: tuple[tuple[str, str | None], ...]
    written_by_ficha: bool
    module: Any = field(repr=False, compare=False, default=None)

    @property
    def steps(self) -> list[str]:
        module = self.module
        return [
            (getattr(module, name).__doc__ or name).strip()
            for name in sorted(
                (n for n in dir(module) if re.fullmatch(r"step_\d+", n)),
                key=lambda n: int(n.split("_")[1]),
            )
        ]


def info(script: ScriptDirectory, revision: str) -> RevisionInfo:
    rev = script.get_revision(revision)
    assert rev is not None
    module = rev.module
    path = Path(rev.path)
    return RevisionInfo(
        revision=rev.revision,
        doc=rev.doc or "",
        path=path,
        destructive=tuple(getattr(module, "DESTRUCTIVE", ())),
        backup=tuple(getattr(module, "BACKUP", ())),
        irreversible=dict(getattr(module, "IRREVERSIBLE", {})),
        undo_removes=tuple(tuple(x) for x in getattr(module, "UNDO_REMOVES", ())),
        written_by_ficha=hasattr(module, "run_steps"),
        module=module,
    )
