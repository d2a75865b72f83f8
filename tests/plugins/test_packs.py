"""`ficha pack list|add|remove` on a project, as a consultant runs them: ficha.yaml keeps
its comments, the model is checked before anything is kept, and the data a removal
would delete is refused unless allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import cli
from tests.plugins.conftest import environment_with, ficha

SETTINGS = """\
# The shop's CRM (comments here must survive ficha pack add/remove)
name: Shop
database: '{database}'
packs: []  # the packs we use
locale: es-ES
"""

LOYALTY = {
    "pack.yaml": """
        name: loyalty
        label: Loyalty
        version: "1.2"
        description: Loyalty cards and points.
    """,
    "objects/loyalty_card.yaml": """
        object: loyalty_card
        title: number
        fields:
          number: {type: string, required: true, unique: true}
          points: {type: integer}
    """,
}

LOYALTY_TIERS = {
    "pack.yaml": """
        name: loyalty_tiers
        label: Loyalty tiers
        requires: [loyalty]
    """,
    "objects/tier.yaml": """
        extends: loyalty_card
        fields:
          tier: {type: choice, values: [silver, gold]}
    """,
}


def write_pack(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))


def packs_line(text: str) -> str:
    """ficha.yaml's packs line, spaces before its comment squeezed."""
    [line] = [line for line in text.splitlines() if line.startswith("packs:")]
    return " ".join(line.split())


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def shop(tmp_path: Path, any_database: str) -> Path:
    project = tmp_path / "shop"
    (project / "objects").mkdir(parents=True)
    (project / "ficha.yaml").write_text(SETTINGS.format(database=any_database))
    write_pack(project / "packs" / "loyalty", LOYALTY)
    write_pack(project / "packs" / "loyalty_tiers", LOYALTY_TIERS)
    code, out = run("migrate", "-p", str(project))  # the database exists, with no pack
    assert code == 0, out
    return project


def columns(project: Path, table: str) -> set[str]:
    from framework.settings import Settings

    engine = sa.create_engine(Settings.load(project).database_url)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table):
            return set()
        return {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()


def test_add_and_remove_folder_packs_through_migrate(shop: Path) -> None:
    settings = shop / "ficha.yaml"
    original = settings.read_text()

    # A pack whose required pack is not there: refused, ficha.yaml untouched.
    code, out = run("pack", "add", "./packs/loyalty_tiers", "-p", str(shop))
    assert code == 1
    assert "unknown pack 'loyalty' (required by loyalty_tiers)" in out
    assert "ficha.yaml was put back as it was" in out
    assert settings.read_text() == original

    code, out = run("pack", "add", "./packs/loyalty", "-p", str(shop))
    assert code == 0, out
    assert "+ create loyalty_card" in out
    assert "Next: run 'ficha migrate' to apply the plan above." in out
    text = settings.read_text()
    assert packs_line(text) == "packs: [./packs/loyalty] # the packs we use"
    assert text.startswith("# The shop's CRM (comments here must survive")
    assert columns(shop, "loyalty_card") == set()  # nothing applied yet

    code, out = run("pack", "add", "./packs/loyalty_tiers", "--migrate", "-p", str(shop))
    assert code == 0, out
    assert "applied" in out
    assert {"number", "points", "tier"} <= columns(shop, "loyalty_card")
    assert packs_line(settings.read_text()) == (
        "packs: [./packs/loyalty, ./packs/loyalty_tiers] # the packs we use"
    )

    code, out = run("pack", "remove", "./packs/loyalty", "-p", str(shop))
    assert code == 1
    assert "pack 'loyalty' is required by loyalty_tiers; remove that first" in out

    # A tier was chosen: removing the pack that declares the field would delete it.
    from framework.app import Ficha
    from framework.settings import Settings

    project = Ficha.load(Settings.load(shop))
    try:
        project.records.create("loyalty_card", {"number": "L-1", "points": 5, "tier": "gold"})
    finally:
        project.close()
    before = settings.read_text()
    code, out = run("pack", "remove", "./packs/loyalty_tiers", "-p", str(shop))
    assert code == 1
    assert "Nothing was changed: removing ./packs/loyalty_tiers deletes the data above" in out
    assert "--allow-data-loss" in out
    assert settings.read_text() == before
    assert "tier" in columns(shop, "loyalty_card")

    code, out = run(
        "pack", "remove", "./packs/loyalty_tiers", "--allow-data-loss", "--migrate", "-p", str(shop)
    )
    assert code == 0, out
    assert "tier" not in columns(shop, "loyalty_card")
    assert packs_line(settings.read_text()) == "packs: [./packs/loyalty] # the packs we use"
    project = Ficha.load(Settings.load(shop))
    try:  # the card and its points are still there
        with project.storage.read() as conn:
            [card] = project.reader.list(conn, "loyalty_card")
        assert (card["number"], card["points"]) == ("L-1", 5)
    finally:
        project.close()


def test_pack_list_shows_built_in_and_folder_packs_and_which_are_used(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "objects").mkdir(parents=True)
    (project / "ficha.yaml").write_text(
        SETTINGS.format(database=f"sqlite:///{tmp_path / 'shop.sqlite'}").replace(
            "packs: []", "packs: [./packs/loyalty_tiers, ./packs/loyalty]"
        )
    )
    write_pack(project / "packs" / "loyalty", LOYALTY)
    write_pack(project / "packs" / "loyalty_tiers", LOYALTY_TIERS)
    done = ficha("pack", "list", "-p", str(project), env=environment_with(tmp_path / "none"))
    assert done.returncode == 0, done.stderr
    rows = {
        cells[0]: cells
        for line in done.stdout.splitlines()
        if "│" in line
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
    }
    assert rows["core"][:4] == ["core", "", "0.1.0", "built-in"]
    assert rows["loyalty"][:4] == ["loyalty", "yes", "1.2", "folder ./packs/loyalty"]
    assert rows["loyalty"][5] == "Loyalty cards and points."
    assert rows["loyalty_tiers"][4] == "loyalty"


def test_unknown_packs_and_broken_folders_are_named(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "objects").mkdir(parents=True)
    (project / "ficha.yaml").write_text(
        SETTINGS.format(database=f"sqlite:///{tmp_path / 'shop.sqlite'}")
    )
    original = (project / "ficha.yaml").read_text()
    code, out = run("pack", "add", "cor", "-p", str(project))
    assert code == 1 and "unknown pack 'cor' (did you mean 'core'?)" in out
    code, out = run("pack", "add", "./packs/nowhere", "-p", str(project))
    assert code == 1 and "pack folder './packs/nowhere' does not exist" in out
    write_pack(project / "packs" / "odd", {"pack.yaml": "name: odd\nlabell: Odd\n"})
    code, out = run("pack", "add", "./packs/odd", "-p", str(project))
    assert code == 1 and "packs/odd/pack.yaml:2:1: error unknown key 'labell' in pack.yaml" in out
    code, out = run("pack", "remove", "core", "-p", str(project))
    assert code == 1 and "the project does not use 'core'" in out
    assert (project / "ficha.yaml").read_text() == original
    # A built-in pack on a project with no database yet: kept, and migrate comes next.
    code, out = run("pack", "add", "core", "-p", str(project))
    assert code == 0, out
    assert "Added core to ficha.yaml" in out and "No database yet" in out
    assert packs_line((project / "ficha.yaml").read_text()) == "packs: [core] # the packs we use"
    assert not (tmp_path / "shop.sqlite").exists()


PACK_PLUGIN = """
from pathlib import Path

from modeler.schema import PackInfo
from plugins import hookimpl


@hookimpl
def ficha_packs():
    return [
        PackInfo(
            name="loyalty",
            label="Loyalty",
            path=Path(__file__).parent / "acme_loyalty_pack",
            version="1.2",
            description="Loyalty cards and points.",
        )
    ]
"""


def test_a_pack_from_an_installed_distribution_is_listed_and_added(
    site: Path, tmp_path: Path
) -> None:
    from tests.plugins.conftest import write_distribution

    write_distribution(
        site, "acme-loyalty", {"acme_loyalty": "acme_loyalty"}, {"acme_loyalty": PACK_PLUGIN}, "1.2"
    )
    write_pack(
        site / "acme_loyalty_pack", {"objects/card.yaml": LOYALTY["objects/loyalty_card.yaml"]}
    )
    project = tmp_path / "shop"
    (project / "objects").mkdir(parents=True)
    (project / "ficha.yaml").write_text(
        SETTINGS.format(database=f"sqlite:///{tmp_path / 'shop.sqlite'}")
    )
    done = ficha("pack", "list", "-p", str(project), env=environment_with(site))
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if "│ loyalty " in line]
    assert "acme-loyalty 1.2" in row and "Loyalty cards and points." in row
    code, out = run("pack", "add", "loyalty", "--migrate", "-p", str(project))
    assert code == 0, out
    assert "+ create loyalty_card" in out and "applied" in out
    assert packs_line((project / "ficha.yaml").read_text()) == "packs: [loyalty] # the packs we use"
    assert {"number", "points"} <= columns(project, "loyalty_card")
