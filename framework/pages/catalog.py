"""The project's pages (pages/*.yaml of its packs and its own), read and checked once per
loaded project. A problem stops the load like a problem in objects/, so `ficha check`
lists it with file:line:column. A project's file replaces a pack's file of the same name:
that is how an SME changes the core pack's customer file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from framework.pages.customer_file import read_customer_file
from framework.pages.read import PageChecker
from framework.pages.spec import KINDS, Agenda, CustomerFile, Page, PageLink
from framework.pages.views import read_agenda, read_board, read_work_queues
from modeler.declarations import load_folder
from modeler.loader import Node
from modeler.problems import ModelError, Problem, did_you_mean
from modeler.schema import Model, SourcePos

if TYPE_CHECKING:
    from framework.app import Ficha

PROJECT = "project"
FOLDER = "pages"
ICONS = {
    "customer_file": "fa fa-address-card",
    "board": "fa fa-table-columns",
    "agenda": "fa fa-calendar-days",
    "work_queues": "fa fa-list-check",
}
_READERS = {
    "customer_file": read_customer_file,
    "board": read_board,
    "agenda": read_agenda,
    "work_queues": read_work_queues,
}
_CACHE = "_ficha_page_catalog"


@dataclass(frozen=True)
class Pages:
    pages: Mapping[str, Page]  # by name, in menu order

    @property
    def customer_file(self) -> CustomerFile | None:
        return next((p for p in self.pages.values() if isinstance(p, CustomerFile)), None)

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages.values())


def _read(name: str, doc: Node, pack: str, check: PageChecker) -> Page | None:
    if not doc.is_map:
        check.add("001", f"page '{name}' must be a mapping of keys", doc.pos)
        return None
    kind = check.text(doc.get("kind"), "kind")
    if kind is None:
        check.add("002", f"page '{name}' needs kind: ({', '.join(KINDS)})", doc.pos)
        return None
    if not check.choice(doc.get("kind") or doc, kind, KINDS, "kind of page"):
        return None
    obj_node = doc.get("object")
    obj = check.find_object(obj_node)
    if obj is None:
        if obj_node is None:
            check.add("002", f"page '{name}' needs object: (the records it shows)", doc.pos)
        return None
    label = check.text(doc.get("label"), "label") or name.replace("_", " ").capitalize()
    icon = check.text(doc.get("icon"), "icon") or ICONS[kind]
    return _READERS[kind](name, doc, pack, check, obj, label, icon)


def read_pages(folders: list[tuple[Path, str]], root: Path, model: Model) -> Pages:
    """Every page of the packs' folders, then the project's (which replace theirs); raise
    ModelError with every problem found."""
    problems: list[Problem] = []
    check = PageChecker(problems, model)
    found: dict[str, Page] = {}
    packs = [(f, p) for f, p in folders if p != PROJECT]
    own = [(f, p) for f, p in folders if p == PROJECT]
    for group in (packs, own):
        for page in load_folder(group, root, _read, check):
            found[page.name] = page
    _cross_check(found, check)
    if any(p.severity == "error" for p in problems):
        raise ModelError(sorted(problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.column)))
    rank = {kind: n for n, kind in enumerate(KINDS)}
    ordered = sorted(found.values(), key=lambda p: (rank[p.kind], p.name))
    return Pages({p.name: p for p in ordered})


def _cross_check(pages: dict[str, Page], check: PageChecker) -> None:
    files = [p for p in pages.values() if isinstance(p, CustomerFile)]
    for extra in files[1:]:
        check.add(
            "007",
            f"a second customer file '{extra.name}' (the header's search opens one)",
            extra.pos,
            f"'{files[0].name}' is declared already; replace it with a project file of that name",
        )
    for page in files[:1]:
        for section in page.sections:
            for link in (section.row_link, section.page_link):
                if link is None:
                    continue
                target = _page(pages, link, check, section.pos)
                if target is None or not link.record:
                    continue
                plan = target.plan_from if isinstance(target, Agenda) else None
                if plan is None or plan.object != section.object:
                    check.add(
                        "004",
                        f"page '{link.page}' cannot be opened from a row of {section.object}",
                        section.pos,
                        f"a row opens an agenda whose plan_from is {section.object}",
                    )


def _page(
    pages: dict[str, Page], link: PageLink, check: PageChecker, pos: SourcePos
) -> Page | None:
    page = pages.get(link.page)
    if page is None:
        check.add(
            "006",
            f"unknown page '{link.page}'",
            pos,
            did_you_mean(link.page, pages) or "pages are the files in pages/",
        )
    return page


def folders(ficha: Ficha) -> list[tuple[Path, str]]:
    found = [(p.path / FOLDER, p.name) for p in ficha.model.packs if p.path is not None]
    found.append((ficha.settings.project_dir / FOLDER, PROJECT))
    return found


def pages_of(ficha: Ficha) -> Pages:
    """The pages of a loaded project (read once: a reload loads a new project)."""
    found = ficha.__dict__.get(_CACHE)
    if found is None:
        found = ficha.__dict__[_CACHE] = read_pages(
            folders(ficha), ficha.settings.project_dir, ficha.model
        )
    return found
