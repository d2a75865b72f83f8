"""The exceptions Ficha raises to say why something was refused, in words a user reads.

Each carries what a screen, the API or the CLI needs to show it: a field → message map for
validation, the problems of a model with their positions. None of them ever reaches a user
as a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping

from modeler.problems import ModelError, Problem
from storage.manager import StorageError

__all__ = [
    "Conflict",
    "FichaError",
    "ModelError",
    "NotFound",
    "PermissionDenied",
    "Problem",
    "SettingsError",
    "StorageError",
    "ValidationFailed",
]


class FichaError(Exception):
    """Base of the errors raised by the framework runtime."""


class SettingsError(FichaError):
    """ficha.yaml or the environment is wrong; carries the problems with positions."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ValidationFailed(FichaError):
    """A write was refused; `errors` maps each field (or "__all__") to the reason."""

    def __init__(self, object_name: str, errors: Mapping[str, str]) -> None:
        self.object_name = object_name
        self.errors = dict(errors)
        details = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(f"{object_name} was not saved: {details}")


class NotFound(FichaError):
    def __init__(self, object_name: str, ident: object) -> None:
        self.object_name = object_name
        self.ident = ident
        super().__init__(f"there is no {object_name} with id {ident}")


class Conflict(FichaError):
    """The record changed since it was read (optimistic locking)."""

    def __init__(self, object_name: str, ident: object, changed: Mapping[str, object]) -> None:
        self.object_name = object_name
        self.ident = ident
        self.changed = dict(changed)
        fields = ", ".join(self.changed) or "its values"
        super().__init__(
            f"{object_name} {ident} was changed by someone else meanwhile ({fields}); "
            "reload it and make your change again"
        )


class PermissionDenied(FichaError):
    pass
