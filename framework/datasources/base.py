"""What every legacy wrapper shares: its interface as a service, the reading of its
`source:` options with positions, and the error users read when the system is down."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from framework.services import Health
from modeler.problems import Problem, did_you_mean
from modeler.schema import SourceDef
from storage.sources import LegacyUnavailable, RecordSource

COMMON = ("kind", "key", "columns", "read_only")


class LegacySource(RecordSource, Protocol):
    """The interface a wrapper service implements: a RecordSource that reports health."""

    def health(self) -> Health: ...


def unreachable(system: str, reason: str) -> LegacyUnavailable:
    return LegacyUnavailable(f"the legacy system {system} is not reachable: {reason}")


class SourceProblem(Exception):
    """A `source:` option is wrong; carries the problem with its position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Options:
    """A source's own keys, read with their positions: a missing or wrong one is a
    Problem at file:line:column, like every other check of the YAML."""

    def __init__(self, object_name: str, source: SourceDef, base_dir: Path | None) -> None:
        self.object_name = object_name
        self.source = source
        self.values: Mapping[str, Any] = source.options
        self.base_dir = base_dir
        self.problems: list[Problem] = []

    def error(self, code: str, message: str, key: str, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, self.source.pos_of(key), hint))

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.values.get(key)
        if value is None or value == "":
            if required:
                self.error(
                    "L011",
                    f"a '{self.source.kind}' source needs '{key}:'",
                    "kind",
                    f"add '{key}:' under 'source:' of '{self.object_name}'",
                )
            return ""
        if isinstance(value, (dict, list)):
            self.error("L012", f"'{key}' of the source must be text", key)
            return ""
        return str(value)

    def number(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.error("L012", f"'{key}' of the source must be a positive number", key)
            return default
        return float(value)

    def mapping(self, key: str) -> dict[str, str]:
        value = self.values.get(key) or {}
        if not isinstance(value, dict):
            self.error("L012", f"'{key}' of the source must be a mapping", key)
            return {}
        return {str(k): str(v) for k, v in value.items()}

    def done(self, known: tuple[str, ...]) -> None:
        """Unknown keys are errors (a misspelt `tabel:` must not be ignored); then raise
        every problem found."""
        for key in self.values:
            if key not in known:
                self.error(
                    "L010",
                    f"unknown key '{key}' in a '{self.source.kind}' source",
                    key,
                    did_you_mean(key, known) or f"allowed keys: {', '.join((*COMMON, *known))}",
                )
        if self.problems:
            raise SourceProblem(self.problems)
