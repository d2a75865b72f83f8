"""The composition root: settings → plugins → model → storage → services → web app.

`Ficha.load(settings)` gives a loaded project (what the CLI and the tests use);
`create_app(settings)` gives the Starlette application that serves it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from framework.audit import AuditTrail
from framework.auth import Auth
from framework.behaviour import Behaviour, compile_behaviour
from framework.errors import ModelError, SettingsError
from framework.expressions.evaluate import set_project_timezone
from framework.permissions import Permissions
from framework.records import RecordService
from framework.rules import RuleEngine
from framework.scheduler import Scheduler
from framework.services import ServiceDef, ServiceManager
from framework.settings import Settings
from modeler.build import Source, build_model, build_model_with_warnings
from modeler.fieldtypes import CoerceContext, FieldTypeRegistry
from modeler.keys import SYSTEM_PACK
from modeler.problems import Problem, did_you_mean
from modeler.roles import load_roles
from modeler.schema import Model, PackInfo, SourcePos
from plugins.manager import FichaPluginManager, get_plugin_manager
from plugins.packs import folder_pack, looks_like_path
from storage.manager import StorageManager
from storage.queries import Reader

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("ficha")

PROJECT_PACK = "project"


def available_packs(pm: FichaPluginManager) -> dict[str, PackInfo]:
    packs: dict[str, PackInfo] = {}
    for result in pm.hook.ficha_packs():
        for pack in result or []:
            packs[pack.name] = pack
    return packs


def enabled_packs(settings: Settings, pm: FichaPluginManager) -> list[PackInfo]:
    """The project's packs in load order: each after the packs it requires."""
    available = available_packs(pm)
    ordered: list[PackInfo] = []
    problems: list[Problem] = []
    settings_file = SourcePos(str(settings.project_dir / "ficha.yaml"))

    def add(name: str, wanted_by: str | None) -> None:
        if any(p.name == name for p in ordered):
            return
        pack = available.get(name)
        if pack is None:
            who = f" (required by {wanted_by})" if wanted_by else ""
            problems.append(
                Problem(
                    "S010",
                    f"unknown pack '{name}'{who}",
                    settings_file,
                    did_you_mean(name, available)
                    or f"installed packs: {', '.join(sorted(available)) or 'none'}",
                )
            )
            return
        for required in pack.requires:
            add(required, name)
        ordered.append(pack)

    names: list[str] = []
    for entry in settings.packs:
        if looks_like_path(entry):  # a folder pack: `packs: [core, ./packs/acme]`
            folder = folder_pack(entry, settings.project_dir)
            available.setdefault(folder.name, folder)
            entry = folder.name
        names.append(entry)
    for name in (SYSTEM_PACK, *names):
        add(name, None)
    if problems:
        raise SettingsError(problems)
    return ordered


def field_types(pm: FichaPluginManager) -> FieldTypeRegistry:
    extra = [t for result in pm.hook.ficha_field_types() for t in (result or [])]
    return FieldTypeRegistry.build(extra)


def model_sources(settings: Settings, packs: Sequence[PackInfo]) -> list[Source]:
    sources = [Source(path, pack.name, pack.path) for pack in packs for path in pack.object_files()]
    if settings.objects_dir.is_dir():
        sources += [
            Source(path, PROJECT_PACK, settings.project_dir)
            for path in sorted(
                [*settings.objects_dir.glob("*.yaml"), *settings.objects_dir.glob("*.yml")]
            )
        ]
    return sources


def load_model(
    settings: Settings, pm: FichaPluginManager, *, warnings: list[Problem] | None = None
) -> Model:
    packs = enabled_packs(settings, pm)
    sources = model_sources(settings, packs)
    types = field_types(pm)
    if warnings is None:
        return build_model(sources, types, packs)
    model, problems = build_model_with_warnings(sources, types, packs)
    warnings.extend(problems)
    if model is None or any(p.severity == "error" for p in problems):
        from modeler.problems import ModelError

        raise ModelError(problems)
    return model


def plugin_actions(pm: FichaPluginManager) -> dict[str, Any]:
    actions: dict[str, Any] = {}
    for result in pm.hook.ficha_actions():
        actions.update(result or {})
    return actions


def _observers(pm: FichaPluginManager) -> tuple[Any, Any]:
    """The records service's listeners for the plugins' record hooks: per event, and per
    write (a batch's events at once): `ficha_record_events` once, then
    `ficha_record_event` for each event when some plugin implements it."""
    each = pm.hook.ficha_record_event
    every = pm.hook.ficha_record_events

    def observe_all(events: Sequence[Any]) -> None:
        every(events=events)
        if each.get_hookimpls():
            for event in events:
                each(event=event)

    return (lambda event: observe_all([event])), observe_all


def register_services(ficha: Ficha) -> None:
    """Every plugin's `ficha_services`, Ficha's own first, each remembered as the source
    of its services (the admin's Services screen shows it)."""
    for impl in ficha.pm.hook.ficha_services.get_hookimpls():
        provided = cast("list[ServiceDef]", impl.function(ficha=ficha) or [])
        ficha.services.add(provided, source=impl.plugin_name)
    from framework.datasources import connect_wrapped

    connect_wrapped(ficha)  # wrapped objects read through their (now registered) services


@dataclass
class Ficha:
    """A loaded project: what every command, screen and test works with."""

    settings: Settings
    pm: FichaPluginManager
    model: Model
    storage: StorageManager
    records: RecordService
    reader: Reader
    behaviour: Behaviour
    audit: AuditTrail
    scheduler: Scheduler
    rules: RuleEngine
    permissions: Permissions
    auth: Auth
    warnings: list[Problem] = field(default_factory=list)
    services: ServiceManager = field(default_factory=ServiceManager)

    @classmethod
    def load(
        cls, settings: Settings, pm: FichaPluginManager | None = None, *, echo: bool = False
    ) -> Ficha:
        pm = pm or get_plugin_manager()
        set_project_timezone(settings.timezone)  # today() is the date in the project's zone
        warnings: list[Problem] = []
        model = load_model(settings, pm, warnings=warnings)
        actions = plugin_actions(pm)
        behaviour, problems = compile_behaviour(model, actions)
        if problems:  # an expression that does not fit the model: a YAML problem like any
            raise ModelError(sorted(problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.column)))
        roles, role_problems = load_roles(
            settings.project_dir / "roles.yaml", settings.project_dir, model
        )
        if role_problems:
            raise ModelError(role_problems)
        storage = StorageManager(
            settings.database_url, model, base_dir=settings.project_dir, echo=echo
        )
        permissions = Permissions(storage, roles)
        role_problems = permissions.compile()
        if role_problems:
            raise ModelError(role_problems)
        records = RecordService(
            storage, coerce_context=CoerceContext(phone_region=settings.phone_region)
        )
        records.use_behaviour(behaviour)
        records.permissions = permissions
        audit = AuditTrail(storage)
        records.changes_since = audit.changes_since
        scheduler = Scheduler(storage, settings.timezone)
        rules = RuleEngine(records, behaviour, actions, scheduler)
        scheduler.on_stopped = rules.notify_admins
        scheduler.handle("rule", rules.run_timed)
        scheduler.handle(
            "recurring",
            lambda conn, payload: rules.run_scheduled(
                conn, str(payload["object"]), str(payload["rule"])
            ),
        )
        # Order matters: the change is audited, plugins observe it, then rules react
        # (their own writes are audited and observed in turn).
        records.subscribe(audit.record, batch=audit.record_many)
        observe, observe_all = _observers(pm)
        records.subscribe(observe, batch=observe_all)
        records.subscribe(rules.on_event, batch=rules.on_events)
        ficha = cls(
            settings,
            pm,
            model,
            storage,
            records,
            Reader(storage),
            behaviour,
            audit,
            scheduler,
            rules,
            permissions,
            Auth(storage, records, audit, settings.secret_key),
            [w for w in warnings if w.severity == "warning"],
        )
        try:
            register_services(ficha)
        except Exception:
            ficha.close()
            raise
        pm.hook.ficha_startup(ficha=ficha)
        return ficha

    def start_schedules(self) -> None:
        """Make sure every `on: schedule` rule has its next run queued (writes)."""
        for rule in self.behaviour.scheduled():
            self.scheduler.ensure_recurring(
                f"{rule.object}.{rule.name}",
                rule.rule.schedule or "daily 07:00",
                {"object": rule.object, "rule": rule.name},
            )

    def close(self) -> None:
        self.services.close()
        self.storage.dispose()


@dataclass
class DemoContext:
    """What a plugin's `ficha_demo_data` hook receives."""

    ficha: Ficha
    packs: tuple[str, ...]
    size: int = 200
    seed: int = 20261124
    random: random.Random = field(default_factory=random.Random)

    @property
    def records(self) -> RecordService:
        return self.ficha.records

    def __post_init__(self) -> None:
        self.random.seed(self.seed)


def create_app(
    settings: Settings, *, reload: bool = False, ficha: Ficha | None = None, **options: Any
) -> Starlette:
    from app_builder.site import build_web_app

    return build_web_app(settings, reload=reload, ficha=ficha, **options)
