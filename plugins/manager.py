"""get_plugin_manager(): specs, built-in plugins, entry points, then check_pending().

Only the composition roots (framework/app.py, cli.py) call it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from plugins import hookspecs

log = logging.getLogger("ficha.plugins")

ENTRY_POINT_GROUP = "ficha"

#: Ficha's own features, registered exactly like outside plugins.
BUILTINS = (
    "framework.system",
    "framework.builtin_services",
    "app_builder.services_view",
    "verticals.core",
    "verticals.utilities",
    "verticals.banking",
    "framework.importing.cli",
    "framework.webhooks",
    "app_builder.api",
    "app_builder.importing",
    "app_builder.reports",
    "app_builder.pages",
    "plugins.commands",
)


@dataclass(frozen=True)
class LoadFailure:
    name: str
    error: str


BUILT_IN = "built-in"


class FichaPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers where each plugin came from, and which
    plugins were skipped, and why (`ficha plugins` shows both)."""

    def __init__(self) -> None:
        super().__init__("ficha")
        self.failures: list[LoadFailure] = []
        #: plugin name → "built-in", "<distribution> <version>" or "given"
        self.sources: dict[str, str] = {}

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "given")


def get_plugin_manager(
    *, entry_points_too: bool = True, extra: tuple[object, ...] = ()
) -> FichaPluginManager:
    pm = FichaPluginManager()
    pm.add_hookspecs(hookspecs)
    for name in BUILTINS:
        pm.register(importlib.import_module(name), name=name)
        pm.sources[name] = BUILT_IN
    outside: list[object] = list(extra)
    if entry_points_too:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(ep.name) is not None or ep.value in BUILTINS:
                continue
            source = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
                outside.append(plugin)
                pm.sources[ep.name] = source
            except pluggy.PluginValidationError as exc:  # a hook with the wrong arguments
                _fail(pm, ep.name, f"{_wrong_arguments(pm, exc)} (from {source})")
            except Exception as exc:  # a broken plugin is reported and skipped, not a crash
                _fail(pm, ep.name, f"{type(exc).__name__}: {exc} (from {source})")
    for plugin in extra:
        pm.register(plugin)
    _skip_unknown_hooks(pm, outside)
    # Anything left that implements a hook with no spec is Ficha's own bug: fail now.
    pm.check_pending()
    return pm


def _wrong_arguments(pm: FichaPluginManager, exc: pluggy.PluginValidationError) -> str:
    """pluggy's message, said as what to change: the arguments the hook gives."""
    for name in dir(exc.plugin):
        caller = getattr(pm.hook, name, None)
        if not name.startswith("ficha_") or caller is None or caller.spec is None:
            continue
        function = getattr(exc.plugin, name)
        asked = inspect.signature(function).parameters
        given = caller.spec.argnames
        unknown = [a for a in asked if a not in given]
        if unknown:
            return (
                f"{name}({', '.join(asked)}) asks for {', '.join(unknown)}, but the hook "
                f"gives only ({', '.join(given)}): rename the argument(s)"
            )
    return " ".join(str(exc).split())


def _fail(pm: FichaPluginManager, name: str, error: str) -> None:
    pm.failures.append(LoadFailure(name, error))
    log.warning("plugin %s was skipped: %s", name, error)


def _skip_unknown_hooks(pm: FichaPluginManager, outside: list[object]) -> None:
    """An outside plugin implementing a misspelled hook is reported and left out."""
    known = [name for name in dir(hookspecs) if name.startswith("ficha_")]
    for name in dir(pm.hook):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or not isinstance(caller, pluggy.HookCaller):
            continue
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin in outside and pm.is_registered(impl.plugin):
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                _fail(
                    pm,
                    pm.get_name(impl.plugin) or repr(impl.plugin),
                    f"implements unknown hook '{name}'{hint}",
                )
                pm.unregister(impl.plugin)
