"""Legacy wrappers: objects whose records live in another system, served as services.

An object with `source:` in its YAML (modeler/sources.py) is read and written through a
service named `legacy.<object>` (kinds `sql` and `http`, built here) or through a
service a plugin registered (`kind: service`, `service: <name>`). Each implements
`LegacySource`: the RecordSource the Reader and the records service hand the object's
reads and writes to (storage/sources.py), plus `health()` for the Services screen.
Because it is a service, a wrapper can be replaced at run time like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.datasources.base import LegacySource, Options, SourceProblem
from framework.services import InterfaceMismatch, ServiceDef, check_implementation
from modeler.problems import ModelError, Problem, did_you_mean

if TYPE_CHECKING:
    from framework.app import Ficha
    from modeler.schema import ObjectDef

__all__ = ["LegacySource", "connect_wrapped", "legacy_services", "service_name"]


def service_name(obj: ObjectDef) -> str:
    assert obj.source is not None
    if obj.source.kind == "service":
        return str(obj.source.options.get("service") or "")
    return f"legacy.{obj.name}"


def legacy_services(ficha: Ficha) -> list[ServiceDef]:
    """A service per object backed by an `sql` or `http` source; every wrong option of
    every source is reported at once, at its file:line:column."""
    from framework.datasources.http import HttpSource
    from framework.datasources.sql import SqlTableSource

    services: list[ServiceDef] = []
    problems: list[Problem] = []
    for obj in ficha.model:
        source = obj.source
        if source is None or source.kind == "service":
            continue
        options = Options(obj.name, source, ficha.settings.project_dir)
        implementation: LegacySource
        try:
            if source.kind == "sql":
                implementation = SqlTableSource(obj, options, ficha.storage.table(obj.name))
            else:
                implementation = HttpSource(obj, options, ficha.model.field_types)
        except SourceProblem as exc:
            problems.extend(exc.problems)
            continue
        services.append(
            ServiceDef(
                service_name(obj),
                implementation,
                LegacySource,
                version=source.kind,
                description=f"the records of {obj.plural.lower()} ({implementation.system})",
            )
        )
    if problems:
        for made in services:  # do not leak the engines and clients already made
            getattr(made.implementation, "close", lambda: None)()
        raise ModelError(problems)
    return services


def connect_wrapped(ficha: Ficha) -> None:
    """Point each wrapped object at its service (through a proxy, so a replaced
    wrapper takes over the next read)."""
    problems: list[Problem] = []
    for obj in ficha.model:
        source = obj.source
        if source is None:
            continue
        name = service_name(obj)
        if source.kind == "service":
            options = Options(obj.name, source, None)
            options.text("service", required=True)
            try:
                options.done(("service",))
            except SourceProblem as exc:
                problems.extend(exc.problems)
                continue
            if name not in ficha.services:
                problems.append(
                    Problem(
                        "L014",
                        f"no plugin registered the service '{name}' that '{obj.name}' is "
                        "read through",
                        source.pos_of("service"),
                        did_you_mean(name, ficha.services.names())
                        or "is the plugin that provides it installed?",
                    )
                )
                continue
            try:
                check_implementation(name, LegacySource, ficha.services.current(name))
            except InterfaceMismatch as exc:
                problems.append(Problem("L015", str(exc), source.pos_of("service")))
                continue
        ficha.storage.external[obj.name] = ficha.services.get(name)
    if problems:
        raise ModelError(problems)
