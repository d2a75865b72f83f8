"""The plugin manager: built-ins through the same hooks as outside plugins, entry points
of installed distributions, and broken plugins reported and skipped instead of a crash."""

from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

from plugins import manager
from plugins.manager import BUILT_IN, BUILTINS, get_plugin_manager
from tests.plugins.conftest import environment_with, ficha, write_distribution

GOOD = """
from plugins import hookimpl
from modeler.fieldtypes import FieldType

@hookimpl
def ficha_field_types():
    return [FieldType("shoe_size", "A shoe size.", source="good-plugin")]
"""


def test_every_built_in_feature_is_a_plugin_implementing_declared_hooks() -> None:
    pm = get_plugin_manager(entry_points_too=False)
    assert pm.failures == []
    for name in BUILTINS:
        plugin = pm.get_plugin(name)
        assert plugin is not None and pm.source_of(name) == BUILT_IN
        hooks = [caller.name for caller in pm.get_hookcallers(plugin) or []]
        assert hooks, f"{name} implements no hook"
        assert all(pm.hook.__dict__[h].has_spec() for h in hooks)
    # the core pack and the plugin commands come through hooks, not special cases
    assert "core" in {p.name for r in pm.hook.ficha_packs() for p in r}
    assert "plugins.commands" in {
        impl.plugin_name for impl in pm.hook.ficha_commands.get_hookimpls()
    }


def test_an_installed_plugin_is_found_through_its_entry_point(site: Path) -> None:
    write_distribution(site, "good-plugin", {"good": "good_plugin"}, {"good_plugin": GOOD}, "2.1")
    pm = get_plugin_manager()
    assert pm.failures == []
    assert pm.get_plugin("good") is not None
    assert pm.source_of("good") == "good-plugin 2.1"
    types = [t.name for r in pm.hook.ficha_field_types() for t in r]
    assert "shoe_size" in types


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import not_a_module_anywhere\n", "ModuleNotFoundError: No module named"),
        ("raise RuntimeError('licence server unreachable')\n", "licence server unreachable"),
        ("def broken(:\n", "SyntaxError"),
        (
            "from plugins import hookimpl\n\n@hookimpl\ndef ficha_field_typs():\n    return []\n",
            "implements unknown hook 'ficha_field_typs' (did you mean 'ficha_field_types'?)",
        ),
        (
            "from plugins import hookimpl\n\n@hookimpl\ndef ficha_startup(app):\n    pass\n",
            "ficha_startup(app) asks for app, but the hook gives only (ficha)",
        ),
    ],
    ids=["import-error", "raises", "syntax-error", "misspelled-hook", "wrong-argument"],
)
def test_a_broken_plugin_is_reported_and_skipped_not_a_crash(
    site: Path, source: str, reason: str
) -> None:
    write_distribution(
        site,
        "two-plugins",
        {"broken": "broken_plugin", "good": "good_plugin"},
        {"broken_plugin": source, "good_plugin": GOOD},
    )
    pm = get_plugin_manager()
    [failure] = pm.failures
    assert failure.name == "broken"
    assert reason in failure.error
    assert pm.get_plugin("broken") is None
    # the good plugin beside it still works
    assert "shoe_size" in [t.name for r in pm.hook.ficha_field_types() for t in r]


def test_a_misspelled_hook_in_ficha_itself_stops_the_start(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "misspelled_builtin.py").write_text(
        "from plugins import hookimpl\n\n@hookimpl\ndef ficha_startpu(ficha):\n    pass\n"
    )
    monkeypatch.setattr(manager, "BUILTINS", (*BUILTINS, "misspelled_builtin"))
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'ficha_startpu'"):
        get_plugin_manager(entry_points_too=False)


def test_ficha_plugins_lists_plugins_sources_hooks_and_the_skipped(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_distribution(
        site,
        "acme-tools",
        {"acme": "acme_tools", "acme_broken": "acme_broken"},
        {"acme_tools": GOOD, "acme_broken": "raise ImportError('needs the acme SDK')\n"},
        "0.3",
    )
    done = ficha("plugins", env=environment_with(site))
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "acme-tools 0.3" in rows["acme"] and "ficha_field_types" in rows["acme"]
    assert "built-in" in rows["verticals.core"] and "ficha_packs" in rows["verticals.core"]
    assert "acme_broken" not in rows
    assert "skipped acme_broken: ImportError: needs the acme SDK (from acme-tools 0.3)" in (
        " ".join(done.stderr.split())
    )
