"""The YAML vocabulary: which keys each kind of declaration accepts, and reserved words.

Later capabilities (rules, workflows, computed fields …) add their keys here, so the
unknown-key check always knows the whole language.
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING

from modeler.schema import SYSTEM_FIELDS

if TYPE_CHECKING:
    from modeler.fieldtypes import FieldTypeRegistry

MAX_NAME = 40
NAME_RE = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_NAME - 1}}}")

OBJECT_KEYS = frozenset(
    {
        "object",
        "label",
        "plural",
        "title",
        "description",
        "icon",
        "fields",
        "list",
        "form",
        "indexes",
        "unique",
        "renamed_from",
        # behaviour (modeler/behaviour.py)
        "validations",
        "workflow",
        "rules",
        # a legacy wrapper instead of a table (modeler/sources.py)
        "source",
    }
)
EXTENSION_KEYS = frozenset(
    {
        "extends",
        "label",
        "plural",
        "title",
        "description",
        "icon",
        "fields",
        "list",
        "form",
        "indexes",
        "unique",
        # behaviour (modeler/behaviour.py)
        "validations",
        "workflow",
        "rules",
    }
)
FIELD_KEYS = frozenset(
    {
        "type",
        "label",
        "help",
        "required",
        "unique",
        "index",
        "search",
        "filter",
        "read_only",
        "default",
        "min",
        "max",
        "max_length",
        "pattern",
        "personal",
        "renamed_from",
        # how existing data follows a model change (modeler/evolution.py)
        "renamed_values",
        "convert",
        "backfill",
        # behaviour (modeler/behaviour.py)
        "formula",
        "stored",
        "required_when",
        "read_only_when",
        "visible_when",
    }
)
#: keys that only some field types take (the type says which in FieldType.options)
ALL_TYPE_OPTIONS = frozenset(
    {
        "values",
        "object",
        "via",
        "on_delete",
        "fields",
        "precision",
        "scale",
        "currency",
        "format",
        "accept",
        "max_size",
    }
)
OVERRIDE_KEYS = frozenset(
    {
        "label",
        "help",
        "required",
        "search",
        "filter",
        "index",
        "read_only",
        "default",
        "values",
    }
)
LIST_KEYS = frozenset({"columns", "filters", "search", "sort", "page_size"})
SECTION_KEYS = frozenset({"section", "tab", "fields", "read_only", "collapsed"})

SYSTEM_FIELD_NAMES = SYSTEM_FIELDS
#: words of the expression language; a field with one of these names could not be named
EXPRESSION_WORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "true",
        "false",
        "between",
        "where",
        "user",
        "today",
        "now",
        "like",
    }
)
RESERVED_FIELD_NAMES = (
    frozenset(SYSTEM_FIELDS)
    | EXPRESSION_WORDS
    | frozenset(keyword.kwlist)
    # attributes of SQLAlchemy mapped classes
    | frozenset({"metadata", "registry", "query", "mro"})
)
RESERVED_OBJECT_NAMES = frozenset(
    {"alembic_version", "user", "team", "notification", "email_message", "consent"}
)
#: the pack of Ficha's own objects (users, teams, notifications …), always enabled
SYSTEM_PACK = "ficha"

ON_DELETE = frozenset({"restrict", "cascade", "set_null"})


def types_taking(key: str, types: FieldTypeRegistry) -> str:
    names = [t.name for t in types.types.values() if key in t.options]
    return "it applies to " + ", ".join(names) if names else "no type takes it"
