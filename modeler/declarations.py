"""Declarations beside objects/ (reports/, monitors/, pages/ …): one YAML file per
definition, named after the file, read into plain values with every problem of shape
named at file:line:column and, for a wrong name, a did-you-mean.

Each kind of declaration has its own id letter (reports P, pages V); the numbers mean the
same everywhere: 001 an unknown key or a value that must be a mapping, 002 a required key
missing, 004 a value of the wrong kind, 005 a value outside its list, 007 a name given
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from modeler.loader import Node, load_yaml
from modeler.problems import Problem, did_you_mean
from modeler.schema import SourcePos

T = TypeVar("T")
C = TypeVar("C", bound="Checker")


class Checker:
    """Reads Nodes into plain values, noting each problem instead of stopping."""

    def __init__(self, problems: list[Problem], letter: str = "P") -> None:
        self.problems = problems
        self.letter = letter

    def add(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        """Note a problem; `code` is its number ("001") or a whole id ("P001")."""
        if code.isdigit():
            code = f"{self.letter}{code}"
        self.problems.append(Problem(code, message, pos, hint))

    def mapping(self, node: Node, what: str, allowed: Iterable[str]) -> bool:
        if not node.is_map:
            self.add("001", f"{what} must be a mapping of keys", node.pos)
            return False
        allowed = tuple(allowed)
        for key, child in node.items():
            if key not in allowed:
                self.add(
                    "001",
                    f"unknown key '{key}' in {what}",
                    child.key_pos or child.pos,
                    did_you_mean(key, allowed) or f"keys: {', '.join(allowed)}",
                )
        return True

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None or node.value is None:
            return None
        if node.is_map or node.is_list or isinstance(node.value, bool):
            self.add("004", f"{what} must be a text", node.pos)
            return None
        return str(node.value)

    def integer(self, node: Node | None, what: str, low: int, high: int) -> int | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add("004", f"{what} must be a whole number from {low} to {high}", node.pos)
            return None
        return value

    def names(self, node: Node | None, what: str) -> tuple[str, ...]:
        """A list of names, or one name written alone."""
        if node is None:
            return ()
        if node.is_list:
            return tuple(str(item.value) for item in node if item.value is not None)
        if node.is_map or node.value is None:
            self.add("004", f"{what} must be a list of names", node.pos, "e.g. [admin, manager]")
            return ()
        return (str(node.value),)

    def choice(self, node: Node, value: str, allowed: Iterable[str], what: str) -> bool:
        allowed = tuple(allowed)
        if value in allowed:
            return True
        self.add(
            "005",
            f"'{value}' is not a {what}",
            node.pos,
            did_you_mean(value, allowed) or f"use one of: {', '.join(allowed)}",
        )
        return False

    def filters(self, node: Node | None) -> tuple[tuple[str, SourcePos], ...]:
        if node is None:
            return ()
        items = list(node) if node.is_list else [node]
        found = []
        for item in items:
            text = self.text(item, "a filter")
            if text:
                found.append((text, item.pos))
        return tuple(found)

    def unique(self, names: list[tuple[str, SourcePos]], what: str) -> None:
        seen: set[str] = set()
        for name, pos in names:
            if name in seen:
                self.add("007", f"two {what} are named '{name}'", pos, "give each its own name")
            seen.add(name)


def yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_folder(
    folders: Iterable[tuple[Path, str]],
    root: Path,
    build: Callable[[str, Node, str, C], T | None],
    check: C,
) -> list[T]:
    """Every file of each (folder, pack) as one definition named after the file."""
    found: list[T] = []
    seen: dict[str, SourcePos] = {}
    for folder, pack in folders:
        for path in yaml_files(folder):
            docs, yaml_problems = load_yaml(path, root)
            check.problems.extend(yaml_problems)
            if not docs:
                continue
            name = path.stem
            if name in seen:
                check.add(
                    "007",
                    f"'{name}' is declared twice (also in {seen[name].file})",
                    docs[0].pos,
                    "rename one of the files",
                )
                continue
            seen[name] = docs[0].pos
            item = build(name, docs[0], pack, check)
            if item is not None:
                found.append(item)
    return found
