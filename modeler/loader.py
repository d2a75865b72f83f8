"""YAML files → trees of `Node`s that remember the file, line and column of every value.

ruamel.yaml is used in round-trip mode because it keeps positions (and, for the browser
designer, comments); the rest of the modeler never touches ruamel objects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from modeler.problems import Problem
from modeler.schema import SourcePos


@dataclass(slots=True)
class Node:
    """A YAML value and where it was written. Mappings hold Nodes, lists hold Nodes."""

    value: Any
    pos: SourcePos
    key_pos: SourcePos | None = None
    children: dict[str, Node] | list[Node] | None = field(default=None, repr=False)

    @property
    def is_map(self) -> bool:
        return isinstance(self.children, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.children, list)

    def get(self, key: str) -> Node | None:
        if isinstance(self.children, dict):
            return self.children.get(key)
        return None

    def items(self) -> Iterator[tuple[str, Node]]:
        if isinstance(self.children, dict):
            yield from self.children.items()

    def __iter__(self) -> Iterator[Node]:
        if isinstance(self.children, list):
            yield from self.children

    def plain(self) -> Any:
        """The value with positions stripped (plain dicts, lists and scalars)."""
        if isinstance(self.children, dict):
            return {k: v.plain() for k, v in self.children.items()}
        if isinstance(self.children, list):
            return [v.plain() for v in self.children]
        return self.value


def _pos(file: str, line: int, column: int) -> SourcePos:
    return SourcePos(file, line + 1, column + 1)


def _wrap(value: Any, file: str, pos: SourcePos, key_pos: SourcePos | None = None) -> Node:
    if isinstance(value, CommentedMap):
        children: dict[str, Node] = {}
        for key in value:
            where = value.lc.data.get(key)
            if where is None:  # a key merged from an anchor (`<<: *base`): placed at the merge
                children[str(key)] = _wrap(value[key], file, pos, pos)
                continue
            kline, kcol, vline, vcol = where
            children[str(key)] = _wrap(
                value[key], file, _pos(file, vline, vcol), _pos(file, kline, kcol)
            )
        return Node(value, pos, key_pos, children)
    if isinstance(value, CommentedSeq):
        items = [
            _wrap(item, file, _pos(file, *value.lc.data[i][:2])) for i, item in enumerate(value)
        ]
        return Node(value, pos, key_pos, items)
    return Node(value, pos, key_pos)


def display_path(path: Path, root: Path | None) -> str:
    """A path as the user should read it: relative to the project when inside it."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def load_yaml(path: Path, root: Path | None = None) -> tuple[list[Node], list[Problem]]:
    """Every document of a YAML file as Nodes, or the syntax problem with its position."""
    file = display_path(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return [], [
            Problem(
                "M001",
                f"the file is not UTF-8 text ({exc.reason})",
                SourcePos(file),
                "save it as UTF-8",
            )
        ]
    except OSError as exc:
        return [], [Problem("M001", f"cannot read the file: {exc.strerror}", SourcePos(file))]
    nodes, problems = _parse(file, text)
    return list(nodes), list(problems)


@functools.lru_cache(maxsize=512)
def _parse(file: str, text: str) -> tuple[tuple[Node, ...], tuple[Problem, ...]]:
    """The text of a file, parsed once per process: a project loads the same pack files
    at every start, reload and command (ruamel's round-trip parser takes about a second
    for the core pack). The Nodes are shared, so nothing may change them."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        documents = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(file, mark.line, mark.column) if mark else SourcePos(file)
        problem = (exc.problem or str(exc)).strip()
        if "duplicate key" in problem or "found duplicate key" in str(exc):
            return (), (
                Problem(
                    "M002",
                    f"a key is written twice: {problem}",
                    pos,
                    "each name may appear once; remove or rename one",
                ),
            )
        return (), (Problem("M001", f"YAML syntax error: {problem}", pos, _syntax_hint(problem)),)
    except YAMLError as exc:
        return (), (Problem("M001", f"YAML syntax error: {exc}", SourcePos(file)),)
    nodes = [_wrap(doc, file, SourcePos(file, 1, 1)) for doc in documents if doc is not None]
    return tuple(nodes), ()


def _syntax_hint(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, or a key is indented wrongly"
    if "tab" in problem:
        return "indent with spaces, not tabs"
    if "expected <block end>" in problem or "did not find expected key" in problem:
        return "check the indentation of this line against the one above"
    return "check quotes, colons and indentation around this position"
