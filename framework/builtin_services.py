"""Ficha's own services, registered through the same `ficha_services` hook as a
plugin's: the records service (the only write path), the reader, the database (whose
health is a round trip to it), and a `legacy.<object>` wrapper for each object whose
records live in a legacy system (framework/datasources/)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from framework.services import Health, ServiceDef
from plugins import hookimpl

if TYPE_CHECKING:
    from framework.app import Ficha
    from storage.manager import StorageManager


def ficha_version() -> str:
    try:
        return version("ficha")
    except PackageNotFoundError:  # running from a bare checkout
        return "dev"


class Database:
    """The project's database as a service: which one, and whether it answers."""

    def __init__(self, storage: StorageManager) -> None:
        self.storage = storage

    @property
    def backend(self) -> str:
        return self.storage.backend

    def health(self) -> Health:
        self.storage.check_connection()  # raises with the reason when it does not answer
        return Health(True, f"{self.storage.backend} at {self.storage.display_url} answers")


@hookimpl
def ficha_services(ficha: Ficha) -> list[ServiceDef]:
    from framework.datasources import legacy_services
    from framework.records import RecordService
    from storage.queries import Reader

    v = ficha_version()
    return [
        *legacy_services(ficha),
        ServiceDef("database", Database(ficha.storage), Database, v, "the project's database"),
        ServiceDef(
            "records", ficha.records, RecordService, v, "every write: validate, rules, audit"
        ),
        ServiceDef("reader", ficha.reader, Reader, v, "lists, searches and reads of records"),
    ]
