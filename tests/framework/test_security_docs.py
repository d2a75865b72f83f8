"""Every roles.yaml example of docs/security.md loads against the core pack (R checks and
the condition scopes compiled), and so does its object example: the admin's page cannot
show YAML that `ficha check` would refuse."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from framework.permissions import Permissions
from modeler.roles import load_roles
from tests.conftest import ProjectFactory

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
ROLE_BLOCKS = [b for b in BLOCKS if b.startswith("roles:")]


def test_the_page_has_role_examples() -> None:
    assert len(ROLE_BLOCKS) >= 3


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("security-docs")
    factory = ProjectFactory(root / "proj", f"sqlite:///{root}/db.sqlite")
    factory.write({}, packs=("core",))
    ficha = factory.load()
    yield ficha
    factory.close()


@pytest.mark.parametrize("block", ROLE_BLOCKS, ids=lambda b: b.split("\n")[1].strip(" :"))
def test_each_roles_example_loads(core, block: str, tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(block)
    roles, problems = load_roles(path, tmp_path, core.model)
    assert problems == []
    assert roles.declared and len(roles.roles) >= 2  # its roles, and admin
    permissions = Permissions(core.storage, roles)
    assert permissions.compile() == []  # the condition scopes fit the objects


def test_the_personal_fields_example_loads(tmp_path: Path) -> None:
    [block] = [b for b in BLOCKS if b.startswith("object: contact")]
    factory = ProjectFactory(tmp_path / "proj", f"sqlite:///{tmp_path}/db.sqlite")
    text = block.replace("object: contact", "object: person")
    factory.write({"person": textwrap.dedent(text)})
    try:
        ficha = factory.load()
        assert {f.name for f in ficha.model["person"].fields.values() if f.personal} == {
            "full_name",
            "email",
            "phone",
            "birthday",
        }
    finally:
        factory.close()
