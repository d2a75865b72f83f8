"""The service manager: components registered by name behind a declared interface.

A caller asks `ficha.services.get("name")` and gets a proxy; it never knows which plugin
provides the service nor which version runs. A service can be replaced at run time:
the proxy takes the current implementation once per attribute access (once per call),
so a call in flight finishes on the version it started with and the next call goes to
the new one. No lock is held during a call — only while the registry itself changes.

Each service reports its health: `health() -> Health(ok, detail)` when its
implementation has one; a health check that raises counts as "down" with the reason.
Plugins contribute services through the `ficha_services(ficha)` hook (built-in services
come through the same hook, see framework/builtin_services.py).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from framework.errors import FichaError

log = logging.getLogger("ficha.services")

T = TypeVar("T")

__all__ = [
    "Health",
    "HealthReport",
    "InterfaceMismatch",
    "Registration",
    "Service",
    "ServiceDef",
    "ServiceError",
    "ServiceManager",
    "ServiceProxy",
    "UnknownService",
]


@dataclass(frozen=True, slots=True)
class Health:
    """What a service says about itself: up or down, and why, in words an admin reads."""

    ok: bool
    detail: str = ""


@runtime_checkable
class Service(Protocol):
    """The smallest interface: any object. A service MAY also define `health()` and
    `close()`; the manager calls them when present."""


@dataclass(frozen=True)
class ServiceDef:
    """What a plugin's `ficha_services` hook returns, one per service.

    `interface` is a `typing.Protocol` or an abstract class; the implementation is
    checked against it when registered (every public method and attribute it declares
    must be there, methods accepting the same arguments). `replace=True` lets a plugin
    take over a service another plugin (or Ficha) registered first.
    """

    name: str
    implementation: object
    interface: type | None = None
    version: str = "1"
    description: str = ""
    replace: bool = False


@dataclass(frozen=True)
class Registration:
    """One registered version of a service."""

    name: str
    implementation: object
    interface: type
    version: str
    description: str = ""
    source: str = ""
    registered_at: float = field(default_factory=time.time)

    @property
    def interface_name(self) -> str:
        return _qualname(self.interface)

    @property
    def implementation_name(self) -> str:
        return _qualname(type(self.implementation))


@dataclass(frozen=True, slots=True)
class HealthReport:
    name: str
    ok: bool
    detail: str
    checked_at: float


class ServiceError(FichaError):
    """A service could not be registered, found or replaced."""


class UnknownService(ServiceError, LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        import difflib

        self.name = name
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = (
            f" (did you mean '{close[0]}'?)"
            if close
            else f"; registered services: {', '.join(known) or 'none'}"
        )
        super().__init__(f"there is no service named '{name}'{hint}")


class InterfaceMismatch(ServiceError, TypeError):
    """The implementation lacks what its interface declares; `missing` names each."""

    def __init__(self, name: str, interface: type, implementation: object, missing: list[str]):
        self.name = name
        self.missing = missing
        super().__init__(
            f"service '{name}': {_qualname(type(implementation))} does not implement "
            f"{_qualname(interface)}: {'; '.join(missing)}"
        )


class ServiceProxy(Generic[T]):
    """Stands for a service by name. Every attribute read looks up the current
    implementation, so callers may keep a proxy for ever and still reach the newest
    version; a bound method already taken keeps its version until it returns."""

    __slots__ = ("_manager", "_name")

    def __init__(self, manager: ServiceManager, name: str) -> None:
        object.__setattr__(self, "_manager", manager)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._manager.current(self._name), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"service '{self._name}' is read through its proxy only")

    def __repr__(self) -> str:
        return f"<service {self._name!r}>"


_BASE_CLASSES = {object, Protocol, Generic, Service}


def interface_members(interface: type) -> dict[str, Any]:
    """The public names an interface declares (methods, properties, annotated
    attributes), gathered along its bases the way a Protocol or an ABC means them."""
    members: dict[str, Any] = {}
    for klass in reversed(interface.__mro__):
        if klass in _BASE_CLASSES or klass.__module__ in ("abc", "typing", "builtins"):
            continue
        for attr in getattr(klass, "__annotations__", {}):
            if not attr.startswith("_"):
                members[attr] = None
        for attr, value in vars(klass).items():
            if not attr.startswith("_"):
                members[attr] = value
    return members


def check_implementation(name: str, interface: type, implementation: object) -> None:
    """Raise InterfaceMismatch naming each member the implementation lacks or whose
    arguments differ from the interface's."""
    if interface in (object, Service):
        return
    missing: list[str] = []
    for attr, declared in interface_members(interface).items():
        if not hasattr(implementation, attr):
            kind = "method" if callable(declared) else "attribute"
            missing.append(f"missing {kind} '{attr}'")
            continue
        if inspect.isfunction(declared) or isinstance(declared, (staticmethod, classmethod)):
            actual = getattr(implementation, attr)
            if not callable(actual):
                missing.append(f"'{attr}' is not a method")
                continue
            problem = _arguments_problem(declared, actual)
            if problem:
                missing.append(f"method '{attr}' {problem}")
    if missing:
        raise InterfaceMismatch(name, interface, implementation, missing)


def _arguments_problem(declared: Any, actual: Any) -> str | None:
    """None when `actual` accepts every call `declared` promises; else why not."""
    function = declared.__func__ if isinstance(declared, (staticmethod, classmethod)) else declared
    try:
        wanted = inspect.signature(function)
        have = inspect.signature(actual)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return None
    params = list(wanted.parameters.values())
    if params and not isinstance(declared, staticmethod):
        params = params[1:]  # self / cls
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(object())
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = object()
    try:
        have.bind(*args, **kwargs)
    except TypeError:
        shown = ", ".join(str(p).split(":")[0].split("=")[0].strip() for p in params)
        return f"must accept ({shown}); it has {have}"
    return None


def _qualname(klass: type) -> str:
    return f"{klass.__module__}.{klass.__qualname__}"


class ServiceManager:
    """Named services: register, look up, replace at run time, report health."""

    def __init__(self) -> None:
        self._current: dict[str, Registration] = {}
        self._history: dict[str, list[Registration]] = {}
        self._health: dict[str, HealthReport] = {}
        self._lock = threading.Lock()  # guards changes of the registry, never a call

    # -- registering -----------------------------------------------------------------------

    def register(
        self,
        name: str,
        implementation: object,
        *,
        interface: type | None = None,
        version: str = "1",
        description: str = "",
        source: str = "",
        replace: bool = False,
    ) -> Registration:
        """Register `implementation` as `name`. A name already taken is an error unless
        `replace=True`; a replacement must honour the interface first registered."""
        if not name or not isinstance(name, str):
            raise ServiceError(f"a service needs a name, got {name!r}")
        with self._lock:
            old = self._current.get(name)
            if old is not None and not replace:
                raise ServiceError(
                    f"service '{name}' is already registered (by {old.source or 'Ficha'}, "
                    f"{old.implementation_name} version {old.version}); "
                    "pass replace=True to take it over"
                )
            if old is not None:
                if interface is not None and interface is not old.interface:
                    # a new version may widen the interface, never break the old one
                    check_implementation(name, old.interface, implementation)
                interface = old.interface if interface is None else interface
            interface = interface or Service
            check_implementation(name, interface, implementation)
            registration = Registration(
                name, implementation, interface, version, description, source
            )
            self._current[name] = registration
            self._history.setdefault(name, []).append(registration)
            self._health.pop(name, None)
        if old is not None:
            log.info("service %s: version %s replaced by version %s", name, old.version, version)
        return registration

    def replace(
        self, name: str, implementation: object, *, version: str, description: str = ""
    ) -> Registration:
        """Swap in a new version of a registered service, checked against its interface.
        Calls already running finish on the old version; the old one is not closed
        (it may still be serving them) — close it yourself once they are done."""
        if name not in self._current:
            raise UnknownService(name, self._current)
        return self.register(
            name, implementation, version=version, description=description, replace=True
        )

    def add(self, definitions: Iterable[ServiceDef], *, source: str = "") -> None:
        for d in definitions:
            self.register(
                d.name,
                d.implementation,
                interface=d.interface,
                version=d.version,
                description=d.description,
                source=source,
                replace=d.replace,
            )

    # -- looking up ------------------------------------------------------------------------

    def get(self, name: str, interface: type[T] | None = None) -> T:
        """A proxy for the service `name` (typed as `interface` when given)."""
        if name not in self._current:
            raise UnknownService(name, self._current)
        return cast(T, ServiceProxy(self, name))

    def current(self, name: str) -> Any:
        """The implementation serving `name` right now (no proxy)."""
        registration = self._current.get(name)
        if registration is None:
            raise UnknownService(name, self._current)
        return registration.implementation

    def registration(self, name: str) -> Registration:
        registration = self._current.get(name)
        if registration is None:
            raise UnknownService(name, self._current)
        return registration

    def history(self, name: str) -> list[Registration]:
        return list(self._history.get(name, []))

    def __contains__(self, name: object) -> bool:
        return name in self._current

    def __iter__(self) -> Iterator[Registration]:
        return iter(sorted(self._current.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._current)

    def names(self) -> list[str]:
        return sorted(self._current)

    # -- health ------------------------------------------------------------------------------

    def health(self, name: str) -> HealthReport:
        """Ask the service how it is (now). No `health()` means "up"; a `health()` that
        raises or returns something else means "down", with the reason."""
        implementation = self.current(name)
        check = getattr(implementation, "health", None)
        if check is None or not callable(check):
            ok, detail = True, "running (no health check of its own)"
        else:
            try:
                result = check()
            except Exception as exc:  # a failing check is the answer: the service is down
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            else:
                if isinstance(result, Health):
                    ok, detail = result.ok, result.detail
                else:
                    ok, detail = False, f"health() returned {result!r}, not a Health"
        report = HealthReport(name, ok, detail, time.time())
        self._health[name] = report
        return report

    def last_health(self, name: str) -> HealthReport | None:
        return self._health.get(name)

    def check_all(self) -> list[HealthReport]:
        return [self.health(name) for name in self.names()]

    # -- end -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every registered version that has a `close()` (engines, HTTP clients)."""
        with self._lock:
            seen: set[int] = set()
            versions = [r for regs in self._history.values() for r in regs]
            self._current.clear()
            self._history.clear()
        for registration in versions:
            implementation = registration.implementation
            if id(implementation) in seen:
                continue
            seen.add(id(implementation))
            close = getattr(implementation, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing one service must not stop closing the others
                    log.exception("service %s did not close cleanly", registration.name)
