"""Settings: one frozen value read from a project's ficha.yaml and the environment."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from framework.errors import SettingsError
from modeler.loader import load_yaml
from modeler.problems import Problem, did_you_mean
from modeler.schema import SourcePos

SETTINGS_FILE = "ficha.yaml"
DEFAULT_DATABASE = "sqlite:///data/ficha.sqlite"
KEYS = {"name", "database", "packs", "locale", "timezone", "secret_key", "currency", "page_size"}


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    name: str = "Ficha CRM"
    database_url: str = DEFAULT_DATABASE
    packs: tuple[str, ...] = ()
    locale: str = "es-ES"
    timezone: str = "Europe/Madrid"
    currency: str = "EUR"
    #: the key as found in the environment or ficha.yaml; empty: kept in data/secret.key
    given_secret: str = field(default="", repr=False)

    @functools.cached_property
    def secret_key(self) -> str:
        """Created on first use (serving), so that checking a project writes nothing."""
        return self.given_secret or _stored_secret(self.project_dir)

    @property
    def objects_dir(self) -> Path:
        return self.project_dir / "objects"

    @property
    def migrations_dir(self) -> Path:
        return self.project_dir / "migrations"

    @property
    def data_dir(self) -> Path:
        return self.project_dir / "data"

    @property
    def phone_region(self) -> str:
        """The country phone numbers are read in when written without +prefix."""
        return self.locale.split("-")[-1].upper() if "-" in self.locale else "ES"

    @classmethod
    def load(cls, project_dir: Path | str, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        root = Path(project_dir).resolve()
        path = root / SETTINGS_FILE
        if not path.exists():
            raise SettingsError(
                [
                    Problem(
                        "S001",
                        f"no {SETTINGS_FILE} in {root}",
                        SourcePos(str(path)),
                        "run 'ficha init <folder>' to create a project, or pass --project",
                    )
                ]
            )
        docs, problems = load_yaml(path, root)
        values: dict[str, object] = {}
        if docs:
            doc = docs[0]
            if not doc.is_map:
                problems.append(Problem("S002", f"{SETTINGS_FILE} must be a mapping", doc.pos))
            for key, node in doc.items():
                if key not in KEYS:
                    problems.append(
                        Problem(
                            "S003",
                            f"unknown setting '{key}'",
                            node.key_pos or node.pos,
                            did_you_mean(key, KEYS),
                        )
                    )
                else:
                    values[key] = node.plain()
            packs = values.get("packs", [])
            if isinstance(packs, str):
                packs = [packs]
            if not isinstance(packs, list) or not all(isinstance(p, str) for p in packs):
                packs_node = doc.get("packs")
                problems.append(
                    Problem(
                        "S004",
                        "packs must be a list of pack names",
                        packs_node.pos if packs_node else doc.pos,
                        "e.g. packs: [core]",
                    )
                )
                packs = []
            values["packs"] = tuple(packs)
        if problems:
            raise SettingsError(problems)
        database = env.get("FICHA_DATABASE_URL") or str(values.get("database") or DEFAULT_DATABASE)
        return cls(
            project_dir=root,
            name=str(values.get("name") or root.name),
            database_url=database,
            packs=values.get("packs", ()),  # type: ignore[arg-type]
            locale=str(values.get("locale") or "es-ES"),
            timezone=str(values.get("timezone") or "Europe/Madrid"),
            currency=str(values.get("currency") or "EUR"),
            given_secret=_given_secret(env, values.get("secret_key")),
        )


def _given_secret(env: dict[str, str], declared: object) -> str:
    """FICHA_SECRET_KEY, else `secret_key: env:NAME`, else a key written in ficha.yaml."""
    if env.get("FICHA_SECRET_KEY"):
        return env["FICHA_SECRET_KEY"]
    if isinstance(declared, str) and declared.startswith("env:"):
        return env.get(declared[4:], "")
    return declared if isinstance(declared, str) else ""


def _stored_secret(root: Path) -> str:
    """A key kept in data/secret.key (created once, never committed: data/ is in the
    project's .gitignore)."""
    path = root / "data" / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
