"""`source: {kind: service}` — an object read and written through a wrapper a plugin
registered as a service; replacing that service at run time moves the object's reads to
the new version with no reload. Also: a wrapper missing a method, or a service nobody
registered, stops the load with the YAML position."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from framework.datasources.predicate import compile_predicate, sort_key
from framework.services import Health, InterfaceMismatch, ServiceDef
from modeler.problems import ModelError
from modeler.schema import ObjectDef
from plugins import hookimpl
from plugins.manager import get_plugin_manager
from storage.sources import SourceQuery
from tests.conftest import ProjectFactory


class Mainframe:
    """A wrapper of a legacy system that keeps its accounts in memory — standing in for
    a client library a plugin would call."""

    def __init__(self, label: str, accounts: dict[int, dict[str, Any]]) -> None:
        self.system = f"the mainframe ({label})"
        self.accounts = accounts

    def select(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery) -> list[dict[str, Any]]:
        keep = compile_predicate(list(query.where))
        rows = [{"id": k, **v} for k, v in self.accounts.items()]
        rows = [r for r in rows if keep(r)]
        for s in reversed(query.sort):
            rows.sort(key=lambda r, n=s.field: sort_key(r.get(n)), reverse=s.descending)
        end = query.offset + query.limit if query.limit > 0 else None
        return rows[query.offset : end]

    def count(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery, cap: int) -> int:
        return len(self.select(obj, shape, SourceQuery(query.where, limit=0)))

    def insert(self, obj: ObjectDef, values: dict[str, Any]) -> int:
        ident = max(self.accounts, default=0) + 1
        self.accounts[ident] = dict(values)
        return ident

    def update(self, obj: ObjectDef, ident: int, values: dict[str, Any]) -> bool:
        if ident not in self.accounts:
            return False
        self.accounts[ident].update(values)
        return True

    def delete(self, obj: ObjectDef, ident: int) -> bool:
        return self.accounts.pop(ident, None) is not None

    def health(self) -> Health:
        return Health(True, f"{len(self.accounts)} accounts")


class MainframePlugin:
    def __init__(self, implementation: object, *, declared: bool = True) -> None:
        self.implementation = implementation
        self.declared = declared

    @hookimpl
    def ficha_services(self, ficha: object) -> list[ServiceDef]:
        from framework.datasources import LegacySource

        interface = LegacySource if self.declared else None
        return [ServiceDef("mainframe.accounts", self.implementation, interface, "1")]


ACCOUNT = """
object: bank_account
source:
  kind: service
  service: mainframe.accounts
title: number
fields:
  number: {type: string, required: true}
  balance: money
list:
  columns: [number, balance]
  sort: [number]
"""


def load(project: ProjectFactory, plugin: object, objects: dict[str, str]) -> Any:
    from framework.app import Ficha
    from framework.settings import Settings

    project.write(objects)
    ficha = Ficha.load(Settings.load(project.root), get_plugin_manager(extra=(plugin,)))
    project.opened.append(ficha)
    return ficha


def test_an_object_read_through_a_plugins_service_and_replaced_at_run_time(
    project: ProjectFactory,
) -> None:
    old = Mainframe("v1", {1: {"number": "ES-001", "balance": 10}, 2: {"number": "ES-002"}})
    ficha = load(project, MainframePlugin(old), {"bank_account": ACCOUNT})
    from storage.migrations import migrate

    migrate(ficha.storage, ficha.settings.migrations_dir)
    assert "bank_account" not in sa.inspect(ficha.storage.engine).get_table_names()
    with ficha.storage.read() as conn:
        assert [r["number"] for r in ficha.reader.list(conn, "bank_account")] == [
            "ES-001",
            "ES-002",
        ]
    made = ficha.records.create("bank_account", {"number": "ES-003", "balance": "5.50"})
    assert old.accounts[made.id]["number"] == "ES-003"

    new = Mainframe("v2", {7: {"number": "ES-777", "balance": 1}})
    ficha.services.replace("mainframe.accounts", new, version="2")
    with ficha.storage.read() as conn:  # the next read goes to the new version
        assert [r.id for r in ficha.reader.list(conn, "bank_account")] == [7]
        assert ficha.reader.get(conn, "bank_account", 7)["number"] == "ES-777"
    assert ficha.services.health("mainframe.accounts").detail == "1 accounts"


def test_wrong_wrappers_stop_the_load_at_the_source(sqlite_project: ProjectFactory) -> None:
    class Half:  # no select(), no count()
        system = "half"

        def insert(self, obj: Any, values: Any) -> int:
            return 0

    with pytest.raises(InterfaceMismatch) as declared:  # refused when registered
        load(sqlite_project, MainframePlugin(Half()), {"bank_account": ACCOUNT})
    assert "missing method 'select'" in str(declared.value)
    with pytest.raises(ModelError) as missing:  # registered bare: refused as the source
        load(sqlite_project, MainframePlugin(Half(), declared=False), {"bank_account": ACCOUNT})
    text = str(missing.value)
    assert "objects/bank_account.yaml:5:3:" in text
    assert "missing method 'select'" in text and "missing method 'count'" in text

    with pytest.raises(ModelError) as unknown:
        load(
            sqlite_project,
            MainframePlugin(Mainframe("x", {})),
            {"bank_account": ACCOUNT.replace("mainframe.accounts", "mainframe.acounts")},
        )
    assert "no plugin registered the service 'mainframe.acounts'" in str(unknown.value)
    assert "did you mean 'mainframe.accounts'" in str(unknown.value)
