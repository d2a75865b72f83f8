"""Packs as a consultant sees them: which exist (built into Ficha, installed as a
distribution, or a folder on disk), which a project uses, and its `packs:` line.

A folder pack is a folder with `objects/*.yaml` and, optionally, a `pack.yaml` giving its
name, label, version, description and the packs it `requires`; without one, the folder's
name is the pack's name. ficha.yaml names it by path (`packs: [core, ./packs/acme]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from framework.errors import SettingsError
from modeler.loader import load_yaml
from modeler.problems import Problem
from modeler.schema import PackInfo, SourcePos

if TYPE_CHECKING:
    from plugins.manager import FichaPluginManager

PACK_FILE = "pack.yaml"
PACK_KEYS = ("name", "label", "version", "description", "requires")


def looks_like_path(entry: str) -> bool:
    """`./packs/acme`, `../shared/pack`, `/opt/packs/x`, `~/x`: a folder, not a name."""
    return "/" in entry or "\\" in entry or entry.startswith((".", "~"))


def folder_pack(entry: str, project_dir: Path) -> PackInfo:
    """The pack in a folder named in ficha.yaml (relative to the project)."""
    settings_file = SourcePos(str(project_dir / "ficha.yaml"))
    folder = (project_dir / Path(entry).expanduser()).resolve()
    if not folder.is_dir():
        raise SettingsError(
            [
                Problem(
                    "S011",
                    f"pack folder '{entry}' does not exist ({folder})",
                    settings_file,
                    "a folder pack is a folder holding objects/*.yaml; check the path",
                )
            ]
        )
    meta: dict[str, Any] = {}
    meta_file = folder / PACK_FILE
    if meta_file.is_file():
        docs, problems = load_yaml(meta_file, project_dir)
        if not problems and docs and not docs[0].is_map:
            problems = [Problem("S012", "pack.yaml must be a mapping", docs[0].pos)]
        for key, node in docs[0].items() if docs and not problems else ():
            if key not in PACK_KEYS:
                problems.append(
                    Problem(
                        "S012",
                        f"unknown key '{key}' in pack.yaml",
                        node.key_pos or node.pos,
                        f"keys: {', '.join(PACK_KEYS)}",
                    )
                )
        if problems:
            raise SettingsError(problems)
        meta = docs[0].plain() if docs else {}
    requires = meta.get("requires") or []
    if isinstance(requires, str):
        requires = [requires]
    name = str(meta.get("name") or folder.name)
    return PackInfo(
        name=name,
        label=str(meta.get("label") or name.replace("_", " ").capitalize()),
        path=folder,
        version=str(meta.get("version") or ""),
        description=str(meta.get("description") or ""),
        requires=tuple(str(r) for r in requires),
    )


@dataclass(frozen=True)
class AvailablePack:
    """A pack and where it comes from, as `ficha pack list` shows it."""

    pack: PackInfo
    plugin: str  # the plugin that declared it, or the folder
    source: str  # "built-in", "<distribution> <version>", or "folder"


def installed_packs(pm: FichaPluginManager) -> list[AvailablePack]:
    """Every pack the loaded plugins declare, with the plugin that declared it."""
    found: list[AvailablePack] = []
    for impl in reversed(pm.hook.ficha_packs.get_hookimpls()):  # registration order
        for pack in cast("list[PackInfo]", impl.function() or []):
            found.append(AvailablePack(pack, impl.plugin_name, pm.source_of(impl.plugin_name)))
    return found


# -- ficha.yaml's packs: line, edited in place ---------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def read_pack_entries(project_dir: Path) -> list[str]:
    data = _yaml().load((project_dir / "ficha.yaml").read_text(encoding="utf-8")) or {}
    packs = data.get("packs") or []
    return [packs] if isinstance(packs, str) else [str(p) for p in packs]


def edit_pack_entries(project_dir: Path, *, add: str | None = None, drop: str | None = None) -> str:
    """Add or drop one entry of ficha.yaml's `packs:` list, editing that list in place so
    its style (`[a, b]` or one per line) and every comment stay. Returns the old text, so
    a caller can put it back when the change turns out wrong."""
    path = project_dir / "ficha.yaml"
    before = path.read_text(encoding="utf-8")
    yaml = _yaml()
    data = yaml.load(before)
    current = data.get("packs")
    if not isinstance(current, CommentedSeq):
        current = CommentedSeq([current] if isinstance(current, str) else [])
        current.fa.set_flow_style()
        data["packs"] = current
    # `packs: []` reads back as a block list once it has items; keep the line as written
    flow = current.fa.flow_style() or not current
    if add is not None:
        current.append(add)
    if drop is not None:
        current.remove(drop)
    if flow:
        current.fa.set_flow_style()
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return before
