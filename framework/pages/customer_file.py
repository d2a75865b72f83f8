"""`kind: customer_file` in pages/*.yaml → a CustomerFile: how the customer is identified,
what its file shows (header, alerts, sections) and its quick actions, every name checked
against the model."""

from __future__ import annotations

from framework.pages.actions import read_actions
from framework.pages.read import MOMENTS, PageChecker, items
from framework.pages.spec import (
    PLACES,
    READINGS,
    STYLES,
    Alerts,
    CustomerFile,
    Header,
    IdentifySource,
    PageLink,
    Relation,
    Section,
)
from modeler.fieldtypes import COLUMN
from modeler.loader import Node
from modeler.schema import ObjectDef

KEYS = (
    "kind",
    "label",
    "icon",
    "object",
    "identify",
    "search_in",
    "summary",
    "create",
    "header",
    "alerts",
    "sections",
    "actions",
)
SOURCE_KEYS = ("field", "read_as", "label", "label_field", "filter")
HEADER_KEYS = ("pretitle", "badges", "facts")
ALERT_KEYS = ("relation", "title", "message", "level", "levels", "segment", "filter")
SECTION_KEYS = (
    "label",
    "relation",
    "style",
    "place",
    "fields",
    "title",
    "time",
    "details",
    "badges",
    "states",
    "state_label",
    "filter",
    "sort",
    "limit",
    "page",
    "nested",
    "row_link",
    "page_link",
    "empty",
)
LINK_KEYS = ("page", "label", "icon")
#: the reading a field's type gives what is typed
TYPE_READINGS = {"phone": "phone", "email": "email", "national_id": "national_id"}


def read_customer_file(
    name: str, doc: Node, pack: str, check: PageChecker, obj: ObjectDef, label: str, icon: str
) -> CustomerFile | None:
    if not check.mapping(doc, f"page '{name}'", KEYS):
        return None
    return CustomerFile(
        name,
        "customer_file",
        label,
        icon,
        obj.name,
        doc.pos,
        pack,
        identify=_identify(check, doc.get("identify"), obj),
        search_in=_search_in(check, doc.get("search_in"), obj),
        summary=check.field_names(doc.get("summary"), obj, "the summary of a match"),
        create=tuple(
            o.name
            for item in items(doc.get("create"))
            if (o := check.find_object(item, "an object to create")) is not None
        )
        or (obj.name,),
        header=_header(check, doc.get("header"), obj),
        alerts=_alerts(check, doc.get("alerts"), obj),
        sections=_sections(check, doc.get("sections"), obj, "sections"),
        actions=read_actions(check, doc.get("actions"), obj),
    )


def _split(
    check: PageChecker, node: Node, obj: ObjectDef, what: str
) -> tuple[Relation | None, str] | None:
    """`contacts.phones.number` → (the relation contacts.phones, "number"); `phone` →
    (None, "phone"); None when the path is wrong (noted)."""
    text = check.text(node, what) or ""
    if "." not in text:
        return None, text
    path, _, field = text.rpartition(".")
    relation = check.relation(Node(path, node.pos), obj, what)
    return None if relation is None else (relation, field)


# -- identification ----------------------------------------------------------------------------


def _identify(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[IdentifySource, ...]:
    found = []
    for item in items(node):
        spec = item if item.is_map else None
        if spec is not None and not check.mapping(spec, "an identifier", SOURCE_KEYS):
            continue
        where = spec.get("field") if spec is not None else item
        if where is None:
            check.add("002", "an identifier needs field: (where it is stored)", item.pos)
            continue
        split = _split(check, where, obj, "an identifier")
        if split is None:
            continue
        relation, name = split
        target = check.model[relation.object] if relation is not None else obj
        f = check.field(where, target, "an identifier", kinds=(COLUMN,), name=name)
        if f is None:
            continue
        readings: tuple[str, ...] = (TYPE_READINGS.get(f.type, "code"),)
        label = f.label.lower()
        label_field = condition = None
        if spec is not None:
            given = spec.get("read_as")
            if given is not None:
                readings = tuple(
                    r
                    for r in check.names(given, "read_as")
                    if check.choice(given, r, READINGS, "reading")
                )
            label = check.text(spec.get("label"), "label") or label
            if spec.get("label_field") is not None:
                choice = check.field(spec.get("label_field"), target, "label_field")
                label_field = choice.name if choice is not None else None
            condition = check.expression(spec.get("filter"), target, "the filter")
        found.append(
            IdentifySource(relation, f.name, readings, label, label_field, condition, item.pos)
        )
    return tuple(found)


def _search_in(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[Relation, ...]:
    found = []
    for item in items(node):
        relation = check.relation(item, obj, "search_in")
        if relation is not None and len(relation.path) > 1:
            check.add(
                "004",
                f"search_in takes records linked straight to the {obj.label}",
                item.pos,
                "use one of its has_many fields",
            )
        elif relation is not None:
            found.append(relation)
    return tuple(found)


# -- what the file shows ----------------------------------------------------------------------


def _header(check: PageChecker, node: Node | None, obj: ObjectDef) -> Header:
    if node is None or not check.mapping(node, "header", HEADER_KEYS):
        return Header()
    pretitle = check.field(node.get("pretitle"), obj, "pretitle")
    return Header(
        pretitle.name if pretitle is not None else None,
        check.badges(node.get("badges"), obj, "the header"),
        check.field_names(node.get("facts"), obj, "facts"),
    )


def _alerts(check: PageChecker, node: Node | None, obj: ObjectDef) -> Alerts | None:
    if node is None or not check.mapping(node, "alerts", ALERT_KEYS):
        return None
    relation = check.relation(node.get("relation"), obj, "alerts")
    if relation is None:
        if node.get("relation") is None:
            check.add("002", "alerts need relation: (the customer's alerts)", node.pos)
        return None
    alert = check.model[relation.object]
    title = check.field(node.get("title") or Node(alert.title_field, node.pos), alert, "title")
    message = check.field(node.get("message"), alert, "message")
    level = check.field(node.get("level"), alert, "level")
    levels: list[tuple[str, str]] = []
    levels_node = node.get("levels")
    if levels_node is not None and level is not None:
        for code, color in check.named(levels_node, "levels"):
            if check.choice(color, code, level.choice_codes, f"value of {level.name}"):
                levels.append((code, check.color(color)))
    segment = check.field(node.get("segment"), alert, "segment", types=("text", "string"))
    return Alerts(
        relation,
        title.name if title is not None else alert.title_field,
        message.name if message is not None else None,
        level.name if level is not None else None,
        tuple(levels),
        segment.name if segment is not None else None,
        check.expression(node.get("filter"), alert, "the filter of alerts"),
        node.pos,
    )


def _sections(
    check: PageChecker, node: Node | None, obj: ObjectDef, what: str, *, nested: bool = False
) -> tuple[Section, ...]:
    found = []
    for name, spec in check.named(node, what):
        section = _section(check, name, spec, obj, nested)
        if section is not None:
            found.append(section)
    paged = [s for s in found if s.page_size]
    for extra in paged[1:]:
        check.add(
            "004",
            f"section '{extra.name}' is paged too: a file pages one list (page:)",
            extra.pos,
            f"'{paged[0].name}' is paged already; give this one limit: instead",
        )
    return tuple(found)


def _section(
    check: PageChecker, name: str, spec: Node, obj: ObjectDef, nested: bool
) -> Section | None:
    if not check.mapping(spec, f"section '{name}'", SECTION_KEYS):
        return None
    relation = None
    if spec.get("relation") is not None:
        relation = check.relation(spec.get("relation"), obj, f"section '{name}'")
        if relation is None:
            return None
    elif nested:
        check.add("002", f"'{name}' needs relation: (the row's related records)", spec.pos)
        return None
    target = check.model[relation.object] if relation is not None else obj
    style = check.text(spec.get("style"), "style") or ("facts" if relation is None else "table")
    if not check.choice(spec.get("style") or spec, style, STYLES, "section style"):
        style = "table"
    if relation is None and style != "facts":
        check.add(
            "004",
            f"section '{name}' shows the record's own fields, so its style is facts",
            (spec.get("style") or spec).pos,
            "give it relation: to list related records",
        )
    place = check.text(spec.get("place"), "place") or "main"
    if not check.choice(spec.get("place") or spec, place, PLACES, "place"):
        place = "main"
    fields = check.field_names(spec.get("fields"), target, f"the fields of '{name}'")
    title = check.field(spec.get("title"), target, "title")
    time = check.field(spec.get("time"), target, "time", types=(*MOMENTS, "date"))
    page_size = check.integer(spec.get("page"), "page (rows a page)", 1, 200) or 0
    limit = check.integer(spec.get("limit"), "limit", 1, 200) or page_size or 20
    states = check.badges(spec.get("states"), target, f"the states of '{name}'")
    for state in states:
        if state.field is not None:
            check.add("004", "a state is a label with a condition, not a field", spec.pos)
    if relation is None and (spec.get("sort") or spec.get("filter") or spec.get("page")):
        check.add(
            "004",
            f"section '{name}' shows one record: sort, filter and page need relation:",
            spec.pos,
        )
    if relation is not None and not fields and title is None and style != "list":
        check.add("002", f"section '{name}' needs fields: (what each row shows)", spec.pos)
    return Section(
        name=name,
        label=check.text(spec.get("label"), "label") or name.replace("_", " ").capitalize(),
        relation=relation,
        fields=fields,
        style=style,
        place=place,
        title=title.name if title is not None else None,
        time=time.name if time is not None else None,
        details=check.field_names(spec.get("details"), target, f"the details of '{name}'"),
        badges=check.badges(spec.get("badges"), target, f"the badges of '{name}'"),
        states=tuple(s for s in states if s.field is None),
        state_label=check.text(spec.get("state_label"), "state_label") or "State",
        filter=check.expression(spec.get("filter"), target, f"the filter of '{name}'"),
        sort=check.sort(spec.get("sort"), target),
        limit=limit,
        page_size=page_size,
        nested=_sections(check, spec.get("nested"), target, f"nested in '{name}'", nested=True)
        if spec.get("nested") is not None
        else (),
        row_link=_link(check, spec.get("row_link"), record=True),
        page_link=_link(check, spec.get("page_link")),
        empty=check.text(spec.get("empty"), "empty") or "Nothing yet.",
        pos=spec.pos,
    )


def _link(check: PageChecker, node: Node | None, *, record: bool = False) -> PageLink | None:
    """Another page, by its name (the file name); catalog.py checks it exists."""
    if node is None:
        return None
    if not node.is_map:
        page = check.text(node, "a page")
        return PageLink(page, record=record) if page else None
    if not check.mapping(node, "a link to a page", LINK_KEYS):
        return None
    page = check.text(node.get("page"), "page")
    if not page:
        check.add("002", "a link to a page needs page: (its file name)", node.pos)
        return None
    return PageLink(
        page,
        check.text(node.get("label"), "label") or "",
        check.text(node.get("icon"), "icon") or "",
        record,
    )
